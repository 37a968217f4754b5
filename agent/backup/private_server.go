package backup

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// privateServer is a mariadbd of our own on a data directory that is no node's running one:
// --no-defaults (no wsrep, no binary log, nothing of the node's settings), no network, its
// socket, pid and error log in runDir. A restore drill checks its tables with it; a
// point-in-time restore replays binary logs into it.
type privateServer struct {
	cmd            *exec.Cmd
	p              Programs
	ctx            context.Context
	socket, errLog string
}

// startPrivateServer starts mariadbd on data (as p.DataOwner) and waits until it answers
// (120 s at most). Its files go into a directory of that user's made under parent, which
// the user must be able to pass through. An error quotes the server's log.
func startPrivateServer(ctx context.Context, p Programs, data, parent string) (*privateServer, error) {
	runDir := filepath.Join(parent, "private-server")
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return nil, fmt.Errorf("making %s: %w", runDir, err)
	}
	if p.DataOwner != "" {
		if err := chownTree(runDir, p.DataOwner); err != nil {
			return nil, err
		}
	}
	s := &privateServer{p: p, ctx: ctx, socket: filepath.Join(runDir, "private.sock"), errLog: filepath.Join(runDir, "private.err")}
	args := []string{"--no-defaults", "--datadir=" + data, "--socket=" + s.socket, "--skip-networking",
		"--pid-file=" + filepath.Join(runDir, "private.pid"), "--log-error=" + s.errLog,
		"--innodb-buffer-pool-size=32M"} // beside the node's own server, in its memory limit
	if p.DataOwner != "" {
		args = append(args, "--user="+p.DataOwner)
	}
	s.cmd = exec.CommandContext(ctx, p.Mariadbd[0], append(p.Mariadbd[1:], args...)...)
	s.cmd.Cancel = func() error { return s.cmd.Process.Signal(syscall.SIGTERM) }
	s.cmd.WaitDelay = time.Minute
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives the agent
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting a private mariadbd: %w", err)
	}
	var err error
	for tries := 0; ; tries++ {
		if _, err = s.sql("SELECT 1"); err == nil {
			return s, nil
		}
		if tries >= 120 || ctx.Err() != nil {
			log, _ := os.ReadFile(s.errLog)
			s.stop()
			return nil, fmt.Errorf("the private mariadbd did not answer in 120 s (%v): %s", err, lastLine(string(log)))
		}
		time.Sleep(time.Second)
	}
}

// sql runs statements as root (unix_socket) and gives their tab-separated rows.
func (s *privateServer) sql(statements string) (string, error) {
	return s.run(strings.NewReader(statements), "-N", "-B")
}

// apply runs the statements that in holds (mariadb-binlog's output: --binary-mode keeps its
// row images intact).
func (s *privateServer) apply(in io.Reader) error {
	_, err := s.run(in, "--binary-mode")
	return err
}

func (s *privateServer) run(in io.Reader, args ...string) (string, error) {
	return runClient(s.ctx, s.p, s.socket, in, args...)
}

// runClient runs the mariadb client as root (unix_socket) on the server at socket, its
// statements from in; gives what it printed, or an error with its message.
func runClient(ctx context.Context, p Programs, socket string, in io.Reader, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, p.Client[0], append(p.Client[1:], append([]string{"--socket=" + socket, "-uroot"}, args...)...)...)
	cmd.Stdin = in
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%v: %s", err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

// stop stops the server: SIGTERM, then SIGKILL after a minute (a drill holds the cluster's
// one job slot until it ends).
func (s *privateServer) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	ended := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		<-ended
	}
}
