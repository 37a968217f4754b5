// Package wsrep reads a running node's Galera status, the one query the runner (its published
// state) and the health check (its verdict) share, and names the node states.
package wsrep

import (
	"os/exec"
	"strings"

	"github.com/galera-swarm/galera-swarm/agent/decision"
)

// Query asks the server for the five values of Status in one row, tab-separated in this order.
const Query = `SELECT MAX(IF(VARIABLE_NAME='WSREP_LOCAL_STATE', VARIABLE_VALUE, NULL)),
        MAX(IF(VARIABLE_NAME='WSREP_CLUSTER_STATUS', VARIABLE_VALUE, NULL)),
        MAX(IF(VARIABLE_NAME='WSREP_CLUSTER_STATE_UUID', VARIABLE_VALUE, NULL)),
        MAX(IF(VARIABLE_NAME='WSREP_INCOMING_ADDRESSES', VARIABLE_VALUE, NULL)),
        MAX(IF(VARIABLE_NAME='WSREP_LOCAL_STATE_COMMENT', VARIABLE_VALUE, NULL))
   FROM information_schema.GLOBAL_STATUS
  WHERE VARIABLE_NAME IN ('WSREP_LOCAL_STATE','WSREP_CLUSTER_STATUS','WSREP_CLUSTER_STATE_UUID',
                          'WSREP_INCOMING_ADDRESSES','WSREP_LOCAL_STATE_COMMENT')`

// Status is a row of Query: wsrep_local_state (4 Synced, 2 Donor, 1 Joining, 3 Joined),
// wsrep_cluster_status (Primary, non-Primary, Disconnected), wsrep_cluster_state_uuid,
// wsrep_incoming_addresses ("ip:port,...") and wsrep_local_state_comment.
type Status struct {
	LocalState, ClusterStatus, UUID, Incoming, Comment string
}

// Parse reads a row of the client's batch output (fields a row lacks are "x", as a missing one).
func Parse(row string) Status {
	row = strings.TrimRight(row, "\r\n")
	if row == "" {
		return Status{"x", "x", "x", "x", "x"}
	}
	f := strings.Split(row, "\t")
	for len(f) < 5 {
		f = append(f, "x")
	}
	return Status{LocalState: f[0], ClusterStatus: f[1], UUID: f[2], Incoming: f[3], Comment: f[4]}
}

// Read asks the local server (socket, root through unix_socket); ok is false when it does not
// answer.
func Read() (s Status, ok bool) {
	out, err := exec.Command("mariadb", "--protocol=socket", "-uroot", "-N", "-B", "--connect-timeout=3", "-e", Query).Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		return Parse(""), false
	}
	return Parse(string(out)), true
}

// StateName maps wsrep_local_state and wsrep_cluster_status to the node state the runner
// publishes (decision.State*).
func StateName(localState, clusterStatus string) string {
	switch {
	case localState == "4" && clusterStatus == "Primary":
		return decision.StateSynced
	case localState == "2" && clusterStatus == "Primary":
		return decision.StateDonor
	case localState == "3" && clusterStatus == "Primary":
		return decision.StateJoined
	case localState == "1":
		return decision.StateJoining
	case clusterStatus == "non-Primary" || clusterStatus == "Disconnected":
		return decision.StateNonPrimary
	default:
		return decision.StateDown
	}
}
