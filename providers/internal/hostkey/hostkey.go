// Package hostkey is what both plugins share about SSH host keys: which host key algorithms
// to ask a server for when its keys are known (so a server with several keys presents one we
// can check), and the error that refuses a host whose key differs, naming the host.
package hostkey

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Algorithms returns the host key algorithms that verify the given keys, in the keys' order
// (an RSA key is good for rsa-sha2-512, rsa-sha2-256 and ssh-rsa). Without it x/crypto/ssh
// asks for RSA first, and a server that also holds an RSA key would present that one, which
// a pinned ed25519 key cannot verify. Empty for no keys (then the library's default applies).
func Algorithms(keys ...ssh.PublicKey) []string {
	var algos []string
	for _, key := range keys {
		var these []string
		if key.Type() == ssh.KeyAlgoRSA {
			these = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		} else {
			these = []string{key.Type()}
		}
		for _, a := range these {
			if !slices.Contains(algos, a) {
				algos = append(algos, a)
			}
		}
	}
	return algos
}

// MismatchError refuses a host whose key is not the expected one. Host is "host:port",
// Source where the expected keys come from (a setting or files), Offered and Expected are
// SHA256 fingerprints. Unknown means no key is recorded for the host at all.
type MismatchError struct {
	Host     string
	Source   string
	Offered  string
	Expected []string
	Unknown  bool
}

func (e *MismatchError) Error() string {
	if e.Unknown {
		return fmt.Sprintf("ssh: host key of %s is not in %s (it offered %s); verify that fingerprint "+
			"on the host (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then add it: ssh-keyscan -H -p %s %s >> FILE",
			e.Host, e.Source, e.Offered, port(e.Host), hostname(e.Host))
	}
	return fmt.Sprintf("ssh: host key of %s does not match %s (host key mismatch: it offered %s, expected %s); "+
		"someone may be answering at its address, or the host was re-installed: verify its new key on the host "+
		"before you replace the recorded one", e.Host, e.Source, e.Offered, strings.Join(e.Expected, " or "))
}

func hostname(hostPort string) string {
	h, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return hostPort
	}
	return h
}

func port(hostPort string) string {
	_, p, err := net.SplitHostPort(hostPort)
	if err != nil {
		return "22"
	}
	return p
}

// Fingerprint is the key's SHA256 fingerprint, as ssh-keygen -l prints it.
func Fingerprint(key ssh.PublicKey) string { return ssh.FingerprintSHA256(key) }

// Fixed is a host key callback that accepts only want, refusing any other key with a
// *MismatchError naming host (the "host:port" dialled) and source.
func Fixed(host, source string, want ssh.PublicKey) ssh.HostKeyCallback {
	return func(_ string, _ net.Addr, got ssh.PublicKey) error {
		if bytes.Equal(got.Marshal(), want.Marshal()) {
			return nil
		}
		return &MismatchError{Host: host, Source: source, Offered: Fingerprint(got), Expected: []string{Fingerprint(want)}}
	}
}
