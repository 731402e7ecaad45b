package events

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/pkg/jobs"
)

// memSender is the cheapest jobs.Sender: it keeps the last job only.
type memSender struct{ last jobs.Job }

func (s *memSender) Send(_ context.Context, j jobs.Job) error { s.last = j; return nil }

func benchIntake(b *testing.B, body []byte, perDelivery int) {
	q := &memSender{}
	in := &Intake{Queue: q, Log: zerolog.Nop(), Dead: NewMemDeadStore(), Now: time.Now}
	ctx := context.Background()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		res, err := in.Handle(ctx, body)
		if err != nil || res.Enqueued == 0 {
			b.Fatalf("%+v %v", res, err)
		}
	}
	b.ReportMetric(float64(b.N*perDelivery)/b.Elapsed().Seconds(), "events/s")
	// On a shared machine the wall clock counts other processes' turns;
	// the process's CPU time is what one core spends (GC included).
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N*perDelivery)/cpu.Seconds(), "events/cpu-s")
	}
}

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIntake measures parse + classify + enqueue (in-memory) per event.
// eventgrid/1MiB-delivery is a full Event Grid delivery of real-shaped ARM
// events (token claims, RBAC evidence): the figure to hold against 20,000
// events/s per core (run with -cpu 1).
func BenchmarkIntake(b *testing.B) {
	one := func(f string) string {
		return strings.TrimSpace(string(readFile(b, filepath.Join(eventsDir, f))))
	}
	b.Run("eventgrid/one", func(b *testing.B) {
		benchIntake(b, []byte(one("endpoint-write.eventgrid.json")), 1)
	})
	b.Run("cloudevents/one-tolerant-claims", func(b *testing.B) {
		benchIntake(b, []byte(one("endpoint-write.cloudevents.json")), 1)
	})
	b.Run("eventgrid/1MiB-delivery", func(b *testing.B) {
		body, n := realShapedBatch(b, 1<<20)
		benchIntake(b, body, n)
	})
	b.Run("eventgrid/1MiB-delivery/full-decoder", func(b *testing.B) {
		fastPath = false
		defer func() { fastPath = true }()
		body, n := realShapedBatch(b, 1<<20)
		benchIntake(b, body, n)
	})
	b.Run("cloudevents/batch-of-10", func(b *testing.B) {
		files := []string{
			"endpoint-write.cloudevents.json", "connection-write.cloudevents.json", "vnet-write.cloudevents.json",
			"peering-write.cloudevents.json", "link-delete.cloudevents.json", "zonegroup-write.cloudevents.json",
			"endpoint-delete.cloudevents.json", "vnet-delete.cloudevents.json", "other-operation.cloudevents.json",
			"failure.cloudevents.json",
		}
		parts := make([]string, len(files))
		for i, f := range files {
			parts[i] = one(f)
		}
		benchIntake(b, []byte("["+strings.Join(parts, ",")+"]"), len(files))
	})
}
