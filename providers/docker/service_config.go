package docker

import (
	"context"
	"encoding/base64"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/swarm"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"

	"github.com/galera-swarm/galera-swarm/providers/internal/ptr"
	"github.com/galera-swarm/galera-swarm/providers/internal/schema"
)

// ServiceConfig is `docker:index/serviceConfig:ServiceConfig`
// (providers/CONTRACT.md#docker-serviceconfig): a swarm config. Swarm configs are
// immutable, so every input change replaces it.
type ServiceConfig struct{ host *dockerHost }

// ServiceConfigArgs are the ServiceConfig inputs: exactly one of Data (standard base64) and
// DataRaw (plain text). Data is secret in the state.
type ServiceConfigArgs struct {
	Data    *string `pulumi:"data,optional" provider:"secret"`
	DataRaw *string `pulumi:"dataRaw,optional"`
	Name    *string `pulumi:"name,optional"`
	Labels  []Label `pulumi:"labels,optional"`
}

// ServiceConfigState is what ServiceConfig stores: its inputs (the payload as given).
type ServiceConfigState struct {
	ServiceConfigArgs
}

// serviceConfigPaths are the properties this plugin implements.
var serviceConfigPaths = schema.PathsOf(ServiceConfigArgs{})

// Annotate sets the token docker:index/serviceConfig:ServiceConfig.
func (ServiceConfig) Annotate(a infer.Annotator) { a.SetToken("index/serviceConfig", "ServiceConfig") }

// Check refuses unsupported properties, requires exactly one of data/dataRaw (TF
// ExactlyOneOf), validates base64 and autonames.
func (ServiceConfig) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[ServiceConfigArgs], error) {
	args, failures, err := checkInputs[ServiceConfigArgs](ctx, req.NewInputs, serviceConfigPaths)
	if err != nil || len(failures) > 0 {
		return infer.CheckResponse[ServiceConfigArgs]{Inputs: args, Failures: failures}, err
	}
	present := func(key string) bool {
		v, ok := req.NewInputs.GetOk(key)
		return ok && !v.IsNull()
	}
	switch {
	case present("data") && present("dataRaw"):
		return infer.CheckResponse[ServiceConfigArgs]{Inputs: args, Failures: []p.CheckFailure{{
			Property: "dataRaw", Reason: "only one of data and dataRaw can be set"}}}, nil
	case !present("data") && !present("dataRaw"):
		return infer.CheckResponse[ServiceConfigArgs]{Inputs: args, Failures: []p.CheckFailure{{
			Property: "data", Reason: "one of data and dataRaw must be set"}}}, nil
	case present("data"):
		if failures := checkBase64("data", req.NewInputs, ptr.Deref(args.Data)); len(failures) > 0 {
			return infer.CheckResponse[ServiceConfigArgs]{Inputs: args, Failures: failures}, nil
		}
	}
	if err := checkName(&args.Name, req.NewInputs, req.OldInputs, req.Name); err != nil {
		return infer.CheckResponse[ServiceConfigArgs]{}, err
	}
	return infer.CheckResponse[ServiceConfigArgs]{Inputs: args}, nil
}

// Diff replaces on any input change.
func (ServiceConfig) Diff(ctx context.Context, req infer.DiffRequest[ServiceConfigArgs, ServiceConfigState]) (infer.DiffResponse, error) {
	return diffResponse(schema.Diff(req.State.ServiceConfigArgs, req.Inputs, replacesAll), req.Inputs.Name, urnNameFrom(ctx)), nil
}

// configPayload is the bytes a config holds: data decoded, or dataRaw as is.
func configPayload(args ServiceConfigArgs) ([]byte, error) {
	if args.Data != nil {
		data, err := base64.StdEncoding.DecodeString(*args.Data)
		if err != nil {
			return nil, fmt.Errorf("data is not base64 decodeable: %w", err)
		}
		return data, nil
	}
	return []byte(ptr.Deref(args.DataRaw)), nil
}

// Create creates the config; in preview it only echoes the inputs.
func (c ServiceConfig) Create(ctx context.Context, req infer.CreateRequest[ServiceConfigArgs]) (infer.CreateResponse[ServiceConfigState], error) {
	state := ServiceConfigState{ServiceConfigArgs: req.Inputs}
	if req.DryRun {
		return infer.CreateResponse[ServiceConfigState]{Output: state}, nil
	}
	name := ptr.Deref(req.Inputs.Name)
	data, err := configPayload(req.Inputs)
	if err != nil {
		return infer.CreateResponse[ServiceConfigState]{}, fmt.Errorf("creating config %q: %w", name, err)
	}
	api, err := c.host.client()
	if err != nil {
		return infer.CreateResponse[ServiceConfigState]{}, err
	}
	labels := withOwnLabels(labelsToMap(req.Inputs.Labels), urnFrom(ctx), data)
	created, err := api.ConfigCreate(ctx, swarm.ConfigSpec{
		Annotations: swarm.Annotations{Name: name, Labels: labels},
		Data:        data,
	})
	if err != nil {
		// Adopt what an interrupted run created for this resource with this payload
		// (providers/CONTRACT.md#docker-adoption).
		existing, _, inspectErr := api.ConfigInspectWithRaw(ctx, name)
		if inspectErr != nil || existing.Spec.Name != name {
			return infer.CreateResponse[ServiceConfigState]{}, fmt.Errorf("creating config %q: %w", name, err)
		}
		obj := existingObject{Kind: configKind, Name: name, ID: existing.ID, Labels: existing.Spec.Labels}
		if err := adoptable(obj, urnFrom(ctx), labels, data); err != nil {
			return infer.CreateResponse[ServiceConfigState]{}, fmt.Errorf("creating config %q: %w", name, err)
		}
		created.ID = existing.ID
	}
	return infer.CreateResponse[ServiceConfigState]{ID: created.ID, Output: state}, nil
}

// Read refreshes name and labels and writes back whichever of data/dataRaw was used, from
// the config's payload. A config that is gone is dropped from the state.
func (c ServiceConfig) Read(ctx context.Context, req infer.ReadRequest[ServiceConfigArgs, ServiceConfigState]) (infer.ReadResponse[ServiceConfigArgs, ServiceConfigState], error) {
	api, err := c.host.client()
	if err != nil {
		return infer.ReadResponse[ServiceConfigArgs, ServiceConfigState]{}, err
	}
	inspected, _, err := api.ConfigInspectWithRaw(ctx, req.ID)
	if cerrdefs.IsNotFound(err) {
		return infer.ReadResponse[ServiceConfigArgs, ServiceConfigState]{}, nil
	}
	if err != nil {
		return infer.ReadResponse[ServiceConfigArgs, ServiceConfigState]{}, fmt.Errorf("reading config %s: %w", req.ID, err)
	}
	state := serviceConfigStateFrom(inspected.Spec, req.State)
	return infer.ReadResponse[ServiceConfigArgs, ServiceConfigState]{ID: req.ID, Inputs: state.ServiceConfigArgs, State: state}, nil
}

// serviceConfigStateFrom maps an inspected config spec onto the prior state: the payload goes
// back into whichever field the prior state used (data when it did, else dataRaw), kept in
// the prior spelling when the bytes are equal.
func serviceConfigStateFrom(spec swarm.ConfigSpec, prior ServiceConfigState) ServiceConfigState {
	state := prior
	state.Name = &spec.Name
	if state.Labels != nil || len(spec.Labels) > 0 {
		state.Labels = labelsFromMap(spec.Labels, state.Labels)
	}
	if state.Data != nil {
		if old, err := base64.StdEncoding.DecodeString(*state.Data); err != nil || string(old) != string(spec.Data) {
			encoded := base64.StdEncoding.EncodeToString(spec.Data)
			state.Data = &encoded
		}
	} else {
		raw := string(spec.Data)
		state.DataRaw = &raw
	}
	return state
}

// Delete removes the config; "not found" is success.
func (c ServiceConfig) Delete(ctx context.Context, req infer.DeleteRequest[ServiceConfigState]) (infer.DeleteResponse, error) {
	api, err := c.host.client()
	if err != nil {
		return infer.DeleteResponse{}, err
	}
	if err := api.ConfigRemove(ctx, req.ID); err != nil && !cerrdefs.IsNotFound(err) {
		return infer.DeleteResponse{}, fmt.Errorf("removing config %s (%s): %w", ptr.Deref(req.State.Name), req.ID, err)
	}
	return infer.DeleteResponse{}, nil
}
