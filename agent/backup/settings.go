// Package backup takes physical backups of the Galera node it runs on: mariabackup's stream
// (--backup --galera-info --stream=mbstream) piped into `restic backup --stdin`, so nothing is
// written to the node's disk, then restic's retention (`forget --prune`). The schedule is
// cron's, shared by every node; which node takes a scheduled backup is Rank's rule, and the
// claim that makes it one node per scheduled time is runner's (an etcd transaction).
package backup

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/galera-swarm/galera-swarm/agent/config"
	"github.com/galera-swarm/galera-swarm/agent/logx"
)

// Keep is restic forget's policy (--keep-last, --keep-daily, --keep-weekly, --keep-monthly).
type Keep struct{ Last, Daily, Weekly, Monthly int }

// Settings are a node's backup settings (components/galera_backup.py sets them); no password
// is in the environment, only the paths of the swarm secrets.
type Settings struct {
	Repository   string        // BACKUP_REPOSITORY: a restic repository URL; "" = no backups
	ScheduleText string        // BACKUP_SCHEDULE: cron's 5 fields or a descriptor (@daily), UTC
	Schedule     cron.Schedule // ScheduleText parsed
	Keep         Keep          // BACKUP_KEEP: "last=N,daily=N,weekly=N,monthly=N"
	// BACKUP_DRILL_SCHEDULE: when one node runs a restore drill of the newest snapshot (cron,
	// UTC); "": on demand only (galera-agent backup drill).
	DrillScheduleText string
	DrillSchedule     cron.Schedule // nil without DrillScheduleText
	PasswordFile      string        // BACKUP_PASSWORD_FILE: the repository's password (restic's RESTIC_PASSWORD_FILE)
	SSHKeyFile        string        // BACKUP_SSH_KEY_FILE: the private key for sftp: repositories
	KnownHostsFile    string        // BACKUP_KNOWN_HOSTS_FILE: the sftp host's key, checked strictly
	// RESTORE_SNAPSHOT: the snapshot a new cluster starts from ("latest" or a restic snapshot
	// id, 8 to 64 hex digits); "": a new cluster starts empty. Only a node that bootstraps a
	// new cluster (no cluster recorded, no node holding data) restores (runner).
	RestoreSnapshot string
	// BACKUP_PITR_INTERVAL: how often one node archives the closed binary logs (whole seconds;
	// 0 or unset: no binary logs, no point-in-time recovery). The recovery point objective.
	PITRInterval time.Duration
	// RESTORE_POINT_IN_TIME (RFC 3339): the restore replays the archived binary logs of the
	// snapshot's lineage up to this time; zero: the snapshot as it was taken.
	RestorePointInTime time.Time
}

// PITR: binary logs are written and archived (BACKUP_PITR_INTERVAL above 0).
func (s Settings) PITR() bool { return s.Enabled() && s.PITRInterval > 0 }

// Enabled: a repository is set.
func (s Settings) Enabled() bool { return s.Repository != "" }

// Load reads the backup settings from env. No BACKUP_REPOSITORY: Settings{} (no backups).
// Otherwise the schedule, the policy and the password file are required (the stack owns the
// defaults: galera_swarm/settings.py), and an sftp: repository needs the key and known_hosts
// files; a *logx.StepError names the variable and the fix.
func Load(env config.Env) (Settings, error) {
	get := func(k string) string { v, _ := env(k); return strings.TrimSpace(v) }
	s := Settings{Repository: get("BACKUP_REPOSITORY"), RestoreSnapshot: get("RESTORE_SNAPSHOT")}
	if s.RestoreSnapshot != "" && s.RestoreSnapshot != "latest" && !snapshotIDPattern.MatchString(s.RestoreSnapshot) {
		return s, fail("RESTORE_SNAPSHOT=%s is neither \"latest\" nor a snapshot id (8 to 64 hex digits, as `galera-agent backup list` shows)", s.RestoreSnapshot)
	}
	if at := get("RESTORE_POINT_IN_TIME"); at != "" {
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return s, fail("RESTORE_POINT_IN_TIME=%s is not an RFC 3339 time with its offset, e.g. 2026-12-02T06:15:00Z", at)
		}
		if s.RestoreSnapshot == "" {
			return s, fail("RESTORE_POINT_IN_TIME=%s needs RESTORE_SNAPSHOT, the backup whose binary logs are replayed up to it", at)
		}
		s.RestorePointInTime = t
	}
	if !s.Enabled() {
		if s.RestoreSnapshot != "" {
			return s, fail("RESTORE_SNAPSHOT=%s needs BACKUP_REPOSITORY, the repository to restore from (galera-swarm:backup)", s.RestoreSnapshot)
		}
		return Settings{}, nil
	}
	s.ScheduleText = get("BACKUP_SCHEDULE")
	s.PasswordFile = get("BACKUP_PASSWORD_FILE")
	s.SSHKeyFile, s.KnownHostsFile = get("BACKUP_SSH_KEY_FILE"), get("BACKUP_KNOWN_HOSTS_FILE")
	var err error
	if s.Schedule, err = ParseSchedule(s.ScheduleText); err != nil {
		return s, err
	}
	if s.Keep, err = ParseKeep(get("BACKUP_KEEP")); err != nil {
		return s, err
	}
	if s.DrillScheduleText = get("BACKUP_DRILL_SCHEDULE"); s.DrillScheduleText != "" {
		if s.DrillSchedule, err = parseCron("BACKUP_DRILL_SCHEDULE", s.DrillScheduleText); err != nil {
			return s, err
		}
	}
	if text := get("BACKUP_PITR_INTERVAL"); text != "" {
		n, err := strconv.Atoi(text)
		if err != nil || n < 0 || n > 86400 {
			return s, fail("BACKUP_PITR_INTERVAL=%s: give whole seconds from 0 (no point-in-time recovery) to 86400", text)
		}
		s.PITRInterval = time.Duration(n) * time.Second
	}
	if s.PasswordFile == "" {
		return s, fail("BACKUP_PASSWORD_FILE is not set: the file holding the repository's password (a swarm secret)")
	}
	if _, sftp := sftpTarget(s.Repository); sftp && (s.SSHKeyFile == "" || s.KnownHostsFile == "") {
		return s, fail("BACKUP_REPOSITORY=%s is an sftp repository: set BACKUP_SSH_KEY_FILE and BACKUP_KNOWN_HOSTS_FILE (the login key and the host's key)", s.Repository)
	}
	return s, nil
}

// snapshotIDPattern: a restic snapshot id, whole (64 hex digits) or shortened (8 or more).
var snapshotIDPattern = regexp.MustCompile(`^[0-9a-f]{8,64}$`)

func fail(format string, args ...any) error { return logx.Fail("backup_settings", format, args...) }

// ParseSchedule parses BACKUP_SCHEDULE with cron's standard rules (robfig/cron ParseStandard:
// minute hour day-of-month month day-of-week, or @yearly/@monthly/@weekly/@daily/@hourly),
// evaluated in UTC.
func ParseSchedule(text string) (cron.Schedule, error) { return parseCron("BACKUP_SCHEDULE", text) }

// parseCron parses the schedule of variable `name` by ParseSchedule's rules.
func parseCron(name, text string) (cron.Schedule, error) {
	if text == "" {
		return nil, fail("%s is not set: a cron schedule, e.g. @daily or '30 2 * * *'", name)
	}
	sched, err := cron.ParseStandard("CRON_TZ=UTC " + text)
	if err != nil {
		return nil, fail("%s=%s is not a cron schedule (%v): give 5 fields, e.g. '30 2 * * *', or @daily", name, text, err)
	}
	return sched, nil
}

// ParseKeep parses "last=N,daily=N,weekly=N,monthly=N" (all four, whole numbers, at least one
// above 0: restic keeps nothing otherwise).
func ParseKeep(text string) (Keep, error) {
	var k Keep
	fields := map[string]*int{"last": &k.Last, "daily": &k.Daily, "weekly": &k.Weekly, "monthly": &k.Monthly}
	seen := map[string]bool{}
	for _, part := range strings.Split(text, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		dest, known := fields[name]
		n, err := strconv.Atoi(value)
		if !ok || !known || seen[name] || err != nil || n < 0 {
			return Keep{}, fail("BACKUP_KEEP=%s: give last=N,daily=N,weekly=N,monthly=N, each a whole number", text)
		}
		*dest, seen[name] = n, true
	}
	if len(seen) != len(fields) {
		return Keep{}, fail("BACKUP_KEEP=%s: give all of last=N,daily=N,weekly=N,monthly=N", text)
	}
	if k == (Keep{}) {
		return Keep{}, fail("BACKUP_KEEP=%s keeps no snapshot: set at least one count above 0", text)
	}
	return k, nil
}

// String is Keep as BACKUP_KEEP writes it.
func (k Keep) String() string {
	return fmt.Sprintf("last=%d,daily=%d,weekly=%d,monthly=%d", k.Last, k.Daily, k.Weekly, k.Monthly)
}
