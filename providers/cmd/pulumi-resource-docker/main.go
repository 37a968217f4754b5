// Command pulumi-resource-docker is galera-swarm's own Pulumi resource plugin for the
// pulumi-docker 5.1.0 SDK (Network, Secret, ServiceConfig, Service; see providers/docker).
package main

import (
	"github.com/galera-swarm/galera-swarm/providers/docker"
	"github.com/galera-swarm/galera-swarm/providers/internal/serve"
)

// version is the plugin version reported to the engine; the build sets it with
// -ldflags "-X main.version=5.1.0".
var version = "5.1.0-dev"

func main() { serve.Main(docker.Name, version, docker.Provider()) }
