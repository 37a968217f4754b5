// Package command serves command:remote:Command and command:local:Command for the
// unchanged Python SDK pulumi-command 1.2.1, following the wire contract in
// /work/shared/reference/provider-contract.md §4 (semantics of the official
// pulumi-command v1.2.1 provider).
package command

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// Name is the package name: the plugin is pulumi-resource-command.
const Name = "command"

// Provider returns the command provider: both resources, no provider config (the engine's
// `version` key is accepted and ignored, CheckConfig answering Unimplemented).
func Provider() p.Provider {
	return newProvider(Remote{}, Local{})
}

// newProvider builds the provider from resource controllers (tests inject a Remote with
// short dial waits).
func newProvider(remote Remote, local Local) p.Provider {
	prov := infer.Provider(infer.Options{
		Resources: []infer.InferredResource{
			infer.Resource[Remote, RemoteInputs, RemoteState](remote),
			infer.Resource[Local, LocalInputs, LocalState](local),
		},
	})
	return withRequestSecrets(prov)
}

// secretsKey is the context key of the request's secret strings.
type secretsKey struct{}

// withRequestSecrets wraps Create, Update and Delete so the secret strings of the
// request (inputs and, for Update/Delete, the stored state) are in the context: the
// typed inputs infer hands to the resources no longer say what was secret, and the
// runner must keep those strings out of logs and error messages.
func withRequestSecrets(prov p.Provider) p.Provider {
	create, update, del := prov.Create, prov.Update, prov.Delete
	prov.Create = func(ctx context.Context, req p.CreateRequest) (p.CreateResponse, error) {
		return create(withSecrets(ctx, req.Properties), req)
	}
	prov.Update = func(ctx context.Context, req p.UpdateRequest) (p.UpdateResponse, error) {
		return update(withSecrets(ctx, req.Inputs, req.State), req)
	}
	prov.Delete = func(ctx context.Context, req p.DeleteRequest) error {
		return del(withSecrets(ctx, req.Properties), req)
	}
	return prov
}

// withSecrets returns ctx carrying the secret strings found in maps.
func withSecrets(ctx context.Context, maps ...property.Map) context.Context {
	var secrets []string
	for _, m := range maps {
		secrets = append(secrets, secretStrings(m)...)
	}
	return context.WithValue(ctx, secretsKey{}, secrets)
}

// secretsFrom returns the secret strings stored by withSecrets (nil if none).
func secretsFrom(ctx context.Context) []string {
	s, _ := ctx.Value(secretsKey{}).([]string)
	return s
}

// credentialKeys are the connection fields whose values are always treated as secret.
var credentialKeys = []string{"password", "privateKey", "privateKeyPassword"}

// secretStrings lists every string (and number, as text) inside a secret value of m.
// `connection` is special: the SDK wraps the whole object secret, but only its
// credentials are sensitive, and redacting the host name or user from every log line
// would hide useful output; its password/privateKey/privateKeyPassword are always listed.
func secretStrings(m property.Map) []string {
	var out []string
	var walk func(v property.Value, secret bool)
	walk = func(v property.Value, secret bool) {
		secret = secret || v.Secret()
		switch {
		case v.IsString() && secret:
			out = append(out, v.AsString())
		case v.IsNumber() && secret:
			out = append(out, fmt.Sprint(v.AsNumber()))
		case v.IsArray():
			for _, e := range v.AsArray().AsSlice() {
				walk(e, secret)
			}
		case v.IsMap():
			for _, e := range v.AsMap().AsMap() {
				walk(e, secret)
			}
		}
	}
	for k, v := range m.AsMap() {
		if k == "connection" && v.IsMap() {
			for ck, cv := range v.AsMap().AsMap() {
				if slices.Contains(credentialKeys, ck) {
					walk(cv, true)
				}
			}
			continue
		}
		walk(v, false)
	}
	return out
}

// unsupportedReason is the Check failure text for inputs this plugin does not implement.
const unsupportedReason = "this plugin (galera-swarm's pulumi-resource-command) does not support this property"

// splitUnsupported returns news without the keys this plugin does not implement (and
// without null values, which mean "unset"), plus one Check failure per unsupported key
// that has a value, named by its property path (e.g. "connection.proxy"). allowed lists
// the top-level keys; nested lists the allowed keys inside object-valued inputs.
func splitUnsupported(news property.Map, allowed []string, nested map[string][]string) (property.Map, []p.CheckFailure) {
	var failures []p.CheckFailure
	kept := map[string]property.Value{}
	for _, k := range sortedKeys(news) {
		v := news.Get(k)
		if v.IsNull() {
			continue
		}
		if !slices.Contains(allowed, k) {
			failures = append(failures, p.CheckFailure{Property: k, Reason: unsupportedReason})
			continue
		}
		if inner, ok := nested[k]; ok && v.IsMap() {
			obj := map[string]property.Value{}
			for _, ik := range sortedKeys(v.AsMap()) {
				iv := v.AsMap().Get(ik)
				if iv.IsNull() {
					continue
				}
				if !slices.Contains(inner, ik) {
					failures = append(failures, p.CheckFailure{Property: k + "." + ik, Reason: unsupportedReason})
					continue
				}
				obj[ik] = iv
			}
			v = property.WithGoValue(v, property.NewMap(obj))
		}
		kept[k] = v
	}
	return property.NewMap(kept), failures
}

// sortedKeys returns the keys of m in sorted order.
func sortedKeys(m property.Map) []string {
	keys := make([]string, 0, m.Len())
	for k := range m.AsMap() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// known reports whether the value at path in m is present and known (not a preview
// unknown), looking through secrets.
func known(m property.Map, path ...string) bool {
	v := property.New(m)
	for _, k := range path {
		if v.IsComputed() || !v.IsMap() {
			return false
		}
		var ok bool
		if v, ok = v.AsMap().GetOk(k); !ok {
			return false
		}
	}
	return !v.IsComputed()
}

// checkLogging validates the `logging` enum.
func checkLogging(logging *string) []p.CheckFailure {
	if logging == nil {
		return nil
	}
	switch *logging {
	case LogStdout, LogStderr, LogStdoutAndStderr, LogNone:
		return nil
	}
	return []p.CheckFailure{{Property: "logging", Reason: fmt.Sprintf(
		"%q is not one of stdout, stderr, stdoutAndStderr, none", *logging)}}
}

// diffInputs compares recorded inputs old with new inputs news, field by field of their
// `pulumi` tags (embedded structs flattened). A change of `triggers` (added, removed or
// changed, reported on the key `triggers` itself, since the SDK's replaceOnChanges
// pattern `triggers[*]` does not match a bare `triggers` key; contract §2) replaces; any
// other change updates. Empty and absent lists/maps are equal. No delete-before-replace.
func diffInputs(old, news any) p.DiffResponse {
	detailed := map[string]p.PropertyDiff{}
	ov, nv := reflect.ValueOf(old), reflect.ValueOf(news)
	for _, f := range reflect.VisibleFields(ov.Type()) {
		tag, ok := f.Tag.Lookup("pulumi")
		if !ok || f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		o, n := ov.FieldByIndex(f.Index), nv.FieldByIndex(f.Index)
		oEmpty, nEmpty := isUnset(o), isUnset(n)
		var kind p.DiffKind
		switch {
		case oEmpty && nEmpty:
			continue
		case oEmpty:
			kind = p.Add
		case nEmpty:
			kind = p.Delete
		case reflect.DeepEqual(o.Interface(), n.Interface()):
			continue
		default:
			kind = p.Update
		}
		if name == "triggers" {
			kind = map[p.DiffKind]p.DiffKind{p.Add: p.AddReplace, p.Delete: p.DeleteReplace, p.Update: p.UpdateReplace}[kind]
		}
		detailed[name] = p.PropertyDiff{Kind: kind, InputDiff: true}
	}
	return p.DiffResponse{HasChanges: len(detailed) > 0, DetailedDiff: detailed}
}

// isUnset reports whether v is a nil pointer or an empty (or nil) slice or map.
func isUnset(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	}
	return false
}
