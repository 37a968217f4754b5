// Package keepalive notices an SSH peer that stopped answering: a host that dies or drops
// off the network without closing its TCP connections would otherwise leave every call on
// the connection waiting forever (TCP keepalive takes hours). Both plugins run one Monitor
// per SSH connection, the way OpenSSH's ServerAliveInterval/ServerAliveCountMax do.
package keepalive

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// RequestType is the global request sent as a keepalive. OpenSSH servers answer it (with a
// failure reply, which proves liveness just as well).
const RequestType = "keepalive@openssh.com"

// Policy says how often a keepalive is sent and how many may stay unanswered.
type Policy struct {
	// Interval between keepalives; also how long each may wait for its reply.
	Interval time.Duration
	// MaxMissed is the number of intervals in a row without a reply after which the
	// connection is given up.
	MaxMissed int
}

// Default is the plugins' policy: a keepalive every 10 s, the connection closed after 3
// unanswered intervals, so a dead peer is noticed within 40 s ((MaxMissed+1) × Interval).
var Default = Policy{Interval: 10 * time.Second, MaxMissed: 3}

// Bound is the longest time a dead peer can go unnoticed under the policy.
func (p Policy) Bound() time.Duration { return time.Duration(p.MaxMissed+1) * p.Interval }

// ErrNoReply is wrapped by Monitor.Err once a connection was given up.
var ErrNoReply = errors.New("no reply to keepalives")

// Monitor watches one SSH connection; see Start.
type Monitor struct {
	stop     chan struct{}
	stopOnce sync.Once
	mu       sync.Mutex
	err      error
}

// Start sends a keepalive on conn every policy.Interval. When policy.MaxMissed intervals in
// a row pass without a reply, it records an error naming host (e.g. "root@10.0.0.1:22")
// and closes conn, so every call in flight on it fails at once. It ends by itself when
// conn closes; Stop ends it earlier. A zero policy means Default.
func Start(conn ssh.Conn, host string, policy Policy) *Monitor {
	if policy.Interval <= 0 || policy.MaxMissed <= 0 {
		policy = Default
	}
	m := &Monitor{stop: make(chan struct{})}
	go m.run(conn, host, policy)
	return m
}

func (m *Monitor) run(conn ssh.Conn, host string, policy Policy) {
	ticker := time.NewTicker(policy.Interval)
	defer ticker.Stop()
	// One keepalive at a time: replies come in order, so a later one cannot overtake.
	replies := make(chan error, 1)
	pending, missed := false, 0
	for {
		select {
		case <-m.stop:
			return
		case err := <-replies:
			if err != nil {
				return // the connection closed
			}
			pending, missed = false, 0
		case <-ticker.C:
			if !pending {
				pending = true
				go func() {
					_, _, err := conn.SendRequest(RequestType, true, nil)
					replies <- err
				}()
				continue
			}
			missed++
			if missed >= policy.MaxMissed {
				m.mu.Lock()
				m.err = fmt.Errorf("ssh connection to %s lost: %w for %s (the host is down or unreachable)",
					host, ErrNoReply, time.Duration(missed)*policy.Interval)
				m.mu.Unlock()
				_ = conn.Close()
				return
			}
		}
	}
}

// Err is nil while the connection is alive (or closed normally), and the error naming the
// host once the monitor gave the connection up.
func (m *Monitor) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// Stop ends the monitor without touching the connection. Safe to call more than once.
func (m *Monitor) Stop() { m.stopOnce.Do(func() { close(m.stop) }) }
