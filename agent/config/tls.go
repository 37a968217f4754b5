package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/galera-swarm/galera-swarm/agent/logx"
)

// TLS names the node's certificate files (TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE): the
// cluster CA, the node's certificate and its private key, PEM. All empty: no TLS.
type TLS struct {
	CAFile   string
	CertFile string
	KeyFile  string
}

// Enabled: the node runs replication, state transfers and client connections over TLS.
func (t TLS) Enabled() bool { return t.CAFile != "" }

// tlsVariables are TLS's environment variables, in the order errors name them.
var tlsVariables = []string{"TLS_CA_FILE", "TLS_CERT_FILE", "TLS_KEY_FILE"}

// LoadTLS reads TLS_CA_FILE, TLS_CERT_FILE and TLS_KEY_FILE: all three or none. Given, it
// checks what mariadbd and Galera would otherwise refuse later with a less clear error (the
// step is check_tls): each file readable, the key belongs to the certificate, the CA file
// holds self-signed root CAs valid at `now`, and the certificate is valid at `now`, for a TLS
// server and client, signed by such a CA itself (Galera refuses a leaf of an intermediate
// CA, MDEV-35812).
func LoadTLS(env Env, now time.Time) (TLS, error) {
	values := make([]string, len(tlsVariables))
	set := 0
	for i, key := range tlsVariables {
		values[i], _ = env(key)
		if values[i] != "" {
			set++
		}
	}
	t := TLS{CAFile: values[0], CertFile: values[1], KeyFile: values[2]}
	switch set {
	case 0:
		return TLS{}, nil
	case len(tlsVariables):
	default:
		for i, key := range tlsVariables {
			if values[i] == "" {
				return TLS{}, logx.Fail("check_tls", "%s is not set, but %s: set all three (the cluster CA, the node's certificate and its key) or none", key, setNames(values))
			}
		}
	}
	for i, key := range tlsVariables {
		if _, err := os.ReadFile(values[i]); err != nil {
			return TLS{}, logx.Fail("check_tls", "%s=%s is not a readable file (%v); mount the secret there", key, values[i], errors.Unwrap(err))
		}
	}
	if err := verifyTLS(t, now); err != nil {
		return TLS{}, logx.Fail("check_tls", "%v", err)
	}
	return t, nil
}

// setNames: the variables of values that are set, for the error text ("A is", "A and B are").
func setNames(values []string) string {
	var names []string
	for i, key := range tlsVariables {
		if values[i] != "" {
			names = append(names, key)
		}
	}
	if len(names) == 1 {
		return names[0] + " is"
	}
	return names[0] + " and " + names[1] + " are"
}

// renewal says how a stack renews what expired (README: TLS inside the cluster).
const renewal = "renew it with `pulumi up --replace` of its certificate command (README: TLS inside the cluster)"

// verifyTLS checks the pair and its chain (LoadTLS's rules); the files are readable.
func verifyTLS(t TLS, now time.Time) error {
	pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return fmt.Errorf("TLS_CERT_FILE=%s and TLS_KEY_FILE=%s are not a certificate and its private key: %w", t.CertFile, t.KeyFile, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return fmt.Errorf("TLS_CERT_FILE=%s: %w", t.CertFile, err)
	}
	roots, err := loadRoots(t.CAFile, now)
	if err != nil {
		return err
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return fmt.Errorf("TLS_CERT_FILE=%s is not valid at %s (valid %s to %s): %s", t.CertFile,
			now.UTC().Format(time.RFC3339), leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339), renewal)
	}
	// A node is a TLS server to its peers and a client of them: both usages, each on its own
	// (VerifyOptions.KeyUsages accepts a chain that allows any one of those listed).
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			return fmt.Errorf("TLS_CERT_FILE=%s is not signed by a CA of TLS_CA_FILE=%s for a TLS server and client (Galera needs the leaf signed by the CA itself, no intermediate): %w", t.CertFile, t.CAFile, err)
		}
	}
	return nil
}

// loadRoots reads the CA file: one or more self-signed root CA certificates, each valid at now
// (an intermediate there would pass our check but not Galera's, MDEV-35812).
func loadRoots(file string, now time.Time) (*x509.CertPool, error) {
	rest, _ := os.ReadFile(file)
	roots := x509.NewCertPool()
	count := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		ca, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("TLS_CA_FILE=%s: %w", file, err)
		}
		subject := ca.Subject.String()
		if !ca.IsCA || ca.CheckSignatureFrom(ca) != nil || subject != ca.Issuer.String() {
			return nil, fmt.Errorf("TLS_CA_FILE=%s holds %q, which is not a self-signed root CA (Galera takes no intermediate CA)", file, subject)
		}
		if now.Before(ca.NotBefore) || now.After(ca.NotAfter) {
			return nil, fmt.Errorf("TLS_CA_FILE=%s: the CA %q is not valid at %s (valid %s to %s): %s", file, subject,
				now.UTC().Format(time.RFC3339), ca.NotBefore.UTC().Format(time.RFC3339), ca.NotAfter.UTC().Format(time.RFC3339), renewal)
		}
		roots.AddCert(ca)
		count++
	}
	if count == 0 {
		return nil, fmt.Errorf("TLS_CA_FILE=%s holds no PEM certificate", file)
	}
	return roots, nil
}
