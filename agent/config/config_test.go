package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/galera-swarm/galera-swarm/agent/logx"
)

func envOf(m map[string]string) Env {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadDefaults(t *testing.T) {
	s, err := Load(envOf(map[string]string{"DISCOVERY_SERVICE": "etcd:2379,https://e2:2379", "MYSQL_ROOT_PASSWORD": "pw", "NODE_NAME": "g1", "CLUSTER_SIZE": "3", "ETCD_PASSWORD": "e"}))
	if err != nil {
		t.Fatal(err)
	}
	if s.ClusterName != "galera" || s.Prefix() != "/galera/galera" || s.EtcdWait != 60*time.Second || s.RecoveryWait != 300*time.Second ||
		s.Disconnected != 60*time.Second || s.RegistrationTTL != 10*time.Second || s.ShutdownDrain != 5*time.Second || s.ClusterSize != 3 {
		t.Errorf("defaults: %+v", s)
	}
	if !slices.Equal(s.Endpoints, []string{"http://etcd:2379", "https://e2:2379"}) {
		t.Errorf("endpoints %q", s.Endpoints)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "root")
	if err := os.WriteFile(secret, []byte("from-file\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := map[string]string{"DISCOVERY_SERVICE": "etcd:2379", "MYSQL_ROOT_PASSWORD": "pw", "NODE_NAME": "g1", "ETCD_PASSWORD": "e"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range ok {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	tests := []struct {
		env  map[string]string
		step string
		text string
	}{
		{with("DISCOVERY_SERVICE", ""), "require_setting", "DISCOVERY_SERVICE is not set (etcd client address host:port[,host:port...], e.g. etcd:2379); set DISCOVERY_SERVICE or DISCOVERY_SERVICE_FILE (a file, e.g. a docker secret under /run/secrets)"},
		{with("MYSQL_ROOT_PASSWORD", ""), "require_setting", "MYSQL_ROOT_PASSWORD is not set (password of the MariaDB root user); set MYSQL_ROOT_PASSWORD or MYSQL_ROOT_PASSWORD_FILE (a file, e.g. a docker secret under /run/secrets)"},
		{with("MYSQL_USER", "app"), "require_setting", "MYSQL_PASSWORD is not set (password of MYSQL_USER=app); set MYSQL_PASSWORD or MYSQL_PASSWORD_FILE (a file, e.g. a docker secret under /run/secrets)"},
		{with("MYSQL_ROOT_PASSWORD_FILE", "/run/secrets/root"), "file_env", "both MYSQL_ROOT_PASSWORD and MYSQL_ROOT_PASSWORD_FILE are set; set only one of them"},
		{with("MYSQL_ROOT_PASSWORD", "", "MYSQL_ROOT_PASSWORD_FILE", dir+"/none"), "file_env", "MYSQL_ROOT_PASSWORD_FILE=" + dir + "/none is not a readable file; mount the secret there or set MYSQL_ROOT_PASSWORD"},
		{with("CLUSTER_NAME", "a b"), "setup_env", "CLUSTER_NAME=a b may hold only letters, digits, '.', '_' and '-'"},
		{with("NODE_NAME", "g/1"), "setup_env", "NODE_NAME=g/1 may hold only letters, digits, '.', '_' and '-'"},
		{with("MYSQL_DATABASE", "wp`x"), "setup_env", "MYSQL_DATABASE=wp`x may hold only letters, digits, '_', '$' and '-'"},
		{with("RECOVERY_WAIT_TIMEOUT", "5m"), "require_integer", "RECOVERY_WAIT_TIMEOUT=5m is not a whole number of seconds"},
		{with("ETCD_WAIT_TIMEOUT", "-1"), "require_integer", "ETCD_WAIT_TIMEOUT=-1 is not a whole number of seconds"},
		{with("CLUSTER_SIZE", "0"), "setup_env", "CLUSTER_SIZE=0 is not a whole number of nodes (the service's replicas); leave it unset when not known"},
	}
	for _, tt := range tests {
		_, err := Load(envOf(tt.env))
		var se *logx.StepError
		if !errors.As(err, &se) || se.Step != tt.step || err.Error() != tt.text {
			t.Errorf("Load(%v) = %v; want [%s] %s", tt.env, err, tt.step, tt.text)
		}
	}
	s, err := Load(envOf(with("MYSQL_ROOT_PASSWORD", "", "MYSQL_ROOT_PASSWORD_FILE", secret, "SST_PASSWORD", "old")))
	if err != nil || s.RootPassword != "from-file" || !s.SSTPasswordSet {
		t.Errorf("password from a file: %q, sst %v, %v", s.RootPassword, s.SSTPasswordSet, err)
	}
}

func TestCheckForget(t *testing.T) {
	for _, c := range []struct {
		name, cluster, discovery string
		names                    []string
		wantErr                  string
	}{
		{"one node", "galera", "etcd:2379", []string{"mysql-galera-docker4"}, ""},
		{"two nodes", "galera", "etcd-1:2379,etcd-2:2379", []string{"mysql-galera-docker4", "mysql-galera-docker5"}, ""},
		{"bad cluster", "my cluster", "etcd:2379", []string{"n"}, `CLUSTER_NAME="my cluster"`},
		{"no cluster", "", "etcd:2379", []string{"n"}, `CLUSTER_NAME=""`},
		{"no etcd", "galera", " , ", []string{"n"}, "DISCOVERY_SERVICE is empty"},
		{"no names", "galera", "etcd:2379", nil, "no node name given"},
		{"bad name", "galera", "etcd:2379", []string{"ok", "a/b"}, `node name "a/b"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := CheckForget(c.cluster, c.discovery, c.names)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckForget: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("CheckForget error %v, want it to contain %q", err, c.wantErr)
			}
		})
	}
}

func TestLoadEtcdLogin(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "etcd")
	if err := os.WriteFile(secret, []byte("g4l pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		env      map[string]string
		password string
		text     string
	}{
		{map[string]string{"ETCD_PASSWORD_FILE": secret}, "g4l pw", ""},
		{map[string]string{"ETCD_PASSWORD": "plain"}, "plain", ""},
		{map[string]string{}, "", "ETCD_PASSWORD is not set (password of the etcd user galera, which etcd requires); set ETCD_PASSWORD or ETCD_PASSWORD_FILE (a file, e.g. a docker secret under /run/secrets)"},
		{map[string]string{"ETCD_PASSWORD_FILE": dir + "/none"}, "", "ETCD_PASSWORD_FILE=" + dir + "/none is not a readable file; mount the secret there or set ETCD_PASSWORD"},
		{map[string]string{"ETCD_PASSWORD_FILE": secret, "ETCD_PASSWORD": "x"}, "", "both ETCD_PASSWORD and ETCD_PASSWORD_FILE are set; set only one of them"},
	}
	for _, tt := range tests {
		login, err := LoadEtcdLogin(envOf(tt.env))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.text || login.Password != tt.password || (err == nil && login.Username != "galera") {
			t.Errorf("LoadEtcdLogin(%v) = %+v, %q; want password %q, error %q", tt.env, login, got, tt.password, tt.text)
		}
	}
	// Load gives the login to the runner, after every other setting is checked.
	s, err := Load(envOf(map[string]string{"DISCOVERY_SERVICE": "etcd:2379", "MYSQL_ROOT_PASSWORD": "pw", "NODE_NAME": "g1", "ETCD_PASSWORD_FILE": secret}))
	if err != nil || s.Etcd != (EtcdLogin{Username: "galera", Password: "g4l pw"}) {
		t.Errorf("Load: %+v, %v", s.Etcd, err)
	}
	if _, err := Load(envOf(map[string]string{"DISCOVERY_SERVICE": "etcd:2379", "MYSQL_ROOT_PASSWORD": "pw", "NODE_NAME": "g1"})); err == nil || !strings.Contains(err.Error(), "ETCD_PASSWORD is not set") {
		t.Errorf("Load without ETCD_PASSWORD: %v", err)
	}
}
