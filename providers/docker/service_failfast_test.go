package docker

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/pkg/stdcopy"
)

// task builds a task of slot that reached state at the minute given (later minutes are newer).
func task(slot int, state swarm.TaskState, minute int, err string) swarm.Task {
	return swarm.Task{Slot: slot, NodeID: "node1", DesiredState: swarm.TaskStateRunning,
		Status: swarm.TaskStatus{State: state, Err: err, Timestamp: time.Date(2026, 1, 1, 0, minute, 0, 0, time.UTC)}}
}

func TestFailingTasksGivesUpOnlyOnCrashLoopsAndMissingImages(t *testing.T) {
	const exit1 = "task: non-zero exit (1)"
	cases := []struct {
		name  string
		tasks []swarm.Task
		want  string // "" = keep waiting
	}{
		{"no tasks yet", nil, ""},
		{"slow healthy start: starting for minutes", []swarm.Task{task(1, swarm.TaskStateStarting, 1, "")}, ""},
		{"starting after three failures (a long state transfer on the fourth try)", []swarm.Task{
			task(1, swarm.TaskStateFailed, 1, exit1), task(1, swarm.TaskStateFailed, 2, exit1),
			task(1, swarm.TaskStateFailed, 3, exit1), task(1, swarm.TaskStateStarting, 4, "")}, ""},
		{"running after three failures", []swarm.Task{
			task(1, swarm.TaskStateFailed, 1, exit1), task(1, swarm.TaskStateFailed, 2, exit1),
			task(1, swarm.TaskStateFailed, 3, exit1), task(1, swarm.TaskStateRunning, 4, "")}, ""},
		{"two failures", []swarm.Task{
			task(1, swarm.TaskStateFailed, 1, exit1), task(1, swarm.TaskStateFailed, 2, exit1),
			task(1, swarm.TaskStateReady, 3, "")}, ""},
		{"three failures, next task waiting out the restart delay", []swarm.Task{
			task(1, swarm.TaskStateFailed, 1, exit1), task(1, swarm.TaskStateFailed, 2, exit1),
			task(1, swarm.TaskStateFailed, 3, exit1), task(1, swarm.TaskStateReady, 4, "")},
			"slot 1: 3 tasks failed: task: non-zero exit (1)"},
		{"three failures, no restart", []swarm.Task{
			task(2, swarm.TaskStateFailed, 3, exit1), task(2, swarm.TaskStateFailed, 1, exit1),
			task(2, swarm.TaskStateFailed, 2, exit1)},
			"slot 2: 3 tasks failed: task: non-zero exit (1)"},
		{"three failures with different exits", []swarm.Task{
			task(1, swarm.TaskStateFailed, 1, exit1), task(1, swarm.TaskStateFailed, 2, "task: non-zero exit (2)"),
			task(1, swarm.TaskStateFailed, 3, exit1), task(1, swarm.TaskStateReady, 4, "")}, ""},
		{"failures spread over slots", []swarm.Task{
			task(1, swarm.TaskStateFailed, 1, exit1), task(2, swarm.TaskStateFailed, 2, exit1),
			task(3, swarm.TaskStateFailed, 3, exit1)}, ""},
		{"missing image: at once", []swarm.Task{task(1, swarm.TaskStateRejected, 1, "No such image: app:nope")},
			"slot 1: rejected: No such image: app:nope"},
		{"unknown manifest: at once", []swarm.Task{task(1, swarm.TaskStateRejected, 1, "manifest unknown: manifest unknown")},
			"slot 1: rejected: manifest unknown: manifest unknown"},
		{"no suitable node yet: pending is a reason to wait", []swarm.Task{
			task(1, swarm.TaskStatePending, 1, "no suitable node (scheduling constraints not satisfied on 1 node)")}, ""},
		{"rejected three times alike", []swarm.Task{
			task(1, swarm.TaskStateRejected, 1, "invalid mount config"), task(1, swarm.TaskStateRejected, 2, "invalid mount config"),
			task(1, swarm.TaskStateRejected, 3, "invalid mount config"), task(1, swarm.TaskStateNew, 4, "")},
			"slot 1: 3 tasks failed: invalid mount config"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := failingTasks(c.tasks); got != c.want {
				t.Errorf("failingTasks = %q, want %q", got, c.want)
			}
		})
	}
}

func TestServiceLogLinesAreDemuxedAndCutToTheTail(t *testing.T) {
	var stream bytes.Buffer
	stdout := stdcopy.NewStdWriter(&stream, stdcopy.Stdout)
	stderr := stdcopy.NewStdWriter(&stream, stdcopy.Stderr)
	_, _ = stdout.Write([]byte("starting\n"))
	_, _ = stderr.Write([]byte("CLUSTER_NAME=my cluster may hold only letters, digits and -\n"))
	_, _ = stdout.Write([]byte("bye\n"))
	got := demuxedLines(&stream, 2)
	want := "CLUSTER_NAME=my cluster may hold only letters, digits and -\nbye"
	if got != want {
		t.Errorf("demuxedLines = %q, want %q", got, want)
	}
	if got := demuxedLines(strings.NewReader(""), 2); got != "" {
		t.Errorf("empty stream gave %q", got)
	}
}
