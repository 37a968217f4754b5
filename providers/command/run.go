package command

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"

	"github.com/galera-swarm/galera-swarm/providers/internal/ptr"
)

// Values of the `logging` input: what is streamed to the Pulumi log while a command runs.
// Capture into the stdout/stderr outputs is unaffected.
const (
	LogStdout          = "stdout"
	LogStderr          = "stderr"
	LogStdoutAndStderr = "stdoutAndStderr"
	LogNone            = "none"
)

// Names of the variables that carry the previous run's output into the next run
// (pulumi-command's addPreviousOutputInEnv).
const (
	envPreviousStdout = "PULUMI_COMMAND_STDOUT"
	envPreviousStderr = "PULUMI_COMMAND_STDERR"
)

// redacted replaces secret values in logs and errors.
const redacted = "[secret]"

// CommonInputs are the inputs remote.Command and local.Command share (pulumi-command
// 1.2.1 `common.ResourceInputs`). Defaults (addPreviousOutputInEnv true, logging
// stdoutAndStderr) are declared in Annotate and applied by Check only: the runner reads
// checked inputs.
type CommonInputs struct {
	Create                 *string           `pulumi:"create,optional"`
	Update                 *string           `pulumi:"update,optional"`
	Delete                 *string           `pulumi:"delete,optional"`
	Stdin                  *string           `pulumi:"stdin,optional"`
	Triggers               []any             `pulumi:"triggers,optional"`
	Environment            map[string]string `pulumi:"environment,optional"`
	AddPreviousOutputInEnv *bool             `pulumi:"addPreviousOutputInEnv,optional"`
	Logging                *string           `pulumi:"logging,optional"`
}

// Annotate declares descriptions and the two defaults.
func (c *CommonInputs) Annotate(a infer.Annotator) {
	a.Describe(&c.Create, "The command to run on create.")
	a.Describe(&c.Update, "The command to run on update; `create` is run when unset.")
	a.Describe(&c.Delete, "The command to run on delete, with the state recorded at the last create or update.")
	a.Describe(&c.Stdin, "Passed to the command's process on stdin when not empty.")
	a.Describe(&c.Triggers, "Any change to these values replaces the resource.")
	a.Describe(&c.Environment, "Additional environment variables for the command.")
	a.Describe(&c.AddPreviousOutputInEnv, "Export the previous stdout and stderr as PULUMI_COMMAND_STDOUT and PULUMI_COMMAND_STDERR.")
	a.SetDefault(&c.AddPreviousOutputInEnv, true)
	a.Describe(&c.Logging, "What is logged while the command runs: stdout, stderr, stdoutAndStderr or none.")
	a.SetDefault(&c.Logging, LogStdoutAndStderr)
}

// CommonOutputs are the captured outputs of the last run, each with exactly one trailing
// newline trimmed. They are not secret unless the program asks (additionalSecretOutputs).
type CommonOutputs struct {
	Stdout string `pulumi:"stdout"`
	Stderr string `pulumi:"stderr"`
}

// Annotate describes the outputs.
func (c *CommonOutputs) Annotate(a infer.Annotator) {
	a.Describe(&c.Stdout, "The standard output of the command's process.")
	a.Describe(&c.Stderr, "The standard error of the command's process.")
}

// resourceID is the resource name followed by 8 random lowercase hex characters, as
// pulumi-command generates it. It fails only if the system random source fails.
func resourceID(name string) (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating an ID for %s: %w", name, err)
	}
	return name + hex.EncodeToString(b), nil
}

// runSpec is one command execution, independent of where it runs.
type runSpec struct {
	Command string
	Stdin   string
	// Environment is the program's `environment` input (not the previous output).
	Environment map[string]string
	// PreviousStdout and PreviousStderr are exported as PULUMI_COMMAND_* when non-empty
	// and AddPreviousOutput is set.
	PreviousStdout, PreviousStderr string
	AddPreviousOutput              bool
	Logging                        string
	// Secrets are the strings that must not reach the log or an error message.
	Secrets []string
}

// newRunSpec builds the runSpec for running cmd with the checked inputs in, the previous
// outputs prev (nil on create) and the secret strings of the request in ctx.
func newRunSpec(ctx context.Context, cmd string, in CommonInputs, prev *CommonOutputs) runSpec {
	spec := runSpec{
		Command:           cmd,
		Stdin:             ptr.Deref(in.Stdin),
		Environment:       in.Environment,
		AddPreviousOutput: ptr.Deref(in.AddPreviousOutputInEnv),
		Logging:           ptr.Deref(in.Logging),
		Secrets:           secretsFrom(ctx),
	}
	if prev != nil {
		spec.PreviousStdout, spec.PreviousStderr = prev.Stdout, prev.Stderr
	}
	return spec
}

// envNames returns the names of spec.Environment in sorted order, so runs are repeatable.
func (s runSpec) envNames() []string { return slices.Sorted(maps.Keys(s.Environment)) }

// previousOutputEnv returns the PULUMI_COMMAND_* pairs to export (only non-empty ones,
// and none when AddPreviousOutput is off).
func (s runSpec) previousOutputEnv() [][2]string {
	if !s.AddPreviousOutput {
		return nil
	}
	var env [][2]string
	if s.PreviousStdout != "" {
		env = append(env, [2]string{envPreviousStdout, s.PreviousStdout})
	}
	if s.PreviousStderr != "" {
		env = append(env, [2]string{envPreviousStderr, s.PreviousStderr})
	}
	return env
}

// redactor replaces every secret string (and every non-blank line of a multi-line
// secret) with [secret], longest first so a secret's fragment never survives.
type redactor struct{ secrets []string }

// newRedactor prepares a redactor for secrets; empty strings are ignored.
func newRedactor(secrets []string) redactor {
	set := map[string]bool{}
	for _, s := range secrets {
		if strings.TrimSpace(s) == "" {
			continue
		}
		set[s] = true
		for _, line := range strings.Split(s, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				set[line] = true
			}
		}
	}
	r := redactor{}
	for s := range set {
		r.secrets = append(r.secrets, s)
	}
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
	return r
}

// Redact returns text with every secret replaced by [secret].
func (r redactor) Redact(text string) string {
	for _, s := range r.secrets {
		text = strings.ReplaceAll(text, s, redacted)
	}
	return text
}

// capture collects one stream of a running command: its full bytes for the output, a
// copy into the interleaved buffer used by the error message, and (when log is set) each
// complete line, redacted, to the Pulumi log as it arrives.
type capture struct {
	buf      bytes.Buffer
	combined *lockedBuffer
	log      func(string)
	redact   redactor
	partial  []byte
}

// Write implements io.Writer; it never fails.
func (c *capture) Write(b []byte) (int, error) {
	c.buf.Write(b)
	c.combined.Write(b)
	if c.log != nil {
		c.partial = append(c.partial, b...)
		for {
			i := bytes.IndexByte(c.partial, '\n')
			if i < 0 {
				break
			}
			c.log(c.redact.Redact(string(c.partial[:i])))
			c.partial = c.partial[i+1:]
		}
	}
	return len(b), nil
}

// flush logs a final line that had no newline.
func (c *capture) flush() {
	if c.log != nil && len(c.partial) > 0 {
		c.log(c.redact.Redact(string(c.partial)))
		c.partial = nil
	}
}

// output is the captured text with exactly one trailing "\n" removed.
func (c *capture) output() string {
	return strings.TrimSuffix(c.buf.String(), "\n")
}

// lockedBuffer is a bytes.Buffer safe for the two stream writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer; it never fails.
func (l *lockedBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

// String returns what was written so far.
func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// streams holds the stdout and stderr captures of one run.
type streams struct {
	stdout, stderr *capture
	combined       *lockedBuffer
	redact         redactor
}

// newStreams prepares captures for spec, logging through the request's logger (at Info
// for both streams) as spec.Logging selects.
func newStreams(ctx context.Context, spec runSpec) *streams {
	logger := p.GetLogger(ctx)
	red := newRedactor(append(slices.Clone(spec.Secrets), spec.Stdin))
	combined := &lockedBuffer{}
	s := &streams{
		stdout:   &capture{combined: combined, redact: red},
		stderr:   &capture{combined: combined, redact: red},
		combined: combined,
		redact:   red,
	}
	if spec.Logging == LogStdout || spec.Logging == LogStdoutAndStderr {
		s.stdout.log = logger.Info
	}
	if spec.Logging == LogStderr || spec.Logging == LogStdoutAndStderr {
		s.stderr.log = logger.Info
	}
	return s
}

// writers returns the stdout and stderr writers.
func (s *streams) writers() (io.Writer, io.Writer) { return s.stdout, s.stderr }

// finish flushes partial lines and returns the trimmed outputs. When runErr is non-nil
// it returns the error `<runErr>: running "<cmd>":\n<interleaved stdout+stderr>` with
// every secret redacted (pulumi-command 1.2.1 util.go wording).
func (s *streams) finish(cmd string, runErr error) (CommonOutputs, error) {
	s.stdout.flush()
	s.stderr.flush()
	out := CommonOutputs{Stdout: s.stdout.output(), Stderr: s.stderr.output()}
	if runErr != nil {
		return out, fmt.Errorf("%s: running %q:\n%s",
			s.redact.Redact(runErr.Error()), s.redact.Redact(cmd), s.redact.Redact(s.combined.String()))
	}
	return out, nil
}
