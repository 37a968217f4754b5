package command

import (
	"strings"
	"testing"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"golang.org/x/crypto/ssh"

	"github.com/galera-swarm/galera-swarm/providers/internal/sshtest"
)

func TestRemoteHostKeyMismatchIsRefusedAtOnceNamingTheHost(t *testing.T) {
	srv := startSSHServer(t)
	impostorKey, _ := sshtest.NewKey(t)
	expected := string(ssh.MarshalAuthorizedKey(impostorKey.PublicKey()))
	s := newServer(t)
	urn := remoteURN("mismatch")
	// The default dialErrorLimit (10): a mismatch must not be retried.
	inputs := check(t, s, urn, m(map[string]any{"connection": secret(map[string]any{
		"host": srv.Host, "port": float64(srv.Port), "user": "test", "privateKey": srv.ClientKey,
		"hostKey": expected}), "create": "echo ran"}))
	started := time.Now()
	_, err := s.Create(p.CreateRequest{Urn: urn, Properties: inputs})
	if err == nil {
		t.Fatal("a host with another key was accepted")
	}
	want := "ssh: host key of " + srv.Addr + " does not match connection.hostKey (host key mismatch: it offered " +
		ssh.FingerprintSHA256(srv.HostKey) + ", expected " + ssh.FingerprintSHA256(impostorKey.PublicKey()) + ")"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want it to hold %q", err, want)
	}
	if strings.Contains(err.Error(), "failed attempts") || time.Since(started) > 2*time.Second {
		t.Errorf("a host key mismatch was retried (%v): %v", time.Since(started), err)
	}
	if n := len(srv.Execs()); n != 0 || srv.Conns.Load() != 0 {
		t.Errorf("ran %d commands over %d logins, want none", n, srv.Conns.Load())
	}
}

func TestRemotePinnedKeyIsFoundOnAServerWithSeveralHostKeys(t *testing.T) {
	rsaKey := sshtest.NewRSAKey(t)
	edKey, _ := sshtest.NewKey(t)
	srv := sshtest.Start(t, sshtest.Options{HostKeys: []ssh.Signer{rsaKey, edKey}})
	s := newServer(t)
	urn := remoteURN("several")
	// x/crypto/ssh asks for RSA first; pinned to the ed25519 key, the client must ask for that.
	inputs := check(t, s, urn, m(map[string]any{"connection": conn(srv, map[string]any{
		"hostKey": string(ssh.MarshalAuthorizedKey(edKey.PublicKey()))}), "create": "echo ok"}))
	if _, err := s.Create(p.CreateRequest{Urn: urn, Properties: inputs}); err != nil {
		t.Fatalf("the host's ed25519 key was refused: %v", err)
	}
}

func TestRemoteAgentLogsInWithoutAPrivateKey(t *testing.T) {
	srv := startSSHServer(t)
	sock := sshtest.Agent(t, srv.ClientKey)
	t.Setenv("SSH_AUTH_SOCK", "")
	for name, connection := range map[string]map[string]any{
		"agentSocketPath": {"host": srv.Host, "port": float64(srv.Port), "user": "test",
			"agentSocketPath": sock, "hostKey": srv.HostKeyLine, "dialErrorLimit": 0.0},
		"SSH_AUTH_SOCK": {"host": srv.Host, "port": float64(srv.Port), "user": "test",
			"hostKey": srv.HostKeyLine, "dialErrorLimit": 0.0},
	} {
		t.Run(name, func(t *testing.T) {
			if name == "SSH_AUTH_SOCK" {
				t.Setenv("SSH_AUTH_SOCK", sock)
			}
			s := newServer(t)
			urn := remoteURN("agent")
			inputs := check(t, s, urn, m(map[string]any{"connection": secret(connection), "create": "echo via agent"}))
			resp, err := s.Create(p.CreateRequest{Urn: urn, Properties: inputs})
			if err != nil {
				t.Fatalf("agent login failed: %v", err)
			}
			if got := resp.Properties.Get("stdout").AsString(); got != "via agent" {
				t.Errorf("stdout = %q", got)
			}
		})
	}
	// Without the agent (and no key), the server refuses the login.
	s := newServer(t)
	urn := remoteURN("noagent")
	inputs := check(t, s, urn, m(map[string]any{"connection": secret(map[string]any{
		"host": srv.Host, "port": float64(srv.Port), "user": "test", "dialErrorLimit": 0.0}), "create": "true"}))
	if _, err := s.Create(p.CreateRequest{Urn: urn, Properties: inputs}); err == nil {
		t.Error("logged in with neither key nor agent")
	}
}
