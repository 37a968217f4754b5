package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// TableCheck is one table of a restore drill: CHECK TABLE's verdict and CHECKSUM TABLE's value.
type TableCheck struct {
	Name     string `json:"name"`               // `schema.table`, as the server names it
	Checksum string `json:"checksum,omitempty"` // CHECKSUM TABLE (NULL: the table is gone)
	Problem  string `json:"problem,omitempty"`  // CHECK TABLE's message when it is not OK
}

// DrillResult is one restore drill: the snapshot, every table's check, how long it took.
type DrillResult struct {
	Snapshot Snapshot
	Tables   []TableCheck
	Duration time.Duration
}

// Digest is a short digest of every table's CHECKSUM TABLE value (SHA-256 of the "name
// checksum" lines in name order, 16 hex digits), the tables the server itself writes to left
// out (notDigested): two drills of one snapshot give the same digest, so a change shows
// damage that CHECK TABLE may not see.
func (d DrillResult) Digest() string {
	lines := make([]string, 0, len(d.Tables))
	for _, t := range d.Tables {
		if !slices.Contains(notDigested, t.Name) {
			lines = append(lines, t.Name+" "+t.Checksum+"\n")
		}
	}
	slices.Sort(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "")))
	return hex.EncodeToString(sum[:8])
}

// Failed are the tables whose check was not OK.
func (d DrillResult) Failed() []TableCheck {
	var bad []TableCheck
	for _, t := range d.Tables {
		if t.Problem != "" {
			bad = append(bad, t)
		}
	}
	return bad
}

// notDigested: tables the drill's own server may write to (InnoDB's persistent statistics,
// the log tables), so their checksums differ from drill to drill.
// (Named as CHECK TABLE and CHECKSUM TABLE print them.)
var notDigested = []string{"mysql.innodb_index_stats", "mysql.innodb_table_stats", "mysql.general_log", "mysql.slow_log"}

// drillTables: the tables a drill checks (system schemas that hold no rows of ours left out).
const drillTables = "SELECT CONCAT('`', REPLACE(table_schema, '`', '``'), '`.`', REPLACE(table_name, '`', '``'), '`') " +
	"FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN " +
	"('information_schema', 'performance_schema', 'sys') ORDER BY table_schema, table_name"

// Drill restores snapshot `snapshot` ("latest" or an id) into a throwaway data directory
// (under the temporary directory, removed afterwards), starts a private mariadbd on it
// (--no-defaults: no wsrep, no network, its own socket), runs CHECK TABLE and CHECKSUM TABLE
// on every table, and stops it. An error when the snapshot does not restore (restic, mbstream
// or mariabackup --prepare fail: a damaged repository shows here) or the server does not
// start; tables that fail CHECK TABLE are in the result (DrillResult.Failed), not an error.
func (s Settings) Drill(ctx context.Context, p Programs, snapshot string) (DrillResult, error) {
	started := time.Now()
	dir, err := os.MkdirTemp("", "restore-drill-")
	if err != nil {
		return DrillResult{}, fmt.Errorf("making the drill's directory: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o711); err != nil { // mariadbd runs as DataOwner
		return DrillResult{}, fmt.Errorf("opening the drill's directory: %w", err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return DrillResult{}, fmt.Errorf("making the drill's data directory: %w", err)
	}
	restored, err := s.Restore(ctx, p, snapshot, data, time.Time{})
	if err != nil {
		return DrillResult{}, err
	}
	server, err := startPrivateServer(ctx, p, data, dir)
	if err != nil {
		return DrillResult{}, fmt.Errorf("snapshot %s: %w", restored.Snapshot.ID, err)
	}
	defer server.stop()
	client := server.sql
	names, err := client(drillTables)
	if err != nil {
		return DrillResult{}, fmt.Errorf("listing the tables of snapshot %s: %w", restored.Snapshot.ID, err)
	}
	var script strings.Builder
	for _, name := range strings.Split(strings.TrimSpace(names), "\n") {
		if name == "" {
			continue
		}
		fmt.Fprintf(&script, "CHECK TABLE %s; CHECKSUM TABLE %s;\n", name, name)
	}
	out, err := client(script.String())
	if err != nil {
		return DrillResult{}, fmt.Errorf("checking the tables of snapshot %s: %w", restored.Snapshot.ID, err)
	}
	return DrillResult{Snapshot: restored.Snapshot, Tables: ParseTableChecks(out), Duration: time.Since(started)}, nil
}

// ParseTableChecks reads the tab-separated output of CHECK TABLE and CHECKSUM TABLE statements
// (mariadb -N -B): CHECK TABLE's rows are "table, check, Msg_type, Msg_text" (the table is OK
// when its last row is "status OK"; "note" rows, e.g. of tables without CHECK support, are
// passed over), CHECKSUM TABLE's are "table, checksum". Tables in the order first seen.
func ParseTableChecks(out string) []TableCheck {
	var order []string
	byName := map[string]*TableCheck{}
	get := func(name string) *TableCheck {
		if t, ok := byName[name]; ok {
			return t
		}
		byName[name] = &TableCheck{Name: name}
		order = append(order, name)
		return byName[name]
	}
	for _, line := range strings.Split(out, "\n") {
		cols := strings.Split(line, "\t")
		switch {
		case len(cols) == 4 && cols[1] == "check":
			t := get(cols[0])
			switch {
			case cols[2] == "status" && cols[3] == "OK":
				t.Problem = ""
			case cols[2] == "error" || cols[2] == "warning" || cols[2] == "status":
				if t.Problem != "" {
					t.Problem += "; "
				}
				t.Problem += cols[2] + ": " + cols[3]
			}
		case len(cols) == 2:
			get(cols[0]).Checksum = cols[1]
		}
	}
	checks := make([]TableCheck, 0, len(order))
	for _, name := range order {
		checks = append(checks, *byName[name])
	}
	return checks
}
