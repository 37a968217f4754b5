package docker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// Fail fast (providers/CONTRACT.md#docker-converge): a converge wait that can only end in
// its timeout stops early, with swarm's error and the tasks' last log lines. The decision is
// failingTasks, a pure function over the service's task list; the effects (listing tasks,
// reading logs, removing the service) stay in waitConverged.

// failureLimit is how many tasks of one slot must have failed with the same error before
// the slot counts as crash-looping (swarm restarts a failed task after the restart delay,
// 5 s by default, so three failures take about 15 to 30 s).
const failureLimit = 3

// logTailLines is how many of the service's last log lines a fail-fast error quotes.
const logTailLines = 20

// logReadTimeout bounds reading those lines (a node that does not answer must not hold up
// the error).
const logReadTimeout = 10 * time.Second

// imageMissing are the task errors that no wait can cure: the image (tag) does not exist
// on the node and cannot be pulled (moby's "No such image", registries' "manifest unknown").
var imageMissing = []string{"No such image", "manifest unknown"}

// failingTasks decides, from a service's tasks (any order), whether the converge wait should
// give up: it returns "" to keep waiting, else the reason, quoting swarm's errors. It gives
// up when a task was rejected because its image is missing, or when failureLimit tasks of
// one slot failed (or were rejected) with the same error while the slot's newest task has
// not reached `starting`/`running`. A slot whose newest task is starting or running (a slow
// start, e.g. a long state transfer with health `starting`) is never given up on.
func failingTasks(tasks []swarm.Task) string {
	slots := map[string][]swarm.Task{}
	for _, t := range tasks {
		if t.Status.State == swarm.TaskStateRejected && containsAny(t.Status.Err, imageMissing) {
			return fmt.Sprintf("%s: rejected: %s", slotName(t), t.Status.Err)
		}
		slots[slotName(t)] = append(slots[slotName(t)], t)
	}
	var reasons []string
	for slot, history := range slots {
		sort.Slice(history, func(i, j int) bool { return taskTime(history[i]).After(taskTime(history[j])) })
		if newest := history[0].Status.State; newest == swarm.TaskStateStarting || newest == swarm.TaskStateRunning {
			continue
		}
		counts := map[string]int{}
		for _, t := range history {
			if t.Status.State == swarm.TaskStateFailed || t.Status.State == swarm.TaskStateRejected {
				counts[t.Status.Err]++
			}
		}
		for why, n := range counts {
			if n >= failureLimit {
				reasons = append(reasons, fmt.Sprintf("%s: %d tasks failed: %s", slot, n, why))
			}
		}
	}
	sort.Strings(reasons)
	return strings.Join(reasons, "; ")
}

// taskTime orders a slot's tasks: when swarm created the task (a restarted task is created
// after its predecessor failed), else when it reached its state.
func taskTime(t swarm.Task) time.Time {
	if !t.CreatedAt.IsZero() {
		return t.CreatedAt
	}
	return t.Status.Timestamp
}

// slotName names a task's slot in messages ("slot 2"); tasks of global services have no
// slot and are named by node.
func slotName(t swarm.Task) string {
	if t.Slot == 0 {
		return "node " + t.NodeID
	}
	return "slot " + strconv.Itoa(t.Slot)
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// serviceLogTail gives the last n lines the service's tasks wrote (stdout and stderr, as the
// service logs API sends them), for an error message; "" when there are none or they
// cannot be read within logReadTimeout (the error is still worth returning without them).
func serviceLogTail(ctx context.Context, api client.APIClient, serviceID string, n int) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), logReadTimeout)
	defer cancel()
	stream, err := api.ServiceLogs(ctx, serviceID, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(n)})
	if err != nil {
		return ""
	}
	defer stream.Close()
	return demuxedLines(stream, n)
}

// demuxedLines reads a stdcopy-multiplexed log stream (8-byte frame headers, as Docker sends
// logs of containers without a TTY) and gives its last n lines, joined by newlines.
func demuxedLines(stream io.Reader, n int) string {
	var out bytes.Buffer
	_, _ = stdcopy.StdCopy(&out, &out, io.LimitReader(stream, 1<<20))
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
