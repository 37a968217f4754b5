package schema

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

type item struct {
	Key   string  `pulumi:"key"`
	Value *string `pulumi:"value,optional"`
}

type nested struct {
	Limit *int    `pulumi:"limit,optional"`
	Every *string `pulumi:"every,optional" compare:"duration"`
	Ratio *string `pulumi:"ratio,optional" compare:"number"`
}

type common struct {
	Create *string `pulumi:"create,optional"`
}

type inputs struct {
	common
	Name     *string           `pulumi:"name,optional"`
	Items    []item            `pulumi:"items,optional"`
	Nested   *nested           `pulumi:"nested,optional"`
	Env      map[string]string `pulumi:"env,optional"`
	Args     []string          `pulumi:"args,optional"`
	Triggers []any             `pulumi:"triggers,optional"`
	internal string            //nolint:unused // untagged fields are not properties
}

func TestPathsAreDerivedFromTheTags(t *testing.T) {
	want := []string{
		"args", "args.*", "create", "env", "env.*", "items", "items[].key", "items[].value",
		"name", "nested", "nested.every", "nested.limit", "nested.ratio", "triggers", "triggers.*",
	}
	if got := PathsOf(inputs{}).List(); !slices.Equal(got, want) {
		t.Errorf("PathsOf = %q\nwant %q", got, want)
	}
	if got := PathsOf(&inputs{}).List(); !slices.Equal(got, want) {
		t.Errorf("PathsOf(pointer) = %q", got)
	}
}

// pm builds a property map from plain Go values (maps, slices, strings, numbers).
func pm(t *testing.T, v map[string]any) property.Map {
	t.Helper()
	out := map[string]property.Value{}
	for k, x := range v {
		out[k] = pv(t, x)
	}
	return property.NewMap(out)
}

func pv(t *testing.T, v any) property.Value {
	t.Helper()
	switch v := v.(type) {
	case property.Value:
		return v
	case map[string]any:
		return property.New(pm(t, v))
	case []any:
		items := make([]property.Value, len(v))
		for i, x := range v {
			items[i] = pv(t, x)
		}
		return property.New(items)
	case nil:
		return property.New(property.Null)
	}
	value, err := property.Any(v)
	if err != nil {
		t.Fatal(err)
	}
	return value
}

func TestSupportedNamesEachUnsupportedPropertyByPath(t *testing.T) {
	cases := []struct {
		name   string
		inputs map[string]any
		want   []string
	}{
		{"all supported, free-form values below env, args and triggers",
			map[string]any{"name": "x", "env": map[string]any{"ANY": "v"}, "args": []any{"a"},
				"triggers": []any{map[string]any{"anything": 1.0}}, "items": []any{map[string]any{"key": "k"}}}, nil},
		{"unknown top-level key", map[string]any{"bogus": "x", "name": "n"}, []string{"bogus"}},
		{"unknown key in a nested object", map[string]any{"nested": map[string]any{"limit": 1.0, "extra": true}}, []string{"nested.extra"}},
		{"unknown key in a list item is named with its index",
			map[string]any{"items": []any{map[string]any{"key": "a"}, map[string]any{"key": "b", "x": map[string]any{"y": 1.0}}}},
			[]string{"items[1].x"}},
		{"null is absent", map[string]any{"bogus": nil, "nested": map[string]any{"extra": nil}}, nil},
		{"secret objects are looked into", map[string]any{"nested": pv(t, map[string]any{"extra": "s"}).WithSecret(true)}, []string{"nested.extra"}},
		{"unknown values count as set", map[string]any{"bogus": property.New(property.Computed)}, []string{"bogus"}},
	}
	paths := PathsOf(inputs{})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, failures := paths.Supported(pm(t, c.inputs), "test")
			var got []string
			for _, f := range failures {
				got = append(got, f.Property)
				if want := f.Property + ": this plugin (galera-swarm's pulumi-resource-test) does not support this property"; f.Reason != want {
					t.Errorf("reason = %q, want %q", f.Reason, want)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("failures at %q, want %q", got, c.want)
			}
		})
	}
}

func TestSupportedKeepsTheRestWithoutNullsAndKeepsSecrets(t *testing.T) {
	in := pm(t, map[string]any{
		"name":   nil,
		"bogus":  "x",
		"nested": pv(t, map[string]any{"limit": 2.0, "every": nil}).WithSecret(true),
		"items":  []any{map[string]any{"key": "k", "value": nil}},
	})
	kept, _ := PathsOf(inputs{}).Supported(in, "test")
	if got := slices.Sorted(maps.Keys(kept.AsMap())); !slices.Equal(got, []string{"items", "nested"}) {
		t.Errorf("kept keys = %q", got)
	}
	nestedValue := kept.Get("nested")
	if !nestedValue.Secret() || nestedValue.AsMap().Len() != 1 || nestedValue.AsMap().Get("limit").AsNumber() != 2 {
		t.Errorf("nested = %v, want secret {limit: 2}", nestedValue)
	}
	if first := kept.Get("items").AsArray().Get(0).AsMap(); first.Len() != 1 || first.Get("key").AsString() != "k" {
		t.Errorf("items[0] = %v, want {key: k}", first)
	}
}

func str(s string) *string { return &s }
func num(i int) *int       { return &i }

func TestDiffReportsEachChangeByPath(t *testing.T) {
	base := func() inputs {
		return inputs{common: common{Create: str("c")}, Name: str("n"), Items: []item{{Key: "a"}},
			Nested: &nested{Limit: num(1), Every: str("60s"), Ratio: str("0")}, Env: map[string]string{"A": "1"},
			Args: []string{"x"}, Triggers: []any{"t", 1.0}}
	}
	cases := []struct {
		name   string
		change func(*inputs)
		want   map[string]p.DiffKind
	}{
		{"nothing", func(*inputs) {}, map[string]p.DiffKind{}},
		{"embedded field", func(in *inputs) { in.Create = str("d") }, map[string]p.DiffKind{"create": p.Update}},
		{"pointer set to nil", func(in *inputs) { in.Name = nil }, map[string]p.DiffKind{"name": p.Delete}},
		{"list item field", func(in *inputs) { in.Items[0].Value = str("v") }, map[string]p.DiffKind{"items[0].value": p.Add}},
		{"list item added", func(in *inputs) { in.Items = append(in.Items, item{Key: "b"}) }, map[string]p.DiffKind{"items[1]": p.Add}},
		{"nested field", func(in *inputs) { in.Nested.Limit = num(2) }, map[string]p.DiffKind{"nested.limit": p.Update}},
		{"duration by value", func(in *inputs) { in.Nested.Every = str("1m0s") }, map[string]p.DiffKind{}},
		{"duration changed", func(in *inputs) { in.Nested.Every = str("61s") }, map[string]p.DiffKind{"nested.every": p.Update}},
		{"number text by value", func(in *inputs) { in.Nested.Ratio = str("0.0") }, map[string]p.DiffKind{}},
		{"map changed", func(in *inputs) { in.Env = map[string]string{"A": "2"} }, map[string]p.DiffKind{"env": p.Update}},
		{"map emptied", func(in *inputs) { in.Env = map[string]string{} }, map[string]p.DiffKind{"env": p.Delete}},
		{"scalar list as a whole", func(in *inputs) { in.Args = []string{"y"} }, map[string]p.DiffKind{"args": p.Update}},
		{"any list", func(in *inputs) { in.Triggers = []any{"t", 2.0} }, map[string]p.DiffKind{"triggers": p.Update}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old, next := base(), base()
			c.change(&next)
			got := map[string]p.DiffKind{}
			for path, d := range Diff(old, next, nil) {
				got[path] = d.Kind
				if !d.InputDiff {
					t.Errorf("%s is not an input diff", path)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("Diff = %v, want %v", got, c.want)
			}
		})
	}
}

func TestDiffTakesNilAndEmptyForEqual(t *testing.T) {
	empty := inputs{Items: []item{}, Env: map[string]string{}, Args: []string{}, Triggers: []any{}}
	if d := Diff(inputs{}, empty, nil); len(d) > 0 {
		t.Errorf("Diff(nil, empty) = %v, want none", d)
	}
}

func TestDiffMarksReplacementsAndTopLevelFoldsPaths(t *testing.T) {
	old := inputs{Name: str("a"), Nested: &nested{Limit: num(1)}, Triggers: []any{"x"}}
	next := inputs{Name: str("b"), Nested: &nested{Limit: num(2)}}
	detailed := Diff(old, next, func(path string) bool { return path == "triggers" || strings.HasPrefix(path, "nested.") })
	want := map[string]p.DiffKind{"name": p.Update, "nested.limit": p.UpdateReplace, "triggers": p.DeleteReplace}
	for path, kind := range want {
		if detailed[path].Kind != kind {
			t.Errorf("%s = %v, want %v", path, detailed[path].Kind, kind)
		}
	}
	if !HasReplacement(detailed) || HasReplacement(Diff(old, next, nil)) {
		t.Errorf("HasReplacement wrong")
	}
	folded := TopLevel(map[string]p.PropertyDiff{
		"nested.limit": {Kind: p.Update}, "nested.every": {Kind: p.AddReplace},
		"items[0].key": {Kind: p.Update}, "name": {Kind: p.Add}, "env": {Kind: p.Delete},
	})
	wantFolded := map[string]p.DiffKind{"nested": p.UpdateReplace, "items": p.Update, "name": p.Add, "env": p.Delete}
	if len(folded) != len(wantFolded) {
		t.Errorf("TopLevel = %v", folded)
	}
	for key, kind := range wantFolded {
		if folded[key].Kind != kind {
			t.Errorf("TopLevel[%s] = %v, want %v", key, folded[key].Kind, kind)
		}
	}
}

func TestValueComparisonsAndDurations(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{{"60s", "1m0s", true}, {"", "0s", true}, {"5s", "6s", false}, {"x", "x", true}, {"x", "y", false}} {
		if SameDuration(c.a, c.b) != c.same {
			t.Errorf("SameDuration(%q, %q) != %v", c.a, c.b, c.same)
		}
	}
	for _, c := range []struct {
		a, b string
		same bool
	}{{"0", "0.0", true}, {"", "0", true}, {"0.1", "0.2", false}, {"n", "n", true}} {
		if SameNumberText(c.a, c.b) != c.same {
			t.Errorf("SameNumberText(%q, %q) != %v", c.a, c.b, c.same)
		}
	}
	if d, err := ParseDuration("x.delay", "1m30s"); err != nil || d.Seconds() != 90 {
		t.Errorf("ParseDuration = %v, %v", d, err)
	}
	if _, err := ParseDuration("x.delay", "5"); err == nil || !strings.HasPrefix(err.Error(), `x.delay: "5" is not a duration`) {
		t.Errorf("ParseDuration error = %v", err)
	}
}
