package docker

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Ownership: every object this plugin creates carries labels of ours that say for which
// resource (URN) it was made and, for the immutable secrets and configs, a digest of the
// payload. A create that an interrupted `pulumi up` left behind (the engine forgot it as a
// pending create, the object stayed in Docker) is recognised by them on the next create of
// the same resource and adopted instead of failing on the name conflict
// (providers/CONTRACT.md#docker-adoption). The labels never reach the SDK-visible state:
// labelsFromMap drops them, so refresh and diff do not see them.

// ownLabelPrefix starts every label this plugin sets for itself.
const ownLabelPrefix = "com.galera-swarm.pulumi."

// ownerLabel holds the URN of the resource the object was created for.
const ownerLabel = ownLabelPrefix + "urn"

// contentLabel holds the hex SHA-256 of a secret's or config's payload. Whoever can read a
// label can also mount the secret in a service (both need the Docker API), so the digest
// reveals nothing that access does not already give.
const contentLabel = ownLabelPrefix + "sha256"

// isOwnLabel tells whether a label key is one of ours (hidden from the state).
func isOwnLabel(key string) bool { return strings.HasPrefix(key, ownLabelPrefix) }

// contentDigest is the value of contentLabel for payload.
func contentDigest(payload []byte) string {
	sum := sha256.Sum256(payload)
	return hex.EncodeToString(sum[:])
}

// withOwnLabels returns a copy of the user's labels (a Docker label map, may be nil) plus
// ownerLabel=urn and, when payload is not nil, contentLabel. Without a URN (no engine
// request, as in unit tests) only the user's labels are returned.
func withOwnLabels(user map[string]string, urn resource.URN, payload []byte) map[string]string {
	if urn == "" {
		return user
	}
	out := make(map[string]string, len(user)+2)
	maps.Copy(out, user)
	out[ownerLabel] = string(urn)
	if payload != nil {
		out[contentLabel] = contentDigest(payload)
	}
	return out
}

// objectKind names a Docker object kind in messages and in the fixes they propose.
type objectKind struct {
	// Noun is the docker CLI's noun: `docker <noun> rm`.
	Noun string
	// Token is the Pulumi type token, for `pulumi import`.
	Token string
}

var (
	serviceKind = objectKind{Noun: "service", Token: "docker:index/service:Service"}
	networkKind = objectKind{Noun: "network", Token: "docker:index/network:Network"}
	secretKind  = objectKind{Noun: "secret", Token: "docker:index/secret:Secret"}
	configKind  = objectKind{Noun: "config", Token: "docker:index/serviceConfig:ServiceConfig"}
)

// existingObject is what a create found under the wanted name.
type existingObject struct {
	Kind   objectKind
	Name   string
	ID     string
	Labels map[string]string
}

// adoptable decides whether obj, found under the name a create of resource urn wanted, may
// be taken as that create's result: only when its ownerLabel is urn and, when wantPayload is
// not nil (immutable objects), its contentLabel matches the payload and its other labels are
// the wanted ones (wantLabels). Otherwise the error names the object, why it is not ours and
// the fix.
func adoptable(obj existingObject, urn resource.URN, wantLabels map[string]string, wantPayload []byte) error {
	owner, labelled := obj.Labels[ownerLabel]
	fix := fmt.Sprintf("if it is not needed, remove it (`docker %s rm %s`) and run `pulumi up` again; "+
		"to keep it, bring it under this stack with `pulumi import %s %s %s`",
		obj.Kind.Noun, obj.Name, obj.Kind.Token, urnName(urn), obj.ID)
	switch {
	case !labelled:
		return fmt.Errorf("%s %q (%s) already exists and was not created by galera-swarm's pulumi-resource-docker (it has no %s label): %s",
			obj.Kind.Noun, obj.Name, obj.ID, ownerLabel, fix)
	case owner != string(urn):
		return fmt.Errorf("%s %q (%s) already exists and belongs to another resource (%s=%s), not to %s: %s",
			obj.Kind.Noun, obj.Name, obj.ID, ownerLabel, owner, urn, fix)
	}
	if wantPayload == nil {
		return nil
	}
	if obj.Labels[contentLabel] != contentDigest(wantPayload) || !maps.Equal(userLabels(obj.Labels), userLabels(wantLabels)) {
		return fmt.Errorf("%s %q (%s) was created for this resource by an interrupted run but holds other data or labels, and a %s cannot change: "+
			"remove it (`docker %s rm %s`) and run `pulumi up` again",
			obj.Kind.Noun, obj.Name, obj.ID, obj.Kind.Noun, obj.Kind.Noun, obj.Name)
	}
	return nil
}

// userLabels is labels without ours (nil for none).
func userLabels(labels map[string]string) map[string]string {
	var out map[string]string
	for k, v := range labels {
		if isOwnLabel(k) {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out
}

// urnName is the resource name of urn, or a placeholder without one.
func urnName(urn resource.URN) string {
	if urn == "" || !urn.IsValid() {
		return "<resource name>"
	}
	return urn.Name()
}
