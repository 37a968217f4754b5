package docker

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// Label is one `{label, value}` item of a `labels` list (contract §3.3-3.6).
type Label struct {
	Label string `pulumi:"label"`
	Value string `pulumi:"value"`
}

// labelsToMap turns the wire list into Docker's label map.
func labelsToMap(labels []Label) map[string]string {
	if len(labels) == 0 {
		return nil
	}
	m := make(map[string]string, len(labels))
	for _, l := range labels {
		m[l.Label] = l.Value
	}
	return m
}

// labelsFromMap turns Docker's label map back into the wire list, in the order of prior
// (the user's order) and then sorted by key for labels the user did not list. Returns nil
// for no labels.
func labelsFromMap(m map[string]string, prior []Label) []Label {
	if len(m) == 0 {
		return nil
	}
	out := make([]Label, 0, len(m))
	seen := map[string]bool{}
	for _, l := range prior {
		if v, ok := m[l.Label]; ok && !seen[l.Label] {
			out = append(out, Label{Label: l.Label, Value: v})
			seen[l.Label] = true
		}
	}
	for _, k := range sortedKeys(m) {
		if !seen[k] {
			out = append(out, Label{Label: k, Value: m[k]})
		}
	}
	return out
}

// autonameSuffixLen is the number of random hex characters the official (bridged) provider
// appends to an autoname (contract §3.7).
const autonameSuffixLen = 7

// autoname returns `<urnName>-<7 lowercase hex>`.
func autoname(urnName string) (string, error) {
	buf := make([]byte, 4)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("generating a name for %s: %w", urnName, err)
	}
	return urnName + "-" + hex.EncodeToString(buf)[:autonameSuffixLen], nil
}

var autonameSuffix = regexp.MustCompile(`^-[0-9a-f]{7}$`)

// isAutoname tells whether name is what autoname(urnName) produces. A program-given name of
// exactly that shape is taken for an autoname too (it only changes the replacement order).
func isAutoname(name, urnName string) bool {
	return urnName != "" && strings.HasPrefix(name, urnName) && autonameSuffix.MatchString(name[len(urnName):])
}

// checkName fills an absent name: the old inputs' name when there are old inputs (later
// updates keep their autoname), else a fresh autoname. A computed name is left alone.
func checkName(name **string, newInputs, oldInputs property.Map, urnName string) error {
	if v, ok := newInputs.GetOk("name"); ok && !v.IsNull() {
		return nil
	}
	if *name != nil && **name != "" {
		return nil
	}
	if old, ok := oldInputs.GetOk("name"); ok && old.IsString() && old.AsString() != "" {
		s := old.AsString()
		*name = &s
		return nil
	}
	generated, err := autoname(urnName)
	if err != nil {
		return err
	}
	*name = &generated
	return nil
}

// checkBase64 validates a `data` payload: standard padded base64 (contract §3.4, "despite
// the schema text url-safe"). The failure text follows the official provider's.
func checkBase64(prop string, raw property.Map, value string) []p.CheckFailure {
	if v, ok := raw.GetOk(prop); ok && v.IsComputed() {
		return nil
	}
	if _, err := base64.StdEncoding.DecodeString(value); err != nil {
		return []p.CheckFailure{{Property: prop, Reason: fmt.Sprintf("'%s' is not base64 decodeable", prop)}}
	}
	return nil
}

// propertyPaths is the set of input property paths a resource implements, written with
// dots between object keys and `[]` for list items, e.g. `taskSpec.containerSpec.secrets[].fileName`.
// A path ending in `.*` accepts any key below it (free-form maps such as `env`).
type propertyPaths map[string]bool

func newPropertyPaths(paths ...string) propertyPaths {
	set := propertyPaths{}
	for _, path := range paths {
		set[path] = true
	}
	return set
}

// unsupportedProperties walks the raw inputs and returns one check failure for each
// property not in supported, named by its path (with list indices, e.g.
// `taskSpec.containerSpec.secrets[0].foo`). Null and unknown values count as absent, so an
// SDK-sent `null` for an unset nested argument is fine. Below an unsupported property
// nothing more is reported.
func unsupportedProperties(inputs property.Map, supported propertyPaths) []p.CheckFailure {
	var failures []p.CheckFailure
	var walk func(v property.Value, schemaPath, shownPath string)
	walk = func(v property.Value, schemaPath, shownPath string) {
		v = unwrapSecret(v)
		if supported[schemaPath+".*"] {
			return
		}
		switch {
		case v.IsMap():
			for _, key := range sortedKeys(v.AsMap().AsMap()) {
				child := v.AsMap().Get(key)
				if child.IsNull() || child.IsComputed() {
					continue
				}
				childSchema, childShown := key, key
				if schemaPath != "" {
					childSchema, childShown = schemaPath+"."+key, shownPath+"."+key
				}
				if !supported[childSchema] {
					failures = append(failures, p.CheckFailure{
						Property: childShown,
						Reason:   fmt.Sprintf("%s: %s", childShown, unsupportedMarker),
					})
					continue
				}
				walk(child, childSchema, childShown)
			}
		case v.IsArray():
			for i, item := range v.AsArray().All {
				walk(item, schemaPath+"[]", fmt.Sprintf("%s[%d]", shownPath, i))
			}
		}
	}
	walk(property.New(inputs), "", "")
	return failures
}

// parseDuration reads a duration string as Go's time.ParseDuration does (the official
// provider's rule); "" is zero.
func parseDuration(prop, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a duration like \"30s\" or \"1m30s\": %w", prop, s, err)
	}
	return d, nil
}

// sameDuration compares two duration strings by value ("60s" equals "1m0s"); unparsable
// strings compare as text.
func sameDuration(a, b string) bool {
	da, errA := time.ParseDuration(orZero(a))
	db, errB := time.ParseDuration(orZero(b))
	if errA != nil || errB != nil {
		return a == b
	}
	return da == db
}

func orZero(s string) string {
	if s == "" {
		return "0s"
	}
	return s
}

// durationOut renders an inspected duration for outputs, keeping the prior spelling when
// it means the same value, so a refresh shows no drift.
func durationOut(actual time.Duration, prior *string) *string {
	if prior != nil && sameDuration(*prior, actual.String()) {
		return prior
	}
	s := actual.String()
	return &s
}

// sameFloatText compares two numbers written as text ("0" equals "0.0"); unparsable text
// compares as text.
func sameFloatText(a, b string) bool {
	fa, errA := strconv.ParseFloat(orZeroNumber(a), 64)
	fb, errB := strconv.ParseFloat(orZeroNumber(b), 64)
	if errA != nil || errB != nil {
		return a == b
	}
	return fa == fb
}

func orZeroNumber(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// The diff below compares two input structs field by field, by their `pulumi` wire names,
// and reports each difference under its property path (`taskSpec.containerSpec.image`,
// `ipamConfigs[0].subnet`). Fields tagged `docker:"duration"` compare as durations and
// `docker:"float"` as numbers written as text; nil and empty lists/maps are equal.

// diffInputs returns the detailed diff between old and new (both the same struct type),
// marking a path as a replacement when replaces(path) says so.
func diffInputs(old, new any, replaces func(path string) bool) map[string]p.PropertyDiff {
	out := map[string]p.PropertyDiff{}
	diffValues(reflect.ValueOf(old), reflect.ValueOf(new), "", "", out)
	for path, d := range out {
		if replaces(path) {
			switch d.Kind {
			case p.Add:
				d.Kind = p.AddReplace
			case p.Delete:
				d.Kind = p.DeleteReplace
			case p.Update:
				d.Kind = p.UpdateReplace
			}
			out[path] = d
		}
	}
	return out
}

func diffValues(old, new reflect.Value, path, hint string, out map[string]p.PropertyDiff) {
	record := func(kind p.DiffKind) { out[path] = p.PropertyDiff{Kind: kind, InputDiff: true} }
	if old.Kind() == reflect.Pointer {
		switch {
		case old.IsNil() && new.IsNil():
			return
		case old.IsNil():
			record(p.Add)
			return
		case new.IsNil():
			record(p.Delete)
			return
		}
		diffValues(old.Elem(), new.Elem(), path, hint, out)
		return
	}
	switch old.Kind() {
	case reflect.Struct:
		for i := 0; i < old.NumField(); i++ {
			field := old.Type().Field(i)
			if field.Anonymous {
				diffValues(old.Field(i), new.Field(i), path, "", out)
				continue
			}
			name := wireName(field)
			if name == "" {
				continue
			}
			child := name
			if path != "" {
				child = path + "." + name
			}
			diffValues(old.Field(i), new.Field(i), child, field.Tag.Get("docker"), out)
		}
	case reflect.Slice:
		if old.Len() == 0 && new.Len() == 0 {
			return
		}
		if old.Len() == 0 {
			record(p.Add)
			return
		}
		if new.Len() == 0 {
			record(p.Delete)
			return
		}
		elem := old.Type().Elem()
		if elem.Kind() != reflect.Struct {
			if !reflect.DeepEqual(old.Interface(), new.Interface()) {
				record(p.Update)
			}
			return
		}
		for i := 0; i < old.Len() || i < new.Len(); i++ {
			child := fmt.Sprintf("%s[%d]", path, i)
			switch {
			case i >= new.Len():
				out[child] = p.PropertyDiff{Kind: p.Delete, InputDiff: true}
			case i >= old.Len():
				out[child] = p.PropertyDiff{Kind: p.Add, InputDiff: true}
			default:
				diffValues(old.Index(i), new.Index(i), child, "", out)
			}
		}
	case reflect.Map:
		if old.Len() == 0 && new.Len() == 0 {
			return
		}
		if !reflect.DeepEqual(old.Interface(), new.Interface()) {
			record(p.Update)
		}
	case reflect.String:
		a, b := old.String(), new.String()
		switch hint {
		case "duration":
			if !sameDuration(a, b) {
				record(p.Update)
			}
		case "float":
			if !sameFloatText(a, b) {
				record(p.Update)
			}
		default:
			if a != b {
				record(p.Update)
			}
		}
	default:
		if !reflect.DeepEqual(old.Interface(), new.Interface()) {
			record(p.Update)
		}
	}
}

// wireName is a struct field's property name from its `pulumi:"name,optional"` tag.
func wireName(field reflect.StructField) string {
	tag := field.Tag.Get("pulumi")
	name, _, _ := strings.Cut(tag, ",")
	return name
}

// diffResponse wraps a detailed diff: replacements happen delete-first when the name was
// given by the program (Docker names are unique; contract §3.7).
func diffResponse(detailed map[string]p.PropertyDiff, name *string, urnName string) p.DiffResponse {
	replace := false
	for _, d := range detailed {
		switch d.Kind {
		case p.AddReplace, p.DeleteReplace, p.UpdateReplace:
			replace = true
		}
	}
	explicitName := name != nil && *name != "" && !isAutoname(*name, urnName)
	return p.DiffResponse{
		HasChanges:          len(detailed) > 0,
		DetailedDiff:        detailed,
		DeleteBeforeReplace: replace && explicitName,
	}
}

// replacesAll is the replacement rule of resources without Update.
func replacesAll(string) bool { return true }

// sortedStrings returns a sorted copy.
func sortedStrings(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}
