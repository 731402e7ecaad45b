package outcome

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/rs/zerolog"
)

// LogSink writes each event as one structured log line.
type LogSink struct {
	Log zerolog.Logger
}

// NewLogSink returns a sink logging to log.
func NewLogSink(log zerolog.Logger) *LogSink { return &LogSink{Log: log} }

// Publish logs every event at info level (failed outcomes at warn).
func (s *LogSink) Publish(_ context.Context, events []Event) error {
	for _, e := range events {
		ev := s.Log.Info()
		if e.Data.Result == ResultFailed || e.Type == JobFailed || e.Type == VerifyFailed {
			ev = s.Log.Warn()
		}
		ev.Str("outcome", string(e.Type)).
			Str("subject", e.Subject).
			Str("id", e.ID).
			Str("rule", e.Data.Rule).
			Str("reason", e.Data.Reason).
			Str("before", e.Data.Before).
			Str("after", e.Data.After).
			Str("result", e.Data.Result).
			Str("mode", e.Data.Mode).
			Str("target", e.Data.Target).
			Str("zone", e.Data.Zone).
			Str("error", e.Data.Error).
			Str("correlationId", e.Data.CorrelationID).
			Str("jobId", e.Data.JobID).
			Msg("outcome")
	}
	return nil
}

// MemorySink keeps the most recent events in memory. It is safe for
// concurrent use.
type MemorySink struct {
	mu     sync.Mutex
	max    int
	events []Event
	total  int
}

// NewMemorySink returns a sink keeping the last max events (max <= 0 keeps
// 1000).
func NewMemorySink(max int) *MemorySink {
	if max <= 0 {
		max = 1000
	}
	return &MemorySink{max: max}
}

// Publish stores the events, dropping the oldest beyond the capacity.
func (s *MemorySink) Publish(_ context.Context, events []Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, events...)
	s.total += len(events)
	if over := len(s.events) - s.max; over > 0 {
		s.events = append([]Event(nil), s.events[over:]...)
	}
	return nil
}

// Events returns a copy of the kept events, oldest first.
func (s *MemorySink) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Recent returns up to n most recent events, newest last.
func (s *MemorySink) Recent(n int) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > len(s.events) || n < 0 {
		n = len(s.events)
	}
	return append([]Event(nil), s.events[len(s.events)-n:]...)
}

// ByType returns the kept events of the given types, oldest first.
func (s *MemorySink) ByType(types ...Type) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Event
	for _, e := range s.events {
		for _, t := range types {
			if e.Type == t {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// Total is the number of events ever published, kept or not.
func (s *MemorySink) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// FileSink appends events as JSON lines to one file per UTC day
// (outcomes-YYYY-MM-DD.jsonl) in a folder.
type FileSink struct {
	dir string
	mu  sync.Mutex
}

// NewFileSink returns a sink writing into dir, creating it when missing.
func NewFileSink(dir string) (*FileSink, error) {
	if dir == "" {
		return nil, errors.New("outcome file sink: empty folder name")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("outcome file sink: create folder %s: %w", dir, err)
	}
	return &FileSink{dir: dir}, nil
}

// Dir is the folder the sink writes to.
func (s *FileSink) Dir() string { return s.dir }

// Publish appends the events, one JSON object per line.
func (s *FileSink) Publish(_ context.Context, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	byFile := map[string][]byte{}
	var order []string
	for _, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("outcome file sink: encode event %s: %w", e.ID, err)
		}
		name := filepath.Join(s.dir, "outcomes-"+e.Time.UTC().Format("2006-01-02")+".jsonl")
		if _, ok := byFile[name]; !ok {
			order = append(order, name)
		}
		byFile[name] = append(append(byFile[name], b...), '\n')
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range order {
		f, err := os.OpenFile(name, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return fmt.Errorf("outcome file sink: open %s: %w", name, err)
		}
		_, werr := f.Write(byFile[name])
		cerr := f.Close()
		if err := errors.Join(werr, cerr); err != nil {
			return fmt.Errorf("outcome file sink: write %s: %w", name, err)
		}
	}
	return nil
}

// Multi publishes to every sink, even when one fails, and returns the
// joined errors.
type Multi []Sink

// Publish sends the events to every sink.
func (m Multi) Publish(ctx context.Context, events []Event) error {
	var errs []error
	for _, s := range m {
		if s == nil {
			continue
		}
		if err := s.Publish(ctx, events); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Discard drops every event (for callers that record nothing).
type Discard struct{}

// Publish does nothing.
func (Discard) Publish(context.Context, []Event) error { return nil }
