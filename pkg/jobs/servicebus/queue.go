package servicebus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/jobs"
)

// MessageSender is the part of *azservicebus.Sender this package calls.
type MessageSender interface {
	SendMessage(ctx context.Context, m *azservicebus.Message, o *azservicebus.SendMessageOptions) error
}

// MessageReceiver is the part of *azservicebus.Receiver (peek-lock) this
// package calls.
type MessageReceiver interface {
	ReceiveMessages(ctx context.Context, maxMessages int, o *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
	CompleteMessage(ctx context.Context, m *azservicebus.ReceivedMessage, o *azservicebus.CompleteMessageOptions) error
	AbandonMessage(ctx context.Context, m *azservicebus.ReceivedMessage, o *azservicebus.AbandonMessageOptions) error
	DeadLetterMessage(ctx context.Context, m *azservicebus.ReceivedMessage, o *azservicebus.DeadLetterOptions) error
}

// MessagePeeker is the part of a dead-letter *azservicebus.Receiver used to
// list dead letters.
type MessagePeeker interface {
	PeekMessages(ctx context.Context, maxMessageCount int, o *azservicebus.PeekMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
}

var (
	_ MessageSender   = (*azservicebus.Sender)(nil)
	_ MessageReceiver = (*azservicebus.Receiver)(nil)
	_ MessagePeeker   = (*azservicebus.Receiver)(nil)
)

// Client is a Service Bus namespace connection.
type Client struct {
	sb *azservicebus.Client
}

// NewClient connects to a namespace with a token credential (managed
// identity through azidentity). namespace is the fully qualified name
// (<ns>.servicebus.windows.net); a bare name gets that suffix.
func NewClient(namespace string, cred azcore.TokenCredential) (*Client, error) {
	namespace = strings.TrimSpace(namespace)
	if namespace == "" {
		return nil, fmt.Errorf("service bus namespace is empty")
	}
	if cred == nil {
		return nil, fmt.Errorf("service bus namespace %s: credential is nil", namespace)
	}
	if !strings.Contains(namespace, ".") {
		namespace += ".servicebus.windows.net"
	}
	c, err := azservicebus.NewClient(namespace, cred, nil)
	if err != nil {
		if c != nil {
			_ = c.Close(context.Background())
		}
		return nil, fmt.Errorf("service bus namespace %s: %w", namespace, err)
	}
	return &Client{sb: c}, nil
}

// NewFromConnectionString connects with a connection string, including the
// emulator's (Endpoint=sb://localhost;...;UseDevelopmentEmulator=true). The
// error never repeats the connection string (it holds a key).
func NewFromConnectionString(cs string) (*Client, error) {
	if strings.TrimSpace(cs) == "" {
		return nil, fmt.Errorf("service bus connection string is empty")
	}
	c, err := azservicebus.NewClientFromConnectionString(cs, nil)
	if err != nil {
		// The SDK can return a client together with an error.
		if c != nil {
			_ = c.Close(context.Background())
		}
		return nil, fmt.Errorf("service bus connection string: %w", err)
	}
	return &Client{sb: c}, nil
}

// Close closes the connection and every sender and receiver made from it.
func (c *Client) Close(ctx context.Context) error {
	if err := c.sb.Close(ctx); err != nil {
		return fmt.Errorf("close service bus client: %w", err)
	}
	return nil
}

// Sender returns a jobs.Sender for the queue.
func (c *Client) Sender(queue string) (*Sender, error) {
	s, err := c.sb.NewSender(queue, nil)
	if err != nil {
		return nil, fmt.Errorf("service bus sender for queue %s: %w", queue, err)
	}
	return NewSender(queue, s), nil
}

// Queue returns a full jobs.Queue on the queue: a sender, a peek-lock
// receiver and a peeking receiver on its dead-letter sub-queue.
func (c *Client) Queue(queue string) (*Queue, error) {
	s, err := c.sb.NewSender(queue, nil)
	if err != nil {
		return nil, fmt.Errorf("service bus sender for queue %s: %w", queue, err)
	}
	r, err := c.sb.NewReceiverForQueue(queue, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModePeekLock})
	if err != nil {
		return nil, fmt.Errorf("service bus receiver for queue %s: %w", queue, err)
	}
	dlq, err := c.sb.NewReceiverForQueue(queue, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	if err != nil {
		return nil, fmt.Errorf("service bus dead-letter receiver for queue %s: %w", queue, err)
	}
	return NewQueue(queue, s, r, dlq, nil), nil
}

// Sender sends jobs to one queue. It implements jobs.Sender.
type Sender struct {
	queue string
	s     MessageSender
}

// NewSender wraps a MessageSender (an *azservicebus.Sender, or a fake).
func NewSender(queue string, s MessageSender) *Sender { return &Sender{queue: queue, s: s} }

// Send sends the job; Service Bus collapses a MessageID seen within the
// queue's duplicate-detection window (when enabled on the queue).
func (s *Sender) Send(ctx context.Context, job jobs.Job) error {
	m, err := ToMessage(job)
	if err != nil {
		return fmt.Errorf("send to service bus queue %s: %w", s.queue, err)
	}
	if err := s.s.SendMessage(ctx, m, nil); err != nil {
		return fmt.Errorf("send job %s to service bus queue %s: %w", job.ID, s.queue, err)
	}
	return nil
}

// Queue is a jobs.Queue on a Service Bus queue. Deliveries are settled
// through the receiver that received them, looked up by lock token. It also
// implements jobs.Abandoner and jobs.DeadLetterLister.
type Queue struct {
	*Sender
	r     MessageReceiver
	dlq   MessagePeeker
	clock clock.Clock

	mu   sync.Mutex
	held map[string]*azservicebus.ReceivedMessage
}

var (
	_ jobs.Queue            = (*Queue)(nil)
	_ jobs.Abandoner        = (*Queue)(nil)
	_ jobs.DeadLetterLister = (*Queue)(nil)
)

// NewQueue assembles a Queue from its parts (fakes in tests); dlq may be nil
// (DeadLetters then fails) and clk nil (wall clock).
func NewQueue(queue string, s MessageSender, r MessageReceiver, dlq MessagePeeker, clk clock.Clock) *Queue {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Queue{Sender: NewSender(queue, s), r: r, dlq: dlq, clock: clk, held: map[string]*azservicebus.ReceivedMessage{}}
}

// Receive waits for at least one job (or ctx's end). A message whose body is
// not a valid job is dead-lettered at once with reason InvalidJob and the
// decoding error as description, and not returned.
func (q *Queue) Receive(ctx context.Context, n int) ([]jobs.Delivery, error) {
	n = max(n, 1)
	for {
		msgs, err := q.r.ReceiveMessages(ctx, n, nil)
		if err != nil {
			return nil, fmt.Errorf("receive from service bus queue %s: %w", q.queue, err)
		}
		var out []jobs.Delivery
		for _, m := range msgs {
			if m == nil {
				continue
			}
			d, err := FromMessage(m)
			if err != nil {
				reason, desc := jobs.DeadLetterReasonInvalidJob, err.Error()
				if derr := q.r.DeadLetterMessage(ctx, m, &azservicebus.DeadLetterOptions{Reason: &reason, ErrorDescription: &desc}); derr != nil {
					return out, fmt.Errorf("dead-letter invalid message %s on service bus queue %s: %w", m.MessageID, q.queue, lockErr(derr))
				}
				continue
			}
			q.mu.Lock()
			q.held[d.LockToken] = m
			q.mu.Unlock()
			out = append(out, d)
		}
		if len(out) > 0 {
			return out, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("receive from service bus queue %s: %w", q.queue, err)
		}
	}
}

// take returns the received message behind d and forgets it.
func (q *Queue) take(op string, d jobs.Delivery) (*azservicebus.ReceivedMessage, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	m, ok := q.held[d.LockToken]
	if !ok {
		return nil, fmt.Errorf("%s job %s on service bus queue %s: lock token %q not held by this receiver: %w", op, d.MessageID, q.queue, d.LockToken, jobs.ErrLockLost)
	}
	delete(q.held, d.LockToken)
	return m, nil
}

func (q *Queue) putBack(d jobs.Delivery, m *azservicebus.ReceivedMessage, err error) {
	if errors.Is(err, jobs.ErrLockLost) {
		return
	}
	q.mu.Lock()
	q.held[d.LockToken] = m
	q.mu.Unlock()
}

func lockErr(err error) error {
	var sbErr *azservicebus.Error
	if errors.As(err, &sbErr) && sbErr.Code == azservicebus.CodeLockLost {
		return fmt.Errorf("%w: %w", jobs.ErrLockLost, err)
	}
	return err
}

func (q *Queue) settle(ctx context.Context, op string, d jobs.Delivery, fn func(m *azservicebus.ReceivedMessage) error) error {
	m, err := q.take(op, d)
	if err != nil {
		return err
	}
	if err := lockErr(fn(m)); err != nil {
		q.putBack(d, m, err)
		return fmt.Errorf("%s job %s on service bus queue %s: %w", op, d.MessageID, q.queue, err)
	}
	return nil
}

// Complete removes the delivered job.
func (q *Queue) Complete(ctx context.Context, d jobs.Delivery) error {
	return q.settle(ctx, "complete", d, func(m *azservicebus.ReceivedMessage) error {
		return q.r.CompleteMessage(ctx, m, nil)
	})
}

// Retry sends d.Job.Next(delay, now) as a scheduled message, then completes
// the delivery. Should the completion fail, the job comes back and its retry
// is sent again with the same id, which duplicate detection collapses.
func (q *Queue) Retry(ctx context.Context, d jobs.Delivery, delay time.Duration) error {
	next := d.Job.Next(delay, q.clock.Now())
	if err := q.Send(ctx, next); err != nil {
		return fmt.Errorf("retry job %s: %w", d.MessageID, err)
	}
	return q.settle(ctx, "retry", d, func(m *azservicebus.ReceivedMessage) error {
		return q.r.CompleteMessage(ctx, m, nil)
	})
}

// DeadLetter moves the delivery to the queue's dead-letter sub-queue.
func (q *Queue) DeadLetter(ctx context.Context, d jobs.Delivery, reason, description string) error {
	return q.settle(ctx, "dead-letter", d, func(m *azservicebus.ReceivedMessage) error {
		return q.r.DeadLetterMessage(ctx, m, &azservicebus.DeadLetterOptions{Reason: &reason, ErrorDescription: &description})
	})
}

// Abandon releases the lock: Service Bus redelivers at once with the
// delivery count raised, and dead-letters at the queue's MaxDeliveryCount.
func (q *Queue) Abandon(ctx context.Context, d jobs.Delivery) error {
	return q.settle(ctx, "abandon", d, func(m *azservicebus.ReceivedMessage) error {
		return q.r.AbandonMessage(ctx, m, nil)
	})
}

// DeadLetters peeks the whole dead-letter sub-queue (without locking it).
func (q *Queue) DeadLetters(ctx context.Context) ([]jobs.DeadLetter, error) {
	if q.dlq == nil {
		return nil, fmt.Errorf("dead letters of service bus queue %s: no dead-letter receiver", q.queue)
	}
	var out []jobs.DeadLetter
	from := int64(0)
	for {
		msgs, err := q.dlq.PeekMessages(ctx, 100, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &from})
		if err != nil {
			return nil, fmt.Errorf("dead letters of service bus queue %s: %w", q.queue, err)
		}
		if len(msgs) == 0 {
			return out, nil
		}
		start := from
		for _, m := range msgs {
			if m == nil {
				continue
			}
			out = append(out, DeadLetterFromMessage(m))
			if m.SequenceNumber != nil && *m.SequenceNumber >= from {
				from = *m.SequenceNumber + 1
			}
		}
		if from == start {
			return out, nil // no sequence numbers to page on
		}
	}
}

// DeadLetterFromMessage maps a message from a dead-letter sub-queue. A body
// that is not a valid job is kept raw in Body with the decoding error
// appended to the description.
func DeadLetterFromMessage(m *azservicebus.ReceivedMessage) jobs.DeadLetter {
	dl := jobs.DeadLetter{MessageID: m.MessageID, DeliveryCount: int(m.DeliveryCount)}
	if m.DeadLetterReason != nil {
		dl.Reason = *m.DeadLetterReason
	}
	if m.DeadLetterErrorDescription != nil {
		dl.Description = *m.DeadLetterErrorDescription
	}
	if m.EnqueuedTime != nil {
		dl.EnqueuedAt = m.EnqueuedTime.UTC()
	}
	job, err := jobs.Decode(m.Body)
	if err != nil {
		dl.Body = m.Body
		dl.Description = strings.TrimSpace(dl.Description + " (" + err.Error() + ")")
		return dl
	}
	dl.Job = job
	return dl
}
