package docker

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"github.com/galera-swarm/galera-swarm/providers/internal/ptr"
	"github.com/galera-swarm/galera-swarm/providers/internal/schema"
)

func dump(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// m builds a property map from plain Go values (nested maps/slices allowed).
func m(t *testing.T, v map[string]any) property.Map {
	t.Helper()
	t.Helper()
	return resource.FromResourcePropertyValue(resource.NewProperty(resource.NewPropertyMapFromMap(v))).AsMap()
}

func TestUnsupportedPropertiesAreNamedByPath(t *testing.T) {
	cases := []struct {
		name   string
		inputs map[string]any
		want   []string
	}{
		{"all supported", map[string]any{"name": "x", "taskSpec": map[string]any{"containerSpec": map[string]any{
			"image": "i", "env": map[string]any{"ANY_KEY": "v"}}}}, nil},
		{"privileges", map[string]any{"taskSpec": map[string]any{"containerSpec": map[string]any{
			"image": "i", "privileges": map[string]any{"seLinuxContext": map[string]any{"disable": true}}}}},
			[]string{"taskSpec.containerSpec.privileges"}},
		{"auth and dnsConfig", map[string]any{"auth": map[string]any{"serverAddress": "r"}, "taskSpec": map[string]any{
			"containerSpec": map[string]any{"image": "i", "dnsConfig": map[string]any{"nameservers": []any{"1.1.1.1"}}}}},
			[]string{"auth", "taskSpec.containerSpec.dnsConfig"}},
		{"unknown key in a list item", map[string]any{"taskSpec": map[string]any{"containerSpec": map[string]any{
			"image": "i", "mounts": []any{map[string]any{"type": "volume", "target": "/d"}, map[string]any{"type": "bind", "target": "/e", "bindOptions": map[string]any{"propagation": "rslave"}}}}}},
			[]string{"taskSpec.containerSpec.mounts[1].bindOptions"}},
		{"null is absent", map[string]any{"taskSpec": map[string]any{"containerSpec": map[string]any{"image": "i", "hosts": nil}}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, failures := servicePaths.Supported(m(t, c.inputs), Name)
			var got []string
			for _, f := range failures {
				got = append(got, f.Property)
				if !strings.HasPrefix(f.Reason, f.Property+": ") || !strings.Contains(f.Reason, "does not support this property") {
					t.Errorf("reason = %q", f.Reason)
				}
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("failures at %v, want %v", got, c.want)
			}
		})
	}
	if _, f := networkPaths.Supported(m(t, map[string]any{"ipamConfigs": []any{map[string]any{"subnet": "10.0.0.0/24", "auxAddress": map[string]any{"h": "10.0.0.5"}}}, "encrypted": true}), Name); len(f) != 1 || f[0].Property != "encrypted" {
		t.Errorf("network failures = %v", f)
	}
}

func TestSecretDataMustBeStandardBase64(t *testing.T) {
	cases := map[string]bool{"aGVsbG8=": true, "": true, "aGVsbG8": false, "not base64!": false, "-_8=": false}
	for data, ok := range cases {
		resp, err := Secret{}.Check(context.Background(), infer.CheckRequest{Name: "pw", NewInputs: m(t, map[string]any{"data": data})})
		if err != nil {
			t.Fatal(err)
		}
		if ok != (len(resp.Failures) == 0) {
			t.Errorf("data %q: failures %v", data, resp.Failures)
		}
		if !ok && (resp.Failures[0].Property != "data" || resp.Failures[0].Reason != "'data' is not base64 decodeable") {
			t.Errorf("failure = %+v", resp.Failures[0])
		}
	}
}

func TestServiceConfigNeedsExactlyOnePayload(t *testing.T) {
	cases := []struct {
		inputs map[string]any
		ok     bool
	}{
		{map[string]any{"dataRaw": "global\n"}, true},
		{map[string]any{"data": "Z2xvYmFs"}, true},
		{map[string]any{"data": "Z2xvYmFs", "dataRaw": "global"}, false},
		{map[string]any{}, false},
		{map[string]any{"data": "%%%"}, false},
	}
	for _, c := range cases {
		resp, err := ServiceConfig{}.Check(context.Background(), infer.CheckRequest{Name: "cfg", NewInputs: m(t, c.inputs)})
		if err != nil {
			t.Fatal(err)
		}
		if c.ok != (len(resp.Failures) == 0) {
			t.Errorf("%v: failures %v", c.inputs, resp.Failures)
		}
	}
}

func TestAutonames(t *testing.T) {
	resp, err := Network{}.Check(context.Background(), infer.CheckRequest{Name: "appnet", NewInputs: m(t, map[string]any{"driver": "overlay"})})
	if err != nil {
		t.Fatal(err)
	}
	name := ptr.Deref(resp.Inputs.Name)
	if !isAutoname(name, "appnet") {
		t.Errorf("autoname = %q", name)
	}
	again, _ := Network{}.Check(context.Background(), infer.CheckRequest{Name: "appnet",
		OldInputs: m(t, map[string]any{"name": name}), NewInputs: m(t, map[string]any{"driver": "overlay"})})
	if ptr.Deref(again.Inputs.Name) != name {
		t.Errorf("autoname not kept: %q then %q", name, ptr.Deref(again.Inputs.Name))
	}
	given, _ := Network{}.Check(context.Background(), infer.CheckRequest{Name: "appnet", NewInputs: m(t, map[string]any{"name": "mynet"})})
	if ptr.Deref(given.Inputs.Name) != "mynet" {
		t.Errorf("explicit name replaced: %q", ptr.Deref(given.Inputs.Name))
	}
	// Autonamed resources are replaced create-first; named ones delete-first.
	old := NetworkArgs{Name: &name, Driver: ptr.To("overlay")}
	next := NetworkArgs{Name: &name, Driver: ptr.To("bridge")}
	if resp := diffResponse(schema.Diff(old, next, replacesAll), next.Name, "appnet"); !resp.HasChanges || resp.DeleteBeforeReplace {
		t.Errorf("autonamed diff = %+v", resp)
	}
	old.Name, next.Name = ptr.To("mynet"), ptr.To("mynet")
	if resp := diffResponse(schema.Diff(old, next, replacesAll), next.Name, "appnet"); resp.DetailedDiff["driver"].Kind != p.UpdateReplace || !resp.DeleteBeforeReplace {
		t.Errorf("named diff = %+v", resp)
	}
}

func TestNetworkMapsBothWays(t *testing.T) {
	args := NetworkArgs{Name: ptr.To("appnet"), Driver: ptr.To("overlay"), Attachable: ptr.To(true),
		IpamConfigs: []NetworkIpamConfig{{Subnet: ptr.To("10.10.0.0/24"), Gateway: ptr.To("10.10.0.1")}},
		Labels:      []Label{{Label: "a", Value: "b"}}, Options: map[string]string{"encrypted": ""}}
	opts := networkCreateOptions(args)
	if opts.Driver != "overlay" || !opts.Attachable || opts.IPAM.Driver != "default" ||
		opts.IPAM.Config[0].Subnet != "10.10.0.0/24" || opts.IPAM.Config[0].Gateway != "10.10.0.1" || opts.Labels["a"] != "b" {
		t.Errorf("create options = %+v", opts)
	}
}

func TestDurationHelpers(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{{"60s", "1m0s", true}, {"1m", "60s", true}, {"", "0s", true}, {"5s", "6s", false}, {"x", "x", true}, {"x", "y", false}} {
		if schema.SameDuration(c.a, c.b) != c.same {
			t.Errorf("schema.SameDuration(%q, %q) != %v", c.a, c.b, c.same)
		}
	}
	if got := *durationOut(60e9, ptr.To("60s")); got != "60s" {
		t.Errorf("durationOut kept %q", got)
	}
	if got := *durationOut(90e9, ptr.To("60s")); got != "1m30s" {
		t.Errorf("durationOut gave %q", got)
	}
	if !schema.SameNumberText("0", "0.0") || schema.SameNumberText("0.1", "0.2") {
		t.Error("sameFloatText")
	}
}
