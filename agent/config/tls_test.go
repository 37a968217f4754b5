package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galera-swarm/galera-swarm/agent/logx"
)

// issued is a certificate and its key, as PEM files would hold them.
type issued struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// issue signs a certificate for name with parent (nil: self-signed), valid from..to, for TLS
// servers and clients.
func issue(t *testing.T, name string, ca bool, parent *issued, from, to time.Time) issued {
	return issueFor(t, name, ca, parent, from, to, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
}

// issueFor is issue with the extended key usages given.
func issueFor(t *testing.T, name string, ca bool, parent *issued, from, to time.Time, usages ...x509.ExtKeyUsage) issued {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: from, NotAfter: to, BasicConstraintsValid: true, IsCA: ca,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: usages,
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return issued{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func keyPEM(t *testing.T, key *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestLoadTLS(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	year := 365 * 24 * time.Hour
	ca := issue(t, "cluster CA", true, nil, now.Add(-time.Hour), now.Add(10*year))
	node := issue(t, "mysql-galera", false, &ca, now.Add(-time.Hour), now.Add(year))
	other := issue(t, "someone else's CA", true, nil, now.Add(-time.Hour), now.Add(10*year))
	stranger := issue(t, "mysql-galera", false, &other, now.Add(-time.Hour), now.Add(year))
	intermediate := issue(t, "intermediate", true, &ca, now.Add(-time.Hour), now.Add(5*year))
	viaIntermediate := issue(t, "mysql-galera", false, &intermediate, now.Add(-time.Hour), now.Add(year))
	expired := issue(t, "mysql-galera", false, &ca, now.Add(-2*year), now.Add(-year))
	serverOnly := issueFor(t, "mysql-galera", false, &ca, now.Add(-time.Hour), now.Add(year), x509.ExtKeyUsageServerAuth)
	oldCA := issue(t, "old CA", true, nil, now.Add(-3*year), now.Add(-time.Hour))
	ofOldCA := issue(t, "mysql-galera", false, &oldCA, now.Add(-2*year), now.Add(-2*time.Hour))

	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caFile, certFile, keyFile := write("ca.pem", ca.pem), write("cert.pem", node.pem), write("key.pem", keyPEM(t, node.key))
	env := func(ca, cert, key string) map[string]string {
		return map[string]string{"TLS_CA_FILE": ca, "TLS_CERT_FILE": cert, "TLS_KEY_FILE": key}
	}
	tests := []struct {
		name string
		env  map[string]string
		want string // "" = accepted
	}{
		{"none", map[string]string{}, ""},
		{"all three", env(caFile, certFile, keyFile), ""},
		{"no key", env(caFile, certFile, ""), "TLS_KEY_FILE is not set, but TLS_CA_FILE and TLS_CERT_FILE are: set all three (the cluster CA, the node's certificate and its key) or none"},
		{"only the CA", env(caFile, "", ""), "TLS_CERT_FILE is not set, but TLS_CA_FILE is: set all three (the cluster CA, the node's certificate and its key) or none"},
		{"unreadable", env(caFile, dir+"/none.pem", keyFile), "TLS_CERT_FILE=" + dir + "/none.pem is not a readable file (no such file or directory); mount the secret there"},
		{"key of another certificate", env(caFile, certFile, write("stranger-key.pem", keyPEM(t, stranger.key))),
			"TLS_CERT_FILE=" + certFile + " and TLS_KEY_FILE=" + dir + "/stranger-key.pem are not a certificate and its private key: tls: private key does not match public key"},
		{"another CA's certificate", env(caFile, write("stranger.pem", stranger.pem), write("stranger-key2.pem", keyPEM(t, stranger.key))),
			"TLS_CERT_FILE=" + dir + "/stranger.pem is not signed by a CA of TLS_CA_FILE=" + caFile + " for a TLS server and client (Galera needs the leaf signed by the CA itself, no intermediate)"},
		{"a leaf of an intermediate CA", env(caFile, write("via.pem", append(viaIntermediate.pem, intermediate.pem...)), write("via-key.pem", keyPEM(t, viaIntermediate.key))),
			"TLS_CERT_FILE=" + dir + "/via.pem is not signed by a CA of TLS_CA_FILE=" + caFile + " for a TLS server and client (Galera needs the leaf signed by the CA itself, no intermediate)"},
		{"an intermediate CA in the CA file", env(write("intermediate.pem", intermediate.pem), write("via2.pem", viaIntermediate.pem), write("via2-key.pem", keyPEM(t, viaIntermediate.key))),
			"TLS_CA_FILE=" + dir + "/intermediate.pem holds \"CN=intermediate\", which is not a self-signed root CA (Galera takes no intermediate CA)"},
		{"a server-only certificate", env(caFile, write("server.pem", serverOnly.pem), write("server-key.pem", keyPEM(t, serverOnly.key))),
			"TLS_CERT_FILE=" + dir + "/server.pem is not signed by a CA of TLS_CA_FILE=" + caFile + " for a TLS server and client"},
		{"an expired CA", env(write("old-ca.pem", oldCA.pem), write("of-old.pem", ofOldCA.pem), write("of-old-key.pem", keyPEM(t, ofOldCA.key))),
			"TLS_CA_FILE=" + dir + "/old-ca.pem: the CA \"CN=old CA\" is not valid at 2026-12-01T12:00:00Z (valid 2023-12-02T12:00:00Z to 2026-12-01T11:00:00Z): renew it with `pulumi up --replace` of its certificate command (README: TLS inside the cluster)"},
		{"expired", env(caFile, write("expired.pem", expired.pem), write("expired-key.pem", keyPEM(t, expired.key))),
			"TLS_CERT_FILE=" + dir + "/expired.pem is not valid at 2026-12-01T12:00:00Z (valid 2024-12-01T12:00:00Z to 2025-12-01T12:00:00Z): renew it with `pulumi up --replace` of its certificate command (README: TLS inside the cluster)"},
		{"no certificate in the CA file", env(write("empty-ca.pem", []byte("not a certificate\n")), certFile, keyFile),
			"TLS_CA_FILE=" + dir + "/empty-ca.pem holds no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadTLS(envOf(tt.env), now)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("LoadTLS: %v", err)
				}
				if got.Enabled() != (len(tt.env) > 0) || got.CAFile != tt.env["TLS_CA_FILE"] || got.KeyFile != tt.env["TLS_KEY_FILE"] {
					t.Errorf("LoadTLS = %+v", got)
				}
				return
			}
			var se *logx.StepError
			if !errors.As(err, &se) || se.Step != "check_tls" || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("LoadTLS error\n %v\nwant it to start with\n %s", err, tt.want)
			}
		})
	}
}
