// Command pulumi-resource-command is galera-swarm's Pulumi resource plugin serving
// command:remote:Command and command:local:Command for the Python SDK pulumi-command
// 1.2.1. The engine starts it; it prints its port and serves gRPC until closed.
package main

import (
	"github.com/galera-swarm/galera-swarm/providers/command"
	"github.com/galera-swarm/galera-swarm/providers/internal/serve"
)

// version is the plugin version reported to the engine; release builds set it with
// -ldflags "-X main.version=1.2.1".
var version = "1.2.1-dev"

func main() { serve.Main(command.Name, version, command.Provider()) }
