// Command pulumi-resource-command is galera-swarm's Pulumi resource plugin serving
// command:remote:Command and command:local:Command for the Python SDK pulumi-command
// 1.2.1. The engine starts it; it prints its port and serves gRPC until closed.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/galera-swarm/galera-swarm/providers/command"
	"github.com/galera-swarm/galera-swarm/providers/internal/serve"
)

// version is the plugin version reported to the engine; release builds set it with
// -ldflags "-X main.version=1.2.1".
var version = "1.2.1-dev"

func main() {
	if err := serve.Run(context.Background(), command.Name, version, command.Provider()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
