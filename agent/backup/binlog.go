package backup

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Point-in-time recovery rests on MariaDB's binary logs with GTIDs that are the same on every
// node (wsrep_gtid_mode, one domain, one server_id: BinlogCnf). One node at a time archives
// the closed binary logs into the repository every BACKUP_PITR_INTERVAL as a "piece": one
// restic snapshot (tag BinlogTag) of the files that hold every transaction after the previous
// piece's end, tagged with its GTID range (from, to] and the cluster's lineage. A restore
// replays the pieces of the backup's lineage from the backup's own GTID up to the point in
// time. The rules of both sides are the pure functions here, tested by tables.

// BinlogTag marks the pieces of archived binary logs (full backups carry SnapshotTag).
const BinlogTag = "galera-binlog"

// Tag prefixes of a piece (and, for the lineage, of a full backup).
const (
	tagFrom    = "gtid-from="
	tagTo      = "gtid-to="
	tagLineage = "lineage="
)

// LineageTag is the tag that says which lineage a snapshot or piece belongs to. A lineage is
// one history of GTIDs: every cluster that starts empty or from a backup starts a new one
// (its GTIDs may repeat numbers of another), a recovered cluster goes on with its own.
func LineageTag(lineage string) string { return tagLineage + lineage }

// Lineage is the lineage a snapshot's tags name ("": none, a backup older than PITR).
func Lineage(tags []string) string { return tagValue(tags, tagLineage) }

func tagValue(tags []string, prefix string) string {
	for _, t := range tags {
		if v, ok := strings.CutPrefix(t, prefix); ok {
			return v
		}
	}
	return ""
}

// GTID is one MariaDB global transaction id, domain-server-seqno. Only one domain is
// replicated (wsrep_gtid_domain_id), so positions compare by Seq.
type GTID struct {
	Domain, Server uint32
	Seq            uint64
}

func (g GTID) String() string { return fmt.Sprintf("%d-%d-%d", g.Domain, g.Server, g.Seq) }

// ParseGTID reads "domain-server-seqno" (MariaDB's GTID text).
func ParseGTID(text string) (GTID, error) {
	parts := strings.Split(strings.TrimSpace(text), "-")
	if len(parts) == 3 {
		d, e1 := strconv.ParseUint(parts[0], 10, 32)
		s, e2 := strconv.ParseUint(parts[1], 10, 32)
		n, e3 := strconv.ParseUint(parts[2], 10, 64)
		if e1 == nil && e2 == nil && e3 == nil {
			return GTID{Domain: uint32(d), Server: uint32(s), Seq: n}, nil
		}
	}
	return GTID{}, fmt.Errorf("%q is not a GTID (domain-server-seqno)", text)
}

// ParseGTIDList reads a GTID position as MariaDB prints it ("0-1-5", "[0-1-5]" of a
// Gtid_list event, "" or "[]" for none) and gives its GTID in `domain`; ok false when the
// position holds none in that domain.
func ParseGTIDList(text string, domain uint32) (g GTID, ok bool, err error) {
	text = strings.Trim(strings.TrimSpace(text), "[]")
	for _, part := range strings.Split(text, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		one, err := ParseGTID(part)
		if err != nil {
			return GTID{}, false, err
		}
		if one.Domain == domain {
			return one, true, nil
		}
	}
	return GTID{}, false, nil
}

// BinlogFile is one binary log of a node, in the server's order: its name and the position
// at its start (its Gtid_list event: every transaction before the file). Known is false when
// that list holds no GTID of the domain (a log begun before any transaction).
type BinlogFile struct {
	Name  string
	Start GTID
	Known bool
}

// ArchivePlan is what one archive run sends: the closed files that hold every transaction in
// (From, To], and whether they reach back to the previous piece's end (Gap: they do not, e.g.
// the node joined by SST after it, or its logs expired).
type ArchivePlan struct {
	Files    []string
	From, To GTID
	Gap      bool
}

// PlanArchive chooses the files of the next piece. files are the node's binary logs after
// FLUSH BINARY LOGS, oldest first (the last is the one being written, whose start is the end
// of every closed one); last is the previous piece's end in this lineage (archived false:
// none yet). ok is false when there is nothing new to send (no closed file, or nothing after
// last). The closed files are sent from the newest that starts at or before `last`; when
// every file starts after it (or at a start not known), the piece says so (Gap) and starts
// after `last`, so that a restore sees the gap and never replays across it.
func PlanArchive(files []BinlogFile, last GTID, archived bool) (plan ArchivePlan, ok bool) {
	if len(files) < 2 || !files[len(files)-1].Known {
		return ArchivePlan{}, false
	}
	closed, to := files[:len(files)-1], files[len(files)-1].Start
	if archived && to.Seq <= last.Seq {
		return ArchivePlan{}, false
	}
	first := 0
	plan = ArchivePlan{To: to, From: closed[0].Start}
	if !closed[0].Known {
		plan.From = GTID{Domain: to.Domain, Server: to.Server} // the first log: nothing before it
	}
	if archived {
		first, plan.From = -1, last
		for i, f := range closed {
			if f.Known && f.Start.Seq <= last.Seq {
				first = i
			}
		}
		if first < 0 {
			first, plan.Gap = 0, true
			plan.From = closed[0].Start
			if !closed[0].Known || plan.From.Seq <= last.Seq {
				plan.From = GTID{Domain: last.Domain, Server: last.Server, Seq: last.Seq + 1}
			}
		}
	}
	for _, f := range closed[first:] {
		plan.Files = append(plan.Files, f.Name)
	}
	return plan, true
}

// Piece is one archived run of binary logs in the repository.
type Piece struct {
	Snapshot Snapshot
	From, To GTID // the transactions in (From, To]
	Lineage  string
}

// PieceTags are the tags of a piece besides BinlogTag.
func PieceTags(from, to GTID, lineage string) []string {
	return []string{tagFrom + from.String(), tagTo + to.String(), LineageTag(lineage)}
}

// PieceOf reads a piece from its snapshot's tags; an error when they are not a piece's.
func PieceOf(s Snapshot) (Piece, error) {
	from, errFrom := ParseGTID(tagValue(s.Tags, tagFrom))
	to, errTo := ParseGTID(tagValue(s.Tags, tagTo))
	lineage := Lineage(s.Tags)
	if errFrom != nil || errTo != nil || lineage == "" || to.Seq < from.Seq {
		return Piece{}, fmt.Errorf("snapshot %s is not a piece of archived binary logs (tags %s)", s.ID, strings.Join(s.Tags, ","))
	}
	return Piece{Snapshot: s, From: from, To: to, Lineage: lineage}, nil
}

// ReplayStep is one piece to replay and the transactions of it to apply: (After, Through].
type ReplayStep struct {
	Piece          Piece
	After, Through GTID
}

// replayMargin: pieces archived up to this long after the point in time are replayed too
// (and cut by CutAt): a transaction committed just before the point may be in the piece
// after it (its FLUSH came before the commit), and the archiving node's clock may differ.
const replayMargin = 5 * time.Minute

// ReplayPlan chooses what a point-in-time restore replays after a backup at `start` of
// `lineage`, to reach `until`: the pieces of that lineage in GTID order, each from where the
// one before ended, up to the first archived replayMargin or more after `until`; the replay
// cuts each at `until` by the transactions' own times (CutAt), so the pieces' times only
// bound what is fetched. reached is the newest piece's time when even it was archived
// before `until` (the zero time otherwise): transactions after it, if any were written, are
// in no piece. An error names a gap in the GTIDs (a piece that starts after the end of the
// one before), since the transactions between are in no piece.
func ReplayPlan(pieces []Piece, lineage string, start GTID, until time.Time) (steps []ReplayStep, reached time.Time, err error) {
	mine := slices.DeleteFunc(slices.Clone(pieces), func(p Piece) bool { return p.Lineage != lineage })
	slices.SortStableFunc(mine, func(a, b Piece) int {
		if c := compareSeq(a.To.Seq, b.To.Seq); c != 0 {
			return c
		}
		return a.Snapshot.Time.Compare(b.Snapshot.Time)
	})
	applied := start
	for _, p := range mine {
		if p.To.Seq <= applied.Seq {
			continue
		}
		if p.From.Seq > applied.Seq {
			return nil, time.Time{}, fmt.Errorf("the archived binary logs have a gap: nothing holds the transactions after %s up to %s (the piece %s of %s at %s starts there); the latest point this backup reaches is %s",
				applied, p.From, p.Snapshot.ID, p.Snapshot.Node, p.Snapshot.Time.UTC().Format(time.RFC3339), reachedBy(steps))
		}
		steps = append(steps, ReplayStep{Piece: p, After: applied, Through: p.To})
		applied = p.To
		if !p.Snapshot.Time.Before(until.Add(replayMargin)) {
			break
		}
	}
	if len(steps) > 0 && steps[len(steps)-1].Piece.Snapshot.Time.Before(until) {
		reached = steps[len(steps)-1].Piece.Snapshot.Time
	}
	return steps, reached, nil
}

func reachedBy(steps []ReplayStep) string {
	if len(steps) == 0 {
		return "the backup's own time"
	}
	return steps[len(steps)-1].Piece.Snapshot.Time.UTC().Format(time.RFC3339)
}

func compareSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// binlogEventGTID matches the header comment of a GTID event in mariadb-binlog's output, in
// UTC (TZ=UTC): "#261202  5:32:01 server id 1  end_log_pos 427 CRC32 0x56c37f42 \tGTID 0-1-4 trans".
var binlogEventGTID = regexp.MustCompile(`^#(\d{6})\s+(\d{1,2}):(\d{2}):(\d{2})\s+server id \d+\s+end_log_pos \d+.*\bGTID (\d+-\d+-\d+)`)

// CutAt is the last transaction of a decoded binary log (mariadb-binlog's text, TZ=UTC) that
// began before `until`, whole seconds, in the log's order: a binary log's clock has whole
// seconds, so a transaction in the second of `until` is left out, and the replay stops at
// the first transaction at or after it (what is applied is a prefix of the history). ok is
// false when the first began at or after `until`.
func CutAt(decoded string, until time.Time) (last GTID, ok bool, err error) {
	limit := until.UTC().Truncate(time.Second)
	for _, line := range strings.Split(decoded, "\n") {
		m := binlogEventGTID.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		hour, _ := strconv.Atoi(m[2])
		at, err := time.Parse("060102 15:04:05", fmt.Sprintf("%s %02d:%s:%s", m[1], hour, m[3], m[4]))
		if err != nil {
			return GTID{}, false, fmt.Errorf("reading the time of binary log event %q: %w", line, err)
		}
		if !at.Before(limit) {
			break
		}
		if last, err = ParseGTID(m[5]); err != nil {
			return GTID{}, false, err
		}
		ok = true
	}
	return last, ok, nil
}

// pieceKeptBefore: pieces archived up to this long before the oldest kept backup of their
// lineage are kept too, for the clocks of the nodes that took them, which may differ.
const pieceKeptBefore = time.Hour

// ObsoletePieces are the pieces that no restore can use once the retention policy has
// removed the older backups: those archived (more than pieceKeptBefore) before the oldest
// backup of their lineage that is kept began, since every transaction in them came before
// that backup and is in it. A lineage with no backup kept keeps all its pieces (nothing
// says they are not wanted).
func ObsoletePieces(pieces []Piece, backups []Snapshot) []Piece {
	oldest := map[string]time.Time{}
	for _, b := range backups {
		l := Lineage(b.Tags)
		if t, seen := oldest[l]; l != "" && (!seen || b.Time.Before(t)) {
			oldest[l] = b.Time
		}
	}
	var obsolete []Piece
	for _, p := range pieces {
		if t, ok := oldest[p.Lineage]; ok && p.Snapshot.Time.Before(t.Add(-pieceKeptBefore)) {
			obsolete = append(obsolete, p)
		}
	}
	return obsolete
}

// CheckCovers checks that a decoded binary log (mariadb-binlog's text of (after, through])
// holds every transaction of that range: GTIDs after+1, after+2, ... through, with none
// missing. mariadb-binlog skips GTIDs that are not in its files without a word, so a piece
// whose files do not reach back to its claimed start, or have a hole, is caught here and
// never replayed with the hole.
func CheckCovers(decoded string, after, through GTID) error {
	next := after.Seq + 1
	for _, line := range strings.Split(decoded, "\n") {
		m := binlogEventGTID.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		g, err := ParseGTID(m[5])
		if err != nil {
			return err
		}
		if g.Seq != next {
			return fmt.Errorf("the archived binary logs miss transactions: after %d-%d-%d comes %s (they should hold every transaction up to %s)",
				after.Domain, after.Server, next-1, g, through)
		}
		next++
	}
	if next-1 != through.Seq {
		return fmt.Errorf("the archived binary logs miss transactions: they end at %d-%d-%d, not at %s as their piece says", after.Domain, after.Server, next-1, through)
	}
	return nil
}

// OtherLineageSince is a backup or piece of another lineage than `lineage` dated after
// `since` and before `until`, if any: the cluster was started anew (restored, or from
// empty) in between, so the history up to `until` is that other lineage's, not the one of a
// backup taken before `since`.
func OtherLineageSince(pieces []Piece, backups []Snapshot, lineage string, since, until time.Time) (Snapshot, bool) {
	inside := func(t time.Time) bool { return t.After(since) && t.Before(until) }
	for _, b := range backups {
		if l := Lineage(b.Tags); l != "" && l != lineage && inside(b.Time) {
			return b, true
		}
	}
	for _, p := range pieces {
		if p.Lineage != lineage && inside(p.Snapshot.Time) {
			return p.Snapshot, true
		}
	}
	return Snapshot{}, false
}

// backupEnd reads the time mariabackup ended (xtrabackup_info's "end_time = YYYY-MM-DD
// HH:MM:SS", the node's clock, UTC): the backup's position was taken before it, so a backup
// restored to a point in time must have ended before that point.
func backupEnd(info string) (time.Time, error) {
	for _, line := range strings.Split(info, "\n") {
		if name, value, ok := strings.Cut(line, "="); ok && strings.TrimSpace(name) == "end_time" {
			return time.Parse("2006-01-02 15:04:05", strings.TrimSpace(value))
		}
	}
	return time.Time{}, fmt.Errorf("xtrabackup_info has no end_time")
}
