package docker

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
)

// Defaults of the official provider (contract §3.6), filled in Check so that state,
// refresh and diffs all see the same values.
const (
	defaultFileID          = "0"
	defaultFileMode        = 0o444
	defaultParallelism     = 1
	defaultFailureAction   = "pause"
	defaultMonitor         = "5s"
	defaultMaxFailureRatio = "0.0"
	defaultOrder           = "stop-first"
	defaultDeployDelay     = "0s"
	defaultConvergeDelay   = "7s"
	defaultConvergeTimeout = "3m"
	defaultHealthDuration  = "0s"
	defaultPublishMode     = "ingress"
	defaultProtocol        = "tcp"
	defaultReplicas        = 1
)

// applyServiceDefaults fills the official provider's defaults into the objects the program
// gave (it never adds an object the program left out).
func applyServiceDefaults(args *ServiceArgs) {
	cs := &args.TaskSpec.ContainerSpec
	for i := range cs.Secrets {
		setDefault(&cs.Secrets[i].FileUid, defaultFileID)
		setDefault(&cs.Secrets[i].FileGid, defaultFileID)
		setDefault(&cs.Secrets[i].FileMode, defaultFileMode)
	}
	for i := range cs.Configs {
		setDefault(&cs.Configs[i].FileUid, defaultFileID)
		setDefault(&cs.Configs[i].FileGid, defaultFileID)
		setDefault(&cs.Configs[i].FileMode, defaultFileMode)
	}
	if h := cs.Healthcheck; h != nil {
		setDefault(&h.Interval, defaultHealthDuration)
		setDefault(&h.Timeout, defaultHealthDuration)
		setDefault(&h.StartPeriod, defaultHealthDuration)
		setDefault(&h.Retries, 0)
	}
	for _, c := range []*DeployConfig{args.UpdateConfig, args.RollbackConfig} {
		if c == nil {
			continue
		}
		setDefault(&c.Parallelism, defaultParallelism)
		setDefault(&c.Delay, defaultDeployDelay)
		setDefault(&c.FailureAction, defaultFailureAction)
		setDefault(&c.Monitor, defaultMonitor)
		setDefault(&c.MaxFailureRatio, defaultMaxFailureRatio)
		setDefault(&c.Order, defaultOrder)
	}
	if c := args.ConvergeConfig; c != nil {
		setDefault(&c.Delay, defaultConvergeDelay)
		setDefault(&c.Timeout, defaultConvergeTimeout)
	}
	if m := args.Mode; m != nil && m.Replicated != nil {
		setDefault(&m.Replicated.Replicas, defaultReplicas)
	}
	if e := args.EndpointSpec; e != nil {
		for i := range e.Ports {
			setDefault(&e.Ports[i].PublishMode, defaultPublishMode)
			setDefault(&e.Ports[i].Protocol, defaultProtocol)
		}
	}
}

func setDefault[T any](field **T, value T) {
	if *field == nil {
		*field = &value
	}
}

// durationField parses an optional duration input, naming the property in the error.
func durationField(prop string, v *string) (time.Duration, error) {
	if v == nil {
		return 0, nil
	}
	return parseDuration(prop, *v)
}

// durationPtr is like durationField but keeps "unset" as nil.
func durationPtr(prop string, v *string) (*time.Duration, error) {
	if v == nil {
		return nil, nil
	}
	d, err := parseDuration(prop, *v)
	return &d, err
}

func uintPtr(v *int) *uint64 {
	if v == nil {
		return nil
	}
	u := uint64(max(*v, 0))
	return &u
}

// serviceSpec maps the Service inputs to the swarm ServiceSpec Docker takes. Returns an
// error naming the property for values Docker cannot take (bad durations, negative numbers,
// malformed prefs or driverOpts, a network without id).
func serviceSpec(args ServiceArgs) (swarm.ServiceSpec, error) {
	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: deref(args.Name), Labels: labelsToMap(args.Labels)},
	}
	task, err := taskSpec(args.TaskSpec)
	if err != nil {
		return spec, err
	}
	spec.TaskTemplate = task

	spec.Mode = swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: uintPtr(ptrTo(defaultReplicas))}}
	if m := args.Mode; m != nil {
		switch {
		case deref(m.Global):
			if m.Replicated != nil {
				return spec, fmt.Errorf("mode: replicated and global cannot both be set")
			}
			spec.Mode = swarm.ServiceMode{Global: &swarm.GlobalService{}}
		case m.Replicated != nil:
			replicas := deref(m.Replicated.Replicas)
			if m.Replicated.Replicas == nil {
				replicas = defaultReplicas
			}
			if replicas < 0 {
				return spec, fmt.Errorf("mode.replicated.replicas: %d is negative", replicas)
			}
			spec.Mode = swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: uintPtr(&replicas)}}
		}
	}

	if e := args.EndpointSpec; e != nil {
		endpoint := &swarm.EndpointSpec{Mode: swarm.ResolutionMode(deref(e.Mode))}
		for i, port := range e.Ports {
			if port.TargetPort <= 0 || port.TargetPort > 65535 || deref(port.PublishedPort) < 0 || deref(port.PublishedPort) > 65535 {
				return spec, fmt.Errorf("endpointSpec.ports[%d]: port numbers must be within 1-65535 (published 0 = any)", i)
			}
			endpoint.Ports = append(endpoint.Ports, swarm.PortConfig{
				Name:          deref(port.Name),
				Protocol:      swarm.PortConfigProtocol(orDefault(port.Protocol, defaultProtocol)),
				TargetPort:    uint32(port.TargetPort),
				PublishedPort: uint32(deref(port.PublishedPort)),
				PublishMode:   swarm.PortConfigPublishMode(orDefault(port.PublishMode, defaultPublishMode)),
			})
		}
		spec.EndpointSpec = endpoint
	}

	if spec.UpdateConfig, err = deployConfig("updateConfig", args.UpdateConfig); err != nil {
		return spec, err
	}
	if spec.RollbackConfig, err = deployConfig("rollbackConfig", args.RollbackConfig); err != nil {
		return spec, err
	}
	return spec, nil
}

func taskSpec(in TaskSpec) (swarm.TaskSpec, error) {
	cs, err := containerSpec(in.ContainerSpec)
	if err != nil {
		return swarm.TaskSpec{}, err
	}
	task := swarm.TaskSpec{ContainerSpec: cs}
	for i, n := range in.NetworksAdvanceds {
		target := deref(n.Id)
		if target == "" {
			target = deref(n.Name)
		}
		if target == "" {
			return task, fmt.Errorf("taskSpec.networksAdvanceds[%d]: id is required", i)
		}
		opts, err := keyValues(fmt.Sprintf("taskSpec.networksAdvanceds[%d].driverOpts", i), n.DriverOpts)
		if err != nil {
			return task, err
		}
		task.Networks = append(task.Networks, swarm.NetworkAttachmentConfig{Target: target, Aliases: n.Aliases, DriverOpts: opts})
	}
	if pl := in.Placement; pl != nil {
		placement := &swarm.Placement{Constraints: pl.Constraints}
		if pl.MaxReplicas != nil {
			if *pl.MaxReplicas < 0 {
				return task, fmt.Errorf("taskSpec.placement.maxReplicas: %d is negative", *pl.MaxReplicas)
			}
			placement.MaxReplicas = uint64(*pl.MaxReplicas)
		}
		for i, pref := range pl.Prefs {
			descriptor, ok := strings.CutPrefix(pref, "spread=")
			if !ok || descriptor == "" {
				return task, fmt.Errorf("taskSpec.placement.prefs[%d]: %q is not of the form spread=DESCRIPTOR", i, pref)
			}
			placement.Preferences = append(placement.Preferences, swarm.PlacementPreference{Spread: &swarm.SpreadOver{SpreadDescriptor: descriptor}})
		}
		task.Placement = placement
	}
	if r := in.Resources; r != nil {
		req := &swarm.ResourceRequirements{}
		if r.Limits != nil {
			req.Limits = &swarm.Limit{NanoCPUs: int64(deref(r.Limits.NanoCpus)), MemoryBytes: int64(deref(r.Limits.MemoryBytes))}
		}
		if r.Reservation != nil {
			req.Reservations = &swarm.Resources{NanoCPUs: int64(deref(r.Reservation.NanoCpus)), MemoryBytes: int64(deref(r.Reservation.MemoryBytes))}
		}
		task.Resources = req
	}
	if rp := in.RestartPolicy; rp != nil {
		policy := &swarm.RestartPolicy{Condition: swarm.RestartPolicyCondition(deref(rp.Condition)), MaxAttempts: uintPtr(rp.MaxAttempts)}
		if policy.Delay, err = durationPtr("taskSpec.restartPolicy.delay", rp.Delay); err != nil {
			return task, err
		}
		if policy.Window, err = durationPtr("taskSpec.restartPolicy.window", rp.Window); err != nil {
			return task, err
		}
		task.RestartPolicy = policy
	}
	if ld := in.LogDriver; ld != nil {
		task.LogDriver = &swarm.Driver{Name: ld.Name, Options: ld.Options}
	}
	return task, nil
}

func containerSpec(in ContainerSpec) (*swarm.ContainerSpec, error) {
	cs := &swarm.ContainerSpec{
		Image:      in.Image,
		Hostname:   deref(in.Hostname),
		Args:       in.Args,
		Command:    in.Commands,
		User:       deref(in.User),
		Dir:        deref(in.Dir),
		Labels:     labelsToMap(in.Labels),
		ReadOnly:   deref(in.ReadOnly),
		StopSignal: deref(in.StopSignal),
	}
	for _, k := range sortedKeys(in.Env) {
		cs.Env = append(cs.Env, k+"="+in.Env[k])
	}
	for _, s := range in.Secrets {
		cs.Secrets = append(cs.Secrets, &swarm.SecretReference{
			SecretID: s.SecretId, SecretName: deref(s.SecretName),
			File: &swarm.SecretReferenceFileTarget{
				Name: s.FileName, UID: orDefault(s.FileUid, defaultFileID), GID: orDefault(s.FileGid, defaultFileID),
				Mode: os.FileMode(orDefault(s.FileMode, defaultFileMode)),
			},
		})
	}
	for _, c := range in.Configs {
		cs.Configs = append(cs.Configs, &swarm.ConfigReference{
			ConfigID: c.ConfigId, ConfigName: deref(c.ConfigName),
			File: &swarm.ConfigReferenceFileTarget{
				Name: c.FileName, UID: orDefault(c.FileUid, defaultFileID), GID: orDefault(c.FileGid, defaultFileID),
				Mode: os.FileMode(orDefault(c.FileMode, defaultFileMode)),
			},
		})
	}
	for i, m := range in.Mounts {
		switch m.Type {
		case "bind", "volume", "tmpfs":
		default:
			return nil, fmt.Errorf("taskSpec.containerSpec.mounts[%d].type: %q is not one of bind, volume, tmpfs", i, m.Type)
		}
		cs.Mounts = append(cs.Mounts, mount.Mount{Type: mount.Type(m.Type), Source: deref(m.Source), Target: m.Target, ReadOnly: deref(m.ReadOnly)})
	}
	if h := in.Healthcheck; h != nil {
		health := &container.HealthConfig{Test: h.Tests, Retries: deref(h.Retries)}
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
		cs.Healthcheck = health
	}
	var err error
	if cs.StopGracePeriod, err = durationPtr("taskSpec.containerSpec.stopGracePeriod", in.StopGracePeriod); err != nil {
		return nil, err
	}
	return cs, nil
}

func deployConfig(prop string, in *DeployConfig) (*swarm.UpdateConfig, error) {
	if in == nil {
		return nil, nil
	}
	out := &swarm.UpdateConfig{
		Parallelism:   uint64(max(orDefault(in.Parallelism, defaultParallelism), 0)),
		FailureAction: orDefault(in.FailureAction, defaultFailureAction),
		Order:         orDefault(in.Order, defaultOrder),
	}
	var err error
	if out.Delay, err = durationField(prop+".delay", in.Delay); err != nil {
		return nil, err
	}
	if out.Monitor, err = parseDuration(prop+".monitor", orDefault(in.Monitor, defaultMonitor)); err != nil {
		return nil, err
	}
	ratio, err := strconv.ParseFloat(orDefault(in.MaxFailureRatio, defaultMaxFailureRatio), 32)
	if err != nil {
		return nil, fmt.Errorf("%s.maxFailureRatio: %q is not a number: %w", prop, deref(in.MaxFailureRatio), err)
	}
	out.MaxFailureRatio = float32(ratio)
	return out, nil
}

// keyValues parses "k=v" strings into a map.
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

func orDefault[T any](v *T, def T) T {
	if v == nil {
		return def
	}
	return *v
}

func ptrTo[T any](v T) *T { return &v }

// The reverse direction: an inspected swarm service back to the inputs shape. Only
// properties the prior inputs set appear in the result (Docker's own defaults for the rest
// would otherwise show as drift on refresh), values equal to the prior ones keep the prior
// spelling ("60s" stays "60s", not "1m0s"), and list items are matched to the prior items
// by their key (file name, target, network) so order-insensitive lists keep the user's order.

// serviceArgsFrom maps an inspected service onto the shape of prior. networkID resolves a
// network reference the user gave (name or ID) to the ID Docker stores; nil means identity.
func serviceArgsFrom(svc swarm.Service, prior ServiceArgs, networkID func(string) string) ServiceArgs {
	if networkID == nil {
		networkID = func(s string) string { return s }
	}
	spec := svc.Spec
	out := ServiceArgs{ConvergeConfig: prior.ConvergeConfig}
	name := spec.Name
	out.Name = &name
	if prior.Labels != nil || len(spec.Labels) > 0 {
		out.Labels = labelsFromMap(spec.Labels, prior.Labels)
	}
	out.TaskSpec = taskSpecFrom(spec, prior.TaskSpec, networkID)

	if prior.Mode != nil {
		mode := &ServiceMode{}
		switch {
		case spec.Mode.Global != nil:
			mode.Global = ptrTo(true)
		case spec.Mode.Replicated != nil:
			if prior.Mode.Global != nil {
				mode.Global = ptrTo(false)
			}
			if prior.Mode.Replicated != nil || prior.Mode.Global != nil {
				mode.Replicated = &ReplicatedMode{Replicas: ptrTo(int(deref(spec.Mode.Replicated.Replicas)))}
			}
		}
		out.Mode = mode
	}

	if prior.EndpointSpec != nil {
		endpoint := &EndpointSpec{}
		var e swarm.EndpointSpec
		if spec.EndpointSpec != nil {
			e = *spec.EndpointSpec
		}
		if prior.EndpointSpec.Mode != nil || e.Mode != "" && e.Mode != swarm.ResolutionModeVIP {
			endpoint.Mode = ptrTo(string(e.Mode))
			if e.Mode == "" {
				endpoint.Mode = ptrTo(string(swarm.ResolutionModeVIP))
			}
		}
		for i, port := range e.Ports {
			var was Port
			if i < len(prior.EndpointSpec.Ports) {
				was = prior.EndpointSpec.Ports[i]
			}
			item := Port{
				TargetPort:    int(port.TargetPort),
				PublishedPort: ptrTo(int(port.PublishedPort)),
				PublishMode:   ptrTo(string(port.PublishMode)),
				Protocol:      ptrTo(string(port.Protocol)),
			}
			if was.PublishedPort == nil && port.PublishedPort == 0 {
				item.PublishedPort = nil
			}
			if port.Name != "" || was.Name != nil {
				item.Name = ptrTo(port.Name)
			}
			endpoint.Ports = append(endpoint.Ports, item)
		}
		out.EndpointSpec = endpoint
	}
	out.UpdateConfig = deployConfigFrom(spec.UpdateConfig, prior.UpdateConfig)
	out.RollbackConfig = deployConfigFrom(spec.RollbackConfig, prior.RollbackConfig)
	return out
}

func taskSpecFrom(spec swarm.ServiceSpec, prior TaskSpec, networkID func(string) string) TaskSpec {
	task := spec.TaskTemplate
	out := TaskSpec{}
	var cs swarm.ContainerSpec
	if task.ContainerSpec != nil {
		cs = *task.ContainerSpec
	}
	out.ContainerSpec = containerSpecFrom(cs, prior.ContainerSpec)

	networks := task.Networks
	if len(networks) == 0 {
		networks = spec.Networks //nolint:staticcheck // older daemons report networks here
	}
	out.NetworksAdvanceds = networksFrom(networks, prior.NetworksAdvanceds, networkID)

	if prior.Placement != nil {
		pl := &Placement{}
		var in swarm.Placement
		if task.Placement != nil {
			in = *task.Placement
		}
		if prior.Placement.Constraints != nil || len(in.Constraints) > 0 {
			pl.Constraints = inPriorOrder(in.Constraints, prior.Placement.Constraints)
		}
		for _, pref := range in.Preferences {
			if pref.Spread != nil {
				pl.Prefs = append(pl.Prefs, "spread="+pref.Spread.SpreadDescriptor)
			}
		}
		if prior.Placement.MaxReplicas != nil || in.MaxReplicas > 0 {
			pl.MaxReplicas = ptrTo(int(in.MaxReplicas))
		}
		out.Placement = pl
	}
	if prior.Resources != nil {
		r := &Resources{}
		var in swarm.ResourceRequirements
		if task.Resources != nil {
			in = *task.Resources
		}
		if prior.Resources.Limits != nil || in.Limits != nil && (in.Limits.NanoCPUs != 0 || in.Limits.MemoryBytes != 0) {
			var l swarm.Limit
			if in.Limits != nil {
				l = *in.Limits
			}
			r.Limits = amountsFrom(l.NanoCPUs, l.MemoryBytes, prior.Resources.Limits)
		}
		if prior.Resources.Reservation != nil || in.Reservations != nil && (in.Reservations.NanoCPUs != 0 || in.Reservations.MemoryBytes != 0) {
			var res swarm.Resources
			if in.Reservations != nil {
				res = *in.Reservations
			}
			r.Reservation = amountsFrom(res.NanoCPUs, res.MemoryBytes, prior.Resources.Reservation)
		}
		out.Resources = r
	}
	if prior.RestartPolicy != nil {
		rp := &RestartPolicy{}
		var in swarm.RestartPolicy
		if task.RestartPolicy != nil {
			in = *task.RestartPolicy
		}
		was := prior.RestartPolicy
		if was.Condition != nil || in.Condition != "" {
			rp.Condition = ptrTo(string(in.Condition))
		}
		if was.Delay != nil || in.Delay != nil {
			rp.Delay = durationOut(deref(in.Delay), was.Delay)
		}
		if was.Window != nil || in.Window != nil {
			rp.Window = durationOut(deref(in.Window), was.Window)
		}
		if was.MaxAttempts != nil || in.MaxAttempts != nil && *in.MaxAttempts != 0 {
			rp.MaxAttempts = ptrTo(int(deref(in.MaxAttempts)))
		}
		out.RestartPolicy = rp
	}
	if prior.LogDriver != nil && task.LogDriver != nil {
		out.LogDriver = &LogDriver{Name: task.LogDriver.Name, Options: task.LogDriver.Options}
	}
	return out
}

// amountsFrom keeps a zero value only where the prior inputs set it.
func amountsFrom(nanoCPUs, memoryBytes int64, prior *ResourceAmounts) *ResourceAmounts {
	if prior == nil {
		prior = &ResourceAmounts{}
	}
	out := &ResourceAmounts{}
	if prior.NanoCpus != nil || nanoCPUs != 0 {
		out.NanoCpus = ptrTo(int(nanoCPUs))
	}
	if prior.MemoryBytes != nil || memoryBytes != 0 {
		out.MemoryBytes = ptrTo(int(memoryBytes))
	}
	return out
}

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
		out.ReadOnly = ptrTo(cs.ReadOnly)
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
	if cs.Healthcheck != nil && (prior.Healthcheck != nil || len(cs.Healthcheck.Test) > 0) {
		h := cs.Healthcheck
		was := prior.Healthcheck
		if was == nil {
			was = &Healthcheck{}
		}
		out.Healthcheck = &Healthcheck{
			Tests:       h.Test,
			Interval:    durationOut(h.Interval, orPtr(was.Interval, defaultHealthDuration)),
			Timeout:     durationOut(h.Timeout, orPtr(was.Timeout, defaultHealthDuration)),
			StartPeriod: durationOut(h.StartPeriod, orPtr(was.StartPeriod, defaultHealthDuration)),
			Retries:     ptrTo(h.Retries),
		}
	}
	if prior.StopGracePeriod != nil || cs.StopGracePeriod != nil {
		out.StopGracePeriod = durationOut(deref(cs.StopGracePeriod), prior.StopGracePeriod)
	}
	return out
}

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
			FileUid: ptrTo(file.UID), FileGid: ptrTo(file.GID), FileMode: ptrTo(int(file.Mode))}
		if ref.SecretName != "" && (!known || was.SecretName != nil) {
			item.SecretName = ptrTo(ref.SecretName)
		}
		out = append(out, item)
	}
	return orderLike(out, func(s SecretRef) string { return s.FileName }, priorKeys)
}

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
			FileUid: ptrTo(ref.File.UID), FileGid: ptrTo(ref.File.GID), FileMode: ptrTo(int(ref.File.Mode))}
		if ref.ConfigName != "" && (!known || was.ConfigName != nil) {
			item.ConfigName = ptrTo(ref.ConfigName)
		}
		out = append(out, item)
	}
	return orderLike(out, func(c ConfigRef) string { return c.FileName }, priorKeys)
}

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
			item.Source = ptrTo(m.Source)
		}
		if was.ReadOnly != nil || m.ReadOnly {
			item.ReadOnly = ptrTo(m.ReadOnly)
		}
		out = append(out, item)
	}
	return orderLike(out, func(m Mount) string { return m.Target }, priorKeys)
}

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
		ref := deref(n.Id)
		if ref == "" {
			ref = deref(n.Name)
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
		item := NetworkAttachment{Id: ptrTo(n.Target)}
		if known {
			// Keep the user's reference (and field) when it names this network.
			if was.item.Id != nil {
				item.Id = ptrTo(was.ref)
			} else {
				item.Id, item.Name = nil, ptrTo(was.ref)
			}
		}
		if len(n.Aliases) > 0 || known && was.item.Aliases != nil {
			item.Aliases = inPriorOrder(n.Aliases, was.item.Aliases)
		}
		if len(n.DriverOpts) > 0 || known && was.item.DriverOpts != nil {
			opts := []string{}
			for _, k := range sortedKeys(n.DriverOpts) {
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
		Parallelism:   ptrTo(int(c.Parallelism)),
		FailureAction: ptrTo(c.FailureAction),
		Order:         ptrTo(c.Order),
	}
	if c.FailureAction == "" {
		out.FailureAction = ptrTo(defaultFailureAction)
	}
	if c.Order == "" {
		out.Order = ptrTo(defaultOrder)
	}
	out.Delay = durationOut(c.Delay, orPtr(prior.Delay, defaultDeployDelay))
	out.Monitor = durationOut(c.Monitor, orPtr(prior.Monitor, defaultMonitor))
	ratio := strconv.FormatFloat(float64(c.MaxFailureRatio), 'f', -1, 32)
	if p := orPtr(prior.MaxFailureRatio, defaultMaxFailureRatio); sameFloatText(*p, ratio) {
		out.MaxFailureRatio = p
	} else {
		out.MaxFailureRatio = &ratio
	}
	return out
}
