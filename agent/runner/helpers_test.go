package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/galera-swarm/galera-swarm/agent/config"
)

func TestPeersOf(t *testing.T) {
	got := PeersOf("10.0.0.3:3306,10.0.0.1:3306,10.0.0.2:3306,10.0.0.1:3306,", "10.0.0.3")
	if !slices.Equal(got, []string{"10.0.0.1", "10.0.0.2"}) {
		t.Errorf("got %q", got)
	}
	if got := PeersOf("x", "10.0.0.3"); !slices.Equal(got, []string{"x"}) {
		t.Errorf("no port: %q", got)
	}
}

func TestGrastateAndSafeToBootstrap(t *testing.T) {
	dir := t.TempDir()
	if g := ReadGrastate(dir); g != (Grastate{}) {
		t.Errorf("no file: %+v", g)
	}
	text := "# GALERA saved state\nversion: 2.1\nuuid:    3b0e7c1e-0000-11ef-9a6f-0242ac120002\nseqno:   -1\nsafe_to_bootstrap: 0\n"
	if err := os.WriteFile(filepath.Join(dir, "grastate.dat"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if g := ReadGrastate(dir); g != (Grastate{"3b0e7c1e-0000-11ef-9a6f-0242ac120002", "-1", "0"}) {
		t.Errorf("got %+v", g)
	}
	if ok, err := SetSafeToBootstrap(dir); !ok || err != nil {
		t.Fatalf("SetSafeToBootstrap: %v, %v", ok, err)
	}
	if g := ReadGrastate(dir); g.SafeToBootstrap != "1" || g.Seqno != "-1" {
		t.Errorf("after: %+v", g)
	}
	if ok, _ := SetSafeToBootstrap(t.TempDir()); ok {
		t.Error("no grastate.dat: nothing to set")
	}
}

func TestRecoveredPosition(t *testing.T) {
	log := "2026-01-01 [Note] WSREP: Recovered position: 00000000-0000-0000-0000-000000000000:-1\n" +
		"2026-01-01 [Note] WSREP: Recovered position: 3b0e7c1e-0000-11ef-9a6f-0242ac120002:1234\n"
	if got := RecoveredPosition(log); got != "3b0e7c1e-0000-11ef-9a6f-0242ac120002:1234" {
		t.Errorf("got %q", got)
	}
	if got := RecoveredPosition("InnoDB: corrupt\n"); got != "" {
		t.Errorf("no position: %q", got)
	}
}

func TestMyCnf(t *testing.T) {
	cnf := MyCnf(config.Settings{ClusterName: "gs", NodeName: "g1", ExtraMyCnf: "max_connections = 500"}, "10.0.0.1", false)
	for _, want := range []string{"wsrep_cluster_name = gs\n", "wsrep_node_name = g1\n", "wsrep_node_address = 10.0.0.1\n",
		"wsrep_sst_method = mariabackup\n", "\nmax_connections = 500\n"} {
		if !strings.Contains(cnf, want) {
			t.Errorf("cnf lacks %q:\n%s", want, cnf)
		}
	}
	if strings.Contains(cnf, "wsrep_sst_auth") {
		t.Error("SST needs no password")
	}
	if strings.Contains(cnf, "ssl") {
		t.Errorf("no TLS files, no TLS:\n%s", cnf)
	}
	if strings.Contains(cnf, "log_bin") {
		t.Errorf("no point-in-time recovery, no binary logs:\n%s", cnf)
	}
}

func TestMyCnfWithTLSAndBinaryLogs(t *testing.T) {
	s := config.Settings{ClusterName: "gs", NodeName: "g1", ExtraMyCnf: "max_connections = 500",
		TLS: config.TLS{CAFile: "/run/secrets/ca", CertFile: "/run/secrets/cert", KeyFile: "/run/secrets/key"}}
	cnf := MyCnf(s, "10.0.0.1", true)
	// The installed copies, not the secrets (the OS user mysql reads them); the binary logs'
	// lines in [mysqld]; [sst] after [mysqld]'s lines.
	want := `wsrep_provider_options = "gcache.size=256M;socket.ssl=yes;socket.ssl_ca=/run/mysqld/tls/ca.pem;socket.ssl_cert=/run/mysqld/tls/cert.pem;socket.ssl_key=/run/mysqld/tls/key.pem"
ssl_ca = /run/mysqld/tls/ca.pem
ssl_cert = /run/mysqld/tls/cert.pem
ssl_key = /run/mysqld/tls/key.pem
log_bin = mysql-bin
log_slave_updates = ON
server_id = 1
wsrep_gtid_mode = ON
wsrep_gtid_domain_id = 0
binlog_expire_logs_seconds = 86400
max_connections = 500
[sst]
encrypt = 4
ssl-mode = VERIFY_CA
ssl-ca = /run/mysqld/tls/ca.pem
ssl-cert = /run/mysqld/tls/cert.pem
ssl-key = /run/mysqld/tls/key.pem
`
	if !strings.HasSuffix(cnf, want) {
		t.Errorf("cnf ends\n%s\nwant\n%s", cnf, want)
	}
}

func TestExitStatusAndServerEnv(t *testing.T) {
	if got := exitStatus(exec.Command("sh", "-c", "exit 3").Run()); got != 3 {
		t.Errorf("exit 3: %d", got)
	}
	if got := exitStatus(exec.Command("sh", "-c", "kill -TERM $$").Run()); got != 143 {
		t.Errorf("TERM: %d", got)
	}
	t.Setenv("MYSQL_ROOT_PASSWORD", "secret")
	t.Setenv("MYSQL_PASSWORD_FILE", "/run/secrets/x")
	t.Setenv("CLUSTER_NAME", "gs")
	env := strings.Join(serverEnv(), "\n")
	if strings.Contains(env, "MYSQL_ROOT_PASSWORD") || strings.Contains(env, "MYSQL_PASSWORD_FILE") || !strings.Contains(env, "CLUSTER_NAME=gs") {
		t.Errorf("server env:\n%s", env)
	}
}

func TestIsStaleToken(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"as the client returns it", rpctypes.ErrInvalidAuthToken, true},
		{"as gRPC carries it", rpctypes.ErrGRPCInvalidAuthToken, true},
		{"wrapped", fmt.Errorf("reading /galera/g/: %w", rpctypes.ErrInvalidAuthToken), true},
		{"a wrong password", rpctypes.ErrAuthFailed, false},
		{"permission denied", rpctypes.ErrPermissionDenied, false},
		{"timed out (the client's own refresh kept failing)", fmt.Errorf("reading: %w", context.DeadlineExceeded), true},
		{"another failure", errors.New("connection refused"), false},
		{"none", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := isStaleToken(c.err); got != c.want {
				t.Fatalf("isStaleToken(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}

func TestRenewClientKeepsTheOldClientWhenTheDialFails(t *testing.T) {
	d := newDiscovery(nil, "/galera/g", "n", time.Second, "")
	d.redial = func() (*clientv3.Client, error) { return nil, errors.New("etcd unreachable") }
	d.renewClient()
	if d.client() != nil {
		t.Fatal("a failed dial replaced the client")
	}
	fresh := &clientv3.Client{}
	d.redial = func() (*clientv3.Client, error) { return fresh, nil }
	if d.checked(rpctypes.ErrPermissionDenied); d.client() != nil {
		t.Fatal("an error other than a stale token renewed the client")
	}
	if d.checked(rpctypes.ErrInvalidAuthToken); d.client() != fresh {
		t.Fatal("a stale token did not renew the client")
	}
}
