package servicebus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/jobs/jobstest"
)

// TestContractLive runs the queue contract against a real namespace or the
// emulator. The queue must have duplicate detection on; its lock duration and
// max delivery count are read from SERVICEBUS_LOCK_DURATION (default 30s) and
// SERVICEBUS_MAX_DELIVERIES (default 10). It waits in real time.
func TestContractLive(t *testing.T) {
	cs, queue := os.Getenv("SERVICEBUS_CONNECTION_STRING"), os.Getenv("SERVICEBUS_QUEUE")
	if cs == "" || queue == "" {
		t.Skip("live Service Bus contract skipped: set SERVICEBUS_CONNECTION_STRING and SERVICEBUS_QUEUE (a queue with duplicate detection) to run it")
	}
	lock := 30 * time.Second
	if v := os.Getenv("SERVICEBUS_LOCK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SERVICEBUS_LOCK_DURATION %q: %v", v, err)
		}
		lock = d
	}
	maxDeliveries := 10
	if v := os.Getenv("SERVICEBUS_MAX_DELIVERIES"); v != "" {
		if _, err := fmt.Sscan(v, &maxDeliveries); err != nil {
			t.Fatalf("SERVICEBUS_MAX_DELIVERIES %q: %v", v, err)
		}
	}
	c, err := NewFromConnectionString(cs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	jobstest.RunContract(t, func(t *testing.T) *jobstest.Harness {
		q, err := c.Queue(queue)
		if err != nil {
			t.Fatal(err)
		}
		purge(t, q)
		return &jobstest.Harness{
			Queue:         q,
			Now:           time.Now,
			Advance:       time.Sleep,
			LockDuration:  lock,
			MaxDeliveries: maxDeliveries,
			Step:          6 * time.Second,
			Quiet:         2 * time.Second,
			Wait:          lock + 30*time.Second,
		}
	})
}

// purge completes whatever a previous run left in the queue.
func purge(t *testing.T, q *Queue) {
	t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ds, err := q.Receive(ctx, 50)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return
		}
		if err != nil {
			t.Fatalf("purge: %v", err)
		}
		for _, d := range ds {
			if err := q.Complete(context.Background(), d); err != nil && !errors.Is(err, jobs.ErrLockLost) {
				t.Fatalf("purge: %v", err)
			}
		}
	}
}
