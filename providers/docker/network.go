package docker

import (
	"context"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"

	"github.com/galera-swarm/galera-swarm/providers/internal/poll"
	"github.com/galera-swarm/galera-swarm/providers/internal/ptr"
	"github.com/galera-swarm/galera-swarm/providers/internal/schema"
)

// Network is `docker:index/network:Network` (providers/CONTRACT.md#docker-network): a
// Docker network. Every input change replaces it (there is no Update).
type Network struct{ host *dockerHost }

// NetworkArgs are the Network inputs, by wire name.
type NetworkArgs struct {
	Name        *string             `pulumi:"name,optional"`
	Driver      *string             `pulumi:"driver,optional"`
	Attachable  *bool               `pulumi:"attachable,optional"`
	IpamConfigs []NetworkIpamConfig `pulumi:"ipamConfigs,optional"`
	Internal    *bool               `pulumi:"internal,optional"`
	Ipv6        *bool               `pulumi:"ipv6,optional"`
	Ingress     *bool               `pulumi:"ingress,optional"`
	IpamDriver  *string             `pulumi:"ipamDriver,optional"`
	IpamOptions map[string]string   `pulumi:"ipamOptions,optional"`
	Options     map[string]string   `pulumi:"options,optional"`
	Labels      []Label             `pulumi:"labels,optional"`
}

// NetworkIpamConfig is one `ipamConfigs` item.
type NetworkIpamConfig struct {
	Subnet     *string           `pulumi:"subnet,optional"`
	IpRange    *string           `pulumi:"ipRange,optional"`
	Gateway    *string           `pulumi:"gateway,optional"`
	AuxAddress map[string]string `pulumi:"auxAddress,optional"`
}

// NetworkState is what Network stores: its inputs plus the network's scope.
type NetworkState struct {
	NetworkArgs
	// Scope is swarm, global or local, as Docker reports it.
	Scope *string `pulumi:"scope,optional"`
}

// networkPaths are the Network properties this plugin implements.
var networkPaths = schema.PathsOf(NetworkArgs{})

// Annotate sets the token docker:index/network:Network.
func (Network) Annotate(a infer.Annotator) { a.SetToken("index/network", "Network") }

// Check refuses unsupported properties and autonames (providers/CONTRACT.md#docker-names).
func (Network) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[NetworkArgs], error) {
	args, failures, err := checkInputs[NetworkArgs](ctx, req.NewInputs, networkPaths)
	if err != nil || len(failures) > 0 {
		return infer.CheckResponse[NetworkArgs]{Inputs: args, Failures: failures}, err
	}
	if err := checkName(&args.Name, req.NewInputs, req.OldInputs, req.Name); err != nil {
		return infer.CheckResponse[NetworkArgs]{}, err
	}
	return infer.CheckResponse[NetworkArgs]{Inputs: args}, nil
}

// Diff replaces on any input change.
func (Network) Diff(ctx context.Context, req infer.DiffRequest[NetworkArgs, NetworkState]) (infer.DiffResponse, error) {
	return diffResponse(schema.Diff(req.State.NetworkArgs, req.Inputs, replacesAll), req.Inputs.Name, urnNameFrom(ctx)), nil
}

// networkCreateOptions maps the inputs to Docker's create options.
func networkCreateOptions(args NetworkArgs) network.CreateOptions {
	opts := network.CreateOptions{
		Driver:     ptr.Deref(args.Driver),
		Attachable: ptr.Deref(args.Attachable),
		Internal:   ptr.Deref(args.Internal),
		Ingress:    ptr.Deref(args.Ingress),
		Options:    args.Options,
		Labels:     labelsToMap(args.Labels),
	}
	if args.Ipv6 != nil {
		opts.EnableIPv6 = args.Ipv6
	}
	ipam := &network.IPAM{Driver: ptr.Deref(args.IpamDriver), Options: args.IpamOptions}
	if ipam.Driver == "" {
		ipam.Driver = "default"
	}
	for _, c := range args.IpamConfigs {
		ipam.Config = append(ipam.Config, network.IPAMConfig{
			Subnet: ptr.Deref(c.Subnet), IPRange: ptr.Deref(c.IpRange), Gateway: ptr.Deref(c.Gateway), AuxAddress: c.AuxAddress,
		})
	}
	opts.IPAM = ipam
	return opts
}

// networkStateFrom maps an inspected network back to the state, keeping only properties the
// prior inputs set (so Docker's defaults do not show as drift) and their spelling.
func networkStateFrom(n network.Inspect, prior NetworkArgs) NetworkState {
	out := NetworkState{NetworkArgs: NetworkArgs{Name: &n.Name}, Scope: &n.Scope}
	if prior.Driver != nil {
		out.Driver = &n.Driver
	}
	if prior.Attachable != nil {
		out.Attachable = &n.Attachable
	}
	if prior.Internal != nil {
		out.Internal = &n.Internal
	}
	if prior.Ipv6 != nil {
		out.Ipv6 = &n.EnableIPv6
	}
	if prior.Ingress != nil {
		out.Ingress = &n.Ingress
	}
	if prior.IpamDriver != nil {
		out.IpamDriver = &n.IPAM.Driver
	}
	if prior.IpamOptions != nil {
		out.IpamOptions = n.IPAM.Options
	}
	if prior.Options != nil {
		out.Options = n.Options
	}
	if prior.Labels != nil {
		out.Labels = labelsFromMap(n.Labels, prior.Labels)
	}
	if prior.IpamConfigs != nil {
		for i, c := range n.IPAM.Config {
			var was NetworkIpamConfig
			if i < len(prior.IpamConfigs) {
				was = prior.IpamConfigs[i]
			}
			item := NetworkIpamConfig{}
			item.Subnet = keepIfSet(was.Subnet, c.Subnet)
			item.IpRange = keepIfSet(was.IpRange, c.IPRange)
			item.Gateway = keepIfSet(was.Gateway, c.Gateway)
			if was.AuxAddress != nil || len(c.AuxAddress) > 0 {
				item.AuxAddress = c.AuxAddress
			}
			out.IpamConfigs = append(out.IpamConfigs, item)
		}
	}
	return out
}

// keepIfSet gives actual when the prior inputs set the property (or Docker reports a
// non-empty value the user did not set... which we leave out to avoid drift).
func keepIfSet(prior *string, actual string) *string {
	if prior == nil {
		return nil
	}
	return &actual
}

// Create creates the network; in preview it only echoes the inputs.
func (n Network) Create(ctx context.Context, req infer.CreateRequest[NetworkArgs]) (infer.CreateResponse[NetworkState], error) {
	if req.DryRun {
		return infer.CreateResponse[NetworkState]{Output: NetworkState{NetworkArgs: req.Inputs}}, nil
	}
	api, err := n.host.client()
	if err != nil {
		return infer.CreateResponse[NetworkState]{}, err
	}
	name := ptr.Deref(req.Inputs.Name)
	opts := networkCreateOptions(req.Inputs)
	opts.Labels = withOwnLabels(opts.Labels, urnFrom(ctx), nil)
	created, err := api.NetworkCreate(ctx, name, opts)
	if err != nil {
		if created.ID, err = adoptNetwork(ctx, api, name, opts, req.Inputs, err); err != nil {
			return infer.CreateResponse[NetworkState]{}, fmt.Errorf("creating network %q: %w", name, err)
		}
	}
	inspected, err := api.NetworkInspect(ctx, created.ID, network.InspectOptions{})
	if err != nil {
		return infer.CreateResponse[NetworkState]{ID: created.ID, Output: NetworkState{NetworkArgs: req.Inputs}},
			infer.ResourceInitFailedError{Reasons: []string{fmt.Sprintf("inspecting network %q: %v", name, err)}}
	}
	state := NetworkState{NetworkArgs: req.Inputs, Scope: &inspected.Scope}
	return infer.CreateResponse[NetworkState]{ID: created.ID, Output: state}, nil
}

// adoptNetwork handles a failed create (createErr): a network of the wanted name that an
// interrupted run created for the same resource is kept when it matches the inputs, else
// removed and created again (networks cannot change), and its ID returned
// (providers/CONTRACT.md#docker-adoption). One that is not ours fails with adoptable's
// message; when there is none, createErr is returned.
func adoptNetwork(ctx context.Context, api client.APIClient, name string, opts network.CreateOptions, inputs NetworkArgs, createErr error) (string, error) {
	existing, err := api.NetworkInspect(ctx, name, network.InspectOptions{})
	if err != nil || existing.Name != name {
		return "", createErr
	}
	obj := existingObject{Kind: networkKind, Name: name, ID: existing.ID, Labels: existing.Labels}
	if err := adoptable(obj, urnFrom(ctx), nil, nil); err != nil {
		return "", err
	}
	if len(schema.Diff(networkStateFrom(existing, inputs).NetworkArgs, inputs, replacesAll)) == 0 {
		p.GetLogger(ctx).Infof("adopting network %q (%s), which an interrupted run created for this resource", name, existing.ID)
		return existing.ID, nil
	}
	p.GetLogger(ctx).Infof("replacing network %q (%s), which an interrupted run created for this resource with other settings", name, existing.ID)
	if err := api.NetworkRemove(ctx, existing.ID); err != nil {
		return "", fmt.Errorf("removing network %s, which an interrupted run created for this resource with other settings: %w", existing.ID, err)
	}
	created, err := api.NetworkCreate(ctx, name, opts)
	if err != nil {
		return "", err
	}
	return created.ID, nil
}

// Read refreshes the state from Docker; a network that is gone is dropped from the state.
func (n Network) Read(ctx context.Context, req infer.ReadRequest[NetworkArgs, NetworkState]) (infer.ReadResponse[NetworkArgs, NetworkState], error) {
	api, err := n.host.client()
	if err != nil {
		return infer.ReadResponse[NetworkArgs, NetworkState]{}, err
	}
	inspected, err := api.NetworkInspect(ctx, req.ID, network.InspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return infer.ReadResponse[NetworkArgs, NetworkState]{}, nil
	}
	if err != nil {
		return infer.ReadResponse[NetworkArgs, NetworkState]{}, fmt.Errorf("reading network %s: %w", req.ID, err)
	}
	state := networkStateFrom(inspected, req.State.NetworkArgs)
	return infer.ReadResponse[NetworkArgs, NetworkState]{ID: req.ID, Inputs: state.NetworkArgs, State: state}, nil
}

// networkRemoveTimeout: after a service goes, its tasks' endpoints leave the network over
// a few seconds; Docker refuses removal until then ("has active endpoints").
const networkRemoveTimeout = 60 * time.Second

// Delete removes the network, retrying while it still has endpoints; "not found" is success.
func (n Network) Delete(ctx context.Context, req infer.DeleteRequest[NetworkState]) (infer.DeleteResponse, error) {
	api, err := n.host.client()
	if err != nil {
		return infer.DeleteResponse{}, err
	}
	deadline := time.Now().Add(networkRemoveTimeout)
	for {
		err := api.NetworkRemove(ctx, req.ID)
		if err == nil || cerrdefs.IsNotFound(err) {
			break
		}
		if !strings.Contains(err.Error(), "active endpoints") || time.Now().After(deadline) {
			return infer.DeleteResponse{}, fmt.Errorf("removing network %s: %w", req.ID, err)
		}
		if err := poll.Sleep(ctx, time.Second); err != nil {
			return infer.DeleteResponse{}, fmt.Errorf("removing network %s: %w", req.ID, err)
		}
	}
	// Removal is asynchronous on swarm managers: wait until inspect no longer finds it.
	for time.Now().Before(deadline) {
		_, err := api.NetworkInspect(ctx, req.ID, network.InspectOptions{})
		if cerrdefs.IsNotFound(err) {
			break
		}
		if err := poll.Sleep(ctx, time.Second); err != nil {
			return infer.DeleteResponse{}, fmt.Errorf("waiting for network %s to go: %w", req.ID, err)
		}
	}
	return infer.DeleteResponse{}, nil
}
