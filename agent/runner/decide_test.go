package runner

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/galera-swarm/galera-swarm/agent/config"
	"github.com/galera-swarm/galera-swarm/agent/decision"
	"github.com/galera-swarm/galera-swarm/agent/logx"
)

// fakeRegistry: an etcd whose reads fail for the first failReads calls, then give recs (with
// the node's own last published record); transactions succeed unless lose is set.
type fakeRegistry struct {
	failReads int
	recs      Records
	lose      bool
	published []decision.NodeRecord
	takes     []bool
}

func (f *fakeRegistry) Read(context.Context) (Records, error) {
	if f.failReads > 0 {
		f.failReads--
		return Records{}, errors.New("context deadline exceeded")
	}
	nodes := map[string]decision.NodeRecord{}
	for n, r := range f.recs.Nodes {
		nodes[n] = r
	}
	if len(f.published) > 0 {
		nodes["g3"] = f.published[len(f.published)-1]
	}
	out := f.recs
	out.Nodes = nodes
	return out, nil
}
func (f *fakeRegistry) TakeBootstrap(noCluster bool) (bool, error) {
	f.takes = append(f.takes, noCluster)
	return !f.lose, nil
}
func (f *fakeRegistry) Publish(r decision.NodeRecord) error {
	f.published = append(f.published, r)
	return nil
}
func (f *fakeRegistry) Grant() (int64, error) { return 1, nil }

// testRunner: a runner on reg whose rounds stop (a panic decideRounds recovers) after rounds.
func testRunner(t *testing.T, reg *fakeRegistry, rounds int) (*Runner, *bytes.Buffer) {
	var out bytes.Buffer
	r := New(config.Settings{ClusterName: "t", NodeName: "g3", Endpoints: []string{"http://etcd:2379"}, RecoveryWait: time.Hour},
		&logx.Logger{Tag: "galera-entrypoint", Out: &out}, nil)
	r.reg, r.address, r.own, r.positionKnown = reg, "10.9.9.3", decision.NoPosition, true
	r.stateFile = t.TempDir() + "/state"
	r.probe = func([]string) map[string]bool { return map[string]bool{} }
	r.peerAddrs = func() []string { return nil }
	n := 0
	r.sleep = func(time.Duration) {
		if n++; n >= rounds {
			panic(stopRounds{})
		}
	}
	return r, &out
}

type stopRounds struct{}

// decideRounds runs the decision loop for at most rounds rounds; ok when it decided.
func decideRounds(r *Runner) (d decision.Decision, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			if _, stop := v.(stopRounds); !stop {
				panic(v)
			}
			ok = false
		}
	}()
	return r.decide(context.Background()), true
}

func TestFailedEtcdReadsDecideNothing(t *testing.T) {
	// etcd flaps: every read fails, a bootstrap transaction would succeed. A failed read is
	// never taken for an empty etcd: no transaction is even tried.
	reg := &fakeRegistry{failReads: 1 << 30}
	r, out := testRunner(t, reg, 20)
	if d, ok := decideRounds(r); ok {
		t.Fatalf("decided %v after failed reads", d.Action)
	}
	if len(reg.takes) != 0 {
		t.Errorf("bootstrap transactions tried: %v", reg.takes)
	}
	if got := strings.Count(out.String(), "etcd read failed (etcd at http://etcd:2379 does not answer); retrying, deciding nothing until it does"); got != 1 {
		t.Errorf("the wait reason logged %d times, want once:\n%s", got, out)
	}
}

func TestDecisionAfterEtcdAnswersAgain(t *testing.T) {
	reg := &fakeRegistry{failReads: 3, recs: Records{Nodes: map[string]decision.NodeRecord{}, Members: map[string]string{}}}
	r, out := testRunner(t, reg, 20)
	d, ok := decideRounds(r)
	if !ok || d.Action != decision.BootstrapNew {
		t.Fatalf("decision %v, %v; log:\n%s", d.Action, ok, out)
	}
	if len(reg.takes) != 1 || !reg.takes[0] {
		t.Errorf("transactions %v, want one with no cluster uuid required", reg.takes)
	}
	if !strings.Contains(out.String(), "[NOTE] [decide] decision: bootstrap a NEW cluster (won the etcd transaction on /galera/t/bootstrap") {
		t.Errorf("log:\n%s", out)
	}
	if last := reg.published[len(reg.published)-1]; last.String() != "10.9.9.3 waiting "+decision.ZeroUUID+" -1" {
		t.Errorf("published %q", last)
	}
}

func TestLostBootstrapTransactionWaits(t *testing.T) {
	reg := &fakeRegistry{lose: true, recs: Records{Nodes: map[string]decision.NodeRecord{}, Members: map[string]string{}}}
	r, out := testRunner(t, reg, 5)
	if d, ok := decideRounds(r); ok {
		t.Fatalf("decided %v though the transaction was lost", d.Action)
	}
	if got := strings.Count(out.String(), "another node won the bootstrap transaction; waiting for it"); got != 1 {
		t.Errorf("lost reason logged %d times:\n%s", got, out)
	}
}

func TestMissingRegistrationRegistersAgain(t *testing.T) {
	reg := &fakeRegistry{recs: Records{Nodes: map[string]decision.NodeRecord{}, Members: map[string]string{}}}
	r, out := testRunner(t, reg, 5)
	r.reg = &forgetful{reg}
	if d, ok := decideRounds(r); !ok || d.Action != decision.BootstrapNew {
		t.Fatalf("decision %v, %v:\n%s", d.Action, ok, out)
	}
	if !strings.Contains(out.String(), "this node's registration is missing in etcd; registering again") ||
		!strings.Contains(out.String(), "registered in etcd with lease 1") {
		t.Errorf("log:\n%s", out)
	}
}

// forgetful: etcd lost everything once (the first read shows no registration).
type forgetful struct{ *fakeRegistry }

func (f *forgetful) Read(ctx context.Context) (Records, error) {
	if len(f.published) <= 1 {
		return Records{Nodes: map[string]decision.NodeRecord{}, Members: map[string]string{}}, nil
	}
	return f.fakeRegistry.Read(ctx)
}

func TestNotNewSaysWhyARestoreIsNotUsed(t *testing.T) {
	for _, tc := range []struct {
		own    decision.Position
		action decision.Action
		want   string
	}{
		{decision.Position{UUID: "6f1d2a3c-0b1e-11ef-9a7d-2b4c5d6e7f80", Seqno: 42}, decision.Join,
			"this node holds data of cluster 6f1d2a3c-0b1e-11ef-9a7d-2b4c5d6e7f80 (seqno 42)"},
		{decision.Position{}, decision.BootstrapRecovered, "this node recovers the cluster from its data"},
		{decision.Position{}, decision.Join, "this node joins a cluster that exists"},
	} {
		if got := notNew(tc.own, tc.action); got != tc.want {
			t.Errorf("notNew(%+v, %v) = %q, want %q", tc.own, tc.action, got, tc.want)
		}
	}
}

func TestAJobStopsWhenItsLeaseEnds(t *testing.T) {
	d := &Discovery{}
	d.lease.Store(7)
	r := &Runner{disc: d}
	for _, tc := range []struct {
		name       string
		breakLease func()
	}{
		{"the keep-alive ended", func() { d.keepAliveEnded.Store(true) }},
		{"a new lease was granted", func() { d.lease.Store(8) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d.lease.Store(7)
			d.keepAliveEnded.Store(false)
			ctx, stop := context.WithCancelCause(context.Background())
			defer stop(nil)
			go r.stopWithLease(ctx, 7, stop)
			time.Sleep(1200 * time.Millisecond)
			if ctx.Err() != nil {
				t.Fatalf("stopped while the lease lives: %v", context.Cause(ctx))
			}
			tc.breakLease()
			select {
			case <-ctx.Done():
				if !errors.Is(context.Cause(ctx), errLeaseEnded) {
					t.Fatalf("stopped for %v", context.Cause(ctx))
				}
			case <-time.After(3 * time.Second):
				t.Fatal("the job went on after its lease ended")
			}
		})
	}
}
