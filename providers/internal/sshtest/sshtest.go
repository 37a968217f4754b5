// Package sshtest is an in-process SSH server on 127.0.0.1 for the plugins' tests (what
// x/crypto/ssh can serve), so SSH paths run for real without a host. It authenticates one
// client key, runs `exec` requests with /bin/sh -c (environment via `env` requests for the
// names it accepts), forwards direct-streamlocal channels to a local unix socket (how the
// docker plugin reaches /var/run/docker.sock), answers keepalives, and can be frozen to
// behave like a host that died without closing its connections.
package sshtest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Options configure a Server.
type Options struct {
	// AcceptEnv are the names `env` requests may set (others are refused, as sshd does
	// without AcceptEnv).
	AcceptEnv []string
	// ForwardUnix, when set, is the local unix socket every direct-streamlocal channel is
	// connected to, whatever path the client asked for (recorded in SocketPaths).
	ForwardUnix string
	// HostKeys, when set, are the server's host keys (default: one fresh ed25519 key);
	// the client picks which one it is shown by its host key algorithms.
	HostKeys []ssh.Signer
}

// Exec is one command the server ran.
type Exec struct {
	Command string
	Env     map[string]string
	Stdin   string
}

// Server is a running test SSH server; it stops when the test ends.
type Server struct {
	// Host and Port are where it listens; Addr is "Host:Port".
	Host string
	Port int
	Addr string
	// HostKey is the server's (first) host key; HostKeyLine the same in authorized_keys format.
	HostKey     ssh.PublicKey
	HostKeyLine string
	// ClientKey is the OpenSSH PEM private key the server accepts.
	ClientKey string
	// Conns counts authenticated connections, Channels accepted streamlocal channels,
	// Keepalives keepalive@openssh.com requests received.
	Conns, Channels, Keepalives atomic.Int32

	opts    Options
	frozen  atomic.Bool
	ctx     context.Context
	mu      sync.Mutex
	open    []net.Conn
	execs   []Exec
	sockets []string
}

// NewKey returns a fresh ed25519 signer and its private key in OpenSSH PEM form.
func NewKey(t testing.TB) (ssh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return signer, string(pem.EncodeToMemory(block))
}

// NewRSAKey returns a fresh 2048-bit RSA signer (a second host key type for tests of host
// key algorithm negotiation).
func NewRSAKey(t testing.TB) ssh.Signer {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

// Agent serves an SSH agent holding the private key privatePEM (OpenSSH PEM, as ClientKey)
// on a unix socket in a test directory, and returns the socket's path; it stops when the
// test ends.
func Agent(t testing.TB, privatePEM string) string {
	t.Helper()
	key, err := ssh.ParseRawPrivateKey([]byte(privatePEM))
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: key}); err != nil {
		t.Fatal(err)
	}
	// A short path: unix socket paths are limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "agent")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close(); _ = os.RemoveAll(dir) })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer func() { _ = c.Close() }(); _ = agent.ServeAgent(keyring, c) }()
		}
	}()
	return sock
}

// Start starts a server with opts on 127.0.0.1 (a free port); it stops, and kills the
// commands it still runs, when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	hostSigners := opts.HostKeys
	if len(hostSigners) == 0 {
		signer, _ := NewKey(t)
		hostSigners = []ssh.Signer{signer}
	}
	hostSigner := hostSigners[0]
	clientSigner, clientPEM := NewKey(t)
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(key.Marshal(), clientSigner.PublicKey().Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	for _, signer := range hostSigners {
		cfg.AddHostKey(signer)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		Host:        "127.0.0.1",
		Port:        l.Addr().(*net.TCPAddr).Port,
		Addr:        l.Addr().String(),
		HostKey:     hostSigner.PublicKey(),
		HostKeyLine: string(ssh.MarshalAuthorizedKey(hostSigner.PublicKey())),
		ClientKey:   clientPEM,
		opts:        opts,
		ctx:         ctx,
	}
	t.Cleanup(func() {
		cancel()
		_ = l.Close()
		s.CloseAll()
	})
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.open = append(s.open, conn)
			s.mu.Unlock()
			go s.serve(conn, cfg)
		}
	}()
	return s
}

// ClientKeyFile writes ClientKey to a file in a test directory and returns its path.
func (s *Server) ClientKeyFile(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "id_test")
	if err := os.WriteFile(path, []byte(s.ClientKey), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Execs returns the commands run so far.
func (s *Server) Execs() []Exec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.execs)
}

// SocketPaths returns the socket paths streamlocal channels asked for.
func (s *Server) SocketPaths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sockets)
}

// CloseAll drops every client connection, as a rebooting host would.
func (s *Server) CloseAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.open {
		_ = c.Close()
	}
	s.open = nil
}

// Freeze makes the server stop answering, like a host that died with its connections
// open: keepalives and other global requests get no reply, new channels are not answered,
// and the commands it runs keep running. The TCP connections stay open.
func (s *Server) Freeze() { s.frozen.Store(true) }

func (s *Server) serve(conn net.Conn, cfg *ssh.ServerConfig) {
	defer func() { _ = conn.Close() }()
	sc, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	s.Conns.Add(1)
	defer func() { _ = sc.Close() }()
	// Commands of this connection die with it (the client gave up on them).
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	go s.globalRequests(reqs)
	for nc := range chans {
		if s.frozen.Load() {
			continue // never answered: the client waits as it would for a dead host
		}
		switch nc.ChannelType() {
		case "session":
			ch, chReqs, err := nc.Accept()
			if err != nil {
				return
			}
			go s.session(ctx, ch, chReqs)
		case "direct-streamlocal@openssh.com":
			s.forward(nc)
		default:
			_ = nc.Reject(ssh.UnknownChannelType, "not served here")
		}
	}
}

// globalRequests answers every request with a failure reply (as OpenSSH does for
// keepalives) until the server is frozen.
func (s *Server) globalRequests(reqs <-chan *ssh.Request) {
	for req := range reqs {
		if req.Type == "keepalive@openssh.com" {
			s.Keepalives.Add(1)
		}
		if s.frozen.Load() {
			continue
		}
		if req.WantReply {
			_ = req.Reply(false, nil)
		}
	}
}

// forward connects a streamlocal channel to Options.ForwardUnix.
func (s *Server) forward(nc ssh.NewChannel) {
	if s.opts.ForwardUnix == "" {
		_ = nc.Reject(ssh.Prohibited, "streamlocal forwarding is off")
		return
	}
	var target struct {
		SocketPath string
		Reserved0  string
		Reserved1  uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &target); err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	s.mu.Lock()
	s.sockets = append(s.sockets, target.SocketPath)
	s.mu.Unlock()
	ch, chReqs, err := nc.Accept()
	if err != nil {
		return
	}
	s.Channels.Add(1)
	go ssh.DiscardRequests(chReqs)
	go func() {
		defer func() { _ = ch.Close() }()
		local, err := net.Dial("unix", s.opts.ForwardUnix)
		if err != nil {
			return
		}
		defer func() { _ = local.Close() }()
		go func() { _, _ = io.Copy(local, ch) }()
		_, _ = io.Copy(ch, local)
	}()
}

func (s *Server) session(ctx context.Context, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer func() { _ = ch.Close() }()
	env := map[string]string{}
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			if err := ssh.Unmarshal(req.Payload, &kv); err != nil || !slices.Contains(s.opts.AcceptEnv, kv.Name) {
				_ = req.Reply(false, nil)
				continue
			}
			env[kv.Name] = kv.Value
			_ = req.Reply(true, nil)
		case "exec":
			var payload struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
				_ = req.Reply(false, nil)
				continue
			}
			_ = req.Reply(true, nil)
			status := s.exec(ctx, ch, payload.Command, env)
			if !s.frozen.Load() {
				_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
			}
			return
		default:
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
		}
	}
}

// exec runs command with /bin/sh -c, wired to the channel, and records it.
func (s *Server) exec(ctx context.Context, ch ssh.Channel, command string, env map[string]string) uint32 {
	var stdin bytes.Buffer
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = io.TeeReader(ch, &stdin)
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	err := cmd.Run()
	s.mu.Lock()
	s.execs = append(s.execs, Exec{Command: command, Env: env, Stdin: stdin.String()})
	s.mu.Unlock()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exitErr):
		return uint32(exitErr.ExitCode())
	default:
		return 255
	}
}

// FlakyListener accepts TCP connections on 127.0.0.1 and closes them at once, counting
// them: every SSH handshake against it fails.
func FlakyListener(t testing.TB) (port int, accepted *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	accepted = new(atomic.Int32)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port, accepted
}
