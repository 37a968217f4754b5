package backup

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"
)

// Programs are the commands Take and Restore run (the image's; fakes in tests).
type Programs struct {
	Mariabackup []string // e.g. {"mariabackup"}
	Mbstream    []string // e.g. {"mbstream"}
	Restic      []string // e.g. {"restic"}
	Mariadbd    []string // e.g. {"mariadbd"} (a restore drill's private server)
	Client      []string // e.g. {"mariadb"} (the drill's checks, the replay, the archive's queries)
	Binlog      []string // e.g. {"mariadb-binlog"} (a point-in-time restore's decoding)
	Socket      string   // mariadbd's socket (root logs in through unix_socket)
	DataOwner   string   // the OS user a restored data directory goes to ("": left as is)
}

// Job is one backup to take: the node it is of (restic's --host), tags besides SnapshotTag,
// and which lock holders' hostnames are this cluster's nodes (their locks are stale while
// this backup runs, clearLocks; nil: restic's staleness rule only).
type Job struct {
	Node    string
	Tags    []string
	OwnNode func(hostname string) bool
}

// Result is one backup: the restic snapshot, the bytes of mariabackup's stream, how long,
// and the locks of killed backups that were removed first.
type Result struct {
	Snapshot     string        `json:"snapshot"`
	Bytes        int64         `json:"bytes"`
	Duration     time.Duration `json:"duration_ns"`
	RemovedLocks []Lock        `json:"-"`
	// RetentionFailure: why `restic forget --prune` failed after the snapshot ("": it ran).
	RetentionFailure string `json:"-"`
	// PiecesForgotten: the archived binary logs that retention removed (ObsoletePieces).
	PiecesForgotten int `json:"-"`
}

// summary is the last line of `restic backup --json` (restic 0.14's message_type "summary").
type summary struct {
	MessageType string `json:"message_type"`
	SnapshotID  string `json:"snapshot_id"`
}

// EnsureRepository makes the repository when restic finds none there (`restic init`); an
// error names the cause (wrong password, unreachable, a refused host key).
func (s Settings) EnsureRepository(ctx context.Context, p Programs) error {
	opened, err := s.restic(ctx, p, nil, "cat", "config")
	if err == nil {
		return nil
	}
	if !repositoryMissing(opened.stderr) {
		return opened.failure("opening the backup repository", s.Repository)
	}
	if made, err := s.restic(ctx, p, nil, "init"); err != nil {
		return made.failure("making the backup repository", s.Repository)
	}
	return nil
}

// Take streams a full backup of the local node into the repository as one snapshot of host
// job.Node, tagged SnapshotTag plus job.Tags, then applies the retention policy. mariabackup's
// stream goes straight into restic's stdin; when mariabackup fails (or ctx ends) restic is
// killed before its input ends, so it writes no snapshot: a half-written backup is never a
// snapshot. A failed retention after a good snapshot is no error: Result.RetentionFailure
// says it (the next backup prunes again).
func (s Settings) Take(ctx context.Context, p Programs, job Job) (Result, error) {
	started := time.Now()
	if err := s.EnsureRepository(ctx, p); err != nil {
		return Result{}, err
	}
	// A restic killed (a failed stream, a node's shutdown or crash) leaves its lock, and
	// restic never skips a stale lock by itself: prune would then fail (clearLocks).
	removed := s.clearLocks(ctx, p, job.OwnNode)
	target, err := os.MkdirTemp("", "mariabackup-")
	if err != nil {
		return Result{}, fmt.Errorf("making mariabackup's work directory: %w", err)
	}
	defer os.RemoveAll(target)

	mb := exec.CommandContext(ctx, p.Mariabackup[0], append(p.Mariabackup[1:],
		"--backup", "--galera-info", "--stream=mbstream", "--target-dir="+target,
		"--user=root", "--socket="+p.Socket)...)
	var mbLog tail
	mb.Stderr = &mbLog
	stream, err := mb.StdoutPipe()
	if err != nil {
		return Result{}, fmt.Errorf("piping mariabackup: %w", err)
	}
	args := []string{"backup", "--stdin", "--stdin-filename", StreamName, "--host", job.Node, "--tag", SnapshotTag, "--json"}
	for _, t := range job.Tags {
		args = append(args, "--tag", t)
	}
	rs, sshLog, err := s.resticCommand(ctx, p, args...)
	if err != nil {
		return Result{}, err
	}
	defer sshLog.remove()
	ownGroup(rs)
	ownGroup(mb)
	var rsOut bytes.Buffer
	var rsLog tail
	rs.Stdout, rs.Stderr = &rsOut, &rsLog
	into, err := rs.StdinPipe()
	if err != nil {
		return Result{}, fmt.Errorf("piping into restic: %w", err)
	}
	if err := rs.Start(); err != nil {
		return Result{}, fmt.Errorf("starting restic: %w", err)
	}
	if err := mb.Start(); err != nil {
		killGroup(rs)
		_ = rs.Wait()
		return Result{}, fmt.Errorf("starting mariabackup: %w", err)
	}
	var copied atomic.Int64
	_, copyErr := io.Copy(countingWriter{into, &copied}, stream)
	if copyErr != nil {
		killGroup(mb) // restic went away: mariabackup has no reader
	}
	mbErr := mb.Wait()
	if mbErr != nil || copyErr != nil {
		killGroup(rs) // before its stdin ends: no snapshot
		_ = rs.Wait()
		switch {
		case ctx.Err() != nil:
			return Result{}, fmt.Errorf("backup stopped (%v): no snapshot was written", context.Cause(ctx))
		case copyErr != nil:
			return Result{}, resticFailure("streaming the backup into the repository", s.Repository, rsLog.String(), sshLog.read())
		}
		return Result{}, fmt.Errorf("mariabackup failed (%v): %s; no snapshot was written", mbErr, mbLog.last())
	}
	if err := into.Close(); err != nil {
		killGroup(rs)
		_ = rs.Wait()
		return Result{}, fmt.Errorf("ending restic's input: %w", err)
	}
	if err := rs.Wait(); err != nil {
		return Result{}, resticFailure("writing the snapshot", s.Repository, rsLog.String()+"\n"+err.Error(), sshLog.read())
	}
	id, err := snapshotID(rsOut.Bytes())
	if err != nil {
		return Result{}, err
	}
	res := Result{Snapshot: id, Bytes: copied.Load(), Duration: time.Since(started), RemovedLocks: removed}
	_, _ = s.restic(ctx, p, nil, "unlock") // a `backup list` killed meanwhile
	// The policy, then the archived binary logs it made obsolete, then one prune for both.
	if forgot, err := s.restic(ctx, p, nil, s.Keep.ForgetArgs()...); err != nil {
		res.RetentionFailure = forgot.failure("applying the retention policy "+s.Keep.String(), s.Repository).Error()
	} else if res.PiecesForgotten, err = s.forgetObsoletePieces(ctx, p); err != nil {
		res.RetentionFailure = err.Error()
	} else if pruned, err := s.restic(ctx, p, nil, "prune"); err != nil {
		res.RetentionFailure = pruned.failure("pruning the repository", s.Repository).Error()
	}
	return res, nil
}

// snapshotID is the snapshot id in restic's --json output (the summary line).
func snapshotID(out []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		var m summary
		if json.Unmarshal(sc.Bytes(), &m) == nil && m.MessageType == "summary" && m.SnapshotID != "" {
			return m.SnapshotID, nil
		}
	}
	return "", errors.New("restic reported no snapshot id (no summary line in its output)")
}

// resticOutput is what one restic run printed, and what its ssh wrote (sftp: repositories).
type resticOutput struct{ stdout, stderr, ssh string }

// failure is the run's error for an operator (resticFailure), `what` naming the step.
func (o resticOutput) failure(what, repository string) error {
	return resticFailure(what, repository, o.stderr, o.ssh)
}

// restic runs one restic subcommand; err is its exit (or start) error.
func (s Settings) restic(ctx context.Context, p Programs, stdin io.Reader, sub ...string) (resticOutput, error) {
	cmd, sshLog, err := s.resticCommand(ctx, p, sub...)
	if err != nil {
		return resticOutput{stderr: err.Error()}, err
	}
	defer sshLog.remove()
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return resticOutput{out.String(), errOut.String(), sshLog.read()}, err
}

// resticCommand is the command for one restic subcommand, and the file its ssh (sftp:
// repositories) writes its messages to, which the caller removes.
func (s Settings) resticCommand(ctx context.Context, p Programs, sub ...string) (*exec.Cmd, sshLog, error) {
	var log sshLog
	if _, ok := sftpTarget(s.Repository); ok {
		f, err := os.CreateTemp("", "restic-ssh-*.log")
		if err != nil {
			return nil, log, fmt.Errorf("making the file for ssh's messages: %w", err)
		}
		log = sshLog(f.Name())
		_ = f.Close()
	}
	cmd := exec.CommandContext(ctx, p.Restic[0], append(p.Restic[1:], s.ResticArgs(string(log), sub...)...)...)
	cmd.Env = s.ResticEnv()
	return cmd, log, nil
}

// sshLog is the path of ssh's own messages for one restic run ("": none, not sftp).
type sshLog string

// read is what ssh wrote ("" when nothing, or no file).
func (l sshLog) read() string {
	if l == "" {
		return ""
	}
	b, _ := os.ReadFile(string(l))
	return string(b)
}

func (l sshLog) remove() {
	if l != "" {
		_ = os.Remove(string(l))
	}
}

// ownGroup puts cmd in a process group of its own, killed whole when ctx ends (killGroup),
// so no child of it keeps a pipe open; and it is killed when the agent dies without its
// shutdown (a crash): restic would otherwise see its input end and save a cut stream.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
}

// killGroup kills cmd's process group (SIGKILL: restic must not get to end its snapshot).
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// tail keeps the last 16 KiB written to it (a program's stderr, for the error message).
type tail struct{ buf []byte }

const tailBytes = 16 << 10

func (t *tail) Write(b []byte) (int, error) {
	t.buf = append(t.buf, b...)
	if len(t.buf) > tailBytes {
		t.buf = t.buf[len(t.buf)-tailBytes:]
	}
	return len(b), nil
}

func (t *tail) String() string { return string(t.buf) }

// last is the last non-empty line.
func (t *tail) last() string { return lastLine(string(t.buf)) }

// Snapshot is one backup in the repository, as `restic snapshots --json` lists it, and the
// size of its stream (restic stats --mode restore-size).
type Snapshot struct {
	ID     string    `json:"short_id"`
	FullID string    `json:"id"`
	Time   time.Time `json:"time"`
	Node   string    `json:"hostname"`
	Tags   []string  `json:"tags"`
	Bytes  int64     `json:"-"`
	// Unreadable: why restic could not read the snapshot's size ("": it could), e.g. a
	// damaged repository.
	Unreadable string `json:"-"`
}

// Snapshots lists this project's snapshots, oldest first, each with its size (or why it
// could not be read: Snapshot.Unreadable).
func (s Settings) Snapshots(ctx context.Context, p Programs) ([]Snapshot, error) {
	snaps, err := s.snapshotList(ctx, p)
	if err != nil {
		return nil, err
	}
	for i := range snaps {
		stats, err := s.restic(ctx, p, nil, "--no-lock", "stats", "--mode", "restore-size", "--json", snaps[i].ID)
		if err != nil {
			// Listed all the same: the listing is how an operator sees what is there.
			snaps[i].Unreadable = stats.failure("reading the size of snapshot "+snaps[i].ID, s.Repository).Error()
			continue
		}
		var st struct {
			TotalSize int64 `json:"total_size"`
		}
		if err := json.Unmarshal([]byte(stats.stdout), &st); err != nil {
			return nil, fmt.Errorf("reading restic's stats of snapshot %s: %w", snaps[i].ID, err)
		}
		snaps[i].Bytes = st.TotalSize
	}
	return snaps, nil
}

// snapshotList lists this project's snapshots, oldest first (restic's order), without sizes;
// none when there is no repository yet.
func (s Settings) snapshotList(ctx context.Context, p Programs) ([]Snapshot, error) {
	// --no-lock: a listing only reads, and holds no lock that a backup's clearLocks would meet.
	listed, err := s.restic(ctx, p, nil, "--no-lock", "snapshots", "--tag", SnapshotTag, "--json")
	if err != nil && repositoryMissing(listed.stderr) {
		return nil, nil // no backup was taken yet: the first makes the repository
	}
	if err != nil {
		return nil, listed.failure("listing the snapshots", s.Repository)
	}
	var snaps []Snapshot
	if err := json.Unmarshal([]byte(listed.stdout), &snaps); err != nil {
		return nil, fmt.Errorf("reading restic's list of snapshots: %w", err)
	}
	return snaps, nil
}
