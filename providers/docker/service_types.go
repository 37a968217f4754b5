package docker

// Service input types, by wire name (contract §3.6). Pointers are optional properties; a
// `docker:"duration"` tag marks Go duration strings and `docker:"float"` numbers written as
// text, both compared by value in Diff.

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
	StopGracePeriod *string           `pulumi:"stopGracePeriod,optional" docker:"duration"`
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
	Interval    *string  `pulumi:"interval,optional" docker:"duration"`
	Timeout     *string  `pulumi:"timeout,optional" docker:"duration"`
	StartPeriod *string  `pulumi:"startPeriod,optional" docker:"duration"`
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
	Delay       *string `pulumi:"delay,optional" docker:"duration"`
	MaxAttempts *int    `pulumi:"maxAttempts,optional"`
	Window      *string `pulumi:"window,optional" docker:"duration"`
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
	Delay           *string `pulumi:"delay,optional" docker:"duration"`
	FailureAction   *string `pulumi:"failureAction,optional"`
	Monitor         *string `pulumi:"monitor,optional" docker:"duration"`
	MaxFailureRatio *string `pulumi:"maxFailureRatio,optional" docker:"float"`
	Order           *string `pulumi:"order,optional"`
}

// ConvergeConfig is `convergeConfig`: how long Create/Update wait for the service to run.
// It is not a Docker property.
type ConvergeConfig struct {
	Delay   *string `pulumi:"delay,optional" docker:"duration"`
	Timeout *string `pulumi:"timeout,optional" docker:"duration"`
}

// servicePaths are the Service properties this plugin implements (everything else fails
// Check, see unsupportedProperties).
var servicePaths = newPropertyPaths(
	"name", "labels", "labels[].label", "labels[].value",
	"taskSpec", "taskSpec.containerSpec",
	"taskSpec.containerSpec.image", "taskSpec.containerSpec.hostname",
	"taskSpec.containerSpec.env", "taskSpec.containerSpec.env.*",
	"taskSpec.containerSpec.args", "taskSpec.containerSpec.commands",
	"taskSpec.containerSpec.user", "taskSpec.containerSpec.dir",
	"taskSpec.containerSpec.labels", "taskSpec.containerSpec.labels[].label", "taskSpec.containerSpec.labels[].value",
	"taskSpec.containerSpec.readOnly", "taskSpec.containerSpec.stopSignal",
	"taskSpec.containerSpec.secrets",
	"taskSpec.containerSpec.secrets[].secretId", "taskSpec.containerSpec.secrets[].secretName",
	"taskSpec.containerSpec.secrets[].fileName", "taskSpec.containerSpec.secrets[].fileUid",
	"taskSpec.containerSpec.secrets[].fileGid", "taskSpec.containerSpec.secrets[].fileMode",
	"taskSpec.containerSpec.configs",
	"taskSpec.containerSpec.configs[].configId", "taskSpec.containerSpec.configs[].configName",
	"taskSpec.containerSpec.configs[].fileName", "taskSpec.containerSpec.configs[].fileUid",
	"taskSpec.containerSpec.configs[].fileGid", "taskSpec.containerSpec.configs[].fileMode",
	"taskSpec.containerSpec.mounts",
	"taskSpec.containerSpec.mounts[].type", "taskSpec.containerSpec.mounts[].target",
	"taskSpec.containerSpec.mounts[].source", "taskSpec.containerSpec.mounts[].readOnly",
	"taskSpec.containerSpec.healthcheck",
	"taskSpec.containerSpec.healthcheck.tests", "taskSpec.containerSpec.healthcheck.interval",
	"taskSpec.containerSpec.healthcheck.timeout", "taskSpec.containerSpec.healthcheck.startPeriod",
	"taskSpec.containerSpec.healthcheck.retries",
	"taskSpec.containerSpec.stopGracePeriod",
	"taskSpec.networksAdvanceds", "taskSpec.networksAdvanceds[].id", "taskSpec.networksAdvanceds[].name",
	"taskSpec.networksAdvanceds[].aliases", "taskSpec.networksAdvanceds[].driverOpts",
	"taskSpec.placement", "taskSpec.placement.constraints", "taskSpec.placement.prefs",
	"taskSpec.placement.maxReplicas",
	"taskSpec.resources", "taskSpec.resources.limits", "taskSpec.resources.limits.nanoCpus",
	"taskSpec.resources.limits.memoryBytes", "taskSpec.resources.reservation",
	"taskSpec.resources.reservation.nanoCpus", "taskSpec.resources.reservation.memoryBytes",
	"taskSpec.restartPolicy", "taskSpec.restartPolicy.condition", "taskSpec.restartPolicy.delay",
	"taskSpec.restartPolicy.maxAttempts", "taskSpec.restartPolicy.window",
	"taskSpec.logDriver", "taskSpec.logDriver.name", "taskSpec.logDriver.options", "taskSpec.logDriver.options.*",
	"mode", "mode.replicated", "mode.replicated.replicas", "mode.global",
	"endpointSpec", "endpointSpec.mode", "endpointSpec.ports",
	"endpointSpec.ports[].targetPort", "endpointSpec.ports[].publishedPort",
	"endpointSpec.ports[].publishMode", "endpointSpec.ports[].protocol", "endpointSpec.ports[].name",
	"updateConfig", "updateConfig.parallelism", "updateConfig.delay", "updateConfig.failureAction",
	"updateConfig.monitor", "updateConfig.maxFailureRatio", "updateConfig.order",
	"rollbackConfig", "rollbackConfig.parallelism", "rollbackConfig.delay", "rollbackConfig.failureAction",
	"rollbackConfig.monitor", "rollbackConfig.maxFailureRatio", "rollbackConfig.order",
	"convergeConfig", "convergeConfig.delay", "convergeConfig.timeout",
)
