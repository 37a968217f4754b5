package main

import (
	"strings"
	"testing"
	"time"

	"github.com/galera-swarm/galera-swarm/agent/backup"
	"github.com/galera-swarm/galera-swarm/agent/runner"
)

func TestElect(t *testing.T) {
	in := "node-c U 7\nnode-a U 5\nnode-b U 7\nnode-d OTHER 9\nnode-e 00000000-0000-0000-0000-000000000000 -1\n"
	if got, err := elect(strings.NewReader(in), "U"); got != "node-b" || err != nil {
		t.Errorf("elect = %q, %v; want node-b", got, err)
	}
	if _, err := elect(strings.NewReader("node-a U\n"), ""); err == nil || !strings.Contains(err.Error(), "want <name> <uuid> <seqno>") {
		t.Errorf("short line: %v", err)
	}
	if _, err := elect(strings.NewReader("node-a U x\n"), ""); err == nil {
		t.Error("bad seqno: no error")
	}
}

func TestThePITRLinesSayHowFarARestoreReaches(t *testing.T) {
	bs := backup.Settings{Repository: "/r", PITRInterval: time.Minute}
	finished := time.Date(2026, 12, 2, 6, 0, 30, 0, time.UTC)
	piece := &runner.JobReport{Node: "g2", Snapshot: "0123456789abcdef", Position: "0-1-62", Seconds: 30, Finished: finished}
	cases := []struct {
		rep  *runner.JobReport
		want string
	}{
		{nil, "binary logs archived every 1m0s; none archived yet"},
		{piece, "binary logs archived every 1m0s; newest point in time 2026-12-02T06:00:00Z (piece 01234567 of g2, up to GTID 0-1-62)"},
		{&runner.JobReport{Node: "g3", Seconds: 1, Finished: finished}, "binary logs archived every 1m0s; newest point in time 2026-12-02T06:00:29Z (g3 had nothing new)"},
		{&runner.JobReport{Node: "g3", Error: "the repository /r is unreachable", Finished: finished},
			"binary logs archived every 1m0s; the last archive FAILED at 2026-12-02T06:00:30Z on g3: the repository /r is unreachable"},
	}
	for _, c := range cases {
		if got := pitrLine(bs, c.rep); got != c.want {
			t.Errorf("pitrLine = %q\nwant        %q", got, c.want)
		}
	}
	if got := archivedLine(*piece); got != "binary logs archived by g2: piece 01234567, up to GTID 0-1-62, in 30 s" {
		t.Errorf("archivedLine = %q", got)
	}
	if got := archivedLine(runner.JobReport{Node: "g1"}); got != "binary logs archived by g1: nothing new since the last piece" {
		t.Errorf("archivedLine = %q", got)
	}
}
