package serve

import (
	"context"
	"testing"

	rpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

type fakeServer struct {
	rpc.UnimplementedResourceProviderServer
	inputs map[string]any
}

func (f fakeServer) CheckConfig(context.Context, *rpc.CheckRequest) (*rpc.CheckResponse, error) {
	s, err := structpb.NewStruct(f.inputs)
	return &rpc.CheckResponse{Inputs: s}, err
}

func TestCheckConfigDropsTheEngineReservedKey(t *testing.T) {
	server := engineKeysStripped{fakeServer{inputs: map[string]any{
		"host":            "ssh://root@192.0.2.1:22",
		"version":         "5.1.0",
		ReservedConfigKey: map[string]any{"pulumi-go-provider-version": "1.0.0"},
	}}}
	resp, err := server.CheckConfig(context.Background(), &rpc.CheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := resp.GetInputs().AsMap()
	if _, ok := got[ReservedConfigKey]; ok {
		t.Errorf("CheckConfig returned %q: %v", ReservedConfigKey, got)
	}
	if got["host"] != "ssh://root@192.0.2.1:22" || got["version"] != "5.1.0" {
		t.Errorf("CheckConfig lost the provider's own keys: %v", got)
	}
}

func TestStripReservedToleratesNoInputs(t *testing.T) {
	StripReserved(&rpc.CheckResponse{})
}

func TestIdentityNamesPluginVersionAndOrigin(t *testing.T) {
	got := Identity("docker", "5.1.0")
	want := "pulumi-resource-docker 5.1.0 (galera-swarm providers/, pulumi-go-provider "
	if len(got) < len(want) || got[:len(want)] != want {
		t.Errorf("Identity = %q, want prefix %q", got, want)
	}
}
