package docker

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"github.com/galera-swarm/galera-swarm/providers/internal/schema"
)

// Rules shared by the four docker resources: labels, names, base64 payloads, the Check
// prologue and the Diff response.

// Label is one `{label, value}` item of a `labels` list (providers/CONTRACT.md#docker-labels).
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
// (the user's order) and then sorted by key for labels the user did not list. The plugin's
// own labels (ownership.go) are left out. Returns nil for no labels.
func labelsFromMap(m map[string]string, prior []Label) []Label {
	m = userLabels(m)
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
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !seen[k] {
			out = append(out, Label{Label: k, Value: m[k]})
		}
	}
	return out
}

// checkInputs is the start of every docker resource's Check: it refuses properties that
// paths does not declare (failures named by path, see schema.Paths.Supported) and decodes
// the rest into T. A non-empty failure list means Check must stop and report it.
func checkInputs[T any](ctx context.Context, inputs property.Map, paths schema.Paths) (T, []p.CheckFailure, error) {
	kept, failures := paths.Supported(inputs, Name)
	if len(failures) > 0 {
		var zero T
		return zero, failures, nil
	}
	return infer.DefaultCheck[T](ctx, kept)
}

// autonameSuffixLen is the number of random hex characters the official (bridged) provider
// appends to an autoname (providers/CONTRACT.md#docker-names).
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

// checkBase64 validates a `data` payload: standard padded base64, although the SDK's
// documentation says url-safe (providers/CONTRACT.md#docker-secret). The failure text
// follows the official provider's.
func checkBase64(prop string, raw property.Map, value string) []p.CheckFailure {
	if v, ok := raw.GetOk(prop); ok && v.IsComputed() {
		return nil
	}
	if _, err := base64.StdEncoding.DecodeString(value); err != nil {
		return []p.CheckFailure{{Property: prop, Reason: fmt.Sprintf("'%s' is not base64 decodeable", prop)}}
	}
	return nil
}

// diffResponse wraps a detailed diff (schema.Diff): replacements happen delete-first when
// the name was given by the program (Docker names are unique;
// providers/CONTRACT.md#docker-names).
func diffResponse(detailed map[string]p.PropertyDiff, name *string, urnName string) p.DiffResponse {
	explicitName := name != nil && *name != "" && !isAutoname(*name, urnName)
	return p.DiffResponse{
		HasChanges:          len(detailed) > 0,
		DetailedDiff:        detailed,
		DeleteBeforeReplace: schema.HasReplacement(detailed) && explicitName,
	}
}

// replacesAll is the replacement rule of resources without Update.
func replacesAll(string) bool { return true }
