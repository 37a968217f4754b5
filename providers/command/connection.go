package command

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/galera-swarm/galera-swarm/providers/internal/hostkey"
	"github.com/galera-swarm/galera-swarm/providers/internal/ptr"
)

// Connection is the `connection` input of command:remote:Command (the SDK's
// `command:remote:Connection` type). The SDK sends the whole object secret-wrapped;
// password, privateKey and privateKeyPassword are secret on their own as well.
//
// Numbers arrive as doubles on the wire: Port is kept a float64 (as the schema declares
// it), DialErrorLimit and PerDialTimeout are integers the mapper converts from doubles.
// Defaults (user root, port 22, dialErrorLimit 10, perDialTimeout 15) are declared in
// Annotate and applied by Check only: Dial reads checked inputs.
type Connection struct {
	Host               *string  `pulumi:"host"`
	User               *string  `pulumi:"user,optional"`
	Port               *float64 `pulumi:"port,optional"`
	Password           *string  `pulumi:"password,optional" provider:"secret"`
	PrivateKey         *string  `pulumi:"privateKey,optional" provider:"secret"`
	PrivateKeyPassword *string  `pulumi:"privateKeyPassword,optional" provider:"secret"`
	AgentSocketPath    *string  `pulumi:"agentSocketPath,optional"`
	DialErrorLimit     *int     `pulumi:"dialErrorLimit,optional"`
	PerDialTimeout     *int     `pulumi:"perDialTimeout,optional"`
	HostKey            *string  `pulumi:"hostKey,optional"`
}

// Schema defaults of the connection (pulumi-command 1.2.1 schema,
// providers/CONTRACT.md#command-connection).
const (
	defaultUser           = "root"
	defaultPort           = 22
	defaultDialErrorLimit = 10
	defaultPerDialTimeout = 15
)

// Annotate declares the connection's descriptions and schema defaults.
func (c *Connection) Annotate(a infer.Annotator) {
	a.Describe(&c.Host, "The address of the resource to connect to.")
	a.Describe(&c.User, "The user that we should use for the connection.")
	a.SetDefault(&c.User, defaultUser)
	a.Describe(&c.Port, "The port to connect to.")
	a.SetDefault(&c.Port, defaultPort)
	a.Describe(&c.Password, "The password we should use for the connection.")
	a.Describe(&c.PrivateKey, "The contents of an SSH key to use for the connection.")
	a.Describe(&c.PrivateKeyPassword, "The password to use in case the private key is encrypted.")
	a.Describe(&c.AgentSocketPath, "SSH Agent socket path. Default to environment variable SSH_AUTH_SOCK if present.")
	a.Describe(&c.DialErrorLimit, "Max allowed errors on trying to dial the remote host. -1 set count to unlimited.")
	a.SetDefault(&c.DialErrorLimit, defaultDialErrorLimit)
	a.Describe(&c.PerDialTimeout, "Max number of seconds for each dial attempt. 0 implies no maximum.")
	a.SetDefault(&c.PerDialTimeout, defaultPerDialTimeout)
	a.Describe(&c.HostKey, "The expected host key (authorized_keys format). Not checked when absent.")
}

// Backoff is the wait schedule between failed dials: the first wait, the factor applied
// after each wait, and the cap. DefaultBackoff mirrors pulumi's retry.Until as used by
// pulumi-command 1.2.1 (100 ms, ×1.5, at most 5 s).
type Backoff struct {
	First  time.Duration
	Factor float64
	Max    time.Duration
}

// DefaultBackoff is the production dial retry schedule.
var DefaultBackoff = Backoff{First: 100 * time.Millisecond, Factor: 1.5, Max: 5 * time.Second}

// next returns the wait after wait d.
func (b Backoff) next(d time.Duration) time.Duration {
	n := time.Duration(float64(d) * b.Factor)
	if n > b.Max {
		n = b.Max
	}
	return n
}

// address is host:port of the checked connection.
func (c Connection) address() string {
	return net.JoinHostPort(ptr.Deref(c.Host), strconv.Itoa(int(ptr.Deref(c.Port))))
}

// clientConfig builds the x/crypto/ssh client configuration: auth methods in the official
// order (private key, password + keyboard-interactive, agent), the host key rule (fixed
// key when hostKey is given, refused with a *hostkey.MismatchError naming host:port;
// otherwise accept any) and the per-dial timeout in seconds.
// It fails on an unparsable key or host key, or an explicit agent socket that cannot be
// dialled. The returned closer releases the agent connection, if any.
func (c Connection) clientConfig(ctx context.Context) (*ssh.ClientConfig, func(), error) {
	closer := func() {}
	cfg := &ssh.ClientConfig{
		User:            ptr.Deref(c.User),
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), //nolint:gosec // official default: no hostKey, no check
	}
	if c.PerDialTimeout != nil && *c.PerDialTimeout > 0 {
		cfg.Timeout = time.Duration(*c.PerDialTimeout) * time.Second
	}
	if c.HostKey != nil && *c.HostKey != "" {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*c.HostKey))
		if err != nil {
			return nil, closer, fmt.Errorf("parsing connection.hostKey: %w", err)
		}
		// Only the pinned key's algorithms: a server that also holds keys of other types
		// must show this one (x/crypto/ssh would ask for RSA first).
		cfg.HostKeyAlgorithms = hostkey.Algorithms(key)
		cfg.HostKeyCallback = hostkey.Fixed(c.address(), "connection.hostKey", key)
	}
	if c.PrivateKey != nil && *c.PrivateKey != "" {
		var signer ssh.Signer
		var err error
		if c.PrivateKeyPassword != nil && *c.PrivateKeyPassword != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(*c.PrivateKey), []byte(*c.PrivateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(*c.PrivateKey))
		}
		if err != nil {
			// The parser's message never quotes the key material.
			return nil, closer, fmt.Errorf("parsing connection.privateKey: %w", err)
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if c.Password != nil && *c.Password != "" {
		password := *c.Password
		cfg.Auth = append(cfg.Auth, ssh.Password(password),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = password
				}
				return answers, nil
			}))
	}
	socket, explicit := ptr.Deref(c.AgentSocketPath), true
	if socket == "" {
		socket, explicit = os.Getenv("SSH_AUTH_SOCK"), false
	}
	if socket != "" {
		conn, err := (&net.Dialer{}).DialContext(ctx, "unix", socket)
		switch {
		case err == nil:
			closer = func() { _ = conn.Close() }
			cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
		case explicit:
			return nil, closer, fmt.Errorf("dialing SSH agent at connection.agentSocketPath %q: %w", socket, err)
		default:
			p.GetLogger(ctx).Warningf("ignoring SSH_AUTH_SOCK %q: %v", socket, err)
		}
	}
	return cfg, closer, nil
}

// Dial opens an SSH client to the connection's host, retrying failed attempts
// (connection refused, timeout, handshake or auth failure) until one succeeds or the
// attempt number exceeds dialErrorLimit (-1: never give up; so at most limit+1 dials).
// A host key that differs from hostKey fails at once, without retries (a deliberate
// difference from pulumi-command 1.2.1, which retries it like a network error).
// Waits between attempts follow backoff. Each failure that will be retried is logged as
// the status line "Dial n/limit failed: retrying"; the final error is
// "after <limit> failed attempts: <ssh error>". Rule from pulumi-command 1.2.1
// (provider/pkg/provider/remote/connection.go).
func (c Connection) Dial(ctx context.Context, backoff Backoff) (*ssh.Client, error) {
	cfg, closeAgent, err := c.clientConfig(ctx)
	if err != nil {
		return nil, err
	}
	limit := ptr.Deref(c.DialErrorLimit)
	limitText := strconv.Itoa(limit)
	if limit < 0 {
		limitText = "unlimited"
	}
	addr := c.address()
	wait := backoff.First
	for attempt := 1; ; attempt++ {
		client, err := dialOnce(ctx, addr, cfg)
		if err == nil {
			// The agent connection must stay open while the client may re-authenticate;
			// it is released when the client closes.
			go func() { _ = client.Wait(); closeAgent() }()
			return client, nil
		}
		var mismatch *hostkey.MismatchError
		if errors.As(err, &mismatch) {
			// Another key will not turn into the right one by retrying: refuse at once.
			closeAgent()
			return nil, mismatch
		}
		if limit >= 0 && attempt > limit {
			closeAgent()
			return nil, fmt.Errorf("after %d failed attempts: %w", limit, err)
		}
		p.GetLogger(ctx).InfoStatusf("Dial %d/%s failed: retrying", attempt, limitText)
		select {
		case <-ctx.Done():
			closeAgent()
			return nil, fmt.Errorf("dialing %s: %w (last error: %w)", addr, ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = backoff.next(wait)
	}
}

// dialOnce makes one TCP connection and SSH handshake, bounded by cfg.Timeout (covering
// both) and ctx.
func dialOnce(ctx context.Context, addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	dctx := ctx
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// Abort a stuck handshake when the deadline passes.
	stop := context.AfterFunc(dctx, func() { _ = conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if !stop() {
		// The deadline passed during the handshake and the connection is being closed.
		if err == nil {
			_ = c.Close()
		}
		return nil, fmt.Errorf("ssh handshake with %s: %w", addr, errors.Join(dctx.Err(), err))
	}
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return ssh.NewClient(c, chans, reqs), nil
}
