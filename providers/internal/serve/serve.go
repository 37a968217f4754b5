// Package serve runs a pulumi-go-provider provider as a Pulumi resource plugin, the way the
// engine expects one to start: it prints its port, then serves pulumirpc.ResourceProvider.
//
// It exists for one correction to pulumi-go-provider v1.0.0: that framework stores
// markers under the reserved `__internal` key of the checked provider config, and the
// engine answers every such config with the warning "provider attempted to use __internal
// key that is reserved by the engine". The markers are never read back (the framework only
// writes them), so they are dropped from the CheckConfig response before it leaves.
package serve

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"

	p "github.com/pulumi/pulumi-go-provider"
	pprovider "github.com/pulumi/pulumi/pkg/v3/resource/provider"
	rpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// ReservedConfigKey is the provider-config key the engine keeps for itself.
const ReservedConfigKey = "__internal"

// VersionFlag makes a plugin print Identity and exit instead of serving: how an operator
// tells our plugins from the official ones (`pulumi-resource-docker -version`).
const VersionFlag = "-version"

// Main is a plugin's whole main function: with the single argument VersionFlag it prints
// Identity; otherwise it serves provider (Run) and exits 1 with the error when serving fails.
func Main(name, version string, provider p.Provider) {
	if len(os.Args) == 2 && os.Args[1] == VersionFlag {
		fmt.Println(Identity(name, version))
		return
	}
	if err := Run(context.Background(), name, version, provider); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// Identity is one line naming the plugin, its version and where it comes from, e.g.
// "pulumi-resource-docker 5.1.0 (galera-swarm providers/, pulumi-go-provider v1.0.0)".
func Identity(name, version string) string {
	framework := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/pulumi/pulumi-go-provider" {
				framework = dep.Version
			}
		}
	}
	return fmt.Sprintf("pulumi-resource-%s %s (galera-swarm providers/, pulumi-go-provider %s)", name, version, framework)
}

// Run serves provider as the plugin `pulumi-resource-<name>` at version (for example
// "docker", "5.1.0") until the engine closes the connection. It returns the error that
// stopped the server, wrapped with the plugin's name.
func Run(ctx context.Context, name, version string, provider p.Provider) error {
	factory := p.RawServer(name, version, provider)
	err := pprovider.MainContext(ctx, name, func(host *pprovider.HostClient) (rpc.ResourceProviderServer, error) {
		server, err := factory(host)
		if err != nil {
			return nil, err
		}
		return engineKeysStripped{server}, nil
	})
	if err != nil {
		return fmt.Errorf("serving pulumi-resource-%s %s: %w", name, version, err)
	}
	return nil
}

// engineKeysStripped is a ResourceProviderServer whose CheckConfig never returns the
// engine's reserved key.
type engineKeysStripped struct {
	rpc.ResourceProviderServer
}

// CheckConfig delegates, then removes ReservedConfigKey from the checked inputs.
func (s engineKeysStripped) CheckConfig(ctx context.Context, req *rpc.CheckRequest) (*rpc.CheckResponse, error) {
	resp, err := s.ResourceProviderServer.CheckConfig(ctx, req)
	if resp != nil {
		StripReserved(resp)
	}
	return resp, err
}

// StripReserved deletes ReservedConfigKey from resp.Inputs, if present.
func StripReserved(resp *rpc.CheckResponse) {
	if resp.GetInputs() != nil {
		delete(resp.Inputs.Fields, ReservedConfigKey)
	}
}
