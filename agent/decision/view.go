package decision

import (
	"fmt"
	"slices"
	"strings"
)

// View is what a node knows of the cluster during a full-cluster recovery: the positions the
// deciding nodes published (node name -> position) and the names of every node that has been
// Synced once (members/ in etcd).
type View struct {
	Positions map[string]Position
	Members   []string
}

// Missing gives the members, sorted, that have not published a position.
func (v View) Missing() []string {
	var missing []string
	for _, m := range v.Members {
		if _, ok := v.Positions[m]; !ok && !slices.Contains(missing, m) {
			missing = append(missing, m)
		}
	}
	slices.Sort(missing)
	return missing
}

// IsComplete reports whether every position the election needs is in: every known member has
// published one, or, with the expected cluster size known (expected > 0, CLUSTER_SIZE), at
// least that many nodes have. The size only ever shortens the wait: members that left the
// cluster for good stay in etcd and would otherwise be waited for until the timeout.
func (v View) IsComplete(expected int) bool {
	return len(v.Missing()) == 0 || v.sizeReached(expected)
}

func (v View) sizeReached(expected int) bool {
	return expected > 0 && len(v.Positions) >= expected
}

// Winner names the node that should bootstrap after a full stop: among the positions of the
// cluster clusterUUID (any cluster's when it is "", never the zero uuid) the most advanced
// (Position.Compare; seqno alone across clusters), ties to the lowest name, so that every node
// computes the same one. ok is false when no position holds data.
func (v View) Winner(clusterUUID string) (name string, ok bool) {
	for _, n := range v.names() {
		p := v.Positions[n]
		if !p.HasData() || (clusterUUID != "" && p.UUID != clusterUUID) {
			continue
		}
		if !ok || ahead(p, v.Positions[name]) {
			name, ok = n, true
		}
	}
	return name, ok
}

// ahead: p strictly ahead of q (names are visited in order, so an equal one loses the tie).
func ahead(p, q Position) bool {
	order, comparable := p.Compare(q)
	if !comparable {
		return p.Seqno > q.Seqno
	}
	return order > 0
}

func (v View) names() []string {
	names := make([]string, 0, len(v.Positions))
	for n := range v.Positions {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// String lists the positions as the logs show them: "name uuid seqno;name uuid seqno".
func (v View) String() string {
	parts := make([]string, 0, len(v.Positions))
	for _, n := range v.names() {
		p := v.Positions[n]
		parts = append(parts, fmt.Sprintf("%s %s %d", n, p.UUID, p.Seqno))
	}
	return strings.Join(parts, ";")
}
