package backup

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/galera-swarm/galera-swarm/agent/decision"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoad(t *testing.T) {
	good := map[string]string{"BACKUP_REPOSITORY": "sftp:backup@172.30.213.6:/srv/backup/galera",
		"BACKUP_SCHEDULE": "30 2 * * *", "BACKUP_KEEP": "last=7,daily=7,weekly=4,monthly=6",
		"BACKUP_PASSWORD_FILE": "/run/secrets/backup-password", "BACKUP_SSH_KEY_FILE": "/run/secrets/k",
		"BACKUP_KNOWN_HOSTS_FILE": "/run/secrets/kh"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // "" = no error
	}{
		{"all set", good, ""},
		{"no repository: no backups", map[string]string{"BACKUP_SCHEDULE": "x"}, ""},
		{"restore the latest", with("RESTORE_SNAPSHOT", "latest"), ""},
		{"a drill schedule", with("BACKUP_DRILL_SCHEDULE", "@weekly"), ""},
		{"a bad drill schedule", with("BACKUP_DRILL_SCHEDULE", "weekly"), "BACKUP_DRILL_SCHEDULE=weekly is not a cron schedule"},
		{"restore an id", with("RESTORE_SNAPSHOT", "81170a6a"), ""},
		{"restore a bad id", with("RESTORE_SNAPSHOT", "81170a6"), `RESTORE_SNAPSHOT=81170a6 is neither "latest" nor a snapshot id`},
		{"restore without a repository", map[string]string{"RESTORE_SNAPSHOT": "latest"}, "RESTORE_SNAPSHOT=latest needs BACKUP_REPOSITORY"},
		{"a descriptor", with("BACKUP_SCHEDULE", "@daily"), ""},
		{"binary logs archived every minute", with("BACKUP_PITR_INTERVAL", "60"), ""},
		{"no point-in-time recovery", with("BACKUP_PITR_INTERVAL", "0"), ""},
		{"an interval with a unit", with("BACKUP_PITR_INTERVAL", "60s"), "BACKUP_PITR_INTERVAL=60s: give whole seconds"},
		{"an interval over a day", with("BACKUP_PITR_INTERVAL", "86401"), "BACKUP_PITR_INTERVAL=86401: give whole seconds"},
		{"restore to a point in time", map[string]string{"RESTORE_SNAPSHOT": "latest", "RESTORE_POINT_IN_TIME": "2026-12-02T06:15:00.5+01:00",
			"BACKUP_REPOSITORY": "/r", "BACKUP_SCHEDULE": "@daily", "BACKUP_KEEP": "last=1,daily=0,weekly=0,monthly=0", "BACKUP_PASSWORD_FILE": "/p"}, ""},
		{"a point in time without its offset", with("RESTORE_POINT_IN_TIME", "2026-12-02T06:15:00"), "RESTORE_POINT_IN_TIME=2026-12-02T06:15:00 is not an RFC 3339 time"},
		{"a point in time without a snapshot", with("RESTORE_POINT_IN_TIME", "2026-12-02T06:15:00Z"), "RESTORE_POINT_IN_TIME=2026-12-02T06:15:00Z needs RESTORE_SNAPSHOT"},
		{"no schedule", with("BACKUP_SCHEDULE", ""), "BACKUP_SCHEDULE is not set"},
		{"six fields", with("BACKUP_SCHEDULE", "0 30 2 * * *"), "BACKUP_SCHEDULE=0 30 2 * * * is not a cron schedule"},
		{"bad minute", with("BACKUP_SCHEDULE", "61 * * * *"), "is not a cron schedule"},
		{"keep missing one", with("BACKUP_KEEP", "last=1,daily=1,weekly=1"), "give all of"},
		{"keep unknown", with("BACKUP_KEEP", "last=1,daily=1,weekly=1,yearly=1"), "each a whole number"},
		{"keep negative", with("BACKUP_KEEP", "last=-1,daily=1,weekly=1,monthly=1"), "each a whole number"},
		{"keep nothing", with("BACKUP_KEEP", "last=0,daily=0,weekly=0,monthly=0"), "keeps no snapshot"},
		{"no password file", with("BACKUP_PASSWORD_FILE", ""), "BACKUP_PASSWORD_FILE is not set"},
		{"sftp without key", with("BACKUP_SSH_KEY_FILE", ""), "set BACKUP_SSH_KEY_FILE and BACKUP_KNOWN_HOSTS_FILE"},
		{"local path needs no key", map[string]string{"BACKUP_REPOSITORY": "/backups/repo", "BACKUP_SCHEDULE": "@hourly",
			"BACKUP_KEEP": "last=1,daily=0,weekly=0,monthly=0", "BACKUP_PASSWORD_FILE": "/p"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Load(envOf(tc.env))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if tc.env["BACKUP_REPOSITORY"] != "" && s.Schedule == nil {
					t.Fatal("no schedule parsed")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestScheduleIsUTC(t *testing.T) {
	s, err := ParseSchedule("30 2 * * *")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	if got, want := s.Next(from).UTC(), time.Date(2026, 12, 2, 2, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("next %v, want %v", got, want)
	}
}

func TestKeepRoundTrip(t *testing.T) {
	k := Keep{Last: 7, Daily: 7, Weekly: 4, Monthly: 6}
	back, err := ParseKeep(k.String())
	if err != nil || back != k {
		t.Fatalf("ParseKeep(%q) = %v, %v", k.String(), back, err)
	}
	want := []string{"forget", "--tag", SnapshotTag, "--group-by", "paths", "--keep-last", "7", "--keep-daily", "7",
		"--keep-weekly", "4", "--keep-monthly", "6"}
	if got := k.ForgetArgs(); !slices.Equal(got, want) {
		t.Fatalf("ForgetArgs %v, want %v", got, want)
	}
}

func TestSSHCommand(t *testing.T) {
	base := "ssh -i /k -o IdentitiesOnly=yes -o UserKnownHostsFile=/kh -o StrictHostKeyChecking=yes -o BatchMode=yes " +
		"-o ConnectTimeout=10 -o ServerAliveInterval=10 -o ServerAliveCountMax=3"
	for _, tc := range []struct{ repository, want string }{
		{"sftp:backup@172.30.213.6:/srv/backup/galera", base + " -l backup 172.30.213.6 -s sftp"},
		{"sftp:host.example:/r", base + " host.example -s sftp"},
		{"sftp://backup@[2001:db8::6]:2222//srv/r", base + " -p 2222 -l backup 2001:db8::6 -s sftp"},
		{"sftp://backup@host.example//srv/r", base + " -l backup host.example -s sftp"},
		{"/backups/repo", ""},
		{"rest:https://backups.example/galera", ""},
		{"s3:s3.example/bucket", ""},
	} {
		s := Settings{Repository: tc.repository, SSHKeyFile: "/k", KnownHostsFile: "/kh"}
		if got := s.SSHCommand(""); got != tc.want {
			t.Errorf("SSHCommand(%s)\n got %q\nwant %q", tc.repository, got, tc.want)
		}
		if tc.want != "" {
			logged := strings.Replace(tc.want, " -s sftp", "", 1)
			logged = logged[:len(base)] + " -E /l" + logged[len(base):] + " -s sftp"
			if got := s.SSHCommand("/l"); got != logged {
				t.Errorf("SSHCommand(%s, log /l)\n got %q\nwant %q", tc.repository, got, logged)
			}
		}
		args := s.ResticArgs("", "snapshots")
		if has := slices.Contains(args, "sftp.command="+tc.want); has != (tc.want != "") {
			t.Errorf("ResticArgs(%s) = %v", tc.repository, args)
		}
	}
}

func TestResticFailureNamesTheCause(t *testing.T) {
	eof := "Fatal: unable to open repository at sftp:b@h:/r: unable to start the sftp session, error: EOF\n"
	for _, tc := range []struct{ stderr, ssh, want string }{
		{"Fatal: wrong password or no key found\n", "", "the backup password does not open the repository R"},
		{"Host key verification failed.\nFatal: unable to open repository", "", "presents a key that the known_hosts file does not hold"},
		{"ssh: connect to host 172.30.213.6 port 22: Connection refused\nFatal: ...", "", "is unreachable"},
		{"Save(<data/1>) returned error: write: no space left on device\n", "", "out of disk space"},
		{"Fatal: something else\n", "", "restic: Fatal: something else"},
		// restic lost ssh's stderr (it exited first); ssh's own log (-E) names the cause.
		{eof, "Connection timed out during banner exchange\nConnection to 172.30.213.6 port 22 timed out\n",
			"is unreachable (restic: Fatal: unable to open repository at sftp:b@h:/r: unable to start the sftp session, error: EOF; ssh: Connection to 172.30.213.6 port 22 timed out)"},
		{eof, "@@@\nWARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!\nHost key verification failed.\n", "presents a key that the known_hosts file does not hold: refused"},
		{eof, "backup@172.30.213.6: Permission denied (publickey).\n", "refuses the backup SSH key"},
		{eof, "", "is unreachable"},
	} {
		if got := resticFailure("doing", "R", tc.stderr, tc.ssh).Error(); !strings.Contains(got, tc.want) {
			t.Errorf("resticFailure(%q, ssh %q)\n = %q\nwant %q in it", tc.stderr, tc.ssh, got, tc.want)
		}
	}
}

func rec(address, state string) decision.NodeRecord {
	return decision.NodeRecord{Address: address, State: state}
}

func TestRank(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes map[string]decision.NodeRecord
		want  []string
	}{
		{"the writer (lowest address) last", map[string]decision.NodeRecord{
			"a": rec("10.0.1.9", "synced"), "b": rec("10.0.1.10", "synced"), "c": rec("10.0.1.11", "synced")},
			[]string{"b", "c", "a"}}, // numerically 10.0.1.9 < 10.0.1.10 (as text it would not be)
		{"only Synced nodes", map[string]decision.NodeRecord{
			"a": rec("10.0.1.2", "donor"), "b": rec("10.0.1.3", "synced"), "c": rec("10.0.1.4", "joining"), "d": rec("10.0.1.5", "synced")},
			[]string{"d", "b"}},
		{"one Synced node takes it, writer or not", map[string]decision.NodeRecord{
			"a": rec("10.0.1.2", "synced"), "b": rec("10.0.1.3", "down")}, []string{"a"}},
		{"none", map[string]decision.NodeRecord{"a": rec("10.0.1.2", "waiting")}, nil},
		{"IPv4 before IPv6", map[string]decision.NodeRecord{
			"a": rec("2001:db8::1", "synced"), "b": rec("10.0.1.200", "synced")}, []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Rank(tc.nodes); !slices.Equal(got, tc.want) {
				t.Fatalf("Rank = %v, want %v", got, tc.want)
			}
		})
	}
	if p := Place(map[string]decision.NodeRecord{"a": rec("10.0.1.2", "joining")}, "a"); p != -1 {
		t.Fatalf("Place of a node that is not Synced = %d, want -1", p)
	}
}

// fakePrograms: a restic that keeps what it reads only when its input ends (as restic writes
// a snapshot only then), and a mariabackup that streams `stream` and exits with `rc`.
func fakePrograms(t *testing.T, stream string, rc int) (Programs, string) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	restic := filepath.Join(dir, "restic")
	mb := filepath.Join(dir, "mariabackup")
	write := func(path, body string) {
		if err := os.WriteFile(path, []byte("#!/bin/bash\nset -euo pipefail\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(restic, `repo=`+repo+`
case " $* " in
  *" cat config "*) [[ -d $repo ]] || { echo "Is there a repository at the following location?" >&2; exit 1; } ;;
  *" init "*) mkdir -p "$repo/snapshots" ;;
  *" backup "*) cat > "$repo/partial"; mv "$repo/partial" "$repo/snapshots/s1"; echo '{"message_type":"summary","snapshot_id":"s1"}' ;;
  *" forget "*) echo "$*" > "$repo/forget" ;;
  *" snapshots "*) echo '[]' ;;
  *" prune "*) echo "$*" > "$repo/pruned" ;;
esac
`)
	write(mb, `printf '%s' '`+stream+`'; sleep 0.2; echo "mariabackup: error: the server went away" >&2; exit `+strconv.Itoa(rc)+"\n")
	return Programs{Mariabackup: []string{mb}, Restic: []string{restic}, Socket: "/nowhere.sock"}, repo
}

func TestTakeWritesASnapshotOnlyForACompleteStream(t *testing.T) {
	s := Settings{Repository: "/unused", PasswordFile: "/p", Keep: Keep{Last: 2}}
	p, repo := fakePrograms(t, "full stream", 0)
	res, err := s.Take(context.Background(), p, Job{Node: "node-b"})
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	if res.Snapshot != "s1" || res.Bytes != int64(len("full stream")) {
		t.Fatalf("Take = %+v", res)
	}
	if data, _ := os.ReadFile(filepath.Join(repo, "snapshots", "s1")); string(data) != "full stream" {
		t.Fatalf("the snapshot holds %q", data)
	}
	if forget, _ := os.ReadFile(filepath.Join(repo, "forget")); !strings.Contains(string(forget), "--keep-last 2") {
		t.Fatalf("no retention after the backup: %q", forget)
	}
	if _, err := os.Stat(filepath.Join(repo, "pruned")); err != nil || res.RetentionFailure != "" {
		t.Fatalf("no prune after the retention (%v): %s", err, res.RetentionFailure)
	}

	p, repo = fakePrograms(t, "half a str", 1)
	_, err = s.Take(context.Background(), p, Job{Node: "node-b"})
	if err == nil || !strings.Contains(err.Error(), "mariabackup failed") || !strings.Contains(err.Error(), "the server went away") ||
		!strings.Contains(err.Error(), "no snapshot was written") {
		t.Fatalf("Take after mariabackup failed: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(repo, "snapshots")); len(entries) != 0 {
		t.Fatalf("a failed stream left a snapshot: %v", entries)
	}
}

func TestLeftByOwnNodes(t *testing.T) {
	own := func(h string) bool { return strings.HasPrefix(h, "mysql-galera-") }
	lock := func(host string) Lock { return Lock{Hostname: host} }
	for _, tc := range []struct {
		name  string
		locks []Lock
		want  bool
	}{
		{"no lock: nothing to remove", nil, false},
		{"one left by a node", []Lock{lock("mysql-galera-docker2")}, true},
		{"several, all of nodes", []Lock{lock("mysql-galera-docker2"), lock("mysql-galera-docker3")}, true},
		{"an operator's restic among them keeps all", []Lock{lock("mysql-galera-docker2"), lock("laptop")}, false},
		{"only a foreign host", []Lock{lock("other-cluster-db1")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := LeftByOwnNodes(tc.locks, own); got != tc.want {
				t.Fatalf("LeftByOwnNodes = %v, want %v", got, tc.want)
			}
		})
	}
}

// lockingRestic: a fake restic whose repository holds the given locks (id -> hostname); it
// lists and prints them, and `unlock --remove-all` removes them all.
func lockingRestic(t *testing.T, locks map[string]string) (Settings, Programs, string) {
	dir := t.TempDir()
	for id, host := range locks {
		body := `{"time":"2026-12-01T10:00:00Z","exclusive":false,"hostname":"` + host + `","pid":57}`
		if err := os.WriteFile(filepath.Join(dir, id), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	restic := filepath.Join(dir, "restic")
	script := "#!/bin/bash\nset -euo pipefail\ncd " + dir + `
case " $* " in
  *" list locks "*) ls | grep -v restic || true ;;
  *" cat lock "*) cat "${@: -1}" ;;
  *" unlock --remove-all "*) find . -type f ! -name restic -delete ;;
esac
`
	if err := os.WriteFile(restic, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return Settings{Repository: "/unused"}, Programs{Restic: []string{restic}}, dir
}

func TestClearLocksRemovesOnlyLocksOfOwnNodes(t *testing.T) {
	defer func(g time.Duration) { lockGrace = g }(lockGrace)
	lockGrace = 10 * time.Millisecond
	own := func(h string) bool { return strings.HasPrefix(h, "mysql-galera-") }
	s, p, dir := lockingRestic(t, map[string]string{"aaaa1111": "mysql-galera-docker2"})
	removed := s.clearLocks(context.Background(), p, own)
	if len(removed) != 1 || removed[0].Hostname != "mysql-galera-docker2" || removed[0].PID != 57 {
		t.Fatalf("clearLocks removed %v", removed)
	}
	if got := removed[0].String(); got != "shared lock aaaa1111 of PID 57 on mysql-galera-docker2 from 2026-12-01T10:00:00Z" {
		t.Fatalf("Lock.String = %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "aaaa1111")); !os.IsNotExist(err) {
		t.Fatalf("the lock is still there (%v)", err)
	}

	s, p, dir = lockingRestic(t, map[string]string{"aaaa1111": "mysql-galera-docker2", "bbbb2222": "laptop"})
	if removed := s.clearLocks(context.Background(), p, own); removed != nil {
		t.Fatalf("clearLocks removed %v beside a foreign lock", removed)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Fatalf("locks removed beside a foreign one: %v", entries)
	}
}

func TestParseGaleraInfo(t *testing.T) {
	const uuid = "6f1d2a3c-0b1e-11ef-9a7d-2b4c5d6e7f80"
	for _, tc := range []struct {
		text, uuid string
		seqno      int64
		err        string
	}{
		{uuid + ":1234\n", uuid, 1234, ""},
		{uuid + ":1234 0-1-1234\n", uuid, 1234, ""},
		{uuid + ":-1", uuid, -1, ""},
		{"", "", 0, "is empty"},
		{"nonsense", "", 0, `"nonsense" is not <uuid>:<seqno>`},
		{uuid + ":x", "", 0, "is not <uuid>:<seqno>"},
	} {
		u, n, err := ParseGaleraInfo(tc.text)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseGaleraInfo(%q) error %v, want %q", tc.text, err, tc.err)
			}
			continue
		}
		if err != nil || u != tc.uuid || n != tc.seqno {
			t.Errorf("ParseGaleraInfo(%q) = %q, %d, %v", tc.text, u, n, err)
		}
	}
}

// restorePrograms: a restic with two snapshots whose dump is a stream, an mbstream that
// unpacks it into a data file and the Galera position, a mariabackup whose prepare marks it.
func restorePrograms(t *testing.T) Programs {
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("#!/bin/bash\nset -euo pipefail\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	restic := write("restic", `case " $* " in
  *" snapshots "*) echo '[{"short_id":"aaaa1111","id":"aaaa1111ffff","hostname":"n1","time":"2026-12-01T10:00:00Z"},{"short_id":"bbbb2222","id":"bbbb2222ffff","hostname":"n2","time":"2026-12-01T11:00:00Z"}]' ;;
  *" dump "*) echo "rows of ${@: -2:1}" ;;
esac
`)
	mbstream := write("mbstream", `[[ $1 == -x && $2 == -C ]]; cat > "$3/ibdata1"; echo "6f1d2a3c-0b1e-11ef-9a7d-2b4c5d6e7f80:77" > "$3/xtrabackup_galera_info"; touch "$3/backup-my.cnf"
`)
	mb := write("mariabackup", `[[ $1 == --prepare ]]; echo prepared >> "${2#--target-dir=}/ibdata1"
`)
	return Programs{Mariabackup: []string{mb}, Mbstream: []string{mbstream}, Restic: []string{restic}}
}

func TestRestoreWritesThePreparedSnapshotAndItsGaleraPosition(t *testing.T) {
	s := Settings{Repository: "/unused"}
	p := restorePrograms(t)
	for _, tc := range []struct{ want, id, rows string }{
		{"latest", "bbbb2222", "rows of bbbb2222ffff\nprepared\n"},
		{"aaaa1111", "aaaa1111", "rows of aaaa1111ffff\nprepared\n"},
	} {
		data := t.TempDir()
		got, err := s.Restore(context.Background(), p, tc.want, data, time.Time{})
		if err != nil {
			t.Fatalf("Restore(%s): %v", tc.want, err)
		}
		if got.Snapshot.ID != tc.id || got.UUID != "6f1d2a3c-0b1e-11ef-9a7d-2b4c5d6e7f80" || got.Seqno != 77 {
			t.Fatalf("Restore(%s) = %+v", tc.want, got)
		}
		if rows, _ := os.ReadFile(filepath.Join(data, "ibdata1")); string(rows) != tc.rows {
			t.Fatalf("Restore(%s) wrote ibdata1 %q, want %q", tc.want, rows, tc.rows)
		}
		grastate, _ := os.ReadFile(filepath.Join(data, "grastate.dat"))
		if !strings.Contains(string(grastate), "seqno:   77\nsafe_to_bootstrap: 1\n") {
			t.Fatalf("grastate.dat %q", grastate)
		}
		entries, _ := os.ReadDir(data)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if !slices.Equal(names, []string{"grastate.dat", "ibdata1"}) {
			t.Fatalf("the data directory holds %v (no mariabackup metadata, no work directory)", names)
		}
	}

	if _, err := s.Restore(context.Background(), p, "cccc3333", t.TempDir(), time.Time{}); err == nil ||
		!strings.Contains(err.Error(), "holds no snapshot cccc3333; its newest is bbbb2222") {
		t.Fatalf("Restore of a missing snapshot: %v", err)
	}
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "ibdata1"), []byte("live rows"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Restore(context.Background(), p, "latest", full, time.Time{}); err == nil || !strings.Contains(err.Error(), "refusing to restore into") {
		t.Fatalf("Restore into a data directory with data: %v", err)
	}
	if rows, _ := os.ReadFile(filepath.Join(full, "ibdata1")); string(rows) != "live rows" {
		t.Fatalf("a refused restore touched the data: %q", rows)
	}
}

func TestParseTableChecks(t *testing.T) {
	out := "shop.orders\tcheck\tstatus\tOK\nshop.orders\t3815263924\n" +
		"shop.broken\tcheck\terror\tSize of datafile is: 12 Should be: 16\nshop.broken\tcheck\terror\tCorrupt\nshop.broken\tNULL\n" +
		"mysql.gtid_slave_pos\tcheck\tnote\tThe storage engine for the table doesn't support check\nmysql.gtid_slave_pos\tcheck\tstatus\tOK\nmysql.gtid_slave_pos\t0\n"
	got := ParseTableChecks(out)
	want := []TableCheck{
		{Name: "shop.orders", Checksum: "3815263924"},
		{Name: "shop.broken", Checksum: "NULL", Problem: "error: Size of datafile is: 12 Should be: 16; error: Corrupt"},
		{Name: "mysql.gtid_slave_pos", Checksum: "0"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ParseTableChecks\n got %+v\nwant %+v", got, want)
	}
	if bad := (DrillResult{Tables: got}).Failed(); len(bad) != 1 || bad[0].Name != "shop.broken" {
		t.Fatalf("Failed = %+v", bad)
	}
	reordered := DrillResult{Tables: []TableCheck{got[2], got[0], got[1]}}
	changed := DrillResult{Tables: []TableCheck{got[0], got[1], {Name: "mysql.gtid_slave_pos", Checksum: "1"}}}
	stats := DrillResult{Tables: append(slices.Clone(got), TableCheck{Name: "mysql.innodb_table_stats", Checksum: "99"})}
	if d := (DrillResult{Tables: got}).Digest(); len(d) != 16 || d != reordered.Digest() || d == changed.Digest() || d != stats.Digest() {
		t.Fatalf("Digest %s, reordered %s, changed %s, with InnoDB's statistics %s", d, reordered.Digest(), changed.Digest(), stats.Digest())
	}
}
