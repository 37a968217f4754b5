package command

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"

	"github.com/galera-swarm/galera-swarm/providers/internal/ptr"
	"github.com/galera-swarm/galera-swarm/providers/internal/schema"
)

// defaultInterpreter runs a local command when `interpreter` is unset (pulumi-command's
// non-Windows default); the command is appended as the last argument.
var defaultInterpreter = []string{"/bin/sh", "-c"}

// Local is the controller of command:local:Command: a command run on the machine that
// runs the plugin, on create, update and delete.
type Local struct{}

// LocalInputs are the inputs of command:local:Command this plugin implements.
// `assetPaths` and `archivePaths` are not implemented and fail in Check.
type LocalInputs struct {
	CommonInputs
	Dir         *string  `pulumi:"dir,optional"`
	Interpreter []string `pulumi:"interpreter,optional"`
}

// Annotate describes the local-only inputs.
func (l *LocalInputs) Annotate(a infer.Annotator) {
	a.Describe(&l.Dir, "The working directory; default the plugin's working directory (the program directory).")
	a.Describe(&l.Interpreter, `The program and arguments the command is appended to; default ["/bin/sh", "-c"].`)
}

// LocalState is the recorded state: the inputs plus the last stdout and stderr.
type LocalState struct {
	LocalInputs
	CommonOutputs
}

// Annotate sets the token command:local:Command.
func (r *Local) Annotate(a infer.Annotator) {
	a.Describe(&r, "A command to run locally.")
	a.SetToken("local", "Command")
}

// localPaths are the inputs this plugin implements for command:local:Command.
var localPaths = schema.PathsOf(LocalInputs{})

// Check rejects inputs this plugin does not implement (`assetPaths`, `archivePaths`,
// unknown keys), decodes the rest, applies defaults and validates `logging` and a
// non-empty `interpreter`.
func (Local) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[LocalInputs], error) {
	news, failures := localPaths.Supported(req.NewInputs, Name)
	in, decodeFailures, err := infer.DefaultCheck[LocalInputs](ctx, news)
	if err != nil {
		return infer.CheckResponse[LocalInputs]{}, fmt.Errorf("checking inputs of %s: %w", req.Name, err)
	}
	failures = append(failures, decodeFailures...)
	failures = append(failures, checkLogging(in.Logging)...)
	if in.Interpreter != nil && known(news, "interpreter") && (len(in.Interpreter) == 0 || in.Interpreter[0] == "") {
		failures = append(failures, p.CheckFailure{Property: "interpreter", Reason: "must name a program"})
	}
	return infer.CheckResponse[LocalInputs]{Inputs: in, Failures: failures}, nil
}

// Diff: a `triggers` change replaces, any other change updates (as for Remote).
func (Local) Diff(_ context.Context, req infer.DiffRequest[LocalInputs, LocalState]) (infer.DiffResponse, error) {
	return diffInputs(req.State.LocalInputs, req.Inputs), nil
}

// Create runs `create` (nothing when unset); in preview it runs nothing. A failed
// command records nothing.
func (Local) Create(ctx context.Context, req infer.CreateRequest[LocalInputs]) (infer.CreateResponse[LocalState], error) {
	state := LocalState{LocalInputs: req.Inputs}
	if req.DryRun {
		return infer.CreateResponse[LocalState]{Output: state}, nil
	}
	id, err := resourceID(req.Name)
	if err != nil {
		return infer.CreateResponse[LocalState]{}, err
	}
	if req.Inputs.Create != nil {
		out, err := runLocal(ctx, req.Inputs, newRunSpec(ctx, *req.Inputs.Create, req.Inputs.CommonInputs, nil))
		if err != nil {
			return infer.CreateResponse[LocalState]{}, err
		}
		state.CommonOutputs = out
	}
	return infer.CreateResponse[LocalState]{ID: id, Output: state}, nil
}

// Update runs `update`, else `create`, else nothing, with the previous output in
// PULUMI_COMMAND_*. A failed command keeps the old state.
func (Local) Update(ctx context.Context, req infer.UpdateRequest[LocalInputs, LocalState]) (infer.UpdateResponse[LocalState], error) {
	state := LocalState{LocalInputs: req.Inputs, CommonOutputs: req.State.CommonOutputs}
	cmd := req.Inputs.Update
	if cmd == nil {
		cmd = req.Inputs.Create
	}
	if req.DryRun || cmd == nil {
		return infer.UpdateResponse[LocalState]{Output: state}, nil
	}
	out, err := runLocal(ctx, req.Inputs, newRunSpec(ctx, *cmd, req.Inputs.CommonInputs, &req.State.CommonOutputs))
	if err != nil {
		return infer.UpdateResponse[LocalState]{}, err
	}
	state.CommonOutputs = out
	return infer.UpdateResponse[LocalState]{Output: state}, nil
}

// Delete runs the recorded `delete` (nothing when unset) with the recorded inputs.
func (Local) Delete(ctx context.Context, req infer.DeleteRequest[LocalState]) (infer.DeleteResponse, error) {
	if req.State.Delete == nil {
		return infer.DeleteResponse{}, nil
	}
	_, err := runLocal(ctx, req.State.LocalInputs,
		newRunSpec(ctx, *req.State.Delete, req.State.CommonInputs, &req.State.CommonOutputs))
	return infer.DeleteResponse{}, err
}

// runLocal runs spec.Command with the interpreter in dir; the environment is the plugin
// process's, then `environment`, then PULUMI_COMMAND_* (later entries win).
func runLocal(ctx context.Context, in LocalInputs, spec runSpec) (CommonOutputs, error) {
	interpreter := defaultInterpreter
	if len(in.Interpreter) > 0 {
		interpreter = in.Interpreter
	}
	args := append(append([]string{}, interpreter[1:]...), spec.Command)
	cmd := exec.CommandContext(ctx, interpreter[0], args...)
	cmd.Dir = ptr.Deref(in.Dir)
	cmd.Env = os.Environ()
	for _, k := range spec.envNames() {
		cmd.Env = append(cmd.Env, k+"="+spec.Environment[k])
	}
	for _, kv := range spec.previousOutputEnv() {
		cmd.Env = append(cmd.Env, kv[0]+"="+kv[1])
	}
	if spec.Stdin != "" {
		cmd.Stdin = strings.NewReader(spec.Stdin)
	}
	st := newStreams(ctx, spec)
	cmd.Stdout, cmd.Stderr = st.writers()
	return st.finish(spec.Command, cmd.Run())
}
