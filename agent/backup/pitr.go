package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// GTIDDomain is the one replication domain of the cluster's GTIDs (wsrep_gtid_domain_id).
const GTIDDomain = 0

// BinlogCnf are the [mysqld] lines of binary logging for point-in-time recovery, the same
// on every node (MariaDB's "Using MariaDB GTIDs with MariaDB Galera Cluster": wsrep_gtid_mode
// with one wsrep_gtid_domain_id and one server_id on all nodes, log_slave_updates so that a
// node logs the write sets it applies). Logs older than a day go: the archive holds them by
// then, unless archiving failed for a day, which the next piece then shows as a gap.
func BinlogCnf() string {
	return fmt.Sprintf("log_bin = mysql-bin\nlog_slave_updates = ON\nserver_id = 1\nwsrep_gtid_mode = ON\n"+
		"wsrep_gtid_domain_id = %d\nbinlog_expire_logs_seconds = 86400\n", GTIDDomain)
}

// ArchiveJob is one archive run of a node's binary logs: the node (restic's --host), the
// directory its logs are in, the cluster's lineage, and which lock holders are this
// cluster's nodes (as Job.OwnNode).
type ArchiveJob struct {
	Node, BinlogDir, Lineage string
	OwnNode                  func(hostname string) bool
}

// ArchiveResult is one archive run: the piece written ("" when there was nothing new) and
// what it holds.
type ArchiveResult struct {
	Snapshot     string
	Plan         ArchivePlan
	RemovedLocks []Lock
}

// ArchiveBinlogs closes the binary log being written (FLUSH LOCAL BINARY LOGS) and sends the
// closed logs that hold every transaction after the lineage's newest piece as one piece
// (PlanArchive; tags PieceTags). The repository's pieces are the only record of what is
// archived, so any node can take over from any other. Errors name the step.
func (s Settings) ArchiveBinlogs(ctx context.Context, p Programs, job ArchiveJob) (ArchiveResult, error) {
	if err := s.EnsureRepository(ctx, p); err != nil {
		return ArchiveResult{}, err
	}
	res := ArchiveResult{RemovedLocks: s.clearLocks(ctx, p, job.OwnNode)}
	pieces, err := s.Pieces(ctx, p)
	if err != nil {
		return res, err
	}
	var last GTID
	archived := false
	for _, pc := range pieces {
		if pc.Lineage == job.Lineage && (!archived || pc.To.Seq > last.Seq) {
			last, archived = pc.To, true
		}
	}
	// Nothing written since the last piece: no FLUSH either (a log a minute would pile up).
	if pos, err := s.local(ctx, p, "SELECT @@gtid_binlog_pos"); err != nil {
		return res, fmt.Errorf("reading the binary log position: %w", err)
	} else if g, ok, err := ParseGTIDList(pos, GTIDDomain); err != nil {
		return res, fmt.Errorf("reading the binary log position: %w", err)
	} else if !ok || (archived && g.Seq <= last.Seq) {
		return res, nil
	}
	files, err := s.binlogFiles(ctx, p)
	if err != nil {
		return res, err
	}
	plan, ok := PlanArchive(files, last, archived)
	if !ok {
		return res, nil
	}
	res.Plan = plan
	args := []string{"backup", "--host", job.Node, "--tag", BinlogTag, "--json"}
	for _, t := range PieceTags(plan.From, plan.To, job.Lineage) {
		args = append(args, "--tag", t)
	}
	for _, f := range plan.Files {
		args = append(args, filepath.Join(job.BinlogDir, f))
	}
	sent, err := s.restic(ctx, p, nil, args...)
	if err != nil {
		return res, sent.failure("archiving the binary logs "+strings.Join(plan.Files, " "), s.Repository)
	}
	if res.Snapshot, err = snapshotID([]byte(sent.stdout)); err != nil {
		return res, err
	}
	return res, nil
}

// binlogFiles closes the binary log being written and lists the node's logs, oldest first,
// each with the position at its start (its Gtid_list event).
func (s Settings) binlogFiles(ctx context.Context, p Programs) ([]BinlogFile, error) {
	listed, err := s.local(ctx, p, "FLUSH LOCAL BINARY LOGS; SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("closing the binary log (FLUSH BINARY LOGS): %w", err)
	}
	var names []string
	var query strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(listed), "\n") {
		if name, _, _ := strings.Cut(line, "\t"); name != "" {
			names = append(names, name)
			fmt.Fprintf(&query, "SHOW BINLOG EVENTS IN '%s' LIMIT 3;\n", name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("the server lists no binary log: is log_bin on (BACKUP_PITR_INTERVAL)?")
	}
	events, err := s.local(ctx, p, query.String())
	if err != nil {
		return nil, fmt.Errorf("reading the binary logs' start positions: %w", err)
	}
	return ParseBinlogStarts(names, events)
}

// ParseBinlogStarts reads the start of each log in names from SHOW BINLOG EVENTS rows
// (mariadb -N -B: log, pos, event type, server id, end pos, info): the Info of its
// Gtid_list event. An error when a Gtid_list does not parse.
func ParseBinlogStarts(names []string, events string) ([]BinlogFile, error) {
	byName := map[string]BinlogFile{}
	for _, line := range strings.Split(events, "\n") {
		cols := strings.Split(line, "\t")
		if len(cols) < 6 || cols[2] != "Gtid_list" {
			continue
		}
		g, ok, err := ParseGTIDList(cols[5], GTIDDomain)
		if err != nil {
			return nil, fmt.Errorf("binary log %s: %w", cols[0], err)
		}
		byName[cols[0]] = BinlogFile{Name: cols[0], Start: g, Known: ok}
	}
	files := make([]BinlogFile, 0, len(names))
	for _, n := range names {
		f := byName[n]
		f.Name = n
		files = append(files, f)
	}
	return files, nil
}

// local runs statements on the node's own server as root (unix_socket): tab-separated rows.
func (s Settings) local(ctx context.Context, p Programs, sql string) (string, error) {
	return runClient(ctx, p, p.Socket, strings.NewReader(sql), "-N", "-B")
}

// Pieces lists the archived binary logs in the repository (pieces whose tags do not read
// are left out); none when there is no repository yet.
func (s Settings) Pieces(ctx context.Context, p Programs) ([]Piece, error) {
	listed, err := s.restic(ctx, p, nil, "--no-lock", "snapshots", "--tag", BinlogTag, "--json")
	if err != nil && repositoryMissing(listed.stderr) {
		return nil, nil
	}
	if err != nil {
		return nil, listed.failure("listing the archived binary logs", s.Repository)
	}
	var snaps []Snapshot
	if err := json.Unmarshal([]byte(listed.stdout), &snaps); err != nil {
		return nil, fmt.Errorf("reading restic's list of archived binary logs: %w", err)
	}
	var pieces []Piece
	for _, sn := range snaps {
		if pc, err := PieceOf(sn); err == nil {
			pieces = append(pieces, pc)
		}
	}
	return pieces, nil
}

// forgetObsoletePieces forgets the archived binary logs that no kept backup needs
// (ObsoletePieces), after the retention policy ran; gives how many. The prune after it
// removes their data.
func (s Settings) forgetObsoletePieces(ctx context.Context, p Programs) (int, error) {
	backups, err := s.snapshotList(ctx, p)
	if err != nil {
		return 0, err
	}
	pieces, err := s.Pieces(ctx, p)
	if err != nil {
		return 0, err
	}
	obsolete := ObsoletePieces(pieces, backups)
	// In batches, to keep each command line short.
	const batch = 500
	for start := 0; start < len(obsolete); start += batch {
		args := []string{"forget"}
		for _, pc := range obsolete[start:min(start+batch, len(obsolete))] {
			args = append(args, pc.Snapshot.FullID) // short ids may be ambiguous among thousands
		}
		if forgot, err := s.restic(ctx, p, nil, args...); err != nil {
			return start, forgot.failure("removing archived binary logs older than the oldest kept backup", s.Repository)
		}
	}
	return len(obsolete), nil
}

// Replayed is what a point-in-time restore applied after the backup.
type Replayed struct {
	Pieces  int
	Through GTID      // the last transaction applied (the backup's own position when none)
	Reached time.Time // the archive's end when it ends before the point in time (zero otherwise)
}

// binlogInfo is mariabackup's record of the binary log position of a backup
// (xtrabackup_binlog_info: "file<TAB>pos<TAB>gtid list").
const binlogInfo = "xtrabackup_binlog_info"

// BackupPosition reads the GTID of a backup from xtrabackup_binlog_info's text; an error when
// the backup was taken without binary logs.
func BackupPosition(info string) (GTID, error) {
	fields := strings.Fields(info)
	if len(fields) < 3 {
		return GTID{}, fmt.Errorf("it was taken without binary logs (%s: %q), so it cannot be replayed to a point in time; restore it without a point in time", binlogInfo, strings.TrimSpace(info))
	}
	g, ok, err := ParseGTIDList(fields[2], GTIDDomain)
	if err != nil {
		return GTID{}, fmt.Errorf("%s: %w", binlogInfo, err)
	}
	if !ok {
		g = GTID{Domain: GTIDDomain, Server: 1}
	}
	return g, nil
}

// replay applies the archived binary logs of the backup's lineage after `start` up to
// `until` (ReplayPlan; each piece checked whole by CheckCovers, cut by CutAt) to the
// restored data in dataDir, through a private server:
// the data holds the transactions, and the cluster that bootstraps from it replicates them
// to every node by state transfer. Pieces are fetched into work, which the caller removes.
func (s Settings) replay(ctx context.Context, p Programs, chosen Snapshot, start GTID, dataDir, work string, until time.Time) (Replayed, error) {
	lineage := Lineage(chosen.Tags)
	if lineage == "" {
		return Replayed{}, fmt.Errorf("snapshot %s was taken before binary logs were archived (it has no lineage tag), so it cannot be replayed to a point in time; restore it without a point in time", chosen.ID)
	}
	pieces, err := s.Pieces(ctx, p)
	if err != nil {
		return Replayed{}, err
	}
	backups, err := s.snapshotList(ctx, p)
	if err != nil {
		return Replayed{}, err
	}
	if other, ok := OtherLineageSince(pieces, backups, lineage, chosen.Time, until); ok {
		return Replayed{}, fmt.Errorf("the cluster started anew between snapshot %s (%s) and the point in time %s: %s of %s at %s belongs to a later cluster (lineage %s), whose history the point in time is in; restore one of its snapshots instead",
			chosen.ID, chosen.Time.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339), other.ID, other.Node, other.Time.UTC().Format(time.RFC3339), Lineage(other.Tags))
	}
	steps, reached, err := ReplayPlan(pieces, lineage, start, until)
	if err != nil {
		return Replayed{}, fmt.Errorf("snapshot %s: %w", chosen.ID, err)
	}
	done := Replayed{Through: start, Reached: reached}
	if len(steps) == 0 {
		if reached.IsZero() {
			done.Reached = chosen.Time
		}
		return done, nil
	}
	if err := os.MkdirAll(work, 0o711); err != nil { // the private server runs as DataOwner
		return done, fmt.Errorf("making %s: %w", work, err)
	}
	server, err := startPrivateServer(ctx, p, dataDir, work)
	if err != nil {
		return done, fmt.Errorf("replaying onto snapshot %s: %w", chosen.ID, err)
	}
	defer server.stop()
	for _, step := range steps {
		files, err := s.fetchPiece(ctx, p, step.Piece, filepath.Join(work, step.Piece.Snapshot.ID))
		if err != nil {
			return done, err
		}
		decoded, err := decodeBinlogs(ctx, p, files, step.After, step.Through)
		if err != nil {
			return done, err
		}
		if err := CheckCovers(decoded, step.After, step.Through); err != nil {
			return done, fmt.Errorf("piece %s of %s: %w", step.Piece.Snapshot.ID, step.Piece.Snapshot.Node, err)
		}
		last, ok, err := CutAt(decoded, until)
		switch {
		case err != nil:
			return done, err
		case !ok: // its first transaction is at or after the point in time
			return done, nil
		case last.Seq < step.Through.Seq:
			if decoded, err = decodeBinlogs(ctx, p, files, step.After, last); err != nil {
				return done, err
			}
		}
		if err := server.apply(strings.NewReader(decoded)); err != nil {
			return done, fmt.Errorf("replaying the binary logs of piece %s (%s to %s): %w", step.Piece.Snapshot.ID, step.After, last, err)
		}
		done.Pieces, done.Through = done.Pieces+1, last
		if last.Seq < step.Through.Seq {
			return done, nil
		}
	}
	return done, nil
}

// fetchPiece restores a piece's files into dir and gives their paths in name order (the
// server's order of its logs).
func (s Settings) fetchPiece(ctx context.Context, p Programs, pc Piece, dir string) ([]string, error) {
	if got, err := s.restic(ctx, p, nil, "restore", pc.Snapshot.FullID, "--target", dir); err != nil {
		return nil, got.failure("reading the archived binary logs "+pc.Snapshot.ID, s.Repository)
	}
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, path)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("the archived binary logs %s hold no file (%v)", pc.Snapshot.ID, err)
	}
	slices.SortFunc(files, func(a, b string) int { return strings.Compare(filepath.Base(a), filepath.Base(b)) })
	return files, nil
}

// decodeBinlogs is mariadb-binlog's text of the transactions in (after, through] of files,
// its times in UTC (CutAt reads them).
func decodeBinlogs(ctx context.Context, p Programs, files []string, after, through GTID) (string, error) {
	args := append(slices.Clone(p.Binlog[1:]), "--start-position="+after.String(), "--stop-position="+through.String())
	cmd := exec.CommandContext(ctx, p.Binlog[0], append(args, files...)...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("mariadb-binlog of %s to %s failed (%v): %s", after, through, err, lastLine(errOut.String()))
	}
	return out.String(), nil
}
