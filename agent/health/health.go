// Package health is the Galera node's health in the style of Percona's clustercheck: one
// verdict, healthy (HTTP 200) when the node is Synced and Primary (or a donor when allowed),
// unhealthy (503) otherwise, with the state in the message. It serves HAProxy (HTTP on port
// 9200) and the Docker HEALTHCHECK (`galera-health --check --donor-ok --transfer-ok-after S`).
package health

import (
	"fmt"
	"time"

	"github.com/galera-swarm/galera-swarm/agent/decision"
	"github.com/galera-swarm/galera-swarm/agent/wsrep"
)

// Options are the check's flags.
type Options struct {
	// DonorOK: a Donor/Desynced node (state 2) is healthy (--donor-ok, AVAILABLE_WHEN_DONOR=1).
	DonorOK bool
	// TransferOK: a node in a state transfer is healthy too (--donor-ok of the container
	// check: a swarm replaces unhealthy tasks and must not kill one in the middle of a
	// transfer). Never for the HTTP endpoint: HAProxy never routes to such a node.
	TransferOK bool
	// TransferOKAfter (--transfer-ok-after, the health start period): a node in a state
	// transfer is healthy only once the container has run that long; before, a failed check
	// does not count (Docker's start period) and a rolling update waits for Synced.
	TransferOKAfter time.Duration
}

// Facts are what the verdict looks at, gathered by Probe (or a test).
type Facts struct {
	Draining bool          // the drain flag exists (the node is shutting down)
	Status   *wsrep.Status // nil: mariadbd does not answer
	// When mariadbd does not answer: the runner's state, whether mariadbd runs and whether an
	// SST joiner script runs.
	RunnerState     string
	MariadbdRunning bool
	SSTReceiving    bool
	Restoring       bool          // a backup is being restored (RESTORE_SNAPSHOT), before mariadbd starts
	Uptime          time.Duration // of the container (PID 1)
}

// Verdict gives whether the node is healthy and the one-line message that says why.
func Verdict(f Facts, o Options) (healthy bool, message string) {
	if f.Draining {
		return false, "Galera node is shutting down (draining connections)"
	}
	if f.Status == nil {
		if o.TransferOK && f.MariadbdRunning &&
			(f.RunnerState == decision.StateJoining || f.RunnerState == decision.StateBootstrapping) {
			msg := fmt.Sprintf("Galera node is %s (mariadbd runs and does not answer yet)", f.RunnerState)
			if f.SSTReceiving {
				msg = "Galera node is receiving a state transfer (SST running; mariadbd does not answer yet)"
			}
			return transferCounts(f, o, msg)
		}
		if o.TransferOK && f.Restoring {
			// Like a state transfer: a long restore must not get the task replaced halfway.
			return transferCounts(f, o, "Galera node is restoring a backup (RESTORE_SNAPSHOT; mariadbd starts once it is prepared)")
		}
		return false, "Galera node is not running (mariadbd does not answer)"
	}
	s := *f.Status
	msg := fmt.Sprintf("Galera node is %s (wsrep_local_state=%s, wsrep_cluster_status=%s)", s.Comment, s.LocalState, s.ClusterStatus)
	switch {
	case s.ClusterStatus == "Primary" && (s.LocalState == "4" || s.LocalState == "2" && o.DonorOK):
		return true, msg
	case s.ClusterStatus == "Primary" && (s.LocalState == "1" || s.LocalState == "3") && o.TransferOK:
		return transferCounts(f, o, msg)
	default:
		return false, fmt.Sprintf("Galera node is not synced: %s (wsrep_local_state=%s, wsrep_cluster_status=%s)", s.Comment, s.LocalState, s.ClusterStatus)
	}
}

// transferCounts: a node in a state transfer counts as healthy once the container has run
// TransferOKAfter.
func transferCounts(f Facts, o Options, msg string) (bool, string) {
	if o.TransferOKAfter <= 0 || f.Uptime >= o.TransferOKAfter {
		return true, msg
	}
	return false, fmt.Sprintf("%s; healthy once Synced, or in the transfer after %ds of uptime (now %ds)",
		msg, int(o.TransferOKAfter/time.Second), int(f.Uptime/time.Second))
}
