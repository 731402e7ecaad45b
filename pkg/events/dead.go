package events

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/plautopilot/autopilot/pkg/redact"
)

// DeadEvent is an event the intake could not turn into a job: malformed, or
// classified but not enqueued because the queue failed (Event Grid then
// redelivers it; the copy makes sure nothing is lost if it never succeeds).
type DeadEvent struct {
	// Raw is the event as delivered, capped at MaxRawBytes.
	Raw []byte
	// Size is the length of the event before capping.
	Size int
	// Reason says what was wrong.
	Reason string
	// ReceivedAt is when the intake got the event.
	ReceivedAt time.Time
	// Index is the event's position in its delivery (-1 when unknown).
	Index int
	// EventID is the event's id when it could be read.
	EventID string
	// Source is who delivered it ("client 192.0.2.7", "client
	// 2001:db8:1:2::/64", "functions host"); "" when unknown. Quotas are
	// counted per source.
	Source string
}

// Truncated reports whether Raw was capped.
func (d DeadEvent) Truncated() bool { return d.Size > len(d.Raw) }

// deadWire is the JSON form of a DeadEvent: the raw bytes as text when they
// are UTF-8, else base64.
type deadWire struct {
	ReceivedAt time.Time `json:"receivedAt"`
	Reason     string    `json:"reason"`
	Index      int       `json:"index"`
	EventID    string    `json:"eventId,omitempty"`
	Source     string    `json:"source,omitempty"`
	Size       int       `json:"size"`
	Truncated  bool      `json:"truncated,omitempty"`
	Raw        *string   `json:"raw,omitempty"`
	RawBase64  []byte    `json:"rawBase64,omitempty"`
}

// MarshalJSON implements json.Marshaler.
func (d DeadEvent) MarshalJSON() ([]byte, error) {
	w := deadWire{ReceivedAt: d.ReceivedAt, Reason: d.Reason, Index: d.Index, EventID: d.EventID, Source: d.Source, Size: d.Size, Truncated: d.Truncated()}
	if utf8.Valid(d.Raw) {
		s := string(d.Raw)
		w.Raw = &s
	} else {
		w.RawBase64 = d.Raw
	}
	return json.Marshal(w)
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *DeadEvent) UnmarshalJSON(b []byte) error {
	var w deadWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*d = DeadEvent{ReceivedAt: w.ReceivedAt, Reason: w.Reason, Index: w.Index, EventID: w.EventID, Source: w.Source, Size: w.Size}
	if w.Raw != nil {
		d.Raw = []byte(*w.Raw)
	} else {
		d.Raw = w.RawBase64
	}
	return nil
}

// DeadStore keeps events the intake could not turn into jobs.
type DeadStore interface {
	Keep(ctx context.Context, ev DeadEvent) error
}

// BatchDeadStore keeps several dead events at once (one write, one sync).
type BatchDeadStore interface {
	KeepAll(ctx context.Context, evs []DeadEvent) error
}

// MaxDeadSample is how many malformed events of one delivery are kept one
// by one; the rest of the delivery's malformed events are counted in one
// summary dead event. A batch of junk then costs one bounded write.
const MaxDeadSample = 20

// KeepAll keeps evs in s: in one call when s is a BatchDeadStore, else one
// by one.
func KeepAll(ctx context.Context, s DeadStore, evs []DeadEvent) error {
	if b, ok := s.(BatchDeadStore); ok {
		return b.KeepAll(ctx, evs)
	}
	for _, ev := range evs {
		if err := s.Keep(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

// MemDeadStore is an in-memory DeadStore for tests and the demo.
type MemDeadStore struct {
	mu     sync.Mutex
	events []DeadEvent
}

// NewMemDeadStore returns an empty in-memory store.
func NewMemDeadStore() *MemDeadStore { return &MemDeadStore{} }

// Keep implements DeadStore.
func (s *MemDeadStore) Keep(_ context.Context, ev DeadEvent) error {
	ev.Reason = RedactReason(ev.Reason)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, ev)
	return nil
}

// MaxReasonBytes caps a dead event's reason as stored and served.
const MaxReasonBytes = 2 << 10

// RedactReason is a dead event's reason as it may be stored or shown:
// secrets the redact patterns know (a JWT, sig=, password=, keys, bearer
// credentials) replaced, capped at MaxReasonBytes. A reason quotes parts of
// the event (a field's value in a parse error), so it is input like any
// other.
func RedactReason(reason string) string { return redact.String(reason, MaxReasonBytes) }

// Events returns a copy of the kept events, oldest first.
func (s *MemDeadStore) Events() []DeadEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// DeadFileName is the file a FileDeadStore appends to.
const DeadFileName = "dead-events.jsonl"

// Defaults of a FileDeadStore's bounds.
const (
	// DefaultMaxDeadFileBytes bounds one generation of the file: beyond it
	// the file becomes DeadFileName+".1" (.1 becomes .2, and so on) and a
	// new one is started.
	DefaultMaxDeadFileBytes = 64 << 20
	// DefaultDeadGenerations is how many files are kept (the current one
	// and three rotated ones): at most 256 MiB on disk.
	DefaultDeadGenerations = 4
	// DefaultDeadSourceQuota is what one source may write one by one per
	// DefaultDeadQuotaWindow; beyond it its dead events are only counted,
	// in at most one summary line a minute.
	DefaultDeadSourceQuota = 1 << 20
	// DefaultDeadQuotaWindow is the window of the per-source quota.
	DefaultDeadQuotaWindow = time.Hour
	// maxDeadSources bounds the per-source bookkeeping; beyond it new
	// sources share one quota.
	maxDeadSources = 1024
	// summaryEvery is how often one source's over-quota summary is written.
	summaryEvery = time.Minute
)

// FileDeadStore appends dead events as JSON lines to DeadFileName in a
// directory. Each Keep or KeepAll is one write and one sync, whatever the
// number of events.
//
// A flood cannot flush earlier evidence: each source (DeadEvent.Source)
// may write SourceQuota bytes of dead events one by one per QuotaWindow;
// beyond that its events are counted, with their reasons, in one summary
// line per source and minute. So a source's flood costs at most its quota
// plus a few KiB of summaries an hour, and the files (Generations of them,
// MaxBytes each) rotate only after that many sources have flooded for that
// long. Reasons are redacted (RedactReason) before they are written.
type FileDeadStore struct {
	// MaxBytes bounds one generation (DefaultMaxDeadFileBytes when 0).
	MaxBytes int64
	// Generations is how many files are kept, the current one included
	// (DefaultDeadGenerations when 0).
	Generations int
	// SourceQuota is what one source may write one by one per QuotaWindow
	// (DefaultDeadSourceQuota when 0; negative: no quota).
	SourceQuota int64
	// QuotaWindow is the quota's window (DefaultDeadQuotaWindow when 0).
	QuotaWindow time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu      sync.Mutex
	path    string
	sources map[string]*sourceQuota
}

// sourceQuota is one source's use of its quota in the current window, and
// what it sent beyond it that no summary line counted yet.
type sourceQuota struct {
	windowStart time.Time
	used        int64
	// over quota, not yet in a summary line
	dropped, droppedBytes int
	reasons               []string
	since                 time.Time
	lastSummary           time.Time
}

// NewFileDeadStore returns a store writing to dir/DeadFileName, creating
// dir if needed.
func NewFileDeadStore(dir string) (*FileDeadStore, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("dead event store %s: %w", dir, err)
	}
	return &FileDeadStore{path: filepath.Join(dir, DeadFileName)}, nil
}

// Path is the JSONL file the store appends to.
func (s *FileDeadStore) Path() string { return s.path }

// Keep implements DeadStore.
func (s *FileDeadStore) Keep(ctx context.Context, ev DeadEvent) error {
	return s.KeepAll(ctx, []DeadEvent{ev})
}

func (s *FileDeadStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// quotaOf returns the bookkeeping of a source (sources beyond
// maxDeadSources share one).
func (s *FileDeadStore) quotaOf(source string, now time.Time) *sourceQuota {
	if s.sources == nil {
		s.sources = map[string]*sourceQuota{}
	}
	q, ok := s.sources[source]
	if !ok {
		if len(s.sources) >= maxDeadSources {
			source = "(other sources)"
			if q = s.sources[source]; q != nil {
				return q
			}
		}
		q = &sourceQuota{windowStart: now}
		s.sources[source] = q
	}
	return q
}

// KeepAll implements BatchDeadStore: one append and one sync, within the
// sources' quotas (see FileDeadStore).
func (s *FileDeadStore) KeepAll(_ context.Context, evs []DeadEvent) error {
	if len(evs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	quota, window := s.SourceQuota, s.QuotaWindow
	if quota == 0 {
		quota = DefaultDeadSourceQuota
	}
	if window <= 0 {
		window = DefaultDeadQuotaWindow
	}
	now := s.now()
	var buf []byte
	for _, ev := range evs {
		ev.Reason = RedactReason(ev.Reason)
		line, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode dead event: %w", err)
		}
		if quota > 0 {
			q := s.quotaOf(ev.Source, now)
			if now.Sub(q.windowStart) >= window {
				q.windowStart, q.used = now, 0
			}
			if q.used+int64(len(line)) > quota {
				if q.dropped == 0 {
					q.since = now
				}
				q.dropped++
				q.droppedBytes += ev.Size
				if len(q.reasons) < 3 && !slices.Contains(q.reasons, ev.Reason) {
					q.reasons = append(q.reasons, ev.Reason)
				}
				continue
			}
			q.used += int64(len(line))
		}
		buf = append(append(buf, line...), '\n')
	}
	sums, err := s.summaries(now, false)
	if err != nil {
		return err
	}
	buf = append(buf, sums...)
	if len(buf) == 0 {
		return nil
	}
	return s.append(buf)
}

// Flush writes the summary lines of what the sources sent over their quota
// and no line counted yet (KeepAll writes them at most once a minute per
// source); call it before the process stops.
func (s *FileDeadStore) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf, err := s.summaries(s.now(), true)
	if err != nil || len(buf) == 0 {
		return err
	}
	return s.append(buf)
}

// summaries returns the summary lines due: for each source with events
// over its quota not yet counted, at most one a minute unless all.
func (s *FileDeadStore) summaries(now time.Time, all bool) ([]byte, error) {
	quota, window := s.SourceQuota, s.QuotaWindow
	if quota == 0 {
		quota = DefaultDeadSourceQuota
	}
	if window <= 0 {
		window = DefaultDeadQuotaWindow
	}
	srcs := make([]string, 0, len(s.sources))
	for src := range s.sources {
		srcs = append(srcs, src)
	}
	slices.Sort(srcs)
	var buf []byte
	for _, src := range srcs {
		q := s.sources[src]
		if q.dropped == 0 || (!all && now.Sub(q.lastSummary) < summaryEvery) {
			continue
		}
		line, err := json.Marshal(DeadEvent{ReceivedAt: now, Index: -1, Source: src, Size: q.droppedBytes, Reason: RedactReason(fmt.Sprintf(
			"%d more dead events from this source since %s, counted but not kept one by one: over its quota of %d bytes per %s (reasons include: %s)",
			q.dropped, q.since.UTC().Format(time.RFC3339), quota, window, strings.Join(q.reasons, "; ")))})
		if err != nil {
			return nil, fmt.Errorf("encode dead event summary: %w", err)
		}
		buf = append(append(buf, line...), '\n')
		q.dropped, q.droppedBytes, q.reasons, q.lastSummary = 0, 0, nil, now
	}
	return buf, nil
}

// append writes buf to the current file, rotating the generations first
// when it would grow beyond MaxBytes.
func (s *FileDeadStore) append(buf []byte) error {
	max := s.MaxBytes
	if max <= 0 {
		max = DefaultMaxDeadFileBytes
	}
	if fi, err := os.Stat(s.path); err == nil && fi.Size()+int64(len(buf)) > max {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("dead event store: %w", err)
	}
	if _, err := f.Write(buf); err != nil {
		_ = f.Close()
		return fmt.Errorf("dead event store %s: %w", s.path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("dead event store %s: %w", s.path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("dead event store %s: %w", s.path, err)
	}
	return nil
}

// generations returns how many files are kept.
func (s *FileDeadStore) generations() int {
	if s.Generations <= 0 {
		return DefaultDeadGenerations
	}
	return s.Generations
}

// genPath is the file of generation i (0: the current one).
func (s *FileDeadStore) genPath(i int) string {
	if i == 0 {
		return s.path
	}
	return s.path + "." + strconv.Itoa(i)
}

// rotate shifts every generation one up (the oldest is replaced).
func (s *FileDeadStore) rotate() error {
	for i := s.generations() - 1; i >= 1; i-- {
		if err := os.Rename(s.genPath(i-1), s.genPath(i)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("dead event store %s: rotate: %w", s.path, err)
		}
	}
	return nil
}

// deadTailBytes is how much of the end of the file Tail reads.
const deadTailBytes = 1 << 20

// Tail returns up to n of the most recent dead events, oldest first,
// reading at most the last MiB of the file (status pages call it; it must
// not read a large file whole).
func (s *FileDeadStore) Tail(n int) ([]DeadEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.Open(s.path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read dead events: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read dead events: %w", err)
	}
	off := max(fi.Size()-deadTailBytes, 0)
	buf := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read dead events %s: %w", s.path, err)
	}
	if off > 0 { // drop the partial first line
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		} else {
			buf = nil
		}
	}
	var out []DeadEvent
	for line := range bytes.SplitSeq(buf, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var ev DeadEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			continue // a torn line (crash mid-write) is skipped in a tail
		}
		out = append(out, ev)
	}
	if n > 0 && len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}

// Events reads back every kept event of every generation, oldest first
// (none when no file exists yet).
func (s *FileDeadStore) Events() ([]DeadEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []DeadEvent
	for i := s.generations() - 1; i >= 0; i-- {
		evs, err := ReadDeadEvents(s.genPath(i))
		out = append(out, evs...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// ReadDeadEvents reads a dead event JSONL file.
func ReadDeadEvents(path string) ([]DeadEvent, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read dead events: %w", err)
	}
	defer f.Close()
	var out []DeadEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var ev DeadEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return out, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read dead events %s: %w", path, err)
	}
	return out, nil
}
