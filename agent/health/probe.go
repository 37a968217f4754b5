package health

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/galera-swarm/galera-swarm/agent/wsrep"
)

// Paths the runner writes (runner.DrainFlag, runner.StateFile), and the work directory that
// exists while a backup is restored (backup.RestoreWorkDir in the data directory).
type Paths struct {
	DrainFlag, StateFile, RestoreDir string
}

// Probe gathers the facts of this container: the drain flag, the server's status over the
// local socket, the runner's state file, the processes and the uptime of PID 1.
func Probe(p Paths) Facts {
	var f Facts
	_, err := os.Stat(p.DrainFlag)
	f.Draining = err == nil
	if st, ok := wsrep.Read(); ok {
		f.Status = &st
		return f
	}
	if data, err := os.ReadFile(p.StateFile); err == nil {
		f.RunnerState = strings.TrimSpace(string(data))
	}
	f.MariadbdRunning = exec.Command("pgrep", "-x", "mariadbd").Run() == nil
	f.SSTReceiving = exec.Command("pgrep", "-f", "wsrep_sst_mariabackup.*--role joiner").Run() == nil
	if p.RestoreDir != "" {
		_, err := os.Stat(p.RestoreDir)
		f.Restoring = err == nil
	}
	f.Uptime = uptimeOfPID1()
	return f
}

// uptimeOfPID1: how long the container runs (the elapsed time of PID 1, as ps gives it).
func uptimeOfPID1() time.Duration {
	out, err := exec.Command("ps", "-o", "etimes=", "-p", "1").Output()
	if err != nil {
		return 0
	}
	secs, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return 0
	}
	return time.Duration(secs) * time.Second
}

// Handler answers every HTTP request with the verdict: 200 or 503, the message as the body.
func Handler(p Paths, o Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		healthy, msg := Verdict(Probe(p), o)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Connection", "close")
		if !healthy {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintf(w, "%s\r\n", msg)
	})
}

// AnswerOne reads one HTTP request's head from in and writes the answer to out, for a server
// that runs the check per connection (socat EXEC, inetd).
func AnswerOne(in io.Reader, out io.Writer, healthy bool, msg string) {
	r := bufio.NewReader(in)
	for {
		line, err := r.ReadString('\n')
		if err != nil || strings.TrimRight(line, "\r\n") == "" {
			break
		}
	}
	status := "503 Service Unavailable"
	if healthy {
		status = "200 OK"
	}
	body := msg + "\r\n"
	fmt.Fprintf(out, "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", status, len(body), body)
}
