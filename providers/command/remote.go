package command

import (
	"context"
	"fmt"
	"strings"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"golang.org/x/crypto/ssh"

	"github.com/galera-swarm/galera-swarm/providers/internal/keepalive"
	"github.com/galera-swarm/galera-swarm/providers/internal/ptr"
	"github.com/galera-swarm/galera-swarm/providers/internal/schema"
)

// Remote is the controller of command:remote:Command: a command run over SSH on create,
// update and delete. Backoff, when set, replaces DefaultBackoff between failed dials, and
// Keepalive, when set, keepalive.Default (tests use tiny waits).
type Remote struct {
	Backoff   *Backoff
	Keepalive *keepalive.Policy
}

// RemoteInputs are the inputs of command:remote:Command. `connection` is secret as a
// whole (the SDK sends it wrapped; the tag keeps it so in state).
type RemoteInputs struct {
	CommonInputs
	Connection *Connection `pulumi:"connection" provider:"secret"`
}

// Annotate describes the connection input.
func (r *RemoteInputs) Annotate(a infer.Annotator) {
	a.Describe(&r.Connection, "The parameters with which to connect to the remote host.")
}

// RemoteState is the recorded state: the inputs plus the last stdout and stderr.
type RemoteState struct {
	RemoteInputs
	CommonOutputs
}

// Annotate sets the token command:remote:Command (no `index/` module path,
// providers/CONTRACT.md#command-tokens).
func (r *Remote) Annotate(a infer.Annotator) {
	a.Describe(&r, "A command to run on a remote host over SSH.")
	a.SetToken("remote", "Command")
}

// remotePaths are the inputs this plugin implements for command:remote:Command.
var remotePaths = schema.PathsOf(RemoteInputs{})

// Check rejects inputs this plugin does not implement (`connection.proxy`, unknown
// keys), decodes the rest, applies the schema defaults and validates values that are
// known: connection.host non-empty, port an integer in 1..65535, dialErrorLimit ≥ -1,
// perDialTimeout ≥ 0, hostKey parsable, logging one of its four values.
func (Remote) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[RemoteInputs], error) {
	news, failures := remotePaths.Supported(req.NewInputs, Name)
	in, decodeFailures, err := infer.DefaultCheck[RemoteInputs](ctx, news)
	if err != nil {
		return infer.CheckResponse[RemoteInputs]{}, fmt.Errorf("checking inputs of %s: %w", req.Name, err)
	}
	failures = append(failures, decodeFailures...)
	failures = append(failures, checkLogging(in.Logging)...)
	if c := in.Connection; c != nil && known(news, "connection") {
		failures = append(failures, checkConnection(news, *c)...)
	}
	return infer.CheckResponse[RemoteInputs]{Inputs: in, Failures: failures}, nil
}

// checkConnection validates the known fields of a decoded connection; news tells which
// fields are preview unknowns (skipped).
func checkConnection(news property.Map, c Connection) []p.CheckFailure {
	var failures []p.CheckFailure
	fail := func(field, format string, args ...any) {
		failures = append(failures, p.CheckFailure{Property: "connection." + field, Reason: fmt.Sprintf(format, args...)})
	}
	if known(news, "connection", "host") && strings.TrimSpace(ptr.Deref(c.Host)) == "" {
		fail("host", "must not be empty")
	}
	if c.Port != nil && known(news, "connection", "port") {
		if port := *c.Port; port != float64(int(port)) || port < 1 || port > 65535 {
			fail("port", "%v is not a port number (an integer from 1 to 65535)", port)
		}
	}
	if c.DialErrorLimit != nil && *c.DialErrorLimit < -1 {
		fail("dialErrorLimit", "%d is below -1 (-1 means unlimited)", *c.DialErrorLimit)
	}
	if c.PerDialTimeout != nil && *c.PerDialTimeout < 0 {
		fail("perDialTimeout", "%d is negative (seconds; 0 means no timeout)", *c.PerDialTimeout)
	}
	if c.HostKey != nil && *c.HostKey != "" && known(news, "connection", "hostKey") {
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*c.HostKey)); err != nil {
			fail("hostKey", "not an authorized_keys line: %v", err)
		}
	}
	return failures
}

// Diff compares the recorded inputs with the new ones: a change of `triggers`
// (including triggers added or removed) replaces, any other change updates. Replacement
// creates the new resource before deleting the old one.
func (Remote) Diff(_ context.Context, req infer.DiffRequest[RemoteInputs, RemoteState]) (infer.DiffResponse, error) {
	return diffInputs(req.State.RemoteInputs, req.Inputs), nil
}

// Create runs `create` (nothing when unset) and records the inputs with its output.
// In preview it runs nothing (stdout/stderr become unknown). A failed command records
// nothing.
func (r Remote) Create(ctx context.Context, req infer.CreateRequest[RemoteInputs]) (infer.CreateResponse[RemoteState], error) {
	state := RemoteState{RemoteInputs: req.Inputs}
	if req.DryRun {
		return infer.CreateResponse[RemoteState]{Output: state}, nil
	}
	id, err := resourceID(req.Name)
	if err != nil {
		return infer.CreateResponse[RemoteState]{}, err
	}
	if req.Inputs.Create != nil {
		out, err := r.run(ctx, req.Inputs, newRunSpec(ctx, *req.Inputs.Create, req.Inputs.CommonInputs, nil))
		if err != nil {
			return infer.CreateResponse[RemoteState]{}, err
		}
		state.CommonOutputs = out
	}
	return infer.CreateResponse[RemoteState]{ID: id, Output: state}, nil
}

// Update runs `update`, or `create` when `update` is unset (nothing when both are), with
// the new inputs and the previous output in PULUMI_COMMAND_*. A failed command keeps the
// old state.
func (r Remote) Update(ctx context.Context, req infer.UpdateRequest[RemoteInputs, RemoteState]) (infer.UpdateResponse[RemoteState], error) {
	state := RemoteState{RemoteInputs: req.Inputs, CommonOutputs: req.State.CommonOutputs}
	cmd := req.Inputs.Update
	if cmd == nil {
		cmd = req.Inputs.Create
	}
	if req.DryRun || cmd == nil {
		return infer.UpdateResponse[RemoteState]{Output: state}, nil
	}
	out, err := r.run(ctx, req.Inputs, newRunSpec(ctx, *cmd, req.Inputs.CommonInputs, &req.State.CommonOutputs))
	if err != nil {
		return infer.UpdateResponse[RemoteState]{}, err
	}
	state.CommonOutputs = out
	return infer.UpdateResponse[RemoteState]{Output: state}, nil
}

// Delete runs the recorded `delete` (nothing when unset) with the recorded connection,
// environment and stdin. A failed command keeps the resource.
func (r Remote) Delete(ctx context.Context, req infer.DeleteRequest[RemoteState]) (infer.DeleteResponse, error) {
	if req.State.Delete == nil {
		return infer.DeleteResponse{}, nil
	}
	_, err := r.run(ctx, req.State.RemoteInputs,
		newRunSpec(ctx, *req.State.Delete, req.State.CommonInputs, &req.State.CommonOutputs))
	return infer.DeleteResponse{}, err
}

// run dials the connection and runs spec in one SSH session, with keepalives: a host that
// stops answering during the run fails it within the keepalive bound, naming the host.
func (r Remote) run(ctx context.Context, in RemoteInputs, spec runSpec) (CommonOutputs, error) {
	if in.Connection == nil {
		return CommonOutputs{}, fmt.Errorf("running a remote command: no connection")
	}
	backoff := DefaultBackoff
	if r.Backoff != nil {
		backoff = *r.Backoff
	}
	policy := keepalive.Default
	if r.Keepalive != nil {
		policy = *r.Keepalive
	}
	addr := in.Connection.address()
	client, err := in.Connection.Dial(ctx, backoff)
	if err != nil {
		return CommonOutputs{}, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	defer func() { _ = client.Close() }()
	monitor := keepalive.Start(client, ptr.Deref(in.Connection.User)+"@"+addr, policy)
	defer monitor.Stop()
	return runSession(ctx, client, spec, monitor.Err)
}

// runSession runs spec.Command in a new session of client: environment via setenv
// requests (a refusal fails the run with "could not set environment variable"; for the
// PULUMI_COMMAND_* variables it is only a warning), stdin only when non-empty, stdout and
// stderr captured and streamed. Cancelling ctx kills the remote process. connLost gives the
// keepalive monitor's error: when it is set, it replaces the session's own error (a bare
// "remote command exited without exit status") so the failure names the host.
func runSession(ctx context.Context, client *ssh.Client, spec runSpec, connLost func() error) (CommonOutputs, error) {
	session, err := client.NewSession()
	if err != nil {
		return CommonOutputs{}, fmt.Errorf("opening an SSH session: %w", err)
	}
	defer func() { _ = session.Close() }()
	for _, k := range spec.envNames() {
		if err := session.Setenv(k, spec.Environment[k]); err != nil {
			return CommonOutputs{}, fmt.Errorf("could not set environment variable %q: %w"+
				" (the SSH server must accept it, e.g. AcceptEnv in sshd_config)", k, err)
		}
	}
	for _, kv := range spec.previousOutputEnv() {
		if err := session.Setenv(kv[0], kv[1]); err != nil {
			p.GetLogger(ctx).Warningf("could not set environment variable %q: %v", kv[0], err)
		}
	}
	if spec.Stdin != "" {
		session.Stdin = strings.NewReader(spec.Stdin)
	}
	st := newStreams(ctx, spec)
	session.Stdout, session.Stderr = st.writers()
	stop := context.AfterFunc(ctx, func() {
		_ = session.Signal(ssh.SIGKILL)
		_ = session.Close()
	})
	defer stop()
	runErr := session.Run(spec.Command)
	if lost := connLost(); runErr != nil && lost != nil {
		runErr = lost
	}
	return st.finish(spec.Command, runErr)
}
