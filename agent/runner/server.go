package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/galera-swarm/galera-swarm/agent/credentials"
	"github.com/galera-swarm/galera-swarm/agent/logx"
)

// mariadb runs the client over the local socket as root (unix_socket), sql on stdin; gives
// stdout, or an error with what the client said.
func mariadb(sql string, args ...string) (string, error) {
	cmd := exec.Command("mariadb", append([]string{"--protocol=socket", "-uroot"}, args...)...)
	cmd.Stdin = strings.NewReader(sql)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s", strings.TrimSpace(errOut.String()+" "+err.Error()))
	}
	return out.String(), nil
}

// server is a running mariadbd.
type server struct {
	cmd  *exec.Cmd
	done chan struct{}
	rc   int
}

func startServer(args []string) (*server, error) {
	cmd := exec.Command(Mysqld, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = serverEnv()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", Mysqld, err)
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	go func() {
		s.rc = exitStatus(cmd.Wait())
		close(s.done)
	}()
	return s, nil
}

func (s *server) running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

func (s *server) terminate() { _ = s.cmd.Process.Signal(syscall.SIGTERM) }

// exitStatus as a shell gives it: the code, or 128+signal.
func exitStatus(err error) int {
	var ee *exec.ExitError
	if err == nil {
		return 0
	}
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 1
}

// serverEnv: the environment without the passwords and their files (mariadbd and the SST
// scripts never need them).
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		key, _, _ := strings.Cut(kv, "=")
		switch strings.TrimSuffix(key, "_FILE") {
		case "MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD", "SST_PASSWORD":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// initSQL: what only a new data directory needs. mariadb-install-db makes 'mysql'@'localhost'
// (unix_socket) with every privilege: it keeps only those SST needs (credentials.SQL).
const initSQL = `CREATE USER 'root'@'%';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'mysql'@'localhost';
`

// emptyDatadir empties the data directory for a new cluster (the agent's own files, a cut
// initialization), refusing when it holds a Galera node's data.
func (r *Runner) emptyDatadir(step, doing string) error {
	if r.own.HasData() {
		return logx.Fail(step, "refusing to %s %s: it holds data of cluster %s (seqno %d)", doing, DataDir, r.own.UUID, r.own.Seqno)
	}
	entries, _ := os.ReadDir(DataDir)
	for _, e := range entries {
		if err := os.RemoveAll(DataDir + "/" + e.Name()); err != nil {
			return logx.Fail(step, "emptying %s: %v", DataDir, err)
		}
	}
	return nil
}

// restoreDatadir fills the empty data directory from the backup RESTORE_SNAPSHOT names
// (backup.Restore), for a node that bootstraps a new cluster.
func (r *Runner) restoreDatadir() error {
	const step = "restore"
	if err := r.emptyDatadir(step, "restore into"); err != nil {
		return err
	}
	until := r.backup.RestorePointInTime
	to := ""
	if !until.IsZero() {
		to = ", replaying its archived binary logs up to " + until.UTC().Format(time.RFC3339Nano)
	}
	r.log.Note(step, "restoring snapshot %s of %s into the new cluster's first node%s", r.backup.RestoreSnapshot, r.backup.Repository, to)
	started := time.Now()
	got, err := r.backup.Restore(context.Background(), BackupPrograms, r.backup.RestoreSnapshot, DataDir, until)
	if err != nil {
		return logx.Fail(step, "%v; the data directory holds a cut restore (no grastate.dat, so no data to the agent), which the next start removes before it restores again", err)
	}
	if rp := got.Replayed; rp != nil {
		if !rp.Reached.IsZero() {
			r.log.Warn(step, "the newest archived binary logs are from %s, before the point in time %s: transactions after %s, if any were written, are in no piece and not restored",
				rp.Reached.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339Nano), rp.Reached.UTC().Format(time.RFC3339))
		}
		r.log.Note(step, "replayed %d pieces of archived binary logs onto snapshot %s: transactions up to %s, the last that began before %s",
			rp.Pieces, got.Snapshot.ID, rp.Through, until.UTC().Truncate(time.Second).Format(time.RFC3339))
	}
	r.log.Note(step, "restored snapshot %s (of %s at %s): cluster %s at seqno %d, in %.0f s; bootstrapping from it",
		got.Snapshot.ID, got.Snapshot.Node, got.Snapshot.Time.UTC().Format(time.RFC3339), got.UUID, got.Seqno, time.Since(started).Seconds())
	return nil
}

// initDatadir makes a new data directory with the root, SST and application users, with a
// temporary server without networking or replication (only the bootstrapping node does this).
func (r *Runner) initDatadir() error {
	const step = "init_datadir"
	if err := r.emptyDatadir(step, "initialize"); err != nil {
		return err
	}
	r.log.Note(step, "initializing a new data directory")
	if err := chownMysql(DataDir); err != nil {
		return logx.Fail(step, "%v", err)
	}
	install := exec.Command("mariadb-install-db", "--user=mysql", "--datadir="+DataDir, "--skip-test-db",
		"--auth-root-authentication-method=socket", "--wsrep-on=OFF", "--wsrep-provider=none")
	install.Stderr = os.Stderr
	if err := install.Run(); err != nil {
		return logx.Fail(step, "mariadb-install-db: %v", err)
	}
	const socket, log = "/run/mysqld/init.sock", "/tmp/init-mysqld.log"
	tmp := exec.Command(Mysqld, "--user=mysql", "--wsrep-on=OFF", "--wsrep-provider=none", "--skip-networking",
		"--socket="+socket, "--log-error="+log)
	tmp.Env = serverEnv()
	if err := tmp.Start(); err != nil {
		return logx.Fail(step, "starting the temporary server: %v", err)
	}
	defer func() { _ = tmp.Process.Signal(syscall.SIGTERM); _ = tmp.Wait() }()
	for tries := 0; ; tries++ {
		if _, err := mariadb("SELECT 1", "--socket="+socket); err == nil {
			break
		}
		if tries >= 60 {
			data, _ := os.ReadFile(log)
			lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
			return logx.Fail(step, "temporary server for initialization did not start: %s", strings.Join(lines[max(0, len(lines)-5):], "\n"))
		}
		time.Sleep(time.Second)
	}
	if _, err := mariadb(initSQL+r.accountsSQL(credentials.Discard), "--socket="+socket); err != nil {
		return logx.Fail(step, "setting up the accounts: %v", err)
	}
	what := "root, mysql@localhost for SST"
	if r.cfg.User != "" {
		what += ", " + r.cfg.User
	}
	if r.cfg.Database != "" {
		what += ", database " + r.cfg.Database
	}
	r.log.Note(step, "data directory initialized (%s)", what)
	return nil
}

func (r *Runner) accounts() credentials.Accounts {
	return credentials.Accounts{RootPassword: r.cfg.RootPassword, User: r.cfg.User, Password: r.cfg.Password, Database: r.cfg.Database}
}

// accountsSQL: the accounts of the settings (credentials.SQL, mode Retain or Discard), which
// require TLS over the network when the node has TLS files (credentials.TLSRequirement).
func (r *Runner) accountsSQL(mode credentials.Mode) string {
	a := r.accounts()
	return credentials.SQL(mode, a) + credentials.TLSRequirement(a, r.cfg.TLS.Enabled())
}

// applyCredentials: once Synced, make the passwords of the settings valid for the whole
// cluster, keeping the current ones too (credentials.Retain): a rolling restart with new
// secrets is how passwords are rotated, and clients still on the old passwords keep working
// until `galera-passwords discard-old` ends the rotation.
func (r *Runner) applyCredentials() bool {
	const step = "apply_credentials"
	if _, err := mariadb(r.accountsSQL(credentials.Retain)); err != nil {
		r.log.Warn(step, "could not apply the passwords yet (retrying): %v", err)
		return false
	}
	user := ""
	if r.cfg.User != "" {
		user = fmt.Sprintf(", %s@'%%'", r.cfg.User)
	}
	tls := "plain or TLS"
	if r.cfg.TLS.Enabled() {
		tls = "TLS only"
	}
	r.log.Note(step, "passwords of the settings accepted for root@localhost, root@'%%'%s (replicated to every node; older ones stay valid until galera-passwords discard-old); over the network: %s", user, tls)
	return true
}
