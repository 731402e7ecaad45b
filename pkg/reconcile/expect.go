package reconcile

import (
	"sync"
	"time"
)

// DefaultExpectTTL is how long the record of a change written by this
// process is kept (it matters only to jobs that gathered before the write).
const DefaultExpectTTL = 10 * time.Minute

// expectations is the process-local record of changes being written or
// written lately (the "expectations" of Kubernetes controllers): two jobs
// that gathered the same missing link or pending connection before either
// wrote it would otherwise both send the write, and the second (a 412, or
// an approval of an approved connection) costs ARM write tokens for
// nothing. A change another job has in flight, or wrote after this job
// gathered (so this job's reading could not show it), is reported unchanged
// without a call. A change written before the job gathered is written
// again: the job's reading says it was undone since.
type expectations struct {
	mu       sync.Mutex
	inflight map[string]string    // change key -> job id
	written  map[string]time.Time // change key -> when written
}

func newExpectations() *expectations {
	return &expectations{inflight: map[string]string{}, written: map[string]time.Time{}}
}

// claim reports "" when the caller may write the change (and marks it in
// flight), else why not: another job writes or wrote it.
func (e *expectations) claim(key, jobID string, gathered time.Time) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if other, ok := e.inflight[key]; ok && other != jobID {
		return "being written by job " + other
	}
	if at, ok := e.written[key]; ok && !at.Before(gathered) {
		return "written by another job after this one read the state"
	}
	e.inflight[key] = jobID
	return ""
}

// release ends a claim; ok records the change as written at now. Records
// older than ttl are dropped (no job gathers that long before writing).
func (e *expectations) release(key string, ok bool, now time.Time, ttl time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.inflight, key)
	if ok {
		e.written[key] = now
		if len(e.written) > 4096 {
			for k, at := range e.written {
				if now.Sub(at) > ttl {
					delete(e.written, k)
				}
			}
		}
	}
}
