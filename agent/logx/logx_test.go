package logx

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestLineFormat(t *testing.T) {
	var out bytes.Buffer
	l := &Logger{Tag: "galera-entrypoint", Out: &out, Now: func() time.Time { return time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC) }}
	l.Note("decide", "decision: %s", "join")
	l.Warn("monitor", "w")
	l.Error("require_setting", "X is not set")
	want := "2026-01-02T15:04:05Z [galera-entrypoint] [NOTE] [decide] decision: join\n" +
		"2026-01-02T15:04:05Z [galera-entrypoint] [WARN] [monitor] w\n" +
		"2026-01-02T15:04:05Z [galera-entrypoint] [ERROR] [require_setting] X is not set\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	var se *StepError
	if err := Fail("wait_for_etcd", "etcd %s", "down"); !errors.As(err, &se) || se.Step != "wait_for_etcd" || err.Error() != "etcd down" {
		t.Errorf("Fail gave %#v", err)
	}
}
