package docker

import (
	"context"
	"errors"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/galera-swarm/galera-swarm/providers/internal/ptr"
)

const (
	testURN  = resource.URN("urn:pulumi:dev::galera-swarm::docker:index/service:Service::mysql-galera")
	otherURN = resource.URN("urn:pulumi:prod::galera-swarm::docker:index/service:Service::mysql-galera")
)

func TestAdoptableTakesOnlyObjectsCreatedForTheSameResource(t *testing.T) {
	payload := []byte("listen 80\n")
	ours := withOwnLabels(map[string]string{"app": "wp"}, testURN, payload)
	cases := []struct {
		name        string
		labels      map[string]string
		wantLabels  map[string]string
		wantPayload []byte
		wantErr     []string // all must appear; none means adopted
	}{
		{name: "ours, mutable", labels: map[string]string{ownerLabel: string(testURN)}},
		{name: "no label", labels: map[string]string{"app": "wp"}, wantErr: []string{
			`service "mysql-galera" (id1) already exists and was not created by galera-swarm's pulumi-resource-docker`,
			"has no com.galera-swarm.pulumi.urn label", "`docker service rm mysql-galera`",
			"`pulumi import docker:index/service:Service mysql-galera id1`"}},
		{name: "no labels at all", labels: nil, wantErr: []string{"has no com.galera-swarm.pulumi.urn label"}},
		{name: "another resource", labels: map[string]string{ownerLabel: string(otherURN)}, wantErr: []string{
			"belongs to another resource (com.galera-swarm.pulumi.urn=" + string(otherURN) + ")", "`docker service rm mysql-galera`"}},
		{name: "immutable, same payload and labels", labels: ours, wantLabels: ours, wantPayload: payload},
		{name: "immutable, other payload", labels: ours, wantLabels: ours, wantPayload: []byte("listen 81\n"),
			wantErr: []string{"holds other data or labels", "`docker service rm mysql-galera`"}},
		{name: "immutable, other labels", labels: ours, wantLabels: withOwnLabels(map[string]string{"app": "db"}, testURN, payload),
			wantPayload: payload, wantErr: []string{"holds other data or labels"}},
		{name: "immutable, no digest", labels: map[string]string{ownerLabel: string(testURN)}, wantPayload: payload,
			wantErr: []string{"holds other data or labels"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj := existingObject{Kind: serviceKind, Name: "mysql-galera", ID: "id1", Labels: c.labels}
			err := adoptable(obj, testURN, c.wantLabels, c.wantPayload)
			if len(c.wantErr) == 0 {
				if err != nil {
					t.Fatalf("not adopted: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("adopted")
			}
			for _, want := range c.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestOwnLabelsAreAddedWithoutTouchingTheUsers(t *testing.T) {
	user := map[string]string{"app": "wp"}
	got := withOwnLabels(user, testURN, []byte("x"))
	want := map[string]string{"app": "wp", ownerLabel: string(testURN),
		contentLabel: "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"}
	if dump(got) != dump(want) {
		t.Errorf("withOwnLabels = %v, want %v", got, want)
	}
	if len(user) != 1 {
		t.Errorf("user labels changed: %v", user)
	}
	if got := withOwnLabels(nil, testURN, nil); dump(got) != dump(map[string]string{ownerLabel: string(testURN)}) {
		t.Errorf("mutable object labels = %v", got)
	}
	if got := withOwnLabels(user, "", []byte("x")); dump(got) != dump(user) {
		t.Errorf("without a URN = %v", got)
	}
}

func TestOwnLabelsAreHiddenFromTheState(t *testing.T) {
	ours := map[string]string{ownerLabel: string(testURN), contentLabel: "ab"}
	withUser := map[string]string{ownerLabel: string(testURN), "app": "wp"}
	cases := []struct {
		name  string
		got   any
		wantJ string
	}{
		{"labels list, ours only", labelsFromMap(ours, nil), "null"},
		{"labels list, ours and the user's", labelsFromMap(withUser, []Label{{Label: "app", Value: "x"}}), `[{"Label":"app","Value":"wp"}]`},
		{"service", serviceArgsFrom(swarm.Service{Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "s", Labels: ours}}},
			ServiceArgs{}, nil).Labels, "null"},
		{"network", networkStateFrom(network.Inspect{Name: "n", Labels: ours}, NetworkArgs{}).Labels, "null"},
		{"network with labels", networkStateFrom(network.Inspect{Name: "n", Labels: withUser},
			NetworkArgs{Labels: []Label{{Label: "app", Value: "wp"}}}).Labels, `[{"Label":"app","Value":"wp"}]`},
		{"config", serviceConfigStateFrom(swarm.ConfigSpec{Annotations: swarm.Annotations{Name: "c", Labels: ours}},
			ServiceConfigState{ServiceConfigArgs: ServiceConfigArgs{DataRaw: ptr.To("")}}).Labels, "null"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := dump(c.got); got != c.wantJ {
				t.Errorf("labels = %s, want %s", got, c.wantJ)
			}
		})
	}
}

// fakeDocker answers the few Docker API calls adoption makes, from maps keyed by name.
type fakeDocker struct {
	client.APIClient
	services        map[string]swarm.Service
	networks        map[string]network.Inspect
	updatedSpecs    []swarm.ServiceSpec
	removedNetworks []string
	createdNetworks []string
}

func (f *fakeDocker) ServiceInspectWithRaw(_ context.Context, ref string, _ swarm.ServiceInspectOptions) (swarm.Service, []byte, error) {
	if s, ok := f.services[ref]; ok {
		return s, nil, nil
	}
	return swarm.Service{}, nil, cerrdefs.ErrNotFound
}

func (f *fakeDocker) ServiceUpdate(_ context.Context, id string, _ swarm.Version, spec swarm.ServiceSpec, _ swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
	f.updatedSpecs = append(f.updatedSpecs, spec)
	return swarm.ServiceUpdateResponse{}, nil
}

func (f *fakeDocker) NetworkInspect(_ context.Context, ref string, _ network.InspectOptions) (network.Inspect, error) {
	if n, ok := f.networks[ref]; ok {
		return n, nil
	}
	return network.Inspect{}, cerrdefs.ErrNotFound
}

func (f *fakeDocker) NetworkRemove(_ context.Context, id string) error {
	f.removedNetworks = append(f.removedNetworks, id)
	return nil
}

func (f *fakeDocker) NetworkCreate(_ context.Context, name string, _ network.CreateOptions) (network.CreateResponse, error) {
	f.createdNetworks = append(f.createdNetworks, name)
	return network.CreateResponse{ID: "new-" + name}, nil
}

var errNameConflict = errors.New("Error response from daemon: rpc error: code = AlreadyExists desc = name conflicts with an existing object: service mysql-galera already exists")

func TestACreateThatHitsOurOwnServiceAdoptsIt(t *testing.T) {
	spec := swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "mysql-galera", Labels: withOwnLabels(nil, testURN, nil)}}
	cases := []struct {
		name        string
		existing    map[string]string // labels of the existing service; nil: none exists
		wantID      string
		wantErr     string
		wantUpdated int
	}{
		{name: "ours", existing: map[string]string{ownerLabel: string(testURN)}, wantID: "svc1", wantUpdated: 1},
		{name: "unlabelled", existing: map[string]string{}, wantErr: "was not created by galera-swarm's pulumi-resource-docker"},
		{name: "another resource's", existing: map[string]string{ownerLabel: string(otherURN)}, wantErr: "belongs to another resource"},
		{name: "none: the create's own error", existing: nil, wantErr: "name conflicts with an existing object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			api := &fakeDocker{services: map[string]swarm.Service{}}
			if c.existing != nil {
				api.services["mysql-galera"] = swarm.Service{ID: "svc1",
					Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "mysql-galera", Labels: c.existing}}}
			}
			id, err := adoptService(context.Background(), api, spec, testURN, errNameConflict)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("error = %v, want it to contain %q", err, c.wantErr)
				}
			} else if err != nil || id != c.wantID {
				t.Errorf("adoptService = %q, %v; want %q", id, err, c.wantID)
			}
			if len(api.updatedSpecs) != c.wantUpdated {
				t.Fatalf("%d updates, want %d", len(api.updatedSpecs), c.wantUpdated)
			}
			if c.wantUpdated > 0 && api.updatedSpecs[0].Labels[ownerLabel] != string(testURN) {
				t.Errorf("the update dropped the owner label: %v", api.updatedSpecs[0].Labels)
			}
		})
	}
}

func TestACreateThatHitsOurOwnNetworkKeepsOrRemakesIt(t *testing.T) {
	inputs := NetworkArgs{Name: ptr.To("backend"), Driver: ptr.To("overlay"), Attachable: ptr.To(true)}
	cases := []struct {
		name        string
		existing    network.Inspect
		wantID      string
		wantErr     string
		wantRemoved []string
	}{
		{name: "ours and as wanted", existing: network.Inspect{ID: "n1", Name: "backend", Driver: "overlay", Attachable: true,
			Labels: map[string]string{ownerLabel: string(testURN)}}, wantID: "n1"},
		{name: "ours but different", existing: network.Inspect{ID: "n1", Name: "backend", Driver: "overlay", Attachable: false,
			Labels: map[string]string{ownerLabel: string(testURN)}}, wantID: "new-backend", wantRemoved: []string{"n1"}},
		{name: "not ours", existing: network.Inspect{ID: "n1", Name: "backend", Driver: "overlay", Attachable: true},
			wantErr: "`docker network rm backend`"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			api := &fakeDocker{networks: map[string]network.Inspect{"backend": c.existing}}
			opts := networkCreateOptions(inputs)
			id, err := adoptNetwork(withURN(context.Background(), testURN), api, "backend", opts, inputs, errNameConflict)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("error = %v, want it to contain %q", err, c.wantErr)
				}
			} else if err != nil || id != c.wantID {
				t.Errorf("adoptNetwork = %q, %v; want %q", id, err, c.wantID)
			}
			if dump(api.removedNetworks) != dump(c.wantRemoved) {
				t.Errorf("removed %v, want %v", api.removedNetworks, c.wantRemoved)
			}
		})
	}
}
