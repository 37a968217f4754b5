package decision

import (
	"fmt"
	"strconv"
	"strings"
)

// Node states as published in etcd (nodes/<name>) and in the state file read by the health
// check. The one list of these names: runner and health import them from here.
const (
	StateStarting      = "starting"
	StateWaiting       = "waiting"
	StateJoining       = "joining"
	StateBootstrapping = "bootstrapping"
	StateSynced        = "synced"
	StateDonor         = "donor"
	StateJoined        = "joined"
	StateNonPrimary    = "non-primary"
	StateDown          = "down"
)

// NodeRecord is the value of nodes/<name> in etcd: "<address> <state> [<uuid> <seqno>]".
// Position is nil when the node has not published one (empty data, or still reading it).
type NodeRecord struct {
	Address  string
	State    string
	Position *Position
}

// String renders the record as stored in etcd.
func (r NodeRecord) String() string {
	s := r.Address + " " + r.State
	if r.Position != nil {
		s += fmt.Sprintf(" %s %d", r.Position.UUID, r.Position.Seqno)
	}
	return s
}

// ParseNodeRecord reads a nodes/<name> value. Extra fields are ignored (newer writers may add
// some); a seqno that is not a number leaves the position out.
func ParseNodeRecord(value string) (NodeRecord, error) {
	f := strings.Fields(value)
	if len(f) < 2 {
		return NodeRecord{}, fmt.Errorf("node record %q: want <address> <state> [<uuid> <seqno>]", value)
	}
	r := NodeRecord{Address: f[0], State: f[1]}
	if len(f) >= 4 {
		if seqno, err := strconv.ParseInt(f[3], 10, 64); err == nil {
			r.Position = &Position{UUID: f[2], Seqno: seqno}
		}
	}
	return r, nil
}
