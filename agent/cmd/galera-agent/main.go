// Command galera-agent is the Galera node logic of the galera image:
//
//	galera-agent run [MARIADBD-OPTION...]   what the entrypoint execs: register in etcd, decide, run mariadbd
//	galera-agent elect [CLUSTER-UUID]       the recovery winner of "<name> <uuid> <seqno>" lines on stdin
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/galera-swarm/galera-swarm/agent/config"
	"github.com/galera-swarm/galera-swarm/agent/decision"
	"github.com/galera-swarm/galera-swarm/agent/logx"
	"github.com/galera-swarm/galera-swarm/agent/runner"
)

const usage = "usage: galera-agent run [MARIADBD-OPTION...] | elect [CLUSTER-UUID] < positions"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "run":
		os.Exit(run(os.Args[2:]))
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
	default:
		fmt.Fprintf(os.Stderr, "galera-agent: unknown command %q\n%s\n", os.Args[1], usage)
		os.Exit(2)
	}
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
