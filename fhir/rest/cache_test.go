package rest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mig/adapters"
	"mig/adapters/record"
	"mig/consent"
	"mig/fhir"
	"mig/internal/testenv"
)

// fakeClock is a TTL clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// extractOf names bytes as a fetched extract of 9990001006 at A99901.
func extractOf(b []byte) adapters.Extract {
	return adapters.Extract{Practice: "A99901", NHSNumber: "9990001006", Format: "gp2gp", SHA256: sha256.Sum256(b), Size: len(b)}
}

// sample reads and parses one synthetic extract.
func sample(t testing.TB, practice, nhs, format string) ([]byte, *record.Record) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "testdata", practice, nhs+".xml"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := adapters.Parse(format, bytes.NewReader(b), record.ParseOptions{NHSNumber: nhs})
	if err != nil {
		t.Fatal(err)
	}
	return b, rec
}

// counted is a parse function that counts its calls.
func counted(rec *record.Record, clocked bool, n *atomic.Int32) func() (*record.Record, bool, error) {
	return func() (*record.Record, bool, error) {
		n.Add(1)
		return rec, clocked, nil
	}
}

func TestCacheParsed(t *testing.T) {
	b, rec := sample(t, "A99901", "9990001006", "gp2gp")
	clk := &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	c := NewCache(CacheOptions{MaxBytes: 1 << 20, TTL: time.Minute, Version: "v1", Clock: clk.now})
	var parses atomic.Int32
	x := extractOf(b)
	get := func(x adapters.Extract, clocked bool) *record.Record {
		t.Helper()
		got, err := c.Parsed(x, counted(rec, clocked, &parses))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	steps := []struct {
		name   string
		do     func()
		parses int32
	}{
		{"first read parses", func() { get(x, false) }, 1},
		{"same bytes reuse", func() { get(x, false) }, 1},
		{"other bytes parse", func() { x2 := extractOf(append(b, ' ')); get(x2, false) }, 2},
		{"other patient parses", func() { x2 := x; x2.NHSNumber = "9990001014"; get(x2, false) }, 3},
		{"other practice parses", func() { x2 := x; x2.Practice = "A99902"; get(x2, false) }, 4},
		{"other format parses", func() { x2 := x; x2.Format = "emis"; get(x2, false) }, 5},
		{"still held", func() { get(x, false) }, 5},
		{"reset drops", func() { c.Reset("v2"); get(x, false) }, 6},
		{"held under the new version", func() { get(x, false) }, 6},
		{"just before the TTL", func() { clk.add(time.Minute - time.Second); get(x, false) }, 6},
		{"at the TTL, however often used", func() { clk.add(time.Second); get(x, false) }, 7},
		{"a clocked parse is not kept", func() {
			x2 := extractOf([]byte("clocked"))
			get(x2, true)
			get(x2, true)
		}, 9},
	}
	for _, s := range steps {
		s.do()
		if got := parses.Load(); got != s.parses {
			t.Fatalf("%s: %d parses, want %d", s.name, got, s.parses)
		}
	}
	st := c.Stats()
	if st.Hits != 4 || st.Misses != 9 || st.Clocked != 2 || st.Resets != 1 || st.Expired != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestCacheParseErrorNotKept(t *testing.T) {
	c := NewCache(CacheOptions{MaxBytes: 1 << 20})
	x := extractOf([]byte("<bad"))
	n := 0
	for i := 0; i < 2; i++ {
		_, err := c.Parsed(x, func() (*record.Record, bool, error) { n++; return nil, false, fmt.Errorf("malformed") })
		if err == nil {
			t.Fatal("parse error not returned")
		}
	}
	if n != 2 || c.Stats().Entries != 0 {
		t.Errorf("a failed parse was kept: %d parses, %+v", n, c.Stats())
	}
}

func TestCacheDisabled(t *testing.T) {
	if c := NewCache(CacheOptions{}); c != nil {
		t.Fatal("MaxBytes 0 made a cache")
	}
	var c *Cache
	n := 0
	for i := 0; i < 2; i++ {
		if _, err := c.Parsed(extractOf(nil), func() (*record.Record, bool, error) { n++; return &record.Record{}, false, nil }); err != nil {
			t.Fatal(err)
		}
	}
	if n != 2 {
		t.Errorf("a nil cache kept a record")
	}
	c.Reset("x")
	if (c.Stats() != CacheStats{}) {
		t.Error("a nil cache counted")
	}
}

// The estimate never exceeds MaxBytes; the least recently used goes
// first; an entry bigger than the whole budget is not kept.
func TestCacheBounds(t *testing.T) {
	b, rec := sample(t, "A99901", "9990001006", "gp2gp")
	one := recordCost(extractOf(b), rec)
	c := NewCache(CacheOptions{MaxBytes: 3*one + one/2})
	var parses atomic.Int32
	xs := make([]adapters.Extract, 5)
	for i := range xs {
		xs[i] = extractOf(b)
		xs[i].SHA256[0] = byte(i) // five versions of the same size
	}
	for _, i := range []int{0, 1, 2} {
		c.Parsed(xs[i], counted(rec, false, &parses))
	}
	c.Parsed(xs[0], counted(rec, false, &parses)) // 0 is now the most recent: 1 goes first
	c.Parsed(xs[3], counted(rec, false, &parses))
	if st := c.Stats(); st.Entries != 3 || st.Evictions != 1 || st.Bytes > 3*one+one/2 {
		t.Fatalf("after a fourth entry: %+v", st)
	}
	before := parses.Load()
	c.Parsed(xs[0], counted(rec, false, &parses))
	c.Parsed(xs[2], counted(rec, false, &parses))
	c.Parsed(xs[3], counted(rec, false, &parses))
	if parses.Load() != before {
		t.Error("a recently used entry was evicted")
	}
	c.Parsed(xs[1], counted(rec, false, &parses))
	if parses.Load() != before+1 {
		t.Error("the evicted entry was still held")
	}
	small := NewCache(CacheOptions{MaxBytes: one / 2})
	small.Parsed(xs[4], counted(rec, false, &parses))
	if st := small.Stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Errorf("an entry over the whole budget was kept: %+v", st)
	}
}

// Run drops expired entries without a request to find them.
func TestCacheRunSweeps(t *testing.T) {
	_, rec := sample(t, "A99901", "9990001006", "gp2gp")
	clk := &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	c := NewCache(CacheOptions{MaxBytes: 1 << 20, TTL: 40 * time.Millisecond, Clock: clk.now})
	var n atomic.Int32
	c.Parsed(extractOf([]byte("a")), counted(rec, false, &n))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	clk.add(time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for c.Stats().Entries != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("expired entry still held: %+v", c.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := c.Stats(); st.Expired != 1 || st.Bytes != 0 {
		t.Errorf("%+v", st)
	}
}

func mustMarshal(t testing.TB, rs fhir.Resource) []byte {
	t.Helper()
	b, err := fhir.MarshalResource(rs.Proto)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mapped maps rec as the server would for a requester seeing everything.
func mapped(t testing.TB, rec *record.Record) *fhir.Result {
	t.Helper()
	ids, err := fhir.NewIDs(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	record.Tag(rec, record.DefaultViewContext(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)))
	res, err := (&fhir.Mapper{IDs: ids, Base: "http://mig.test/fhir"}).Map(rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Mapped versions: found by exact signature, at most maxVariants, dropped
// with their record; their JSON is charged as it is made, the emergency
// label goes on a copy, and the shared proto is never changed.
func TestCacheVariants(t *testing.T) {
	b, rec := sample(t, "A99901", "9990001006", "gp2gp")
	res := mapped(t, rec)
	c := NewCache(CacheOptions{MaxBytes: 64 << 20})
	x := extractOf(b)
	var n atomic.Int32
	if v := c.keepVariant(x, []byte("sig"), rec, res); v != nil {
		t.Fatal("a variant was kept for a record not held")
	}
	c.Parsed(x, counted(rec, false, &n))
	v := c.keepVariant(x, []byte("sig0"), rec, res)
	if v == nil || c.variant(x, []byte("sig0")) != v || c.variant(x, []byte("sig")) != nil || c.variant(x, []byte("sig00")) != nil {
		t.Fatal("variants are not found by their exact signature")
	}
	rs := res.Resources[0]
	before := mustMarshal(t, rs)
	bytes0 := c.Stats().Bytes
	plain, err := v.encode(c, rs, false)
	if err != nil {
		t.Fatal(err)
	}
	btg, err := v.encode(c, rs, true)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, before) || strings.Contains(string(plain), "BTG") || !strings.Contains(string(btg), `"BTG"`) {
		t.Errorf("encodings: plain %s\nemergency %s", plain, btg)
	}
	if after := mustMarshal(t, rs); !bytes.Equal(after, before) {
		t.Error("the emergency label changed the shared resource")
	}
	if got := c.Stats().Bytes - bytes0; got != int64(len(plain)+len(btg)) {
		t.Errorf("charged %d bytes for %d bytes of JSON", got, len(plain)+len(btg))
	}
	again, _ := v.encode(c, rs, false)
	if &again[0] != &plain[0] {
		t.Error("a resource was encoded twice")
	}
	for i := 1; i <= maxVariants; i++ {
		c.keepVariant(x, []byte(fmt.Sprint("sig", i)), rec, res)
	}
	if c.variant(x, []byte("sig0")) != nil {
		t.Errorf("more than %d variants held", maxVariants)
	}
	if !v.gone {
		t.Error("a dropped variant still counts")
	}
	c.Reset("v2")
	if c.variant(x, []byte("sig1")) != nil || c.Stats().Bytes != 0 {
		t.Errorf("variants outlived their record: %+v", c.Stats())
	}
}

// Many requests at once on the same and on different extracts: run with
// -race. Bytes stay within the budget and the counts add up.
func TestCacheConcurrent(t *testing.T) {
	b, rec := sample(t, "A99901", "9990001006", "gp2gp")
	res := mapped(t, rec)
	one := recordCost(extractOf(b), rec)
	c := NewCache(CacheOptions{MaxBytes: 6 * one})
	var parses atomic.Int32
	var wg sync.WaitGroup
	const workers, rounds = 8, 200
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				x := extractOf(b)
				x.SHA256[0] = byte(i % 10)
				got, err := c.Parsed(x, counted(rec, false, &parses))
				if err != nil || got != rec {
					t.Error("wrong record")
					return
				}
				sig := []byte{byte(w % 3)}
				v := c.variant(x, sig)
				if v == nil {
					v = c.keepVariant(x, sig, rec, res)
				}
				if v != nil {
					rs := res.Resources[i%len(res.Resources)]
					if _, err := v.encode(c, rs, i%2 == 0); err != nil {
						t.Error(err)
						return
					}
				}
				if i%50 == 0 && w == 0 {
					c.Reset(fmt.Sprint("v", i))
				}
			}
		}(w)
	}
	wg.Wait()
	st := c.Stats()
	if st.Bytes > 6*one || st.Bytes < 0 {
		t.Errorf("bytes %d outside [0, %d]", st.Bytes, 6*one)
	}
	if st.Hits+st.Misses != workers*rounds || st.Misses != uint64(parses.Load()) {
		t.Errorf("counts do not add up: %+v, %d parses", st, parses.Load())
	}
}

// keepRule is a chain service standing for a requester's per-entry rules:
// it withholds entries outside view (when set) and entries of a kind.
type keepRule struct {
	consent.Base
	view    record.View
	without record.Kind
}

func (k keepRule) WillSee(_ context.Context, r *consent.Request, e *record.Entry) bool {
	if (k.view != "" && !e.InView(k.view)) || (k.without != record.KindNone && e.Kind == k.without) {
		r.Withheld = true
		return false
	}
	return true
}

// mapShared, through the cache, answers exactly what Mapper.Map with the
// chain's WillSee answers on a fresh record: for requesters with different
// rules, at instants either side of every boundary the record's dates set
// (an authorisation's end, the Summary's recent-tests and recent-acute
// periods), whatever was mapped and cached before.
func TestMapSharedMatchesMap(t *testing.T) {
	b, base := sample(t, "A99901", "9990001006", "gp2gp")
	day := func(y int, m time.Month, d int) record.Date {
		return record.Date{T: time.Date(y, m, d, 0, 0, 0, 0, time.UTC), P: record.PrecisionDay}
	}
	// A course the GP system still calls active, ending 2027-01-10: the
	// mapper shows it completed once that day is over.
	base.Entries = append(base.Entries, record.Entry{ID: "AUTH-END", Kind: record.KindMedicationAuthorisation,
		Status: record.StatusActive, Code: record.Concept{Codings: []record.Coding{{System: record.SystemSNOMED, Code: "325278007"}}},
		Effective: day(2026, 12, 1), End: day(2027, 1, 10), Medication: &record.MedicationInfo{Type: record.PrescriptionRepeat}})
	x := extractOf(b)
	ids, _ := fhir.NewIDs(bytes.Repeat([]byte{7}, 32))
	var clock time.Time
	s := &Server{Mapper: &fhir.Mapper{IDs: ids, Base: "http://mig.test/fhir", Now: func() time.Time { return clock }},
		Cache: NewCache(CacheOptions{MaxBytes: 64 << 20}), ViewContext: record.DefaultViewContext}
	var n atomic.Int32
	s.Cache.Parsed(x, counted(base, false, &n))
	requesters := map[string]consent.Chain{
		"everything":   {keepRule{}},
		"summary only": {keepRule{view: record.ViewSummary}},
		"no tests":     {keepRule{without: record.KindInvestigation}},
	}
	edges := []time.Time{
		time.Date(2027, 1, 11, 0, 0, 0, 0, time.UTC),  // the course's end day is over
		time.Date(2027, 9, 15, 0, 0, 0, 0, time.UTC),  // HbA1c of 2026-09-15 leaves recent tests
		time.Date(2026, 10, 29, 0, 0, 0, 0, time.UTC), // the issue of 2026-10-01 leaves recent acute (if acute)
	}
	var clocks []time.Time
	for _, e := range edges {
		clocks = append(clocks, e.Add(-time.Second), e.Add(time.Second))
	}
	// own is what sharedPatientData hands mapShared: the entries copied.
	own := func() *record.Record {
		rec := *base
		rec.Entries = append([]record.Entry(nil), base.Entries...)
		for i := range rec.Entries {
			rec.Entries[i].Views = nil
		}
		return &rec
	}
	differ := 0
	for round := 0; round < 2; round++ {
		for name, chain := range requesters {
			for _, now := range clocks {
				clock = now
				s.Chain = chain
				got := own()
				record.Tag(got, s.ViewContext(now))
				r := &consent.Request{}
				res, v, err := s.mapShared(context.Background(), r, x, got)
				if err != nil {
					t.Fatal(err)
				}
				want := own()
				record.Tag(want, s.ViewContext(now))
				rw := &consent.Request{}
				m := *s.Mapper
				wantRes, err := m.Map(want, func(e *record.Entry) bool { return chain.WillSee(context.Background(), rw, e) })
				if err != nil {
					t.Fatal(err)
				}
				where := fmt.Sprintf("round %d, %s at %s", round, name, now.Format(time.RFC3339))
				if res.Withheld != wantRes.Withheld || res.Unclassified != wantRes.Unclassified || r.Withheld != rw.Withheld ||
					len(res.Resources) != len(wantRes.Resources) {
					t.Fatalf("%s: %d resources (withheld %v/%v), want %d (withheld %v/%v)", where,
						len(res.Resources), res.Withheld, r.Withheld, len(wantRes.Resources), wantRes.Withheld, rw.Withheld)
				}
				for i := range res.Resources {
					for _, emergency := range []bool{false, true} {
						gotJSON, err := v.encode(s.Cache, res.Resources[i], emergency)
						if err != nil {
							t.Fatal(err)
						}
						wantJSON, _ := encodeOwn(wantRes.Resources[i].Proto, emergency)
						if !bytes.Equal(gotJSON, wantJSON) {
							t.Fatalf("%s: resource %d (emergency %v):\n got %s\nwant %s", where, i, emergency, gotJSON, wantJSON)
						}
					}
				}
				if len(res.Resources) != len(mapped(t, own()).Resources) {
					differ++
				}
			}
		}
	}
	st := s.Cache.Stats()
	if st.MapHits == 0 || st.MapMisses == 0 {
		t.Errorf("the cache was not exercised both ways: %+v", st)
	}
	if differ == 0 {
		t.Error("no requester or instant changed the answer: the test proves nothing")
	}
}
