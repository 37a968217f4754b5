package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/galera-swarm/galera-swarm/agent/backup"
	"github.com/galera-swarm/galera-swarm/agent/config"
)

// The backup keys under the cluster's prefix.
const (
	keyBackupRequest = "backup/request" // the id of an on-demand backup (galera-agent backup now)
	keyBackupClaims  = "backup/claims/" // backup/claims/<id> = the node that takes backup <id>
	keyBackupRunning = "backup/running" // the id of the backup being taken, under its node's lease
	keyBackupLast    = "backup/last"    // BackupReport of the newest backup that ended
)

const (
	// backupPoll: how often a node looks for an on-demand request.
	backupPoll = 5 * time.Second
	// backupStandIn: how long each place in backup.Rank waits for the nodes before it to
	// claim a backup (one that is gone, or stuck, leaves it to the next).
	backupStandIn = 30 * time.Second
	// backupLate: a scheduled time this far past (this node was busy, e.g. with a long
	// backup) is not offered any more: the others had their turn.
	backupLate = 5 * time.Minute
	// claimsKept: claims younger than this stay in etcd, so no node takes a backup twice.
	claimsKept = 24 * time.Hour
)

// BackupPrograms are the image's programs and mariadbd's socket.
var BackupPrograms = backup.Programs{Mariabackup: []string{"mariabackup"}, Mbstream: []string{"mbstream"}, Restic: []string{"restic"},
	Socket: "/run/mysqld/mysqld.sock", DataOwner: "mysql"}

// BackupReport is what etcd's backup/last says of the newest backup that ended.
type BackupReport struct {
	ID       string    `json:"id"`
	Node     string    `json:"node"`
	Snapshot string    `json:"snapshot,omitempty"`
	Bytes    int64     `json:"bytes"`
	Seconds  float64   `json:"seconds"`
	Error    string    `json:"error,omitempty"`
	Warning  string    `json:"warning,omitempty"` // a good snapshot, but its retention failed
	Finished time.Time `json:"finished"`
}

// BackupID names a backup by its time (scheduled or requested), sortable as text.
func BackupID(t time.Time) string { return fmt.Sprintf("%020d", t.UnixNano()) }

// WithBackups turns the node's backup scheduler on (backup.Load's settings).
func (r *Runner) WithBackups(s backup.Settings) *Runner {
	r.backup = s
	return r
}

// scheduleBackups runs while the node runs: at each scheduled time, and for each on-demand
// request, it offers to take the backup (offerBackup).
func (r *Runner) scheduleBackups(ctx context.Context) {
	const step = "backup"
	next := r.backup.Schedule.Next(time.Now())
	r.log.Note(step, "backups to %s on schedule %q (UTC; next %s), keeping %s", r.backup.Repository,
		r.backup.ScheduleText, next.UTC().Format(time.RFC3339), r.backup.Keep)
	handled := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(backupPoll):
		}
		if id, err := r.disc.Get(keyBackupRequest); err == nil && id != "" && id != handled && r.offerBackup(ctx, id, true) {
			handled = id
		}
		if !time.Now().Before(next) {
			if time.Since(next) < backupLate {
				r.offerBackup(ctx, BackupID(next), false)
			}
			next = r.backup.Schedule.Next(time.Now())
		}
	}
}

// offerBackup: this node's part in backup `id` (an on-demand `request`, or a scheduled time).
// It waits its place in backup.Rank times backupStandIn, then claims the backup unless
// another node did or another backup is running (one etcd transaction, ClaimBackup: one
// node per backup, one backup at a time in the cluster), takes it and reports it in
// backup/last. True when the backup is settled: claimed by this node or another, or a
// scheduled one skipped because another backup is running; false when this node is not
// Synced, etcd fails, or a request meets a running backup (offered again at the next poll).
func (r *Runner) offerBackup(ctx context.Context, id string, request bool) bool {
	const step = "backup"
	recs, err := r.disc.Read(ctx)
	if err != nil {
		return false
	}
	place := backup.Place(recs.Nodes, r.cfg.NodeName)
	if place < 0 {
		return r.claimed(id)
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Duration(place) * backupStandIn):
	}
	claim, running, err := r.disc.ClaimBackup(id, request)
	switch {
	case err != nil:
		return false
	case claim == claimTaken:
		return true
	case claim == claimBusy && request:
		return false
	case claim == claimBusy:
		r.log.Warn(step, "scheduled backup %s skipped: backup %s is still running", id, running)
		return true
	}
	defer func() {
		if err := r.disc.EndBackup(id); err != nil {
			r.log.Warn(step, "could not end backup %s in etcd (its key goes with this node's lease): %v", id, err)
		}
	}()
	r.log.Note(step, "taking backup %s (place %d among the Synced nodes)", id, place)
	res, err := r.backup.Take(ctx, BackupPrograms, backup.Job{Node: r.cfg.NodeName, OwnNode: ownNode(recs)})
	for _, l := range res.RemovedLocks {
		r.log.Note(step, "removed the %s: no backup of this cluster runs, so a killed backup left it", l)
	}
	report := BackupReport{ID: id, Node: r.cfg.NodeName, Snapshot: res.Snapshot, Bytes: res.Bytes,
		Seconds: res.Duration.Seconds(), Warning: res.RetentionFailure, Finished: time.Now().UTC()}
	if err != nil {
		report.Error = err.Error()
		r.log.Error(step, "backup %s failed: %v", id, err)
	} else {
		r.log.Note(step, "backup %s: snapshot %s, %d bytes in %.1f s", id, res.Snapshot, res.Bytes, res.Duration.Seconds())
	}
	if res.RetentionFailure != "" {
		r.log.Warn(step, "backup %s: %s", id, res.RetentionFailure)
	}
	data, _ := json.Marshal(report)
	if err := r.disc.Put(keyBackupLast, string(data)); err != nil {
		r.log.Warn(step, "could not record backup %s in etcd: %v", id, err)
	}
	_ = r.disc.DeleteBefore(keyBackupClaims, keyBackupClaims+BackupID(time.Now().Add(-claimsKept)))
	return true
}

// ownNode says whether a hostname is one of this cluster's Galera nodes, as etcd knows them
// (nodes/ and members/: a node's name is its container's hostname).
func ownNode(recs Records) func(string) bool {
	return func(hostname string) bool {
		_, node := recs.Nodes[hostname]
		_, member := recs.Members[hostname]
		return node || member
	}
}

func (r *Runner) claimed(id string) bool {
	v, err := r.disc.Get(keyBackupClaims + id)
	return err == nil && v != ""
}

// Get is the value of key under the cluster's prefix ("" when absent).
func (d *Discovery) Get(key string) (string, error) {
	ctx, cancel := timeout()
	defer cancel()
	resp, err := d.client().Get(ctx, d.prefix+key)
	if err != nil {
		return "", fmt.Errorf("reading %s%s: %w", d.prefix, key, d.checked(err))
	}
	if len(resp.Kvs) == 0 {
		return "", nil
	}
	return string(resp.Kvs[0].Value), nil
}

// Put sets key under the cluster's prefix (no lease: it outlives the node).
func (d *Discovery) Put(key, value string) error {
	ctx, cancel := timeout()
	defer cancel()
	if _, err := d.client().Put(ctx, d.prefix+key, value); err != nil {
		return fmt.Errorf("writing %s%s: %w", d.prefix, key, d.checked(err))
	}
	return nil
}

// claimOutcome is how a claim of a backup ended.
type claimOutcome int

const (
	claimWon   claimOutcome = iota // this node takes the backup
	claimTaken                     // another node claimed it (or its request is gone)
	claimBusy                      // another backup is running
)

// ClaimBackup claims backup `id` for this node in one transaction: only while no node has
// claimed it and no backup runs (backup/running absent) and, for a request, while
// backup/request still holds id. It writes backup/claims/<id> = this node, backup/running =
// id under this node's lease (a node that dies mid-backup frees it when the lease ends), and
// for a request deletes backup/request. running is the id of the backup that runs, when busy.
func (d *Discovery) ClaimBackup(id string, request bool) (outcome claimOutcome, running string, err error) {
	ctx, cancel := timeout()
	defer cancel()
	claim, run, req := d.prefix+keyBackupClaims+id, d.prefix+keyBackupRunning, d.prefix+keyBackupRequest
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(claim), "=", 0),
		clientv3.Compare(clientv3.CreateRevision(run), "=", 0)}
	ops := []clientv3.Op{clientv3.OpPut(claim, d.name), clientv3.OpPut(run, id, clientv3.WithLease(d.lease))}
	if request {
		cmps = append(cmps, clientv3.Compare(clientv3.Value(req), "=", id))
		ops = append(ops, clientv3.OpDelete(req))
	}
	resp, err := d.client().Txn(ctx).If(cmps...).Then(ops...).Else(clientv3.OpGet(claim), clientv3.OpGet(run)).Commit()
	if err != nil {
		return claimTaken, "", fmt.Errorf("claiming backup %s in %s: %w", id, d.prefix, d.checked(err))
	}
	if resp.Succeeded {
		return claimWon, "", nil
	}
	claimed, runs := resp.Responses[0].GetResponseRange().Kvs, resp.Responses[1].GetResponseRange().Kvs
	if len(claimed) == 0 && len(runs) > 0 {
		return claimBusy, string(runs[0].Value), nil
	}
	return claimTaken, "", nil
}

// EndBackup deletes backup/running if it still holds id (one transaction).
func (d *Discovery) EndBackup(id string) error {
	ctx, cancel := timeout()
	defer cancel()
	run := d.prefix + keyBackupRunning
	_, err := d.client().Txn(ctx).If(clientv3.Compare(clientv3.Value(run), "=", id)).Then(clientv3.OpDelete(run)).Commit()
	if err != nil {
		return fmt.Errorf("ending backup %s in %s: %w", id, d.prefix, d.checked(err))
	}
	return nil
}

// Request puts backup/request = id unless a request is pending (one transaction): the id
// of the request to wait for, this one or the pending one.
func (d *Discovery) Request(id string) (string, error) {
	ctx, cancel := timeout()
	defer cancel()
	req := d.prefix + keyBackupRequest
	resp, err := d.client().Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(req), "=", 0)).
		Then(clientv3.OpPut(req, id)).Else(clientv3.OpGet(req)).Commit()
	if err != nil {
		return "", fmt.Errorf("requesting a backup in %s: %w", d.prefix, d.checked(err))
	}
	if pending := resp.Responses[0].GetResponseRange(); !resp.Succeeded && len(pending.Kvs) > 0 {
		return string(pending.Kvs[0].Value), nil
	}
	return id, nil
}

// DeleteBefore deletes the keys from `from` up to (not including) `to`, under the prefix.
func (d *Discovery) DeleteBefore(from, to string) error {
	ctx, cancel := timeout()
	defer cancel()
	if _, err := d.client().Delete(ctx, d.prefix+from, clientv3.WithRange(d.prefix+to)); err != nil {
		return fmt.Errorf("deleting %s%s..%s: %w", d.prefix, from, to, d.checked(err))
	}
	return nil
}

// RequestBackup is `galera-agent backup now`: it asks the cluster's schedulers for a backup
// (etcd backup/request; when a request is pending, it waits for that one: two callers at once
// share one backup) and waits up to `wait` for its report in backup/last. An error when the
// backup failed (its report's error) or no report came in time.
func RequestBackup(endpoints []string, login config.EtcdLogin, prefix string, wait time.Duration) (BackupReport, error) {
	d, closeDiscovery, err := dialDiscovery(endpoints, login, prefix)
	if err != nil {
		return BackupReport{}, err
	}
	defer closeDiscovery()
	id, err := d.Request(BackupID(time.Now()))
	if err != nil {
		return BackupReport{}, err
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		time.Sleep(2 * time.Second)
		v, err := d.Get(keyBackupLast)
		if err != nil {
			continue
		}
		var rep BackupReport
		if json.Unmarshal([]byte(v), &rep) == nil && rep.ID == id {
			if rep.Error != "" {
				return rep, errors.New(rep.Error)
			}
			return rep, nil
		}
	}
	node, _ := d.Get(keyBackupClaims + id)
	if node == "" {
		return BackupReport{}, fmt.Errorf("no node took backup %s within %s: is a Galera node Synced, with backups configured (BACKUP_REPOSITORY)?", id, wait)
	}
	return BackupReport{}, fmt.Errorf("%s took backup %s but reported no end within %s (its log says more)", node, id, wait)
}

// BackupState is etcd's word on the cluster's backups.
type BackupState struct {
	Last      *BackupReport // the newest backup that ended (nil: none yet)
	Running   string        // the id of the backup being taken ("": none)
	RunningOn string        // the node taking it
}

// ReadBackupState reads backup/last and backup/running (`galera-agent backup list`).
func ReadBackupState(endpoints []string, login config.EtcdLogin, prefix string) (BackupState, error) {
	d, closeDiscovery, err := dialDiscovery(endpoints, login, prefix)
	if err != nil {
		return BackupState{}, err
	}
	defer closeDiscovery()
	var st BackupState
	if v, err := d.Get(keyBackupLast); err != nil {
		return st, err
	} else if v != "" {
		st.Last = &BackupReport{}
		if err := json.Unmarshal([]byte(v), st.Last); err != nil {
			return st, fmt.Errorf("reading %s/%s: %w", prefix, keyBackupLast, err)
		}
	}
	if st.Running, err = d.Get(keyBackupRunning); err != nil || st.Running == "" {
		return st, err
	}
	st.RunningOn, err = d.Get(keyBackupClaims + st.Running)
	return st, err
}

// dialDiscovery connects to etcd for a one-off command (no node's registration): the
// cluster's keys under prefix, and the function that closes the connection.
func dialDiscovery(endpoints []string, login config.EtcdLogin, prefix string) (*Discovery, func(), error) {
	cli, err := connect(endpoints, login, 30*time.Second)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to etcd at %v: %w", endpoints, err)
	}
	return newDiscovery(cli, prefix, "", 0, ""), func() { _ = cli.Close() }, nil
}
