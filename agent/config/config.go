// Package config reads the Galera node's settings from the environment, once, with the
// checks and error texts of the image's documentation (images/README.md).
package config

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/galera-swarm/galera-swarm/agent/logx"
)

// Settings are the node's settings; durations come from whole numbers of seconds.
type Settings struct {
	ClusterName      string // CLUSTER_NAME, also the etcd prefix /galera/<name>
	NodeName         string // NODE_NAME (default: the host name)
	NodeAddress      string // NODE_ADDRESS ("" = derive from the route to etcd)
	DiscoveryService string // DISCOVERY_SERVICE host:port[,host:port...]
	Endpoints        []string
	PeersDNS         string // PEERS_DNS
	ExtraMyCnf       string // EXTRA_MY_CNF
	ClusterSize      int    // CLUSTER_SIZE (0 = not known)

	EtcdWait        time.Duration // ETCD_WAIT_TIMEOUT
	RecoveryWait    time.Duration // RECOVERY_WAIT_TIMEOUT
	Disconnected    time.Duration // DISCONNECTED_TIMEOUT
	RegistrationTTL time.Duration // REGISTRATION_TTL
	ShutdownDrain   time.Duration // SHUTDOWN_DRAIN_SECONDS

	RootPassword string // MYSQL_ROOT_PASSWORD[_FILE]
	Database     string // MYSQL_DATABASE
	User         string // MYSQL_USER
	Password     string // MYSQL_PASSWORD[_FILE]
	// SSTPasswordSet: SST_PASSWORD[_FILE] is given (no longer used; a note says so).
	SSTPasswordSet bool

	Etcd EtcdLogin // the etcd user EtcdUser, ETCD_PASSWORD[_FILE]
	TLS  TLS       // TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE (LoadTLS)
}

// EtcdUser is the etcd user a Galera node logs in as: the etcd image creates it with a role that
// may read and write only under /galera/ (images/etcd/etcd-entrypoint.sh, GALERA_USER).
const EtcdUser = "galera"

// EtcdLogin is who a client logs in to etcd as (clientv3.Config Username and Password).
type EtcdLogin struct {
	Username string
	Password string
}

// LoadEtcdLogin reads the etcd password: ETCD_PASSWORD or ETCD_PASSWORD_FILE (FileEnv's rule), required,
// since etcd refuses clients that do not log in. The error names the variable and the fix.
func LoadEtcdLogin(env Env) (EtcdLogin, error) {
	password, err := FileEnv(env, "ETCD_PASSWORD")
	if err != nil {
		return EtcdLogin{}, err
	}
	if password == "" {
		return EtcdLogin{}, missing("ETCD_PASSWORD", "password of the etcd user "+EtcdUser+", which etcd requires")
	}
	return EtcdLogin{Username: EtcdUser, Password: password}, nil
}

// Prefix is the etcd key prefix of the cluster, "/galera/<CLUSTER_NAME>".
func (s Settings) Prefix() string { return "/galera/" + s.ClusterName }

var (
	namePattern     = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	databasePattern = regexp.MustCompile(`^[A-Za-z0-9_$-]+$`)
)

// Env looks a variable up (os.LookupEnv in production).
type Env func(string) (string, bool)

// Load reads and checks the settings. It gives a *logx.StepError naming the setting and the
// fix (the texts of the shell entrypoint, which tests and operators grep) for the first bad one.
func Load(env Env) (Settings, error) {
	get := func(key, def string) string {
		if v, ok := env(key); ok && v != "" {
			return v
		}
		return def
	}
	host, _ := os.Hostname()
	s := Settings{
		ClusterName:      get("CLUSTER_NAME", "galera"),
		NodeName:         get("NODE_NAME", host),
		NodeAddress:      get("NODE_ADDRESS", ""),
		DiscoveryService: get("DISCOVERY_SERVICE", ""),
		PeersDNS:         get("PEERS_DNS", ""),
		ExtraMyCnf:       get("EXTRA_MY_CNF", ""),
		Database:         get("MYSQL_DATABASE", ""),
		User:             get("MYSQL_USER", ""),
	}
	var err error
	if s.RootPassword, err = FileEnv(env, "MYSQL_ROOT_PASSWORD"); err != nil {
		return s, err
	}
	sst, err := FileEnv(env, "SST_PASSWORD")
	if err != nil {
		return s, err
	}
	s.SSTPasswordSet = sst != ""
	if s.Password, err = FileEnv(env, "MYSQL_PASSWORD"); err != nil {
		return s, err
	}
	if s.DiscoveryService == "" {
		return s, missing("DISCOVERY_SERVICE", "etcd client address host:port[,host:port...], e.g. etcd:2379")
	}
	if s.RootPassword == "" {
		return s, missing("MYSQL_ROOT_PASSWORD", "password of the MariaDB root user")
	}
	if s.User != "" && s.Password == "" {
		return s, missing("MYSQL_PASSWORD", "password of MYSQL_USER="+s.User)
	}
	if !namePattern.MatchString(s.ClusterName) {
		return s, logx.Fail("setup_env", "CLUSTER_NAME=%s may hold only letters, digits, '.', '_' and '-'", s.ClusterName)
	}
	if !namePattern.MatchString(s.NodeName) {
		return s, logx.Fail("setup_env", "NODE_NAME=%s may hold only letters, digits, '.', '_' and '-'", s.NodeName)
	}
	if err := CheckDatabase(s.Database); err != nil {
		return s, err
	}
	for _, d := range []struct {
		key  string
		def  int
		dest *time.Duration
	}{
		{"ETCD_WAIT_TIMEOUT", 60, &s.EtcdWait}, {"RECOVERY_WAIT_TIMEOUT", 300, &s.RecoveryWait},
		{"DISCONNECTED_TIMEOUT", 60, &s.Disconnected}, {"REGISTRATION_TTL", 10, &s.RegistrationTTL},
		// Longer than the load balancer takes to see a draining node (components/haproxy.cfg.template:
		// a check every 2 s) and to move the writer (galera_writer.lua: every 0.5 s).
		{"SHUTDOWN_DRAIN_SECONDS", 5, &s.ShutdownDrain},
	} {
		n, err := wholeNumber(d.key, get(d.key, strconv.Itoa(d.def)))
		if err != nil {
			return s, logx.Fail("require_integer", "%s is not a whole number of seconds", err)
		}
		*d.dest = time.Duration(n) * time.Second
	}
	if v := get("CLUSTER_SIZE", ""); v != "" {
		n, err := wholeNumber("CLUSTER_SIZE", v)
		if err != nil || n < 1 {
			return s, logx.Fail("setup_env", "CLUSTER_SIZE=%s is not a whole number of nodes (the service's replicas); leave it unset when not known", v)
		}
		s.ClusterSize = n
	}
	if s.Etcd, err = LoadEtcdLogin(env); err != nil {
		return s, err
	}
	if s.TLS, err = LoadTLS(env, time.Now()); err != nil {
		return s, err
	}
	s.Endpoints = Endpoints(s.DiscoveryService)
	return s, nil
}

// CheckDatabase: MYSQL_DATABASE goes into SQL between backticks, so it holds only letters,
// digits, '_', '$' and '-' ("" = none).
func CheckDatabase(name string) error {
	if name != "" && !databasePattern.MatchString(name) {
		return logx.Fail("setup_env", "MYSQL_DATABASE=%s may hold only letters, digits, '_', '$' and '-'", name)
	}
	return nil
}

func missing(key, why string) error {
	return logx.Fail("require_setting", "%s is not set (%s); set %s or %s_FILE (a file, e.g. a docker secret under /run/secrets)", key, why, key, key)
}

// wholeNumber parses digits only; the error text is "KEY=value".
func wholeNumber(key, value string) (int, error) {
	n, err := strconv.Atoi(value)
	if err != nil || n < 0 || strings.TrimLeft(value, "0123456789") != "" {
		return 0, fmt.Errorf("%s=%s", key, value)
	}
	return n, nil
}

// FileEnv is the one rule for secrets: KEY or KEY_FILE (a file holding the value), never both.
// A value read from a file keeps its content but for trailing newlines (as the shell's $(<file)).
func FileEnv(env Env, key string) (string, error) {
	value, _ := env(key)
	file, _ := env(key + "_FILE")
	if value != "" && file != "" {
		return "", logx.Fail("file_env", "both %s and %s_FILE are set; set only one of them", key, key)
	}
	if file == "" {
		return value, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", logx.Fail("file_env", "%s_FILE=%s is not a readable file; mount the secret there or set %s", key, file, key)
	}
	return strings.TrimRight(string(data), "\n"), nil
}

// CheckForget checks the input of `galera-agent forget`: the cluster's name (the etcd prefix),
// the etcd address and at least one node name, each under the name rule of CLUSTER_NAME and
// NODE_NAME; the error names what is wrong.
func CheckForget(cluster, discovery string, names []string) error {
	switch {
	case !namePattern.MatchString(cluster):
		return fmt.Errorf("CLUSTER_NAME=%q: set it to the cluster's name (letters, digits, '.', '_' and '-')", cluster)
	case len(Endpoints(discovery)) == 0:
		return fmt.Errorf("DISCOVERY_SERVICE is empty: set it to the etcd client address host:port, e.g. etcd:2379")
	case len(names) == 0:
		return fmt.Errorf("no node name given: galera-agent forget NODE-NAME...")
	}
	for _, n := range names {
		if !namePattern.MatchString(n) {
			return fmt.Errorf("node name %q may hold only letters, digits, '.', '_' and '-'", n)
		}
	}
	return nil
}

// Endpoints turns "h1:p1,h2:p2" into etcd client URLs "http://h1:p1" (a given scheme is kept).
func Endpoints(list string) []string {
	var out []string
	for _, item := range strings.Split(list, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		if !strings.Contains(item, "://") {
			item = "http://" + item
		}
		out = append(out, item)
	}
	return out
}
