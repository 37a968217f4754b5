package runner

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/galera-swarm/galera-swarm/agent/backup"
	"github.com/galera-swarm/galera-swarm/agent/config"
	"github.com/galera-swarm/galera-swarm/agent/decision"
)

// Paths of the image (images/galera/Dockerfile).
const (
	DataDir   = "/var/lib/mysql"
	GaleraCnf = "/etc/mysql/mariadb.conf.d/99-galera.cnf"
	Mysqld    = "/usr/sbin/mariadbd"
	// DrainFlag: the health check answers 503 while it exists (shutting down).
	DrainFlag = "/run/galera-draining"
	// StateFile: this node's state (decision.State*), read by the health check.
	StateFile = "/run/galera-node-state"
	// TLSDir: the node's copies of its TLS files (installTLS), the OS user mysql's.
	TLSDir = "/run/mysqld/tls"
)

// The file names under TLSDir.
const (
	tlsCA   = "ca.pem"
	tlsCert = "cert.pem"
	tlsKey  = "key.pem"
)

// Grastate is what grastate.dat says: the fields uuid, seqno and safe_to_bootstrap.
type Grastate struct {
	UUID            string
	Seqno           string // "" when absent
	SafeToBootstrap string // "" when absent
}

// ReadGrastate reads "<field>: <value>" lines of dir/grastate.dat (a missing file: all empty).
func ReadGrastate(dir string) Grastate {
	var g Grastate
	f, err := os.Open(filepath.Join(dir, "grastate.dat"))
	if err != nil {
		return g
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch key {
		case "uuid":
			g.UUID = value
		case "seqno":
			g.Seqno = value
		case "safe_to_bootstrap":
			g.SafeToBootstrap = value
		}
	}
	return g
}

// SetSafeToBootstrap writes safe_to_bootstrap: 1 into dir/grastate.dat; false without one.
func SetSafeToBootstrap(dir string) (bool, error) {
	path := filepath.Join(dir, "grastate.dat")
	data, err := os.ReadFile(path)
	if err != nil {
		return false, nil
	}
	out := regexp.MustCompile(`(?m)^safe_to_bootstrap:.*$`).ReplaceAll(data, []byte("safe_to_bootstrap: 1"))
	if err := os.WriteFile(path, out, 0o660); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	return true, nil
}

var recoveredPosition = regexp.MustCompile(`WSREP: Recovered position: *([0-9a-f-]*:-?[0-9]*)`)

// RecoveredPosition finds the last "WSREP: Recovered position: uuid:seqno" of a
// mysqld --wsrep-recover log ("" when none).
func RecoveredPosition(log string) string {
	all := recoveredPosition.FindAllStringSubmatch(log, -1)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1][1]
}

// MyCnf renders the Galera settings file written at each start. No wsrep_sst_auth: on the
// donor mariabackup runs as the OS user mysql and logs in as 'mysql'@'localhost' through
// unix_socket, so SST needs no password (nor its rotation). With TLS (tlsCnf) replication,
// IST, SST and client connections are encrypted. With binlog, the binary logs of
// point-in-time recovery (backup.BinlogCnf), in [mysqld] like every line but the [sst] ones.
func MyCnf(s config.Settings, address string, binlog bool) string {
	providerOptions := "gcache.size=256M"
	clientTLS, sstTLS := "", ""
	if s.TLS.Enabled() {
		providerOptions += ";" + galeraTLSOptions(TLSDir)
		clientTLS, sstTLS = tlsCnf(TLSDir)
	}
	if binlog {
		clientTLS += backup.BinlogCnf()
	}
	return fmt.Sprintf(`# Written by galera-entrypoint at each start.
[mysqld]
bind-address = 0.0.0.0
skip-name-resolve
binlog_format = ROW
default_storage_engine = InnoDB
innodb_autoinc_lock_mode = 2
innodb_flush_log_at_trx_commit = 1
wsrep_on = ON
wsrep_provider = /usr/lib/galera/libgalera_smm.so
wsrep_cluster_name = %s
wsrep_node_name = %s
wsrep_node_address = %s
wsrep_sst_method = mariabackup
wsrep_provider_options = "%s"
%s%s
%s`, s.ClusterName, s.NodeName, address, providerOptions, clientTLS, s.ExtraMyCnf, sstTLS)
}

// galeraTLSOptions: Galera's own TLS (replication and IST on 4567/4568) with the files in dir.
// Galera verifies every peer's certificate against socket.ssl_ca, in both directions, so a
// node without a certificate of that CA is never admitted.
func galeraTLSOptions(dir string) string {
	ca, cert, key := tlsPaths(dir)
	return fmt.Sprintf("socket.ssl=yes;socket.ssl_ca=%s;socket.ssl_cert=%s;socket.ssl_key=%s", ca, cert, key)
}

// tlsPaths: the CA, certificate and key files under dir (installTLS's copies in TLSDir).
func tlsPaths(dir string) (ca, cert, key string) {
	return filepath.Join(dir, tlsCA), filepath.Join(dir, tlsCert), filepath.Join(dir, tlsKey)
}

// tlsCnf: the server's client TLS (its [mysqld] lines: MariaDB presents the certificate on
// 3306) and the state transfer's section. The mariabackup SST script reads ssl-ca/-cert/-key
// from [sst] (and [mysqld]); encrypt=4 makes socat use TLS and demand a peer certificate, and
// VERIFY_CA checks it against the CA (wsrep_sst_mariabackup in MariaDB 10.11).
func tlsCnf(dir string) (mysqld, sst string) {
	ca, cert, key := tlsPaths(dir)
	mysqld = fmt.Sprintf("ssl_ca = %s\nssl_cert = %s\nssl_key = %s\n", ca, cert, key)
	sst = fmt.Sprintf("[sst]\nencrypt = 4\nssl-mode = VERIFY_CA\nssl-ca = %s\nssl-cert = %s\nssl-key = %s\n", ca, cert, key)
	return mysqld, sst
}

// installTLS copies the node's TLS files (LoadTLS checked them) into TLSDir for the OS user
// mysql, the key readable by mysql only: mariadbd, Galera and the SST script run as mysql,
// and a swarm secret is root's.
func installTLS(t config.TLS) error {
	if err := os.MkdirAll(TLSDir, 0o750); err != nil {
		return fmt.Errorf("making %s: %w", TLSDir, err)
	}
	if err := chownMysql(TLSDir); err != nil {
		return err
	}
	ca, cert, key := tlsPaths(TLSDir)
	for _, f := range []struct {
		from, to string
		mode     os.FileMode
	}{{t.CAFile, ca, 0o644}, {t.CertFile, cert, 0o644}, {t.KeyFile, key, 0o600}} {
		data, err := os.ReadFile(f.from)
		if err != nil {
			return fmt.Errorf("reading %s: %w", f.from, err)
		}
		if err := writeMysqlFile(f.to, data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// writeMysqlFile writes data to path with mode (also over an existing file's mode), owned by
// the OS user mysql.
func writeMysqlFile(path string, data []byte, mode os.FileMode) error {
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return chownMysql(path)
}

// chownMysql gives path to the OS user mysql.
func chownMysql(path string) error {
	u, err := user.Lookup("mysql")
	if err != nil {
		return fmt.Errorf("looking up the user mysql: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("giving %s to mysql: %w", path, err)
	}
	return nil
}

// writeConfig writes the node's settings file (MyCnf), with binary logging when binlog
// (point-in-time recovery: backup.BinlogCnf).
func writeConfig(s config.Settings, address string, binlog bool) error {
	if err := os.MkdirAll("/run/mysqld", 0o755); err != nil {
		return fmt.Errorf("making /run/mysqld: %w", err)
	}
	if err := chownMysql("/run/mysqld"); err != nil {
		return err
	}
	if s.TLS.Enabled() {
		if err := installTLS(s.TLS); err != nil {
			return err
		}
	}
	return writeMysqlFile(GaleraCnf, []byte(MyCnf(s, address, binlog)), 0o600)
}

// localPosition: the position of the local data from grastate.dat, or from InnoDB
// (mysqld --wsrep-recover) when the seqno is -1 (the node crashed or was killed while
// running); recovered is the "uuid:seqno" to start from then. No data: decision.NoPosition.
func (r *Runner) localPosition() (p decision.Position, recovered string) {
	const step = "local_position"
	if st, err := os.Stat(filepath.Join(DataDir, "mysql")); err != nil || !st.IsDir() {
		r.log.Note(step, "position: none (empty data directory)")
		return decision.NoPosition, ""
	}
	g := ReadGrastate(DataDir)
	if g.UUID == "" || g.UUID == decision.ZeroUUID {
		r.log.Note(step, "position: none (data directory was never part of a cluster)")
		return decision.NoPosition, ""
	}
	p = decision.Position{UUID: g.UUID, Seqno: -1, SafeToBootstrap: g.SafeToBootstrap == "1"}
	if n, err := strconv.ParseInt(g.Seqno, 10, 64); err == nil {
		p.Seqno = n
	}
	if p.Seqno == -1 {
		r.log.Note(step, "grastate.dat has seqno -1 (unclean stop); recovering the position with mysqld --wsrep-recover")
		if text := r.wsrepRecover(); text != "" {
			if q, err := decision.ParsePosition(text); err == nil {
				p.UUID, p.Seqno, recovered = q.UUID, q.Seqno, text
			}
		}
	}
	r.log.Note(step, "position: %s:%d (safe_to_bootstrap=%s)", p.UUID, p.Seqno, g.SafeToBootstrap)
	return p, recovered
}

func (r *Runner) wsrepRecover() string {
	const log = "/tmp/wsrep-recover.log"
	_ = os.Remove(log)
	_ = exec.Command(Mysqld, "--user=mysql", "--wsrep-recover", "--wsrep-cluster-address=gcomm://",
		"--log-error="+log).Run()
	data, _ := os.ReadFile(log)
	if pos := RecoveredPosition(string(data)); pos != "" {
		return pos
	}
	r.log.Warn("wsrep_recover", "mysqld --wsrep-recover found no position; its log:")
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		fmt.Fprintf(os.Stderr, "    %s\n", line)
	}
	return ""
}
