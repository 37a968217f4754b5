package decision

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	uuidA = "3b0e7c1e-0000-11ef-9a6f-0242ac120002"
	uuidB = "77777777-0000-11ef-9a6f-0242ac120002"
)

func pos(uuid string, seqno int64) *Position { return &Position{UUID: uuid, Seqno: seqno} }

// base: this node g3 at 10.0.0.3, registered as waiting with an empty data directory, a
// fresh etcd, nothing answering, RECOVERY_WAIT_TIMEOUT 20 s not yet over.
func base() Snapshot {
	return Snapshot{
		Prefix: "/galera/t", Self: "g3", SelfAddress: "10.0.0.3", SelfState: StateWaiting, Own: NoPosition,
		Nodes:        map[string]NodeRecord{"g3": {Address: "10.0.0.3", State: StateWaiting}},
		Members:      map[string]string{},
		Answering:    map[string]bool{},
		RecoveryWait: 20 * time.Second,
	}
}

// withData: every node g1..g3 registered as waiting with its position, g1..g3 members, the
// cluster uuid recorded: the start of a full-cluster recovery.
func withData(seqnos map[string]int64) Snapshot {
	s := base()
	s.ClusterUUID = uuidA
	s.Own = *pos(uuidA, seqnos["g3"])
	for n, seqno := range seqnos {
		s.Nodes[n] = NodeRecord{Address: "10.0.0." + n[1:], State: StateWaiting, Position: pos(uuidA, seqno)}
	}
	s.Members = map[string]string{"g1": "10.0.0.1", "g2": "10.0.0.2", "g3": "10.0.0.3"}
	return s
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name     string
		snapshot func() Snapshot
		action   Action
		reason   string // a part of Decision.Reason
		note     string // a part of Decision.Notes[0] ("" = no notes)
		warning  string // a part of Decision.Warning ("" = none)
		join     []string
	}{{
		name:     "own registration missing (etcd wiped or lease expired): register again",
		snapshot: func() Snapshot { s := base(); delete(s.Nodes, "g3"); return s },
		action:   Register, reason: "this node's registration is missing in etcd; registering again",
	}, {
		name: "own registration with an older state: register again",
		snapshot: func() Snapshot {
			s := base()
			s.Nodes["g3"] = NodeRecord{Address: "10.0.0.3", State: StateStarting}
			return s
		},
		action: Register, reason: "registering again",
	}, {
		name: "Synced peers that answer: join them, in name order",
		snapshot: func() Snapshot {
			s := base()
			s.Nodes["g2"] = NodeRecord{Address: "10.0.0.2", State: StateSynced}
			s.Nodes["g1"] = NodeRecord{Address: "10.0.0.1", State: StateSynced}
			s.Answering = map[string]bool{"10.0.0.1": true, "10.0.0.2": true}
			return s
		},
		action: Join, join: []string{"10.0.0.1", "10.0.0.2"},
		reason: "decision: join the running cluster through gcomm://10.0.0.1,10.0.0.2 (Synced peers in etcd)",
	}, {
		name: "a Synced registration whose port is closed (crashed, lease not expired) is not joined",
		snapshot: func() Snapshot {
			s := base()
			s.Nodes["g1"] = NodeRecord{Address: "10.0.0.1", State: StateSynced}
			s.Members["g1"] = "10.0.0.1"
			s.ClusterUUID = uuidA
			return s
		},
		action: Wait, reason: "for the positions of g1; known: []",
	}, {
		name: "data of this node joins a Synced peer even with its own position ahead",
		snapshot: func() Snapshot {
			s := withData(map[string]int64{"g3": 50})
			s.Nodes["g1"] = NodeRecord{Address: "10.0.0.1", State: StateSynced}
			s.Answering["10.0.0.1"] = true
			return s
		},
		action: Join, join: []string{"10.0.0.1"}, reason: "decision: join the running cluster",
	}, {
		name:     "another node holds the bootstrap key: wait for it",
		snapshot: func() Snapshot { s := base(); s.BootstrapHolder = "g1"; return s },
		action:   Wait, reason: "node g1 is bootstrapping; waiting for it to be Synced, then joining",
	}, {
		name:     "this node holds the bootstrap key (its own earlier round): decide on",
		snapshot: func() Snapshot { s := base(); s.BootstrapHolder = "g3"; return s },
		action:   BootstrapNew,
	}, {
		name:     "fresh etcd, no data anywhere, nothing answers: bootstrap a new cluster",
		snapshot: base,
		action:   BootstrapNew,
		reason:   "decision: bootstrap a NEW cluster (won the etcd transaction on /galera/t/bootstrap; no cluster uuid recorded, no node holds data, no Galera port answers)",
	}, {
		name: "a node still reading its position may hold data: wait before a new cluster",
		snapshot: func() Snapshot {
			s := base()
			s.Nodes["g1"] = NodeRecord{Address: "10.0.0.1", State: StateStarting}
			s.Nodes["g2"] = NodeRecord{Address: "10.0.0.2", State: StateStarting}
			return s
		},
		action: Wait, reason: "waiting for g1 g2 to publish its position before forming a new cluster",
	}, {
		name: "empty etcd but a registered node answers on 4567: no new cluster",
		snapshot: func() Snapshot {
			s := base()
			s.Nodes["g1"] = NodeRecord{Address: "10.0.0.1", State: StateJoining}
			s.Answering["10.0.0.1"] = true
			return s
		},
		action: Wait, reason: "etcd records no cluster but a Galera node answers; not starting a new cluster",
		note: "g1 at 10.0.0.1 answers on port 4567",
	}, {
		name: "empty etcd but a recorded member answers: no new cluster",
		snapshot: func() Snapshot {
			s := base()
			s.Members["g2"] = "10.0.0.2"
			s.Answering["10.0.0.2"] = true
			return s
		},
		action: Wait, reason: "waiting for it to show up in etcd", note: "g2 at 10.0.0.2 answers on port 4567",
	}, {
		// tests/images test_discovery_faults: etcd wiped while the cluster runs.
		name: "empty etcd but a peer from PEERS_DNS answers: no new cluster",
		snapshot: func() Snapshot {
			s := base()
			s.PeersDNS, s.PeerAddresses = "peers.example", []string{"10.0.0.3", "10.9.9.1"}
			s.Answering = map[string]bool{"10.0.0.3": true, "10.9.9.1": true}
			return s
		},
		action: Wait, reason: "etcd records no cluster but a Galera node answers",
		note: "peer 10.9.9.1 answers on port 4567 (from PEERS_DNS=peers.example or the members last seen Synced; not in etcd)",
	}, {
		// tests/images test_discovery_faults: a node with data never starts a new cluster.
		name: "own data, etcd forgot the cluster: wait the full RECOVERY_WAIT_TIMEOUT for positions",
		snapshot: func() Snapshot {
			s := base()
			s.Own = *pos(uuidA, 42)
			s.Nodes["g3"] = NodeRecord{Address: "10.0.0.3", State: StateWaiting, Position: pos(uuidA, 42)}
			return s
		},
		action: Wait, reason: "nodes hold data but etcd records no cluster; waiting 20s (RECOVERY_WAIT_TIMEOUT) for all positions before electing",
	}, {
		name: "a peer holds data though this node has none: no new cluster",
		snapshot: func() Snapshot {
			s := base()
			s.Nodes["g1"] = NodeRecord{Address: "10.0.0.1", State: StateWaiting, Position: pos(uuidA, 9)}
			return s
		},
		action: Wait, reason: "nodes hold data but etcd records no cluster",
	}, {
		name: "etcd forgot the cluster, the expected size has published: elect at once",
		snapshot: func() Snapshot {
			s := withData(map[string]int64{"g1": 5, "g2": 7, "g3": 7})
			s.ClusterUUID, s.Members, s.ExpectedSize = "", map[string]string{}, 3
			return s
		},
		action: Wait, reason: "full-cluster recovery: g2 is the most advanced (" + uuidA + ":7); waiting for it to bootstrap, then joining",
	}, {
		name: "etcd forgot the cluster, the wait is over: the most advanced of any cluster",
		snapshot: func() Snapshot {
			s := withData(map[string]int64{"g3": 7})
			s.ClusterUUID, s.Members, s.Waited = "", map[string]string{}, 21*time.Second
			s.Nodes["g1"] = NodeRecord{Address: "10.0.0.1", State: StateWaiting, Position: pos(uuidB, 3)}
			return s
		},
		action: BootstrapRecovered, reason: "highest seqno 7 of cluster " + uuidA,
	}, {
		// tests/images test_crash_recovery: a member that stays away is waited for.
		name: "full recovery, a member's position missing: wait for it",
		snapshot: func() Snapshot {
			s := withData(map[string]int64{"g2": 7, "g3": 7})
			s.ExpectedSize = 3
			return s
		},
		action: Wait, reason: "full-cluster recovery: waiting up to 20s (RECOVERY_WAIT_TIMEOUT) for the positions of g1; known: [g2 " + uuidA + " 7;g3 " + uuidA + " 7]",
	}, {
		name: "full recovery, the wait is over without g1: warn, elect among the present",
		snapshot: func() Snapshot {
			s := withData(map[string]int64{"g2": 7, "g3": 7})
			s.Waited = 20 * time.Second
			return s
		},
		action: Wait, reason: "g2 is the most advanced",
		warning: "RECOVERY_WAIT_TIMEOUT=20s passed without the positions of g1; electing among the nodes present (a missing node that is more advanced would lose its newer transactions)",
	}, {
		name: "members that left for good: the expected size makes the view complete at once",
		snapshot: func() Snapshot {
			s := withData(map[string]int64{"g1": 4, "g2": 6, "g3": 9})
			s.Members["g4"], s.Members["g5"] = "10.0.0.4", "10.0.0.5"
			s.ExpectedSize = 3
			return s
		},
		action: BootstrapRecovered, reason: "decision: bootstrap the RECOVERED cluster: this node has the highest seqno 9 of cluster " + uuidA +
			" among positions [g1 " + uuidA + " 4;g2 " + uuidA + " 6;g3 " + uuidA + " 9]; no Galera port of a peer answers",
	}, {
		name: "members that left for good without the expected size: wait the timeout",
		snapshot: func() Snapshot {
			s := withData(map[string]int64{"g1": 4, "g2": 6, "g3": 9})
			s.Members["g4"] = "10.0.0.4"
			return s
		},
		action: Wait, reason: "for the positions of g4;",
	}, {
		name: "no position holds data of the recorded cluster: wait for one that has",
		snapshot: func() Snapshot {
			s := withData(map[string]int64{"g1": 4, "g2": 6, "g3": 9})
			s.ClusterUUID = uuidB
			return s
		},
		action: Wait, reason: "no published position holds data of cluster " + uuidB + "; waiting for a node that has it",
	}, {
		name: "own data not in the published positions, no cluster recorded, the wait over",
		snapshot: func() Snapshot {
			s := base()
			s.Own, s.Waited = *pos(uuidA, 5), time.Minute
			return s
		},
		action: Wait, reason: "no published position holds data of cluster ?; waiting for a node that has it",
	}, {
		// tests/images test_crash_recovery: the lagging lowest name loses; ties to the lowest name.
		name: "full recovery: a tie on the highest seqno goes to the lowest name",
		snapshot: func() Snapshot {
			return withData(map[string]int64{"g1": 3, "g2": 80, "g3": 80})
		},
		action: Wait, reason: "full-cluster recovery: g2 is the most advanced (" + uuidA + ":80)",
	}, {
		name: "full recovery: this node is the most advanced but a peer's port answers",
		snapshot: func() Snapshot {
			s := withData(map[string]int64{"g1": 3, "g2": 5, "g3": 80})
			s.PeerAddresses, s.Answering = []string{"10.0.0.9"}, map[string]bool{"10.0.0.9": true}
			return s
		},
		action: Wait, reason: "a Galera node is up elsewhere; not bootstrapping, waiting for it to be Synced",
		note: "peer 10.0.0.9 answers on port 4567",
	}, {
		name: "full recovery: a node not yet deciding (joining) is no position",
		snapshot: func() Snapshot {
			s := withData(map[string]int64{"g2": 5, "g3": 80})
			s.Nodes["g1"] = NodeRecord{Address: "10.0.0.1", State: StateJoining, Position: pos(uuidA, 99)}
			return s
		},
		action: Wait, reason: "for the positions of g1;",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.snapshot())
			if d.Action != tt.action {
				t.Fatalf("action %v, want %v (reason %q)", d.Action, tt.action, d.Reason)
			}
			if !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("reason %q, want it to contain %q", d.Reason, tt.reason)
			}
			if tt.note == "" && len(d.Notes) > 0 || tt.note != "" && (len(d.Notes) == 0 || !strings.Contains(d.Notes[0], tt.note)) {
				t.Errorf("notes %q, want %q", d.Notes, tt.note)
			}
			if tt.warning == "" && d.Warning != "" || !strings.Contains(d.Warning, tt.warning) {
				t.Errorf("warning %q, want %q", d.Warning, tt.warning)
			}
			if !slices.Equal(d.JoinAddresses, tt.join) {
				t.Errorf("join %q, want %q", d.JoinAddresses, tt.join)
			}
			if d.Action != Join && d.Retry <= 0 {
				t.Errorf("retry %v: a round that decides nothing must wait before the next", d.Retry)
			}
		})
	}
}

func TestDecideLostBootstrapReasons(t *testing.T) {
	if d := Decide(base()); d.LostReason != "another node won the bootstrap transaction; waiting for it" {
		t.Errorf("lost reason %q", d.LostReason)
	}
}

func TestProbeTargets(t *testing.T) {
	s := base()
	s.Nodes["g1"] = NodeRecord{Address: "10.0.0.1", State: StateSynced}
	s.Members = map[string]string{"g1": "10.0.0.1", "g2": "10.0.0.2", "g3": "10.0.0.3"}
	s.PeerAddresses = []string{"10.0.0.2", "10.0.0.3", "10.0.0.7"}
	got := s.ProbeTargets()
	want := []string{"10.0.0.1", "10.0.0.2", "10.0.0.7"}
	if !slices.Equal(got, want) {
		t.Errorf("probe targets %q, want %q", got, want)
	}
}
