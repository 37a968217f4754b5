package config

import (
	"crypto/tls"
	"crypto/x509"
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
// step is check_tls): each file readable, the key belongs to the certificate, and the
// certificate is valid at `now` and signed by the CA itself (Galera refuses a leaf of an
// intermediate CA, MDEV-35812).
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
			return TLS{}, logx.Fail("check_tls", "%s=%s is not a readable file; mount the secret there", key, values[i])
		}
	}
	if err := verifyTLS(t, now); err != nil {
		return TLS{}, logx.Fail("check_tls", "%v", err)
	}
	return t, nil
}

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
	caPEM, _ := os.ReadFile(t.CAFile)
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("TLS_CA_FILE=%s holds no PEM certificate", t.CAFile)
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Errorf("TLS_CERT_FILE=%s is not valid at %s (valid %s to %s): issue a new one (pulumi up renews it)",
			t.CertFile, now.UTC().Format(time.RFC3339), leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	case err != nil:
		return fmt.Errorf("TLS_CERT_FILE=%s is not signed by a CA of TLS_CA_FILE=%s (Galera needs the leaf signed by the CA itself, no intermediate): %w", t.CertFile, t.CAFile, err)
	}
	return nil
}
