package docker

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"

	"github.com/galera-swarm/galera-swarm/providers/internal/ptr"
	"github.com/galera-swarm/galera-swarm/providers/internal/schema"
)

// fullServiceArgs sets every property the plugin implements, as Check leaves them.
func fullServiceArgs() ServiceArgs {
	s := ptr.To[string]
	i := ptr.To[int]
	args := ServiceArgs{
		Name:   s("galera"),
		Labels: []Label{{Label: "tier", Value: "db"}},
		TaskSpec: TaskSpec{
			ContainerSpec: ContainerSpec{
				Image:      "mariadb:11",
				Hostname:   s("{{.Service.Name}}-{{.Task.Slot}}"),
				Env:        map[string]string{"B": "2", "A": "1"},
				Args:       []string{"--wsrep-on=ON"},
				Commands:   []string{"docker-entrypoint.sh"},
				User:       s("mysql"),
				Dir:        s("/var/lib/mysql"),
				Labels:     []Label{{Label: "c", Value: "d"}},
				ReadOnly:   ptr.To(false),
				StopSignal: s("SIGTERM"),
				Secrets: []SecretRef{{SecretId: "sec1", SecretName: s("root-pw"), FileName: "/run/secrets/root",
					FileUid: s("0"), FileGid: s("0"), FileMode: i(0o400)}},
				Configs: []ConfigRef{{ConfigId: "cfg1", ConfigName: s("haproxy"), FileName: "/etc/haproxy.cfg",
					FileUid: s("0"), FileGid: s("0"), FileMode: i(0o444)}},
				Mounts: []Mount{{Type: "volume", Source: s("{{.Service.Name}}-{{.Task.Slot}}-data"), Target: "/var/lib/mysql", ReadOnly: ptr.To(false)}},
				Healthcheck: &Healthcheck{Tests: []string{"CMD", "/usr/local/bin/galera-health"},
					Interval: s("5s"), Timeout: s("3s"), StartPeriod: s("10m"), Retries: i(3)},
				StopGracePeriod: s("60s"),
			},
			NetworksAdvanceds: []NetworkAttachment{{Id: s("net1"), Aliases: []string{"db"}, DriverOpts: []string{"k=v"}}},
			Placement:         &Placement{Constraints: []string{"node.role==worker"}, Prefs: []string{"spread=node.labels.zone"}, MaxReplicas: i(1)},
			Resources: &Resources{
				Limits:      &ResourceAmounts{NanoCpus: i(1_500_000_000), MemoryBytes: i(1 << 30)},
				Reservation: &ResourceAmounts{NanoCpus: i(500_000_000), MemoryBytes: i(256 << 20)},
			},
			RestartPolicy: &RestartPolicy{Condition: s("any"), Delay: s("5s"), MaxAttempts: i(3), Window: s("60s")},
			LogDriver:     &LogDriver{Name: "json-file", Options: map[string]string{"max-size": "10m"}},
		},
		Mode: &ServiceMode{Replicated: &ReplicatedMode{Replicas: i(3)}},
		EndpointSpec: &EndpointSpec{Mode: s("dnsrr"), Ports: []Port{{TargetPort: 3306, PublishedPort: i(3306),
			PublishMode: s("host"), Protocol: s("tcp"), Name: s("mysql")}}},
		UpdateConfig: &DeployConfig{Parallelism: i(1), Delay: s("5s"), FailureAction: s("rollback"), Monitor: s("60s"),
			MaxFailureRatio: s("0"), Order: s("stop-first")},
		RollbackConfig: &DeployConfig{Parallelism: i(2), Delay: s("1s"), FailureAction: s("pause"), Monitor: s("30s"),
			MaxFailureRatio: s("0.5"), Order: s("start-first")},
		ConvergeConfig: &ConvergeConfig{Delay: s("2s"), Timeout: s("10m")},
	}
	return args
}

func TestServiceSpecMapsEveryProperty(t *testing.T) {
	d := func(s string) time.Duration { v, _ := time.ParseDuration(s); return v }
	dp := func(s string) *time.Duration { v := d(s); return &v }
	u := func(v uint64) *uint64 { return &v }
	want := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "galera", Labels: map[string]string{"tier": "db"}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image: "mariadb:11", Hostname: "{{.Service.Name}}-{{.Task.Slot}}",
				Env:  []string{"A=1", "B=2"},
				Args: []string{"--wsrep-on=ON"}, Command: []string{"docker-entrypoint.sh"},
				User: "mysql", Dir: "/var/lib/mysql", Labels: map[string]string{"c": "d"}, StopSignal: "SIGTERM",
				Secrets: []*swarm.SecretReference{{SecretID: "sec1", SecretName: "root-pw",
					File: &swarm.SecretReferenceFileTarget{Name: "/run/secrets/root", UID: "0", GID: "0", Mode: os.FileMode(0o400)}}},
				Configs: []*swarm.ConfigReference{{ConfigID: "cfg1", ConfigName: "haproxy",
					File: &swarm.ConfigReferenceFileTarget{Name: "/etc/haproxy.cfg", UID: "0", GID: "0", Mode: os.FileMode(0o444)}}},
				Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: "{{.Service.Name}}-{{.Task.Slot}}-data", Target: "/var/lib/mysql"}},
				Healthcheck: &container.HealthConfig{Test: []string{"CMD", "/usr/local/bin/galera-health"},
					Interval: d("5s"), Timeout: d("3s"), StartPeriod: d("10m"), Retries: 3},
				StopGracePeriod: dp("60s"),
			},
			Networks: []swarm.NetworkAttachmentConfig{{Target: "net1", Aliases: []string{"db"}, DriverOpts: map[string]string{"k": "v"}}},
			Placement: &swarm.Placement{Constraints: []string{"node.role==worker"}, MaxReplicas: 1,
				Preferences: []swarm.PlacementPreference{{Spread: &swarm.SpreadOver{SpreadDescriptor: "node.labels.zone"}}}},
			Resources: &swarm.ResourceRequirements{
				Limits:       &swarm.Limit{NanoCPUs: 1_500_000_000, MemoryBytes: 1 << 30},
				Reservations: &swarm.Resources{NanoCPUs: 500_000_000, MemoryBytes: 256 << 20},
			},
			RestartPolicy: &swarm.RestartPolicy{Condition: "any", Delay: dp("5s"), MaxAttempts: u(3), Window: dp("60s")},
			LogDriver:     &swarm.Driver{Name: "json-file", Options: map[string]string{"max-size": "10m"}},
		},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: u(3)}},
		EndpointSpec: &swarm.EndpointSpec{Mode: "dnsrr", Ports: []swarm.PortConfig{{Name: "mysql", Protocol: "tcp",
			TargetPort: 3306, PublishedPort: 3306, PublishMode: "host"}}},
		UpdateConfig: &swarm.UpdateConfig{Parallelism: 1, Delay: d("5s"), FailureAction: "rollback", Monitor: d("60s"),
			MaxFailureRatio: 0, Order: "stop-first"},
		RollbackConfig: &swarm.UpdateConfig{Parallelism: 2, Delay: d("1s"), FailureAction: "pause", Monitor: d("30s"),
			MaxFailureRatio: 0.5, Order: "start-first"},
	}
	got, err := serviceSpec(fullServiceArgs())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("serviceSpec mismatch\n got %+v\nwant %+v", got, want)
	}
}

func TestServiceSpecDefaults(t *testing.T) {
	args := ServiceArgs{TaskSpec: TaskSpec{ContainerSpec: ContainerSpec{Image: "nginx",
		Secrets: []SecretRef{{SecretId: "s", FileName: "/run/secrets/x"}}}},
		EndpointSpec: &EndpointSpec{Ports: []Port{{TargetPort: 80}}},
		UpdateConfig: &DeployConfig{}}
	applyServiceDefaults(&args) // Check's job: the spec builders apply no defaults
	spec, err := serviceSpec(args)
	if err != nil {
		t.Fatal(err)
	}
	file := spec.TaskTemplate.ContainerSpec.Secrets[0].File
	if file.UID != "0" || file.GID != "0" || file.Mode != 0o444 {
		t.Errorf("secret file defaults = %+v", file)
	}
	if *spec.Mode.Replicated.Replicas != 1 {
		t.Errorf("replicas default = %d", *spec.Mode.Replicated.Replicas)
	}
	port := spec.EndpointSpec.Ports[0]
	if port.PublishMode != "ingress" || port.Protocol != "tcp" {
		t.Errorf("port defaults = %+v", port)
	}
	uc := spec.UpdateConfig
	if uc.Parallelism != 1 || uc.FailureAction != "pause" || uc.Monitor != 5*time.Second || uc.Order != "stop-first" {
		t.Errorf("update config defaults = %+v", uc)
	}
	if global, _ := serviceSpec(ServiceArgs{Mode: &ServiceMode{Global: ptr.To(true)}}); global.Mode.Global == nil || global.Mode.Replicated != nil {
		t.Errorf("global mode = %+v", global.Mode)
	}
}

func TestServiceSpecRefusesBadValues(t *testing.T) {
	cases := map[string]func(*ServiceArgs){
		"taskSpec.containerSpec.stopGracePeriod": func(a *ServiceArgs) { a.TaskSpec.ContainerSpec.StopGracePeriod = ptr.To("a minute") },
		"taskSpec.restartPolicy.delay":           func(a *ServiceArgs) { a.TaskSpec.RestartPolicy.Delay = ptr.To("5") },
		"updateConfig.maxFailureRatio":           func(a *ServiceArgs) { a.UpdateConfig.MaxFailureRatio = ptr.To("ten percent") },
		"taskSpec.placement.prefs[0]":            func(a *ServiceArgs) { a.TaskSpec.Placement.Prefs = []string{"pack=x"} },
		"taskSpec.networksAdvanceds[0].driverOpts[0]": func(a *ServiceArgs) {
			a.TaskSpec.NetworksAdvanceds[0].DriverOpts = []string{"novalue"}
		},
		"taskSpec.networksAdvanceds[0]":         func(a *ServiceArgs) { a.TaskSpec.NetworksAdvanceds[0].Id = nil },
		"taskSpec.containerSpec.mounts[0].type": func(a *ServiceArgs) { a.TaskSpec.ContainerSpec.Mounts[0].Type = "npipe" },
		"mode.replicated.replicas":              func(a *ServiceArgs) { a.Mode.Replicated.Replicas = ptr.To(-1) },
		"endpointSpec.ports[0]":                 func(a *ServiceArgs) { a.EndpointSpec.Ports[0].TargetPort = 0 },
		"taskSpec.containerSpec.healthcheck.interval": func(a *ServiceArgs) {
			a.TaskSpec.ContainerSpec.Healthcheck.Interval = ptr.To("often")
		},
	}
	for prop, breakIt := range cases {
		t.Run(prop, func(t *testing.T) {
			args := fullServiceArgs()
			breakIt(&args)
			failure := validateService(args)
			if failure == nil || failure.Property != prop {
				t.Errorf("failure = %+v, want one for %s", failure, prop)
			}
		})
	}
}

// inspected builds what ServiceInspect would return for a spec.
func inspected(spec swarm.ServiceSpec) swarm.Service {
	return swarm.Service{ID: "svc1", Spec: spec}
}

func TestServiceRoundTripsThroughSwarm(t *testing.T) {
	args := fullServiceArgs()
	spec, err := serviceSpec(args)
	if err != nil {
		t.Fatal(err)
	}
	got := serviceArgsFrom(inspected(spec), args, nil)
	if !reflect.DeepEqual(got, args) {
		t.Errorf("round trip changed the inputs\n got %s\nwant %s", dump(got), dump(args))
	}
	if diff := schema.Diff(args, got, serviceReplaces); len(diff) > 0 {
		t.Errorf("round trip shows a diff: %v", diff)
	}
}

func TestServiceReadKeepsTheUsersSpellingAndLeavesDockerDefaultsOut(t *testing.T) {
	args := ServiceArgs{Name: ptr.To("web"), TaskSpec: TaskSpec{ContainerSpec: ContainerSpec{
		Image: "nginx:1.27", StopGracePeriod: ptr.To("1m")}},
		UpdateConfig: &DeployConfig{Monitor: ptr.To("60s"), MaxFailureRatio: ptr.To("0")}}
	applyServiceDefaults(&args)
	spec, err := serviceSpec(args)
	if err != nil {
		t.Fatal(err)
	}
	// What Docker adds on its own: a pinned digest, default endpoint/resources/restart policy.
	spec.TaskTemplate.ContainerSpec.Image = "nginx:1.27@sha256:abcd"
	spec.TaskTemplate.ContainerSpec.Isolation = "default"
	spec.EndpointSpec = &swarm.EndpointSpec{Mode: swarm.ResolutionModeVIP}
	spec.TaskTemplate.Resources = &swarm.ResourceRequirements{Limits: &swarm.Limit{}, Reservations: &swarm.Resources{}}
	spec.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{Condition: "any", MaxAttempts: ptr.To[uint64](0)}
	spec.TaskTemplate.Placement = &swarm.Placement{}
	spec.TaskTemplate.ForceUpdate = 0
	got := serviceArgsFrom(inspected(spec), args, nil)
	if !reflect.DeepEqual(got, args) {
		t.Errorf("read drifted\n got %s\nwant %s", dump(got), dump(args))
	}
	// A real change is reported in Docker's spelling.
	spec.TaskTemplate.ContainerSpec.StopGracePeriod = ptr.To(90 * time.Second)
	got = serviceArgsFrom(inspected(spec), args, nil)
	if ptr.Deref(got.TaskSpec.ContainerSpec.StopGracePeriod) != "1m30s" {
		t.Errorf("stopGracePeriod = %v", ptr.Deref(got.TaskSpec.ContainerSpec.StopGracePeriod))
	}
}

func TestServiceReadOrdersSetsLikeTheInputs(t *testing.T) {
	args := fullServiceArgs()
	args.TaskSpec.ContainerSpec.Secrets = []SecretRef{
		{SecretId: "b", FileName: "/run/secrets/b", FileUid: ptr.To("0"), FileGid: ptr.To("0"), FileMode: ptr.To(292)},
		{SecretId: "a", FileName: "/run/secrets/a", FileUid: ptr.To("0"), FileGid: ptr.To("0"), FileMode: ptr.To(292)},
	}
	args.TaskSpec.Placement.Constraints = []string{"z==1", "a==1"}
	spec, _ := serviceSpec(args)
	cs := spec.TaskTemplate.ContainerSpec
	cs.Secrets[0], cs.Secrets[1] = cs.Secrets[1], cs.Secrets[0]
	spec.TaskTemplate.Placement.Constraints = []string{"a==1", "z==1"}
	got := serviceArgsFrom(inspected(spec), args, nil)
	if !reflect.DeepEqual(got.TaskSpec.ContainerSpec.Secrets, args.TaskSpec.ContainerSpec.Secrets) ||
		!reflect.DeepEqual(got.TaskSpec.Placement.Constraints, args.TaskSpec.Placement.Constraints) {
		t.Errorf("order not kept: %s", dump(got.TaskSpec))
	}
}

func TestServiceReadResolvesNetworkNames(t *testing.T) {
	args := fullServiceArgs()
	args.TaskSpec.NetworksAdvanceds = []NetworkAttachment{{Id: ptr.To("appnet")}}
	spec, _ := serviceSpec(args)
	spec.TaskTemplate.Networks[0].Target = "id-of-appnet"
	got := serviceArgsFrom(inspected(spec), args, func(ref string) string { return "id-of-" + ref })
	if ptr.Deref(got.TaskSpec.NetworksAdvanceds[0].Id) != "appnet" {
		t.Errorf("network ref = %s", dump(got.TaskSpec.NetworksAdvanceds))
	}
}

func TestServiceDiffDecidesUpdateOrReplace(t *testing.T) {
	cases := []struct {
		name        string
		change      func(*ServiceArgs)
		wantPath    string
		wantReplace bool
	}{
		{"image", func(a *ServiceArgs) { a.TaskSpec.ContainerSpec.Image = "mariadb:12" }, "taskSpec.containerSpec.image", false},
		{"replicas", func(a *ServiceArgs) { a.Mode.Replicated.Replicas = ptr.To(5) }, "mode.replicated.replicas", false},
		{"env", func(a *ServiceArgs) { a.TaskSpec.ContainerSpec.Env["A"] = "9" }, "taskSpec.containerSpec.env", false},
		{"secret id", func(a *ServiceArgs) { a.TaskSpec.ContainerSpec.Secrets[0].SecretId = "sec2" }, "taskSpec.containerSpec.secrets[0].secretId", false},
		{"monitor", func(a *ServiceArgs) { a.UpdateConfig.Monitor = ptr.To("90s") }, "updateConfig.monitor", false},
		{"converge", func(a *ServiceArgs) { a.ConvergeConfig.Timeout = ptr.To("1m") }, "convergeConfig.timeout", false},
		{"labels", func(a *ServiceArgs) { a.Labels = nil }, "labels", false},
		{"name", func(a *ServiceArgs) { a.Name = ptr.To("galera2") }, "name", true},
		{"network", func(a *ServiceArgs) { a.TaskSpec.NetworksAdvanceds[0].Id = ptr.To("net2") }, "taskSpec.networksAdvanceds[0].id", true},
		{"alias", func(a *ServiceArgs) { a.TaskSpec.NetworksAdvanceds[0].Aliases = []string{"x"} }, "taskSpec.networksAdvanceds[0].aliases", true},
		{"global", func(a *ServiceArgs) { a.Mode = &ServiceMode{Global: ptr.To(true)} }, "mode.global", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old, next := fullServiceArgs(), fullServiceArgs()
			c.change(&next)
			resp := diffResponse(schema.Diff(old, next, serviceReplaces), next.Name, "db")
			d, ok := resp.DetailedDiff[c.wantPath]
			if !ok || !resp.HasChanges {
				t.Fatalf("no diff at %s: %v", c.wantPath, resp.DetailedDiff)
			}
			isReplace := strings.Contains(string(d.Kind), "replace")
			if isReplace != c.wantReplace {
				t.Errorf("kind = %s, want replace=%v", d.Kind, c.wantReplace)
			}
			if resp.DeleteBeforeReplace != c.wantReplace {
				t.Errorf("deleteBeforeReplace = %v with the explicit name", resp.DeleteBeforeReplace)
			}
		})
	}
}

func TestDiffComparesDurationsAndRatiosByValue(t *testing.T) {
	old, next := fullServiceArgs(), fullServiceArgs()
	next.TaskSpec.ContainerSpec.StopGracePeriod = ptr.To("1m0s")
	next.UpdateConfig.MaxFailureRatio = ptr.To("0.0")
	next.TaskSpec.ContainerSpec.Env = map[string]string{"A": "1", "B": "2"}
	if d := schema.Diff(old, next, serviceReplaces); len(d) > 0 {
		t.Errorf("equal values reported as changes: %v", d)
	}
}

func TestCountRunningCountsSlotsOnLiveNodes(t *testing.T) {
	task := func(slot int, node string, state, desired swarm.TaskState) swarm.Task {
		return swarm.Task{Slot: slot, NodeID: node, DesiredState: desired, Status: swarm.TaskStatus{State: state}}
	}
	tasks := []swarm.Task{
		task(1, "n1", swarm.TaskStateRunning, swarm.TaskStateRunning),
		task(1, "n1", swarm.TaskStateRunning, swarm.TaskStateRunning), // same slot twice counts once
		task(2, "n2", swarm.TaskStateStarting, swarm.TaskStateRunning),
		task(3, "n3", swarm.TaskStateRunning, swarm.TaskStateShutdown),
		task(4, "down", swarm.TaskStateRunning, swarm.TaskStateRunning),
		task(5, "n1", swarm.TaskStateRunning, swarm.TaskStateRunning),
	}
	if got := countRunning(tasks, map[string]bool{"down": true}); got != 2 {
		t.Errorf("running = %d, want 2", got)
	}
}

func TestTaskFailuresQuoteSwarm(t *testing.T) {
	now := time.Now()
	tasks := []swarm.Task{
		{Slot: 1, NodeID: "n1", Status: swarm.TaskStatus{State: swarm.TaskStateFailed, Message: "started", Err: "task: non-zero exit (1)", Timestamp: now.Add(-time.Minute)}},
		{Slot: 1, NodeID: "n1", Status: swarm.TaskStatus{State: swarm.TaskStateRejected, Message: "preparing", Err: "No such image: nope", Timestamp: now}},
		{Slot: 2, Status: swarm.TaskStatus{State: swarm.TaskStatePending, Message: "pending task scheduling", Err: "no suitable node (max replicas per node limit exceed)"}},
		{Slot: 3, NodeID: "n3", Status: swarm.TaskStatus{State: swarm.TaskStateRunning}},
	}
	got := taskFailures(tasks)
	for _, want := range []string{"slot 1 on node n1: rejected: preparing: No such image: nope", "slot 2 on node (unassigned): pending", "max replicas"} {
		if !strings.Contains(got, want) {
			t.Errorf("taskFailures = %q, missing %q", got, want)
		}
	}
	if strings.Contains(got, "non-zero exit") || strings.Contains(got, "slot 3") {
		t.Errorf("taskFailures reports old or running tasks: %q", got)
	}
}

func TestUpdateOutcome(t *testing.T) {
	started := time.Now()
	before := &swarm.UpdateStatus{State: swarm.UpdateStateCompleted, StartedAt: ptr.To(started.Add(-time.Hour))}
	cases := []struct {
		status  *swarm.UpdateStatus
		want    updateProgress
		wantErr string
	}{
		{nil, updateNone, ""},
		{before, updateNone, ""},
		{&swarm.UpdateStatus{State: swarm.UpdateStateUpdating, StartedAt: &started}, updateRunning, ""},
		{&swarm.UpdateStatus{State: swarm.UpdateStateCompleted, StartedAt: &started}, updateDone, ""},
		{&swarm.UpdateStatus{State: swarm.UpdateStatePaused, StartedAt: &started, Message: "update paused due to failure"}, updateNone, "update paused due to failure"},
		{&swarm.UpdateStatus{State: swarm.UpdateStateRollbackCompleted, StartedAt: &started, Message: "rollback completed"}, updateNone, "rollback_completed"},
	}
	for _, c := range cases {
		got, err := updateOutcome(c.status, before)
		if got != c.want || (c.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("updateOutcome(%+v) = %v, %v", c.status, got, err)
		}
	}
}
