// Package passwords is `galera-agent passwords` (installed as galera-passwords): the steps of a
// password rotation that run against a running Galera cluster (the dual-password scheme of
// package credentials). A rolling restart with new secret files makes every node accept the
// new passwords besides the old ones; then:
//
//	galera-passwords await-accepted [--host H] [--timeout S]
//	    wait until root and MYSQL_USER log in on H with the new passwords (clients may switch)
//	galera-passwords discard-old [--host H] [--timeout S]
//	    the same wait, then make the new passwords the only valid ones (every client switched)
//
// The new passwords come on stdin: root's on line 1, MYSQL_USER's on line 2. MYSQL_USER and
// MYSQL_DATABASE come from the environment. H is a node or a name that resolves to nodes
// (default 127.0.0.1, inside a Galera task); S defaults to 600 seconds.
package passwords

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/galera-swarm/galera-swarm/agent/config"
	"github.com/galera-swarm/galera-swarm/agent/credentials"
	"github.com/galera-swarm/galera-swarm/agent/logx"
)

// Usage is the synopsis quoted in argument errors.
const Usage = "usage: galera-passwords await-accepted|discard-old [--host H] [--timeout SECONDS] < passwords"

// MysqlPort is where the nodes take client connections.
const MysqlPort = "3306"

// Args are the parsed arguments.
type Args struct {
	Step    string // await-accepted | discard-old
	Host    string
	Timeout time.Duration
}

var wholeSeconds = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)

// ParseArgs reads the step and its flags; the error names the bad argument and the usage.
func ParseArgs(args []string) (Args, error) {
	a := Args{Host: "127.0.0.1", Timeout: 600 * time.Second}
	if len(args) == 0 || (args[0] != "await-accepted" && args[0] != "discard-old") {
		return a, fmt.Errorf("%s", Usage)
	}
	a.Step = args[0]
	timeout := "600"
	for rest := args[1:]; len(rest) > 0; {
		switch rest[0] {
		case "--host", "--timeout":
			if len(rest) < 2 {
				return a, fmt.Errorf("%s needs a value; %s", rest[0], Usage)
			}
			if rest[0] == "--host" {
				a.Host = rest[1]
			} else {
				timeout = rest[1]
			}
			rest = rest[2:]
		default:
			return a, fmt.Errorf("unknown argument '%s'; %s", rest[0], Usage)
		}
	}
	if !wholeSeconds.MatchString(timeout) {
		return a, fmt.Errorf("--timeout %s: give a whole number of seconds", timeout)
	}
	n, _ := strconv.Atoi(timeout)
	a.Timeout = time.Duration(n) * time.Second
	return a, nil
}

// ReadAccounts reads the new passwords from stdin (line 1 root, line 2 MYSQL_USER) and the
// names from the environment.
func ReadAccounts(in io.Reader, user, database string) (credentials.Accounts, error) {
	acc := credentials.Accounts{User: user, Database: database}
	sc := bufio.NewScanner(in)
	if sc.Scan() {
		acc.RootPassword = sc.Text()
	}
	if sc.Scan() {
		acc.Password = sc.Text()
	}
	if acc.RootPassword == "" {
		return acc, fmt.Errorf("no root password on stdin (line 1: root, line 2: MYSQL_USER)")
	}
	if user != "" && acc.Password == "" {
		return acc, fmt.Errorf("no password for MYSQL_USER=%s on line 2 of stdin", user)
	}
	// The same rule as the node's settings: the name goes into SQL between backticks.
	if err := config.CheckDatabase(database); err != nil {
		return acc, err
	}
	return acc, nil
}

// loginAs runs the client on host over TCP (never the socket, where root would get in through
// unix_socket whatever the password) as user with password (in MYSQL_PWD, never on the
// command line), sql on stdin; the error carries what the client said.
func loginAs(host, user, password, sql string) error {
	cmd := exec.Command("mariadb", "--protocol=tcp", "-h"+host, "-P"+MysqlPort, "-u"+user, "--connect-timeout=3")
	cmd.Env = append(os.Environ(), "MYSQL_PWD="+password)
	cmd.Stdin = strings.NewReader(sql)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(errOut.String()); msg != "" {
			return fmt.Errorf("%s", msg)
		}
		return err
	}
	return nil
}

// Login is how a step reaches the cluster (loginAs; a fake in tests).
type Login func(host, user, password, sql string) error

// Run performs the step: 0 when done, 1 after an error (logged).
func Run(a Args, acc credentials.Accounts, log *logx.Logger, login Login, sleep func(time.Duration)) int {
	if login == nil {
		login = loginAs
	}
	accepted := func() error {
		if err := login(a.Host, "root", acc.RootPassword, "SELECT 1"); err != nil {
			return err
		}
		if acc.User != "" {
			return login(a.Host, acc.User, acc.Password, "SELECT 1")
		}
		return nil
	}
	deadline := time.Now().Add(a.Timeout)
	for {
		err := accepted()
		if err == nil {
			break
		}
		if !time.Now().Before(deadline) {
			log.Error("await_accepted", "the new passwords were not accepted on %s within %d s (last: %v); a Galera node accepts them once it is Synced with the new secret files: see docker service ps / docker service logs of the Galera service, then run pulumi up again",
				a.Host, int(a.Timeout/time.Second), err)
			return 1
		}
		sleep(2 * time.Second)
	}
	log.Note("await_accepted", "the new passwords are accepted on %s", a.Host)
	if a.Step != "discard-old" {
		return 0
	}
	if err := login(a.Host, "root", acc.RootPassword, credentials.SQL(credentials.Discard, acc)); err != nil {
		log.Error("discard_old", "could not discard the old passwords on %s: %v", a.Host, err)
		return 1
	}
	log.Note("discard_old", "old passwords discarded: the new ones are the only valid ones (replicated to every node)")
	return 0
}
