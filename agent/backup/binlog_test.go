package backup

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func gtid(seq uint64) GTID { return GTID{Domain: 0, Server: 1, Seq: seq} }

func TestParseGTIDList(t *testing.T) {
	cases := []struct {
		text    string
		want    GTID
		ok, bad bool
	}{
		{"[0-1-5]", gtid(5), true, false},
		{"0-1-5", gtid(5), true, false},
		{"[]", GTID{}, false, false},
		{"", GTID{}, false, false},
		{"[1-2-9,0-1-7]", gtid(7), true, false},
		{"[1-2-9]", GTID{}, false, false},
		{"[0-1-x]", GTID{}, false, true},
		{"0-1", GTID{}, false, true},
	}
	for _, c := range cases {
		got, ok, err := ParseGTIDList(c.text, 0)
		if got != c.want || ok != c.ok || (err != nil) != c.bad {
			t.Errorf("ParseGTIDList(%q) = %v, %v, %v; want %v, %v, error %v", c.text, got, ok, err, c.want, c.ok, c.bad)
		}
	}
}

func files(starts ...int) []BinlogFile {
	var fs []BinlogFile
	for i, s := range starts {
		f := BinlogFile{Name: "mysql-bin.00000" + string(rune('1'+i))}
		if s >= 0 {
			f.Start, f.Known = gtid(uint64(s)), true
		}
		fs = append(fs, f)
	}
	return fs
}

func TestPlanArchive(t *testing.T) {
	cases := []struct {
		name     string
		files    []BinlogFile
		last     uint64
		archived bool
		want     ArchivePlan
		ok       bool
	}{
		{"only the active log: nothing closed", files(0), 0, false, ArchivePlan{}, false},
		{"first piece of a lineage: every closed log, from the first log's start",
			files(-1, 3, 9), 0, false, ArchivePlan{Files: []string{"mysql-bin.000001", "mysql-bin.000002"}, From: gtid(0), To: gtid(9)}, true},
		{"first piece, logs of a node that joined later",
			files(40, 45), 0, false, ArchivePlan{Files: []string{"mysql-bin.000001"}, From: gtid(40), To: gtid(45)}, true},
		{"next piece: from the newest log starting at or before the last end",
			files(0, 3, 9, 12), 9, true, ArchivePlan{Files: []string{"mysql-bin.000003"}, From: gtid(9), To: gtid(12)}, true},
		{"next piece: the last end inside a log",
			files(0, 3, 9, 12), 5, true, ArchivePlan{Files: []string{"mysql-bin.000002", "mysql-bin.000003"}, From: gtid(5), To: gtid(12)}, true},
		{"nothing new since the last piece", files(0, 3, 9), 9, true, ArchivePlan{}, false},
		{"another node archived further than this one has closed", files(0, 3, 9), 11, true, ArchivePlan{}, false},
		{"a node whose logs begin after the last end: a gap, starting after it",
			files(20, 30), 9, true, ArchivePlan{Files: []string{"mysql-bin.000001"}, From: gtid(20), To: gtid(30), Gap: true}, true},
		{"a node whose logs begin at an unknown position: a gap",
			files(-1, 30), 9, true, ArchivePlan{Files: []string{"mysql-bin.000001"}, From: gtid(10), To: gtid(30), Gap: true}, true},
		{"the active log's start unknown: nothing written yet", files(-1, -1), 0, false, ArchivePlan{}, false},
	}
	for _, c := range cases {
		got, ok := PlanArchive(c.files, gtid(c.last), c.archived)
		if ok != c.ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: PlanArchive = %+v, %v; want %+v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

var t0 = time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)

func piece(id string, from, to uint64, at time.Duration, lineage string) Piece {
	return Piece{Snapshot: Snapshot{ID: id, Node: "g1", Time: t0.Add(at)}, From: gtid(from), To: gtid(to), Lineage: lineage}
}

func TestReplayPlan(t *testing.T) {
	a := piece("aaaa", 0, 10, 10*time.Minute, "L")
	b := piece("bbbb", 10, 20, 20*time.Minute, "L")
	bOverlap := piece("bbb2", 6, 20, 20*time.Minute, "L") // another node's logs, reaching back further
	c := piece("cccc", 20, 30, 30*time.Minute, "L")
	other := piece("othr", 0, 50, 15*time.Minute, "M")
	gap := piece("gapp", 25, 30, 30*time.Minute, "L")
	cases := []struct {
		name    string
		pieces  []Piece
		start   uint64
		until   time.Duration
		want    []ReplayStep
		reached time.Duration // 0: until was reached
		err     string
	}{
		{"every piece after the backup, up to the first archived replayMargin or more after until",
			[]Piece{c, a, b}, 4, 12 * time.Minute,
			[]ReplayStep{{a, gtid(4), gtid(10)}, {b, gtid(10), gtid(20)}}, 0, ""},
		{"a piece archived just after until is replayed too: a commit before until may be in it",
			[]Piece{a, b, c}, 4, 19 * time.Minute,
			[]ReplayStep{{a, gtid(4), gtid(10)}, {b, gtid(10), gtid(20)}, {c, gtid(20), gtid(30)}}, 0, ""},
		{"pieces that end before the backup are passed over; the archive ends before until",
			[]Piece{a, b, c}, 12, 100 * time.Minute,
			[]ReplayStep{{b, gtid(12), gtid(20)}, {c, gtid(20), gtid(30)}}, 30 * time.Minute, ""},
		{"an overlapping piece replays from where the one before ended",
			[]Piece{a, bOverlap, c}, 0, 25 * time.Minute,
			[]ReplayStep{{a, gtid(0), gtid(10)}, {bOverlap, gtid(10), gtid(20)}, {c, gtid(20), gtid(30)}}, 0, ""},
		{"another lineage's pieces are never replayed",
			[]Piece{other, a}, 0, 10 * time.Minute, []ReplayStep{{a, gtid(0), gtid(10)}}, 0, ""},
		{"a gap in the GTIDs is refused, naming it",
			[]Piece{a, b, gap}, 0, 100 * time.Minute, nil, 0, "nothing holds the transactions after 0-1-20 up to 0-1-25"},
		{"no piece after the backup: nothing to replay",
			[]Piece{a}, 10, time.Hour, nil, 0, ""},
	}
	for _, c := range cases {
		got, reached, err := ReplayPlan(c.pieces, "L", gtid(c.start), t0.Add(c.until))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one saying %q", c.name, err, c.err)
			}
			continue
		}
		wantReached := time.Time{}
		if c.reached != 0 {
			wantReached = t0.Add(c.reached)
		}
		if err != nil || !reflect.DeepEqual(got, c.want) || !reached.Equal(wantReached) {
			t.Errorf("%s: ReplayPlan = %+v, %v, %v; want %+v, %v", c.name, got, reached, err, c.want, wantReached)
		}
	}
}

func TestCheckCovers(t *testing.T) {
	cases := []struct {
		name           string
		after, through uint64
		err            string
	}{
		{"every transaction of the range", 3, 6, ""},
		{"the logs begin after the range's start", 2, 6, "after 0-1-2 comes 0-1-4"},
		{"the logs end before the range's end", 3, 7, "they end at 0-1-6, not at 0-1-7"},
	}
	for _, c := range cases {
		err := CheckCovers(decoded, gtid(c.after), gtid(c.through))
		if (c.err == "" && err != nil) || (c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err))) {
			t.Errorf("%s: CheckCovers = %v, want %q", c.name, err, c.err)
		}
	}
	holed := strings.Replace(decoded, "GTID 0-1-5 trans", "GTID 0-1-9 trans", 1)
	if err := CheckCovers(holed, gtid(3), gtid(6)); err == nil || !strings.Contains(err.Error(), "after 0-1-4 comes 0-1-9") {
		t.Errorf("a hole: CheckCovers = %v", err)
	}
	if err := CheckCovers("", gtid(3), gtid(3)); err != nil {
		t.Errorf("an empty range: %v", err)
	}
}

func TestOtherLineageSince(t *testing.T) {
	backup := func(id, lineage string, at time.Duration) Snapshot {
		return Snapshot{ID: id, Time: t0.Add(at), Tags: []string{SnapshotTag, LineageTag(lineage)}}
	}
	own := []Piece{piece("own1", 0, 10, 20*time.Minute, "L")}
	if _, found := OtherLineageSince(own, []Snapshot{backup("b1", "L", 0)}, "L", t0, t0.Add(time.Hour)); found {
		t.Error("only the backup's own lineage: found another")
	}
	later := append(own, piece("new1", 0, 3, 30*time.Minute, "M"))
	if got, found := OtherLineageSince(later, nil, "L", t0, t0.Add(time.Hour)); !found || got.ID != "new1" {
		t.Errorf("a restored cluster's piece in between: %v, %v", got, found)
	}
	if _, found := OtherLineageSince(later, nil, "L", t0, t0.Add(25*time.Minute)); found {
		t.Error("the other lineage began after the point in time: found it")
	}
	if got, found := OtherLineageSince(nil, []Snapshot{backup("b2", "M", 10*time.Minute)}, "L", t0, t0.Add(time.Hour)); !found || got.ID != "b2" {
		t.Errorf("a restored cluster's backup in between: %v, %v", got, found)
	}
}

func TestBackupEnd(t *testing.T) {
	info := "uuid = 7d1c\nname = \ntool_name = mariabackup\nstart_time = 2026-12-02 06:08:31\nend_time = 2026-12-02 06:08:33\nlock_time = 0\n"
	if got, err := backupEnd(info); err != nil || !got.Equal(time.Date(2026, 12, 2, 6, 8, 33, 0, time.UTC)) {
		t.Errorf("backupEnd = %v, %v", got, err)
	}
	if _, err := backupEnd("tool_name = mariabackup\n"); err == nil {
		t.Error("no end_time: no error")
	}
}

// decoded is mariadb-binlog's text of three transactions (as MariaDB 10.11.18 prints it, TZ=UTC).
const decoded = `# at 385
#261202  5:31:46 server id 1  end_log_pos 427 CRC32 0x56c37f42 	GTID 0-1-4 trans
/*!100001 SET @@session.gtid_seq_no=4*//*!*/;
# at 603
#261202  5:31:47 server id 1  end_log_pos 645 CRC32 0xd69b14f5 	GTID 0-1-5 trans
# at 821
#261202 15:31:49 server id 1  end_log_pos 862 CRC32 0xd69b14f6 	GTID 0-1-6 ddl
#261202 15:31:49 server id 1  end_log_pos 900 CRC32 0x00000000 	Query	thread_id=10
`

func TestCutAt(t *testing.T) {
	day := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		until time.Time
		want  GTID
		ok    bool
	}{
		{"before every transaction", day.Add(5*time.Hour + 31*time.Minute + 46*time.Second), GTID{}, false},
		{"a transaction in the second of until is left out", day.Add(5*time.Hour + 31*time.Minute + 47*time.Second + 500*time.Millisecond), gtid(4), true},
		{"after the second of a transaction", day.Add(5*time.Hour + 31*time.Minute + 48*time.Second), gtid(5), true},
		{"an hour of two digits", day.Add(15*time.Hour + 31*time.Minute + 50*time.Second), gtid(6), true},
		{"a time zone other than UTC", time.Date(2026, 12, 2, 6, 31, 48, 0, time.FixedZone("CET", 3600)), gtid(5), true},
	}
	for _, c := range cases {
		got, ok, err := CutAt(decoded, c.until)
		if err != nil || got != c.want || ok != c.ok {
			t.Errorf("%s: CutAt = %v, %v, %v; want %v, %v", c.name, got, ok, err, c.want, c.ok)
		}
	}
}

func TestPieceOfReadsTheTagsPieceTagsWrites(t *testing.T) {
	tags := append([]string{BinlogTag}, PieceTags(gtid(3), gtid(9), "abc123")...)
	got, err := PieceOf(Snapshot{ID: "12345678", Tags: tags})
	if err != nil || got.From != gtid(3) || got.To != gtid(9) || got.Lineage != "abc123" {
		t.Fatalf("PieceOf = %+v, %v", got, err)
	}
	for _, bad := range [][]string{{BinlogTag}, {BinlogTag, tagFrom + "0-1-9", tagTo + "0-1-3", LineageTag("x")}, {tagFrom + "0-1-1", tagTo + "0-1-2"}} {
		if _, err := PieceOf(Snapshot{ID: "12345678", Tags: bad}); err == nil || !strings.Contains(err.Error(), "not a piece") {
			t.Errorf("PieceOf(%v) = %v, want an error", bad, err)
		}
	}
}

func TestParseBinlogStarts(t *testing.T) {
	// SHOW BINLOG EVENTS ... LIMIT 3 of three logs (mariadb -N -B, MariaDB 10.11.18).
	events := "mysql-bin.000001\t4\tFormat_desc\t1\t256\tServer ver: 10.11.18-MariaDB-0+deb12u1-log, Binlog ver: 4\n" +
		"mysql-bin.000001\t256\tGtid_list\t1\t285\t[]\n" +
		"mysql-bin.000002\t256\tGtid_list\t1\t299\t[0-1-3]\n" +
		"mysql-bin.000002\t299\tBinlog_checkpoint\t1\t342\tmysql-bin.000001\n" +
		"mysql-bin.000003\t256\tGtid_list\t1\t299\t[0-1-5]\n"
	got, err := ParseBinlogStarts([]string{"mysql-bin.000001", "mysql-bin.000002", "mysql-bin.000003", "mysql-bin.000004"}, events)
	want := []BinlogFile{{Name: "mysql-bin.000001"}, {"mysql-bin.000002", gtid(3), true}, {"mysql-bin.000003", gtid(5), true}, {Name: "mysql-bin.000004"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseBinlogStarts = %+v, %v; want %+v", got, err, want)
	}
	if _, err := ParseBinlogStarts([]string{"b"}, "b\t256\tGtid_list\t1\t299\t[0-1]\n"); err == nil {
		t.Fatal("a Gtid_list that does not parse was taken")
	}
}

func TestBackupPosition(t *testing.T) {
	cases := []struct {
		info string
		want GTID
		err  string
	}{
		{"mysql-bin.000002\t868\t0-1-5\n", gtid(5), ""},
		{"mysql-bin.000002\t868\t7-3-2,0-1-9\n", gtid(9), ""},
		{"mysql-bin.000001\t385\t\n", GTID{}, "taken without binary logs"},
		{"", GTID{}, "taken without binary logs"},
	}
	for _, c := range cases {
		got, err := BackupPosition(c.info)
		if (c.err == "" && (err != nil || got != c.want)) || (c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err))) {
			t.Errorf("BackupPosition(%q) = %v, %v; want %v, error %q", c.info, got, err, c.want, c.err)
		}
	}
}

func TestObsoletePieces(t *testing.T) {
	backupOf := func(lineage string, at time.Duration) Snapshot {
		return Snapshot{ID: "b" + lineage, Time: t0.Add(at), Tags: []string{SnapshotTag, LineageTag(lineage)}}
	}
	old := piece("old1", 0, 10, 0, "L")                              // archived 3 h before the oldest kept backup
	margin := piece("marg", 10, 20, 2*time.Hour+30*time.Minute, "L") // 30 min before it: the clocks' margin
	after := piece("aftr", 20, 30, 4*time.Hour, "L")
	orphan := piece("orph", 0, 5, 0, "N") // a lineage with no backup kept
	backups := []Snapshot{backupOf("L", 5*time.Hour), backupOf("L", 3*time.Hour), {ID: "pre", Time: t0, Tags: []string{SnapshotTag}}}
	got := ObsoletePieces([]Piece{old, margin, after, orphan}, backups)
	if !reflect.DeepEqual(got, []Piece{old}) {
		t.Fatalf("ObsoletePieces = %+v, want only %s", got, old.Snapshot.ID)
	}
	if got := ObsoletePieces([]Piece{old, orphan}, nil); got != nil {
		t.Fatalf("no backup kept: ObsoletePieces = %+v, want none", got)
	}
}
