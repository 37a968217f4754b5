package keepalive

import (
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/galera-swarm/galera-swarm/providers/internal/sshtest"
)

func dial(t *testing.T, server *sshtest.Server) *ssh.Client {
	t.Helper()
	signer, err := ssh.ParsePrivateKey([]byte(server.ClientKey))
	if err != nil {
		t.Fatal(err)
	}
	client, err := ssh.Dial("tcp", server.Addr, &ssh.ClientConfig{
		User: "test", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(server.HostKey), Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

var fast = Policy{Interval: 50 * time.Millisecond, MaxMissed: 3}

func TestAnAnsweringPeerKeepsTheConnection(t *testing.T) {
	server := sshtest.Start(t, sshtest.Options{})
	client := dial(t, server)
	monitor := Start(client, "test@"+server.Addr, fast)
	defer monitor.Stop()
	time.Sleep(10 * fast.Interval)
	if err := monitor.Err(); err != nil {
		t.Fatalf("Err = %v on a live connection", err)
	}
	if n := server.Keepalives.Load(); n < 5 {
		t.Errorf("server saw %d keepalives in %s, want about 10", n, 10*fast.Interval)
	}
	if _, _, err := client.SendRequest("ping@test", true, nil); err != nil {
		t.Errorf("connection closed although the peer answered: %v", err)
	}
}

func TestAPeerThatStopsAnsweringIsGivenUpWithinTheBound(t *testing.T) {
	server := sshtest.Start(t, sshtest.Options{})
	client := dial(t, server)
	monitor := Start(client, "test@"+server.Addr, fast)
	defer monitor.Stop()
	server.Freeze()
	closed := make(chan struct{})
	go func() { _ = client.Wait(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(fast.Bound() + time.Second):
		t.Fatalf("connection still open %s after the peer froze (bound %s)", fast.Bound()+time.Second, fast.Bound())
	}
	err := monitor.Err()
	if !errors.Is(err, ErrNoReply) || !strings.Contains(err.Error(), "ssh connection to test@"+server.Addr+" lost") {
		t.Errorf("Err = %v, want ErrNoReply naming the host", err)
	}
}

func TestStoppedMonitorAndNormalCloseLeaveNoError(t *testing.T) {
	server := sshtest.Start(t, sshtest.Options{})
	client := dial(t, server)
	monitor := Start(client, "h", fast)
	monitor.Stop()
	monitor.Stop() // twice is fine
	server.Freeze()
	time.Sleep(fast.Bound() + 2*fast.Interval)
	if err := monitor.Err(); err != nil {
		t.Errorf("a stopped monitor gave the connection up: %v", err)
	}
	other := dial(t, sshtest.Start(t, sshtest.Options{}))
	closedMonitor := Start(other, "h", Policy{}) // zero policy: Default
	_ = other.Close()
	if err := closedMonitor.Err(); err != nil {
		t.Errorf("Err after a normal close = %v", err)
	}
	if Default.Bound() != 40*time.Second {
		t.Errorf("Default bound = %s, want 40s", Default.Bound())
	}
}
