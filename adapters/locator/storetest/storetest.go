// Package storetest is the contract every patient index backend keeps:
// locator.Index and locator.Lease, run from each backend's tests
// (adapters/locator/bolt, adapters/locator/pg) so that they behave alike.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mig"
	"mig/adapters/locator"
	"mig/adapters/record"
	"mig/adapters/source"
)

// Store is what a backend offers.
type Store interface {
	locator.Index
	locator.Lease
}

// Backend makes stores for the suite.
type Backend struct {
	// Open returns a new, empty store, closed when t ends.
	Open func(t *testing.T) Store
	// Peer returns another handle on s's store, as a second gateway node
	// has. nil for a backend one process holds (bbolt): the "two nodes"
	// tests then share s, and its lease is always granted.
	Peer func(t *testing.T, s Store) Store
}

func (b Backend) pair(t *testing.T) (Store, Store) {
	t.Helper()
	s := b.Open(t)
	if b.Peer == nil {
		return s, s
	}
	return s, b.Peer(t, s)
}

// Run runs the whole contract.
func Run(t *testing.T, b Backend) {
	t.Run("Index", func(t *testing.T) { testIndex(t, b) })
	t.Run("ReplaceAtomic", func(t *testing.T) { testReplaceAtomic(t, b) })
	t.Run("ConcurrentReplaceOnePractice", func(t *testing.T) { testConcurrentReplace(t, b) })
	t.Run("ManyPractices", func(t *testing.T) { testManyPractices(t, b) })
	t.Run("Lease", func(t *testing.T) { testLease(t, b) })
	t.Run("OneNodeRefreshes", func(t *testing.T) { testOneNodeRefreshes(t, b) })
}

// List yields nums to Replace.
func List(nums ...string) func(func(string) error) error {
	return func(add func(string) error) error {
		for _, n := range nums {
			if err := add(n); err != nil {
				return err
			}
		}
		return nil
	}
}

// NHSNumbers returns n valid NHS numbers from the 999 test range starting
// at base (nine digits), skipping bases whose check digit would be 10.
func NHSNumbers(base, n int) []string {
	out := make([]string, 0, n)
	for ; len(out) < n; base++ {
		s := strconv.Itoa(base)
		sum := 0
		for i := 0; i < 9; i++ {
			sum += int(s[i]-'0') * (10 - i)
		}
		check := (11 - sum%11) % 11
		if check == 10 {
			continue
		}
		out = append(out, s+strconv.Itoa(check))
	}
	return out
}

func testIndex(t *testing.T, b Backend) {
	ctx := context.Background()
	x, peer := b.pair(t)
	if got, err := x.Lookup(ctx, "9990001006"); err != nil || len(got) != 0 {
		t.Fatalf("empty index: %v %v", got, err)
	}
	// Duplicates count once; invalid numbers are skipped.
	if err := x.Replace(ctx, "A99901", List("9990001014", "9990001006", "9990001006", "12345", "9990001000")); err != nil {
		t.Fatal(err)
	}
	if err := peer.Replace(ctx, "A99902", List("9990001006")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("listing broke")
	if err := x.Replace(ctx, "A99902", func(add func(string) error) error { add("9990001022"); return boom }); !errors.Is(err, boom) {
		t.Fatalf("failed listing: %v", err)
	}
	if err := x.Replace(ctx, "", List("9990001006")); mig.ErrorCode(err) != mig.EINVALID {
		t.Fatalf("no practice: %v", err)
	}
	for _, h := range []Store{x, peer} {
		for nhs, want := range map[string][]string{
			"9990001006": {"A99901", "A99902"},
			"9990001014": {"A99901"},
			"9990001022": nil,
			"9990001000": nil,
			"99900010":   nil,
			"":           nil,
		} {
			got, err := h.Lookup(ctx, nhs)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("%s: %v %v, want %v", nhs, got, err, want)
			}
		}
		st, err := h.Stats(ctx)
		if err != nil || st.Numbers != 3 || st.Practices["A99901"].Count != 2 || st.Practices["A99901"].Generation != 1 ||
			st.Practices["A99902"].Generation != 1 || st.Practices["A99901"].Updated.IsZero() || st.Bytes <= 0 {
			t.Fatalf("stats %+v %v", st, err)
		}
	}
	// Replace applies the difference.
	if err := x.Replace(ctx, "A99901", List("9990001022", "9990001014")); err != nil {
		t.Fatal(err)
	}
	for nhs, want := range map[string][]string{"9990001006": {"A99902"}, "9990001014": {"A99901"}, "9990001022": {"A99901"}} {
		if got, _ := peer.Lookup(ctx, nhs); !slices.Equal(got, want) {
			t.Errorf("after replace %s: %v, want %v", nhs, got, want)
		}
	}
	if st, _ := peer.Stats(ctx); st.Practices["A99901"].Generation != 2 || st.Numbers != 3 {
		t.Errorf("stats after replace %+v", st)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := x.Replace(cctx, "A99901", List()); err == nil {
		t.Error("cancelled replace applied")
	}
	if got, _ := x.Lookup(ctx, "9990001014"); len(got) != 1 {
		t.Error("cancelled replace emptied the set")
	}
	// An empty list empties the practice, which stays known with count 0.
	if err := peer.Replace(ctx, "A99902", List()); err != nil {
		t.Fatal(err)
	}
	if got, _ := x.Lookup(ctx, "9990001006"); len(got) != 0 {
		t.Errorf("emptied practice still found: %v", got)
	}
	if st, _ := x.Stats(ctx); st.Numbers != 2 || st.Practices["A99902"].Count != 0 || st.Practices["A99902"].Generation != 2 {
		t.Errorf("stats after emptying %+v", st)
	}
}

// testReplaceAtomic alternates a practice between two sets sharing some
// numbers while the other node looks them up: a number in both sets is
// never missing (a Replace that clears the set, then fills it, fails), and
// the last set is in force whole, the earlier one gone.
func testReplaceAtomic(t *testing.T, b Backend) {
	ctx := context.Background()
	x, peer := b.pair(t)
	nums := NHSNumbers(999100000, 600)
	common, onlyA, onlyB := nums[:200], nums[200:400], nums[400:]
	setA := append(slices.Clone(common), onlyA...)
	setB := append(slices.Clone(common), onlyB...)
	if err := x.Replace(ctx, "A99901", List(setA...)); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var checks atomic.Int64
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := common[(i*7+r)%len(common)]
				if got, err := peer.Lookup(ctx, c); err != nil || len(got) != 1 {
					t.Errorf("a number in both generations was missing mid-replace: %v %v", got, err)
					return
				}
				checks.Add(1)
			}
		}()
	}
	for i := range 10 {
		set := setB
		if i%2 == 1 {
			set = setA
		}
		if err := x.Replace(ctx, "A99901", List(set...)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if checks.Load() == 0 {
		t.Fatal("no lookups ran during the replaces")
	}
	// The last set (A) is in force, whole.
	for _, n := range onlyA {
		if got, _ := peer.Lookup(ctx, n); len(got) != 1 {
			t.Fatalf("number of the last set missing")
		}
	}
	for _, n := range onlyB {
		if got, _ := peer.Lookup(ctx, n); len(got) != 0 {
			t.Fatalf("number of an earlier set left")
		}
	}
	if st, _ := peer.Stats(ctx); st.Practices["A99901"].Generation != 11 || st.Practices["A99901"].Count != 400 {
		t.Fatalf("stats %+v", st.Practices["A99901"])
	}
}

// testConcurrentReplace replaces one practice from both nodes at once with
// different lists: every Replace takes effect whole, one after another.
func testConcurrentReplace(t *testing.T, b Backend) {
	ctx := context.Background()
	x, peer := b.pair(t)
	nums := NHSNumbers(999200000, 900)
	sets := [][]string{nums[:300], nums[300:600], nums[600:]}
	var wg sync.WaitGroup
	const rounds = 4
	for w := range 6 {
		h := x
		if w%2 == 1 {
			h = peer
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if err := h.Replace(ctx, "A99903", List(sets[w%3]...)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st, err := x.Stats(ctx)
	if err != nil || st.Practices["A99903"].Generation != 6*rounds || st.Numbers != 300 {
		t.Fatalf("after %d replaces: %+v %v", 6*rounds, st, err)
	}
	// Exactly one of the sets is in force.
	in := -1
	for i, s := range sets {
		got, _ := peer.Lookup(ctx, s[0])
		if len(got) == 1 {
			if in >= 0 {
				t.Fatalf("sets %d and %d both in force", in, i)
			}
			in = i
		}
	}
	if in < 0 {
		t.Fatal("no set in force")
	}
	for _, n := range sets[in] {
		if got, _ := peer.Lookup(ctx, n); len(got) != 1 || got[0] != "A99903" {
			t.Fatalf("set %d in force only in part", in)
		}
	}
}

// testManyPractices replaces 20 practices at once, half from each node.
func testManyPractices(t *testing.T, b Backend) {
	ctx := context.Background()
	x, peer := b.pair(t)
	const practices, each = 20, 250
	nums := NHSNumbers(999300000, practices*each)
	var wg sync.WaitGroup
	for p := range practices {
		h := x
		if p%2 == 1 {
			h = peer
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.Replace(ctx, fmt.Sprintf("P%05d", p), List(nums[p*each:(p+1)*each]...)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	st, err := peer.Stats(ctx)
	if err != nil || st.Numbers != practices*each || len(st.Practices) != practices {
		t.Fatalf("stats: %d numbers, %d practices, %v", st.Numbers, len(st.Practices), err)
	}
	for i := 0; i < len(nums); i += 97 {
		want := fmt.Sprintf("P%05d", i/each)
		if got, err := x.Lookup(ctx, nums[i]); err != nil || !slices.Equal(got, []string{want}) {
			t.Fatalf("%d: %v %v, want %s", i, got, err, want)
		}
	}
}

func testLease(t *testing.T, b Backend) {
	ctx := context.Background()
	x, peer := b.pair(t)
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	const ttl = time.Minute
	for _, bad := range []struct {
		name, holder string
		ttl          time.Duration
	}{{"", "a", ttl}, {"l", "", ttl}, {"l", "a", 0}, {"l", "a", -time.Second}} {
		if ok, err := x.TryLease(ctx, bad.name, bad.holder, t0, bad.ttl); ok || mig.ErrorCode(err) != mig.EINVALID {
			t.Errorf("TryLease(%q, %q, %v) = %v, %v; want EINVALID", bad.name, bad.holder, bad.ttl, ok, err)
		}
	}
	try := func(s Store, holder string, at time.Time) bool {
		t.Helper()
		ok, err := s.TryLease(ctx, "l", holder, at, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if b.Peer == nil {
		// One process holds the store: whoever asks holds the lease.
		for i, h := range []string{"a", "b", "a"} {
			if !try(x, h, t0.Add(time.Duration(i)*time.Second)) {
				t.Fatalf("single-node lease refused %s", h)
			}
		}
		return
	}
	steps := []struct {
		s      Store
		holder string
		at     time.Duration
		want   bool
	}{
		{x, "a", 0, true},                    // free: a takes it until 1m
		{peer, "b", 30 * time.Second, false}, // held by a
		{x, "a", 50 * time.Second, true},     // a renews until 1m50s
		{peer, "b", 70 * time.Second, false}, // still a's (renewed)
		{peer, "b", 110 * time.Second, true}, // a stopped renewing: b takes over at expiry
		{x, "a", 111 * time.Second, false},   // and a no longer holds it
		{peer, "b", 120 * time.Second, true}, // b renews
	}
	for i, s := range steps {
		if got := try(s.s, s.holder, t0.Add(s.at)); got != s.want {
			t.Fatalf("step %d: %s at %v got %v, want %v", i, s.holder, s.at, got, s.want)
		}
	}
	// Leases are independent by name.
	if ok, err := x.TryLease(ctx, "other", "a", t0.Add(120*time.Second), ttl); err != nil || !ok {
		t.Fatalf("another lease: %v %v", ok, err)
	}
	// Nodes racing for a free lease: exactly one gets it.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		h := x
		if i%2 == 1 {
			h = peer
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := h.TryLease(ctx, "race", fmt.Sprintf("n%d", i), t0, ttl)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d nodes took one lease", wins.Load())
	}
}

// countingSource lists a fixed set of numbers and counts listings.
type countingSource struct {
	list  []string
	calls atomic.Int64
}

func (f *countingSource) Patients(ctx context.Context, fn func(string) error) error {
	f.calls.Add(1)
	for _, n := range f.list {
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}
func (f *countingSource) Fetch(context.Context, string) (io.ReadCloser, error) {
	return nil, errors.New("not used")
}
func (f *countingSource) Demographics(context.Context, string) (*record.Patient, error) {
	return nil, errors.New("not used")
}
func (f *countingSource) Notify(context.Context, source.Notification) error { return nil }

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

// testOneNodeRefreshes runs two Locators (two nodes) on the shared index
// with one fake clock: only the lease holder refreshes on schedule; when
// it stops renewing, the other takes over once the lease's term is out. A
// miss refreshes each practice on one node per interval.
func testOneNodeRefreshes(t *testing.T, b Backend) {
	if b.Peer == nil {
		t.Skip("one process holds this backend's store: there is no second node")
	}
	ctx := context.Background()
	x, peer := b.pair(t)
	clk := &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	const refresh, ttl = time.Minute, 3 * time.Minute
	nodes := make([]*locator.Locator, 2)
	srcs := make([]*countingSource, 2)
	var leaseEvents [2]atomic.Int32
	for i, idx := range []Store{x, peer} {
		srcs[i] = &countingSource{list: []string{"9990001006", "9990001014"}}
		nodes[i] = locator.New(idx, map[string]source.Source{"A99901": srcs[i]}, locator.Options{
			Refresh: refresh, LeaseTTL: ttl, Lease: idx, Holder: fmt.Sprintf("node-%d", i),
			MissRefreshInterval: time.Minute, Now: clk.Now,
			OnLease: func(held bool, err error) {
				if err != nil {
					t.Error(err)
				}
				leaseEvents[i].Add(1)
			},
		})
	}
	tick := func(i int) bool {
		t.Helper()
		did, err := nodes[i].RefreshLeased(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return did
	}
	if !tick(0) || tick(1) {
		t.Fatal("at start: node 0 should refresh and node 1 not")
	}
	for range 5 { // both tick every minute; node 0 renews each time
		clk.Add(refresh)
		if !tick(0) || tick(1) {
			t.Fatal("while node 0 renews, node 1 must not refresh")
		}
	}
	if srcs[0].calls.Load() != 6 || srcs[1].calls.Load() != 0 {
		t.Fatalf("listings: node 0 %d, node 1 %d; want 6, 0", srcs[0].calls.Load(), srcs[1].calls.Load())
	}
	// Node 1 finds patients through the shared index all the same.
	if got, err := nodes[1].Locate(ctx, "9990001014"); got != "A99901" || err != nil {
		t.Fatalf("node 1 locate: %q %v", got, err)
	}
	// Node 0 stops (no more ticks). Within the term node 1 waits.
	clk.Add(2 * time.Minute)
	if tick(1) {
		t.Fatal("node 1 took over before the lease's term ran out")
	}
	clk.Add(time.Minute) // node 0's last renewal + ttl
	if !tick(1) {
		t.Fatal("node 1 did not take over after the term")
	}
	if srcs[1].calls.Load() != 1 {
		t.Fatalf("node 1 listed %d times", srcs[1].calls.Load())
	}
	// Node 0 comes back: it no longer holds the lease.
	clk.Add(refresh)
	if tick(0) || !tick(1) {
		t.Fatal("after the take-over node 1 refreshes, node 0 not")
	}
	if leaseEvents[0].Load() != 2 || leaseEvents[1].Load() != 1 {
		t.Fatalf("lease changes told: node 0 %d, node 1 %d; want 2 (took, lost), 1 (took)", leaseEvents[0].Load(), leaseEvents[1].Load())
	}
	// A miss: one node refreshes the practice per interval, whichever asks
	// first.
	clk.Add(5 * time.Minute)
	c0, c1 := srcs[0].calls.Load(), srcs[1].calls.Load()
	for _, n := range nodes {
		if _, err := n.Locate(ctx, "9990001022"); mig.ErrorCode(err) != mig.ENOTFOUND {
			t.Fatal(err)
		}
	}
	if d0, d1 := srcs[0].calls.Load()-c0, srcs[1].calls.Load()-c1; d0+d1 != 1 || d0 != 1 {
		t.Fatalf("a miss on both nodes listed node 0 %d, node 1 %d times; want once, on node 0", d0, d1)
	}
}
