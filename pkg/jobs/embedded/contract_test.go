package embedded_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/jobs/embedded"
	"github.com/plautopilot/autopilot/pkg/jobs/jobstest"
)

var epoch = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// open returns a store in a fresh file driven by a fake clock.
func open(t *testing.T, opts embedded.Options) (*embedded.Store, *clock.Fake, string) {
	t.Helper()
	clk := clock.NewFake(epoch)
	if opts.Clock == nil {
		opts.Clock = clk
	}
	opts.NoSync = true
	path := filepath.Join(t.TempDir(), "queues.db")
	s, err := embedded.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, clk, path
}

func TestContract(t *testing.T) {
	jobstest.RunContract(t, func(t *testing.T) *jobstest.Harness {
		opts := embedded.Options{LockDuration: time.Minute, MaxDeliveries: 3}
		s, clk, path := open(t, opts)
		opts.Clock, opts.NoSync = clk, true
		h := &jobstest.Harness{
			Queue:         s.Queue("reconcile"),
			Now:           clk.Now,
			Advance:       func(d time.Duration) { clk.Advance(d) },
			LockDuration:  opts.LockDuration,
			MaxDeliveries: opts.MaxDeliveries,
			Step:          time.Minute,
			Quiet:         20 * time.Millisecond,
			Wait:          5 * time.Second,
		}
		h.Reopen = func(t *testing.T) jobs.Queue {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			var err error
			if s, err = embedded.Open(path, opts); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s.Queue("reconcile")
		}
		return h
	})
}
