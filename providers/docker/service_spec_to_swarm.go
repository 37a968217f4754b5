package docker

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/galera-swarm/galera-swarm/providers/internal/ptr"
	"github.com/galera-swarm/galera-swarm/providers/internal/schema"
)

// The inputs → swarm direction: the checked Service inputs (defaults already filled by
// Check, see applyServiceDefaults) become the swarm ServiceSpec Docker takes. One function
// per field group; each returns an error that starts with the property path, because
// validateService turns it into a check failure on that property.

// serviceSpec maps the Service inputs to the swarm ServiceSpec Docker takes. Returns an
// error naming the property for values Docker cannot take (bad durations, negative numbers,
// malformed prefs or driverOpts, a network without id).
func serviceSpec(args ServiceArgs) (swarm.ServiceSpec, error) {
	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: ptr.Deref(args.Name), Labels: labelsToMap(args.Labels)},
	}
	var err error
	if spec.TaskTemplate, err = taskSpecToSwarm(args.TaskSpec); err != nil {
		return spec, err
	}
	if spec.Mode, err = modeToSwarm(args.Mode); err != nil {
		return spec, err
	}
	if spec.EndpointSpec, err = endpointToSwarm(args.EndpointSpec); err != nil {
		return spec, err
	}
	if spec.UpdateConfig, err = deployConfigToSwarm("updateConfig", args.UpdateConfig); err != nil {
		return spec, err
	}
	if spec.RollbackConfig, err = deployConfigToSwarm("rollbackConfig", args.RollbackConfig); err != nil {
		return spec, err
	}
	return spec, nil
}

// modeToSwarm maps `mode`; a service without one is replicated with defaultReplicas
// (what Docker does for an empty mode too).
func modeToSwarm(m *ServiceMode) (swarm.ServiceMode, error) {
	switch {
	case m != nil && ptr.Deref(m.Global):
		if m.Replicated != nil {
			return swarm.ServiceMode{}, fmt.Errorf("mode: replicated and global cannot both be set")
		}
		return swarm.ServiceMode{Global: &swarm.GlobalService{}}, nil
	case m != nil && m.Replicated != nil && m.Replicated.Replicas != nil:
		replicas := *m.Replicated.Replicas
		if replicas < 0 {
			return swarm.ServiceMode{}, fmt.Errorf("mode.replicated.replicas: %d is negative", replicas)
		}
		return swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: uintPtr(&replicas)}}, nil
	}
	return swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: uintPtr(ptr.To(defaultReplicas))}}, nil
}

// endpointToSwarm maps `endpointSpec` (nil when unset: Docker then picks vip mode).
func endpointToSwarm(e *EndpointSpec) (*swarm.EndpointSpec, error) {
	if e == nil {
		return nil, nil
	}
	endpoint := &swarm.EndpointSpec{Mode: swarm.ResolutionMode(ptr.Deref(e.Mode))}
	for i, port := range e.Ports {
		published := ptr.Deref(port.PublishedPort)
		if port.TargetPort <= 0 || port.TargetPort > 65535 || published < 0 || published > 65535 {
			return nil, fmt.Errorf("endpointSpec.ports[%d]: port numbers must be within 1-65535 (published 0 = any)", i)
		}
		endpoint.Ports = append(endpoint.Ports, swarm.PortConfig{
			Name:          ptr.Deref(port.Name),
			Protocol:      swarm.PortConfigProtocol(ptr.Deref(port.Protocol)),
			TargetPort:    uint32(port.TargetPort),
			PublishedPort: uint32(published),
			PublishMode:   swarm.PortConfigPublishMode(ptr.Deref(port.PublishMode)),
		})
	}
	return endpoint, nil
}

// taskSpecToSwarm maps `taskSpec`.
func taskSpecToSwarm(in TaskSpec) (swarm.TaskSpec, error) {
	task := swarm.TaskSpec{}
	var err error
	if task.ContainerSpec, err = containerSpecToSwarm(in.ContainerSpec); err != nil {
		return task, err
	}
	if task.Networks, err = networksToSwarm(in.NetworksAdvanceds); err != nil {
		return task, err
	}
	if task.Placement, err = placementToSwarm(in.Placement); err != nil {
		return task, err
	}
	task.Resources = resourcesToSwarm(in.Resources)
	if task.RestartPolicy, err = restartPolicyToSwarm(in.RestartPolicy); err != nil {
		return task, err
	}
	if ld := in.LogDriver; ld != nil {
		task.LogDriver = &swarm.Driver{Name: ld.Name, Options: ld.Options}
	}
	return task, nil
}

// networksToSwarm maps `taskSpec.networksAdvanceds`: id (or the deprecated name) is the
// target; driverOpts "k=v" strings become a map.
func networksToSwarm(nets []NetworkAttachment) ([]swarm.NetworkAttachmentConfig, error) {
	var out []swarm.NetworkAttachmentConfig
	for i, n := range nets {
		target := ptr.Deref(n.Id)
		if target == "" {
			target = ptr.Deref(n.Name)
		}
		if target == "" {
			return nil, fmt.Errorf("taskSpec.networksAdvanceds[%d]: id is required", i)
		}
		opts, err := keyValues(fmt.Sprintf("taskSpec.networksAdvanceds[%d].driverOpts", i), n.DriverOpts)
		if err != nil {
			return nil, err
		}
		out = append(out, swarm.NetworkAttachmentConfig{Target: target, Aliases: n.Aliases, DriverOpts: opts})
	}
	return out, nil
}

// placementToSwarm maps `taskSpec.placement`; prefs are "spread=DESCRIPTOR".
func placementToSwarm(pl *Placement) (*swarm.Placement, error) {
	if pl == nil {
		return nil, nil
	}
	placement := &swarm.Placement{Constraints: pl.Constraints}
	if pl.MaxReplicas != nil {
		if *pl.MaxReplicas < 0 {
			return nil, fmt.Errorf("taskSpec.placement.maxReplicas: %d is negative", *pl.MaxReplicas)
		}
		placement.MaxReplicas = uint64(*pl.MaxReplicas)
	}
	for i, pref := range pl.Prefs {
		descriptor, ok := strings.CutPrefix(pref, "spread=")
		if !ok || descriptor == "" {
			return nil, fmt.Errorf("taskSpec.placement.prefs[%d]: %q is not of the form spread=DESCRIPTOR", i, pref)
		}
		placement.Preferences = append(placement.Preferences, swarm.PlacementPreference{Spread: &swarm.SpreadOver{SpreadDescriptor: descriptor}})
	}
	return placement, nil
}

// resourcesToSwarm maps `taskSpec.resources` (CPUs in billionths, memory in bytes).
func resourcesToSwarm(r *Resources) *swarm.ResourceRequirements {
	if r == nil {
		return nil
	}
	req := &swarm.ResourceRequirements{}
	if r.Limits != nil {
		req.Limits = &swarm.Limit{NanoCPUs: int64(ptr.Deref(r.Limits.NanoCpus)), MemoryBytes: int64(ptr.Deref(r.Limits.MemoryBytes))}
	}
	if r.Reservation != nil {
		req.Reservations = &swarm.Resources{NanoCPUs: int64(ptr.Deref(r.Reservation.NanoCpus)), MemoryBytes: int64(ptr.Deref(r.Reservation.MemoryBytes))}
	}
	return req
}

// restartPolicyToSwarm maps `taskSpec.restartPolicy`.
func restartPolicyToSwarm(rp *RestartPolicy) (*swarm.RestartPolicy, error) {
	if rp == nil {
		return nil, nil
	}
	policy := &swarm.RestartPolicy{Condition: swarm.RestartPolicyCondition(ptr.Deref(rp.Condition)), MaxAttempts: uintPtr(rp.MaxAttempts)}
	var err error
	if policy.Delay, err = durationPtr("taskSpec.restartPolicy.delay", rp.Delay); err != nil {
		return nil, err
	}
	if policy.Window, err = durationPtr("taskSpec.restartPolicy.window", rp.Window); err != nil {
		return nil, err
	}
	return policy, nil
}

// containerSpecToSwarm maps `taskSpec.containerSpec`; env becomes sorted "K=V" strings.
func containerSpecToSwarm(in ContainerSpec) (*swarm.ContainerSpec, error) {
	cs := &swarm.ContainerSpec{
		Image:      in.Image,
		Hostname:   ptr.Deref(in.Hostname),
		Args:       in.Args,
		Command:    in.Commands,
		User:       ptr.Deref(in.User),
		Dir:        ptr.Deref(in.Dir),
		Labels:     labelsToMap(in.Labels),
		ReadOnly:   ptr.Deref(in.ReadOnly),
		StopSignal: ptr.Deref(in.StopSignal),
		Secrets:    secretsToSwarm(in.Secrets),
		Configs:    configsToSwarm(in.Configs),
	}
	for _, k := range slices.Sorted(maps.Keys(in.Env)) {
		cs.Env = append(cs.Env, k+"="+in.Env[k])
	}
	var err error
	if cs.Mounts, err = mountsToSwarm(in.Mounts); err != nil {
		return nil, err
	}
	if cs.Healthcheck, err = healthcheckToSwarm(in.Healthcheck); err != nil {
		return nil, err
	}
	if cs.StopGracePeriod, err = durationPtr("taskSpec.containerSpec.stopGracePeriod", in.StopGracePeriod); err != nil {
		return nil, err
	}
	return cs, nil
}

// secretsToSwarm maps `containerSpec.secrets` to file references.
func secretsToSwarm(secrets []SecretRef) []*swarm.SecretReference {
	var out []*swarm.SecretReference
	for _, s := range secrets {
		out = append(out, &swarm.SecretReference{
			SecretID: s.SecretId, SecretName: ptr.Deref(s.SecretName),
			File: &swarm.SecretReferenceFileTarget{
				Name: s.FileName, UID: ptr.Deref(s.FileUid), GID: ptr.Deref(s.FileGid), Mode: os.FileMode(ptr.Deref(s.FileMode)),
			},
		})
	}
	return out
}

// configsToSwarm maps `containerSpec.configs` to file references.
func configsToSwarm(configs []ConfigRef) []*swarm.ConfigReference {
	var out []*swarm.ConfigReference
	for _, c := range configs {
		out = append(out, &swarm.ConfigReference{
			ConfigID: c.ConfigId, ConfigName: ptr.Deref(c.ConfigName),
			File: &swarm.ConfigReferenceFileTarget{
				Name: c.FileName, UID: ptr.Deref(c.FileUid), GID: ptr.Deref(c.FileGid), Mode: os.FileMode(ptr.Deref(c.FileMode)),
			},
		})
	}
	return out
}

// mountsToSwarm maps `containerSpec.mounts` (bind, volume or tmpfs).
func mountsToSwarm(mounts []Mount) ([]mount.Mount, error) {
	var out []mount.Mount
	for i, m := range mounts {
		switch m.Type {
		case "bind", "volume", "tmpfs":
		default:
			return nil, fmt.Errorf("taskSpec.containerSpec.mounts[%d].type: %q is not one of bind, volume, tmpfs", i, m.Type)
		}
		out = append(out, mount.Mount{Type: mount.Type(m.Type), Source: ptr.Deref(m.Source), Target: m.Target, ReadOnly: ptr.Deref(m.ReadOnly)})
	}
	return out, nil
}

// healthcheckToSwarm maps `containerSpec.healthcheck`.
func healthcheckToSwarm(h *Healthcheck) (*container.HealthConfig, error) {
	if h == nil {
		return nil, nil
	}
	health := &container.HealthConfig{Test: h.Tests, Retries: ptr.Deref(h.Retries)}
	var err error
	if health.Interval, err = durationField("taskSpec.containerSpec.healthcheck.interval", h.Interval); err != nil {
		return nil, err
	}
	if health.Timeout, err = durationField("taskSpec.containerSpec.healthcheck.timeout", h.Timeout); err != nil {
		return nil, err
	}
	if health.StartPeriod, err = durationField("taskSpec.containerSpec.healthcheck.startPeriod", h.StartPeriod); err != nil {
		return nil, err
	}
	return health, nil
}

// deployConfigToSwarm maps `updateConfig` or `rollbackConfig` (prop names which).
func deployConfigToSwarm(prop string, in *DeployConfig) (*swarm.UpdateConfig, error) {
	if in == nil {
		return nil, nil
	}
	out := &swarm.UpdateConfig{
		Parallelism:   uint64(max(ptr.Deref(in.Parallelism), 0)),
		FailureAction: ptr.Deref(in.FailureAction),
		Order:         ptr.Deref(in.Order),
	}
	var err error
	if out.Delay, err = durationField(prop+".delay", in.Delay); err != nil {
		return nil, err
	}
	if out.Monitor, err = durationField(prop+".monitor", in.Monitor); err != nil {
		return nil, err
	}
	if in.MaxFailureRatio != nil {
		ratio, err := strconv.ParseFloat(*in.MaxFailureRatio, 32)
		if err != nil {
			return nil, fmt.Errorf("%s.maxFailureRatio: %q is not a number: %w", prop, *in.MaxFailureRatio, err)
		}
		out.MaxFailureRatio = float32(ratio)
	}
	return out, nil
}

// keyValues parses "k=v" strings into a map; prop names the list in errors.
func keyValues(prop string, items []string) (map[string]string, error) {
	if len(items) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(items))
	for i, item := range items {
		k, v, ok := strings.Cut(item, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s[%d]: %q is not of the form key=value", prop, i, item)
		}
		out[k] = v
	}
	return out, nil
}

// durationField parses an optional duration input (unset is zero), naming the property in
// the error.
func durationField(prop string, v *string) (time.Duration, error) {
	if v == nil {
		return 0, nil
	}
	return schema.ParseDuration(prop, *v)
}

// durationPtr is like durationField but keeps "unset" as nil.
func durationPtr(prop string, v *string) (*time.Duration, error) {
	if v == nil {
		return nil, nil
	}
	d, err := schema.ParseDuration(prop, *v)
	return &d, err
}

// uintPtr converts an optional count, clamping negatives to 0.
func uintPtr(v *int) *uint64 {
	if v == nil {
		return nil
	}
	u := uint64(max(*v, 0))
	return &u
}
