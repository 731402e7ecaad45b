package embedded

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/jobs"
)

// Queue is one named queue of a Store. It implements jobs.Queue,
// jobs.Abandoner, jobs.StatsReporter and jobs.DeadLetterLister.
type Queue struct {
	s    *Store
	name string

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever jobs may have become receivable
	// scheduled maps the message id of a job sent for later to its
	// sequence number, for Wake (process memory: a reopened store wakes
	// nothing, the jobs simply run when due).
	scheduled map[string]uint64
}

var (
	_ jobs.Queue            = (*Queue)(nil)
	_ jobs.Abandoner        = (*Queue)(nil)
	_ jobs.StatsReporter    = (*Queue)(nil)
	_ jobs.DeadLetterLister = (*Queue)(nil)
	_ jobs.Waker            = (*Queue)(nil)
)

// Name is the queue's name.
func (q *Queue) Name() string { return q.name }

func (q *Queue) now() time.Time { return q.s.opts.Clock.Now().UTC() }

func (q *Queue) wake() {
	q.mu.Lock()
	close(q.changed)
	q.changed = make(chan struct{})
	q.mu.Unlock()
}

func (q *Queue) changedCh() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.changed
}

// Send enqueues job, due at job.NotBefore (or now). A job whose id was sent
// within the dedup window is collapsed: nil error, nothing enqueued.
func (q *Queue) Send(ctx context.Context, job jobs.Job) error {
	if err := job.Validate(); err != nil {
		return fmt.Errorf("send job %s to queue %q: %w", job.ID, q.name, err)
	}
	var added bool
	err := q.s.update(func(tx *bolt.Tx) error {
		bs, err := queueBuckets(tx, q.name, true)
		if err != nil {
			return err
		}
		added, err = q.enqueue(bs, job, q.now())
		return err
	})
	if err != nil {
		return fmt.Errorf("send job %s to queue %q: %w", job.ID, q.name, err)
	}
	if added {
		q.wake()
	}
	return nil
}

// enqueue adds job unless its id is within the dedup window.
func (q *Queue) enqueue(bs buckets, job jobs.Job, now time.Time) (bool, error) {
	if err := pruneDedup(bs, now); err != nil {
		return false, err
	}
	if w := q.s.opts.DedupWindow; w > 0 {
		if v := bs.dedup.Get([]byte(job.ID)); v != nil && int64(binaryU64(v)) > now.UnixNano() {
			return false, nil
		} else if v != nil {
			if err := bs.dedupExp.Delete(append(v[:8:8], job.ID...)); err != nil {
				return false, err
			}
		}
		exp := u64(timeKey(now.Add(w)))
		if err := bs.dedup.Put([]byte(job.ID), exp); err != nil {
			return false, err
		}
		if err := bs.dedupExp.Put(append(exp[:8:8], job.ID...), nil); err != nil {
			return false, err
		}
	}
	seq, err := bs.msgs.NextSequence()
	if err != nil {
		return false, err
	}
	due := job.NotBefore.UTC()
	if due.IsZero() {
		due = now
	}
	r := &record{Seq: seq, MessageID: job.ID, Job: job, EnqueuedAt: now, DueAt: due}
	if err := putRecord(bs, r); err != nil {
		return false, err
	}
	if due.After(now) {
		q.mu.Lock()
		if q.scheduled == nil {
			q.scheduled = map[string]uint64{}
		}
		q.scheduled[job.ID] = seq
		q.mu.Unlock()
	}
	return true, bs.index.Put(indexKey(due, seq), []byte{stateAvailable})
}

func binaryU64(b []byte) uint64 {
	if len(b) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// pruneDedup forgets up to 256 expired message ids per call.
func pruneDedup(bs buckets, now time.Time) error {
	var expired [][]byte
	c := bs.dedupExp.Cursor()
	for k, _ := c.First(); k != nil && len(expired) < 256; k, _ = c.Next() {
		if int64(binaryU64(k)) > now.UnixNano() {
			break
		}
		expired = append(expired, append([]byte(nil), k...))
	}
	for _, k := range expired {
		id := k[8:]
		if v := bs.dedup.Get(id); v != nil && binaryU64(v) == binaryU64(k) {
			if err := bs.dedup.Delete(id); err != nil {
				return err
			}
		}
		if err := bs.dedupExp.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Receive waits until at least one job is due (or ctx ends, or the store is
// closed) and returns up to max of them, each locked for LockDuration with
// its delivery count raised. A job already delivered MaxDeliveries times is
// dead-lettered (MaxDeliveryCountExceeded) instead of delivered again.
func (q *Queue) Receive(ctx context.Context, n int) ([]jobs.Delivery, error) {
	n = max(n, 1)
	var clockCh func() <-chan struct{}
	if n, ok := q.s.opts.Clock.(clock.Notifier); ok {
		clockCh = n.Changed
	}
	for {
		changed := q.changedCh()
		var clockChanged <-chan struct{}
		if clockCh != nil {
			clockChanged = clockCh()
		}
		ds, next, err := q.tryReceive(n)
		if err != nil || len(ds) > 0 {
			return ds, err
		}
		wait := q.s.opts.PollInterval
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(q.now()), time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("receive from queue %q: %w", q.name, ctx.Err())
		case <-q.s.closed:
			t.Stop()
			return nil, fmt.Errorf("receive from queue %q: %w", q.name, jobs.ErrClosed)
		case <-changed:
		case <-clockChanged:
		case <-t.C:
		}
		t.Stop()
	}
}

// tryReceive locks up to n due jobs; with none due it returns the time the
// next one becomes due (zero if the queue is empty).
func (q *Queue) tryReceive(n int) ([]jobs.Delivery, time.Time, error) {
	var (
		out  []jobs.Delivery
		next time.Time
	)
	err := q.s.update(func(tx *bolt.Tx) error {
		bs, err := queueBuckets(tx, q.name, false)
		if err != nil || bs.msgs == nil {
			return err
		}
		now := q.now()
		type due struct {
			key []byte
			rec *record
		}
		var picked []due
		deliverable := 0
		c := bs.index.Cursor()
		for k, _ := c.First(); k != nil && deliverable < n; k, _ = c.Next() {
			t, seq := splitIndexKey(k)
			if t.After(now) {
				next = t
				break
			}
			r, err := getRecord(bs, seq)
			if err != nil {
				return err
			}
			if r == nil {
				return fmt.Errorf("index entry %d without a message", seq)
			}
			picked = append(picked, due{append([]byte(nil), k...), r})
			if r.DeliveryCount < q.s.opts.MaxDeliveries {
				deliverable++
			}
		}
		if len(picked) > 0 {
			q.mu.Lock()
			for _, p := range picked {
				delete(q.scheduled, p.rec.MessageID)
			}
			q.mu.Unlock()
		}
		for _, p := range picked {
			if err := bs.index.Delete(p.key); err != nil {
				return err
			}
			r := p.rec
			if r.DeliveryCount >= q.s.opts.MaxDeliveries {
				desc := fmt.Sprintf("delivered %d times without being settled (lock expired or abandoned)", r.DeliveryCount)
				if err := q.deadLetter(bs, r, jobs.DeadLetterReasonMaxDelivery, desc, now); err != nil {
					return err
				}
				continue
			}
			r.DeliveryCount++
			r.LockToken = newLockToken(r.Seq, r.DeliveryCount)
			r.LockedUntil = now.Add(q.s.opts.LockDuration)
			if err := putRecord(bs, r); err != nil {
				return err
			}
			if err := bs.index.Put(indexKey(r.LockedUntil, r.Seq), []byte{stateLocked}); err != nil {
				return err
			}
			out = append(out, delivery(r))
		}
		if len(out) == 0 && next.IsZero() {
			if k, _ := bs.index.Cursor().First(); k != nil {
				next, _ = splitIndexKey(k)
			}
		}
		return nil
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("receive from queue %q: %w", q.name, err)
	}
	return out, next, nil
}

func delivery(r *record) jobs.Delivery {
	return jobs.Delivery{
		Job:           r.Job,
		MessageID:     r.MessageID,
		LockToken:     r.LockToken,
		DeliveryCount: r.DeliveryCount,
		EnqueuedAt:    r.EnqueuedAt,
		LockedUntil:   r.LockedUntil,
	}
}

func (q *Queue) deadLetter(bs buckets, r *record, reason, description string, now time.Time) error {
	dl := jobs.DeadLetter{
		Job:            r.Job,
		MessageID:      r.MessageID,
		Reason:         reason,
		Description:    description,
		DeliveryCount:  r.DeliveryCount,
		EnqueuedAt:     r.EnqueuedAt,
		DeadLetteredAt: now,
	}
	v, err := json.Marshal(dl)
	if err != nil {
		return err
	}
	if err := bs.dead.Put(u64(r.Seq), v); err != nil {
		return err
	}
	return bs.msgs.Delete(u64(r.Seq))
}

// settle runs fn on the record locked by d's lock token, in one transaction.
// A token that does not hold the lock any more gives jobs.ErrLockLost.
func (q *Queue) settle(op string, d jobs.Delivery, fn func(bs buckets, r *record, now time.Time) error) error {
	seq, ok := tokenSeq(d.LockToken)
	if !ok {
		return fmt.Errorf("%s job %s on queue %q: malformed lock token %q", op, d.MessageID, q.name, d.LockToken)
	}
	err := q.s.update(func(tx *bolt.Tx) error {
		bs, err := queueBuckets(tx, q.name, false)
		if err != nil {
			return err
		}
		if bs.msgs == nil {
			return fmt.Errorf("%w: queue is empty", jobs.ErrLockLost)
		}
		r, err := getRecord(bs, seq)
		if err != nil {
			return err
		}
		now := q.now()
		switch {
		case r == nil:
			return fmt.Errorf("%w: the job was already settled", jobs.ErrLockLost)
		case r.LockToken != d.LockToken:
			return fmt.Errorf("%w: the lock expired and the job was delivered again (delivery %d)", jobs.ErrLockLost, r.DeliveryCount)
		case !now.Before(r.LockedUntil):
			return fmt.Errorf("%w: the lock expired at %s", jobs.ErrLockLost, r.LockedUntil.Format(time.RFC3339Nano))
		}
		if err := bs.index.Delete(indexKey(r.LockedUntil, r.Seq)); err != nil {
			return err
		}
		return fn(bs, r, now)
	})
	if err != nil {
		return fmt.Errorf("%s job %s on queue %q: %w", op, d.MessageID, q.name, err)
	}
	return nil
}

// Complete removes a delivered job.
func (q *Queue) Complete(ctx context.Context, d jobs.Delivery) error {
	return q.settle("complete", d, func(bs buckets, r *record, _ time.Time) error {
		return bs.msgs.Delete(u64(r.Seq))
	})
}

// Retry enqueues d.Job.Next(delay, now) and completes d, atomically. The
// retry is subject to duplicate detection like any send.
func (q *Queue) Retry(ctx context.Context, d jobs.Delivery, delay time.Duration) error {
	added := false
	err := q.settle("retry", d, func(bs buckets, r *record, now time.Time) error {
		next := d.Job.Next(delay, now)
		if err := next.Validate(); err != nil {
			return err
		}
		var err error
		if added, err = q.enqueue(bs, next, now); err != nil {
			return err
		}
		return bs.msgs.Delete(u64(r.Seq))
	})
	if added {
		q.wake()
	}
	return err
}

// DeadLetter moves a delivered job to the dead-letter store.
func (q *Queue) DeadLetter(ctx context.Context, d jobs.Delivery, reason, description string) error {
	return q.settle("dead-letter", d, func(bs buckets, r *record, now time.Time) error {
		return q.deadLetter(bs, r, reason, description, now)
	})
}

// Abandon releases d's lock: the job is receivable again at once, in its
// original place, with its delivery count kept; at MaxDeliveries it is
// dead-lettered instead.
func (q *Queue) Abandon(ctx context.Context, d jobs.Delivery) error {
	err := q.settle("abandon", d, func(bs buckets, r *record, now time.Time) error {
		if r.DeliveryCount >= q.s.opts.MaxDeliveries {
			desc := fmt.Sprintf("delivered %d times without being settled (lock expired or abandoned)", r.DeliveryCount)
			return q.deadLetter(bs, r, jobs.DeadLetterReasonMaxDelivery, desc, now)
		}
		r.LockToken, r.LockedUntil = "", time.Time{}
		if err := putRecord(bs, r); err != nil {
			return err
		}
		return bs.index.Put(indexKey(r.DueAt, r.Seq), []byte{stateAvailable})
	})
	if err == nil {
		q.wake()
	}
	return err
}

// Wake makes the scheduled jobs with these message ids due now (see
// jobs.Waker). Jobs already due, delivered or settled are left alone.
func (q *Queue) Wake(ctx context.Context, ids ...string) error {
	q.mu.Lock()
	seqs := make([]uint64, 0, len(ids))
	for _, id := range ids {
		if seq, ok := q.scheduled[id]; ok {
			seqs = append(seqs, seq)
			delete(q.scheduled, id)
		}
	}
	q.mu.Unlock()
	if len(seqs) == 0 {
		return nil
	}
	woke := false
	err := q.s.update(func(tx *bolt.Tx) error {
		bs, err := queueBuckets(tx, q.name, false)
		if err != nil || bs.msgs == nil {
			return err
		}
		now := q.now()
		for _, seq := range seqs {
			r, err := getRecord(bs, seq)
			if err != nil {
				return err
			}
			if r == nil || r.DeliveryCount > 0 || !r.DueAt.After(now) {
				continue
			}
			if v := bs.index.Get(indexKey(r.DueAt, seq)); v == nil || v[0] != stateAvailable {
				continue
			}
			if err := bs.index.Delete(indexKey(r.DueAt, seq)); err != nil {
				return err
			}
			r.DueAt = now
			if err := putRecord(bs, r); err != nil {
				return err
			}
			if err := bs.index.Put(indexKey(now, seq), []byte{stateAvailable}); err != nil {
				return err
			}
			woke = true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("wake jobs of queue %q: %w", q.name, err)
	}
	if woke {
		q.wake()
	}
	return nil
}

// Stats reports the queue's depth.
func (q *Queue) Stats(ctx context.Context) (jobs.Stats, error) {
	var st jobs.Stats
	err := q.s.view(func(tx *bolt.Tx) error {
		bs, err := queueBuckets(tx, q.name, false)
		if err != nil || bs.msgs == nil {
			return err
		}
		now := q.now()
		c := bs.index.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			t, _ := splitIndexKey(k)
			switch {
			case !t.After(now):
				st.Active++
			case len(v) > 0 && v[0] == stateLocked:
				st.Locked++
			default:
				st.Scheduled++
			}
			if t.After(now) && st.NextDue.IsZero() {
				st.NextDue = t
			}
		}
		st.DeadLettered = bs.dead.Stats().KeyN
		return nil
	})
	if err != nil {
		return jobs.Stats{}, fmt.Errorf("stats of queue %q: %w", q.name, err)
	}
	return st, nil
}

// DeadLetters lists the queue's dead letters, oldest enqueued first.
func (q *Queue) DeadLetters(ctx context.Context) ([]jobs.DeadLetter, error) {
	var out []jobs.DeadLetter
	err := q.s.view(func(tx *bolt.Tx) error {
		bs, err := queueBuckets(tx, q.name, false)
		if err != nil || bs.dead == nil {
			return err
		}
		return bs.dead.ForEach(func(k, v []byte) error {
			var dl jobs.DeadLetter
			if err := json.Unmarshal(v, &dl); err != nil {
				return fmt.Errorf("corrupt dead letter %x: %w", k, err)
			}
			out = append(out, dl)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("dead letters of queue %q: %w", q.name, err)
	}
	return out, nil
}

// Resubmit moves the dead letter with the given message id back onto the
// queue as a fresh delivery (delivery count 0, due now), bypassing duplicate
// detection. It reports whether such a dead letter existed.
func (q *Queue) Resubmit(ctx context.Context, messageID string) (bool, error) {
	found := false
	err := q.s.update(func(tx *bolt.Tx) error {
		bs, err := queueBuckets(tx, q.name, true)
		if err != nil {
			return err
		}
		var key []byte
		var dl jobs.DeadLetter
		c := bs.dead.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if err := json.Unmarshal(v, &dl); err != nil {
				return fmt.Errorf("corrupt dead letter %x: %w", k, err)
			}
			if dl.MessageID == messageID {
				key = append([]byte(nil), k...)
				break
			}
		}
		if key == nil {
			return nil
		}
		found = true
		seq, err := bs.msgs.NextSequence()
		if err != nil {
			return err
		}
		now := q.now()
		job := dl.Job
		job.NotBefore = time.Time{}
		r := &record{Seq: seq, MessageID: dl.MessageID, Job: job, EnqueuedAt: now, DueAt: now}
		if err := putRecord(bs, r); err != nil {
			return err
		}
		if err := bs.index.Put(indexKey(now, seq), []byte{stateAvailable}); err != nil {
			return err
		}
		return bs.dead.Delete(key)
	})
	if err != nil {
		return false, fmt.Errorf("resubmit %s on queue %q: %w", messageID, q.name, err)
	}
	if found {
		q.wake()
	}
	return found, nil
}
