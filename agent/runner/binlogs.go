package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/galera-swarm/galera-swarm/agent/backup"
)

// JobBinlog archives the closed binary logs (point-in-time recovery): a job like a backup
// (one node per interval, one job at a time in the cluster), every BACKUP_PITR_INTERVAL.
const JobBinlog = "binlog"

// keyLineage holds the cluster's lineage (backup.LineageTag): written by the node that
// bootstraps a new cluster (empty or from a backup), kept by a recovered one.
const keyLineage = "lineage"

// newLineage is a new lineage id: 16 random hex digits.
func newLineage() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("drawing a lineage id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// startLineage records a new lineage for a cluster this node bootstraps anew: its GTIDs may
// repeat numbers of an earlier history (a restored backup's), whose archived binary logs
// must never be replayed onto this one's backups.
func (r *Runner) startLineage() error {
	id, err := newLineage()
	if err != nil {
		return err
	}
	if err := r.disc.Put(keyLineage, id); err != nil {
		return err
	}
	r.log.Note("lineage", "a new cluster: lineage %s (its backups and archived binary logs carry it)", id)
	return nil
}

// lineage is the cluster's lineage; a cluster that has none yet (it started before binary
// logs were archived) gets one, in one transaction that every node agrees on.
func (d *Discovery) lineage() (string, error) {
	id, err := newLineage()
	if err != nil {
		return "", err
	}
	ctx, cancel := timeout()
	defer cancel()
	key := d.prefix + keyLineage
	resp, err := d.client().Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, id)).Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return "", fmt.Errorf("reading the lineage %s: %w", key, d.checked(err))
	}
	if resp.Succeeded {
		return id, nil
	}
	return string(resp.Responses[0].GetResponseRange().Kvs[0].Value), nil
}

// scheduleArchives runs while the node runs: every BACKUP_PITR_INTERVAL it offers to archive
// the binary logs (offerJob); apart from scheduleBackups, so that its places' waits never
// hold up a backup.
func (r *Runner) scheduleArchives(ctx context.Context) {
	r.log.Note(JobBinlog, "binary logs archived to %s every %s (point-in-time recovery)", r.backup.Repository, r.backup.PITRInterval)
	every := r.backup.PITRInterval
	for {
		// In the middle of each interval: cron's times (backups, drills) are whole minutes.
		next := time.Now().Truncate(every).Add(every / 2)
		if !next.After(time.Now()) {
			next = next.Add(every)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		r.offerJob(ctx, JobBinlog, BackupID(next), false)
	}
}

// archiveBinlogs archives this node's closed binary logs (backup.ArchiveBinlogs) and says
// how it went; a run with nothing new says nothing.
func (r *Runner) archiveBinlogs(ctx context.Context, id string, recs Records) JobReport {
	report := JobReport{Kind: JobBinlog, ID: id, Node: r.cfg.NodeName}
	started := time.Now()
	lineage, err := r.disc.lineage()
	if err == nil {
		var res backup.ArchiveResult
		res, err = r.backup.ArchiveBinlogs(ctx, BackupPrograms, backup.ArchiveJob{Node: r.cfg.NodeName, BinlogDir: DataDir, Lineage: lineage, OwnNode: ownNode(recs)})
		for _, l := range res.RemovedLocks {
			r.log.Note(JobBinlog, "removed the %s: no job of this cluster runs, so a killed one left it", l)
		}
		if report.Snapshot = res.Snapshot; res.Snapshot != "" {
			report.Position = res.Plan.To.String()
		}
		switch {
		case err == nil && res.Plan.Gap:
			report.Warning = fmt.Sprintf("the binary logs on %s begin after the archive's end (they reach back to %s): a point-in-time restore of an older backup stops before this piece", r.cfg.NodeName, res.Plan.From)
			r.log.Warn(JobBinlog, "%s", report.Warning)
		case err == nil && res.Snapshot != "":
			r.log.Note(JobBinlog, "archived the binary logs %v as piece %s: transactions after %s up to %s", res.Plan.Files, res.Snapshot, res.Plan.From, res.Plan.To)
		}
	}
	report.Seconds, report.Finished = time.Since(started).Seconds(), time.Now().UTC()
	if err != nil {
		report.Error = err.Error()
		r.log.Error(JobBinlog, "archiving the binary logs failed: %v", err)
	}
	return report
}
