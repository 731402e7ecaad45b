package embedded

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/jobs"
)

// Options tunes a Store. Zero values take the defaults.
type Options struct {
	// LockDuration is how long a received job stays locked (default 1m).
	LockDuration time.Duration
	// MaxDeliveries is how many deliveries a job gets before it is
	// dead-lettered with reason MaxDeliveryCountExceeded (default 10).
	MaxDeliveries int
	// DedupWindow is how long a sent message id suppresses duplicates
	// (default 10m; negative disables duplicate detection).
	DedupWindow time.Duration
	// Clock tells the time (default the wall clock). A clock.Fake makes
	// lock expiry and schedules follow simulated time.
	Clock clock.Clock
	// NoSync skips fsync on commit: faster, not crash-safe. Tests and
	// benchmarks only.
	NoSync bool
	// PollInterval bounds how long Receive sleeps before looking again even
	// when nothing told it to (default 5s). Sends, settlements and clock.Fake
	// moves wake it at once; this is only a safety net.
	PollInterval time.Duration
	// OpenTimeout is how long Open waits for another process holding the
	// file to let go (default 2s).
	OpenTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.LockDuration <= 0 {
		o.LockDuration = time.Minute
	}
	if o.MaxDeliveries <= 0 {
		o.MaxDeliveries = 10
	}
	if o.DedupWindow == 0 {
		o.DedupWindow = 10 * time.Minute
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 5 * time.Second
	}
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = 2 * time.Second
	}
	return o
}

// Store is one bbolt file holding several named queues.
type Store struct {
	db     *bolt.DB
	path   string
	opts   Options
	closed chan struct{}

	mu     sync.Mutex
	queues map[string]*Queue
	once   sync.Once
}

// Open opens (creating if needed) the queue store at path.
func Open(path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.OpenTimeout, NoSync: opts.NoSync, NoFreelistSync: opts.NoSync})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open queue store %s: locked by another process after %s: %w", path, opts.OpenTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open queue store %s: %w", path, err)
	}
	return &Store{db: db, path: path, opts: opts, closed: make(chan struct{}), queues: map[string]*Queue{}}, nil
}

// Size is the size in bytes of the data in the store (its high-water mark
// of pages; the file itself grows in larger steps).
func (s *Store) Size() (int64, error) {
	var n int64
	err := s.view(func(tx *bolt.Tx) error {
		n = tx.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("size of queue store %s: %w", s.path, err)
	}
	return n, nil
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// Close closes the store; blocked Receive calls return jobs.ErrClosed.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		close(s.closed)
		err = s.db.Close()
	})
	if err != nil {
		return fmt.Errorf("close queue store %s: %w", s.path, err)
	}
	return nil
}

// Queue returns the named queue (created on first send). The same name gives
// the same *Queue.
func (s *Store) Queue(name string) *Queue {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queues[name]
	if !ok {
		q = &Queue{s: s, name: name, changed: make(chan struct{})}
		s.queues[name] = q
	}
	return q
}

// Queues lists the names of the queues that hold or held jobs.
func (s *Store) Queues() ([]string, error) {
	var names []string
	err := s.view(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			if n, ok := strings.CutPrefix(string(name), queuePrefix); ok {
				names = append(names, n)
			}
			return nil
		})
	})
	return names, err
}

// DeadLetters lists the dead letters of the named queue, oldest first.
func (s *Store) DeadLetters(name string) ([]jobs.DeadLetter, error) {
	return s.Queue(name).DeadLetters(context.Background())
}

// Stats reports the depth of the named queue.
func (s *Store) Stats(name string) (jobs.Stats, error) {
	return s.Queue(name).Stats(context.Background())
}

func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	select {
	case <-s.closed:
		return jobs.ErrClosed
	default:
	}
	return mapClosed(s.db.View(fn))
}

func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	select {
	case <-s.closed:
		return jobs.ErrClosed
	default:
	}
	return mapClosed(s.db.Update(fn))
}

func mapClosed(err error) error {
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("%w: %w", jobs.ErrClosed, err)
	}
	return err
}

// Layout: one top-level bucket per queue, "queue/<name>", holding
//
//	msgs     seq(8)              -> record JSON
//	index    due(8) seq(8)       -> state byte ('a' available at due, 'l' locked until due)
//	dedup    message id          -> expiry(8)
//	dedupexp expiry(8) message id -> nil
//	dead     seq(8)              -> jobs.DeadLetter JSON
//
// Times are Unix nanoseconds, big-endian, so byte order is time order and the
// index's first key is the next job to deliver (due time, then sequence).
const queuePrefix = "queue/"

var (
	bMsgs     = []byte("msgs")
	bIndex    = []byte("index")
	bDedup    = []byte("dedup")
	bDedupExp = []byte("dedupexp")
	bDead     = []byte("dead")
)

const (
	stateAvailable = 'a'
	stateLocked    = 'l'
)

type record struct {
	Seq           uint64    `json:"seq"`
	MessageID     string    `json:"messageId"`
	Job           jobs.Job  `json:"job"`
	EnqueuedAt    time.Time `json:"enqueuedAt"`
	DueAt         time.Time `json:"dueAt"`
	DeliveryCount int       `json:"deliveryCount"`
	LockToken     string    `json:"lockToken,omitempty"`
	LockedUntil   time.Time `json:"lockedUntil,omitzero"`
}

type buckets struct{ msgs, index, dedup, dedupExp, dead *bolt.Bucket }

func queueBuckets(tx *bolt.Tx, name string, create bool) (buckets, error) {
	key := []byte(queuePrefix + name)
	var root *bolt.Bucket
	if create {
		var err error
		if root, err = tx.CreateBucketIfNotExists(key); err != nil {
			return buckets{}, fmt.Errorf("create queue %q: %w", name, err)
		}
		var bs buckets
		for _, p := range []struct {
			b    **bolt.Bucket
			name []byte
		}{{&bs.msgs, bMsgs}, {&bs.index, bIndex}, {&bs.dedup, bDedup}, {&bs.dedupExp, bDedupExp}, {&bs.dead, bDead}} {
			if *p.b, err = root.CreateBucketIfNotExists(p.name); err != nil {
				return buckets{}, fmt.Errorf("create queue %q: %w", name, err)
			}
		}
		bs.fill()
		return bs, nil
	}
	if root = tx.Bucket(key); root == nil {
		return buckets{}, nil
	}
	bs := buckets{msgs: root.Bucket(bMsgs), index: root.Bucket(bIndex), dedup: root.Bucket(bDedup), dedupExp: root.Bucket(bDedupExp), dead: root.Bucket(bDead)}
	bs.fill()
	return bs, nil
}

// fill packs pages of the buckets whose keys mostly grow (sequence numbers,
// times) fuller than bbolt's default half, which suits random keys.
func (bs buckets) fill() {
	for _, b := range []*bolt.Bucket{bs.msgs, bs.dedupExp, bs.dead} {
		if b != nil && b.Writable() {
			b.FillPercent = 0.9
		}
	}
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func timeKey(t time.Time) uint64 {
	n := t.UnixNano()
	if n < 0 {
		return 0
	}
	return uint64(n)
}

func indexKey(t time.Time, seq uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, timeKey(t))
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

func splitIndexKey(k []byte) (time.Time, uint64) {
	return time.Unix(0, int64(binary.BigEndian.Uint64(k))).UTC(), binary.BigEndian.Uint64(k[8:])
}

func newLockToken(seq uint64, delivery int) string {
	var r [8]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails
	return strconv.FormatUint(seq, 16) + "." + strconv.Itoa(delivery) + "." + hex.EncodeToString(r[:])
}

func tokenSeq(token string) (uint64, bool) {
	head, _, ok := strings.Cut(token, ".")
	if !ok {
		return 0, false
	}
	seq, err := strconv.ParseUint(head, 16, 64)
	return seq, err == nil
}

func getRecord(bs buckets, seq uint64) (*record, error) {
	v := bs.msgs.Get(u64(seq))
	if v == nil {
		return nil, nil
	}
	var r record
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("corrupt record %d: %w", seq, err)
	}
	return &r, nil
}

func putRecord(bs buckets, r *record) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return bs.msgs.Put(u64(r.Seq), v)
}
