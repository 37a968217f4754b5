// Package schema reads what the plugins need to know about a resource's inputs from the
// input type itself: the `pulumi:"name,optional"` struct tags (the wire names infer
// decodes) are the one place a property is declared. From them it derives the set of
// property paths a plugin implements (Paths, used by Check to refuse the others) and the
// detailed diff between two input values (Diff).
//
// Paths are written with dots between object keys and `[]` for list items, e.g.
// `taskSpec.containerSpec.secrets[].fileName`; free-form values (maps, lists of scalars,
// `any`) accept anything below them.
package schema

import (
	"reflect"
	"slices"
	"strings"
)

// Paths is the set of input property paths a resource implements.
type Paths struct {
	// known holds every declared path; free the paths whose values are free-form.
	known, free map[string]bool
}

// PathsOf derives the property paths of the input struct type of v (a struct value or a
// pointer to one): one path per tagged field, recursing through nested structs, pointers
// and slices of structs; embedded structs add their fields at the same level. A map, a
// slice of non-structs or an interface field is free-form. It panics when v is not a
// struct, which is a programming error caught by every plugin's tests, not user input.
func PathsOf(v any) Paths {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		panic("schema.PathsOf: " + t.String() + " is not a struct")
	}
	ps := Paths{known: map[string]bool{}, free: map[string]bool{}}
	ps.addStruct(t, "")
	return ps
}

func (ps Paths) addStruct(t reflect.Type, prefix string) {
	for i := 0; i < t.NumField(); i++ {
		field := t.Field(i)
		if field.Anonymous {
			embedded := field.Type
			if embedded.Kind() == reflect.Pointer {
				embedded = embedded.Elem()
			}
			ps.addStruct(embedded, prefix)
			continue
		}
		name := WireName(field)
		if name == "" {
			continue
		}
		path := join(prefix, name)
		ps.known[path] = true
		ps.addValue(field.Type, path)
	}
}

func (ps Paths) addValue(t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		ps.addStruct(t, path)
	case reflect.Slice, reflect.Array:
		elem := t.Elem()
		for elem.Kind() == reflect.Pointer {
			elem = elem.Elem()
		}
		if elem.Kind() == reflect.Struct {
			ps.addStruct(elem, path+"[]")
			return
		}
		ps.free[path] = true
	case reflect.Map, reflect.Interface:
		ps.free[path] = true
	}
}

// List returns the declared paths, sorted, with free-form ones marked by a trailing `.*`
// (the notation of the README tables).
func (ps Paths) List() []string {
	var out []string
	for path := range ps.known {
		out = append(out, path)
		if ps.free[path] {
			out = append(out, path+".*")
		}
	}
	slices.Sort(out)
	return out
}

// WireName is a struct field's property name from its `pulumi:"name,optional"` tag ("" for
// an untagged field).
func WireName(field reflect.StructField) string {
	name, _, _ := strings.Cut(field.Tag.Get("pulumi"), ",")
	return name
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
