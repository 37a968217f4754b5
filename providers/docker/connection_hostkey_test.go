package docker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/galera-swarm/galera-swarm/providers/internal/sshtest"
)

// knownHostsFile writes one known_hosts line for addr with key and returns the file.
func knownHostsFile(t *testing.T, addr string, key ssh.PublicKey) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, key)
	if err := os.WriteFile(file, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestAHostWithAnotherKeyIsRefusedNamingTheHost(t *testing.T) {
	server, keyFile := startSSHServer(t, fakeDaemon(t))
	recorded, _ := sshtest.NewKey(t)
	file := knownHostsFile(t, server.Addr, recorded.PublicKey())
	api, _ := sshHostFor(t, server, keyFile, "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile="+file).client()
	_, err := api.Ping(context.Background())
	want := "ssh: host key of " + server.Addr + " does not match known_hosts [" + file + "] (host key mismatch: it offered " +
		ssh.FingerprintSHA256(server.HostKey) + ", expected " + ssh.FingerprintSHA256(recorded.PublicKey()) + ")"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want it to hold %q", err, want)
	}
	if server.Conns.Load() != 0 || server.Channels.Load() != 0 {
		t.Errorf("logged in %d times with a refused host key", server.Conns.Load())
	}
}

func TestAnUnknownHostIsRefusedWithTheFix(t *testing.T) {
	server, keyFile := startSSHServer(t, fakeDaemon(t))
	other, _ := sshtest.NewKey(t)
	file := knownHostsFile(t, "192.0.2.99:22", other.PublicKey())
	api, _ := sshHostFor(t, server, keyFile, "-o", "UserKnownHostsFile="+file).client()
	_, err := api.Ping(context.Background())
	if err == nil || !strings.Contains(err.Error(), "ssh: host key of "+server.Addr+" is not in known_hosts ["+file+"]") ||
		!strings.Contains(err.Error(), "ssh-keyscan -H -p ") {
		t.Fatalf("error = %v", err)
	}
}

func TestTheKnownKeyIsAskedForOnAServerWithSeveralHostKeys(t *testing.T) {
	edKey, _ := sshtest.NewKey(t)
	server := sshtest.Start(t, sshtest.Options{ForwardUnix: fakeDaemon(t),
		HostKeys: []ssh.Signer{sshtest.NewRSAKey(t), edKey}})
	file := knownHostsFile(t, server.Addr, edKey.PublicKey())
	api, _ := sshHostFor(t, server, server.ClientKeyFile(t), "-o", "UserKnownHostsFile="+file).client()
	if _, err := api.Ping(context.Background()); err != nil {
		t.Fatalf("the host's recorded ed25519 key was refused: %v", err)
	}
}

func TestTheSSHAgentLogsInWithoutAKeyFile(t *testing.T) {
	server := sshtest.Start(t, sshtest.Options{ForwardUnix: fakeDaemon(t)})
	// No -i and no ~/.ssh/id_* files: only the agent holds the key.
	t.Setenv("HOME", t.TempDir())
	t.Setenv("SSH_AUTH_SOCK", sshtest.Agent(t, server.ClientKey))
	file := knownHostsFile(t, server.Addr, server.HostKey)
	settings, err := hostSettings("ssh://root@"+server.Addr, []string{"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + file})
	if err != nil {
		t.Fatal(err)
	}
	settings.SSH.ConnectTimeout = 5 * time.Second
	host := &dockerHost{}
	host.configure(settings)
	api, _ := host.client()
	if _, err := api.Ping(context.Background()); err != nil {
		t.Fatalf("agent login failed: %v", err)
	}
	// The same without the agent: no key at all.
	t.Setenv("SSH_AUTH_SOCK", "")
	host.configure(settings)
	api, _ = host.client()
	if _, err := api.Ping(context.Background()); err == nil || !strings.Contains(err.Error(), "no ssh key") {
		t.Errorf("error = %v, want no ssh key", err)
	}
}
