package source

import (
	"sync"
	"time"
)

// BreakerState is the state of a circuit breaker.
type BreakerState int

const (
	BreakerClosed   BreakerState = iota // calls go through
	BreakerOpen                         // calls fail fast until the cooldown ends
	BreakerHalfOpen                     // one probe call is let through
)

func (s BreakerState) String() string {
	return [...]string{"closed", "open", "half-open"}[s]
}

// breaker is a consecutive-failure circuit breaker: closed, open after
// limit consecutive failures, half-open after cooldown (one probe: success
// closes it, failure opens it again).
type breaker struct {
	limit    int
	cooldown time.Duration
	now      func() time.Time

	mu       sync.Mutex
	state    BreakerState
	failures int
	openedAt time.Time
	probing  bool
}

// allow reports whether a call may go ahead and whether it is the
// half-open probe. A disabled breaker (limit <= 0) always allows.
func (b *breaker) allow() (ok, probe bool) {
	if b.limit <= 0 {
		return true, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerOpen:
		if b.now().Sub(b.openedAt) < b.cooldown {
			return false, false
		}
		b.state = BreakerHalfOpen
		b.probing = true
		return true, true
	case BreakerHalfOpen:
		if b.probing {
			return false, false
		}
		b.probing = true
		return true, true
	}
	return true, false
}

// done records the outcome of an allowed call. probe says whether it was the
// half-open probe; a call that ended for reasons that say nothing about the
// GP system (the caller gave up) passes counted=false.
func (b *breaker) done(probe, success, counted bool) {
	if b.limit <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
	}
	if !counted {
		return
	}
	if success {
		b.state, b.failures = BreakerClosed, 0
		return
	}
	b.failures++
	if probe || b.state == BreakerHalfOpen || b.failures >= b.limit {
		b.state, b.openedAt = BreakerOpen, b.now()
	}
}

// State returns the current state (half-open once the cooldown has passed).
func (b *breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == BreakerOpen && b.now().Sub(b.openedAt) >= b.cooldown {
		return BreakerHalfOpen
	}
	return b.state
}
