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
	"sync"
	"time"
	"unicode/utf8"
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
	Size       int       `json:"size"`
	Truncated  bool      `json:"truncated,omitempty"`
	Raw        *string   `json:"raw,omitempty"`
	RawBase64  []byte    `json:"rawBase64,omitempty"`
}

// MarshalJSON implements json.Marshaler.
func (d DeadEvent) MarshalJSON() ([]byte, error) {
	w := deadWire{ReceivedAt: d.ReceivedAt, Reason: d.Reason, Index: d.Index, EventID: d.EventID, Size: d.Size, Truncated: d.Truncated()}
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
	*d = DeadEvent{ReceivedAt: w.ReceivedAt, Reason: w.Reason, Index: w.Index, EventID: w.EventID, Size: w.Size}
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
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, ev)
	return nil
}

// Events returns a copy of the kept events, oldest first.
func (s *MemDeadStore) Events() []DeadEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// DeadFileName is the file a FileDeadStore appends to.
const DeadFileName = "dead-events.jsonl"

// DefaultMaxDeadFileBytes bounds a FileDeadStore's file: beyond it the file
// is moved to DeadFileName+".1" (replacing the older one) and a new one is
// started, so at most twice this is kept on disk.
const DefaultMaxDeadFileBytes = 64 << 20

// FileDeadStore appends dead events as JSON lines to DeadFileName in a
// directory. Each Keep or KeepAll is one write and one sync, whatever the
// number of events.
type FileDeadStore struct {
	// MaxBytes bounds the file (DefaultMaxDeadFileBytes when 0).
	MaxBytes int64

	mu   sync.Mutex
	path string
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

// KeepAll implements BatchDeadStore: one append and one sync.
func (s *FileDeadStore) KeepAll(_ context.Context, evs []DeadEvent) error {
	if len(evs) == 0 {
		return nil
	}
	var buf []byte
	for _, ev := range evs {
		line, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode dead event: %w", err)
		}
		buf = append(append(buf, line...), '\n')
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	max := s.MaxBytes
	if max <= 0 {
		max = DefaultMaxDeadFileBytes
	}
	if fi, err := os.Stat(s.path); err == nil && fi.Size()+int64(len(buf)) > max {
		if err := os.Rename(s.path, s.path+".1"); err != nil {
			return fmt.Errorf("dead event store %s: rotate: %w", s.path, err)
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

// Events reads back every kept event, oldest first (none when the file does
// not exist yet).
func (s *FileDeadStore) Events() ([]DeadEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ReadDeadEvents(s.path)
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
