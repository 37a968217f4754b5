package decision

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// GaleraPort is the port of Galera's group communication, probed to see whether a peer runs.
const GaleraPort = 4567

// Snapshot is everything one round of the decision looks at, read at one moment.
type Snapshot struct {
	Prefix      string // the etcd key prefix, /galera/<CLUSTER_NAME>
	Self        string // NODE_NAME
	SelfAddress string // NODE_ADDRESS
	SelfState   string // the state this node last published
	Own         Position

	// From one etcd read (one revision) of /galera/<cluster>/.
	Nodes           map[string]NodeRecord // nodes/<name>
	Members         map[string]string     // members/<name> -> address
	BootstrapHolder string                // bootstrap
	ClusterUUID     string                // uuid

	// Addresses of other nodes that do not come from etcd (PEERS_DNS and the members this
	// node last saw Synced), this node's own left out; PeersDNS names where they came from.
	PeerAddresses []string
	PeersDNS      string
	// Answering holds the probe of the Galera port of every address above: true = it answers.
	Answering map[string]bool

	ExpectedSize int           // CLUSTER_SIZE; 0 = not known
	Waited       time.Duration // since the node started deciding
	RecoveryWait time.Duration // RECOVERY_WAIT_TIMEOUT
}

// Action is what the node does after a round.
type Action int

const (
	// Wait: decide nothing now, look again after Decision.Retry.
	Wait Action = iota
	// Register: this node's registration is missing in etcd; register again, then look again.
	Register
	// Join the running cluster through Decision.JoinAddresses.
	Join
	// BootstrapNew: try to take the bootstrap key (with no cluster uuid recorded); on success
	// start a new cluster.
	BootstrapNew
	// BootstrapRecovered: try to take the bootstrap key; on success bootstrap this node's data.
	BootstrapRecovered
)

// Decision is the outcome of a round. Reason is the one log line that says why (for Join and
// the bootstraps the "decision: ..." line, logged once the action is taken); Notes are lines
// about evidence found on the way, Warning a line to log once (e.g. a timeout that passed).
type Decision struct {
	Action        Action
	Reason        string
	Notes         []string
	Warning       string
	JoinAddresses []string
	Retry         time.Duration
	// LostReason: for a bootstrap, what to say when another node took the key first.
	LostReason string
}

// Decide is the node's choice for the snapshot. It follows these rules in order:
//  1. its own registration missing in etcd: register again;
//  2. a Synced peer in etcd answers on the Galera port: join it;
//  3. another node holds the bootstrap key: wait for it;
//  4. no cluster recorded and no node holds data: a new cluster, unless a node still reads its
//     position or a Galera port of a peer answers (etcd may have lost a running cluster);
//  5. otherwise a full-cluster recovery: wait for the positions (until the view is complete or
//     RECOVERY_WAIT_TIMEOUT passed), elect the most advanced, and bootstrap if it is this
//     node and no Galera port of a peer answers.
func Decide(s Snapshot) Decision {
	if own, ok := s.Nodes[s.Self]; !ok || own.Address != s.SelfAddress || own.State != s.SelfState {
		return Decision{Action: Register, Retry: time.Second,
			Reason: "this node's registration is missing in etcd; registering again"}
	}
	if peers := s.syncedPeers(); len(peers) > 0 {
		return Decision{Action: Join, JoinAddresses: peers, Reason: fmt.Sprintf(
			"decision: join the running cluster through gcomm://%s (Synced peers in etcd)", strings.Join(peers, ","))}
	}
	if h := s.BootstrapHolder; h != "" && h != s.Self {
		return wait(2, "node %s is bootstrapping; waiting for it to be Synced, then joining", h)
	}
	view := s.view()
	if s.ClusterUUID == "" && !s.Own.HasData() && !view.anyData() {
		return s.decideNew()
	}
	return s.decideRecovery(view)
}

func (s Snapshot) decideNew() Decision {
	if reading := s.namesInState(StateStarting); len(reading) > 0 {
		return wait(1, "waiting for %s to publish its position before forming a new cluster", strings.Join(reading, " "))
	}
	if notes := s.galeraRunningElsewhere(); len(notes) > 0 {
		d := wait(2, "etcd records no cluster but a Galera node answers; not starting a new cluster, waiting for it to show up in etcd")
		d.Notes = notes
		return d
	}
	return Decision{Action: BootstrapNew, Retry: time.Second,
		Reason:     fmt.Sprintf("decision: bootstrap a NEW cluster (won the etcd transaction on %s/bootstrap; no cluster uuid recorded, no node holds data, no Galera port answers)", s.Prefix),
		LostReason: "another node won the bootstrap transaction; waiting for it"}
}

func (s Snapshot) decideRecovery(view View) Decision {
	waiting := s.Waited < s.RecoveryWait
	secs := int(s.RecoveryWait / time.Second)
	if s.ClusterUUID == "" && waiting && !view.sizeReached(s.ExpectedSize) {
		// etcd lost the record (or the first bootstrap died early): who the members are is
		// unknown, so every node gets the full wait to publish its position.
		return wait(2, "nodes hold data but etcd records no cluster; waiting %ds (RECOVERY_WAIT_TIMEOUT) for all positions before electing", secs)
	}
	var warning string
	if !view.IsComplete(s.ExpectedSize) {
		missing := strings.Join(view.Missing(), " ")
		if waiting {
			return wait(2, "full-cluster recovery: waiting up to %ds (RECOVERY_WAIT_TIMEOUT) for the positions of %s; known: [%s]", secs, missing, view)
		}
		warning = fmt.Sprintf("RECOVERY_WAIT_TIMEOUT=%ds passed without the positions of %s; electing among the nodes present (a missing node that is more advanced would lose its newer transactions)", secs, missing)
	}
	d := s.elect(view)
	d.Warning = warning
	return d
}

func (s Snapshot) elect(view View) Decision {
	winner, ok := view.Winner(s.ClusterUUID)
	if !ok {
		uuid := s.ClusterUUID
		if uuid == "" {
			uuid = "?"
		}
		return wait(2, "no published position holds data of cluster %s; waiting for a node that has it", uuid)
	}
	if winner != s.Self {
		return wait(2, "full-cluster recovery: %s is the most advanced (%s); waiting for it to bootstrap, then joining", winner, view.Positions[winner])
	}
	if notes := s.galeraRunningElsewhere(); len(notes) > 0 {
		d := wait(2, "a Galera node is up elsewhere; not bootstrapping, waiting for it to be Synced")
		d.Notes = notes
		return d
	}
	own := view.Positions[s.Self]
	return Decision{Action: BootstrapRecovered, Retry: time.Second, Reason: fmt.Sprintf(
		"decision: bootstrap the RECOVERED cluster: this node has the highest seqno %d of cluster %s among positions [%s]; no Galera port of a peer answers",
		own.Seqno, own.UUID, view)}
}

func wait(seconds int, format string, args ...any) Decision {
	return Decision{Action: Wait, Retry: time.Duration(seconds) * time.Second, Reason: fmt.Sprintf(format, args...)}
}

// syncedPeers: addresses of the other nodes that say they are Synced and answer on the Galera
// port (a crashed node's registration stays until its lease expires), in name order.
func (s Snapshot) syncedPeers() []string {
	var peers []string
	for _, n := range sortedKeys(s.Nodes) {
		r := s.Nodes[n]
		if n != s.Self && r.State == StateSynced && s.Answering[r.Address] {
			peers = append(peers, r.Address)
		}
	}
	return peers
}

func (s Snapshot) namesInState(state string) []string {
	var names []string
	for _, n := range sortedKeys(s.Nodes) {
		if s.Nodes[n].State == state {
			names = append(names, n)
		}
	}
	return names
}

// view: the positions of the nodes now deciding (state waiting) and the members.
func (s Snapshot) view() View {
	v := View{Positions: map[string]Position{}, Members: sortedKeys(s.Members)}
	for n, r := range s.Nodes {
		if r.State == StateWaiting && r.Position != nil {
			v.Positions[n] = *r.Position
		}
	}
	return v
}

func (v View) anyData() bool {
	for _, p := range v.Positions {
		if p.HasData() {
			return true
		}
	}
	return false
}

// galeraRunningElsewhere: the first of the other registered nodes, members and peer addresses
// that answers on the Galera port, as a log line (none: nil). A cluster is forming or running
// there even if etcd does not show it: etcd may have lost its data.
func (s Snapshot) galeraRunningElsewhere() []string {
	for _, group := range []map[string]string{s.nodeAddresses(), s.Members} {
		for _, n := range sortedKeys(group) {
			if a := group[n]; n != s.Self && a != "" && s.Answering[a] {
				return []string{fmt.Sprintf("%s at %s answers on port %d", n, a, GaleraPort)}
			}
		}
	}
	for _, a := range s.PeerAddresses {
		if a != s.SelfAddress && s.Answering[a] {
			return []string{fmt.Sprintf("peer %s answers on port %d (from PEERS_DNS=%s or the members last seen Synced; not in etcd)", a, GaleraPort, s.PeersDNS)}
		}
	}
	return nil
}

func (s Snapshot) nodeAddresses() map[string]string {
	out := make(map[string]string, len(s.Nodes))
	for n, r := range s.Nodes {
		out[n] = r.Address
	}
	return out
}

// ProbeTargets lists, without duplicates, every address whose Galera port the decision may
// look at (other nodes, members, peer addresses; never this node's own).
func (s Snapshot) ProbeTargets() []string {
	var out []string
	add := func(a string) {
		if a != "" && a != s.SelfAddress && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, n := range sortedKeys(s.Nodes) {
		if n != s.Self {
			add(s.Nodes[n].Address)
		}
	}
	for _, n := range sortedKeys(s.Members) {
		if n != s.Self {
			add(s.Members[n])
		}
	}
	for _, a := range s.PeerAddresses {
		add(a)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
