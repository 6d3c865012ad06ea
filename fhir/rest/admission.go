package rest

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"mig"
	"mig/consent"
)

// Admission bounds the requests this node works on at once, fairly between
// organisations. A request is admitted after authentication (its
// organisation is known) and holds a slot until it is answered. When the
// node is full, the excess is refused at once with 503 OVERLOADED and
// Retry-After, rather than queued: a queue would only add its wait to
// every answer.
//
// Fairness: with k organisations holding or awaiting slots, each one's fair
// share is MaxInFlight/k (at least one). An organisation may go beyond its
// share while slots are free, up to MaxOrgShare of them, so a lone busy
// organisation uses the node; once the node is full, a request from an
// organisation below its share waits (at most MaxWait, a few tens of
// milliseconds) for the next slot released, which goes to the waiting
// organisation furthest below its share, and every request from an
// organisation at or above its share is refused. So one organisation's
// flood cannot starve another: the other gets its share as fast as slots
// free up.
type Admission struct {
	max        int
	orgMax     int
	wait       time.Duration
	retryAfter time.Duration

	mu       sync.Mutex
	inFlight int
	orgs     map[string]*orgSlots
	stats    AdmissionStats
}

// AdmissionOptions configure Admission.
type AdmissionOptions struct {
	MaxInFlight int // requests worked on at once; <= 0: no admission control (NewAdmission returns nil)
	// MaxOrgShare is the largest fraction of MaxInFlight one organisation
	// may hold, even when no other is busy (default 1).
	MaxOrgShare float64
	// MaxWait is the longest a request from an organisation below its
	// fair share waits for a slot on a full node (default 50 ms; negative:
	// never waits).
	MaxWait time.Duration
	// RetryAfter is what a refusal's Retry-After says (default 1 s).
	RetryAfter time.Duration
}

// Defaults of AdmissionOptions.
const (
	DefaultAdmissionWait  = 50 * time.Millisecond
	DefaultRetryAfter     = time.Second
	DefaultMaxOrgShare    = 1.0
	RuleAdmission         = "admission"
	admissionMessageStart = "this gateway node is at its limit of requests in flight"
)

// AdmissionStats counts admission decisions, for metrics.
type AdmissionStats struct {
	Admitted uint64 // at once
	Waited   uint64 // admitted after waiting for a slot
	Refused  uint64 // answered 503 OVERLOADED
	InFlight int    // now
	Peak     int    // most at once
}

type orgSlots struct {
	held    int
	waiting []*slotWaiter
}

type slotWaiter struct {
	ch      chan struct{}
	granted bool // Admission.mu
}

// NewAdmission returns admission control, or nil (none) when
// opt.MaxInFlight <= 0.
func NewAdmission(opt AdmissionOptions) *Admission {
	if opt.MaxInFlight <= 0 {
		return nil
	}
	if opt.MaxOrgShare <= 0 || opt.MaxOrgShare > 1 {
		opt.MaxOrgShare = DefaultMaxOrgShare
	}
	if opt.MaxWait == 0 {
		opt.MaxWait = DefaultAdmissionWait
	}
	if opt.RetryAfter <= 0 {
		opt.RetryAfter = DefaultRetryAfter
	}
	return &Admission{
		max:        opt.MaxInFlight,
		orgMax:     max(1, int(float64(opt.MaxInFlight)*opt.MaxOrgShare)),
		wait:       max(opt.MaxWait, 0),
		retryAfter: opt.RetryAfter,
		orgs:       map[string]*orgSlots{},
	}
}

// Stats returns the counts so far.
func (a *Admission) Stats() AdmissionStats {
	if a == nil {
		return AdmissionStats{}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.stats
	st.InFlight = a.inFlight
	return st
}

// Acquire admits a request from org, returning the function that releases
// its slot, or reports that it is refused.
func (a *Admission) Acquire(ctx context.Context, org string) (release func(), ok bool) {
	a.mu.Lock()
	o := a.orgs[org]
	if o == nil {
		o = &orgSlots{}
		a.orgs[org] = o
	}
	fair := a.fairShareLocked(o)
	switch {
	case a.inFlight < a.max && o.held < a.orgMax && (o.held < fair || !a.othersWaitingLocked(o)):
		a.takeLocked(o)
		a.stats.Admitted++
		a.mu.Unlock()
		return func() { a.release(org) }, true
	case a.wait <= 0 || o.held+len(o.waiting) >= fair || o.held >= a.orgMax:
		a.stats.Refused++
		a.forgetLocked(org, o)
		a.mu.Unlock()
		return nil, false
	}
	w := &slotWaiter{ch: make(chan struct{})}
	o.waiting = append(o.waiting, w)
	a.mu.Unlock()

	t := time.NewTimer(a.wait)
	defer t.Stop()
	select {
	case <-w.ch:
	case <-t.C:
	case <-ctx.Done():
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if w.granted {
		a.stats.Waited++
		return func() { a.release(org) }, true
	}
	for i, x := range o.waiting {
		if x == w {
			o.waiting = append(o.waiting[:i], o.waiting[i+1:]...)
			break
		}
	}
	a.stats.Refused++
	a.forgetLocked(org, o)
	return nil, false
}

// fairShareLocked is MaxInFlight over the organisations holding or
// awaiting slots, o counted.
func (a *Admission) fairShareLocked(o *orgSlots) int {
	k := 0
	for _, x := range a.orgs {
		if x == o || x.held > 0 || len(x.waiting) > 0 {
			k++
		}
	}
	return max(1, a.max/k)
}

func (a *Admission) othersWaitingLocked(o *orgSlots) bool {
	for _, x := range a.orgs {
		if x != o && len(x.waiting) > 0 {
			return true
		}
	}
	return false
}

func (a *Admission) takeLocked(o *orgSlots) {
	o.held++
	a.inFlight++
	a.stats.Peak = max(a.stats.Peak, a.inFlight)
}

// forgetLocked drops an organisation holding and awaiting nothing.
func (a *Admission) forgetLocked(org string, o *orgSlots) {
	if o.held == 0 && len(o.waiting) == 0 {
		delete(a.orgs, org)
	}
}

// release frees org's slot and hands it to the waiting organisation
// furthest below its fair share (the longest waiting of its requests).
func (a *Admission) release(org string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	o := a.orgs[org]
	o.held--
	a.inFlight--
	a.forgetLocked(org, o)
	if a.inFlight >= a.max {
		return
	}
	var next *orgSlots
	for _, x := range a.orgs {
		if len(x.waiting) > 0 && x.held < a.orgMax && (next == nil || x.held < next.held) {
			next = x
		}
	}
	if next == nil {
		return
	}
	w := next.waiting[0]
	next.waiting = next.waiting[1:]
	w.granted = true
	a.takeLocked(next)
	close(w.ch)
}

// retryAfterSeconds is the Retry-After value, in whole seconds (at least 1).
func (a *Admission) retryAfterSeconds() string {
	return strconv.Itoa(max(1, int((a.retryAfter+time.Second-1)/time.Second)))
}

// admit is the admission middleware: after authentication, before any
// work. Unauthenticated requests pass (the chain refuses them at once,
// at the cost of a token check); so does the streaming AuditEvent
// $export, which would hold a slot for minutes.
func (s *Server) admit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, _ := c.Get(keyPrincipal).(*consent.Principal)
		if s.Admission == nil || p == nil || strings.HasPrefix(c.Path(), "/fhir/AuditEvent/$export") {
			return next(c)
		}
		release, ok := s.Admission.Acquire(c.Request().Context(), p.OrgODS)
		if !ok {
			ra := s.Admission.retryAfterSeconds()
			c.Response().Header().Set("Retry-After", ra)
			return s.refuse(c, s.newRequest(c, "", ""), RuleAdmission, &mig.Error{Code: mig.EOVERLOADED, Issue: mig.IssueOverloaded,
				Message: admissionMessageStart + ", so nothing was done; try again after " + ra + " s"})
		}
		defer release()
		return next(c)
	}
}
