// Package decision holds the choice a Galera node makes at start (join a running cluster,
// bootstrap a new one, elect the most advanced node after a full stop, or wait) as a pure
// function of a snapshot: what etcd records, what the peer probes found, this node's own
// position, the expected cluster size and the time waited. It performs no I/O.
package decision

import (
	"fmt"
	"strconv"
	"strings"
)

// ZeroUUID is the state uuid of a data directory that never belonged to a cluster
// (grastate.dat of a new node, Galera's WSREP_UUID_UNDEFINED).
const ZeroUUID = "00000000-0000-0000-0000-000000000000"

// Position is where a node's data stands in a cluster's history: the cluster state uuid, the
// last committed seqno (-1: unknown) and grastate.dat's safe_to_bootstrap flag.
type Position struct {
	UUID            string
	Seqno           int64
	SafeToBootstrap bool
}

// NoPosition is the position of an empty data directory (or one never part of a cluster).
var NoPosition = Position{UUID: ZeroUUID, Seqno: -1}

// HasData reports whether the position belongs to a cluster (a uuid other than the zero one).
func (p Position) HasData() bool {
	return p.UUID != "" && p.UUID != ZeroUUID
}

// String gives "uuid:seqno", the form of Galera's "Recovered position" and of our logs.
func (p Position) String() string {
	return fmt.Sprintf("%s:%d", p.UUID, p.Seqno)
}

// Compare orders two positions of the same cluster: -1 when p is behind q, 0 when equal, 1
// when p is ahead. The seqno decides; on equal seqnos a node that may bootstrap
// (safe_to_bootstrap: 1, the last to leave after a clean stop) is ahead. Positions of
// different clusters are not comparable: ok is false then.
func (p Position) Compare(q Position) (order int, ok bool) {
	if p.UUID != q.UUID {
		return 0, false
	}
	switch {
	case p.Seqno < q.Seqno:
		return -1, true
	case p.Seqno > q.Seqno:
		return 1, true
	case p.SafeToBootstrap == q.SafeToBootstrap:
		return 0, true
	case q.SafeToBootstrap:
		return -1, true
	default:
		return 1, true
	}
}

// ParsePosition reads "uuid:seqno" (mysqld --wsrep-recover's "Recovered position").
func ParsePosition(text string) (Position, error) {
	i := strings.LastIndex(text, ":")
	if i <= 0 {
		return Position{}, fmt.Errorf("position %q: want <uuid>:<seqno>", text)
	}
	seqno, err := strconv.ParseInt(text[i+1:], 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("position %q: seqno: %w", text, err)
	}
	return Position{UUID: text[:i], Seqno: seqno}, nil
}
