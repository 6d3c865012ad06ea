package locator_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mig"
	"mig/adapters/locator"
	"mig/adapters/locator/bolt"
	"mig/adapters/record"
	"mig/adapters/source"
)

// fakeSource lists a settable set of NHS numbers and counts listings.
type fakeSource struct {
	mu    sync.Mutex
	list  []string
	fail  error
	delay time.Duration
	calls atomic.Int64
	now   atomic.Int64 // listings running right now
	max   atomic.Int64 // most listings ever running at once
}

func (f *fakeSource) set(list ...string) {
	f.mu.Lock()
	f.list = list
	f.mu.Unlock()
}

func (f *fakeSource) Patients(ctx context.Context, fn func(string) error) error {
	f.calls.Add(1)
	n := f.now.Add(1)
	defer f.now.Add(-1)
	for {
		m := f.max.Load()
		if n <= m || f.max.CompareAndSwap(m, n) {
			break
		}
	}
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	f.mu.Lock()
	list, fail := append([]string(nil), f.list...), f.fail
	f.mu.Unlock()
	for i, nhs := range list {
		if fail != nil && i == len(list)/2 {
			return fail // fails part-way through the stream
		}
		if err := fn(nhs); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeSource) Fetch(context.Context, string) (io.ReadCloser, error) {
	return nil, errors.New("not used")
}
func (f *fakeSource) Demographics(context.Context, string) (*record.Patient, error) {
	return nil, errors.New("not used")
}
func (f *fakeSource) Notify(context.Context, source.Notification) error { return nil }

func openIndex(t testing.TB) *bolt.Index {
	t.Helper()
	idx, err := bolt.Open(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	return idx
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestLocate(t *testing.T) {
	ctx := context.Background()
	a, b := &fakeSource{}, &fakeSource{}
	a.set("9990001006", "9990001014", "9990003009")
	b.set("9990002002", "9990003009", "not-a-number")
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := locator.New(openIndex(t), map[string]source.Source{"A99901": a, "A99902": b}, locator.Options{Now: clk.Now})
	if err := l.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		nhs, want, code, issue string
	}{
		{"9990001006", "A99901", "", ""},
		{"9990001014", "A99901", "", ""},
		{"9990002002", "A99902", "", ""},
		{"9990003009", "", mig.ECONFLICT, mig.IssueDuplicatePatient},
		{"9990001022", "", mig.ENOTFOUND, mig.IssuePatientNotFound},
		{"9990001000", "", mig.EINVALID, mig.IssueInvalidNHSNumber},
		{"../x", "", mig.EINVALID, mig.IssueInvalidNHSNumber},
	}
	for _, tc := range tests {
		got, err := l.Locate(ctx, tc.nhs)
		if got != tc.want || mig.ErrorCode(err) != tc.code && !(tc.code == "" && err == nil) || mig.ErrorIssue(err) != tc.issue {
			t.Errorf("%s: got %q, %v; want %q %s %s", tc.nhs, got, err, tc.want, tc.code, tc.issue)
		}
		if err != nil && strings.Contains(err.Error(), tc.nhs) {
			t.Errorf("%s: message names the patient: %v", tc.nhs, err)
		}
		if tc.code == mig.ECONFLICT && !(strings.Contains(err.Error(), "A99901") && strings.Contains(err.Error(), "A99902")) {
			t.Errorf("conflict does not name the practices: %v", err)
		}
	}
	st, err := l.Stats(ctx)
	if err != nil || st.Numbers != 5 || st.Practices["A99901"].Count != 3 || st.Practices["A99902"].Count != 2 || st.Bytes <= 0 {
		t.Errorf("stats %+v %v", st, err)
	}
}

func TestRefreshRemovesStale(t *testing.T) {
	ctx := context.Background()
	a, b := &fakeSource{}, &fakeSource{}
	a.set("9990001006", "9990001014")
	b.set("9990002002")
	idx := openIndex(t)
	l := locator.New(idx, map[string]source.Source{"A99901": a, "A99902": b}, locator.Options{MissRefreshInterval: time.Hour})
	if err := l.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// The patient moves from A to B.
	a.set("9990001006")
	b.set("9990002002", "9990001014")
	if err := l.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := l.Locate(ctx, "9990001014"); got != "A99902" || err != nil {
		t.Fatalf("moved patient: %q %v", got, err)
	}
	if got, _ := idx.Lookup(ctx, "9990001014"); len(got) != 1 {
		t.Fatalf("stale entry left: %v", got)
	}
	// A practice whose listing fails part-way keeps its previous set.
	a.set("9990001006", "9990001030", "9990001049", "9990001057")
	a.fail = mig.Errorf(mig.EUNAVAILABLE, "GP system of practice A99901 unavailable")
	if err := l.Refresh(ctx); mig.ErrorCode(err) != mig.EUNAVAILABLE {
		t.Fatalf("refresh error %v", err)
	}
	if got, err := l.Locate(ctx, "9990001006"); got != "A99901" || err != nil {
		t.Fatalf("failed refresh lost the set: %q %v", got, err)
	}
	if got, _ := idx.Lookup(ctx, "9990001030"); len(got) != 0 {
		t.Fatalf("half-written generation visible: %v", got)
	}
	// A practice no longer configured is dropped.
	l2 := locator.New(idx, map[string]source.Source{"A99902": b}, locator.Options{})
	if err := l2.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := idx.Lookup(ctx, "9990001006"); len(got) != 0 {
		t.Fatalf("removed practice still indexed: %v", got)
	}
	if st, _ := idx.Stats(ctx); st.Numbers != 2 {
		t.Fatalf("stats after drop %+v", st)
	}
}

func TestMissRefreshRateLimit(t *testing.T) {
	ctx := context.Background()
	a, b := &fakeSource{}, &fakeSource{}
	a.set("9990001006")
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := locator.New(openIndex(t), map[string]source.Source{"A99901": a, "A99902": b},
		locator.Options{MissRefreshInterval: time.Minute, Now: clk.Now})
	if err := l.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// A newly registered patient is found through a miss-triggered refresh.
	b.set("9990002002")
	if got, err := l.Locate(ctx, "9990002002"); got != "A99902" || err != nil {
		t.Fatalf("new patient: %q %v", got, err)
	}
	callsA, callsB := a.calls.Load(), b.calls.Load()
	if callsA != 2 || callsB != 2 {
		t.Fatalf("calls %d %d, want 2 2", callsA, callsB)
	}
	// Random numbers cannot force re-indexing within the interval.
	for i := 0; i < 50; i++ {
		if _, err := l.Locate(ctx, "9990001022"); mig.ErrorCode(err) != mig.ENOTFOUND {
			t.Fatal(err)
		}
	}
	if a.calls.Load() != callsA || b.calls.Load() != callsB {
		t.Fatalf("misses re-indexed: %d %d", a.calls.Load(), b.calls.Load())
	}
	// After the interval one more miss refreshes each practice once.
	clk.Add(61 * time.Second)
	b.set("9990002002", "9990002010")
	if got, err := l.Locate(ctx, "9990002010"); got != "A99902" || err != nil {
		t.Fatalf("after interval: %q %v", got, err)
	}
	if _, err := l.Locate(ctx, "9990001022"); mig.ErrorCode(err) != mig.ENOTFOUND {
		t.Fatal(err)
	}
	if a.calls.Load() != callsA+1 || b.calls.Load() != callsB+1 {
		t.Fatalf("calls %d %d, want %d %d", a.calls.Load(), b.calls.Load(), callsA+1, callsB+1)
	}
}

func TestRefreshesNeverOverlap(t *testing.T) {
	ctx := context.Background()
	a := &fakeSource{delay: 30 * time.Millisecond}
	a.set("9990001006")
	l := locator.New(openIndex(t), map[string]source.Source{"A99901": a}, locator.Options{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.RefreshPractice(ctx, "A99901"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if m := a.max.Load(); m != 1 {
		t.Fatalf("%d refreshes of one practice ran at once", m)
	}
	if got, err := l.Locate(ctx, "9990001006"); got != "A99901" || err != nil {
		t.Fatal(got, err)
	}
}

func TestRun(t *testing.T) {
	a := &fakeSource{}
	a.set("9990001006")
	l := locator.New(openIndex(t), map[string]source.Source{"A99901": a}, locator.Options{Refresh: 10 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Millisecond)
	defer cancel()
	if err := l.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	if n := a.calls.Load(); n < 3 {
		t.Fatalf("%d refreshes in 80ms at 10ms", n)
	}
}

// denyLease grants leases to one holder only, and counts asks.
type denyLease struct {
	holder string
	err    error
	asks   atomic.Int64
}

func (d *denyLease) TryLease(_ context.Context, name, holder string, _ time.Time, ttl time.Duration) (bool, error) {
	d.asks.Add(1)
	if err := locator.CheckLease(name, holder, ttl); err != nil {
		return false, err
	}
	return holder == d.holder, d.err
}

// TestRunLeased: a node that does not hold the lease leaves the scheduled
// refresh to the holder; one that cannot read the lease refreshes nothing
// and says so.
func TestRunLeased(t *testing.T) {
	a := &fakeSource{}
	a.set("9990001006")
	lease := &denyLease{holder: "other-node"}
	l := locator.New(openIndex(t), map[string]source.Source{"A99901": a}, locator.Options{Refresh: 10 * time.Millisecond, Lease: lease, Holder: "this-node"})
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Millisecond)
	defer cancel()
	if err := l.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	if n := a.calls.Load(); n != 0 || lease.asks.Load() < 3 {
		t.Fatalf("%d listings, %d lease asks: want none, and an ask per tick", n, lease.asks.Load())
	}
	lease.holder = "this-node"
	if did, err := l.RefreshLeased(context.Background()); !did || err != nil || a.calls.Load() != 1 {
		t.Fatalf("holder: refreshed %v %v, %d listings", did, err, a.calls.Load())
	}
	lease.err = mig.Errorf(mig.EUNAVAILABLE, "database down")
	var told error
	l2 := locator.New(openIndex(t), map[string]source.Source{"A99901": a}, locator.Options{Lease: lease, Holder: "this-node",
		OnLease: func(_ bool, err error) { told = err }})
	if did, err := l2.RefreshLeased(context.Background()); did || mig.ErrorCode(err) != mig.EUNAVAILABLE || told == nil {
		t.Fatalf("unreadable lease: refreshed %v, %v, told %v", did, err, told)
	}
	if a.calls.Load() != 1 {
		t.Fatal("refreshed without the lease")
	}
}
