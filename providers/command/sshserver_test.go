package command

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"
)

// execRecord is one command the test SSH server ran.
type execRecord struct {
	Command string
	Env     map[string]string
	Stdin   string
}

// testSSHServer is an in-process SSH server on 127.0.0.1: it authenticates one client
// key, runs `exec` requests with /bin/sh -c, honours `env` requests for the names in
// acceptEnv (refusing others), passes stdin and reports the exit status.
type testSSHServer struct {
	Host       string
	Port       int
	HostKey    string // authorized_keys line of the server's host key
	ClientKey  string // OpenSSH PEM private key the server accepts
	acceptEnv  []string
	listener   net.Listener
	mu         sync.Mutex
	execs      []execRecord
	handshakes atomic.Int32
}

// newKey returns a fresh ed25519 signer and its OpenSSH PEM private key.
func newKey(t *testing.T) (ssh.Signer, string) {
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

// startSSHServer starts a server accepting the listed environment variable names; it
// stops when the test ends.
func startSSHServer(t *testing.T, acceptEnv ...string) *testSSHServer {
	t.Helper()
	hostSigner, _ := newKey(t)
	clientSigner, clientPEM := newKey(t)
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(key.Marshal(), clientSigner.PublicKey().Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	cfg.AddHostKey(hostSigner)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testSSHServer{
		Host:      "127.0.0.1",
		Port:      l.Addr().(*net.TCPAddr).Port,
		HostKey:   string(ssh.MarshalAuthorizedKey(hostSigner.PublicKey())),
		ClientKey: clientPEM,
		acceptEnv: acceptEnv,
		listener:  l,
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(conn, cfg)
		}
	}()
	return s
}

// Execs returns the commands run so far.
func (s *testSSHServer) Execs() []execRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.execs)
}

// Endpoint returns host and port as strings for connection inputs.
func (s *testSSHServer) Endpoint() (string, float64) { return s.Host, float64(s.Port) }

func (s *testSSHServer) serve(conn net.Conn, cfg *ssh.ServerConfig) {
	defer func() { _ = conn.Close() }()
	sc, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	s.handshakes.Add(1)
	defer func() { _ = sc.Close() }()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			return
		}
		go s.session(ch, chReqs)
	}
}

func (s *testSSHServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer func() { _ = ch.Close() }()
	env := map[string]string{}
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			if err := ssh.Unmarshal(req.Payload, &kv); err != nil || !slices.Contains(s.acceptEnv, kv.Name) {
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
			status := s.exec(ch, payload.Command, env)
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
			return
		default:
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
		}
	}
}

// exec runs command with /bin/sh -c, wired to the channel, and records it.
func (s *testSSHServer) exec(ch ssh.Channel, command string, env map[string]string) uint32 {
	var stdin bytes.Buffer
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = io.TeeReader(ch, &stdin)
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	err := cmd.Run()
	s.mu.Lock()
	s.execs = append(s.execs, execRecord{Command: command, Env: env, Stdin: stdin.String()})
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

// flakyListener accepts TCP connections and closes them at once, counting them: every
// SSH handshake against it fails.
func flakyListener(t *testing.T) (port int, accepted *atomic.Int32) {
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
