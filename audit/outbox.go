package audit

import (
	"context"
	"math/rand/v2"
	"time"

	"mig/adapters/source"
)

// OutboxItem is one access notification owed to a GP system. It is written
// in the same transaction as the audit record it reports.
type OutboxItem struct {
	ID       string    // the AuditEvent id: the notification's idempotency key
	Seq      uint64    // the audit record's Seq
	Practice string    // ODS code of the practice to tell
	Body     []byte    // the AuditEvent JSON
	Attempts int       // failed deliveries so far
	Next     time.Time // not before
}

// Outbox is the durable queue of notifications (audit/bolt.Store).
type Outbox interface {
	// Pending returns up to limit items due at now, earliest first.
	Pending(ctx context.Context, now time.Time, limit int) ([]OutboxItem, error)
	// Ack removes a delivered item.
	Ack(ctx context.Context, id string) error
	// Defer reschedules an item after a failed delivery.
	Defer(ctx context.Context, id string, next time.Time, attempts int) error
}

// SendFunc delivers one notification to a practice's GP system (typically
// the practice's source.Source Notify).
type SendFunc func(ctx context.Context, practice string, n source.Notification) error

// DelivererOptions tune delivery. Zero values take the defaults.
type DelivererOptions struct {
	Poll    time.Duration // wait when nothing is due (default 1 s)
	Batch   int           // items per round (default 100)
	Base    time.Duration // first retry delay (default 1 s)
	Max     time.Duration // retry delay cap (default 10 min)
	Timeout time.Duration // per send (default 10 s)
	Now     func() time.Time
	// Jitter returns a value in [0, 1); default math/rand/v2.
	Jitter func() float64
	// OnError, if set, is told of failed sends and outbox errors (content
	// free: practice ODS code, attempt count, error).
	OnError func(practice string, attempts int, err error)
}

// Deliverer drains an Outbox, retrying with exponential backoff and jitter.
// Its state lives in the outbox, so a restart resumes where it stopped, and
// several nodes may run one each (the id is the idempotency key).
type Deliverer struct {
	outbox Outbox
	send   SendFunc
	opt    DelivererOptions
}

// NewDeliverer returns a Deliverer sending outbox items with send.
func NewDeliverer(outbox Outbox, send func(ctx context.Context, practice string, n source.Notification) error, opts DelivererOptions) *Deliverer {
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Batch <= 0 {
		opts.Batch = 100
	}
	if opts.Base <= 0 {
		opts.Base = time.Second
	}
	if opts.Max <= 0 {
		opts.Max = 10 * time.Minute
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Jitter == nil {
		opts.Jitter = rand.Float64
	}
	return &Deliverer{outbox: outbox, send: send, opt: opts}
}

// Backoff returns the delay before attempt number attempts+1 after
// attempts failures: Base doubling per failure up to Max, then a jitter
// of up to half the delay taken off (so the delay is in [d/2, d]).
func (d *Deliverer) Backoff(attempts int) time.Duration {
	delay := d.opt.Base
	for i := 1; i < attempts && delay < d.opt.Max; i++ {
		delay *= 2
	}
	if delay > d.opt.Max {
		delay = d.opt.Max
	}
	return delay - time.Duration(d.opt.Jitter()*float64(delay/2))
}

// RunOnce delivers the items due now, once each, and returns how many were
// delivered and how many deferred.
func (d *Deliverer) RunOnce(ctx context.Context) (sent, deferred int, err error) {
	items, err := d.outbox.Pending(ctx, d.opt.Now(), d.opt.Batch)
	if err != nil {
		return 0, 0, err
	}
	for _, it := range items {
		if ctx.Err() != nil {
			return sent, deferred, ctx.Err()
		}
		sctx, cancel := context.WithTimeout(ctx, d.opt.Timeout)
		serr := d.send(sctx, it.Practice, source.Notification{ID: it.ID, Body: it.Body})
		cancel()
		if serr == nil {
			if err := d.outbox.Ack(ctx, it.ID); err != nil {
				return sent, deferred, err
			}
			sent++
			continue
		}
		attempts := it.Attempts + 1
		if d.opt.OnError != nil {
			d.opt.OnError(it.Practice, attempts, serr)
		}
		if err := d.outbox.Defer(ctx, it.ID, d.opt.Now().Add(d.Backoff(attempts)), attempts); err != nil {
			return sent, deferred, err
		}
		deferred++
	}
	return sent, deferred, nil
}

// Run delivers until ctx ends. Outbox errors are reported to OnError and
// retried after Poll.
func (d *Deliverer) Run(ctx context.Context) error {
	for {
		sent, deferred, err := d.RunOnce(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && d.opt.OnError != nil {
			d.opt.OnError("", 0, err)
		}
		if err == nil && sent+deferred == d.opt.Batch {
			continue // more may be due
		}
		t := time.NewTimer(d.opt.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
