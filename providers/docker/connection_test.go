package docker

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/galera-swarm/galera-swarm/providers/internal/keepalive"
	"github.com/galera-swarm/galera-swarm/providers/internal/ptr"
	"github.com/galera-swarm/galera-swarm/providers/internal/sshtest"
)

// fakeDaemon is an HTTP server on a unix socket answering the two calls the test makes
// (/_ping and /version), closing every connection so each call needs a new channel.
func fakeDaemon(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	listener, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("API-Version", "1.41")
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "OK")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/version") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, `{"Version":"20.10.24","ApiVersion":"1.41"}`)
	})
	server := &http.Server{Handler: mux}
	go func() { _ = server.Serve(listener) }()
	t.Cleanup(func() { _ = server.Close() })
	return sock
}

// startSSHServer starts the shared test SSH server forwarding streamlocal channels to the
// socket forwardTo, and writes its client key to a file.
func startSSHServer(t *testing.T, forwardTo string) (*sshtest.Server, string) {
	t.Helper()
	server := sshtest.Start(t, sshtest.Options{ForwardUnix: forwardTo})
	return server, server.ClientKeyFile(t)
}

func sshHostFor(t *testing.T, server *sshtest.Server, keyFile string, opts ...string) *dockerHost {
	t.Helper()
	all := append([]string{"-i", keyFile}, opts...)
	settings, err := hostSettings("ssh://root@"+server.Addr, all)
	if err != nil {
		t.Fatal(err)
	}
	settings.SSH.ConnectTimeout = 5 * time.Second
	host := &dockerHost{}
	host.configure(settings)
	return host
}

func TestDockerCallsShareOneSSHConnection(t *testing.T) {
	server, keyFile := startSSHServer(t, fakeDaemon(t))
	host := sshHostFor(t, server, keyFile, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR")
	api, err := host.client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := api.Ping(ctx); err != nil {
		t.Fatalf("ping over ssh: %v", err)
	}
	version, err := api.ServerVersion(ctx)
	if err != nil {
		t.Fatalf("version over ssh: %v", err)
	}
	if version.Version != "20.10.24" {
		t.Errorf("server version = %q", version.Version)
	}
	if got := server.Conns.Load(); got != 1 {
		t.Errorf("ssh connections = %d, want 1", got)
	}
	if got := server.Channels.Load(); got < 2 {
		t.Errorf("channels = %d, want one per HTTP connection (>= 2)", got)
	}
	for _, path := range server.SocketPaths() {
		if path != remoteDockerSocket {
			t.Errorf("channel asked for socket %q, want %q", path, remoteDockerSocket)
		}
	}

	// A dropped connection is replaced on the next call.
	server.CloseAll()
	deadline := time.Now().Add(5 * time.Second)
	for {
		host.mu.Lock()
		gone := host.ssh == nil
		host.mu.Unlock()
		if gone || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := api.Ping(ctx); err != nil {
		t.Fatalf("ping after reconnect: %v", err)
	}
	if got := server.Conns.Load(); got != 2 {
		t.Errorf("ssh connections after a drop = %d, want 2", got)
	}
}

func TestHostKeyIsCheckedAgainstKnownHosts(t *testing.T) {
	server, keyFile := startSSHServer(t, fakeDaemon(t))
	dir := t.TempDir()

	good := filepath.Join(dir, "known_good")
	line := knownhosts.Line([]string{knownhosts.Normalize(server.Addr)}, server.HostKey)
	if err := os.WriteFile(good, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	api, _ := sshHostFor(t, server, keyFile, "-o", "UserKnownHostsFile="+good).client()
	if _, err := api.Ping(context.Background()); err != nil {
		t.Errorf("known host refused: %v", err)
	}

	empty := filepath.Join(dir, "known_empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	api, _ = sshHostFor(t, server, keyFile, "-o", "UserKnownHostsFile="+empty).client()
	if _, err := api.Ping(context.Background()); err == nil || !strings.Contains(err.Error(), "host key") {
		t.Errorf("unknown host accepted or wrong error: %v", err)
	}

	recorded := filepath.Join(dir, "known_new")
	api, _ = sshHostFor(t, server, keyFile, "-o", "StrictHostKeyChecking=accept-new", "-o", "UserKnownHostsFile="+recorded).client()
	if _, err := api.Ping(context.Background()); err != nil {
		t.Errorf("accept-new refused a new host: %v", err)
	}
	if data, _ := os.ReadFile(recorded); !strings.Contains(string(data), server.HostKey.Type()) {
		t.Errorf("accept-new did not record the host key: %q", data)
	}
}

// hangingDaemon is a daemon socket whose every request hangs until the test ends, as one
// does on a host that died in the middle of a call.
func hangingDaemon(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	listener, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	server := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-stop })}
	go func() { _ = server.Serve(listener) }()
	t.Cleanup(func() { close(stop); _ = server.Close() })
	return sock
}

func TestAHostThatStopsAnsweringFailsTheCallWithinTheKeepaliveBound(t *testing.T) {
	server, keyFile := startSSHServer(t, hangingDaemon(t))
	host := sshHostFor(t, server, keyFile, "-o", "StrictHostKeyChecking=no")
	host.settings.SSH.Keepalive = keepalive.Policy{Interval: 100 * time.Millisecond, MaxMissed: 3}
	api, err := host.client()
	if err != nil {
		t.Fatal(err)
	}
	// The call's own timeout is far longer than the keepalive bound (0.4 s).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	failed := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := api.ServerVersion(ctx)
		failed <- err
	}()
	time.Sleep(300 * time.Millisecond) // the request is in flight, keepalives answered
	if server.Keepalives.Load() == 0 {
		t.Errorf("no keepalive reached the server in 300 ms")
	}
	server.Freeze()
	err = <-failed
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("the call succeeded against a frozen host")
	}
	if elapsed > 3*time.Second {
		t.Errorf("the call failed after %s, want within the keepalive bound", elapsed)
	}
	t.Logf("error: %v (after %s)", err, elapsed)
	if want := "ssh connection to root@" + server.Addr + " lost"; !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want it to contain %q", err, want)
	}
}

// convergeDaemon answers the calls of a converge wait for service "svc" (one replica, no
// task running yet) until hang is set; from then on every request hangs, as on a leader
// that lost power. polls counts the task listings answered.
func convergeDaemon(t *testing.T) (sock string, hang *atomic.Bool, polls *atomic.Int32) {
	t.Helper()
	sock = filepath.Join(t.TempDir(), "docker.sock")
	listener, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	hang, polls = new(atomic.Bool), new(atomic.Int32)
	stop := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			<-stop
			return
		}
		w.Header().Set("API-Version", "1.41")
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/_ping"):
			_, _ = io.WriteString(w, "OK")
		case strings.HasSuffix(r.URL.Path, "/services/svc"):
			_, _ = io.WriteString(w, `{"ID":"svc","Spec":{"Name":"galera","Mode":{"Replicated":{"Replicas":1}}}}`)
		case strings.HasSuffix(r.URL.Path, "/tasks"):
			polls.Add(1)
			_, _ = io.WriteString(w, `[]`)
		case strings.HasSuffix(r.URL.Path, "/nodes"):
			_, _ = io.WriteString(w, `[]`)
		default:
			http.NotFound(w, r)
		}
	})
	server := &http.Server{Handler: handler}
	go func() { _ = server.Serve(listener) }()
	t.Cleanup(func() { close(stop); _ = server.Close() })
	return sock, hang, polls
}

func TestALeaderThatDiesDuringAConvergeWaitFailsItNamingTheHost(t *testing.T) {
	sock, hang, polls := convergeDaemon(t)
	server, keyFile := startSSHServer(t, sock)
	host := sshHostFor(t, server, keyFile, "-o", "StrictHostKeyChecking=no")
	host.settings.SSH.Keepalive = keepalive.Policy{Interval: 100 * time.Millisecond, MaxMissed: 3}
	api, err := host.client()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- waitConverged(context.Background(), api, "svc", ConvergeConfig{Delay: ptr.To("0s"), Timeout: ptr.To("10m")})
	}()
	for polls.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	hang.Store(true)
	server.Freeze()
	died := time.Now()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the converge wait still runs 10 s after the leader stopped answering")
	}
	if elapsed := time.Since(died); elapsed > pollInterval+2*time.Second {
		t.Errorf("the wait failed %s after the leader died, want within a poll plus the keepalive bound", elapsed)
	}
	t.Logf("converge wait error: %v", err)
	if err == nil || !strings.Contains(err.Error(), "ssh connection to root@"+server.Addr+" lost") {
		t.Errorf("error = %v, want it to name the host", err)
	}
}
