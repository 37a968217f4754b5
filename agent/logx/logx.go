// Package logx writes the agent's log lines in the form of the images' shell entrypoints
// (images/lib/entrypoint-lib.sh), one greppable line per event:
//
//	2026-01-02T15:04:05Z [galera-entrypoint] [NOTE] [decide] decision: join the running cluster ...
package logx

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Logger writes lines tagged with Tag to Out (standard error when nil).
type Logger struct {
	Tag string
	Out io.Writer
	Now func() time.Time // time.Now when nil
	mu  sync.Mutex
}

// New gives a Logger with the tag (e.g. "galera-entrypoint") writing to standard error.
func New(tag string) *Logger { return &Logger{Tag: tag} }

func (l *Logger) line(level, step, format string, args []any) {
	now, out := time.Now, l.Out
	if l.Now != nil {
		now = l.Now
	}
	if out == nil {
		out = os.Stderr
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(out, "%s [%s] [%s] [%s] %s\n", now().UTC().Format("2006-01-02T15:04:05Z"), l.Tag, level, step,
		fmt.Sprintf(format, args...))
}

// Note logs an event of the step (the function name of the shell entrypoints, e.g. "decide").
func (l *Logger) Note(step, format string, args ...any) { l.line("NOTE", step, format, args) }

// Warn logs a problem the agent works around.
func (l *Logger) Warn(step, format string, args ...any) { l.line("WARN", step, format, args) }

// Error logs the reason the agent stops.
func (l *Logger) Error(step, format string, args ...any) { l.line("ERROR", step, format, args) }

// StepError is a fatal error with the step it happened in, logged as one ERROR line.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// Fail gives a StepError for step with a formatted message.
func Fail(step, format string, args ...any) error {
	return &StepError{Step: step, Err: fmt.Errorf(format, args...)}
}
