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
//	galera-agent backup now [--timeout S]   have the cluster take a backup now; prints its snapshot
//	galera-agent backup drill [--timeout S] have the cluster run a restore drill of the newest snapshot now
//	galera-agent backup archive [--timeout S]
//	                                        have the cluster archive its binary logs now (point-in-time recovery)
//	galera-agent backup list                the snapshots in the repository, the last backup's and drill's reports
//	                                        (all four in a Galera task: its environment and secrets)
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/galera-swarm/galera-swarm/agent/backup"
	"github.com/galera-swarm/galera-swarm/agent/config"
	"github.com/galera-swarm/galera-swarm/agent/decision"
	"github.com/galera-swarm/galera-swarm/agent/health"
	"github.com/galera-swarm/galera-swarm/agent/logx"
	"github.com/galera-swarm/galera-swarm/agent/passwords"
	"github.com/galera-swarm/galera-swarm/agent/runner"
)

const usage = "usage: galera-agent run [MARIADBD-OPTION...] | health [OPTION...] | passwords STEP [OPTION...] | elect [CLUSTER-UUID] < positions | forget NODE-NAME... | backup now|drill|archive|list"

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
	case "backup":
		os.Exit(backupCommand(os.Args[2:], os.LookupEnv, os.Stdout))
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
	backups, err := backup.Load(os.LookupEnv)
	if err != nil {
		log.Error("backup_settings", "%v", err)
		return 1
	}
	return runner.New(cfg, log, mysqldArgs).WithBackups(backups).Run()
}

// backupCommand is `galera-agent backup now|drill|archive|list`, run in a Galera task (docker
// exec: the task's environment and secrets): 0 on success, 1 when the backup, the drill, the
// archive or the listing failed, 2 for a usage error or settings that do not allow it.
func backupCommand(args []string, env config.Env, out io.Writer) int {
	const use = "usage: galera-agent backup now [--timeout SECONDS] | drill [--timeout SECONDS] | archive [--timeout SECONDS] | list"
	cfg, err := config.Load(env)
	if err != nil {
		fmt.Fprintf(os.Stderr, "galera-agent backup: %v\n", err)
		return 2
	}
	bs, err := backup.Load(env)
	if err == nil && !bs.Enabled() {
		err = errors.New("BACKUP_REPOSITORY is not set: this stack has no backups configured (galera-swarm:backup)")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "galera-agent backup: %v\n", err)
		return 2
	}
	if len(args) == 1 && args[0] == "list" {
		return listBackups(cfg, bs, out)
	}
	kind, known := map[string]string{"now": runner.JobBackup, "drill": runner.JobDrill, "archive": runner.JobBinlog}[firstOf(args)]
	if !known {
		fmt.Fprintln(os.Stderr, use)
		return 2
	}
	if kind == runner.JobBinlog && !bs.PITR() {
		fmt.Fprintln(os.Stderr, "galera-agent backup archive: BACKUP_PITR_INTERVAL is 0: this stack writes no binary logs (galera-swarm:backup.pitrInterval)")
		return 2
	}
	wait := 2 * time.Hour
	if len(args) == 3 && args[1] == "--timeout" {
		n, err := strconv.Atoi(args[2])
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "galera-agent backup %s: --timeout %s is not a whole number of seconds\n%s\n", args[0], args[2], use)
			return 2
		}
		wait = time.Duration(n) * time.Second
	} else if len(args) != 1 {
		fmt.Fprintln(os.Stderr, use)
		return 2
	}
	rep, err := runner.RequestJob(kind, cfg.Endpoints, cfg.Etcd, cfg.Prefix(), wait)
	if err != nil {
		fmt.Fprintf(os.Stderr, "galera-agent backup %s: %v\n", args[0], err)
		return 1
	}
	if kind == runner.JobBinlog {
		fmt.Fprintln(out, archivedLine(rep))
		if rep.Warning != "" {
			fmt.Fprintf(os.Stderr, "galera-agent backup archive: warning: %s\n", rep.Warning)
		}
		return 0
	}
	if kind == runner.JobDrill {
		fmt.Fprintf(out, "drill of snapshot %s on %s: restored and prepared, %d tables pass CHECK TABLE, checksum digest %s, in %.0f s\n",
			rep.Snapshot, rep.Node, rep.Tables, rep.Digest, rep.Seconds)
		return 0
	}
	fmt.Fprintf(out, "snapshot %s: %s of %s in %.0f s\n", rep.Snapshot, humanize.IBytes(uint64(rep.Bytes)), rep.Node, rep.Seconds)
	if rep.Warning != "" {
		fmt.Fprintf(os.Stderr, "galera-agent backup now: warning: %s\n", rep.Warning)
	}
	return 0
}

// listBackups is `galera-agent backup list`: the snapshots, the last backup's and the last
// drill's report, the job running now.
func listBackups(cfg config.Settings, bs backup.Settings, out io.Writer) int {
	snaps, err := bs.Snapshots(context.Background(), runner.BackupPrograms)
	if err != nil {
		fmt.Fprintf(os.Stderr, "galera-agent backup list: %v\n", err)
		return 1
	}
	fmt.Fprintf(out, "%-10s %-20s %-28s %10s\n", "SNAPSHOT", "TIME (UTC)", "NODE", "SIZE")
	var unreadable []string
	for _, s := range snaps {
		size := humanize.IBytes(uint64(s.Bytes))
		if s.Unreadable != "" {
			size, unreadable = "UNREADABLE", append(unreadable, s.Unreadable)
		}
		fmt.Fprintf(out, "%-10s %-20s %-28s %10s\n", s.ID, s.Time.UTC().Format("2006-01-02 15:04:05"), s.Node, size)
	}
	fmt.Fprintf(out, "%d snapshots in %s\n", len(snaps), bs.Repository)
	for _, why := range unreadable {
		fmt.Fprintf(out, "  %s (is the repository damaged? make restore-drill checks a snapshot)\n", why)
	}
	st, err := runner.ReadBackupState(cfg.Endpoints, cfg.Etcd, cfg.Prefix())
	if err != nil {
		fmt.Fprintf(os.Stderr, "galera-agent backup list: %v\n", err)
		return 1
	}
	if rep := st.LastBackup; rep != nil && rep.Error != "" {
		fmt.Fprintf(out, "last backup FAILED at %s on %s: %s\n", rep.Finished.Format(time.RFC3339), rep.Node, rep.Error)
	} else if rep != nil {
		fmt.Fprintf(out, "last backup %s at %s on %s\n", rep.Snapshot, rep.Finished.Format(time.RFC3339), rep.Node)
		if rep.Warning != "" {
			fmt.Fprintf(out, "  warning: %s\n", rep.Warning)
		}
	}
	if rep := st.LastDrill; rep != nil && rep.Error != "" {
		fmt.Fprintf(out, "last restore drill FAILED at %s on %s: %s\n", rep.Finished.Format(time.RFC3339), rep.Node, rep.Error)
	} else if rep != nil {
		fmt.Fprintf(out, "last restore drill at %s on %s: snapshot %s restored, %d tables pass CHECK TABLE, checksum digest %s, in %.0f s\n",
			rep.Finished.Format(time.RFC3339), rep.Node, rep.Snapshot, rep.Tables, rep.Digest, rep.Seconds)
	}
	if bs.PITR() {
		fmt.Fprintln(out, pitrLine(bs, st.LastPiece))
	}
	if st.Running != "" {
		fmt.Fprintf(out, "%s running on %s\n", st.Running, st.RunningOn)
	}
	return 0
}

// firstOf is args[0] ("" when there is none).
func firstOf(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// archivedLine is what `backup archive` prints of its report.
func archivedLine(rep runner.JobReport) string {
	if rep.Snapshot == "" {
		return fmt.Sprintf("binary logs archived by %s: nothing new since the last piece", rep.Node)
	}
	return fmt.Sprintf("binary logs archived by %s: piece %.8s, up to GTID %s, in %.0f s", rep.Node, rep.Snapshot, rep.Position, rep.Seconds)
}

// pitrLine says how far the archived binary logs reach: the newest point a restore can
// replay to (every transaction before the last archive run's FLUSH BINARY LOGS).
func pitrLine(bs backup.Settings, rep *runner.JobReport) string {
	every := fmt.Sprintf("binary logs archived every %s", bs.PITRInterval)
	if rep == nil {
		return every + "; none archived yet"
	}
	// The run's start: its FLUSH BINARY LOGS came after, so every transaction before is archived.
	reached := rep.Finished.Add(-time.Duration(rep.Seconds * float64(time.Second))).Format(time.RFC3339)
	switch {
	case rep.Error != "":
		return fmt.Sprintf("%s; the last archive FAILED at %s on %s: %s", every, rep.Finished.Format(time.RFC3339), rep.Node, rep.Error)
	case rep.Snapshot == "":
		return fmt.Sprintf("%s; newest point in time %s (%s had nothing new)", every, reached, rep.Node)
	}
	return fmt.Sprintf("%s; newest point in time %s (piece %.8s of %s, up to GTID %s)", every, reached, rep.Snapshot, rep.Node, rep.Position)
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
