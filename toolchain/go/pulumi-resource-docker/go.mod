// Wrapper module for pulumi-resource-docker. bootstrap.sh adds the requirement on
// github.com/pulumi/pulumi-docker/provider/v5 at PULUMI_DOCKER_COMMIT (versions.env).
// The replaces repeat pulumi-docker's own, which Go ignores in a dependency: its
// Terraform upstream (a local copy bootstrap.sh makes from kreuzwerker's module at
// PULUMI_DOCKER_UPSTREAM_COMMIT, plus the `shim` package) and Pulumi's fork of the
// Terraform plugin SDK, at the version pulumi-docker v5.1.0 names.
module galera-swarm/toolchain/pulumi-resource-docker

go 1.26.6

replace (
	github.com/hashicorp/terraform-plugin-sdk/v2 => github.com/pulumi/terraform-plugin-sdk/v2 v2.0.0-20260318212141-5525259d096b
	github.com/terraform-providers/terraform-provider-docker => ../../../.toolchain/build/docker-upstream
)
