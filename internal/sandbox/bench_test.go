package sandbox

import (
	"context"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/pkg/clock"
)

// BenchmarkEndpointGet measures one endpoint read through the SDK client and
// the sandbox (50 ms simulated latency on a fake clock: no real sleeping).
func BenchmarkEndpointGet(b *testing.B) {
	clk := clock.NewFake(time.Time{})
	sb, err := Load(minimal, WithClock(clk), WithLatency(50*time.Millisecond), WithoutThrottling())
	if err != nil {
		b.Fatal(err)
	}
	c := newClients(b, sb, sub1)
	ctx := context.Background()
	start := clk.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.pes.Get(ctx, "rg-net", "pe1", nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(clk.Now().Sub(start).Milliseconds())/float64(b.N), "sim-ms/op")
}
