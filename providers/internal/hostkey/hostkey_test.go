package hostkey

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/galera-swarm/galera-swarm/providers/internal/sshtest"
)

func TestAlgorithmsFollowTheKnownKeys(t *testing.T) {
	ed, _ := sshtest.NewKey(t)
	rsa := sshtest.NewRSAKey(t)
	tests := []struct {
		name string
		keys []ssh.PublicKey
		want []string
	}{
		{"none", nil, nil},
		{"ed25519", []ssh.PublicKey{ed.PublicKey()}, []string{"ssh-ed25519"}},
		{"rsa", []ssh.PublicKey{rsa.PublicKey()}, []string{"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"}},
		{"both, no repeats", []ssh.PublicKey{ed.PublicKey(), rsa.PublicKey(), ed.PublicKey()},
			[]string{"ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Algorithms(tt.keys...); !slices.Equal(got, tt.want) {
				t.Errorf("Algorithms = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFixedRefusesAnotherKeyNamingTheHost(t *testing.T) {
	a, _ := sshtest.NewKey(t)
	b, _ := sshtest.NewKey(t)
	check := Fixed("192.0.2.12:22", "connection.hostKey", a.PublicKey())
	if err := check("ignored", nil, a.PublicKey()); err != nil {
		t.Errorf("the expected key refused: %v", err)
	}
	err := check("ignored", nil, b.PublicKey())
	var mismatch *MismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("error = %v, want a MismatchError", err)
	}
	want := "ssh: host key of 192.0.2.12:22 does not match connection.hostKey (host key mismatch: it offered " +
		ssh.FingerprintSHA256(b.PublicKey()) + ", expected " + ssh.FingerprintSHA256(a.PublicKey()) + ")"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %q, want it to start with %q", err, want)
	}
}

func TestUnknownHostErrorSaysHowToRecordIt(t *testing.T) {
	err := &MismatchError{Host: "[2001:db8::2]:2222", Source: "[/root/.ssh/known_hosts]", Offered: "SHA256:x", Unknown: true}
	for _, part := range []string{"host key of [2001:db8::2]:2222 is not in [/root/.ssh/known_hosts]",
		"verify that fingerprint", "ssh-keyscan -H -p 2222 2001:db8::2 >> FILE"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("%q lacks %q", err, part)
		}
	}
}
