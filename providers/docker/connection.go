package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/docker/docker/client"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/galera-swarm/galera-swarm/providers/internal/hostkey"
	"github.com/galera-swarm/galera-swarm/providers/internal/keepalive"
)

// remoteDockerSocket is the daemon socket on an ssh:// host (what `docker system dial-stdio`
// also connects to by default).
const remoteDockerSocket = "/var/run/docker.sock"

// sshDialAttempts and sshDialBackoff: how long we keep trying to reach a host that may still
// be booting (about a minute plus the connect timeouts).
const (
	sshDialAttempts = 12
	sshDialBackoff  = 5 * time.Second
)

// dockerHost is the provider's connection to one Docker daemon. It is configured once
// (Configure) and connects lazily: the first Docker API call opens the SSH connection, every
// later call reuses it, and a dead connection is replaced on the next call.
type dockerHost struct {
	mu       sync.Mutex
	settings *connSettings
	api      *client.Client
	ssh      *ssh.Client
	// monitor watches ssh with keepalives (settings.SSH.Keepalive), so a host that stops
	// answering fails the call in flight, naming it.
	monitor *keepalive.Monitor
	// sshDials counts SSH connections opened (tests check that calls share one).
	sshDials int
}

func (h *dockerHost) configure(settings connSettings) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.settings = &settings
	h.api = nil
	if h.ssh != nil {
		h.monitor.Stop()
		_ = h.ssh.Close()
		h.ssh, h.monitor = nil, nil
	}
}

// client returns the Docker API client, building it on first use. It fails only when the
// provider was never configured or the client options are invalid; connecting happens on the
// first request.
func (h *dockerHost) client() (*client.Client, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.api != nil {
		return h.api, nil
	}
	if h.settings == nil {
		return nil, errors.New("the docker provider is not configured")
	}
	opts := []client.Opt{client.WithAPIVersionNegotiation()}
	if h.settings.SSH != nil {
		// The host part of the URL is only a label: every connection is a channel over SSH.
		opts = append(opts, client.WithHost("http://docker"), client.WithDialContext(h.dialDocker))
	} else {
		opts = append(opts, client.WithHost(h.settings.Host))
	}
	api, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating docker client for %s: %w", h.settings.Host, err)
	}
	h.api = api
	return api, nil
}

// dialDocker opens one connection to the remote daemon socket over the shared SSH client:
// a direct-streamlocal channel if the server allows it, else `docker system dial-stdio` in a
// session (what the docker CLI itself runs over ssh). Once the keepalive monitor gives the
// client up, the connection's errors name the host (watchedConn).
func (h *dockerHost) dialDocker(ctx context.Context, _, _ string) (net.Conn, error) {
	for attempt := 0; ; attempt++ {
		sshClient, monitor, err := h.sshClient(ctx)
		if err != nil {
			return nil, err
		}
		conn, err := sshClient.Dial("unix", remoteDockerSocket)
		if err == nil {
			return watchedConn{Conn: conn, monitor: monitor}, nil
		}
		var openErr *ssh.OpenChannelError
		if errors.As(err, &openErr) {
			// The server refused the channel (e.g. AllowStreamLocalForwarding no).
			conn, err := dialStdio(sshClient)
			if err != nil {
				return nil, err
			}
			return watchedConn{Conn: conn, monitor: monitor}, nil
		}
		if lost := monitor.Err(); lost != nil {
			h.dropSSH(sshClient)
			return nil, lost
		}
		// Anything else means the connection is unusable: drop it and try once more.
		h.dropSSH(sshClient)
		if attempt >= 1 {
			return nil, fmt.Errorf("opening a channel to %s over ssh: %w", remoteDockerSocket, err)
		}
	}
}

// sshClient returns the live SSH connection and its keepalive monitor, opening the
// connection (with retries) if there is none.
func (h *dockerHost) sshClient(ctx context.Context) (*ssh.Client, *keepalive.Monitor, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ssh != nil {
		return h.ssh, h.monitor, nil
	}
	if h.settings == nil || h.settings.SSH == nil {
		return nil, nil, errors.New("the docker provider has no ssh host configured")
	}
	s := h.settings.SSH
	sshClient, err := dialSSHWithRetry(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	h.sshDials++
	h.ssh = sshClient
	h.monitor = keepalive.Start(sshClient, s.User+"@"+s.Addr, s.Keepalive)
	go func() {
		// When the server goes away, forget the client so the next call reconnects.
		_ = sshClient.Wait()
		h.dropSSH(sshClient)
	}()
	return sshClient, h.monitor, nil
}

func (h *dockerHost) dropSSH(dead *ssh.Client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ssh == dead {
		h.monitor.Stop()
		h.ssh, h.monitor = nil, nil
	}
	_ = dead.Close()
}

// watchedConn is a connection over the shared SSH client. Once the keepalive monitor gave
// the client up, its read and write errors are the monitor's error, which names the host,
// instead of the bare EOF of a closed channel.
type watchedConn struct {
	net.Conn
	monitor *keepalive.Monitor
}

func (c watchedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	return n, c.explain(err)
}

func (c watchedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	return n, c.explain(err)
}

func (c watchedConn) explain(err error) error {
	if err != nil {
		if lost := c.monitor.Err(); lost != nil {
			return lost
		}
	}
	return err
}

// dialSSHWithRetry connects and authenticates, retrying network failures (not
// authentication or host-key failures) sshDialAttempts times, sshDialBackoff apart.
func dialSSHWithRetry(ctx context.Context, s *sshSettings) (*ssh.Client, error) {
	config, closeAgent, err := sshClientConfig(s)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 1; attempt <= sshDialAttempts; attempt++ {
		sshClient, err := dialSSH(ctx, s, config)
		if err == nil {
			// The agent may be asked again while the client lives; released when it closes.
			go func() { _ = sshClient.Wait(); closeAgent() }()
			return sshClient, nil
		}
		lastErr = err
		var netErr net.Error
		var opErr *net.OpError
		retryable := errors.As(err, &netErr) || errors.As(err, &opErr) || errors.Is(err, io.EOF)
		if !retryable || attempt == sshDialAttempts {
			break
		}
		select {
		case <-ctx.Done():
			closeAgent()
			return nil, fmt.Errorf("connecting to %s over ssh: %w (last error: %v)", s.Addr, ctx.Err(), lastErr)
		case <-time.After(sshDialBackoff):
		}
	}
	closeAgent()
	return nil, fmt.Errorf("connecting to %s@%s over ssh: %w", s.User, s.Addr, lastErr)
}

func dialSSH(ctx context.Context, s *sshSettings, config *ssh.ClientConfig) (*ssh.Client, error) {
	dialer := net.Dialer{Timeout: s.ConnectTimeout}
	tcp, err := dialer.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return nil, err
	}
	if s.ConnectTimeout > 0 {
		_ = tcp.SetDeadline(time.Now().Add(s.ConnectTimeout))
	}
	conn, chans, reqs, err := ssh.NewClientConn(tcp, s.Addr, config)
	if err != nil {
		_ = tcp.Close()
		return nil, err
	}
	_ = tcp.SetDeadline(time.Time{})
	return ssh.NewClient(conn, chans, reqs), nil
}

// sshClientConfig builds auth (key files, then the ssh agent at SSH_AUTH_SOCK) and host-key
// checking from s. The returned closer releases the agent connection, if any.
func sshClientConfig(s *sshSettings) (*ssh.ClientConfig, func(), error) {
	closeAgent := func() {}
	var signers []ssh.Signer
	files := s.IdentityFiles
	explicit := len(files) > 0
	if !explicit {
		if home, err := os.UserHomeDir(); err == nil {
			for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
				files = append(files, filepath.Join(home, ".ssh", name))
			}
		}
	}
	for _, file := range files {
		pem, err := os.ReadFile(file)
		if err != nil {
			if explicit {
				return nil, closeAgent, fmt.Errorf("reading ssh identity file %s: %w", file, err)
			}
			continue
		}
		signer, err := ssh.ParsePrivateKey(pem)
		if err != nil {
			if explicit {
				return nil, closeAgent, fmt.Errorf("parsing ssh identity file %s (passphrase-protected keys are not supported): %w", file, err)
			}
			continue
		}
		signers = append(signers, signer)
	}
	auth := []ssh.AuthMethod{}
	if len(signers) > 0 {
		auth = append(auth, ssh.PublicKeys(signers...))
	}
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		if conn, err := net.Dial("unix", sock); err == nil {
			closeAgent = func() { _ = conn.Close() }
			auth = append(auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
		}
	}
	if len(auth) == 0 {
		return nil, closeAgent, fmt.Errorf("no ssh key for %s@%s: pass one with sshOpts [\"-i\", FILE] or run an ssh agent", s.User, s.Addr)
	}
	hostKeys, algorithms, err := hostKeyCallback(s)
	if err != nil {
		closeAgent()
		return nil, closeAgent, err
	}
	return &ssh.ClientConfig{
		User:              s.User,
		Auth:              auth,
		HostKeyCallback:   hostKeys,
		HostKeyAlgorithms: algorithms,
		Timeout:           s.ConnectTimeout,
	}, closeAgent, nil
}

// hostKeyCallback follows OpenSSH's StrictHostKeyChecking: "no" accepts any key, "yes"
// requires the key in a known_hosts file, "accept-new" records unknown hosts in the first
// known_hosts file but still refuses changed keys. A refused key is a *hostkey.MismatchError
// naming the host and the files. The algorithms are those of the keys known for the host (as
// OpenSSH orders them), so a server with several keys shows one that can be checked; nil when
// none is known.
func hostKeyCallback(s *sshSettings) (ssh.HostKeyCallback, []string, error) {
	if s.StrictHostKeyChecking == "no" {
		return ssh.InsecureIgnoreHostKey(), nil, nil //nolint:gosec // the user asked for it in sshOpts
	}
	var existing []string
	for _, f := range s.KnownHostsFiles {
		if _, err := os.Stat(f); err == nil {
			existing = append(existing, f)
		}
	}
	var check ssh.HostKeyCallback
	if len(existing) > 0 {
		cb, err := knownhosts.New(existing...)
		if err != nil {
			return nil, nil, fmt.Errorf("reading known_hosts files %v: %w", existing, err)
		}
		check = cb
	} else {
		check = func(string, net.Addr, ssh.PublicKey) error {
			return &knownhosts.KeyError{}
		}
	}
	source := fmt.Sprintf("known_hosts %v", s.KnownHostsFiles)
	refuse := func(host string, key ssh.PublicKey, err error) error {
		var keyErr *knownhosts.KeyError
		if !errors.As(err, &keyErr) {
			return fmt.Errorf("checking the host key of %s against %s: %w", host, source, err)
		}
		expected := make([]string, len(keyErr.Want))
		for i, k := range keyErr.Want {
			expected[i] = hostkey.Fingerprint(k.Key)
		}
		return &hostkey.MismatchError{Host: host, Source: source, Offered: hostkey.Fingerprint(key),
			Expected: expected, Unknown: len(keyErr.Want) == 0}
	}
	algorithms := knownAlgorithms(check, s.Addr)
	if s.StrictHostKeyChecking != "accept-new" {
		return func(host string, remote net.Addr, key ssh.PublicKey) error {
			if err := check(host, remote, key); err != nil {
				return refuse(host, key, err)
			}
			return nil
		}, algorithms, nil
	}
	return func(host string, remote net.Addr, key ssh.PublicKey) error {
		err := check(host, remote, key)
		var keyErr *knownhosts.KeyError
		if err == nil {
			return nil
		}
		if !errors.As(err, &keyErr) || len(keyErr.Want) > 0 {
			return refuse(host, key, err)
		}
		if len(s.KnownHostsFiles) == 0 {
			return nil
		}
		file := s.KnownHostsFiles[0]
		if mkErr := os.MkdirAll(filepath.Dir(file), 0o700); mkErr != nil {
			return fmt.Errorf("recording the host key of %s: %w", host, mkErr)
		}
		f, openErr := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if openErr != nil {
			return fmt.Errorf("recording the host key of %s in %s: %w", host, file, openErr)
		}
		defer f.Close()
		_, writeErr := fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(host)}, key))
		return writeErr
	}, algorithms, nil
}

// knownAlgorithms asks check which keys it knows for addr ("host:port"): a key no file holds
// makes knownhosts answer with the known ones.
func knownAlgorithms(check ssh.HostKeyCallback, addr string) []string {
	var keyErr *knownhosts.KeyError
	if err := check(addr, textAddr(addr), probeKey{}); !errors.As(err, &keyErr) {
		return nil
	}
	keys := make([]ssh.PublicKey, len(keyErr.Want))
	for i, k := range keyErr.Want {
		keys[i] = k.Key
	}
	return hostkey.Algorithms(keys...)
}

// probeKey is a public key that no known_hosts line holds.
type probeKey struct{}

func (probeKey) Type() string                        { return "probe" }
func (probeKey) Marshal() []byte                     { return []byte("galera-swarm probe key") }
func (probeKey) Verify([]byte, *ssh.Signature) error { return errors.New("probe key") }

// textAddr is a net.Addr that is only its "host:port" text.
type textAddr string

func (a textAddr) Network() string { return "tcp" }
func (a textAddr) String() string  { return string(a) }

// dialStdio runs `docker system dial-stdio` in a new session of sshClient and returns the
// session's stdin/stdout as a net.Conn to the daemon.
func dialStdio(sshClient *ssh.Client) (net.Conn, error) {
	session, err := sshClient.NewSession()
	if err != nil {
		return nil, fmt.Errorf("opening an ssh session for docker system dial-stdio: %w", err)
	}
	stdin, err := session.StdinPipe()
	if err != nil {
		_ = session.Close()
		return nil, fmt.Errorf("wiring stdin of docker system dial-stdio: %w", err)
	}
	stdout, err := session.StdoutPipe()
	if err != nil {
		_ = session.Close()
		return nil, fmt.Errorf("wiring stdout of docker system dial-stdio: %w", err)
	}
	if err := session.Start("docker system dial-stdio"); err != nil {
		_ = session.Close()
		return nil, fmt.Errorf("starting docker system dial-stdio over ssh: %w", err)
	}
	return &stdioConn{session: session, stdin: stdin, stdout: stdout, remote: sshClient.RemoteAddr()}, nil
}

// stdioConn is a net.Conn over an ssh session's stdin/stdout. Deadlines are not supported
// (the docker client does not rely on them; it cancels through the context).
type stdioConn struct {
	session *ssh.Session
	stdin   io.WriteCloser
	stdout  io.Reader
	remote  net.Addr
}

func (c *stdioConn) Read(b []byte) (int, error)  { return c.stdout.Read(b) }
func (c *stdioConn) Write(b []byte) (int, error) { return c.stdin.Write(b) }
func (c *stdioConn) Close() error {
	_ = c.stdin.Close()
	return c.session.Close()
}
func (c *stdioConn) LocalAddr() net.Addr              { return stdioAddr{} }
func (c *stdioConn) RemoteAddr() net.Addr             { return c.remote }
func (c *stdioConn) SetDeadline(time.Time) error      { return nil }
func (c *stdioConn) SetReadDeadline(time.Time) error  { return nil }
func (c *stdioConn) SetWriteDeadline(time.Time) error { return nil }

type stdioAddr struct{}

func (stdioAddr) Network() string { return "ssh-stdio" }
func (stdioAddr) String() string  { return "docker system dial-stdio" }
