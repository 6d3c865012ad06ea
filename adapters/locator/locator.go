// Package locator answers "which practice holds this NHS number?" from an
// identifiers-only index (NHS number -> practice ODS codes) built from each
// practice's Source.Patients list. No record, name or demographic is kept.
//
// The index is refreshed on a schedule (Run) and, rate-limited, when a
// number is not found (so a patient registered since the last refresh is
// found, while random numbers cannot force re-indexing). Two practices
// claiming one number fail safe with ECONFLICT DUPLICATE_PATIENT.
// adapters/locator/bolt is the bbolt Index, adapters/locator/pg the
// PostgreSQL one, which several gateway nodes share: a Lease then lets one
// node at a time refresh it.
package locator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"mig"
	"mig/adapters/source"
)

// Resolver finds the practice that holds a patient's record. *Locator is
// one; a PDS-based lookup (registered GP from demographics) can be another.
type Resolver interface {
	// Locate returns the ODS code of the practice holding nhs: a mig.Error
	// ENOTFOUND when none does, ECONFLICT DUPLICATE_PATIENT when several do.
	Locate(ctx context.Context, nhs string) (string, error)
}

// Index is an identifiers-only store of which practices hold which NHS
// numbers.
type Index interface {
	// Replace swaps practice's set of NHS numbers for the one each yields:
	// each calls add once per number. The new set becomes visible to
	// Lookup atomically (by generation) only when each returns nil; on any
	// error the previous set stays in force.
	Replace(ctx context.Context, practice string, each func(add func(nhs string) error) error) error
	// Lookup returns the practices (sorted) whose current set holds nhs.
	Lookup(ctx context.Context, nhs string) ([]string, error)
	// Stats describes the index.
	Stats(ctx context.Context) (Stats, error)
}

// Lease lets one node at a time refresh the index when several gateway
// nodes share it: the node holding the lease refreshes on schedule, the
// others leave it be, and take over when the holder stops renewing.
type Lease interface {
	// TryLease takes or renews the lease called name for holder until
	// now+ttl, and reports whether holder now has it: true when nobody held
	// it, its term ended at or before now, or holder already held it.
	// Expiry is judged in the callers' clocks (now), so nodes' clocks must
	// agree to well within ttl.
	TryLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
}

// LeaseName names the lease of the scheduled refresh.
const LeaseName = "locator-refresh"

// MissLeaseName names the lease of a miss-triggered refresh of practice.
func MissLeaseName(practice string) string { return "locator-miss/" + practice }

// CheckLease checks TryLease's arguments, for the implementations.
func CheckLease(name, holder string, ttl time.Duration) error {
	if name == "" || holder == "" || ttl <= 0 {
		return mig.Errorf(mig.EINVALID, "patient index lease: name, holder and a positive term required")
	}
	return nil
}

// Stats describes an index.
type Stats struct {
	Practices map[string]PracticeStats // by ODS code
	Numbers   int                      // sum of the practices' counts
	Bytes     int64                    // storage size, where known
}

// PracticeStats describes one practice's current set.
type PracticeStats struct {
	Generation uint64
	Count      int
	Updated    time.Time
}

// DefaultMissRefreshInterval is the default of Options.MissRefreshInterval.
const DefaultMissRefreshInterval = time.Minute

// Options configures a Locator.
type Options struct {
	// Refresh is how often Run re-indexes every practice; 0 = only at start.
	Refresh time.Duration
	// MissRefreshInterval is the least time between two refreshes of one
	// practice triggered by a lookup miss; 0 = DefaultMissRefreshInterval.
	MissRefreshInterval time.Duration
	// MissRefreshTimeout bounds the refreshes a miss waits for; 0 = 5 s.
	MissRefreshTimeout time.Duration
	// Parallel is how many practices are listed at once (listing is I/O
	// bound; the index commits concurrent practices together); 0 = 8.
	Parallel int
	// OnRefresh, if set, is told of every practice refresh (for logging:
	// practice code, count, duration, error; never an NHS number).
	OnRefresh func(practice string, count int, took time.Duration, err error)
	// Lease, when several nodes share the index, lets one of them at a
	// time run the scheduled refresh (Run), and one of them refresh a
	// practice on a miss per MissRefreshInterval; nil: this node always
	// refreshes (a single node).
	Lease Lease
	// Holder names this node to the lease; "" = a random id per Locator.
	Holder string
	// LeaseTTL is the scheduled refresh lease's term, renewed at every
	// refresh; when the holder stops renewing, another node takes over
	// after it. 0 = twice Refresh, at least a minute.
	LeaseTTL time.Duration
	// OnLease, if set, is told when this node takes or loses the refresh
	// lease, or cannot read it (for logging).
	OnLease func(held bool, err error)
	// Now replaces time.Now (tests).
	Now func() time.Time
}

// Locator is the index-backed Resolver.
type Locator struct {
	idx       Index
	practices map[string]source.Source
	o         Options

	mu       sync.Mutex
	inflight map[string]*refreshCall // at most one refresh per practice at a time
	lastMiss map[string]time.Time    // last miss-triggered refresh per practice
	held     bool                    // this node held the refresh lease at its last try
}

var _ Resolver = (*Locator)(nil)

type refreshCall struct {
	done chan struct{}
	err  error
}

// New returns a Locator over idx for the practices (ODS code -> source).
func New(idx Index, practices map[string]source.Source, o Options) *Locator {
	if o.MissRefreshInterval <= 0 {
		o.MissRefreshInterval = DefaultMissRefreshInterval
	}
	if o.MissRefreshTimeout <= 0 {
		o.MissRefreshTimeout = 5 * time.Second
	}
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = max(2*o.Refresh, time.Minute)
	}
	if o.Holder == "" {
		var b [8]byte
		_, _ = rand.Read(b[:]) // never fails (Go 1.24+)
		o.Holder = "node-" + hex.EncodeToString(b[:])
	}
	p := make(map[string]source.Source, len(practices))
	for k, v := range practices {
		p[k] = v
	}
	return &Locator{idx: idx, practices: p, o: o, inflight: map[string]*refreshCall{}, lastMiss: map[string]time.Time{}}
}

// Locate returns the ODS code of the one practice holding nhs. On a miss it
// refreshes the practices whose last miss-triggered refresh is older than
// MissRefreshInterval, then looks again.
func (l *Locator) Locate(ctx context.Context, nhs string) (string, error) {
	if !mig.ValidNHSNumber(nhs) {
		return "", &mig.Error{Code: mig.EINVALID, Issue: mig.IssueInvalidNHSNumber, Message: "not a valid NHS number"}
	}
	got, err := l.lookup(ctx, nhs)
	if err != nil || len(got) > 0 {
		return l.one(got, err)
	}
	if due := l.missDue(ctx); len(due) > 0 {
		rctx, cancel := context.WithTimeout(ctx, l.o.MissRefreshTimeout)
		l.refreshAll(rctx, due) // a failing practice keeps its previous set
		cancel()
		got, err = l.lookup(ctx, nhs)
	}
	return l.one(got, err)
}

// lookup returns the configured practices claiming nhs.
func (l *Locator) lookup(ctx context.Context, nhs string) ([]string, error) {
	got, err := l.idx.Lookup(ctx, nhs)
	if err != nil {
		return nil, &mig.Error{Code: mig.EUNAVAILABLE, Message: "patient index unavailable", Err: err}
	}
	out := got[:0]
	for _, p := range got {
		if _, ok := l.practices[p]; ok {
			out = append(out, p)
		}
	}
	return out, nil
}

func (l *Locator) one(got []string, err error) (string, error) {
	switch {
	case err != nil:
		return "", err
	case len(got) == 1:
		return got[0], nil
	case len(got) == 0:
		return "", mig.PatientNotFound() // the same answer as "not allowed to know"
	}
	return "", &mig.Error{Code: mig.ECONFLICT, Issue: mig.IssueDuplicatePatient,
		Message: "practices " + strings.Join(got, ", ") + " each hold a record for the patient"}
}

// missDue returns the practices a miss may refresh now, and marks them.
// With a Lease, a practice is refreshed on a miss by one node per
// MissRefreshInterval, whichever takes its miss lease.
func (l *Locator) missDue(ctx context.Context) []string {
	now := l.o.Now()
	l.mu.Lock()
	var due []string
	for p := range l.practices {
		if last, ok := l.lastMiss[p]; ok && now.Sub(last) < l.o.MissRefreshInterval {
			continue
		}
		l.lastMiss[p] = now
		due = append(due, p)
	}
	l.mu.Unlock()
	sort.Strings(due)
	if l.o.Lease == nil {
		return due
	}
	mine := due[:0]
	for _, p := range due {
		// An unreadable lease (the database is down) refreshes nothing: the
		// index could not take the new set either.
		if ok, err := l.o.Lease.TryLease(ctx, MissLeaseName(p), l.o.Holder, now, l.o.MissRefreshInterval); err == nil && ok {
			mine = append(mine, p)
		}
	}
	return mine
}

// Refresh re-indexes every practice, and drops from the index practices no
// longer configured. It returns the practices' errors joined; a practice
// that fails keeps its previous set.
func (l *Locator) Refresh(ctx context.Context) error {
	all := make([]string, 0, len(l.practices))
	for p := range l.practices {
		all = append(all, p)
	}
	sort.Strings(all)
	err := l.refreshAll(ctx, all)
	if st, serr := l.idx.Stats(ctx); serr == nil {
		for p, ps := range st.Practices {
			if _, ok := l.practices[p]; !ok && ps.Count > 0 {
				err = errors.Join(err, l.idx.Replace(ctx, p, func(func(string) error) error { return nil }))
			}
		}
	}
	return err
}

func (l *Locator) refreshAll(ctx context.Context, practices []string) error {
	errs := make([]error, len(practices))
	sem := make(chan struct{}, l.o.Parallel)
	var wg sync.WaitGroup
	for i, p := range practices {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = l.RefreshPractice(ctx, p)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// RefreshPractice re-indexes one practice. Refreshes of one practice never
// overlap: a call made while one runs waits for it and shares its result.
func (l *Locator) RefreshPractice(ctx context.Context, practice string) error {
	src, ok := l.practices[practice]
	if !ok {
		return mig.Errorf(mig.ENOTFOUND, "practice %s is not configured", practice)
	}
	l.mu.Lock()
	if c := l.inflight[practice]; c != nil {
		l.mu.Unlock()
		select {
		case <-c.done:
			return c.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c := &refreshCall{done: make(chan struct{})}
	l.inflight[practice] = c
	l.mu.Unlock()

	start := time.Now()
	n := 0
	c.err = l.idx.Replace(ctx, practice, func(add func(string) error) error {
		return src.Patients(ctx, func(nhs string) error {
			n++
			return add(nhs)
		})
	})
	if l.o.OnRefresh != nil {
		l.o.OnRefresh(practice, n, time.Since(start), c.err)
	}
	l.mu.Lock()
	delete(l.inflight, practice)
	l.mu.Unlock()
	close(c.done)
	return c.err
}

// RefreshLeased runs the scheduled refresh: Refresh, if this node holds
// (takes or renews) the refresh lease; otherwise the holder refreshes and
// this node does nothing. Without Options.Lease it always refreshes. It
// reports whether it refreshed, and the refresh's or the lease's error.
func (l *Locator) RefreshLeased(ctx context.Context) (bool, error) {
	if l.o.Lease != nil {
		ok, err := l.o.Lease.TryLease(ctx, LeaseName, l.o.Holder, l.o.Now(), l.o.LeaseTTL)
		l.mu.Lock()
		changed := ok != l.held
		l.held = ok
		l.mu.Unlock()
		if l.o.OnLease != nil && (changed || err != nil) {
			l.o.OnLease(ok, err)
		}
		if err != nil || !ok {
			return false, err
		}
	}
	return true, l.Refresh(ctx)
}

// Run runs the scheduled refresh (RefreshLeased) at once and then every
// Options.Refresh until ctx ends; errors go to OnRefresh and OnLease. It
// returns ctx's error.
func (l *Locator) Run(ctx context.Context) error {
	l.RefreshLeased(ctx)
	if l.o.Refresh <= 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	t := time.NewTicker(l.o.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			l.RefreshLeased(ctx)
		}
	}
}

// Stats returns the index's statistics.
func (l *Locator) Stats(ctx context.Context) (Stats, error) { return l.idx.Stats(ctx) }

// CollectNumbers runs a Replace's each and returns the valid NHS numbers it
// yields, sorted and without repeats (anything else is skipped), checking
// ctx every 4096 numbers. Every Index backend reads its input through it.
func CollectNumbers(ctx context.Context, each func(add func(nhs string) error) error) ([]string, error) {
	var list []string
	err := each(func(nhs string) error {
		if mig.ValidNHSNumber(nhs) {
			list = append(list, nhs)
		}
		if len(list)%4096 == 0 {
			return ctx.Err()
		}
		return nil
	})
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	slices.Sort(list)
	return slices.Compact(list), nil
}
