package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/galera-swarm/galera-swarm/agent/backup"
	"github.com/galera-swarm/galera-swarm/agent/config"
)

// The cluster's backup jobs, of two kinds (a backup, a restore drill), each with its keys
// under the cluster's prefix:
//
//	<kind>/request      the id of an on-demand job (galera-agent backup now | drill)
//	<kind>/claims/<id>  the node that takes job <id>
//	<kind>/last         JobReport of the newest job of the kind that ended
//
// and one key for both: backup/running = "<kind> <id> <node>" of the job being run, under
// its node's lease (a node that dies mid-job frees it): one job at a time in the cluster.
const (
	JobBackup        = "backup"
	JobDrill         = "drill"
	keyBackupRunning = "backup/running"
)

func requestKey(kind string) string { return kind + "/request" }
func claimsKey(kind string) string  { return kind + "/claims/" }
func lastKey(kind string) string    { return kind + "/last" }

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
	Mariadbd: []string{Mysqld}, Client: []string{"mariadb"}, Binlog: []string{"mariadb-binlog"},
	Socket: "/run/mysqld/mysqld.sock", DataOwner: "mysql"}

// JobReport is what etcd's <kind>/last says of the newest job of a kind that ended.
type JobReport struct {
	Kind     string    `json:"kind"`
	ID       string    `json:"id"`
	Node     string    `json:"node"`
	Snapshot string    `json:"snapshot,omitempty"` // the snapshot written (backup, binlog) or restored (drill)
	Position string    `json:"position,omitempty"` // the GTID the archived binary logs reach (binlog)
	Bytes    int64     `json:"bytes"`
	Seconds  float64   `json:"seconds"`
	Tables   int       `json:"tables,omitempty"` // a drill's tables checked
	Digest   string    `json:"digest,omitempty"` // a drill's digest of the tables' checksums
	Error    string    `json:"error,omitempty"`
	Warning  string    `json:"warning,omitempty"` // a good snapshot, but its retention failed
	Finished time.Time `json:"finished"`
}

// BackupID names a job by its time (scheduled or requested), sortable as text.
func BackupID(t time.Time) string { return fmt.Sprintf("%020d", t.UnixNano()) }

// WithBackups turns the node's backup scheduler on (backup.Load's settings).
func (r *Runner) WithBackups(s backup.Settings) *Runner {
	r.backup = s
	return r
}

// scheduledJob is one kind of job in a node's scheduler.
type scheduledJob struct {
	kind     string
	schedule cron.Schedule // nil: on demand only
	next     time.Time
	handled  string // the last request settled
}

// scheduleBackups runs while the node runs: at each scheduled time of the backups and of the
// restore drills, and for each on-demand request, it offers to run the job (offerJob).
func (r *Runner) scheduleBackups(ctx context.Context) {
	const step = "backup"
	now := time.Now()
	jobs := []*scheduledJob{{kind: JobBackup, schedule: r.backup.Schedule}, {kind: JobDrill, schedule: r.backup.DrillSchedule}}
	if r.backup.PITR() { // on demand here (galera-agent backup archive); on its interval: scheduleArchives
		jobs = append(jobs, &scheduledJob{kind: JobBinlog})
	}
	for _, j := range jobs {
		if j.schedule != nil {
			j.next = j.schedule.Next(now)
		}
	}
	drills := "restore drills on demand only"
	if jobs[1].schedule != nil {
		drills = fmt.Sprintf("restore drills on schedule %q (next %s)", r.backup.DrillScheduleText, jobs[1].next.UTC().Format(time.RFC3339))
	}
	r.log.Note(step, "backups to %s on schedule %q (UTC; next %s), keeping %s; %s", r.backup.Repository,
		r.backup.ScheduleText, jobs[0].next.UTC().Format(time.RFC3339), r.backup.Keep, drills)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(backupPoll):
		}
		r.endStaleJob()
		for _, j := range jobs {
			if id, err := r.disc.Get(requestKey(j.kind)); err == nil && id != "" && id != j.handled && r.offerJob(ctx, j.kind, id, true) {
				j.handled = id
			}
			// A scheduled time not settled (this node not Synced, etcd away, an archive of
			// the binary logs running) is offered again at the next poll, until it is late.
			if j.schedule != nil && !time.Now().Before(j.next) &&
				(time.Since(j.next) >= backupLate || r.offerJob(ctx, j.kind, BackupID(j.next), false)) {
				j.next = j.schedule.Next(time.Now())
			}
		}
	}
}

// offerJob: this node's part in job `id` of `kind` (an on-demand `request`, or a scheduled
// time). It waits its place in backup.Rank times backupStandIn, then claims the job unless
// another node did or another job is running (one etcd transaction, ClaimJob: one node per
// job, one job at a time in the cluster), runs it and reports it in <kind>/last. True when
// the job is settled: claimed by this node or another, or a scheduled one skipped because
// another job is running; false when this node is not Synced, etcd fails, or a request meets
// a running job (offered again at the next poll).
func (r *Runner) offerJob(ctx context.Context, kind, id string, request bool) bool {
	step := kind
	recs, err := r.disc.Read(ctx)
	if err != nil {
		return false
	}
	place := backup.Place(recs.Nodes, r.cfg.NodeName)
	if place < 0 {
		return r.claimed(kind, id)
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Duration(place) * backupStandIn):
	}
	lease := r.disc.leaseID()
	claim, running, err := r.claimJob(kind, id, request, lease)
	if claim == claimWon {
		defer r.jobEnded()
	}
	switch {
	case err != nil:
		return false
	case claim == claimTaken:
		return true
	case claim == claimBusy && (request || runningKind(running) == JobBinlog):
		return false // a request, or a time that met a short archive: again at the next poll
	case claim == claimBusy && kind == JobBinlog:
		return true // the next interval archives what this one would have
	case claim == claimBusy:
		r.log.Warn(step, "scheduled %s %s skipped: %s is still running", kind, id, running)
		return true
	}
	defer func() {
		if err := r.disc.EndJob(kind, id); err != nil {
			r.log.Warn(step, "could not end %s %s in etcd (its key goes with this node's lease): %v", kind, id, err)
		}
	}()
	if kind != JobBinlog { // every interval: its log says only what it archived
		r.log.Note(step, "taking %s %s (place %d among the Synced nodes)", kind, id, place)
	}
	// The claim lasts as long as the lease: when it ends, another node may claim the next job
	// (and take the locks of this one for stale), so this one stops.
	jobCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go r.stopWithLease(jobCtx, lease, stop)
	var report JobReport
	switch kind {
	case JobDrill:
		report = r.drill(jobCtx, id)
	case JobBinlog:
		report = r.archiveBinlogs(jobCtx, id, recs)
	default:
		report = r.takeBackup(jobCtx, id, recs)
	}
	data, _ := json.Marshal(report)
	if err := r.disc.Put(lastKey(kind), string(data)); err != nil {
		r.log.Warn(step, "could not record %s %s in etcd: %v", kind, id, err)
	}
	_ = r.disc.DeleteBefore(claimsKey(kind), claimsKey(kind)+BackupID(time.Now().Add(-claimsKept)))
	return true
}

// claimJob is ClaimJob, counted as a job of this node when won, in one step against
// endStaleJob (which must never end a job that runs here).
func (r *Runner) claimJob(kind, id string, request bool, lease clientv3.LeaseID) (claimOutcome, string, error) {
	r.jobsMu.Lock()
	defer r.jobsMu.Unlock()
	claim, running, err := r.disc.ClaimJob(kind, id, request, lease)
	if err == nil && claim == claimWon {
		r.jobsRunning++
	}
	return claim, running, err
}

// jobEnded: a job claimJob counted has ended.
func (r *Runner) jobEnded() {
	r.jobsMu.Lock()
	defer r.jobsMu.Unlock()
	r.jobsRunning--
}

// endStaleJob ends a backup/running that names this node while it runs no job: one whose
// end could not be written (etcd away at that moment), which would block every job.
func (r *Runner) endStaleJob() {
	r.jobsMu.Lock()
	defer r.jobsMu.Unlock()
	if r.jobsRunning > 0 {
		return
	}
	if err := r.disc.EndStaleJob(); err != nil {
		r.log.Warn("backup", "%v", err)
	}
}

// errLeaseEnded stops a job whose claim ended with this node's etcd lease.
var errLeaseEnded = errors.New("this node's etcd lease ended, and its claim on the job with it")

// stopWithLease calls stop(errLeaseEnded) once `lease` is no longer kept alive (checked every
// second), until ctx ends.
func (r *Runner) stopWithLease(ctx context.Context, lease clientv3.LeaseID, stop context.CancelCauseFunc) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if r.disc.KeepAliveEnded() || r.disc.leaseID() != lease {
				stop(errLeaseEnded)
				return
			}
		}
	}
}

// takeBackup takes backup `id` on this node (backup.Take) and says how it went.
func (r *Runner) takeBackup(ctx context.Context, id string, recs Records) JobReport {
	const step = JobBackup
	lineage, err := r.disc.lineage()
	if err != nil {
		r.log.Error(step, "backup %s failed: %v", id, err)
		return JobReport{Kind: JobBackup, ID: id, Node: r.cfg.NodeName, Error: err.Error(), Finished: time.Now().UTC()}
	}
	// The lineage says which archived binary logs follow it (a point-in-time restore).
	job := backup.Job{Node: r.cfg.NodeName, Tags: []string{backup.LineageTag(lineage)}, OwnNode: ownNode(recs)}
	res, err := r.backup.Take(ctx, BackupPrograms, job)
	for _, l := range res.RemovedLocks {
		r.log.Note(step, "removed the %s: no backup of this cluster runs, so a killed backup left it", l)
	}
	report := JobReport{Kind: JobBackup, ID: id, Node: r.cfg.NodeName, Snapshot: res.Snapshot, Bytes: res.Bytes,
		Seconds: res.Duration.Seconds(), Warning: res.RetentionFailure, Finished: time.Now().UTC()}
	if err != nil {
		report.Error = err.Error()
		r.log.Error(step, "backup %s failed: %v", id, err)
	} else {
		r.log.Note(step, "backup %s: snapshot %s, %d bytes in %.1f s", id, res.Snapshot, res.Bytes, res.Duration.Seconds())
	}
	if res.PiecesForgotten > 0 {
		r.log.Note(step, "backup %s: removed %d pieces of archived binary logs older than the oldest backup kept", id, res.PiecesForgotten)
	}
	if res.RetentionFailure != "" {
		r.log.Warn(step, "backup %s: %s", id, res.RetentionFailure)
	}
	return report
}

// drill runs restore drill `id` on the newest snapshot (backup.Drill) and says how it went:
// an error when the snapshot does not restore or a table fails CHECK TABLE (named).
func (r *Runner) drill(ctx context.Context, id string) JobReport {
	const step = JobDrill
	res, err := r.backup.Drill(ctx, BackupPrograms, "latest")
	report := JobReport{Kind: JobDrill, ID: id, Node: r.cfg.NodeName, Snapshot: res.Snapshot.ID,
		Seconds: res.Duration.Seconds(), Tables: len(res.Tables), Finished: time.Now().UTC()}
	if bad := res.Failed(); err == nil && len(bad) > 0 {
		var names []string
		for _, t := range bad {
			names = append(names, fmt.Sprintf("%s (%s)", t.Name, t.Problem))
		}
		err = fmt.Errorf("snapshot %s restored, but %d of %d tables fail CHECK TABLE: %s", res.Snapshot.ID, len(bad), len(res.Tables), strings.Join(names, ", "))
	}
	if err != nil {
		report.Error = err.Error()
		r.log.Error(step, "restore drill %s FAILED: %v", id, err)
		return report
	}
	report.Digest = res.Digest()
	r.log.Note(step, "restore drill %s: snapshot %s (of %s at %s) restored and prepared, %d tables pass CHECK TABLE (checksum digest %s), in %.0f s",
		id, res.Snapshot.ID, res.Snapshot.Node, res.Snapshot.Time.UTC().Format(time.RFC3339), len(res.Tables), report.Digest, res.Duration.Seconds())
	return report
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

func (r *Runner) claimed(kind, id string) bool {
	v, err := r.disc.Get(claimsKey(kind) + id)
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

// ClaimJob claims job `id` of `kind` for this node in one transaction: only while no node has
// claimed it and no job runs (backup/running absent) and, for a request, while
// <kind>/request still holds id. It writes <kind>/claims/<id> = this node, backup/running =
// "<kind> <id> <node>" under `lease`, this node's (a node that dies mid-job frees it when the
// lease ends), and for a request deletes <kind>/request. running is backup/running's value
// ("<kind> <id> <node>"), when busy.
func (d *Discovery) ClaimJob(kind, id string, request bool, lease clientv3.LeaseID) (outcome claimOutcome, running string, err error) {
	ctx, cancel := timeout()
	defer cancel()
	claim, run, req := d.prefix+claimsKey(kind)+id, d.prefix+keyBackupRunning, d.prefix+requestKey(kind)
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(claim), "=", 0),
		clientv3.Compare(clientv3.CreateRevision(run), "=", 0)}
	ops := []clientv3.Op{clientv3.OpPut(claim, d.name), clientv3.OpPut(run, runningValue(kind, id, d.name), clientv3.WithLease(lease))}
	if request {
		cmps = append(cmps, clientv3.Compare(clientv3.Value(req), "=", id))
		ops = append(ops, clientv3.OpDelete(req))
	}
	resp, err := d.client().Txn(ctx).If(cmps...).Then(ops...).Else(clientv3.OpGet(claim), clientv3.OpGet(run)).Commit()
	if err != nil {
		return claimTaken, "", fmt.Errorf("claiming %s %s in %s: %w", kind, id, d.prefix, d.checked(err))
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

// runningValue is backup/running's value for job `id` of `kind` on `node`.
func runningValue(kind, id, node string) string { return kind + " " + id + " " + node }

// runningKind is the kind of the job a runningValue names ("" when none).
func runningKind(value string) string {
	kind, _, _, _ := runningJob(value)
	return kind
}

// runningJob reads a runningValue; ok is false for anything else (none running).
func runningJob(value string) (kind, id, node string, ok bool) {
	fields := strings.Fields(value)
	if len(fields) != 3 {
		return "", "", "", false
	}
	return fields[0], fields[1], fields[2], true
}

// EndJob deletes backup/running if it still holds this node's job `id` (one transaction).
func (d *Discovery) EndJob(kind, id string) error {
	ctx, cancel := timeout()
	defer cancel()
	run := d.prefix + keyBackupRunning
	_, err := d.client().Txn(ctx).If(clientv3.Compare(clientv3.Value(run), "=", runningValue(kind, id, d.name))).
		Then(clientv3.OpDelete(run)).Commit()
	if err != nil {
		return fmt.Errorf("ending %s %s in %s: %w", kind, id, d.prefix, d.checked(err))
	}
	return nil
}

// EndStaleJob deletes backup/running when it names this node (one transaction on the value
// read): called only while this node runs no job.
func (d *Discovery) EndStaleJob() error {
	running, err := d.Get(keyBackupRunning)
	if _, _, node, ok := runningJob(running); err != nil || !ok || node != d.name {
		return nil
	}
	ctx, cancel := timeout()
	defer cancel()
	run := d.prefix + keyBackupRunning
	if _, err := d.client().Txn(ctx).If(clientv3.Compare(clientv3.Value(run), "=", running)).Then(clientv3.OpDelete(run)).Commit(); err != nil {
		return fmt.Errorf("ending the stale %s in %s: %w", running, d.prefix, d.checked(err))
	}
	return nil
}

// Request puts <kind>/request = id unless a request is pending (one transaction): the id of
// the request to wait for, this one or the pending one.
func (d *Discovery) Request(kind, id string) (string, error) {
	ctx, cancel := timeout()
	defer cancel()
	req := d.prefix + requestKey(kind)
	resp, err := d.client().Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(req), "=", 0)).
		Then(clientv3.OpPut(req, id)).Else(clientv3.OpGet(req)).Commit()
	if err != nil {
		return "", fmt.Errorf("requesting a %s in %s: %w", kind, d.prefix, d.checked(err))
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

// RequestJob is `galera-agent backup now|drill`: it asks the cluster's schedulers for a job
// of `kind` (etcd <kind>/request; when a request is pending, it waits for that one: two
// callers at once share one job) and waits up to `wait` for its report in <kind>/last. An
// error when the job failed (its report's error) or no report came in time.
func RequestJob(kind string, endpoints []string, login config.EtcdLogin, prefix string, wait time.Duration) (JobReport, error) {
	d, closeDiscovery, err := dialDiscovery(endpoints, login, prefix)
	if err != nil {
		return JobReport{}, err
	}
	defer closeDiscovery()
	id, err := d.Request(kind, BackupID(time.Now()))
	if err != nil {
		return JobReport{}, err
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		time.Sleep(2 * time.Second)
		v, err := d.Get(lastKey(kind))
		if err != nil {
			continue
		}
		var rep JobReport
		if json.Unmarshal([]byte(v), &rep) == nil && rep.ID == id {
			if rep.Error != "" {
				return rep, errors.New(rep.Error)
			}
			return rep, nil
		}
	}
	node, _ := d.Get(claimsKey(kind) + id)
	if node == "" {
		running, _ := d.Get(keyBackupRunning)
		if running != "" {
			return JobReport{}, fmt.Errorf("no node took %s %s within %s: the cluster is still running %s (etcd %s%s)", kind, id, wait, running, d.prefix, keyBackupRunning)
		}
		return JobReport{}, fmt.Errorf("no node took %s %s within %s: is a Galera node Synced, with backups configured (BACKUP_REPOSITORY)?", kind, id, wait)
	}
	return JobReport{}, fmt.Errorf("%s took %s %s but reported no end within %s (its log says more)", node, kind, id, wait)
}

// BackupState is etcd's word on the cluster's backup jobs.
type BackupState struct {
	LastBackup *JobReport // the newest backup that ended (nil: none yet)
	LastDrill  *JobReport // the newest restore drill that ended (nil: none yet)
	LastPiece  *JobReport // the newest archive of binary logs that ended (nil: none yet)
	Running    string     // "<kind> <id>" of the job being run ("": none)
	RunningOn  string     // the node running it
}

// ReadBackupState reads <kind>/last and backup/running (`galera-agent backup list`).
func ReadBackupState(endpoints []string, login config.EtcdLogin, prefix string) (BackupState, error) {
	d, closeDiscovery, err := dialDiscovery(endpoints, login, prefix)
	if err != nil {
		return BackupState{}, err
	}
	defer closeDiscovery()
	var st BackupState
	if st.LastBackup, err = d.lastReport(JobBackup); err != nil {
		return st, err
	}
	if st.LastDrill, err = d.lastReport(JobDrill); err != nil {
		return st, err
	}
	if st.LastPiece, err = d.lastReport(JobBinlog); err != nil {
		return st, err
	}
	running, err := d.Get(keyBackupRunning)
	if kind, id, node, ok := runningJob(running); ok {
		st.Running, st.RunningOn = kind+" "+id, node
	}
	return st, err
}

// lastReport is <kind>/last (nil: no job of the kind ended yet).
func (d *Discovery) lastReport(kind string) (*JobReport, error) {
	v, err := d.Get(lastKey(kind))
	if err != nil || v == "" {
		return nil, err
	}
	var rep JobReport
	if err := json.Unmarshal([]byte(v), &rep); err != nil {
		return nil, fmt.Errorf("reading %s%s: %w", d.prefix, lastKey(kind), err)
	}
	return &rep, nil
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
