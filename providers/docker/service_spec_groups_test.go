package docker

import (
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

// One case per field group and direction: what a user wrote, what Docker gets, and back.

func TestFieldGroupsMapToSwarm(t *testing.T) {
	s, i := ptr.To[string], ptr.To[int]
	u := func(v uint64) *uint64 { return &v }
	d := func(v string) time.Duration { x, _ := time.ParseDuration(v); return x }
	cases := []struct {
		name    string
		convert func() (any, error)
		want    any
		wantErr string
	}{
		{"no mode is one replica", func() (any, error) { return modeToSwarm(nil) },
			swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: u(1)}}, ""},
		{"replicas", func() (any, error) { return modeToSwarm(&ServiceMode{Replicated: &ReplicatedMode{Replicas: i(3)}}) },
			swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: u(3)}}, ""},
		{"global", func() (any, error) { return modeToSwarm(&ServiceMode{Global: ptr.To(true)}) },
			swarm.ServiceMode{Global: &swarm.GlobalService{}}, ""},
		{"global and replicated", func() (any, error) {
			return modeToSwarm(&ServiceMode{Global: ptr.To(true), Replicated: &ReplicatedMode{}})
		}, nil, "mode: replicated and global"},
		{"ports", func() (any, error) {
			return endpointToSwarm(&EndpointSpec{Ports: []Port{{TargetPort: 80, PublishMode: s("ingress"), Protocol: s("tcp")}}})
		}, &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 80, PublishMode: "ingress", Protocol: "tcp"}}}, ""},
		{"port out of range", func() (any, error) { return endpointToSwarm(&EndpointSpec{Ports: []Port{{TargetPort: 70000}}}) },
			nil, "endpointSpec.ports[0]: port numbers"},
		{"network by its deprecated name field", func() (any, error) {
			return networksToSwarm([]NetworkAttachment{{Name: s("appnet"), DriverOpts: []string{"a=1"}}})
		}, []swarm.NetworkAttachmentConfig{{Target: "appnet", DriverOpts: map[string]string{"a": "1"}}}, ""},
		{"placement", func() (any, error) {
			return placementToSwarm(&Placement{Constraints: []string{"node.role==manager"}, Prefs: []string{"spread=node.id"}, MaxReplicas: i(2)})
		}, &swarm.Placement{Constraints: []string{"node.role==manager"}, MaxReplicas: 2,
			Preferences: []swarm.PlacementPreference{{Spread: &swarm.SpreadOver{SpreadDescriptor: "node.id"}}}}, ""},
		{"resources limits only", func() (any, error) {
			return resourcesToSwarm(&Resources{Limits: &ResourceAmounts{MemoryBytes: i(1024)}}), nil
		},
			&swarm.ResourceRequirements{Limits: &swarm.Limit{MemoryBytes: 1024}}, ""},
		{"restart policy", func() (any, error) {
			return restartPolicyToSwarm(&RestartPolicy{Condition: s("on-failure"), Delay: s("2s"), MaxAttempts: i(5)})
		}, &swarm.RestartPolicy{Condition: "on-failure", Delay: ptr.To(d("2s")), MaxAttempts: u(5)}, ""},
		{"secrets as checked", func() (any, error) {
			return secretsToSwarm([]SecretRef{{SecretId: "id", FileName: "/run/secrets/pw", FileUid: s("0"), FileGid: s("0"), FileMode: i(0o444)}}), nil
		}, []*swarm.SecretReference{{SecretID: "id", File: &swarm.SecretReferenceFileTarget{Name: "/run/secrets/pw", UID: "0", GID: "0", Mode: 0o444}}}, ""},
		{"configs as checked", func() (any, error) {
			return configsToSwarm([]ConfigRef{{ConfigId: "id", ConfigName: s("cfg"), FileName: "/etc/x", FileUid: s("1"), FileGid: s("2"), FileMode: i(0o400)}}), nil
		}, []*swarm.ConfigReference{{ConfigID: "id", ConfigName: "cfg", File: &swarm.ConfigReferenceFileTarget{Name: "/etc/x", UID: "1", GID: "2", Mode: 0o400}}}, ""},
		{"mounts", func() (any, error) {
			return mountsToSwarm([]Mount{{Type: "tmpfs", Target: "/tmp"}, {Type: "bind", Source: s("/h"), Target: "/c", ReadOnly: ptr.To(true)}})
		}, []mount.Mount{{Type: mount.TypeTmpfs, Target: "/tmp"}, {Type: mount.TypeBind, Source: "/h", Target: "/c", ReadOnly: true}}, ""},
		{"healthcheck", func() (any, error) {
			return healthcheckToSwarm(&Healthcheck{Tests: []string{"CMD", "true"}, Interval: s("5s"), Timeout: s("0s"), StartPeriod: s("1m"), Retries: i(2)})
		}, &container.HealthConfig{Test: []string{"CMD", "true"}, Interval: d("5s"), StartPeriod: d("1m"), Retries: 2}, ""},
		{"update config as checked", func() (any, error) {
			c := &DeployConfig{}
			applyServiceDefaults(&ServiceArgs{UpdateConfig: c})
			return deployConfigToSwarm("updateConfig", c)
		}, &swarm.UpdateConfig{Parallelism: 1, FailureAction: "pause", Monitor: 5 * time.Second, Order: "stop-first"}, ""},
		{"bad ratio", func() (any, error) {
			return deployConfigToSwarm("rollbackConfig", &DeployConfig{MaxFailureRatio: s("half")})
		},
			nil, `rollbackConfig.maxFailureRatio: "half" is not a number`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.convert()
			if c.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), c.wantErr) {
					t.Errorf("error = %v, want one starting %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %s\nwant %s", dump(got), dump(c.want))
			}
		})
	}
}

func TestFieldGroupsMapBackFromSwarm(t *testing.T) {
	s, i := ptr.To[string], ptr.To[int]
	u := func(v uint64) *uint64 { return &v }
	cases := []struct {
		name string
		got  any
		want any
	}{
		{"mode left out stays out", modeFrom(swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: u(1)}}, nil), (*ServiceMode)(nil)},
		{"replicas", modeFrom(swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: u(4)}}, &ServiceMode{Replicated: &ReplicatedMode{Replicas: i(3)}}),
			&ServiceMode{Replicated: &ReplicatedMode{Replicas: i(4)}}},
		{"global", modeFrom(swarm.ServiceMode{Global: &swarm.GlobalService{}}, &ServiceMode{Global: ptr.To(true)}), &ServiceMode{Global: ptr.To(true)}},
		{"docker's vip mode and published port stay out",
			endpointFrom(&swarm.EndpointSpec{Mode: swarm.ResolutionModeVIP, Ports: []swarm.PortConfig{{TargetPort: 80, PublishMode: "ingress", Protocol: "tcp"}}},
				&EndpointSpec{Ports: []Port{{TargetPort: 80}}}),
			&EndpointSpec{Ports: []Port{{TargetPort: 80, PublishMode: s("ingress"), Protocol: s("tcp")}}}},
		{"dnsrr appears", endpointFrom(&swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR}, &EndpointSpec{}), &EndpointSpec{Mode: s("dnsrr")}},
		{"placement keeps the user's order", placementFrom(&swarm.Placement{Constraints: []string{"a", "b"}}, &Placement{Constraints: []string{"b", "a"}}),
			&Placement{Constraints: []string{"b", "a"}}},
		{"zero resources stay out", resourcesFrom(&swarm.ResourceRequirements{Limits: &swarm.Limit{}, Reservations: &swarm.Resources{MemoryBytes: 8}},
			&Resources{}), &Resources{Reservation: &ResourceAmounts{MemoryBytes: i(8)}}},
		{"restart policy keeps the spelling", restartPolicyFrom(&swarm.RestartPolicy{Condition: "any", Delay: ptr.To(time.Minute)},
			&RestartPolicy{Delay: s("60s")}), &RestartPolicy{Condition: s("any"), Delay: s("60s")}},
		{"healthcheck without prior or test stays out", healthcheckFrom(&container.HealthConfig{}, nil), (*Healthcheck)(nil)},
		{"healthcheck fills every field", healthcheckFrom(&container.HealthConfig{Test: []string{"CMD", "true"}, Interval: time.Second}, &Healthcheck{}),
			&Healthcheck{Tests: []string{"CMD", "true"}, Interval: s("1s"), Timeout: s("0s"), StartPeriod: s("0s"), Retries: i(0)}},
		{"secret name only when the user gave one", secretsFrom([]*swarm.SecretReference{{SecretID: "i", SecretName: "n",
			File: &swarm.SecretReferenceFileTarget{Name: "/f", UID: "0", GID: "0", Mode: 0o444}}}, []SecretRef{{SecretId: "i", FileName: "/f"}}),
			[]SecretRef{{SecretId: "i", FileName: "/f", FileUid: s("0"), FileGid: s("0"), FileMode: i(0o444)}}},
		{"runtime configs are not ours", configsFrom([]*swarm.ConfigReference{{ConfigID: "cred"}}, nil), []ConfigRef{}},
		{"mounts keep the user's order", mountsFrom([]mount.Mount{{Type: "volume", Target: "/b"}, {Type: "volume", Target: "/a", Source: "v"}},
			[]Mount{{Type: "volume", Target: "/a"}, {Type: "volume", Target: "/b"}}),
			[]Mount{{Type: "volume", Target: "/a", Source: s("v")}, {Type: "volume", Target: "/b"}}},
		{"deploy config keeps ratio and duration spelling", deployConfigFrom(&swarm.UpdateConfig{Parallelism: 1, Monitor: time.Minute},
			&DeployConfig{Monitor: s("60s"), MaxFailureRatio: s("0")}),
			&DeployConfig{Parallelism: i(1), Delay: s("0s"), FailureAction: s("pause"), Monitor: s("60s"), MaxFailureRatio: s("0"), Order: s("stop-first")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("got  %s\nwant %s", dump(c.got), dump(c.want))
			}
		})
	}
}

// Inputs as Check leaves them survive the trip to swarm and back unchanged, with no diff.
func TestServiceRoundTripCases(t *testing.T) {
	s, i := ptr.To[string], ptr.To[int]
	image := func(extra func(*ServiceArgs)) ServiceArgs {
		args := ServiceArgs{Name: s("svc"), TaskSpec: TaskSpec{ContainerSpec: ContainerSpec{Image: "nginx:1"}}}
		extra(&args)
		applyServiceDefaults(&args)
		return args
	}
	cases := map[string]ServiceArgs{
		"minimal":                   image(func(*ServiceArgs) {}),
		"every property":            fullServiceArgs(),
		"global":                    image(func(a *ServiceArgs) { a.Mode = &ServiceMode{Global: ptr.To(true)} }),
		"replicas defaulted":        image(func(a *ServiceArgs) { a.Mode = &ServiceMode{Replicated: &ReplicatedMode{}} }),
		"port without a published":  image(func(a *ServiceArgs) { a.EndpointSpec = &EndpointSpec{Ports: []Port{{TargetPort: 80}}} }),
		"network by name field":     image(func(a *ServiceArgs) { a.TaskSpec.NetworksAdvanceds = []NetworkAttachment{{Name: s("net")}} }),
		"healthcheck tests only":    image(func(a *ServiceArgs) { a.TaskSpec.ContainerSpec.Healthcheck = &Healthcheck{Tests: []string{"NONE"}} }),
		"rollback config defaulted": image(func(a *ServiceArgs) { a.RollbackConfig = &DeployConfig{Monitor: s("1m")} }),
		"empty env":                 image(func(a *ServiceArgs) { a.TaskSpec.ContainerSpec.Env = map[string]string{} }),
		"secrets, configs and mounts": image(func(a *ServiceArgs) {
			cs := &a.TaskSpec.ContainerSpec
			cs.Secrets = []SecretRef{{SecretId: "s1", FileName: "/run/secrets/b"}, {SecretId: "s2", FileName: "/run/secrets/a"}}
			cs.Configs = []ConfigRef{{ConfigId: "c1", FileName: "/etc/c", FileMode: i(0o400)}}
			cs.Mounts = []Mount{{Type: "tmpfs", Target: "/tmp"}, {Type: "bind", Source: s("/srv"), Target: "/srv", ReadOnly: ptr.To(true)}}
		}),
		"restart policy and resources": image(func(a *ServiceArgs) {
			a.TaskSpec.RestartPolicy = &RestartPolicy{Condition: s("on-failure"), Window: s("2m")}
			a.TaskSpec.Resources = &Resources{Reservation: &ResourceAmounts{NanoCpus: i(1e8)}}
		}),
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
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
		})
	}
}
