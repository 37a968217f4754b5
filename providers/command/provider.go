// Package command serves command:remote:Command and command:local:Command for the
// unchanged Python SDK pulumi-command 1.2.1, with the semantics of the official
// pulumi-command v1.2.1 provider. The wire facts it relies on are written down in
// providers/CONTRACT.md#command (comments below link to its sections).
package command

import (
	"context"
	"fmt"
	"slices"
	"strings"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"github.com/galera-swarm/galera-swarm/providers/internal/schema"
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

// diffInputs compares recorded inputs old with new inputs news (schema.Diff), folded onto
// top-level keys (a changed `connection.host` shows as `connection`: the object is secret
// as a whole). A change of `triggers` (added, removed or changed, reported on the key
// `triggers` itself, since the SDK's replaceOnChanges pattern `triggers[*]` does not match
// a bare `triggers` key; providers/CONTRACT.md#command-diff) replaces; any other change
// updates. Empty and absent lists/maps are equal. No delete-before-replace.
func diffInputs(old, news any) p.DiffResponse {
	detailed := schema.TopLevel(schema.Diff(old, news, func(path string) bool {
		return path == "triggers" || strings.HasPrefix(path, "triggers[")
	}))
	return p.DiffResponse{HasChanges: len(detailed) > 0, DetailedDiff: detailed}
}
