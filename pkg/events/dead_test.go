package events

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// countingStore records each call: a batch of junk must be one write.
type countingStore struct {
	calls int
	evs   []DeadEvent
}

func (c *countingStore) Keep(ctx context.Context, ev DeadEvent) error {
	return c.KeepAll(ctx, []DeadEvent{ev})
}

func (c *countingStore) KeepAll(_ context.Context, evs []DeadEvent) error {
	c.calls++
	c.evs = append(c.evs, evs...)
	return nil
}

// junkBatch is the attack's 900 KB delivery of empty objects.
func junkBatch(n int) []byte {
	return []byte("[" + strings.TrimSuffix(strings.Repeat("{},", n), ",") + "]")
}

func TestJunkBatchIsCountedAndSampled(t *testing.T) {
	const n = 300_000
	store := &countingStore{}
	q := &recordingSender{}
	res, err := newIntake(q, store).Handle(context.Background(), junkBatch(n))
	if err != nil {
		t.Fatal(err)
	}
	if res.Received != n || res.Malformed != n || res.Enqueued != 0 || q.calls != 0 {
		t.Fatalf("result received %d malformed %d enqueued %d, sent %d; want all %d malformed, none sent", res.Received, res.Malformed, res.Enqueued, q.calls, n)
	}
	if len(res.Receipts) != MaxDeadSample || res.ReceiptsOmitted != n-MaxDeadSample {
		t.Errorf("outcomes %d listed, %d omitted; want %d and %d", len(res.Receipts), res.ReceiptsOmitted, MaxDeadSample, n-MaxDeadSample)
	}
	if store.calls != 1 || len(store.evs) != MaxDeadSample+1 {
		t.Fatalf("dead store: %d calls, %d events; want one call with %d samples and a summary", store.calls, len(store.evs), MaxDeadSample)
	}
	sum := store.evs[MaxDeadSample]
	if want := fmt.Sprintf("%d more malformed events", n-MaxDeadSample); !strings.Contains(sum.Reason, want) {
		t.Errorf("summary %q does not say %q", sum.Reason, want)
	}
}

func TestFileDeadStoreOneWritePerDeliveryAndBoundedFile(t *testing.T) {
	dir := t.TempDir()
	s, err := NewFileDeadStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.MaxBytes = 64 << 10
	in := newIntake(&recordingSender{}, s)
	for range 50 {
		if _, err := in.Handle(context.Background(), junkBatch(5000)); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.Stat(s.Path() + ".1")
	if err != nil {
		t.Fatalf("no rotated file: %v", err)
	}
	if fi.Size() > s.MaxBytes || old.Size() > s.MaxBytes {
		t.Errorf("files %d and %d bytes; want each within %d", fi.Size(), old.Size(), s.MaxBytes)
	}
	evs, err := s.Tail(5)
	if err != nil || len(evs) != 5 || !strings.Contains(evs[4].Reason, "4980 more malformed events") {
		t.Fatalf("tail: %d events, %v; want the newest 5 ending with a summary", len(evs), err)
	}
}

// Status reads only the end of a large dead event file and still gets the
// newest events, in order.
func TestFileDeadStoreTailOfALargeFile(t *testing.T) {
	s, err := NewFileDeadStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.SourceQuota = -1 // one source writing 40,000 events: no quota here
	var batch []DeadEvent
	at := time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC)
	for i := range 40_000 {
		batch = append(batch, DeadEvent{Raw: []byte(strings.Repeat("x", 60)), Size: 60, Reason: fmt.Sprintf("junk %d", i), ReceivedAt: at, Index: i})
	}
	if err := s.KeepAll(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(s.Path()); fi.Size() <= deadTailBytes {
		t.Fatalf("file of %d bytes is not larger than the tail window", fi.Size())
	}
	evs, err := s.Tail(100)
	if err != nil || len(evs) != 100 {
		t.Fatalf("tail: %d, %v", len(evs), err)
	}
	if evs[0].Reason != "junk 39900" || evs[99].Reason != "junk 39999" {
		t.Errorf("tail from %q to %q; want junk 39900..39999", evs[0].Reason, evs[99].Reason)
	}
}

func BenchmarkJunkBatch900KB(b *testing.B) {
	body := junkBatch(300_000)
	s, err := NewFileDeadStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	in := newIntake(&recordingSender{}, s)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := in.Handle(context.Background(), body); err != nil {
			b.Fatal(err)
		}
	}
}
