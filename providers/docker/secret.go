package docker

import (
	"context"
	"encoding/base64"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/swarm"
	"github.com/pulumi/pulumi-go-provider/infer"

	"github.com/galera-swarm/galera-swarm/providers/internal/ptr"
	"github.com/galera-swarm/galera-swarm/providers/internal/schema"
)

// Secret is `docker:index/secret:Secret` (providers/CONTRACT.md#docker-secret): a swarm
// secret. Swarm secrets are immutable, so every input change replaces it.
type Secret struct{ host *dockerHost }

// SecretArgs are the Secret inputs. Data is standard base64 and secret in the state.
type SecretArgs struct {
	Data   string  `pulumi:"data" provider:"secret"`
	Name   *string `pulumi:"name,optional"`
	Labels []Label `pulumi:"labels,optional"`
}

// SecretState is what Secret stores: its inputs (Docker never returns the data).
type SecretState struct {
	SecretArgs
}

// secretPaths are the properties this plugin implements.
var secretPaths = schema.PathsOf(SecretArgs{})

// Annotate sets the token docker:index/secret:Secret.
func (Secret) Annotate(a infer.Annotator) { a.SetToken("index/secret", "Secret") }

// Check refuses unsupported properties, validates base64 and autonames.
func (Secret) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[SecretArgs], error) {
	args, failures, err := checkInputs[SecretArgs](ctx, req.NewInputs, secretPaths)
	if err != nil || len(failures) > 0 {
		return infer.CheckResponse[SecretArgs]{Inputs: args, Failures: failures}, err
	}
	if failures := checkBase64("data", req.NewInputs, args.Data); len(failures) > 0 {
		return infer.CheckResponse[SecretArgs]{Inputs: args, Failures: failures}, nil
	}
	if err := checkName(&args.Name, req.NewInputs, req.OldInputs, req.Name); err != nil {
		return infer.CheckResponse[SecretArgs]{}, err
	}
	return infer.CheckResponse[SecretArgs]{Inputs: args}, nil
}

// Diff replaces on any input change.
func (Secret) Diff(ctx context.Context, req infer.DiffRequest[SecretArgs, SecretState]) (infer.DiffResponse, error) {
	return diffResponse(schema.Diff(req.State.SecretArgs, req.Inputs, replacesAll), req.Inputs.Name, urnNameFrom(ctx)), nil
}

// Create creates the secret; in preview it only echoes the inputs.
func (s Secret) Create(ctx context.Context, req infer.CreateRequest[SecretArgs]) (infer.CreateResponse[SecretState], error) {
	state := SecretState{SecretArgs: req.Inputs}
	if req.DryRun {
		return infer.CreateResponse[SecretState]{Output: state}, nil
	}
	name := ptr.Deref(req.Inputs.Name)
	data, err := base64.StdEncoding.DecodeString(req.Inputs.Data)
	if err != nil {
		return infer.CreateResponse[SecretState]{}, fmt.Errorf("creating secret %q: data is not base64 decodeable: %w", name, err)
	}
	api, err := s.host.client()
	if err != nil {
		return infer.CreateResponse[SecretState]{}, err
	}
	labels := withOwnLabels(labelsToMap(req.Inputs.Labels), urnFrom(ctx), data)
	created, err := api.SecretCreate(ctx, swarm.SecretSpec{
		Annotations: swarm.Annotations{Name: name, Labels: labels},
		Data:        data,
	})
	if err != nil {
		// Adopt what an interrupted run created for this resource with this payload
		// (providers/CONTRACT.md#docker-adoption).
		existing, _, inspectErr := api.SecretInspectWithRaw(ctx, name)
		if inspectErr != nil || existing.Spec.Name != name {
			return infer.CreateResponse[SecretState]{}, fmt.Errorf("creating secret %q: %w", name, err)
		}
		obj := existingObject{Kind: secretKind, Name: name, ID: existing.ID, Labels: existing.Spec.Labels}
		if err := adoptable(obj, urnFrom(ctx), labels, data); err != nil {
			return infer.CreateResponse[SecretState]{}, fmt.Errorf("creating secret %q: %w", name, err)
		}
		created.ID = existing.ID
	}
	return infer.CreateResponse[SecretState]{ID: created.ID, Output: state}, nil
}

// Read refreshes name and labels; data stays as stored (Docker never returns it). A secret
// that is gone is dropped from the state.
func (s Secret) Read(ctx context.Context, req infer.ReadRequest[SecretArgs, SecretState]) (infer.ReadResponse[SecretArgs, SecretState], error) {
	api, err := s.host.client()
	if err != nil {
		return infer.ReadResponse[SecretArgs, SecretState]{}, err
	}
	inspected, _, err := api.SecretInspectWithRaw(ctx, req.ID)
	if cerrdefs.IsNotFound(err) {
		return infer.ReadResponse[SecretArgs, SecretState]{}, nil
	}
	if err != nil {
		return infer.ReadResponse[SecretArgs, SecretState]{}, fmt.Errorf("reading secret %s: %w", req.ID, err)
	}
	state := req.State
	state.Name = &inspected.Spec.Name
	if state.Labels != nil || len(inspected.Spec.Labels) > 0 {
		state.Labels = labelsFromMap(inspected.Spec.Labels, state.Labels)
	}
	return infer.ReadResponse[SecretArgs, SecretState]{ID: req.ID, Inputs: state.SecretArgs, State: state}, nil
}

// Delete removes the secret; "not found" is success.
func (s Secret) Delete(ctx context.Context, req infer.DeleteRequest[SecretState]) (infer.DeleteResponse, error) {
	api, err := s.host.client()
	if err != nil {
		return infer.DeleteResponse{}, err
	}
	if err := api.SecretRemove(ctx, req.ID); err != nil && !cerrdefs.IsNotFound(err) {
		return infer.DeleteResponse{}, fmt.Errorf("removing secret %s (%s): %w", ptr.Deref(req.State.Name), req.ID, err)
	}
	return infer.DeleteResponse{}, nil
}
