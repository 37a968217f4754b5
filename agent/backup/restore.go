package backup

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Restored is what Restore wrote: the snapshot and the Galera position it holds.
type Restored struct {
	Snapshot Snapshot
	UUID     string    // the cluster's state uuid at the backup (xtrabackup_galera_info)
	Seqno    int64     // its seqno
	Replayed *Replayed // the archived binary logs applied after it (nil: no point in time)
}

// RestoreWorkDir is the work directory inside the data directory: on the same file system, so
// the prepared files move into place by rename (a volume may not have room for two copies).
const RestoreWorkDir = ".restore"

// mariabackup's own files in a backup, which are no part of a data directory.
var backupMetadata = []string{"xtrabackup_", "mariadb_backup_", "backup-my.cnf"}

// Restore writes snapshot `snapshot` ("latest": the newest with SnapshotTag) into dataDir,
// prepared, owned by p.DataOwner: restic dump | mbstream -x into a work directory,
// `mariabackup --prepare`, the files moved into dataDir, and grastate.dat written from the
// backup's xtrabackup_galera_info with safe_to_bootstrap: 1 (last, so that a restore cut
// before leaves no grastate), so the node bootstraps a cluster that goes on from the
// backup's position (the others join it by SST). With `until` (non-zero), "latest" is the
// newest snapshot taken before it, and the archived binary logs of the snapshot's lineage are
// replayed onto the restored data up to it (replay) before grastate.dat is written.
// dataDir must hold nothing but an earlier
// restore's work directory (a restore never overwrites data: the caller checks grastate
// first; an error names what is there). Errors name the step.
func (s Settings) Restore(ctx context.Context, p Programs, snapshot, dataDir string, until time.Time) (Restored, error) {
	chosen, err := s.findSnapshot(ctx, p, snapshot, until)
	if err != nil {
		return Restored{}, err
	}
	work := filepath.Join(dataDir, RestoreWorkDir)
	if err := os.RemoveAll(work); err != nil {
		return Restored{}, fmt.Errorf("removing an earlier restore's %s: %w", work, err)
	}
	if entries, err := os.ReadDir(dataDir); err != nil {
		return Restored{}, fmt.Errorf("reading %s: %w", dataDir, err)
	} else if len(entries) > 0 {
		return Restored{}, fmt.Errorf("refusing to restore into %s: it is not empty (%s ...)", dataDir, entries[0].Name())
	}
	if err := os.Mkdir(work, 0o700); err != nil {
		return Restored{}, fmt.Errorf("making %s: %w", work, err)
	}
	if err := s.extract(ctx, p, chosen.FullID, work); err != nil {
		return Restored{}, err
	}
	prepare := exec.CommandContext(ctx, p.Mariabackup[0], append(p.Mariabackup[1:], "--prepare", "--target-dir="+work)...)
	var log tail
	prepare.Stdout, prepare.Stderr = &log, &log
	if err := prepare.Run(); err != nil {
		return Restored{}, fmt.Errorf("mariabackup --prepare of snapshot %s failed (%v): %s", chosen.ID, err, log.last())
	}
	info, err := os.ReadFile(filepath.Join(work, "xtrabackup_galera_info"))
	if err != nil {
		return Restored{}, fmt.Errorf("snapshot %s holds no Galera position (xtrabackup_galera_info): %w", chosen.ID, err)
	}
	uuid, seqno, err := ParseGaleraInfo(string(info))
	if err != nil {
		return Restored{}, fmt.Errorf("snapshot %s: %w", chosen.ID, err)
	}
	var start GTID
	if !until.IsZero() {
		position, _ := os.ReadFile(filepath.Join(work, binlogInfo))
		if start, err = BackupPosition(string(position)); err != nil {
			return Restored{}, fmt.Errorf("snapshot %s: %w", chosen.ID, err)
		}
		// restic's time is the backup's start; its position is from near its end.
		info, _ := os.ReadFile(filepath.Join(work, "xtrabackup_info"))
		ended, err := backupEnd(string(info))
		if err != nil {
			return Restored{}, fmt.Errorf("snapshot %s: %w", chosen.ID, err)
		}
		if !ended.Before(until) {
			return Restored{}, fmt.Errorf("snapshot %s ended at %s, not before the point in time %s (its data is from its end): set restore.snapshot to an older snapshot from `make backups`",
				chosen.ID, ended.Format(time.RFC3339), until.UTC().Format(time.RFC3339Nano))
		}
	}
	// grastate.dat comes last: until it is there, the directory holds no data as the agent
	// sees it (HasData), so a restore cut anywhere before is started again from empty.
	if p.DataOwner != "" {
		// dataDir holds only the work directory now: one walk gives both to the owner.
		if err := chownTree(dataDir, p.DataOwner); err != nil {
			return Restored{}, err
		}
	}
	if err := moveInto(work, dataDir); err != nil {
		return Restored{}, err
	}
	restored := Restored{Snapshot: chosen, UUID: uuid, Seqno: seqno}
	if !until.IsZero() {
		replayed, err := s.replay(ctx, p, chosen, start, dataDir, work, until)
		if err != nil {
			return Restored{}, err
		}
		if err := os.RemoveAll(work); err != nil {
			return Restored{}, fmt.Errorf("removing %s: %w", work, err)
		}
		restored.Replayed = &replayed
	}
	grastate := fmt.Sprintf("# GALERA saved state\nversion: 2.1\nuuid:    %s\nseqno:   %d\nsafe_to_bootstrap: 1\n", uuid, seqno)
	if err := writeSynced(filepath.Join(dataDir, "grastate.dat"), []byte(grastate), p.DataOwner); err != nil {
		return Restored{}, fmt.Errorf("writing grastate.dat: %w", err)
	}
	return restored, nil
}

// findSnapshot is the snapshot `want` names among this project's ("latest": the newest, or
// with `until` the newest taken before it; an id: the one whose id starts with it, which must
// be older than `until`). An error when there is none, naming what there is.
func (s Settings) findSnapshot(ctx context.Context, p Programs, want string, until time.Time) (Snapshot, error) {
	snaps, err := s.snapshotList(ctx, p)
	if err != nil {
		return Snapshot{}, err
	}
	if len(snaps) == 0 {
		return Snapshot{}, fmt.Errorf("the repository %s holds no backup of this project (tag %s) to restore", s.Repository, SnapshotTag)
	}
	before := func(sn Snapshot) bool { return until.IsZero() || sn.Time.Before(until) }
	if want == "latest" {
		for i := len(snaps) - 1; i >= 0; i-- {
			if before(snaps[i]) {
				return snaps[i], nil
			}
		}
		return Snapshot{}, fmt.Errorf("the repository %s holds no backup taken before the point in time %s (the oldest is %s of %s): choose a later point in time",
			s.Repository, until.UTC().Format(time.RFC3339), snaps[0].ID, snaps[0].Time.UTC().Format(time.RFC3339))
	}
	for _, sn := range snaps {
		if strings.HasPrefix(sn.FullID, want) {
			if !before(sn) {
				return Snapshot{}, fmt.Errorf("snapshot %s was taken at %s, after the point in time %s: choose an older snapshot, or `latest`",
					sn.ID, sn.Time.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339))
			}
			return sn, nil
		}
	}
	return Snapshot{}, fmt.Errorf("the repository %s holds no snapshot %s; its newest is %s (%s): set RESTORE_SNAPSHOT to one that `galera-agent backup list` shows",
		s.Repository, want, snaps[len(snaps)-1].ID, snaps[len(snaps)-1].Time.UTC().Format("2006-01-02 15:04:05"))
}

// extract streams the snapshot's mbstream out of restic into `mbstream -x -C dir`.
func (s Settings) extract(ctx context.Context, p Programs, id, dir string) error {
	dump, sshLog, err := s.resticCommand(ctx, p, "dump", id, "/"+StreamName)
	if err != nil {
		return err
	}
	defer sshLog.remove()
	unpack := exec.CommandContext(ctx, p.Mbstream[0], append(p.Mbstream[1:], "-x", "-C", dir)...)
	var dumpLog, unpackLog tail
	dump.Stderr, unpack.Stderr = &dumpLog, &unpackLog
	stream, err := dump.StdoutPipe()
	if err != nil {
		return fmt.Errorf("piping restic dump: %w", err)
	}
	unpack.Stdin = stream
	ownGroup(dump) // restic and its ssh end with the agent, or with ctx
	if err := dump.Start(); err != nil {
		return fmt.Errorf("starting restic dump: %w", err)
	}
	unpackErr := unpack.Run()
	if unpackErr != nil {
		_ = stream.Close() // restic's next write fails, and it ends
	}
	dumpErr := dump.Wait()
	cutByUs := unpackErr != nil && strings.Contains(dumpLog.String(), "broken pipe")
	if dumpErr != nil && !cutByUs {
		// restic failed on its own (a damaged pack, the repository gone): its cause first.
		return resticFailure("reading snapshot "+id, s.Repository, dumpLog.String(), sshLog.read())
	}
	if unpackErr != nil {
		return fmt.Errorf("mbstream -x of snapshot %s failed (%v): %s", id, unpackErr, unpackLog.last())
	}
	return nil
}

// ParseGaleraInfo reads mariabackup's xtrabackup_galera_info, "<uuid>:<seqno>" (MariaDB 10.11
// may add a GTID after a space): the cluster's state uuid and seqno at the backup.
func ParseGaleraInfo(text string) (uuid string, seqno int64, err error) {
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return "", 0, fmt.Errorf("xtrabackup_galera_info is empty")
	}
	u, n, ok := strings.Cut(fields[0], ":")
	seqno, convErr := strconv.ParseInt(n, 10, 64)
	if !ok || len(u) != 36 || convErr != nil {
		return "", 0, fmt.Errorf("xtrabackup_galera_info %q is not <uuid>:<seqno>", fields[0])
	}
	return u, seqno, nil
}

// writeSynced writes data to path, flushed to disk (fsync), owned by `owner` ("": as is).
func writeSynced(path string, data []byte, owner string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o660)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if owner != "" {
		return chownTree(path, owner)
	}
	return nil
}

// moveInto renames the entries of work into dir (mariabackup's metadata files are left
// out), then removes work.
func moveInto(work, dir string) error {
	entries, err := os.ReadDir(work)
	if err != nil {
		return fmt.Errorf("reading %s: %w", work, err)
	}
	for _, e := range entries {
		if isBackupMetadata(e.Name()) {
			continue
		}
		if err := os.Rename(filepath.Join(work, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("moving the restored %s into %s: %w", e.Name(), dir, err)
		}
	}
	if err := os.RemoveAll(work); err != nil {
		return fmt.Errorf("removing %s: %w", work, err)
	}
	return nil
}

func isBackupMetadata(name string) bool {
	for _, prefix := range backupMetadata {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

// chownTree gives dir and everything under it to the OS user `owner`.
func chownTree(dir, owner string) error {
	u, err := user.Lookup(owner)
	if err != nil {
		return fmt.Errorf("looking up the user %s: %w", owner, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(path, uid, gid); err != nil {
			return fmt.Errorf("giving %s to %s: %w", path, owner, err)
		}
		return nil
	})
}
