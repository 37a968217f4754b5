package docker

import (
	"github.com/galera-swarm/galera-swarm/providers/internal/ptr"
	"github.com/galera-swarm/galera-swarm/providers/internal/schema"
)

// Service input types, by wire name (providers/CONTRACT.md#docker-service). Pointers are
// optional properties; a `compare:"duration"` tag marks Go duration strings and
// `compare:"number"` numbers written as text, both compared by value in Diff (schema.Diff).
// The tags are the only declaration of the supported properties: servicePaths is derived
// from them.

// ServiceArgs are the Service inputs.
type ServiceArgs struct {
	Name           *string         `pulumi:"name,optional"`
	Labels         []Label         `pulumi:"labels,optional"`
	TaskSpec       TaskSpec        `pulumi:"taskSpec"`
	Mode           *ServiceMode    `pulumi:"mode,optional"`
	EndpointSpec   *EndpointSpec   `pulumi:"endpointSpec,optional"`
	UpdateConfig   *DeployConfig   `pulumi:"updateConfig,optional"`
	RollbackConfig *DeployConfig   `pulumi:"rollbackConfig,optional"`
	ConvergeConfig *ConvergeConfig `pulumi:"convergeConfig,optional"`
}

// ServiceState is what Service stores: its inputs, refreshed from swarm.
type ServiceState struct {
	ServiceArgs
}

// TaskSpec is `taskSpec`.
type TaskSpec struct {
	ContainerSpec     ContainerSpec       `pulumi:"containerSpec"`
	NetworksAdvanceds []NetworkAttachment `pulumi:"networksAdvanceds,optional"`
	Placement         *Placement          `pulumi:"placement,optional"`
	Resources         *Resources          `pulumi:"resources,optional"`
	RestartPolicy     *RestartPolicy      `pulumi:"restartPolicy,optional"`
	LogDriver         *LogDriver          `pulumi:"logDriver,optional"`
}

// ContainerSpec is `taskSpec.containerSpec`.
type ContainerSpec struct {
	Image           string            `pulumi:"image"`
	Hostname        *string           `pulumi:"hostname,optional"`
	Env             map[string]string `pulumi:"env,optional"`
	Args            []string          `pulumi:"args,optional"`
	Commands        []string          `pulumi:"commands,optional"`
	User            *string           `pulumi:"user,optional"`
	Dir             *string           `pulumi:"dir,optional"`
	Labels          []Label           `pulumi:"labels,optional"`
	ReadOnly        *bool             `pulumi:"readOnly,optional"`
	StopSignal      *string           `pulumi:"stopSignal,optional"`
	Secrets         []SecretRef       `pulumi:"secrets,optional"`
	Configs         []ConfigRef       `pulumi:"configs,optional"`
	Mounts          []Mount           `pulumi:"mounts,optional"`
	Healthcheck     *Healthcheck      `pulumi:"healthcheck,optional"`
	StopGracePeriod *string           `pulumi:"stopGracePeriod,optional" compare:"duration"`
}

// SecretRef is one `containerSpec.secrets` item.
type SecretRef struct {
	SecretId   string  `pulumi:"secretId"`
	SecretName *string `pulumi:"secretName,optional"`
	FileName   string  `pulumi:"fileName"`
	FileUid    *string `pulumi:"fileUid,optional"`
	FileGid    *string `pulumi:"fileGid,optional"`
	FileMode   *int    `pulumi:"fileMode,optional"`
}

// ConfigRef is one `containerSpec.configs` item.
type ConfigRef struct {
	ConfigId   string  `pulumi:"configId"`
	ConfigName *string `pulumi:"configName,optional"`
	FileName   string  `pulumi:"fileName"`
	FileUid    *string `pulumi:"fileUid,optional"`
	FileGid    *string `pulumi:"fileGid,optional"`
	FileMode   *int    `pulumi:"fileMode,optional"`
}

// Mount is one `containerSpec.mounts` item (bind, volume or tmpfs, without options).
type Mount struct {
	Type     string  `pulumi:"type"`
	Target   string  `pulumi:"target"`
	Source   *string `pulumi:"source,optional"`
	ReadOnly *bool   `pulumi:"readOnly,optional"`
}

// Healthcheck is `containerSpec.healthcheck`.
type Healthcheck struct {
	Tests       []string `pulumi:"tests"`
	Interval    *string  `pulumi:"interval,optional" compare:"duration"`
	Timeout     *string  `pulumi:"timeout,optional" compare:"duration"`
	StartPeriod *string  `pulumi:"startPeriod,optional" compare:"duration"`
	Retries     *int     `pulumi:"retries,optional"`
}

// NetworkAttachment is one `taskSpec.networksAdvanceds` item; `id` (or the deprecated
// `name`) is the network's ID or name.
type NetworkAttachment struct {
	Id         *string  `pulumi:"id,optional"`
	Name       *string  `pulumi:"name,optional"`
	Aliases    []string `pulumi:"aliases,optional"`
	DriverOpts []string `pulumi:"driverOpts,optional"`
}

// Placement is `taskSpec.placement`; prefs are "spread=DESCRIPTOR" strings.
type Placement struct {
	Constraints []string `pulumi:"constraints,optional"`
	Prefs       []string `pulumi:"prefs,optional"`
	MaxReplicas *int     `pulumi:"maxReplicas,optional"`
}

// Resources is `taskSpec.resources` (wire `reservation` is singular).
type Resources struct {
	Limits      *ResourceAmounts `pulumi:"limits,optional"`
	Reservation *ResourceAmounts `pulumi:"reservation,optional"`
}

// ResourceAmounts is limits or reservation: CPUs in billionths, memory in bytes.
type ResourceAmounts struct {
	NanoCpus    *int `pulumi:"nanoCpus,optional"`
	MemoryBytes *int `pulumi:"memoryBytes,optional"`
}

// RestartPolicy is `taskSpec.restartPolicy`.
type RestartPolicy struct {
	Condition   *string `pulumi:"condition,optional"`
	Delay       *string `pulumi:"delay,optional" compare:"duration"`
	MaxAttempts *int    `pulumi:"maxAttempts,optional"`
	Window      *string `pulumi:"window,optional" compare:"duration"`
}

// LogDriver is `taskSpec.logDriver`.
type LogDriver struct {
	Name    string            `pulumi:"name"`
	Options map[string]string `pulumi:"options,optional"`
}

// ServiceMode is `mode`: replicated (with replicas) or global.
type ServiceMode struct {
	Replicated *ReplicatedMode `pulumi:"replicated,optional"`
	Global     *bool           `pulumi:"global,optional"`
}

// ReplicatedMode is `mode.replicated`.
type ReplicatedMode struct {
	Replicas *int `pulumi:"replicas,optional"`
}

// EndpointSpec is `endpointSpec`.
type EndpointSpec struct {
	Mode  *string `pulumi:"mode,optional"`
	Ports []Port  `pulumi:"ports,optional"`
}

// Port is one `endpointSpec.ports` item.
type Port struct {
	TargetPort    int     `pulumi:"targetPort"`
	PublishedPort *int    `pulumi:"publishedPort,optional"`
	PublishMode   *string `pulumi:"publishMode,optional"`
	Protocol      *string `pulumi:"protocol,optional"`
	Name          *string `pulumi:"name,optional"`
}

// DeployConfig is `updateConfig` or `rollbackConfig` (same shape).
type DeployConfig struct {
	Parallelism     *int    `pulumi:"parallelism,optional"`
	Delay           *string `pulumi:"delay,optional" compare:"duration"`
	FailureAction   *string `pulumi:"failureAction,optional"`
	Monitor         *string `pulumi:"monitor,optional" compare:"duration"`
	MaxFailureRatio *string `pulumi:"maxFailureRatio,optional" compare:"number"`
	Order           *string `pulumi:"order,optional"`
}

// ConvergeConfig is `convergeConfig`: how long Create/Update wait for the service to run.
// It is not a Docker property.
type ConvergeConfig struct {
	Delay   *string `pulumi:"delay,optional" compare:"duration"`
	Timeout *string `pulumi:"timeout,optional" compare:"duration"`
}

// servicePaths are the Service properties this plugin implements; Check refuses the rest.
var servicePaths = schema.PathsOf(ServiceArgs{})

// Defaults of the official provider (providers/CONTRACT.md#docker-service), filled in Check
// (and only there) so that state, refresh, diffs and the spec sent to Docker all see the
// same values.
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
		fileDefaults(&cs.Secrets[i].FileUid, &cs.Secrets[i].FileGid, &cs.Secrets[i].FileMode)
	}
	for i := range cs.Configs {
		fileDefaults(&cs.Configs[i].FileUid, &cs.Configs[i].FileGid, &cs.Configs[i].FileMode)
	}
	if h := cs.Healthcheck; h != nil {
		ptr.SetDefault(&h.Interval, defaultHealthDuration)
		ptr.SetDefault(&h.Timeout, defaultHealthDuration)
		ptr.SetDefault(&h.StartPeriod, defaultHealthDuration)
		ptr.SetDefault(&h.Retries, 0)
	}
	for _, c := range []*DeployConfig{args.UpdateConfig, args.RollbackConfig} {
		if c == nil {
			continue
		}
		ptr.SetDefault(&c.Parallelism, defaultParallelism)
		ptr.SetDefault(&c.Delay, defaultDeployDelay)
		ptr.SetDefault(&c.FailureAction, defaultFailureAction)
		ptr.SetDefault(&c.Monitor, defaultMonitor)
		ptr.SetDefault(&c.MaxFailureRatio, defaultMaxFailureRatio)
		ptr.SetDefault(&c.Order, defaultOrder)
	}
	if c := args.ConvergeConfig; c != nil {
		ptr.SetDefault(&c.Delay, defaultConvergeDelay)
		ptr.SetDefault(&c.Timeout, defaultConvergeTimeout)
	}
	if m := args.Mode; m != nil && m.Replicated != nil {
		ptr.SetDefault(&m.Replicated.Replicas, defaultReplicas)
	}
	if e := args.EndpointSpec; e != nil {
		for i := range e.Ports {
			ptr.SetDefault(&e.Ports[i].PublishMode, defaultPublishMode)
			ptr.SetDefault(&e.Ports[i].Protocol, defaultProtocol)
		}
	}
}

// fileDefaults fills the owner and mode of a secret or config file.
func fileDefaults(uid, gid **string, mode **int) {
	ptr.SetDefault(uid, defaultFileID)
	ptr.SetDefault(gid, defaultFileID)
	ptr.SetDefault(mode, defaultFileMode)
}
