package bolt_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"mig"
	"mig/audit"
	"mig/audit/bolt"
)

var (
	base     = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	orgCodes = []string{"RX999", "NX999", "ZZ999", "RA001", "RB002"}
	prCodes  = []string{"A99901", "A99902", "A99903", ""}
	outcomes = []string{audit.OutcomeSuccess, audit.OutcomeSuccess, audit.OutcomeSuccess, audit.OutcomeMinorFailure, audit.OutcomeSeriousFail}
	subtypes = []string{"read", "read", "search-type", "operation", "create"}
)

// genEvent makes a synthetic event i among patients and users.
func genEvent(rng *rand.Rand, i, patients, users int) *audit.Event {
	e := &audit.Event{
		Time:     base.Add(time.Duration(i) * time.Second),
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

func open(t testing.TB, path string) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func seqs(st []*audit.Stored) []uint64 {
	out := make([]uint64, len(st))
	for i, s := range st {
		out[i] = s.Seq
	}
	return out
}

func TestSearchMatchesBruteForce(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "audit.db"))
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	var events []*audit.Event
	for i := 0; i < 600; i++ {
		events = append(events, genEvent(rng, i, 30, 12))
	}
	// Appended in batches of varied size.
	for i := 0; i < len(events); {
		n := min(1+rng.IntN(40), len(events)-i)
		if _, err := s.Append(ctx, events[i:i+n]...); err != nil {
			t.Fatal(err)
		}
		i += n
	}
	match := func(q audit.Query, e *audit.Event, seq uint64) bool {
		if seq <= q.AfterSeq || (q.NHSNumber != "" && e.NHSNumber != q.NHSNumber) || (q.Agent != "" && e.UserID != q.Agent) ||
			(q.Outcome != "" && e.Outcome != q.Outcome) || (!q.Since.IsZero() && e.Time.Before(q.Since)) || (!q.Until.IsZero() && !e.Time.Before(q.Until)) {
			return false
		}
		if q.Subtype != "" && e.Subtype != q.Subtype && !(q.Subtype == audit.SubtypeEmergencyOverride && e.PurposeOfUse == "ETREAT") {
			return false
		}
		if q.OrgODS != nil && !slices.Contains(q.OrgODS, e.OrgODS) && !(e.Practice != "" && slices.Contains(q.OrgODS, e.Practice)) {
			return false
		}
		return true
	}
	queries := []audit.Query{
		{NHSNumber: events[7].NHSNumber},
		{NHSNumber: events[7].NHSNumber, AfterSeq: 300},
		{Agent: events[3].UserID},
		{Agent: events[3].UserID, OrgODS: []string{"RX999"}},
		{OrgODS: []string{"RX999"}},
		{OrgODS: []string{"A99902", "NX999"}},
		{OrgODS: []string{}},
		{Outcome: audit.OutcomeSeriousFail},
		{Outcome: audit.OutcomeSuccess, Limit: 50},
		{Subtype: audit.SubtypeEmergencyOverride},
		{Subtype: "create", OrgODS: []string{"ZZ999"}},
		{Subtype: "read", Limit: 30, AfterSeq: 100},
		{Since: base.Add(100 * time.Second), Until: base.Add(250 * time.Second)},
		{Since: base.Add(500 * time.Second)},
		{NHSNumber: events[9].NHSNumber, Since: base.Add(100 * time.Second), Until: base.Add(400 * time.Second)},
		{},
		{Limit: 7, AfterSeq: 590},
		{NHSNumber: "9999999999"},
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
			var want []uint64
			if !(q.OrgODS != nil && len(q.OrgODS) == 0) {
				for j, e := range events {
					if len(want) < limit && match(q, e, uint64(j+1)) {
						want = append(want, uint64(j+1))
					}
				}
			}
			if !slices.Equal(seqs(got), want) {
				t.Fatalf("query %+v: got %v, want %v", q, seqs(got), want)
			}
		})
	}
	// Get by id returns the same record.
	all, _ := s.Search(ctx, audit.Query{Limit: 5})
	for _, st := range all {
		g, err := s.Get(ctx, st.ID)
		if err != nil || g.Seq != st.Seq || !bytes.Equal(g.Body, st.Body) || g.Hash != st.Hash {
			t.Fatalf("Get(%s) = %+v, %v", st.ID, g, err)
		}
	}
	if _, err := s.Get(ctx, "nope"); mig.ErrorCode(err) != mig.ENOTFOUND {
		t.Fatalf("Get unknown: %v", err)
	}
}

func TestConcurrentAppendsGapless(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	s := open(t, path)
	const workers, each = 8, 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[uint64]string{}
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for i := 0; i < each; i++ {
				evs := []*audit.Event{genEvent(rng, i, 10, 5)}
				if i%5 == 0 {
					evs = append(evs, genEvent(rng, i, 10, 5))
				}
				st, err := s.Append(ctx, evs...)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for j, x := range st {
					if _, dup := got[x.Seq]; dup {
						errs <- fmt.Errorf("seq %d twice", x.Seq)
					}
					got[x.Seq] = x.ID
					if j > 0 && x.Seq != st[j-1].Seq+1 {
						errs <- fmt.Errorf("one append's events not consecutive")
					}
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := uint64(workers * (each + each/5))
	for i := uint64(1); i <= total; i++ {
		if _, ok := got[i]; !ok {
			t.Fatalf("seq %d missing of %d", i, total)
		}
	}
	var n uint64
	if err := s.Scan(ctx, 0, func(st *audit.Stored) error {
		n++
		if st.Seq != n || got[st.Seq] != st.ID {
			return fmt.Errorf("scan seq %d id mismatch", st.Seq)
		}
		return nil
	}); err != nil || n != total {
		t.Fatalf("scan: %d records, %v", n, err)
	}
	s.Close()
	rep, err := bolt.VerifyFile(ctx, path)
	if err != nil || !rep.OK() || rep.LastSeq != total {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

func TestRestartKeepsSeqAndChain(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	rng := rand.New(rand.NewPCG(3, 4))
	var last *audit.Stored
	for round := 0; round < 3; round++ {
		s := open(t, path)
		for i := 0; i < 10; i++ {
			st, err := s.Append(ctx, genEvent(rng, i, 5, 5))
			if err != nil {
				t.Fatal(err)
			}
			if last != nil && (st[0].Seq != last.Seq+1 || st[0].Prev != last.Hash) {
				t.Fatalf("round %d: seq %d prev does not chain to seq %d", round, st[0].Seq, last.Seq)
			}
			last = st[0]
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := bolt.VerifyFile(ctx, path)
	if err != nil || !rep.OK() || rep.LastSeq != 30 || !rep.Anchored {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

func count(t *testing.T, path string) uint64 {
	t.Helper()
	rep, err := bolt.VerifyFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("store does not verify: %v", rep.Problems)
	}
	return rep.Records
}

func TestAppendFailureStoresNothing(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	tests := []struct {
		name string
		run  func(t *testing.T, path string) error
	}{
		{"closed", func(t *testing.T, path string) error {
			s := open(t, path)
			s.Close()
			_, err := s.Append(ctx, genEvent(rng, 1, 5, 5))
			return err
		}},
		{"read-only", func(t *testing.T, path string) error {
			s, err := bolt.Open(path, bolt.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_, err = s.Append(ctx, genEvent(rng, 1, 5, 5))
			return err
		}},
		{"invalid event in batch", func(t *testing.T, path string) error {
			s := open(t, path)
			defer s.Close()
			bad := genEvent(rng, 2, 5, 5)
			bad.Outcome = "99"
			_, err := s.Append(ctx, genEvent(rng, 1, 5, 5), bad)
			return err
		}},
		{"cancelled", func(t *testing.T, path string) error {
			s := open(t, path)
			defer s.Close()
			c, cancel := context.WithCancel(ctx)
			cancel()
			_, err := s.Append(c, genEvent(rng, 1, 5, 5))
			return err
		}},
		{"disk full", func(t *testing.T, path string) error {
			s := open(t, path)
			defer s.Close()
			restore := limitFileSize(t, path)
			defer restore()
			big := make([]*audit.Event, 4000) // needs the file to grow by several MB
			for i := range big {
				big[i] = genEvent(rng, i, 5, 5)
			}
			_, err := s.Append(ctx, big...)
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.db")
			s := open(t, path)
			if _, err := s.Append(ctx, genEvent(rng, 0, 5, 5)); err != nil {
				t.Fatal(err)
			}
			s.Close()
			err := tc.run(t, path)
			if err == nil {
				t.Fatal("append succeeded")
			}
			t.Logf("append error: %v (cause: %v)", err, errors.Unwrap(err))
			if c := mig.ErrorCode(err); c != mig.EUNAVAILABLE && c != mig.EINTERNAL {
				t.Fatalf("error code %q: %v", c, err)
			}
			if n := count(t, path); n != 1 {
				t.Fatalf("%d records after failed append, want 1", n)
			}
			// The store still works and the next seq is 2.
			s = open(t, path)
			defer s.Close()
			st, err := s.Append(ctx, genEvent(rng, 3, 5, 5))
			if err != nil || st[0].Seq != 2 {
				t.Fatalf("append after failure: %v %v", st, err)
			}
		})
	}
}

// tamper opens the closed store file with bbolt directly.
func tamper(t *testing.T, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	db.Close()
}

func key(seq uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	return b[:]
}

func TestVerifyDetectsTampering(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		fn   func(tx *bbolt.Tx) error
		kind string
		seq  uint64
	}{
		{"flipped body byte", func(tx *bbolt.Tx) error {
			b := tx.Bucket([]byte("records"))
			v := bytes.Clone(b.Get(key(20)))
			v[len(v)-30] ^= 0x01
			return b.Put(key(20), v)
		}, bolt.ProblemHash, 20},
		{"flipped hash byte", func(tx *bbolt.Tx) error {
			b := tx.Bucket([]byte("records"))
			v := bytes.Clone(b.Get(key(11)))
			v[45] ^= 0x80
			return b.Put(key(11), v)
		}, bolt.ProblemHash, 11},
		{"deleted record", func(tx *bbolt.Tx) error {
			return tx.Bucket([]byte("records")).Delete(key(17))
		}, bolt.ProblemGap, 18},
		{"deleted last record", func(tx *bbolt.Tx) error {
			return tx.Bucket([]byte("records")).Delete(key(40))
		}, bolt.ProblemHead, 40},
		{"reordered pair", func(tx *bbolt.Tx) error {
			b := tx.Bucket([]byte("records"))
			a, c := bytes.Clone(b.Get(key(25))), bytes.Clone(b.Get(key(26)))
			if err := b.Put(key(25), c); err != nil {
				return err
			}
			return b.Put(key(26), a)
		}, bolt.ProblemOrder, 25},
		{"record rewritten with a new chain from there", func(tx *bbolt.Tx) error {
			// Replace record 30's body and recompute its own hash: the next
			// record's Prev no longer matches.
			b := tx.Bucket([]byte("records"))
			v := bytes.Clone(b.Get(key(30)))
			v[len(v)-30] ^= 0x01
			h := sha256Sum(v[8:40], v[74+int(binary.BigEndian.Uint16(v[72:])):])
			copy(v[40:72], h[:])
			return b.Put(key(30), v)
		}, bolt.ProblemChain, 31},
		{"dangling index entry", func(tx *bbolt.Tx) error {
			return tx.Bucket([]byte("ix_patient")).Put(append([]byte("9990001006\x00"), key(999)...), nil)
		}, bolt.ProblemIndex, 999},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.db")
			s := open(t, path)
			rng := rand.New(rand.NewPCG(7, 8))
			for i := 0; i < 40; i++ {
				if _, err := s.Append(ctx, genEvent(rng, i, 5, 5)); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			if n := count(t, path); n != 40 {
				t.Fatalf("%d records before tampering", n)
			}
			tamper(t, path, tc.fn)
			rep, err := bolt.VerifyFile(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
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

func TestArchiveKeepsChain(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	live, arc1, arc2 := filepath.Join(dir, "audit.db"), filepath.Join(dir, "a1.db"), filepath.Join(dir, "a2.db")
	s := open(t, live)
	rng := rand.New(rand.NewPCG(11, 12))
	var events []*audit.Event
	for i := 0; i < 250; i++ {
		events = append(events, genEvent(rng, i, 8, 4))
	}
	stored, err := s.Append(ctx, events...)
	if err != nil {
		t.Fatal(err)
	}
	pendingBefore, _ := s.Pending(ctx, time.Now(), 1000)
	if err := s.Archive(ctx, 101, arc1); err != nil {
		t.Fatal(err)
	}
	if err := s.Archive(ctx, 101, arc2); mig.ErrorCode(err) != mig.EINVALID {
		t.Fatalf("archiving nothing: %v", err)
	}
	if err := s.Archive(ctx, 201, arc2); err != nil {
		t.Fatal(err)
	}
	// Archived records are gone from the live file and its indexes.
	if _, err := s.Get(ctx, stored[5].ID); mig.ErrorCode(err) != mig.ENOTFOUND {
		t.Fatalf("archived record still live: %v", err)
	}
	got, err := s.Search(ctx, audit.Query{NHSNumber: events[0].NHSNumber})
	if err != nil || len(got) == 0 || got[0].Seq <= 200 {
		t.Fatalf("search after archive: %v %v", seqs(got), err)
	}
	// Pending notifications survive with their bodies.
	pendingAfter, err := s.Pending(ctx, time.Now(), 1000)
	if err != nil || len(pendingAfter) != len(pendingBefore) {
		t.Fatalf("pending %d -> %d (%v)", len(pendingBefore), len(pendingAfter), err)
	}
	for i := range pendingAfter {
		if !bytes.Equal(pendingAfter[i].Body, pendingBefore[i].Body) {
			t.Fatal("outbox body changed by archiving")
		}
	}
	// Appends continue the chain.
	more, err := s.Append(ctx, genEvent(rng, 300, 8, 4))
	if err != nil || more[0].Seq != 251 || more[0].Prev != stored[249].Hash {
		t.Fatalf("append after archive: %v", err)
	}
	s.Close()
	rep, err := bolt.VerifyFiles(ctx, arc1, arc2, live)
	if err != nil || !rep.OK() || rep.Records != 251 || !rep.Anchored || rep.LastSeq != 251 {
		t.Fatalf("verify all: %+v %v", rep, err)
	}
	if rep, err := bolt.VerifyFiles(ctx, arc1, live); err != nil || rep.OK() {
		t.Fatalf("missing segment not detected: %+v", rep)
	} else if p, _ := rep.First(); p.Kind != bolt.ProblemAnchor {
		t.Fatalf("missing segment: %v", p)
	}
	if rep, err := bolt.VerifyFile(ctx, live); err != nil || !rep.OK() || rep.Anchored || rep.FirstSeq != 201 {
		t.Fatalf("live alone: %+v %v", rep, err)
	}
	// Tampering in an archive is caught too.
	tamper(t, arc1, func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("records"))
		v := bytes.Clone(b.Get(key(50)))
		v[len(v)-10] ^= 1
		return b.Put(key(50), v)
	})
	if rep, _ := bolt.VerifyFiles(ctx, arc1, arc2, live); rep.OK() {
		t.Fatal("archive tampering not detected")
	}
	if _, err := os.Stat(arc1); err != nil {
		t.Fatal(err)
	}
}

func TestOutboxAndJobs(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "audit.db"))
	defer s.Close()
	rng := rand.New(rand.NewPCG(13, 14))
	var withPractice int
	var events []*audit.Event
	for i := 0; i < 30; i++ {
		e := genEvent(rng, i, 5, 5)
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
	for _, it := range items {
		st := stored[it.Seq-1]
		if st.ID != it.ID || !bytes.Equal(st.Body, it.Body) || it.Practice != events[it.Seq-1].Practice {
			t.Fatalf("outbox item %s does not match its record", it.ID)
		}
	}
	if err := s.Ack(ctx, items[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Defer(ctx, items[1].ID, now.Add(time.Minute), 3); err != nil {
		t.Fatal(err)
	}
	later, _ := s.Pending(ctx, now, 100)
	if len(later) != withPractice-2 {
		t.Fatalf("pending after ack+defer: %d", len(later))
	}
	future, _ := s.Pending(ctx, now.Add(2*time.Minute), 100)
	if len(future) != withPractice-1 || future[len(future)-1].ID != items[1].ID || future[len(future)-1].Attempts != 3 {
		t.Fatalf("deferred item not due later: %+v", future[len(future)-1])
	}
	if err := s.Ack(ctx, items[0].ID); err != nil {
		t.Fatal("second ack:", err)
	}

	j := &audit.ExportJob{ID: "j1", Status: audit.JobQueued, Created: now}
	if err := s.PutJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	c, err := s.ClaimJob(ctx, now, now.Add(-time.Minute))
	if err != nil || c == nil || c.ID != "j1" || c.Status != audit.JobRunning {
		t.Fatalf("claim: %+v %v", c, err)
	}
	if c, _ := s.ClaimJob(ctx, now, now.Add(-time.Minute)); c != nil {
		t.Fatal("running job claimed twice")
	}
	if c, _ := s.ClaimJob(ctx, now.Add(time.Hour), now.Add(time.Minute)); c == nil {
		t.Fatal("stale running job not reclaimed")
	}
	if _, err := s.GetJob(ctx, "j2"); mig.ErrorCode(err) != mig.ENOTFOUND {
		t.Fatalf("unknown job: %v", err)
	}
}
