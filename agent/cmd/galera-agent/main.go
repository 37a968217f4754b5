// Command galera-agent is the Galera node logic of the galera image:
//
//	galera-agent run [MARIADBD-OPTION...]   what the entrypoint execs: register in etcd, decide, run mariadbd
//	galera-agent health [--check [--donor-ok [--transfer-ok-after S]] | --http]
//	                                        the node's health (installed as galera-health)
//	galera-agent passwords await-accepted|discard-old [--host H] [--timeout S] < passwords
//	                                        the steps of a password rotation (installed as galera-passwords)
//	galera-agent elect [CLUSTER-UUID]       the recovery winner of "<name> <uuid> <seqno>" lines on stdin
//	galera-agent forget NODE-NAME...        remove the etcd records of nodes removed for good
//	                                        (CLUSTER_NAME, DISCOVERY_SERVICE, ETCD_PASSWORD[_FILE] from the environment)
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/galera-swarm/galera-swarm/agent/config"
	"github.com/galera-swarm/galera-swarm/agent/decision"
	"github.com/galera-swarm/galera-swarm/agent/health"
	"github.com/galera-swarm/galera-swarm/agent/logx"
	"github.com/galera-swarm/galera-swarm/agent/passwords"
	"github.com/galera-swarm/galera-swarm/agent/runner"
)

const usage = "usage: galera-agent run [MARIADBD-OPTION...] | health [OPTION...] | passwords STEP [OPTION...] | elect [CLUSTER-UUID] < positions | forget NODE-NAME..."

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "run":
		os.Exit(run(os.Args[2:]))
	case "health":
		os.Exit(checkHealth(os.Args[2:]))
	case "passwords":
		os.Exit(rotatePasswords(os.Args[2:]))
	case "elect":
		uuid := ""
		if len(os.Args) > 2 {
			uuid = os.Args[2]
		}
		winner, err := elect(os.Stdin, uuid)
		if err != nil {
			fmt.Fprintf(os.Stderr, "galera-agent elect: %v\n", err)
			os.Exit(1)
		}
		if winner != "" {
			fmt.Println(winner)
		}
	case "forget":
		os.Exit(forget(os.Args[2:], os.LookupEnv))
	default:
		fmt.Fprintf(os.Stderr, "galera-agent: unknown command %q\n%s\n", os.Args[1], usage)
		os.Exit(2)
	}
}

// checkHealth is galera-health: exit 0 when healthy, 1 otherwise, the message on stdout;
// with --http one HTTP answer to the request on stdin. 2 for a usage error.
func checkHealth(args []string) int {
	http, opts, err := health.ParseArgs(args, os.Getenv("AVAILABLE_WHEN_DONOR"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "galera-health: %v\n%s\n", err, health.Usage)
		return 2
	}
	healthy, msg := health.Verdict(health.Probe(runner.HealthPaths), opts)
	if http {
		health.AnswerOne(os.Stdin, os.Stdout, healthy, msg)
		return 0
	}
	fmt.Println(msg)
	if !healthy {
		return 1
	}
	return 0
}

// rotatePasswords is galera-passwords: a step of a password rotation, the passwords on stdin.
func rotatePasswords(args []string) int {
	log := logx.New("galera-passwords")
	a, err := passwords.ParseArgs(args)
	if err != nil {
		log.Error("parse_args", "%v", err)
		return 1
	}
	acc, err := passwords.ReadAccounts(os.Stdin, os.Getenv("MYSQL_USER"), os.Getenv("MYSQL_DATABASE"))
	if err != nil {
		log.Error("read_passwords", "%v", err)
		return 1
	}
	return passwords.Run(a, acc, log, nil, time.Sleep)
}

func run(mysqldArgs []string) int {
	log := logx.New("galera-entrypoint") // the tag the logs have always had: tests and operators grep it
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		step := "setup_env"
		if se, ok := err.(*logx.StepError); ok {
			step = se.Step
		}
		log.Error(step, "%v", err)
		return 1
	}
	return runner.New(cfg, log, mysqldArgs).Run()
}

// forget is run by the stack after it drained hosts it removes (components/galera_service.py):
// 0 when the records are gone (or were never there), 1 when etcd refused or did not answer,
// 2 for a usage error. Each forgotten member is printed, one per line.
func forget(names []string, env config.Env) int {
	cluster, _ := env("CLUSTER_NAME")
	discovery, _ := env("DISCOVERY_SERVICE")
	if err := config.CheckForget(cluster, discovery, names); err != nil {
		fmt.Fprintf(os.Stderr, "galera-agent forget: %v\n", err)
		return 2
	}
	login, err := config.LoadEtcdLogin(env)
	if err != nil {
		fmt.Fprintf(os.Stderr, "galera-agent forget: %v\n", err)
		return 2
	}
	s := config.Settings{ClusterName: cluster}
	had, err := runner.Forget(config.Endpoints(discovery), login, s.Prefix(), names, 30*time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "galera-agent forget: %v\n", err)
		return 1
	}
	for _, n := range had {
		fmt.Println(n)
	}
	return 0
}

// elect reads "<name> <uuid> <seqno>" lines and names the node that would bootstrap after a
// full stop (decision.View.Winner); "" when none holds data.
func elect(in io.Reader, clusterUUID string) (string, error) {
	v := decision.View{Positions: map[string]decision.Position{}}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return "", fmt.Errorf("line %q: want <name> <uuid> <seqno>", sc.Text())
		}
		seqno, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return "", fmt.Errorf("line %q: seqno: %w", sc.Text(), err)
		}
		v.Positions[f[0]] = decision.Position{UUID: f[1], Seqno: seqno}
	}
	winner, _ := v.Winner(clusterUUID)
	return winner, sc.Err()
}
