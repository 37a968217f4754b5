// Wrapper module for pulumi-resource-command. bootstrap.sh adds the requirement on
// github.com/pulumi/pulumi-command/provider at PULUMI_COMMAND_COMMIT (versions.env):
// the repository has no provider/ tags, so the proxy names that commit by a
// pseudo-version.
module galera-swarm/toolchain/pulumi-resource-command

go 1.26.6
