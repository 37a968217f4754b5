// Package poll holds the waiting primitive of the plugins' polling loops (converge waits,
// delete retries).
package poll

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends; then it returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
