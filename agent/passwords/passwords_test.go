package passwords

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/galera-swarm/galera-swarm/agent/credentials"
	"github.com/galera-swarm/galera-swarm/agent/logx"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args []string
		want Args
		err  string
	}{
		{[]string{"await-accepted"}, Args{Step: "await-accepted", Host: "127.0.0.1", Timeout: 600 * time.Second}, ""},
		{[]string{"discard-old", "--host", "tasks.g", "--timeout", "0"}, Args{Step: "discard-old", Host: "tasks.g"}, ""},
		{nil, Args{}, Usage},
		{[]string{"rotate"}, Args{}, Usage},
		{[]string{"discard-old", "--host"}, Args{}, "--host needs a value; " + Usage},
		{[]string{"discard-old", "-x"}, Args{}, "unknown argument '-x'; " + Usage},
		{[]string{"discard-old", "--timeout", "1m"}, Args{}, "--timeout 1m: give a whole number of seconds"},
	}
	for _, tt := range tests {
		got, err := ParseArgs(tt.args)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseArgs(%q): error %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseArgs(%q) = %+v, %v; want %+v", tt.args, got, err, tt.want)
		}
	}
}

func TestReadAccounts(t *testing.T) {
	acc, err := ReadAccounts(strings.NewReader("r'1\nw p\n"), "wp", "wordpress")
	if err != nil || acc != (credentials.Accounts{RootPassword: "r'1", User: "wp", Password: "w p", Database: "wordpress"}) {
		t.Errorf("got %+v, %v", acc, err)
	}
	for _, tt := range []struct{ in, user, db, err string }{
		{"", "", "", "no root password on stdin (line 1: root, line 2: MYSQL_USER)"},
		{"r\n", "wp", "", "no password for MYSQL_USER=wp on line 2 of stdin"},
		{"r\n", "", "a`b", "MYSQL_DATABASE=a`b may hold only letters, digits, '_', '$' and '-'"},
	} {
		if _, err := ReadAccounts(strings.NewReader(tt.in), tt.user, tt.db); err == nil || err.Error() != tt.err {
			t.Errorf("ReadAccounts(%q, %q, %q): %v, want %q", tt.in, tt.user, tt.db, err, tt.err)
		}
	}
}

func TestDiscardOldWaitsForTheNewPasswordsThenDiscards(t *testing.T) {
	var out bytes.Buffer
	var calls []string
	refusals := 2
	login := func(host, user, password, sql string) error {
		calls = append(calls, user+" "+strings.SplitN(sql, "\n", 2)[0])
		if user == "wp" && refusals > 0 {
			refusals--
			return errors.New("ERROR 1045 (28000): Access denied for user 'wp'")
		}
		return nil
	}
	acc := credentials.Accounts{RootPassword: "r", User: "wp", Password: "w"}
	rc := Run(Args{Step: "discard-old", Host: "h", Timeout: time.Hour}, acc, &logx.Logger{Tag: "galera-passwords", Out: &out}, login, func(time.Duration) {})
	if rc != 0 {
		t.Fatalf("rc %d:\n%s", rc, out.String())
	}
	if last := calls[len(calls)-1]; !strings.HasPrefix(last, "root SET SESSION sql_mode") {
		t.Errorf("last call %q, want the discard SQL as root", last)
	}
	if !strings.Contains(out.String(), "the new passwords are accepted on h") || !strings.Contains(out.String(), "old passwords discarded") {
		t.Errorf("log:\n%s", out.String())
	}
}

func TestAwaitAcceptedTimesOutNamingTheLastError(t *testing.T) {
	var out bytes.Buffer
	login := func(string, string, string, string) error { return errors.New("ERROR 2002 (HY000): Can't connect") }
	rc := Run(Args{Step: "await-accepted", Host: "h"}, credentials.Accounts{RootPassword: "r"}, &logx.Logger{Tag: "galera-passwords", Out: &out}, login, func(time.Duration) {})
	if rc != 1 || !strings.Contains(out.String(), "[ERROR] [await_accepted] the new passwords were not accepted on h within 0 s (last: ERROR 2002 (HY000): Can't connect)") {
		t.Errorf("rc %d, log:\n%s", rc, out.String())
	}
}
