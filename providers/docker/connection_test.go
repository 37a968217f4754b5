package docker

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
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

// sshServer is an in-process SSH server that accepts one client key and forwards
// direct-streamlocal@openssh.com channels to a local unix socket.
type sshServer struct {
	addr      string
	hostKey   ssh.PublicKey
	conns     atomic.Int32
	channels  atomic.Int32
	mu        sync.Mutex
	open      []net.Conn
	socketSet []string
}

func startSSHServer(t *testing.T, clientKey ssh.PublicKey, forwardTo string) *sshServer {
	t.Helper()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	config := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == string(clientKey.Marshal()) {
				return nil, nil
			}
			return nil, fmt.Errorf("unknown key")
		},
	}
	config.AddHostKey(hostSigner)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = listener.Close() })
	s := &sshServer{addr: listener.Addr().String(), hostKey: hostSigner.PublicKey()}
	go func() {
		for {
			tcp, err := listener.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.open = append(s.open, tcp)
			s.mu.Unlock()
			go s.serve(tcp, config, forwardTo)
		}
	}()
	return s
}

func (s *sshServer) serve(tcp net.Conn, config *ssh.ServerConfig, forwardTo string) {
	_, chans, reqs, err := ssh.NewServerConn(tcp, config)
	if err != nil {
		return
	}
	s.conns.Add(1)
	go ssh.DiscardRequests(reqs)
	for newChannel := range chans {
		if newChannel.ChannelType() != "direct-streamlocal@openssh.com" {
			_ = newChannel.Reject(ssh.UnknownChannelType, "only streamlocal here")
			continue
		}
		var target struct {
			SocketPath string
			Reserved0  string
			Reserved1  uint32
		}
		if err := ssh.Unmarshal(newChannel.ExtraData(), &target); err != nil {
			_ = newChannel.Reject(ssh.ConnectionFailed, err.Error())
			continue
		}
		s.mu.Lock()
		s.socketSet = append(s.socketSet, target.SocketPath)
		s.mu.Unlock()
		channel, chReqs, err := newChannel.Accept()
		if err != nil {
			continue
		}
		s.channels.Add(1)
		go ssh.DiscardRequests(chReqs)
		go func() {
			defer channel.Close()
			local, err := net.Dial("unix", forwardTo)
			if err != nil {
				return
			}
			defer local.Close()
			go func() { _, _ = io.Copy(local, channel) }()
			_, _ = io.Copy(channel, local)
		}()
	}
}

// closeAll drops every client connection, as a rebooting host would.
func (s *sshServer) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.open {
		_ = c.Close()
	}
	s.open = nil
}

// clientKeyFile writes a fresh OpenSSH private key and returns its path and public key.
func clientKeyFile(t *testing.T) (string, ssh.PublicKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_test")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return path, signer.PublicKey()
}

func sshHostFor(t *testing.T, server *sshServer, keyFile string, opts ...string) *dockerHost {
	t.Helper()
	all := append([]string{"-i", keyFile}, opts...)
	settings, err := hostSettings("ssh://root@"+server.addr, all)
	if err != nil {
		t.Fatal(err)
	}
	settings.SSH.ConnectTimeout = 5 * time.Second
	host := &dockerHost{}
	host.configure(settings)
	return host
}

func TestDockerCallsShareOneSSHConnection(t *testing.T) {
	keyFile, pub := clientKeyFile(t)
	server := startSSHServer(t, pub, fakeDaemon(t))
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
	if got := server.conns.Load(); got != 1 {
		t.Errorf("ssh connections = %d, want 1", got)
	}
	if got := server.channels.Load(); got < 2 {
		t.Errorf("channels = %d, want one per HTTP connection (>= 2)", got)
	}
	for _, path := range server.socketSet {
		if path != remoteDockerSocket {
			t.Errorf("channel asked for socket %q, want %q", path, remoteDockerSocket)
		}
	}

	// A dropped connection is replaced on the next call.
	server.closeAll()
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
	if got := server.conns.Load(); got != 2 {
		t.Errorf("ssh connections after a drop = %d, want 2", got)
	}
}

func TestHostKeyIsCheckedAgainstKnownHosts(t *testing.T) {
	keyFile, pub := clientKeyFile(t)
	server := startSSHServer(t, pub, fakeDaemon(t))
	dir := t.TempDir()

	good := filepath.Join(dir, "known_good")
	line := knownhosts.Line([]string{knownhosts.Normalize(server.addr)}, server.hostKey)
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
	if data, _ := os.ReadFile(recorded); !strings.Contains(string(data), server.hostKey.Type()) {
		t.Errorf("accept-new did not record the host key: %q", data)
	}
}
