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
var BackupPrograms = backup.Programs{Mariabackup: []string{"mariabackup"}, Restic: []string{"restic"},
	Socket: "/run/mysqld/mysqld.sock"}

// BackupReport is what etcd's backup/last says of the newest backup that ended.
type BackupReport struct {
	ID       string    `json:"id"`
	Node     string    `json:"node"`
	Snapshot string    `json:"snapshot,omitempty"`
	Bytes    int64     `json:"bytes"`
	Seconds  float64   `json:"seconds"`
	Error    string    `json:"error,omitempty"`
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
// another node did (one etcd transaction: one node per backup; a request's claim also
// removes the request, so no node offers it again after a restart), takes it and reports it
// in backup/last. True when the backup is claimed, by this node or another; false when this
// node is not Synced or etcd fails (a request is offered again at the next poll).
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
	removing := ""
	if request {
		removing = keyBackupRequest
	}
	won, err := r.disc.Claim(keyBackupClaims+id, r.cfg.NodeName, removing, id)
	if err != nil {
		return false
	}
	if !won {
		return true
	}
	r.log.Note(step, "taking backup %s (place %d among the Synced nodes)", id, place)
	res, err := r.backup.Take(ctx, BackupPrograms, r.cfg.NodeName, nil)
	report := BackupReport{ID: id, Node: r.cfg.NodeName, Snapshot: res.Snapshot, Bytes: res.Bytes,
		Seconds: res.Duration.Seconds(), Finished: time.Now().UTC()}
	if err != nil {
		report.Error = err.Error()
		r.log.Error(step, "backup %s failed: %v", id, err)
	} else {
		r.log.Note(step, "backup %s: snapshot %s, %d bytes in %.1f s", id, res.Snapshot, res.Bytes, res.Duration.Seconds())
	}
	data, _ := json.Marshal(report)
	if err := r.disc.Put(keyBackupLast, string(data)); err != nil {
		r.log.Warn(step, "could not record backup %s in etcd: %v", id, err)
	}
	_ = r.disc.DeleteBefore(keyBackupClaims, keyBackupClaims+BackupID(time.Now().Add(-claimsKept)))
	return true
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

// Claim creates key = value unless key exists (one transaction): true for exactly one caller.
// With `removing` set, only while `removing` holds `holding`, and it deletes `removing` too.
func (d *Discovery) Claim(key, value, removing, holding string) (bool, error) {
	ctx, cancel := timeout()
	defer cancel()
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(d.prefix+key), "=", 0)}
	ops := []clientv3.Op{clientv3.OpPut(d.prefix+key, value)}
	if removing != "" {
		cmps = append(cmps, clientv3.Compare(clientv3.Value(d.prefix+removing), "=", holding))
		ops = append(ops, clientv3.OpDelete(d.prefix+removing))
	}
	resp, err := d.client().Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return false, fmt.Errorf("claiming %s%s: %w", d.prefix, key, d.checked(err))
	}
	return resp.Succeeded, nil
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
// (etcd backup/request) and waits up to `wait` for its report in backup/last. An error when
// the backup failed (its report's error) or no report came in time.
func RequestBackup(endpoints []string, login config.EtcdLogin, prefix string, wait time.Duration) (BackupReport, error) {
	cli, err := connect(endpoints, login, 30*time.Second)
	if err != nil {
		return BackupReport{}, fmt.Errorf("connecting to etcd at %v: %w", endpoints, err)
	}
	defer cli.Close()
	d := newDiscovery(cli, prefix, "", 0, "")
	id := BackupID(time.Now())
	if err := d.Put(keyBackupRequest, id); err != nil {
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

// LastBackup is etcd's backup/last (ok false when no backup ended yet).
func LastBackup(endpoints []string, login config.EtcdLogin, prefix string) (BackupReport, bool, error) {
	cli, err := connect(endpoints, login, 30*time.Second)
	if err != nil {
		return BackupReport{}, false, fmt.Errorf("connecting to etcd at %v: %w", endpoints, err)
	}
	defer cli.Close()
	v, err := newDiscovery(cli, prefix, "", 0, "").Get(keyBackupLast)
	if err != nil || v == "" {
		return BackupReport{}, false, err
	}
	var rep BackupReport
	if err := json.Unmarshal([]byte(v), &rep); err != nil {
		return BackupReport{}, false, fmt.Errorf("reading %s/%s: %w", prefix, keyBackupLast, err)
	}
	return rep, true, nil
}
