package main

import (
	"strings"
	"testing"
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
