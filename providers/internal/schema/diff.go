package schema

import (
	"fmt"
	"reflect"
	"strings"

	p "github.com/pulumi/pulumi-go-provider"
)

// Diff compares two input values of the same struct type field by field, by their wire
// names, and returns each difference under its property path (`taskSpec.containerSpec.image`,
// `ipamConfigs[0].subnet`), as the engine shows it. Rules:
//   - nil and empty lists/maps are equal (an absent and an empty `labels` mean the same);
//   - a nil pointer against a set one is Add or Delete at that path;
//   - lists of structs are compared item by item (`secrets[1].fileName`), other lists and
//     maps as a whole;
//   - a field tagged `compare:"duration"` compares as Go durations ("60s" = "1m0s") and
//     `compare:"number"` as numbers written as text ("0" = "0.0").
//
// replaces(path) marks a difference as a replacement (Add/Delete/Update become their
// *Replace kinds); nil means no property replaces.
func Diff(old, new any, replaces func(path string) bool) map[string]p.PropertyDiff {
	out := map[string]p.PropertyDiff{}
	diffValues(reflect.ValueOf(old), reflect.ValueOf(new), "", "", out)
	if replaces == nil {
		return out
	}
	for path, d := range out {
		if replaces(path) {
			d.Kind = replaceKind(d.Kind)
			out[path] = d
		}
	}
	return out
}

// TopLevel folds a detailed diff onto top-level keys (`connection.host` becomes
// `connection`): for resources whose nested values are shown as a whole (e.g. a secret
// `connection` object). A key keeps its own kind when it changed itself, else it is an
// Update; it is a replacement when any difference below it is.
func TopLevel(detailed map[string]p.PropertyDiff) map[string]p.PropertyDiff {
	out := map[string]p.PropertyDiff{}
	for path, d := range detailed {
		key := path
		if i := strings.IndexAny(path, ".["); i >= 0 {
			key = path[:i]
		}
		folded, seen := out[key]
		switch {
		case key == path:
			if seen && isReplace(folded.Kind) {
				d.Kind = replaceKind(d.Kind)
			}
			out[key] = d
		case !seen:
			kind := p.Update
			if isReplace(d.Kind) {
				kind = p.UpdateReplace
			}
			out[key] = p.PropertyDiff{Kind: kind, InputDiff: true}
		case isReplace(d.Kind):
			folded.Kind = replaceKind(folded.Kind)
			out[key] = folded
		}
	}
	return out
}

// HasReplacement tells whether any difference in detailed replaces the resource.
func HasReplacement(detailed map[string]p.PropertyDiff) bool {
	for _, d := range detailed {
		if isReplace(d.Kind) {
			return true
		}
	}
	return false
}

func isReplace(kind p.DiffKind) bool {
	return kind == p.AddReplace || kind == p.DeleteReplace || kind == p.UpdateReplace
}

func replaceKind(kind p.DiffKind) p.DiffKind {
	switch kind {
	case p.Add:
		return p.AddReplace
	case p.Delete:
		return p.DeleteReplace
	case p.Update:
		return p.UpdateReplace
	}
	return kind
}

func diffValues(old, new reflect.Value, path, hint string, out map[string]p.PropertyDiff) {
	record := func(kind p.DiffKind) { out[path] = p.PropertyDiff{Kind: kind, InputDiff: true} }
	if old.Kind() == reflect.Pointer || old.Kind() == reflect.Interface {
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
		if old.Kind() == reflect.Interface {
			if !reflect.DeepEqual(old.Interface(), new.Interface()) {
				record(p.Update)
			}
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
			name := WireName(field)
			if name == "" {
				continue
			}
			diffValues(old.Field(i), new.Field(i), join(path, name), field.Tag.Get("compare"), out)
		}
	case reflect.Slice:
		diffSlices(old, new, path, out)
	case reflect.Map:
		switch {
		case old.Len() == 0 && new.Len() == 0:
		case old.Len() == 0:
			record(p.Add)
		case new.Len() == 0:
			record(p.Delete)
		case !reflect.DeepEqual(old.Interface(), new.Interface()):
			record(p.Update)
		}
	case reflect.String:
		if !sameText(old.String(), new.String(), hint) {
			record(p.Update)
		}
	default:
		if !reflect.DeepEqual(old.Interface(), new.Interface()) {
			record(p.Update)
		}
	}
}

func diffSlices(old, new reflect.Value, path string, out map[string]p.PropertyDiff) {
	record := func(at string, kind p.DiffKind) { out[at] = p.PropertyDiff{Kind: kind, InputDiff: true} }
	switch {
	case old.Len() == 0 && new.Len() == 0:
		return
	case old.Len() == 0:
		record(path, p.Add)
		return
	case new.Len() == 0:
		record(path, p.Delete)
		return
	}
	if elem := old.Type().Elem(); elem.Kind() != reflect.Struct {
		if !reflect.DeepEqual(old.Interface(), new.Interface()) {
			record(path, p.Update)
		}
		return
	}
	for i := 0; i < old.Len() || i < new.Len(); i++ {
		item := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case i >= new.Len():
			record(item, p.Delete)
		case i >= old.Len():
			record(item, p.Add)
		default:
			diffValues(old.Index(i), new.Index(i), item, "", out)
		}
	}
}

func sameText(a, b, hint string) bool {
	switch hint {
	case "duration":
		return SameDuration(a, b)
	case "number":
		return SameNumberText(a, b)
	}
	return a == b
}
