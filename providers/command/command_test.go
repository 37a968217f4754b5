package command

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blang/semver"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	presource "github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"github.com/galera-swarm/galera-swarm/providers/internal/keepalive"
	"github.com/galera-swarm/galera-swarm/providers/internal/schema"
	"github.com/galera-swarm/galera-swarm/providers/internal/sshtest"
)

// fastBackoff keeps dial retries in tests to milliseconds.
var fastBackoff = Backoff{First: time.Millisecond, Factor: 1.5, Max: 5 * time.Millisecond}

// logRecorder collects the messages the provider logs (the test server has no engine
// log sink, so pulumi-go-provider falls back to slog).
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, rec.Message)
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// Lines returns the messages logged so far.
func (r *logRecorder) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines)
}

// captureLogs routes provider logs to a recorder until the test ends.
func captureLogs(t *testing.T) *logRecorder {
	t.Helper()
	r := &logRecorder{}
	old := slog.Default()
	slog.SetDefault(slog.New(r))
	t.Cleanup(func() { slog.SetDefault(old) })
	return r
}

// newServer serves the provider (with fast dial retries) as the engine would see it.
func newServer(t *testing.T) integration.Server {
	t.Helper()
	return newServerWith(t, Remote{Backoff: &fastBackoff})
}

// newServerWith serves the provider with the given remote controller.
func newServerWith(t *testing.T, remote Remote) integration.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := integration.NewServer(ctx, Name, semver.MustParse("1.2.1"),
		integration.WithProvider(newProvider(remote, Local{})))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func remoteURN(name string) presource.URN {
	return presource.NewURN("dev", "test", "", "command:remote:Command", name)
}

func localURN(name string) presource.URN {
	return presource.NewURN("dev", "test", "", "command:local:Command", name)
}

// m builds a property map from Go values.
func m(values map[string]any) property.Map {
	out := map[string]property.Value{}
	for k, v := range values {
		out[k] = val(v)
	}
	return property.NewMap(out)
}

// val converts a Go value (property.Value passes through) to a property.Value.
func val(v any) property.Value {
	switch v := v.(type) {
	case property.Value:
		return v
	case map[string]any:
		return property.New(m(v))
	case []any:
		arr := make([]property.Value, len(v))
		for i, e := range v {
			arr[i] = val(e)
		}
		return property.New(arr)
	case int:
		return property.New(float64(v))
	}
	pv, err := property.Any(v)
	if err != nil {
		panic(err)
	}
	return pv
}

// secret marks v secret, as the SDK sends `connection` and secret stdin.
func secret(v any) property.Value { return val(v).WithSecret(true) }

// startSSHServer starts the shared test SSH server accepting the listed environment
// variable names; it stops when the test ends.
func startSSHServer(t *testing.T, acceptEnv ...string) *sshtest.Server {
	t.Helper()
	return sshtest.Start(t, sshtest.Options{AcceptEnv: acceptEnv})
}

// endpoint returns host and port of s for connection inputs (the port as a double).
func endpoint(s *sshtest.Server) (string, float64) { return s.Host, float64(s.Port) }

// conn is the secret connection input for server s, as ConnectionArgs sends it
// (numbers as doubles).
func conn(s *sshtest.Server, extra map[string]any) property.Value {
	host, port := endpoint(s)
	c := map[string]any{"host": host, "port": port, "user": "test", "privateKey": s.ClientKey,
		"dialErrorLimit": 2.0, "perDialTimeout": 5.0}
	for k, v := range extra {
		c[k] = v
	}
	return secret(c)
}

// check runs Check and fails the test on check failures.
func check(t *testing.T, s integration.Server, urn presource.URN, inputs property.Map) property.Map {
	t.Helper()
	resp, err := s.Check(p.CheckRequest{Urn: urn, Inputs: inputs})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if len(resp.Failures) > 0 {
		t.Fatalf("Check failures: %+v", resp.Failures)
	}
	return resp.Inputs
}

// str returns the string at key of state, looking through secrets.
func str(t *testing.T, state property.Map, key string) string {
	t.Helper()
	v := state.Get(key)
	if !v.IsString() {
		t.Fatalf("%s is not a string: %v", key, v)
	}
	return v.AsString()
}

func TestCheckAppliesConnectionAndCommonDefaults(t *testing.T) {
	s := newServer(t)
	got := check(t, s, remoteURN("c"), m(map[string]any{
		"connection": secret(map[string]any{"host": "10.0.0.1"}),
		"create":     "true",
	}))
	c := got.Get("connection")
	if !c.Secret() {
		t.Errorf("connection not secret after Check: %v", c)
	}
	want := map[string]any{"host": "10.0.0.1", "user": "root", "port": 22.0, "dialErrorLimit": 10.0, "perDialTimeout": 15.0}
	for k, w := range want {
		v := c.AsMap().Get(k)
		if v.IsString() && v.AsString() != w || v.IsNumber() && v.AsNumber() != w || v.IsNull() {
			t.Errorf("connection.%s = %v, want %v", k, v, w)
		}
	}
	if v := got.Get("addPreviousOutputInEnv"); !v.IsBool() || !v.AsBool() {
		t.Errorf("addPreviousOutputInEnv = %v, want true", v)
	}
	if v := got.Get("logging"); !v.IsString() || v.AsString() != LogStdoutAndStderr {
		t.Errorf("logging = %v, want stdoutAndStderr", v)
	}
}

func TestCheckKeepsGivenNumbersAsDoubles(t *testing.T) {
	s := newServer(t)
	got := check(t, s, remoteURN("c"), m(map[string]any{
		"connection": secret(map[string]any{"host": "h", "port": 2222.0, "dialErrorLimit": 30.0, "perDialTimeout": 10.0}),
		"triggers":   []any{"t1", 2.0, map[string]any{"k": "v"}},
	}))
	c := got.Get("connection").AsMap()
	for k, w := range map[string]float64{"port": 2222, "dialErrorLimit": 30, "perDialTimeout": 10} {
		if v := c.Get(k); !v.IsNumber() || v.AsNumber() != w {
			t.Errorf("connection.%s = %v, want %v", k, v, w)
		}
	}
	if tr := got.Get("triggers"); !tr.IsArray() || tr.AsArray().Len() != 3 || tr.AsArray().Get(1).AsNumber() != 2 {
		t.Errorf("triggers = %v", tr)
	}
}

func TestCheckFailsOnUnsupportedAndInvalidInputs(t *testing.T) {
	tests := []struct {
		name     string
		urn      presource.URN
		inputs   map[string]any
		property string
		reason   string
	}{
		{"proxy", remoteURN("r"), map[string]any{"connection": secret(map[string]any{"host": "h", "proxy": map[string]any{"host": "b"}})},
			"connection.proxy", schema.UnsupportedMarker(Name)},
		{"unknown top-level key", remoteURN("r"), map[string]any{"connection": secret(map[string]any{"host": "h"}), "bogus": "x"},
			"bogus", schema.UnsupportedMarker(Name)},
		{"assetPaths", localURN("l"), map[string]any{"create": "true", "assetPaths": []any{"*.txt"}},
			"assetPaths", schema.UnsupportedMarker(Name)},
		{"archivePaths", localURN("l"), map[string]any{"archivePaths": []any{"*"}},
			"archivePaths", schema.UnsupportedMarker(Name)},
		{"logging value", remoteURN("r"), map[string]any{"connection": secret(map[string]any{"host": "h"}), "logging": "all"},
			"logging", `"all" is not one of`},
		{"port", remoteURN("r"), map[string]any{"connection": secret(map[string]any{"host": "h", "port": 70000.0})},
			"connection.port", "not a port number"},
		{"empty host", remoteURN("r"), map[string]any{"connection": secret(map[string]any{"host": ""})},
			"connection.host", "must not be empty"},
		{"hostKey", remoteURN("r"), map[string]any{"connection": secret(map[string]any{"host": "h", "hostKey": "nonsense"})},
			"connection.hostKey", "not an authorized_keys line"},
		{"dialErrorLimit", remoteURN("r"), map[string]any{"connection": secret(map[string]any{"host": "h", "dialErrorLimit": -2.0})},
			"connection.dialErrorLimit", "below -1"},
		{"missing host", remoteURN("r"), map[string]any{"connection": secret(map[string]any{"user": "u"})},
			"connection", "Missing required field 'host'"},
	}
	s := newServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := s.Check(p.CheckRequest{Urn: tt.urn, Inputs: m(tt.inputs)})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range resp.Failures {
				if f.Property == tt.property && strings.Contains(f.Reason, tt.reason) {
					return
				}
			}
			t.Errorf("no failure on %s containing %q; got %+v", tt.property, tt.reason, resp.Failures)
		})
	}
}

func TestCheckIgnoresNullUnsupportedAndUnknownConnection(t *testing.T) {
	s := newServer(t)
	check(t, s, remoteURN("r"), m(map[string]any{
		"connection": secret(map[string]any{"host": "h", "proxy": property.New(property.Null)}),
	}))
	check(t, s, remoteURN("r"), m(map[string]any{
		"connection": property.New(property.Computed).WithSecret(true),
		"create":     property.New(property.Computed),
	}))
}

func TestRemoteLifecycleRunsScriptsWithTheirState(t *testing.T) {
	srv := startSSHServer(t, "GREETING", envPreviousStdout, envPreviousStderr)
	s := newServer(t)
	urn := remoteURN("life")
	inputs := check(t, s, urn, m(map[string]any{
		"connection":  conn(srv, nil),
		"create":      "printf 'created %s\\n\\n' \"$GREETING\"; echo oops >&2",
		"update":      "echo \"updated after [$PULUMI_COMMAND_STDOUT]\"",
		"delete":      "echo deleted $GREETING",
		"environment": map[string]any{"GREETING": "hello"},
	}))
	created, err := s.Create(p.CreateRequest{Urn: urn, Properties: inputs})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.ID, "life") || len(created.ID) != len("life")+8 {
		t.Errorf("ID = %q, want life + 8 hex", created.ID)
	}
	if got := str(t, created.Properties, "stdout"); got != "created hello\n" {
		t.Errorf("stdout = %q, want exactly one trailing newline trimmed", got)
	}
	if got := str(t, created.Properties, "stderr"); got != "oops" {
		t.Errorf("stderr = %q", got)
	}
	if c := created.Properties.Get("connection"); !c.Secret() {
		t.Errorf("connection not secret in state")
	}
	if created.Properties.Get("stdout").Secret() {
		t.Errorf("stdout is secret; it must not become secret by itself")
	}

	newInputs := check(t, s, urn, inputs.Set("environment", val(map[string]any{"GREETING": "bye"})))
	diff, err := s.Diff(p.DiffRequest{ID: created.ID, Urn: urn, State: created.Properties, Inputs: newInputs})
	if err != nil {
		t.Fatal(err)
	}
	if !diff.HasChanges || diff.DetailedDiff["environment"].Kind != p.Update {
		t.Fatalf("diff = %+v, want environment update", diff)
	}
	updated, err := s.Update(p.UpdateRequest{ID: created.ID, Urn: urn, State: created.Properties, Inputs: newInputs})
	if err != nil {
		t.Fatal(err)
	}
	if got := str(t, updated.Properties, "stdout"); got != "updated after [created hello\n]" {
		t.Errorf("update stdout = %q", got)
	}
	if err := s.Delete(p.DeleteRequest{ID: created.ID, Urn: urn, Properties: updated.Properties}); err != nil {
		t.Fatal(err)
	}
	execs := srv.Execs()
	if len(execs) != 3 {
		t.Fatalf("ran %d commands, want 3: %+v", len(execs), execs)
	}
	if execs[2].Command != "echo deleted $GREETING" || execs[2].Env["GREETING"] != "bye" {
		t.Errorf("delete ran %+v, want the recorded delete with the recorded environment", execs[2])
	}
	if execs[1].Env[envPreviousStdout] != "created hello\n" || execs[1].Env[envPreviousStderr] != "oops" {
		t.Errorf("update env = %v, want previous stdout/stderr", execs[1].Env)
	}
	if _, ok := execs[0].Env[envPreviousStdout]; ok {
		t.Errorf("create got %s", envPreviousStdout)
	}
}

func TestRemoteUpdateRunsCreateWhenUpdateUnsetAndPreviousOutputCanBeOff(t *testing.T) {
	srv := startSSHServer(t, envPreviousStdout)
	s := newServer(t)
	urn := remoteURN("u")
	inputs := check(t, s, urn, m(map[string]any{"connection": conn(srv, nil), "create": "echo run-$PULUMI_COMMAND_STDOUT"}))
	created, err := s.Create(p.CreateRequest{Urn: urn, Properties: inputs})
	if err != nil {
		t.Fatal(err)
	}
	news := check(t, s, urn, inputs.Set("addPreviousOutputInEnv", property.New(false)))
	updated, err := s.Update(p.UpdateRequest{ID: created.ID, Urn: urn, State: created.Properties, Inputs: news})
	if err != nil {
		t.Fatal(err)
	}
	if got := str(t, updated.Properties, "stdout"); got != "run-" {
		t.Errorf("stdout = %q, want create re-run without previous output", got)
	}
	if n := len(srv.Execs()); n != 2 {
		t.Errorf("ran %d commands, want 2", n)
	}
}

func TestRemoteNonZeroExitErrorHasInterleavedOutput(t *testing.T) {
	srv := startSSHServer(t)
	s := newServer(t)
	urn := remoteURN("fail")
	inputs := check(t, s, urn, m(map[string]any{"connection": conn(srv, nil), "create": "echo out; echo err >&2; exit 3"}))
	_, err := s.Create(p.CreateRequest{Urn: urn, Properties: inputs})
	if err == nil {
		t.Fatal("Create succeeded, want an error")
	}
	want := "Process exited with status 3: running \"echo out; echo err >&2; exit 3\":\n"
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "out\n") || !strings.Contains(err.Error(), "err\n") {
		t.Errorf("error = %q, want it to contain %q and both streams", err, want)
	}
}

func TestRemoteRefusedEnvironmentFails(t *testing.T) {
	srv := startSSHServer(t) // accepts no names
	s := newServer(t)
	urn := remoteURN("env")
	inputs := check(t, s, urn, m(map[string]any{"connection": conn(srv, nil), "create": "true",
		"environment": map[string]any{"NOT_ACCEPTED": "1"}}))
	_, err := s.Create(p.CreateRequest{Urn: urn, Properties: inputs})
	if err == nil || !strings.Contains(err.Error(), `could not set environment variable "NOT_ACCEPTED"`) {
		t.Fatalf("error = %v, want could not set environment variable", err)
	}
	if n := len(srv.Execs()); n != 0 {
		t.Errorf("ran %d commands after a refused env", n)
	}
}

func TestRemoteRefusedPreviousOutputIsOnlyAWarning(t *testing.T) {
	srv := startSSHServer(t)
	logs := captureLogs(t)
	s := newServer(t)
	urn := remoteURN("w")
	inputs := check(t, s, urn, m(map[string]any{"connection": conn(srv, nil), "create": "echo x"}))
	created, err := s.Create(p.CreateRequest{Urn: urn, Properties: inputs})
	if err != nil {
		t.Fatal(err)
	}
	news := check(t, s, urn, inputs.Set("create", property.New("echo y")))
	if _, err := s.Update(p.UpdateRequest{ID: created.ID, Urn: urn, State: created.Properties, Inputs: news}); err != nil {
		t.Fatalf("Update failed on a refused %s: %v", envPreviousStdout, err)
	}
	if !slices.ContainsFunc(logs.Lines(), func(l string) bool {
		return strings.Contains(l, `could not set environment variable "PULUMI_COMMAND_STDOUT"`)
	}) {
		t.Errorf("no warning logged; logs: %q", logs.Lines())
	}
}

func TestRemoteStdinIsDeliveredButNeverLoggedOrInErrors(t *testing.T) {
	srv := startSSHServer(t)
	logs := captureLogs(t)
	s := newServer(t)
	urn := remoteURN("join")
	const token = "SWMTKN-1-supersecret"
	inputs := check(t, s, urn, m(map[string]any{"connection": conn(srv, nil),
		"create": "read t; echo \"token is $t\"; echo \"bad $t\" >&2; exit 1", "stdin": secret(token + "\n")}))
	_, err := s.Create(p.CreateRequest{Urn: urn, Properties: inputs})
	if err == nil {
		t.Fatal("want an error")
	}
	if execs := srv.Execs(); len(execs) != 1 || execs[0].Stdin != token+"\n" {
		t.Fatalf("stdin delivered = %+v", execs)
	}
	if strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "token is [secret]") {
		t.Errorf("error leaks or lacks redaction: %q", err)
	}
	for _, l := range logs.Lines() {
		if strings.Contains(l, token) {
			t.Errorf("log line leaks stdin: %q", l)
		}
	}
	if !slices.Contains(logs.Lines(), "token is [secret]") {
		t.Errorf("stdout line not streamed (redacted); logs: %q", logs.Lines())
	}
}

func TestRemoteLoggingSelectsStreams(t *testing.T) {
	tests := []struct {
		logging      string
		wantOut, err bool
	}{
		{LogStdoutAndStderr, true, true},
		{LogStdout, true, false},
		{LogStderr, false, true},
		{LogNone, false, false},
	}
	srv := startSSHServer(t)
	for _, tt := range tests {
		t.Run(tt.logging, func(t *testing.T) {
			logs := captureLogs(t)
			s := newServer(t)
			urn := remoteURN("log")
			inputs := check(t, s, urn, m(map[string]any{"connection": conn(srv, nil),
				"create": "echo to-out; echo to-err >&2", "logging": tt.logging}))
			created, err := s.Create(p.CreateRequest{Urn: urn, Properties: inputs})
			if err != nil {
				t.Fatal(err)
			}
			if str(t, created.Properties, "stdout") != "to-out" || str(t, created.Properties, "stderr") != "to-err" {
				t.Errorf("capture depends on logging: %v", created.Properties)
			}
			if got := slices.Contains(logs.Lines(), "to-out"); got != tt.wantOut {
				t.Errorf("stdout logged = %v, want %v", got, tt.wantOut)
			}
			if got := slices.Contains(logs.Lines(), "to-err"); got != tt.err {
				t.Errorf("stderr logged = %v, want %v", got, tt.err)
			}
		})
	}
}

func TestRemoteDialRetriesThenReportsLimit(t *testing.T) {
	port, accepted := sshtest.FlakyListener(t)
	logs := captureLogs(t)
	s := newServer(t)
	urn := remoteURN("dial")
	inputs := check(t, s, urn, m(map[string]any{"connection": secret(map[string]any{
		"host": "127.0.0.1", "port": float64(port), "password": "pw", "dialErrorLimit": 2.0}), "create": "true"}))
	_, err := s.Create(p.CreateRequest{Urn: urn, Properties: inputs})
	if err == nil || !strings.Contains(err.Error(), "after 2 failed attempts: ") {
		t.Fatalf("error = %v, want after 2 failed attempts", err)
	}
	if n := accepted.Load(); n != 3 {
		t.Errorf("dialled %d times, want limit+1 = 3", n)
	}
	var status []string
	for _, l := range logs.Lines() {
		if strings.HasPrefix(l, "Dial ") {
			status = append(status, l)
		}
	}
	if want := []string{"Dial 1/2 failed: retrying", "Dial 2/2 failed: retrying"}; !slices.Equal(status, want) {
		t.Errorf("status lines = %q, want %q", status, want)
	}
}

func TestRemoteDialToClosedPortFailsWithoutRetryWhenLimitZero(t *testing.T) {
	port, _ := sshtest.FlakyListener(t)
	s := newServer(t)
	urn := remoteURN("dial0")
	inputs := check(t, s, urn, m(map[string]any{"connection": secret(map[string]any{
		"host": "127.0.0.1", "port": float64(port), "password": "pw", "dialErrorLimit": 0.0}), "create": "true"}))
	_, err := s.Create(p.CreateRequest{Urn: urn, Properties: inputs})
	if err == nil || !strings.Contains(err.Error(), "after 0 failed attempts: ") {
		t.Fatalf("error = %v", err)
	}
}

func TestRemoteHostKeyIsChecked(t *testing.T) {
	srv := startSSHServer(t)
	other := startSSHServer(t)
	s := newServer(t)
	urn := remoteURN("hk")
	good := check(t, s, urn, m(map[string]any{"connection": conn(srv, map[string]any{"hostKey": srv.HostKeyLine}), "create": "echo ok"}))
	if _, err := s.Create(p.CreateRequest{Urn: urn, Properties: good}); err != nil {
		t.Fatalf("matching host key refused: %v", err)
	}
	bad := check(t, s, urn, m(map[string]any{"connection": conn(srv, map[string]any{"hostKey": other.HostKeyLine, "dialErrorLimit": 0.0}), "create": "echo ok"}))
	_, err := s.Create(p.CreateRequest{Urn: urn, Properties: bad})
	if err == nil || !strings.Contains(err.Error(), "host key mismatch") {
		t.Fatalf("error = %v, want host key mismatch", err)
	}
	if n := len(srv.Execs()); n != 1 {
		t.Errorf("ran %d commands, want 1", n)
	}
}

func TestRemotePreviewRunsNothingAndLeavesOutputsUnknown(t *testing.T) {
	srv := startSSHServer(t)
	s := newServer(t)
	urn := remoteURN("pre")
	inputs := check(t, s, urn, m(map[string]any{"connection": conn(srv, nil), "create": "echo hi"}))
	resp, err := s.Create(p.CreateRequest{Urn: urn, Properties: inputs, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Properties.Get("stdout").IsComputed() || !resp.Properties.Get("stderr").IsComputed() {
		t.Errorf("preview outputs = %v, want stdout/stderr unknown", resp.Properties)
	}
	created, err := s.Create(p.CreateRequest{Urn: urn, Properties: inputs})
	if err != nil {
		t.Fatal(err)
	}
	news := check(t, s, urn, inputs.Set("create", property.New("echo changed")))
	upd, err := s.Update(p.UpdateRequest{ID: created.ID, Urn: urn, State: created.Properties, Inputs: news, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !upd.Properties.Get("stdout").IsComputed() {
		t.Errorf("preview update stdout = %v, want unknown", upd.Properties.Get("stdout"))
	}
	if n := len(srv.Execs()); n != 1 {
		t.Errorf("ran %d commands, want only the real create", n)
	}
}

func TestDiffDecisions(t *testing.T) {
	base := map[string]any{"connection": secret(map[string]any{"host": "h"}), "create": "a", "triggers": []any{"x", 1.0}}
	with := func(k string, v any) map[string]any {
		out := map[string]any{}
		for bk, bv := range base {
			out[bk] = bv
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name string
		olds map[string]any
		news map[string]any
		want map[string]p.DiffKind
	}{
		{"no change", base, base, map[string]p.DiffKind{}},
		{"trigger changed", base, with("triggers", []any{"x", 2.0}), map[string]p.DiffKind{"triggers": p.UpdateReplace}},
		{"triggers added", with("triggers", nil), base, map[string]p.DiffKind{"triggers": p.AddReplace}},
		{"triggers removed", base, with("triggers", nil), map[string]p.DiffKind{"triggers": p.DeleteReplace}},
		{"create changed", base, with("create", "b"), map[string]p.DiffKind{"create": p.Update}},
		{"delete added", base, with("delete", "d"), map[string]p.DiffKind{"delete": p.Add}},
		{"logging changed", base, with("logging", LogNone), map[string]p.DiffKind{"logging": p.Update}},
		{"connection changed", base, with("connection", secret(map[string]any{"host": "h2"})), map[string]p.DiffKind{"connection": p.Update}},
	}
	s := newServer(t)
	urn := remoteURN("d")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			olds := check(t, s, urn, m(tt.olds))
			state := olds.Set("stdout", property.New("")).Set("stderr", property.New(""))
			resp, err := s.Diff(p.DiffRequest{ID: "d1", Urn: urn, State: state, Inputs: check(t, s, urn, m(tt.news))})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]p.DiffKind{}
			for k, v := range resp.DetailedDiff {
				got[k] = v.Kind
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || resp.HasChanges != (len(tt.want) > 0) {
				t.Errorf("diff = %v (changes %v), want %v", got, resp.HasChanges, tt.want)
			}
			if resp.DeleteBeforeReplace {
				t.Errorf("deleteBeforeReplace set")
			}
		})
	}
}

func TestReadReturnsStateUnchanged(t *testing.T) {
	s := newServer(t)
	urn := remoteURN("r")
	inputs := check(t, s, urn, m(map[string]any{"connection": secret(map[string]any{"host": "h"}), "create": "x"}))
	state := inputs.Set("stdout", property.New("out")).Set("stderr", property.New(""))
	resp, err := s.Read(p.ReadRequest{ID: "r1", Urn: urn, Properties: state, Inputs: inputs})
	if err != nil {
		t.Fatal(err)
	}
	if resp.ID != "r1" || !property.New(resp.Properties).Equals(property.New(state)) {
		t.Errorf("read = %v %v", resp.ID, resp.Properties)
	}
}

func TestLocalLifecycle(t *testing.T) {
	dir := t.TempDir()
	s := newServer(t)
	urn := localURN("loc")
	inputs := check(t, s, urn, m(map[string]any{
		"create":      "echo \"$(pwd) $GREETING\"; cat",
		"update":      "echo \"prev=$PULUMI_COMMAND_STDOUT\"",
		"delete":      "exit 4",
		"stdin":       "from-stdin",
		"dir":         dir,
		"environment": map[string]any{"GREETING": "hi"},
	}))
	created, err := s.Create(p.CreateRequest{Urn: urn, Properties: inputs})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := str(t, created.Properties, "stdout"), dir+" hi\nfrom-stdin"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	news := check(t, s, urn, inputs.Set("environment", val(map[string]any{"GREETING": "yo"})))
	updated, err := s.Update(p.UpdateRequest{ID: created.ID, Urn: urn, State: created.Properties, Inputs: news})
	if err != nil {
		t.Fatal(err)
	}
	if got := str(t, updated.Properties, "stdout"); got != "prev="+dir+" hi\nfrom-stdin" {
		t.Errorf("update stdout = %q", got)
	}
	err = s.Delete(p.DeleteRequest{ID: created.ID, Urn: urn, Properties: updated.Properties})
	if err == nil || !strings.HasPrefix(err.Error(), "exit status 4: running \"exit 4\":\n") {
		t.Errorf("delete error = %v", err)
	}
}

func TestLocalInterpreter(t *testing.T) {
	s := newServer(t)
	urn := localURN("interp")
	inputs := check(t, s, urn, m(map[string]any{"create": "print", "interpreter": []any{"/bin/echo", "-n"}}))
	created, err := s.Create(p.CreateRequest{Urn: urn, Properties: inputs})
	if err != nil {
		t.Fatal(err)
	}
	if got := str(t, created.Properties, "stdout"); got != "print" {
		t.Errorf("stdout = %q", got)
	}
}

func TestGetSchemaHasBothTokens(t *testing.T) {
	s := newServer(t)
	resp, err := s.GetSchema(p.GetSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{`"command:remote:Command"`, `"command:local:Command"`} {
		if !strings.Contains(resp.Schema, tok) {
			t.Errorf("schema lacks %s", tok)
		}
	}
}

func TestRedactorReplacesSecretsAndTheirLines(t *testing.T) {
	r := newRedactor([]string{"-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n", "", "  ", "tok"})
	got := r.Redact("line AAAA and tok and -----END KEY-----")
	if want := "line [secret] and [secret] and [secret]"; got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
}

func TestConnectionIsSecretInStateEvenWhenSentPlainAndStdoutStaysPublic(t *testing.T) {
	srv := startSSHServer(t)
	s := newServer(t)
	urn := remoteURN("plain")
	host, port := endpoint(srv)
	inputs := check(t, s, urn, m(map[string]any{
		"connection": map[string]any{"host": host, "port": port, "user": "u", "privateKey": srv.ClientKey},
		"create":     "cat", "stdin": secret("tok"), "triggers": []any{secret("s"), "p"}}))
	created, err := s.Create(p.CreateRequest{Urn: urn, Properties: inputs})
	if err != nil {
		t.Fatal(err)
	}
	props := created.Properties
	if !props.Get("connection").Secret() {
		t.Errorf("connection not secret in state: %v", props.Get("connection"))
	}
	if !props.Get("stdin").Secret() || !props.Get("triggers").HasSecrets() {
		t.Errorf("stdin/triggers lost secretness: %v %v", props.Get("stdin"), props.Get("triggers"))
	}
	if out := props.Get("stdout"); out.Secret() || out.AsString() != "tok" {
		t.Errorf("stdout = %v, want public \"tok\" (secret only via additionalSecretOutputs)", out)
	}
}

func TestRemoteRunOnAHostThatStopsAnsweringFailsWithinTheKeepaliveBoundNamingTheHost(t *testing.T) {
	srv := startSSHServer(t)
	policy := keepalive.Policy{Interval: 100 * time.Millisecond, MaxMissed: 3}
	s := newServerWith(t, Remote{Backoff: &fastBackoff, Keepalive: &policy})
	urn := remoteURN("hang")
	inputs := check(t, s, urn, m(map[string]any{"connection": conn(srv, nil), "create": "echo started; sleep 30"}))
	go func() {
		// Freeze once the run is under way (its connection answered a keepalive).
		for srv.Keepalives.Load() == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		srv.Freeze()
	}()
	start := time.Now()
	_, err := s.Create(p.CreateRequest{Urn: urn, Properties: inputs})
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Create succeeded on a host that stopped answering")
	}
	if elapsed > 5*time.Second {
		t.Errorf("Create failed after %s, want within the keepalive bound (%s)", elapsed, policy.Bound())
	}
	want := fmt.Sprintf("ssh connection to test@%s lost: ", srv.Addr)
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `running "echo started; sleep 30"`) {
		t.Errorf("error = %q, want it to contain %q and the command", err, want)
	}
}
