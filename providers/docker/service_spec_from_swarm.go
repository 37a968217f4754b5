package docker

import (
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/galera-swarm/galera-swarm/providers/internal/ptr"
	"github.com/galera-swarm/galera-swarm/providers/internal/schema"
)

// The swarm → inputs direction: an inspected swarm service back to the inputs shape, for
// Read and for the state after Create/Update. Only properties the prior inputs set appear
// in the result (Docker's own defaults for the rest would otherwise show as drift on
// refresh), values equal to the prior ones keep the prior spelling ("60s" stays "60s", not
// "1m0s"), and list items are matched to the prior items by their key (file name, target,
// network) so order-insensitive lists keep the user's order. One function per field group,
// mirroring service_spec_to_swarm.go.

// serviceArgsFrom maps an inspected service onto the shape of prior. networkID resolves a
// network reference the user gave (name or ID) to the ID Docker stores; nil means identity.
func serviceArgsFrom(svc swarm.Service, prior ServiceArgs, networkID func(string) string) ServiceArgs {
	if networkID == nil {
		networkID = func(s string) string { return s }
	}
	spec := svc.Spec
	out := ServiceArgs{ConvergeConfig: prior.ConvergeConfig, Name: ptr.To(spec.Name)}
	if prior.Labels != nil || len(spec.Labels) > 0 {
		out.Labels = labelsFromMap(spec.Labels, prior.Labels)
	}
	out.TaskSpec = taskSpecFrom(spec, prior.TaskSpec, networkID)
	out.Mode = modeFrom(spec.Mode, prior.Mode)
	out.EndpointSpec = endpointFrom(spec.EndpointSpec, prior.EndpointSpec)
	out.UpdateConfig = deployConfigFrom(spec.UpdateConfig, prior.UpdateConfig)
	out.RollbackConfig = deployConfigFrom(spec.RollbackConfig, prior.RollbackConfig)
	return out
}

// modeFrom maps the service mode back when the prior inputs had `mode`.
func modeFrom(m swarm.ServiceMode, prior *ServiceMode) *ServiceMode {
	if prior == nil {
		return nil
	}
	mode := &ServiceMode{}
	switch {
	case m.Global != nil:
		mode.Global = ptr.To(true)
	case m.Replicated != nil:
		if prior.Global != nil {
			mode.Global = ptr.To(false)
		}
		if prior.Replicated != nil || prior.Global != nil {
			mode.Replicated = &ReplicatedMode{Replicas: ptr.To(int(ptr.Deref(m.Replicated.Replicas)))}
		}
	}
	return mode
}

// endpointFrom maps the endpoint spec back when the prior inputs had `endpointSpec`; Docker's
// default vip mode appears only when the user wrote a mode.
func endpointFrom(in *swarm.EndpointSpec, prior *EndpointSpec) *EndpointSpec {
	if prior == nil {
		return nil
	}
	endpoint := &EndpointSpec{}
	var e swarm.EndpointSpec
	if in != nil {
		e = *in
	}
	if prior.Mode != nil || e.Mode != "" && e.Mode != swarm.ResolutionModeVIP {
		endpoint.Mode = ptr.To(string(e.Mode))
		if e.Mode == "" {
			endpoint.Mode = ptr.To(string(swarm.ResolutionModeVIP))
		}
	}
	for i, port := range e.Ports {
		var was Port
		if i < len(prior.Ports) {
			was = prior.Ports[i]
		}
		item := Port{
			TargetPort:    int(port.TargetPort),
			PublishedPort: ptr.To(int(port.PublishedPort)),
			PublishMode:   ptr.To(string(port.PublishMode)),
			Protocol:      ptr.To(string(port.Protocol)),
		}
		if was.PublishedPort == nil && port.PublishedPort == 0 {
			item.PublishedPort = nil
		}
		if port.Name != "" || was.Name != nil {
			item.Name = ptr.To(port.Name)
		}
		endpoint.Ports = append(endpoint.Ports, item)
	}
	return endpoint
}

// taskSpecFrom maps the task template back.
func taskSpecFrom(spec swarm.ServiceSpec, prior TaskSpec, networkID func(string) string) TaskSpec {
	task := spec.TaskTemplate
	var cs swarm.ContainerSpec
	if task.ContainerSpec != nil {
		cs = *task.ContainerSpec
	}
	networks := task.Networks
	if len(networks) == 0 {
		networks = spec.Networks //nolint:staticcheck // older daemons report networks here
	}
	out := TaskSpec{
		ContainerSpec:     containerSpecFrom(cs, prior.ContainerSpec),
		NetworksAdvanceds: networksFrom(networks, prior.NetworksAdvanceds, networkID),
		Placement:         placementFrom(task.Placement, prior.Placement),
		Resources:         resourcesFrom(task.Resources, prior.Resources),
		RestartPolicy:     restartPolicyFrom(task.RestartPolicy, prior.RestartPolicy),
	}
	if prior.LogDriver != nil && task.LogDriver != nil {
		out.LogDriver = &LogDriver{Name: task.LogDriver.Name, Options: task.LogDriver.Options}
	}
	return out
}

// placementFrom maps placement back when the prior inputs had it.
func placementFrom(placement *swarm.Placement, prior *Placement) *Placement {
	if prior == nil {
		return nil
	}
	pl := &Placement{}
	var in swarm.Placement
	if placement != nil {
		in = *placement
	}
	if prior.Constraints != nil || len(in.Constraints) > 0 {
		pl.Constraints = inPriorOrder(in.Constraints, prior.Constraints)
	}
	for _, pref := range in.Preferences {
		if pref.Spread != nil {
			pl.Prefs = append(pl.Prefs, "spread="+pref.Spread.SpreadDescriptor)
		}
	}
	if prior.MaxReplicas != nil || in.MaxReplicas > 0 {
		pl.MaxReplicas = ptr.To(int(in.MaxReplicas))
	}
	return pl
}

// resourcesFrom maps limits and reservations back when the prior inputs had `resources`.
func resourcesFrom(resources *swarm.ResourceRequirements, prior *Resources) *Resources {
	if prior == nil {
		return nil
	}
	r := &Resources{}
	var in swarm.ResourceRequirements
	if resources != nil {
		in = *resources
	}
	if prior.Limits != nil || in.Limits != nil && (in.Limits.NanoCPUs != 0 || in.Limits.MemoryBytes != 0) {
		var l swarm.Limit
		if in.Limits != nil {
			l = *in.Limits
		}
		r.Limits = amountsFrom(l.NanoCPUs, l.MemoryBytes, prior.Limits)
	}
	if prior.Reservation != nil || in.Reservations != nil && (in.Reservations.NanoCPUs != 0 || in.Reservations.MemoryBytes != 0) {
		var res swarm.Resources
		if in.Reservations != nil {
			res = *in.Reservations
		}
		r.Reservation = amountsFrom(res.NanoCPUs, res.MemoryBytes, prior.Reservation)
	}
	return r
}

// amountsFrom keeps a zero value only where the prior inputs set it.
func amountsFrom(nanoCPUs, memoryBytes int64, prior *ResourceAmounts) *ResourceAmounts {
	if prior == nil {
		prior = &ResourceAmounts{}
	}
	out := &ResourceAmounts{}
	if prior.NanoCpus != nil || nanoCPUs != 0 {
		out.NanoCpus = ptr.To(int(nanoCPUs))
	}
	if prior.MemoryBytes != nil || memoryBytes != 0 {
		out.MemoryBytes = ptr.To(int(memoryBytes))
	}
	return out
}

// restartPolicyFrom maps the restart policy back when the prior inputs had one.
func restartPolicyFrom(policy *swarm.RestartPolicy, was *RestartPolicy) *RestartPolicy {
	if was == nil {
		return nil
	}
	rp := &RestartPolicy{}
	var in swarm.RestartPolicy
	if policy != nil {
		in = *policy
	}
	if was.Condition != nil || in.Condition != "" {
		rp.Condition = ptr.To(string(in.Condition))
	}
	if was.Delay != nil || in.Delay != nil {
		rp.Delay = durationOut(ptr.Deref(in.Delay), was.Delay)
	}
	if was.Window != nil || in.Window != nil {
		rp.Window = durationOut(ptr.Deref(in.Window), was.Window)
	}
	if was.MaxAttempts != nil || in.MaxAttempts != nil && *in.MaxAttempts != 0 {
		rp.MaxAttempts = ptr.To(int(ptr.Deref(in.MaxAttempts)))
	}
	return rp
}

// containerSpecFrom maps the container spec back.
func containerSpecFrom(cs swarm.ContainerSpec, prior ContainerSpec) ContainerSpec {
	out := ContainerSpec{Image: cs.Image}
	// Docker may pin the image to a digest (QueryRegistry): keep the user's reference when
	// it is the same image.
	if prior.Image != "" && (cs.Image == prior.Image || strings.HasPrefix(cs.Image, prior.Image+"@")) {
		out.Image = prior.Image
	}
	out.Hostname = stringOut(cs.Hostname, prior.Hostname)
	out.User = stringOut(cs.User, prior.User)
	out.Dir = stringOut(cs.Dir, prior.Dir)
	out.StopSignal = stringOut(cs.StopSignal, prior.StopSignal)
	if prior.ReadOnly != nil || cs.ReadOnly {
		out.ReadOnly = ptr.To(cs.ReadOnly)
	}
	if prior.Args != nil || len(cs.Args) > 0 {
		out.Args = cs.Args
	}
	if prior.Commands != nil || len(cs.Command) > 0 {
		out.Commands = cs.Command
	}
	if prior.Labels != nil || len(cs.Labels) > 0 {
		out.Labels = labelsFromMap(cs.Labels, prior.Labels)
	}
	if prior.Env != nil || len(cs.Env) > 0 {
		out.Env = map[string]string{}
		for _, kv := range cs.Env {
			k, v, _ := strings.Cut(kv, "=")
			out.Env[k] = v
		}
	}
	out.Secrets = secretsFrom(cs.Secrets, prior.Secrets)
	out.Configs = configsFrom(cs.Configs, prior.Configs)
	out.Mounts = mountsFrom(cs.Mounts, prior.Mounts)
	out.Healthcheck = healthcheckFrom(cs.Healthcheck, prior.Healthcheck)
	if prior.StopGracePeriod != nil || cs.StopGracePeriod != nil {
		out.StopGracePeriod = durationOut(ptr.Deref(cs.StopGracePeriod), prior.StopGracePeriod)
	}
	return out
}

// healthcheckFrom maps the healthcheck back when Docker has one and the prior inputs had it
// (or it has a test). Every field appears: they all have defaults.
func healthcheckFrom(h *container.HealthConfig, was *Healthcheck) *Healthcheck {
	if h == nil || was == nil && len(h.Test) == 0 {
		return nil
	}
	if was == nil {
		was = &Healthcheck{}
	}
	return &Healthcheck{
		Tests:       h.Test,
		Interval:    durationOut(h.Interval, orPtr(was.Interval, defaultHealthDuration)),
		Timeout:     durationOut(h.Timeout, orPtr(was.Timeout, defaultHealthDuration)),
		StartPeriod: durationOut(h.StartPeriod, orPtr(was.StartPeriod, defaultHealthDuration)),
		Retries:     ptr.To(h.Retries),
	}
}

// durationOut renders an inspected duration for outputs, keeping the prior spelling when
// it means the same value, so a refresh shows no drift.
func durationOut(actual time.Duration, prior *string) *string {
	if prior != nil && schema.SameDuration(*prior, actual.String()) {
		return prior
	}
	return ptr.To(actual.String())
}

// orPtr gives v, or a pointer to the spelling def when v is unset (state written before
// Check filled that default).
func orPtr(v *string, def string) *string {
	if v == nil {
		return &def
	}
	return v
}

// stringOut gives actual when the prior inputs set the property or Docker has a value.
func stringOut(actual string, prior *string) *string {
	if prior == nil && actual == "" {
		return nil
	}
	return &actual
}

// inPriorOrder orders actual like prior (items prior does not hold go last, sorted).
func inPriorOrder(actual, prior []string) []string {
	rank := map[string]int{}
	for i, s := range prior {
		if _, ok := rank[s]; !ok {
			rank[s] = i
		}
	}
	out := append([]string(nil), actual...)
	sort.SliceStable(out, func(i, j int) bool {
		ri, iok := rank[out[i]]
		rj, jok := rank[out[j]]
		switch {
		case iok && jok:
			return ri < rj
		case iok != jok:
			return iok
		}
		return out[i] < out[j]
	})
	return out
}

// orderLike sorts items so that those whose key is in priorKeys come in that order, others
// after them by key.
func orderLike[T any](items []T, key func(T) string, priorKeys []string) []T {
	keys := make([]string, len(items))
	for i, item := range items {
		keys[i] = key(item)
	}
	ordered := inPriorOrder(keys, priorKeys)
	out := make([]T, 0, len(items))
	used := make([]bool, len(items))
	for _, k := range ordered {
		for i := range items {
			if !used[i] && keys[i] == k {
				used[i] = true
				out = append(out, items[i])
				break
			}
		}
	}
	return out
}

// secretsFrom maps secret references back, matched to the prior items by file name.
func secretsFrom(refs []*swarm.SecretReference, prior []SecretRef) []SecretRef {
	if len(refs) == 0 {
		if prior != nil {
			return []SecretRef{}
		}
		return nil
	}
	byFile := map[string]SecretRef{}
	var priorKeys []string
	for _, s := range prior {
		byFile[s.FileName] = s
		priorKeys = append(priorKeys, s.FileName)
	}
	var out []SecretRef
	for _, ref := range refs {
		if ref == nil {
			continue
		}
		var file swarm.SecretReferenceFileTarget
		if ref.File != nil {
			file = *ref.File
		}
		was, known := byFile[file.Name]
		item := SecretRef{SecretId: ref.SecretID, FileName: file.Name,
			FileUid: ptr.To(file.UID), FileGid: ptr.To(file.GID), FileMode: ptr.To(int(file.Mode))}
		if ref.SecretName != "" && (!known || was.SecretName != nil) {
			item.SecretName = ptr.To(ref.SecretName)
		}
		out = append(out, item)
	}
	return orderLike(out, func(s SecretRef) string { return s.FileName }, priorKeys)
}

// configsFrom maps config references back, matched to the prior items by file name.
func configsFrom(refs []*swarm.ConfigReference, prior []ConfigRef) []ConfigRef {
	if len(refs) == 0 {
		if prior != nil {
			return []ConfigRef{}
		}
		return nil
	}
	byFile := map[string]ConfigRef{}
	var priorKeys []string
	for _, c := range prior {
		byFile[c.FileName] = c
		priorKeys = append(priorKeys, c.FileName)
	}
	var out []ConfigRef
	for _, ref := range refs {
		if ref == nil || ref.File == nil {
			continue // runtime configs (credential specs) are not ours
		}
		was, known := byFile[ref.File.Name]
		item := ConfigRef{ConfigId: ref.ConfigID, FileName: ref.File.Name,
			FileUid: ptr.To(ref.File.UID), FileGid: ptr.To(ref.File.GID), FileMode: ptr.To(int(ref.File.Mode))}
		if ref.ConfigName != "" && (!known || was.ConfigName != nil) {
			item.ConfigName = ptr.To(ref.ConfigName)
		}
		out = append(out, item)
	}
	return orderLike(out, func(c ConfigRef) string { return c.FileName }, priorKeys)
}

// mountsFrom maps mounts back, matched to the prior items by target.
func mountsFrom(mounts []mount.Mount, prior []Mount) []Mount {
	if len(mounts) == 0 {
		if prior != nil {
			return []Mount{}
		}
		return nil
	}
	byTarget := map[string]Mount{}
	var priorKeys []string
	for _, m := range prior {
		byTarget[m.Target] = m
		priorKeys = append(priorKeys, m.Target)
	}
	var out []Mount
	for _, m := range mounts {
		was := byTarget[m.Target]
		item := Mount{Type: string(m.Type), Target: m.Target}
		if was.Source != nil || m.Source != "" {
			item.Source = ptr.To(m.Source)
		}
		if was.ReadOnly != nil || m.ReadOnly {
			item.ReadOnly = ptr.To(m.ReadOnly)
		}
		out = append(out, item)
	}
	return orderLike(out, func(m Mount) string { return m.Target }, priorKeys)
}

// networksFrom maps network attachments back, matched to the prior items by network ID
// (networkID resolves the user's reference), keeping the user's reference and field.
func networksFrom(nets []swarm.NetworkAttachmentConfig, prior []NetworkAttachment, networkID func(string) string) []NetworkAttachment {
	if len(nets) == 0 {
		if prior != nil {
			return []NetworkAttachment{}
		}
		return nil
	}
	type priorNet struct {
		ref  string
		item NetworkAttachment
	}
	byID := map[string]priorNet{}
	var priorKeys []string
	for _, n := range prior {
		ref := ptr.Deref(n.Id)
		if ref == "" {
			ref = ptr.Deref(n.Name)
		}
		id := networkID(ref)
		byID[id] = priorNet{ref: ref, item: n}
		priorKeys = append(priorKeys, id)
	}
	type keyed struct {
		id   string
		item NetworkAttachment
	}
	var out []keyed
	for _, n := range nets {
		was, known := byID[n.Target]
		item := NetworkAttachment{Id: ptr.To(n.Target)}
		if known {
			// Keep the user's reference (and field) when it names this network.
			if was.item.Id != nil {
				item.Id = ptr.To(was.ref)
			} else {
				item.Id, item.Name = nil, ptr.To(was.ref)
			}
		}
		if len(n.Aliases) > 0 || known && was.item.Aliases != nil {
			item.Aliases = inPriorOrder(n.Aliases, was.item.Aliases)
		}
		if len(n.DriverOpts) > 0 || known && was.item.DriverOpts != nil {
			opts := []string{}
			for _, k := range slices.Sorted(maps.Keys(n.DriverOpts)) {
				opts = append(opts, k+"="+n.DriverOpts[k])
			}
			item.DriverOpts = inPriorOrder(opts, was.item.DriverOpts)
		}
		out = append(out, keyed{id: n.Target, item: item})
	}
	ordered := orderLike(out, func(k keyed) string { return k.id }, priorKeys)
	items := make([]NetworkAttachment, len(ordered))
	for i, k := range ordered {
		items[i] = k.item
	}
	return items
}

// deployConfigFrom maps an update/rollback config back; all fields (they all have
// defaults) appear when the prior inputs had the object.
func deployConfigFrom(in *swarm.UpdateConfig, prior *DeployConfig) *DeployConfig {
	if prior == nil {
		return nil
	}
	var c swarm.UpdateConfig
	if in != nil {
		c = *in
	}
	out := &DeployConfig{
		Parallelism:   ptr.To(int(c.Parallelism)),
		FailureAction: ptr.To(c.FailureAction),
		Order:         ptr.To(c.Order),
	}
	if c.FailureAction == "" {
		out.FailureAction = ptr.To(defaultFailureAction)
	}
	if c.Order == "" {
		out.Order = ptr.To(defaultOrder)
	}
	out.Delay = durationOut(c.Delay, orPtr(prior.Delay, defaultDeployDelay))
	out.Monitor = durationOut(c.Monitor, orPtr(prior.Monitor, defaultMonitor))
	ratio := strconv.FormatFloat(float64(c.MaxFailureRatio), 'f', -1, 32)
	if p := orPtr(prior.MaxFailureRatio, defaultMaxFailureRatio); schema.SameNumberText(*p, ratio) {
		out.MaxFailureRatio = p
	} else {
		out.MaxFailureRatio = &ratio
	}
	return out
}
