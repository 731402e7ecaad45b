package embedded_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/jobs/embedded"
)

func benchJob(i int) jobs.Job {
	target := fmt.Sprintf("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-fhir/providers/Microsoft.HealthcareApis/workspaces/ws%06d", i)
	j := jobs.New(jobs.KindReconcile, jobs.SubjectTarget, target, fmt.Sprintf("event-%d", i))
	j.CorrelationID = fmt.Sprintf("c0ffee00-0000-4000-8000-%012d", i)
	j.Reason = "Microsoft.Network/privateEndpoints/write"
	j.Created = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	return j
}

func benchStore(b *testing.B, noSync bool) (*embedded.Store, string) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.db")
	s, err := embedded.Open(path, embedded.Options{NoSync: noSync, Clock: clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s, path
}

// BenchmarkSendReceiveComplete: one job's full trip (three transactions).
func BenchmarkSendReceiveComplete(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		b.Run(fmt.Sprintf("NoSync=%v", noSync), func(b *testing.B) {
			s, _ := benchStore(b, noSync)
			q := s.Queue("reconcile")
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if err := q.Send(ctx, benchJob(i)); err != nil {
					b.Fatal(err)
				}
				ds, err := q.Receive(ctx, 1)
				if err != nil || len(ds) != 1 {
					b.Fatalf("receive: %v (%d)", err, len(ds))
				}
				if err := q.Complete(ctx, ds[0]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
}

// BenchmarkStoreSize reports the data size (and file size) of a store holding
// 10,000 queued jobs, and the data size after all of them were received and
// completed (duplicate-detection entries and free pages remain).
func BenchmarkStoreSize(b *testing.B) {
	const n = 10000
	for _, noSync := range []bool{false, true} {
		b.Run(fmt.Sprintf("NoSync=%v", noSync), func(b *testing.B) {
			if !noSync && testing.Short() {
				b.Skip("10,000 synced sends take minutes; skipped with -short")
			}
			var queued, drained, queuedFile int64
			for b.Loop() {
				s, path := benchStore(b, noSync)
				q := s.Queue("reconcile")
				ctx := context.Background()
				for i := range n {
					if err := q.Send(ctx, benchJob(i)); err != nil {
						b.Fatal(err)
					}
				}
				queued, queuedFile = dataSize(b, s), fileSize(b, path)
				for done := 0; done < n; {
					ds, err := q.Receive(ctx, 100)
					if err != nil {
						b.Fatal(err)
					}
					for _, d := range ds {
						if err := q.Complete(ctx, d); err != nil {
							b.Fatal(err)
						}
					}
					done += len(ds)
				}
				drained = dataSize(b, s)
				_ = s.Close()
			}
			b.ReportMetric(float64(queued), "bytes/10k-jobs")
			b.ReportMetric(float64(queuedFile), "file-bytes/10k-jobs")
			b.ReportMetric(float64(drained), "bytes/10k-after-drain")
		})
	}
}

func dataSize(b *testing.B, s *embedded.Store) int64 {
	n, err := s.Size()
	if err != nil {
		b.Fatal(err)
	}
	return n
}

func fileSize(b *testing.B, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}
