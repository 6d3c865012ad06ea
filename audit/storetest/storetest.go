// Package storetest is the contract every audit store backend keeps:
// audit.Store, audit.Outbox, audit.JobStore, audit.ChainHead and the
// export files, run from each backend's tests (audit/bolt, audit/pg) so
// that they behave alike. Backends that several nodes share (PostgreSQL)
// also run the multi-node cases: one gapless chain from three instances
// appending at once, and each notification delivered once by concurrent
// drainers.
package storetest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"mig"
	"mig/adapters/source"
	"mig/audit"
)

// Store is what every audit backend offers.
type Store interface {
	audit.Store
	audit.Outbox
	audit.JobStore
	audit.ChainHead
}

// Tamper names an insider's edit of the records, made behind the store's
// back (in the file, or with SQL).
type Tamper int

const (
	// TamperBody changes a record's body, leaving its hash: ProblemHash at seq.
	TamperBody Tamper = iota
	// TamperDelete removes a record from the middle: ProblemGap at seq+1.
	TamperDelete
	// TamperRechain changes a record's body and recomputes its own hash:
	// ProblemChain at seq+1.
	TamperRechain
	// TamperPatient changes the patient a record is searched by (not its
	// body): ProblemAttrs at seq.
	TamperPatient
	// TamperTruncate removes the last record (seq): ProblemHead at seq.
	TamperTruncate
	// TamperRewrite changes a record's body and recomputes every hash from
	// it to the head: only a signed checkpoint shows it (ProblemCheckpoint).
	TamperRewrite
)

// Instance is one open, empty store under test and what the suite may do
// with it. Everything it opens is closed when the test ends.
type Instance struct {
	Store Store
	Files audit.ExportFiles
	// Lease, when set, says Pending claims what it hands out for this
	// long (until Ack or Defer), so concurrent drainers never share an
	// item; 0: Pending only reads (one drainer per store).
	Lease time.Duration
	// Node opens another instance on the same storage, as another gateway
	// node does; nil for a backend one process holds (bbolt's file lock).
	Node func(t *testing.T) Store
	// Reopen closes Store and opens the same storage again (a restart).
	Reopen func(t *testing.T) Store
	// Verify verifies everything the backend keeps (closing Store first
	// if the backend must).
	Verify func(t *testing.T, opt audit.VerifyOptions) *audit.VerifyReport
	// Tamper makes an insider's edit at record seq (closing Store first if
	// the backend must) and reports whether the backend supports it.
	Tamper func(t *testing.T, what Tamper, seq uint64) bool
}

// Run runs the whole contract; open returns a new, empty store each time.
func Run(t *testing.T, open func(t *testing.T) *Instance) {
	t.Run("AppendNumbersAndChains", func(t *testing.T) { testAppendChains(t, open(t)) })
	t.Run("AppendFailureStoresNothing", func(t *testing.T) { testAppendFailure(t, open(t)) })
	t.Run("ConcurrentAppendsGapless", func(t *testing.T) { testConcurrentAppends(t, open(t)) })
	t.Run("RestartKeepsChain", func(t *testing.T) { testRestart(t, open(t)) })
	t.Run("Get", func(t *testing.T) { testGet(t, open(t)) })
	t.Run("SearchMatchesBruteForce", func(t *testing.T) { testSearch(t, open(t)) })
	t.Run("Scan", func(t *testing.T) { testScan(t, open(t)) })
	t.Run("Outbox", func(t *testing.T) { testOutbox(t, open(t)) })
	t.Run("OutboxConcurrentDrainers", func(t *testing.T) { testDrainers(t, open(t), false) })
	t.Run("Jobs", func(t *testing.T) { testJobs(t, open(t)) })
	t.Run("ExportFiles", func(t *testing.T) { testExportFiles(t, open(t)) })
	t.Run("VerifyAndCheckpoint", func(t *testing.T) { testVerifyCheckpoint(t, open(t)) })
	t.Run("Tamper", func(t *testing.T) { testTamper(t, open) })
	t.Run("ThreeNodesOneChain", func(t *testing.T) { testThreeNodes(t, open(t)) })
	t.Run("ThreeNodesDrainOnce", func(t *testing.T) { testDrainers(t, open(t), true) })
}

// --- events ---

// Base is the time of event 0.
var Base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	orgCodes = []string{"RX999", "NX999", "ZZ999", "RA001", "RB002"}
	prCodes  = []string{"A99901", "A99902", "A99903", ""}
	outcomes = []string{audit.OutcomeSuccess, audit.OutcomeSuccess, audit.OutcomeSuccess, audit.OutcomeMinorFailure, audit.OutcomeSeriousFail}
	subtypes = []string{"read", "read", "search-type", "operation", "create"}
)

// Event makes a synthetic event i (at Base + i seconds) among patients and
// users: varied outcomes, subtypes, organisations and practices, one in 20
// an emergency, one in 10 about no patient. Its request id is "req-<i>".
func Event(rng *rand.Rand, i, patients, users int) *audit.Event {
	e := &audit.Event{
		Time:     Base.Add(time.Duration(i) * time.Second),
		Type:     audit.TypeRest,
		Subtype:  subtypes[rng.IntN(len(subtypes))],
		Action:   "R",
		Outcome:  outcomes[rng.IntN(len(outcomes))],
		UserID:   fmt.Sprintf("5550%08d", rng.IntN(users)),
		RoleCode: "R8000", RoleProfileID: "555000999",
		OrgODS:    orgCodes[rng.IntN(len(orgCodes))],
		ClientID:  "client-1",
		SourceIP:  "10.0.0.1",
		RequestID: fmt.Sprintf("req-%d", i),
		NHSNumber: fmt.Sprintf("999%07d", rng.IntN(patients)),
		Practice:  prCodes[rng.IntN(len(prCodes))],
		Consent:   "given", AgreementID: "isa-1",
		Released:     map[string]int{"Condition": rng.IntN(5), "Observation": rng.IntN(30)},
		PurposeOfUse: "TREAT",
	}
	if e.Outcome != audit.OutcomeSuccess {
		e.Type, e.OutcomeDesc, e.Released = audit.TypeSecurity, "share-consent NO_PATIENT_CONSENT", nil
	}
	if rng.IntN(20) == 0 {
		e.PurposeOfUse, e.Emergency, e.Consent = "ETREAT", "unconscious", "emergency"
	}
	if rng.IntN(10) == 0 {
		e.NHSNumber, e.Practice = "", ""
	}
	return e
}

// AlterBody is the insider's edit of a body: the request id's "req-"
// becomes "rex-", so the body still decodes to the same search fields and
// only the hashes tell.
func AlterBody(body []byte) []byte {
	out := bytes.Replace(body, []byte(`"req-`), []byte(`"rex-`), 1)
	if bytes.Equal(out, body) {
		panic("storetest.AlterBody: the body has no request id")
	}
	return out
}

// ChainHash is SHA-256(prev || body).
func ChainHash(prev [32]byte, body []byte) [32]byte {
	h := sha256.New()
	h.Write(prev[:])
	h.Write(body)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func seqs(st []*audit.Stored) []uint64 {
	out := make([]uint64, len(st))
	for i, s := range st {
		out[i] = s.Seq
	}
	return out
}

func appendAll(t *testing.T, s audit.Store, events []*audit.Event, rng *rand.Rand) []*audit.Stored {
	t.Helper()
	var out []*audit.Stored
	for i := 0; i < len(events); {
		n := min(1+rng.IntN(40), len(events)-i)
		st, err := s.Append(context.Background(), events[i:i+n]...)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, st...)
		i += n
	}
	return out
}

func scanAll(t *testing.T, s audit.Store) []*audit.Stored {
	t.Helper()
	var out []*audit.Stored
	if err := s.Scan(context.Background(), 0, func(st *audit.Stored) error {
		out = append(out, st)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkChain checks records 1..n are consecutive and chained.
func checkChain(t *testing.T, recs []*audit.Stored) {
	t.Helper()
	var prev [32]byte
	for i, st := range recs {
		if st.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i+1, st.Seq)
		}
		if st.Prev != prev || st.Hash != ChainHash(st.Prev, st.Body) {
			t.Fatalf("record %d is not chained", st.Seq)
		}
		prev = st.Hash
	}
}

// --- append ---

func testAppendChains(t *testing.T, in *Instance) {
	ctx := context.Background()
	s := in.Store
	if seq, h, err := s.Head(ctx); err != nil || seq != 0 || h != ([32]byte{}) {
		t.Fatalf("empty store head: %d %x %v", seq, h, err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	var events []*audit.Event
	for i := 0; i < 120; i++ {
		events = append(events, Event(rng, i, 20, 6))
	}
	stored := appendAll(t, s, events, rng)
	checkChain(t, stored)
	for i, st := range stored {
		d, err := audit.Decode(st.Body)
		if err != nil || d.ID != st.ID || d.RequestID != events[i].RequestID {
			t.Fatalf("record %d's body is not its event: %v", st.Seq, err)
		}
	}
	last := stored[len(stored)-1]
	if seq, h, err := s.Head(ctx); err != nil || seq != last.Seq || h != last.Hash {
		t.Fatalf("head %d, want %d (%v)", seq, last.Seq, err)
	}
	for _, st := range []*audit.Stored{stored[0], stored[57], last} {
		if h, ok, err := s.HashAt(ctx, st.Seq); err != nil || !ok || h != st.Hash {
			t.Fatalf("HashAt(%d) = %x %t %v", st.Seq, h, ok, err)
		}
	}
	if _, ok, err := s.HashAt(ctx, last.Seq+1); err != nil || ok {
		t.Fatalf("HashAt beyond the head: ok %t %v", ok, err)
	}
	if st, err := s.Append(ctx); err != nil || len(st) != 0 {
		t.Fatalf("empty append: %v %v", st, err)
	}
	if got := scanAll(t, s); len(got) != len(stored) {
		t.Fatalf("scan %d records, appended %d", len(got), len(stored))
	}
}

func testAppendFailure(t *testing.T, in *Instance) {
	ctx := context.Background()
	s := in.Store
	rng := rand.New(rand.NewPCG(5, 6))
	first, err := s.Append(ctx, Event(rng, 0, 5, 5))
	if err != nil {
		t.Fatal(err)
	}
	bad := Event(rng, 2, 5, 5)
	bad.Outcome = "99"
	if _, err := s.Append(ctx, Event(rng, 1, 5, 5), bad); err == nil {
		t.Fatal("a batch with an invalid event was stored")
	} else if c := mig.ErrorCode(err); c != mig.EINTERNAL && c != mig.EUNAVAILABLE {
		t.Fatalf("invalid event: code %q", c)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Append(cctx, Event(rng, 3, 5, 5)); mig.ErrorCode(err) != mig.EUNAVAILABLE {
		t.Fatalf("cancelled append: %v", err)
	}
	if got := scanAll(t, s); len(got) != 1 {
		t.Fatalf("%d records after failed appends, want 1", len(got))
	}
	st, err := s.Append(ctx, Event(rng, 4, 5, 5))
	if err != nil || st[0].Seq != 2 || st[0].Prev != first[0].Hash {
		t.Fatalf("append after failures: %v %v", seqs(st), err)
	}
}

// appendConcurrently runs workers goroutines on each store, each appending
// each times (every fifth a pair), and returns seq -> id of what was
// answered.
func appendConcurrently(t *testing.T, stores []Store, workers, each int) map[uint64]string {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[uint64]string{}
	errs := make(chan error, workers*len(stores)+1)
	for n, s := range stores {
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(n*100+w), 9))
				for i := 0; i < each; i++ {
					evs := []*audit.Event{Event(rng, i, 10, 5)}
					if i%5 == 0 {
						evs = append(evs, Event(rng, i, 10, 5))
					}
					st, err := s.Append(ctx, evs...)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					for j, x := range st {
						if _, dup := got[x.Seq]; dup {
							errs <- fmt.Errorf("seq %d answered twice", x.Seq)
						}
						got[x.Seq] = x.ID
						if j > 0 && x.Seq != st[j-1].Seq+1 {
							errs <- fmt.Errorf("one append's events are not consecutive")
						}
					}
					mu.Unlock()
				}
			}(w)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return got
}

// checkAnswered checks that the store holds exactly the answered records,
// gapless, chained, in order.
func checkAnswered(t *testing.T, s audit.Store, got map[uint64]string, total int) {
	t.Helper()
	if len(got) != total {
		t.Fatalf("%d records answered, want %d", len(got), total)
	}
	recs := scanAll(t, s)
	if len(recs) != total {
		t.Fatalf("scan: %d records, want %d", len(recs), total)
	}
	checkChain(t, recs)
	for _, st := range recs {
		if got[st.Seq] != st.ID {
			t.Fatalf("seq %d holds another record than was answered", st.Seq)
		}
	}
}

func testConcurrentAppends(t *testing.T, in *Instance) {
	const workers, each = 8, 40
	got := appendConcurrently(t, []Store{in.Store}, workers, each)
	checkAnswered(t, in.Store, got, workers*(each+each/5))
	if rep := in.Verify(t, audit.VerifyOptions{}); !rep.OK() || rep.LastSeq != uint64(len(got)) {
		t.Fatalf("verify: %v (last %d)", rep.Problems, rep.LastSeq)
	}
}

func testRestart(t *testing.T, in *Instance) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	s := in.Store
	var last *audit.Stored
	for round := 0; round < 3; round++ {
		if round > 0 {
			s = in.Reopen(t)
		}
		for i := 0; i < 10; i++ {
			st, err := s.Append(ctx, Event(rng, i, 5, 5))
			if err != nil {
				t.Fatal(err)
			}
			if last != nil && (st[0].Seq != last.Seq+1 || st[0].Prev != last.Hash) {
				t.Fatalf("round %d: seq %d does not chain to seq %d", round, st[0].Seq, last.Seq)
			}
			last = st[0]
		}
	}
	in.Store = s
	if rep := in.Verify(t, audit.VerifyOptions{}); !rep.OK() || rep.LastSeq != 30 || !rep.Anchored {
		t.Fatalf("verify: %+v", rep)
	}
}

// --- reads ---

func testGet(t *testing.T, in *Instance) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 7))
	var events []*audit.Event
	for i := 0; i < 30; i++ {
		events = append(events, Event(rng, i, 5, 5))
	}
	stored, err := in.Store.Append(ctx, events...)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stored {
		g, err := in.Store.Get(ctx, st.ID)
		if err != nil || g.Seq != st.Seq || !bytes.Equal(g.Body, st.Body) || g.Hash != st.Hash || g.Prev != st.Prev || g.ID != st.ID {
			t.Fatalf("Get(%s) = %+v, %v", st.ID, g, err)
		}
	}
	for _, id := range []string{"nope", audit.NewID(), ""} {
		if _, err := in.Store.Get(ctx, id); mig.ErrorCode(err) != mig.ENOTFOUND {
			t.Fatalf("Get(%q): %v", id, err)
		}
	}
}

// matches is the Query contract, restated by brute force.
func matches(q audit.Query, e *audit.Event, seq uint64) bool {
	if q.OrgODS != nil && len(q.OrgODS) == 0 {
		return false
	}
	outcome := e.Outcome
	if outcome == "" {
		outcome = audit.OutcomeSuccess
	}
	if seq <= q.AfterSeq || (q.NHSNumber != "" && e.NHSNumber != q.NHSNumber) || (q.Agent != "" && e.UserID != q.Agent) ||
		(q.Outcome != "" && outcome != q.Outcome) || (!q.Since.IsZero() && e.Time.Before(q.Since)) || (!q.Until.IsZero() && !e.Time.Before(q.Until)) {
		return false
	}
	emergency := e.PurposeOfUse == "ETREAT" || e.Emergency != "" || e.Subtype == audit.SubtypeEmergencyOverride
	if q.Subtype != "" && e.Subtype != q.Subtype && !(q.Subtype == audit.SubtypeEmergencyOverride && emergency) {
		return false
	}
	if q.OrgODS != nil && !(e.OrgODS != "" && slices.Contains(q.OrgODS, e.OrgODS)) && !(e.Practice != "" && slices.Contains(q.OrgODS, e.Practice)) {
		return false
	}
	return true
}

func testSearch(t *testing.T, in *Instance) {
	ctx := context.Background()
	s := in.Store
	rng := rand.New(rand.NewPCG(1, 2))
	var events []*audit.Event
	for i := 0; i < 600; i++ {
		events = append(events, Event(rng, i, 30, 12))
	}
	appendAll(t, s, events, rng)
	queries := []audit.Query{
		{NHSNumber: events[7].NHSNumber},
		{NHSNumber: events[7].NHSNumber, AfterSeq: 300},
		{Agent: events[3].UserID},
		{Agent: events[3].UserID, OrgODS: []string{"RX999"}},
		{OrgODS: []string{"RX999"}},
		{OrgODS: []string{"A99902", "NX999"}},
		{OrgODS: []string{}},
		{OrgODS: []string{""}},
		{Outcome: audit.OutcomeSeriousFail},
		{Outcome: audit.OutcomeSuccess, Limit: 50},
		{Subtype: audit.SubtypeEmergencyOverride},
		{Subtype: "create", OrgODS: []string{"ZZ999"}},
		{Subtype: "read", Limit: 30, AfterSeq: 100},
		{Subtype: "search-type", Outcome: audit.OutcomeMinorFailure},
		{Since: Base.Add(100 * time.Second), Until: Base.Add(250 * time.Second)},
		{Since: Base.Add(500 * time.Second)},
		{Until: Base.Add(20 * time.Second)},
		{NHSNumber: events[9].NHSNumber, Since: Base.Add(100 * time.Second), Until: Base.Add(400 * time.Second)},
		{NHSNumber: events[9].NHSNumber, Agent: events[9].UserID, Outcome: events[9].Outcome, Subtype: events[9].Subtype, OrgODS: []string{events[9].OrgODS}},
		{},
		{Limit: 7, AfterSeq: 590},
		{AfterSeq: 600},
		{NHSNumber: "9999999999"},
	}
	want := func(q audit.Query, limit int) []uint64 {
		var out []uint64
		for j, e := range events {
			if len(out) < limit && matches(q, e, uint64(j+1)) {
				out = append(out, uint64(j+1))
			}
		}
		return out
	}
	for i, q := range queries {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, err := s.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			limit := q.Limit
			if limit <= 0 {
				limit = 1000
			}
			if w := want(q, limit); !slices.Equal(seqs(got), w) {
				t.Fatalf("query %+v: got %v, want %v", q, seqs(got), w)
			}
			for _, st := range got {
				if st.Hash != ChainHash(st.Prev, st.Body) {
					t.Fatalf("search returned a record whose hash does not match it")
				}
			}
		})
	}
	// Cursor paging: pages of 13 following AfterSeq give the whole answer.
	for _, q := range []audit.Query{{OrgODS: []string{"RX999", "A99901"}}, {Outcome: audit.OutcomeMinorFailure}, {}} {
		all := want(q, 1<<30)
		var paged []uint64
		for cur := uint64(0); ; {
			page := q
			page.AfterSeq, page.Limit = cur, 13
			got, err := s.Search(ctx, page)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) > 13 {
				t.Fatalf("page of %d over the limit", len(got))
			}
			paged = append(paged, seqs(got)...)
			if len(got) < 13 {
				break
			}
			cur = got[len(got)-1].Seq
		}
		if !slices.Equal(paged, all) {
			t.Fatalf("paging %+v: %d records, want %d", q, len(paged), len(all))
		}
	}
	// A cancelled search fails and says so.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Search(cctx, audit.Query{}); err == nil {
		t.Fatal("cancelled search succeeded")
	}
}

func testScan(t *testing.T, in *Instance) {
	ctx := context.Background()
	s := in.Store
	rng := rand.New(rand.NewPCG(9, 9))
	var events []*audit.Event
	for i := 0; i < 700; i++ { // more than one read chunk
		events = append(events, Event(rng, i, 30, 12))
	}
	stored := appendAll(t, s, events, rng)
	for _, after := range []uint64{0, 1, 255, 256, 257, 699, 700, 800} {
		var got []uint64
		if err := s.Scan(ctx, after, func(st *audit.Stored) error {
			got = append(got, st.Seq)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var want []uint64
		for _, st := range stored {
			if st.Seq > after {
				want = append(want, st.Seq)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("scan after %d: %d records, want %d", after, len(got), len(want))
		}
	}
	stop := fmt.Errorf("stop")
	var n int
	if err := s.Scan(ctx, 0, func(*audit.Stored) error {
		if n++; n == 300 {
			return stop
		}
		return nil
	}); err != stop || n != 300 {
		t.Fatalf("scan stopped by fn: %v after %d", err, n)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Scan(cctx, 0, func(*audit.Stored) error { return nil }); err == nil {
		t.Fatal("cancelled scan succeeded")
	}
}

// --- outbox ---

func testOutbox(t *testing.T, in *Instance) {
	ctx := context.Background()
	s := in.Store
	rng := rand.New(rand.NewPCG(13, 14))
	var withPractice int
	var events []*audit.Event
	for i := 0; i < 30; i++ {
		e := Event(rng, i, 5, 5)
		if e.Practice != "" {
			withPractice++
		}
		events = append(events, e)
	}
	stored, err := s.Append(ctx, events...)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	items, err := s.Pending(ctx, now, 100)
	if err != nil || len(items) != withPractice {
		t.Fatalf("pending %d, want %d (%v)", len(items), withPractice, err)
	}
	for i, it := range items {
		st := stored[it.Seq-1]
		if st.ID != it.ID || !bytes.Equal(st.Body, it.Body) || it.Practice != events[it.Seq-1].Practice || it.Attempts != 0 || !it.Next.IsZero() {
			t.Fatalf("outbox item %s does not match its record", it.ID)
		}
		if i > 0 && it.ID < items[i-1].ID {
			t.Fatal("items due at once are not in id order")
		}
	}
	if in.Lease > 0 {
		// Claimed: not handed out again until the lease ends.
		if again, err := s.Pending(ctx, now, 100); err != nil || len(again) != 0 {
			t.Fatalf("claimed items handed out again: %d %v", len(again), err)
		}
		back, err := s.Pending(ctx, now.Add(in.Lease+time.Second), 100)
		if err != nil || len(back) != withPractice {
			t.Fatalf("items not reclaimed after the lease: %d %v", len(back), err)
		}
		now = now.Add(in.Lease + time.Second)
		if again, _ := s.Pending(ctx, now, 100); len(again) != 0 {
			t.Fatalf("reclaimed items handed out again: %d", len(again))
		}
		now = now.Add(in.Lease + time.Second) // every claim over
	}
	if err := s.Ack(ctx, items[0].ID); err != nil {
		t.Fatal(err)
	}
	deferAt := now.Add(time.Minute)
	if err := s.Defer(ctx, items[1].ID, deferAt, 3); err != nil {
		t.Fatal(err)
	}
	limited, err := s.Pending(ctx, now, 3)
	if err != nil || len(limited) != 3 {
		t.Fatalf("pending with limit 3: %d %v", len(limited), err)
	}
	if in.Lease > 0 {
		for _, it := range limited {
			if err := s.Defer(ctx, it.ID, now, 0); err != nil { // give them back, due at once
				t.Fatal(err)
			}
		}
	}
	later, _ := s.Pending(ctx, now, 100)
	if len(later) != withPractice-2 {
		t.Fatalf("pending after ack+defer: %d, want %d", len(later), withPractice-2)
	}
	if in.Lease > 0 {
		now = now.Add(in.Lease + time.Second)
	}
	future, _ := s.Pending(ctx, now.Add(2*time.Minute), 100)
	if len(future) != withPractice-1 {
		t.Fatalf("pending later: %d, want %d", len(future), withPractice-1)
	}
	var deferred *audit.OutboxItem
	for i := range future {
		if future[i].ID == items[1].ID {
			deferred = &future[i]
		}
	}
	if deferred == nil || deferred.Attempts != 3 || deferred.Next.UnixNano() != deferAt.UnixNano() {
		t.Fatalf("deferred item not due later with its attempts: %+v", deferred)
	}
	if err := s.Ack(ctx, items[0].ID); err != nil {
		t.Fatal("second ack:", err)
	}
	if err := s.Defer(ctx, items[0].ID, now, 1); err != nil {
		t.Fatal("defer of an acknowledged item:", err)
	}
	// Only the event's own practice is told, and only when it names one.
	none, err := s.Append(ctx, &audit.Event{Time: Base, Type: audit.TypeRest, Subtype: "read", Action: "R", Outcome: audit.OutcomeSuccess, UserID: "555000000001", OrgODS: "RX999", RequestID: "req-x"})
	if err != nil {
		t.Fatal(err)
	}
	all, _ := s.Pending(ctx, now.Add(24*time.Hour), 1000)
	for _, it := range all {
		if it.ID == none[0].ID {
			t.Fatal("an event naming no practice was queued")
		}
	}
}

// testDrainers runs four Deliverers (on four instances when nodes, else
// on one store) with failing sends; every notification must be delivered
// exactly once.
func testDrainers(t *testing.T, in *Instance, nodes bool) {
	if in.Lease == 0 {
		t.Skip("Pending does not claim: one drainer per store (single node)")
	}
	if nodes && in.Node == nil {
		t.Skip("single-node backend")
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(21, 22))
	var events []*audit.Event
	for i := 0; i < 400; i++ {
		e := Event(rng, i, 50, 5)
		e.Practice = prCodes[i%3]
		events = append(events, e)
	}
	appendAll(t, in.Store, events, rng)
	stores := []Store{in.Store, in.Store, in.Store, in.Store}
	if nodes {
		stores = []Store{in.Store, in.Node(t), in.Node(t), in.Node(t)}
	}
	var mu sync.Mutex
	delivered := map[string]int{}
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Add(1)
		go func(i int, s Store) {
			defer wg.Done()
			frng := rand.New(rand.NewPCG(uint64(i), 3))
			var fmu sync.Mutex
			d := audit.NewDeliverer(s, func(_ context.Context, practice string, n source.Notification) error {
				fmu.Lock()
				fail := frng.IntN(5) == 0
				fmu.Unlock()
				if fail {
					return fmt.Errorf("GP system down")
				}
				mu.Lock()
				delivered[n.ID]++
				mu.Unlock()
				return nil
			}, audit.DelivererOptions{Batch: 17, Base: time.Millisecond, Max: 2 * time.Millisecond})
			for idle := 0; idle < 20; {
				sent, deferred, err := d.RunOnce(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if sent+deferred == 0 {
					idle++
					time.Sleep(5 * time.Millisecond)
				} else {
					idle = 0
				}
			}
		}(i, s)
	}
	wg.Wait()
	if len(delivered) != len(events) {
		t.Fatalf("%d notifications delivered, want %d", len(delivered), len(events))
	}
	for id, n := range delivered {
		if n != 1 {
			t.Fatalf("notification %s delivered %d times", id, n)
		}
	}
	if left, _ := in.Store.Pending(ctx, time.Now().Add(time.Hour), 10); len(left) != 0 {
		t.Fatalf("%d notifications left", len(left))
	}
}

// --- jobs and files ---

func testJobs(t *testing.T, in *Instance) {
	ctx := context.Background()
	s := in.Store
	now := time.Now().UTC()
	if c, err := s.ClaimJob(ctx, now, now.Add(-time.Minute)); err != nil || c != nil {
		t.Fatalf("claim from no jobs: %+v %v", c, err)
	}
	j := &audit.ExportJob{ID: "j1", Since: Base, AfterSeq: 7, Status: audit.JobQueued, Created: now, Updated: now}
	if err := s.PutJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if g, err := s.GetJob(ctx, "j1"); err != nil || g.AfterSeq != 7 || !g.Since.Equal(Base) || g.Status != audit.JobQueued || !g.Created.Equal(now) {
		t.Fatalf("get: %+v %v", g, err)
	}
	older := &audit.ExportJob{ID: "j0", Status: audit.JobQueued, Created: now.Add(-time.Second), Updated: now}
	if err := s.PutJob(ctx, older); err != nil {
		t.Fatal(err)
	}
	c, err := s.ClaimJob(ctx, now, now.Add(-time.Minute))
	if err != nil || c == nil || c.ID != "j0" || c.Status != audit.JobRunning {
		t.Fatalf("claim: oldest first: %+v %v", c, err)
	}
	if c, err := s.ClaimJob(ctx, now, now.Add(-time.Minute)); err != nil || c == nil || c.ID != "j1" || !c.Updated.Equal(now) {
		t.Fatalf("claim second: %+v %v", c, err)
	}
	if c, _ := s.ClaimJob(ctx, now, now.Add(-time.Minute)); c != nil {
		t.Fatal("running job claimed twice")
	}
	if g, _ := s.GetJob(ctx, "j1"); g.Status != audit.JobRunning {
		t.Fatalf("claimed job is %s", g.Status)
	}
	// A running job not updated since staleBefore (its worker presumed
	// dead) is reclaimed; a finished one never is.
	done := &audit.ExportJob{ID: "j2", Status: audit.JobComplete, Created: now.Add(-time.Hour), Updated: now.Add(-time.Hour)}
	if err := s.PutJob(ctx, done); err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Hour)
	c, err = s.ClaimJob(ctx, later, now.Add(time.Minute))
	if err != nil || c == nil || c.ID != "j0" || !c.Updated.Equal(later) {
		t.Fatalf("stale running job not reclaimed: %+v %v", c, err)
	}
	if _, err := s.GetJob(ctx, "nope"); mig.ErrorCode(err) != mig.ENOTFOUND {
		t.Fatalf("unknown job: %v", err)
	}
	// Concurrent claimers (nodes, where there are) take distinct jobs.
	for i := 0; i < 12; i++ {
		if err := s.PutJob(ctx, &audit.ExportJob{ID: fmt.Sprintf("c%02d", i), Status: audit.JobQueued, Created: now.Add(time.Duration(i) * time.Millisecond), Updated: now}); err != nil {
			t.Fatal(err)
		}
	}
	claimers := []Store{s, s, s}
	if in.Node != nil {
		claimers = []Store{s, in.Node(t), in.Node(t)}
	}
	var mu sync.Mutex
	claimed := map[string]int{}
	var wg sync.WaitGroup
	for _, cs := range claimers {
		wg.Add(1)
		go func(cs Store) {
			defer wg.Done()
			for {
				c, err := cs.ClaimJob(ctx, later, later.Add(-time.Hour))
				if err != nil {
					t.Error(err)
					return
				}
				if c == nil {
					return
				}
				mu.Lock()
				claimed[c.ID]++
				mu.Unlock()
			}
		}(cs)
	}
	wg.Wait()
	if len(claimed) != 12 {
		t.Fatalf("%d jobs claimed, want 12", len(claimed))
	}
	for id, n := range claimed {
		if n != 1 {
			t.Fatalf("job %s claimed %d times", id, n)
		}
	}
}

func testExportFiles(t *testing.T, in *Instance) {
	ctx := context.Background()
	s := in.Store
	rng := rand.New(rand.NewPCG(31, 32))
	var events []*audit.Event
	for i := 0; i < 2500; i++ { // a few MiB: several parts where files are kept in parts
		events = append(events, Event(rng, i, 100, 10))
	}
	stored := appendAll(t, s, events, rng)
	jobs := audit.NewExportJobs(s, s, in.Files)
	j, err := jobs.Kickoff(ctx, Base.Add(100*time.Second), 50)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Open(ctx, j.ID); mig.ErrorCode(err) != mig.ENOTFOUND {
		t.Fatalf("open before the job ran: %v", err)
	}
	if ran, err := jobs.RunNext(ctx); !ran || err != nil {
		t.Fatalf("run: %v %v", ran, err)
	}
	st, err := jobs.Status(ctx, j.ID)
	if err != nil || st.Status != audit.JobComplete || st.Count != 2400 || st.Last != 2500 || st.Output == "" {
		t.Fatalf("job: %+v %v", st, err)
	}
	rc, err := jobs.Open(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(rc)
	sc.Buffer(nil, 1<<20)
	n := 100
	for sc.Scan() {
		if !bytes.Equal(sc.Bytes(), stored[n].Body) {
			t.Fatalf("line %d is not record %d's body", n-99, n+1)
		}
		n++
	}
	rc.Close()
	if sc.Err() != nil || n != 2500 {
		t.Fatalf("export file: %d lines %v", n-100, sc.Err())
	}
	if ran, _ := jobs.RunNext(ctx); ran {
		t.Fatal("a complete job ran again")
	}
	// An aborted file is never readable; a later attempt replaces an
	// earlier one when it commits.
	f, err := in.Files.Create(ctx, "0123abcd-0000-4000-8000-000000000001")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("partial\n"))
	f.Abort()
	if _, err := in.Files.Open(ctx, "0123abcd-0000-4000-8000-000000000001"); mig.ErrorCode(err) != mig.ENOTFOUND {
		t.Fatalf("aborted file opened: %v", err)
	}
	id := "0123abcd-0000-4000-8000-000000000002"
	first, _ := in.Files.Create(ctx, id)
	second, _ := in.Files.Create(ctx, id)
	first.Write([]byte("first\n"))
	second.Write(bytes.Repeat([]byte("second\n"), 200000)) // over a MiB
	if _, err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	rc, err = in.Files.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.ReadFrom(rc)
	rc.Close()
	if !bytes.Equal(buf.Bytes(), bytes.Repeat([]byte("second\n"), 200000)) {
		t.Fatalf("file is not the last committed attempt (%d bytes)", buf.Len())
	}
	if _, err := in.Files.Open(ctx, "no-such-job"); mig.ErrorCode(err) != mig.ENOTFOUND {
		t.Fatalf("unknown file: %v", err)
	}
}

// --- verification ---

var testKey = func() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("mig audit/storetest checkpoint key"))
	return ed25519.NewKeyFromSeed(seed[:])
}()

// checkpoint signs the head of s with the Merkle root of its records.
func checkpoint(t *testing.T, s Store) *audit.Checkpoint {
	t.Helper()
	ctx := context.Background()
	seq, head, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var f audit.MerkleFrontier
	for _, st := range scanAll(t, s) {
		if st.Seq <= seq {
			f.Append(audit.MerkleLeaf(st.Body))
		}
	}
	root := f.Root()
	return audit.SignCheckpointRoot(testKey, seq, head, &root, time.Now())
}

func fill(t *testing.T, s Store, n int) []*audit.Stored {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	var out []*audit.Stored
	for i := 0; i < n; i++ {
		e := Event(rng, i, 5, 5)
		if e.NHSNumber == "" {
			e.NHSNumber, e.Practice = "9990001006", "A99901"
		}
		st, err := s.Append(context.Background(), e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, st...)
	}
	return out
}

func testVerifyCheckpoint(t *testing.T, in *Instance) {
	ctx := context.Background()
	if rep := in.Verify(t, audit.VerifyOptions{}); !rep.OK() || rep.Records != 0 {
		t.Fatalf("empty store: %+v", rep)
	}
	fill(t, in.Store, 40)
	cp := checkpoint(t, in.Store)
	if err := audit.CheckChain(ctx, in.Store, cp); err != nil {
		t.Fatal(err)
	}
	fill(t, in.Store, 5) // records after the checkpoint are normal
	rep := in.Verify(t, audit.VerifyOptions{Checkpoint: cp})
	if !rep.OK() || rep.Records != 45 || rep.LastSeq != 45 || rep.FirstSeq != 1 || !rep.Anchored {
		t.Fatalf("verify with checkpoint: %+v", rep)
	}
	if rep := in.Verify(t, audit.VerifyOptions{Checkpoint: cp, AfterCheckpoint: true}); !rep.OK() || rep.From != 40 {
		t.Fatalf("verify after checkpoint: %+v", rep)
	}
	// The generic chain check over Scan agrees.
	if rep, err := audit.VerifyChain(ctx, in.Store.Scan, "scan", audit.VerifyOptions{Checkpoint: cp}); err != nil || !rep.OK() || rep.Records != 45 {
		t.Fatalf("VerifyChain: %+v %v", rep, err)
	}
	// A checkpoint beyond the chain: records were removed.
	ahead := audit.SignCheckpoint(testKey, 60, [32]byte{1}, time.Now())
	if err := audit.CheckChain(ctx, in.Store, ahead); err == nil {
		t.Fatal("a chain behind its checkpoint passed")
	}
	if rep := in.Verify(t, audit.VerifyOptions{Checkpoint: ahead}); rep.OK() {
		t.Fatal("verify passed a chain behind its checkpoint")
	} else if p, _ := rep.First(); p.Kind != audit.ProblemCheckpoint {
		t.Fatalf("behind the checkpoint: %v", p)
	}
}

func testTamper(t *testing.T, open func(t *testing.T) *Instance) {
	tests := []struct {
		name string
		what Tamper
		at   uint64
		kind string
		seq  uint64
	}{
		{"body", TamperBody, 20, audit.ProblemHash, 20},
		{"delete", TamperDelete, 17, audit.ProblemGap, 18},
		{"rechain one record", TamperRechain, 30, audit.ProblemChain, 31},
		{"search field", TamperPatient, 12, audit.ProblemAttrs, 12},
		{"truncate", TamperTruncate, 40, audit.ProblemHead, 40},
		{"rewrite to the head", TamperRewrite, 25, audit.ProblemCheckpoint, 40},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := open(t)
			if in.Tamper == nil {
				t.Skip("the backend gives no tamper hook")
			}
			fill(t, in.Store, 40)
			cp := checkpoint(t, in.Store)
			if !in.Tamper(t, tc.what, tc.at) {
				t.Skip("not supported by this backend")
			}
			opt := audit.VerifyOptions{}
			if tc.what == TamperRewrite {
				opt.Checkpoint = cp
			}
			rep := in.Verify(t, opt)
			if rep.OK() {
				t.Fatal("tampering not detected")
			}
			p, _ := rep.First()
			if p.Kind != tc.kind || p.Seq != tc.seq {
				t.Fatalf("first problem %v, want %s at %d (all: %v)", p, tc.kind, tc.seq, rep.Problems)
			}
		})
	}
}

// --- nodes ---

func testThreeNodes(t *testing.T, in *Instance) {
	if in.Node == nil {
		t.Skip("single-node backend")
	}
	const workers, each = 4, 30
	nodes := []Store{in.Store, in.Node(t), in.Node(t)}
	got := appendConcurrently(t, nodes, workers, each)
	total := len(nodes) * workers * (each + each/5)
	for _, n := range nodes {
		checkAnswered(t, n, got, total)
	}
	rep := in.Verify(t, audit.VerifyOptions{Checkpoint: checkpoint(t, nodes[1])})
	if !rep.OK() || rep.LastSeq != uint64(total) {
		t.Fatalf("verify: %v (last %d)", rep.Problems, rep.LastSeq)
	}
}
