package health

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/galera-swarm/galera-swarm/agent/wsrep"
)

func st(local, cluster, comment string) *wsrep.Status {
	return &wsrep.Status{LocalState: local, ClusterStatus: cluster, Comment: comment}
}

func TestVerdict(t *testing.T) {
	check := Options{DonorOK: true, TransferOK: true, TransferOKAfter: 300 * time.Second}
	tests := []struct {
		name    string
		facts   Facts
		opts    Options
		healthy bool
		message string
	}{
		{"synced", Facts{Status: st("4", "Primary", "Synced")}, Options{}, true,
			"Galera node is Synced (wsrep_local_state=4, wsrep_cluster_status=Primary)"},
		{"draining wins over synced", Facts{Draining: true, Status: st("4", "Primary", "Synced")}, check, false,
			"Galera node is shutting down (draining connections)"},
		{"donor without donor-ok", Facts{Status: st("2", "Primary", "Donor/Desynced")}, Options{}, false,
			"Galera node is not synced: Donor/Desynced (wsrep_local_state=2, wsrep_cluster_status=Primary)"},
		{"donor with donor-ok", Facts{Status: st("2", "Primary", "Donor/Desynced")}, Options{DonorOK: true}, true,
			"Galera node is Donor/Desynced (wsrep_local_state=2, wsrep_cluster_status=Primary)"},
		{"non-Primary", Facts{Status: st("4", "non-Primary", "Synced")}, check, false,
			"Galera node is not synced: Synced (wsrep_local_state=4, wsrep_cluster_status=non-Primary)"},
		{"joiner for HAProxy", Facts{Status: st("1", "Primary", "Joining")}, Options{DonorOK: true}, false,
			"Galera node is not synced: Joining"},
		{"young joiner for the container check", Facts{Status: st("3", "Primary", "Joined"), Uptime: 20 * time.Second}, check, false,
			"Galera node is Joined (wsrep_local_state=3, wsrep_cluster_status=Primary); healthy once Synced, or in the transfer after 300s of uptime (now 20s)"},
		{"old joiner for the container check", Facts{Status: st("1", "Primary", "Joining"), Uptime: 400 * time.Second}, check, true,
			"Galera node is Joining (wsrep_local_state=1, wsrep_cluster_status=Primary)"},
		{"joiner, no start period", Facts{Status: st("1", "Primary", "Joining")}, Options{DonorOK: true, TransferOK: true}, true, "Galera node is Joining"},
		{"not running", Facts{}, check, false, "Galera node is not running (mariadbd does not answer)"},
		{"restoring a backup, old", Facts{RunnerState: "bootstrapping", Restoring: true, Uptime: 400 * time.Second}, check, true,
			"Galera node is restoring a backup (RESTORE_SNAPSHOT; mariadbd starts once it is prepared)"},
		{"restoring a backup, young", Facts{RunnerState: "bootstrapping", Restoring: true, Uptime: 20 * time.Second}, check, false,
			"Galera node is restoring a backup (RESTORE_SNAPSHOT; mariadbd starts once it is prepared); healthy once Synced"},
		{"restoring, for HAProxy", Facts{Restoring: true}, Options{DonorOK: true}, false, "Galera node is not running"},
		{"receiving an SST, old", Facts{RunnerState: "joining", MariadbdRunning: true, SSTReceiving: true, Uptime: 301 * time.Second}, check, true,
			"Galera node is receiving a state transfer (SST running; mariadbd does not answer yet)"},
		{"bootstrapping, young", Facts{RunnerState: "bootstrapping", MariadbdRunning: true, Uptime: 5 * time.Second}, check, false,
			"Galera node is bootstrapping (mariadbd runs and does not answer yet); healthy once Synced"},
		{"joining without mariadbd", Facts{RunnerState: "joining", Uptime: 400 * time.Second}, check, false,
			"Galera node is not running (mariadbd does not answer)"},
		{"waiting is no transfer", Facts{RunnerState: "waiting", MariadbdRunning: true, Uptime: 400 * time.Second}, check, false,
			"Galera node is not running"},
		{"transfer for HAProxy", Facts{RunnerState: "joining", MariadbdRunning: true}, Options{}, false,
			"Galera node is not running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			healthy, msg := Verdict(tt.facts, tt.opts)
			if healthy != tt.healthy || !strings.HasPrefix(msg, tt.message) {
				t.Errorf("Verdict = %v, %q; want %v, %q", healthy, msg, tt.healthy, tt.message)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args  []string
		donor string
		http  bool
		opts  Options
		err   string
	}{
		{nil, "", false, Options{}, ""},
		{nil, "1", false, Options{DonorOK: true}, ""},
		{[]string{"--check", "--donor-ok", "--transfer-ok-after", "300"}, "", false, Options{DonorOK: true, TransferOK: true, TransferOKAfter: 300 * time.Second}, ""},
		{[]string{"--http", "--donor-ok"}, "", true, Options{DonorOK: true}, ""},
		{[]string{"--transfer-ok-after"}, "", false, Options{}, "--transfer-ok-after needs a whole number of seconds"},
		{[]string{"--transfer-ok-after", "07"}, "", false, Options{}, "--transfer-ok-after needs a whole number of seconds"},
		{[]string{"--nope"}, "", false, Options{}, "unknown argument '--nope'"},
	}
	for _, tt := range tests {
		http, opts, err := ParseArgs(tt.args, tt.donor)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseArgs(%q): error %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil || http != tt.http || opts != tt.opts {
			t.Errorf("ParseArgs(%q) = %v, %+v, %v; want %v, %+v", tt.args, http, opts, err, tt.http, tt.opts)
		}
	}
}

func TestAnswerOne(t *testing.T) {
	var out bytes.Buffer
	AnswerOne(strings.NewReader("GET / HTTP/1.0\r\nHost: x\r\n\r\n"), &out, false, "Galera node is not running (mariadbd does not answer)")
	want := "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 55\r\n\r\nGalera node is not running (mariadbd does not answer)\r\n"
	if out.String() != want {
		t.Errorf("got %q\nwant %q", out.String(), want)
	}
}
