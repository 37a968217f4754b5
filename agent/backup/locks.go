package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Lock is one lock in the repository, as `restic cat lock <id>` prints it (restic 0.14).
type Lock struct {
	ID        string    `json:"-"`
	Time      time.Time `json:"time"`
	Exclusive bool      `json:"exclusive"`
	Hostname  string    `json:"hostname"`
	PID       int       `json:"pid"`
}

func (l Lock) String() string {
	kind := "shared"
	if l.Exclusive {
		kind = "exclusive"
	}
	return fmt.Sprintf("%s lock %.8s of PID %d on %s from %s", kind, l.ID, l.PID, l.Hostname, l.Time.UTC().Format(time.RFC3339))
}

// LeftByOwnNodes: every lock is of a host for which ownNode is true (this cluster's Galera
// nodes: a node's container hostname is its name), and there is at least one. Asked while
// this node holds the cluster's one backup at a time (etcd backup/running), when no other
// backup of ours runs: such locks were left by a restic killed with its node, and restic
// would keep them for 30 min (its staleness rule, unless on the same host with its PID gone),
// failing every prune meanwhile. A lock of any other host (an operator's restic, another
// cluster) may be in use: then no lock is removed.
func LeftByOwnNodes(locks []Lock, ownNode func(hostname string) bool) bool {
	for _, l := range locks {
		if !ownNode(l.Hostname) {
			return false
		}
	}
	return len(locks) > 0
}

// lockGrace: how long the locks of this cluster's nodes must stay as they are before they are
// removed. A node whose etcd lease ended stops its job within about a second of noticing
// (runner), and may notice a little after etcd; this covers that gap, so a lock is never
// removed under a restic that still runs.
var lockGrace = 15 * time.Second

// clearLocks removes stale locks before a backup: restic's own rule first (`restic unlock`),
// then, when every remaining lock was left by this cluster's nodes (LeftByOwnNodes) and the
// same locks are still there lockGrace later, all of them. It gives the locks it removed
// that restic did not take for stale. A failure to list or read locks removes nothing more
// (the next step's error names a lock that is in the way).
func (s Settings) clearLocks(ctx context.Context, p Programs, ownNode func(string) bool) []Lock {
	_, _ = s.restic(ctx, p, nil, "unlock")
	if ownNode == nil {
		return nil
	}
	locks, ok := s.listLocks(ctx, p)
	if !ok || !LeftByOwnNodes(locks, ownNode) {
		return nil
	}
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(lockGrace):
	}
	again, ok := s.listLocks(ctx, p)
	if !ok || !slices.EqualFunc(locks, again, func(a, b Lock) bool { return a.ID == b.ID }) {
		return nil // a lock came or went meanwhile: something runs; the next backup looks again
	}
	if _, err := s.restic(ctx, p, nil, "unlock", "--remove-all"); err != nil {
		return nil
	}
	return locks
}

// listLocks reads every lock in the repository (ordered by id); false when restic fails.
func (s Settings) listLocks(ctx context.Context, p Programs) ([]Lock, bool) {
	listed, err := s.restic(ctx, p, nil, "--no-lock", "list", "locks")
	if err != nil {
		return nil, false
	}
	ids := strings.Fields(listed.stdout)
	slices.Sort(ids)
	var locks []Lock
	for _, id := range ids {
		read, err := s.restic(ctx, p, nil, "--no-lock", "cat", "lock", id)
		if err != nil {
			continue // gone meanwhile
		}
		l := Lock{ID: id}
		if err := json.Unmarshal([]byte(read.stdout), &l); err != nil {
			return nil, false
		}
		locks = append(locks, l)
	}
	return locks, true
}
