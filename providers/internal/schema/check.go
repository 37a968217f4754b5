package schema

import (
	"fmt"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// UnsupportedReason is the Check failure text for a property a plugin does not implement:
// "<path>: this plugin (galera-swarm's pulumi-resource-<plugin>) does not support this
// property". The plugin name lets a user tell our plugin from the official one.
func UnsupportedReason(plugin, path string) string {
	return path + ": " + UnsupportedMarker(plugin)
}

// UnsupportedMarker is the part of UnsupportedReason after the path.
func UnsupportedMarker(plugin string) string {
	return fmt.Sprintf("this plugin (galera-swarm's pulumi-resource-%s) does not support this property", plugin)
}

// Supported splits raw Check inputs: it returns them without null values (the SDK sends
// `null` for an unset nested argument; null means unset) and without the properties that
// ps does not declare, plus one check failure per such property that has a value, named by
// its path with list indices (`taskSpec.containerSpec.mounts[1].bindOptions`) and worded
// by UnsupportedReason. Unknown (preview) values count as set and are kept; below an
// unsupported property nothing more is reported. Secret wrappers are looked through and
// kept. plugin is "docker" or "command".
func (ps Paths) Supported(inputs property.Map, plugin string) (property.Map, []p.CheckFailure) {
	var failures []p.CheckFailure
	var walk func(v property.Value, schemaPath, shownPath string) property.Value
	walk = func(v property.Value, schemaPath, shownPath string) property.Value {
		if ps.free[schemaPath] {
			return v
		}
		switch {
		case v.IsMap():
			obj := v.AsMap()
			kept := map[string]property.Value{}
			for key, child := range obj.AllStable {
				if child.IsNull() {
					continue
				}
				childSchema, childShown := join(schemaPath, key), join(shownPath, key)
				if !ps.known[childSchema] {
					failures = append(failures, p.CheckFailure{Property: childShown, Reason: UnsupportedReason(plugin, childShown)})
					continue
				}
				kept[key] = walk(child, childSchema, childShown)
			}
			return property.WithGoValue(v, property.NewMap(kept))
		case v.IsArray():
			items := make([]property.Value, 0, v.AsArray().Len())
			for i, item := range v.AsArray().All {
				items = append(items, walk(item, schemaPath+"[]", fmt.Sprintf("%s[%d]", shownPath, i)))
			}
			return property.WithGoValue(v, property.NewArray(items))
		}
		return v
	}
	kept := walk(property.New(inputs), "", "")
	return kept.AsMap(), failures
}
