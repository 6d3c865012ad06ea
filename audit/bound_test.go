package audit_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"mig"
	"mig/audit"
	"mig/consent"
)

// storedQuery reads the query entity of an AuditEvent body.
func storedQuery(t *testing.T, body []byte) string {
	t.Helper()
	var ae struct {
		Entity []struct {
			Query string `json:"query"`
		} `json:"entity"`
	}
	if err := json.Unmarshal(body, &ae); err != nil {
		t.Fatal(err)
	}
	for _, e := range ae.Entity {
		if e.Query != "" {
			b, err := base64.StdEncoding.DecodeString(e.Query)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	return ""
}

// TestQueryBounded: an AuditEvent keeps at most MaxQueryBytes of a query,
// cut at a character boundary, with the whole query's SHA-256 beside it;
// the GP notification owed for it carries the very same bounded body.
func TestQueryBounded(t *testing.T) {
	base := "/fhir/Condition?code="
	tests := []struct {
		name  string
		query string
		cut   bool
	}{
		{"short", base + "44054006", false},
		{"exactly the bound", base + strings.Repeat("A", audit.MaxQueryBytes-len(base)), false},
		{"one byte over", base + strings.Repeat("A", audit.MaxQueryBytes-len(base)+1), true},
		{"880 KB", base + strings.Repeat("A", 880<<10), true},
		{"multibyte across the bound", base + strings.Repeat("é", audit.MaxQueryBytes), true},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			e := fullEvent()
			e.Subtype, e.Action, e.Query = "search-type", "E", tc.query
			st, err := s.Append(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			body := st[0].Body
			validate(t, body)
			if len(body) > 2*audit.MaxQueryBytes+4096 {
				t.Fatalf("event of %d bytes for a %d byte query", len(body), len(tc.query))
			}
			kept := storedQuery(t, body)
			if !strings.HasPrefix(tc.query, kept) || len(kept) > audit.MaxQueryBytes {
				t.Fatalf("stored query (%d bytes) is not a bounded prefix", len(kept))
			}
			if !strings.HasSuffix(kept, "A") && !strings.HasSuffix(kept, "é") && !strings.HasSuffix(kept, "6") {
				t.Fatalf("stored query cut inside a character")
			}
			d, err := audit.Decode(body)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte(tc.query))
			if want := hex.EncodeToString(sum[:]); tc.cut && d.QuerySHA256 != want {
				t.Fatalf("query-sha256 %q, want %q", d.QuerySHA256, want)
			}
			if !tc.cut && (d.QuerySHA256 != "" || kept != tc.query) {
				t.Fatal("a query within the bound was changed")
			}
			items, err := s.Pending(ctx, time.Now().Add(time.Hour), 10)
			if err != nil || len(items) != 1 {
				t.Fatalf("outbox: %d items, %v", len(items), err)
			}
			if string(items[0].Body) != string(body) {
				t.Fatal("the GP notification does not carry the stored, bounded event")
			}
		})
	}
}

func anonymous(id, ip string, at time.Time) *consent.Request {
	return &consent.Request{ID: id, Time: at, SourceIP: ip, Operation: consent.OpSearch, Type: "Patient",
		Query: "/fhir/Patient?identifier=" + strings.Repeat("A", 10<<10),
		Decision: consent.Decision{Verdict: consent.Reject, Rule: "authentication",
			Err: &mig.Error{Code: mig.EUNAUTHORIZED, Message: "no bearer token"}}}
}

// TestRecorderCombinesRefusals: unauthenticated refusals from one source in
// one window are one event written at once plus one combined event with
// the count when the window closes; authenticated requests are never
// combined.
func TestRecorderCombinesRefusals(t *testing.T) {
	w0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	type req struct {
		ip   string
		at   time.Duration // after w0
		auth bool
	}
	many := func(n int, ip string) []req {
		out := make([]req, n)
		for i := range out {
			out[i] = req{ip: ip, at: time.Duration(i) * time.Millisecond}
		}
		return out
	}
	tests := []struct {
		name       string
		maxSources int
		reqs       []req
		written    int            // events right after the requests
		combined   map[string]int // source -> count in combined events after the flush
	}{
		{"one refusal", 0, many(1, "192.0.2.1"), 1, map[string]int{}},
		{"a flood from one address", 0, many(500, "192.0.2.1"), 1, map[string]int{"192.0.2.1": 499}},
		{"two addresses", 0, append(many(3, "192.0.2.1"), many(4, "192.0.2.2")...), 2, map[string]int{"192.0.2.1": 2, "192.0.2.2": 3}},
		{"one IPv6 /64, many addresses", 0, []req{{ip: "2001:db8:1:2::1"}, {ip: "2001:db8:1:2::ffff"}, {ip: "2001:db8:1:2:abcd::9"}},
			1, map[string]int{"2001:db8:1:2::/64": 2}},
		{"two windows", 0, []req{{ip: "192.0.2.1"}, {ip: "192.0.2.1", at: time.Second}, {ip: "192.0.2.1", at: 61 * time.Second}, {ip: "192.0.2.1", at: 62 * time.Second}},
			2, map[string]int{"192.0.2.1": 2}},
		{"more sources than tracked share one count", 2, []req{{ip: "192.0.2.1"}, {ip: "192.0.2.2"}, {ip: "192.0.2.3"}, {ip: "192.0.2.4"}, {ip: "192.0.2.5"}},
			3, map[string]int{"": 2}},
		{"authenticated requests are each written", 0, []req{{ip: "192.0.2.1", auth: true}, {ip: "192.0.2.1", auth: true}, {ip: "192.0.2.1"}, {ip: "192.0.2.1"}},
			3, map[string]int{"192.0.2.1": 1}},
	}
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			rc := audit.NewRecorder(s, audit.RecorderOptions{Window: time.Minute, MaxSources: tc.maxSources})
			for i, q := range tc.reqs {
				r := anonymous("r"+string(rune('a'+i%26)), q.ip, w0.Add(q.at))
				if q.auth {
					r.Principal = principal()
				}
				if err := rc.Complete(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			seq, _, err := s.Last(ctx)
			if err != nil || int(seq) != tc.written {
				t.Fatalf("%d events written at once, want %d (%v)", seq, tc.written, err)
			}
			// Nothing is flushed before its window closes.
			if err := rc.Flush(ctx, w0.Add(30*time.Second), false); err != nil {
				t.Fatal(err)
			}
			if seq2, _, _ := s.Last(ctx); seq2 != seq && len(tc.reqs) > 0 && tc.reqs[len(tc.reqs)-1].at < time.Minute {
				t.Fatal("a window was flushed before it closed")
			}
			if err := rc.Flush(ctx, w0.Add(time.Hour), false); err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			if err := s.Scan(ctx, seq, func(st *audit.Stored) error {
				validate(t, st.Body)
				d, err := audit.Decode(st.Body)
				if err != nil {
					return err
				}
				if d.Refusals == 0 || d.Type != audit.TypeSecurity || d.Outcome != audit.OutcomeSeriousFail {
					t.Fatalf("combined event wrong: %+v", d)
				}
				var ae struct {
					Agent []struct {
						Network *struct{ Address string } `json:"network"`
					} `json:"agent"`
				}
				json.Unmarshal(st.Body, &ae)
				addr := ""
				for _, a := range ae.Agent {
					if a.Network != nil && a.Network.Address != audit.DefaultEncoder.GatewayAddress {
						addr = a.Network.Address
					}
				}
				got[addr] += d.Refusals
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.combined) {
				t.Fatalf("combined counts %v, want %v", got, tc.combined)
			}
			for k, v := range tc.combined {
				if got[k] != v {
					t.Fatalf("combined counts %v, want %v", got, tc.combined)
				}
			}
			// A second flush writes nothing more.
			last, _, _ := s.Last(ctx)
			rc.Flush(ctx, w0.Add(2*time.Hour), true)
			if again, _, _ := s.Last(ctx); again != last {
				t.Fatal("a flushed window was written twice")
			}
		})
	}
}

// TestRecorderIgnoresCancellation: a request whose client has gone (its
// context cancelled) is still audited.
func TestRecorderIgnoresCancellation(t *testing.T) {
	s := openStore(t)
	rc := audit.NewRecorder(s, audit.RecorderOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, r := range []*consent.Request{
		{ID: "gone-1", Principal: principal(), Operation: consent.OpRead, NHSNumber: "9990002002", Practice: "A99902",
			Released: map[string]int{"Patient": 1}, Decision: consent.Decision{Verdict: consent.Authorized}},
		{ID: "gone-2", Principal: principal(), Operation: consent.OpRead, NHSNumber: "9990002002", Practice: "A99902",
			Decision: consent.Decision{Verdict: consent.Reject, Rule: "gp-system", Err: &mig.Error{Code: mig.ETIMEOUT, Message: "slow"}}},
	} {
		if err := rc.Complete(ctx, r); err != nil {
			t.Fatalf("%s: %v", r.ID, err)
		}
	}
	if seq, _, _ := s.Last(context.Background()); seq != 2 {
		t.Fatalf("%d events, want 2", seq)
	}
}

// TestSpaceFloors: under the anonymous floor unauthenticated refusals are
// only counted (all sources together) while authenticated requests are
// audited from the reserve; under the hard floor nothing is written and
// every request is refused before any work. Each crossing is reported once.
func TestSpaceFloors(t *testing.T) {
	const anonFloor, floor = 1000, 100
	tests := []struct {
		name      string
		free      uint64
		level     audit.SpaceLevel
		anonWrite int // events written for 3 anonymous refusals from 3 sources
		authWrite int // events written for 2 authenticated requests
		startOK   bool
	}{
		{"plenty", 5000, audit.SpaceOK, 3, 2, true},
		{"under the anonymous floor", 500, audit.SpaceLow, 0, 2, true},
		{"under the floor", 50, audit.SpaceExhausted, 0, 0, false},
	}
	ctx := context.Background()
	w0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			var crossings []audit.SpaceLevel
			sp := &audit.Space{AnonymousFloor: anonFloor, Floor: floor, Every: time.Hour,
				Free:     func(string) (uint64, error) { return tc.free, nil },
				OnChange: func(l audit.SpaceLevel, _ uint64) { crossings = append(crossings, l) }}
			rc := audit.NewRecorder(s, audit.RecorderOptions{Window: time.Minute, Space: sp})
			if got := sp.Level(); got != tc.level {
				t.Fatalf("level %v, want %v", got, tc.level)
			}
			if d := rc.Start(ctx, &consent.Request{Principal: principal()}); (d.Verdict == consent.Proceed) != tc.startOK {
				t.Fatalf("Start: %+v", d)
			}
			for i, ip := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
				err := rc.Complete(ctx, anonymous("a"+string(rune('0'+i)), ip, w0))
				if (err == nil) != tc.startOK {
					t.Fatalf("anonymous Complete: %v", err)
				}
			}
			n0, _, _ := s.Last(ctx)
			for i := 0; i < 2; i++ {
				r := &consent.Request{ID: "auth", Time: w0, Principal: principal(), Operation: consent.OpRead, Decision: consent.Decision{Verdict: consent.Authorized}}
				err := rc.Complete(ctx, r)
				if (err == nil) != tc.startOK || err != nil && mig.ErrorIssue(err) != mig.IssueAuditUnavailable {
					t.Fatalf("authenticated Complete: %v", err)
				}
			}
			n1, _, _ := s.Last(ctx)
			if int(n0) != tc.anonWrite || int(n1-n0) != tc.authWrite {
				t.Fatalf("written: %d anonymous, %d authenticated; want %d, %d", n0, n1-n0, tc.anonWrite, tc.authWrite)
			}
			rc.Flush(ctx, w0.Add(time.Hour), true)
			n2, _, _ := s.Last(ctx)
			if tc.level == audit.SpaceLow && n2-n1 != 1 {
				t.Fatalf("under the anonymous floor, %d combined events, want 1 for every source", n2-n1)
			}
			sp.Level()
			if wantCross := tc.level != audit.SpaceOK; (len(crossings) == 1) != wantCross || len(crossings) > 1 {
				t.Fatalf("crossings reported: %v", crossings)
			}
		})
	}
}

// TestRecorderRunFlushesAtShutdown: counts of a window still open when the
// gateway stops are written as the combined event, not lost.
func TestRecorderRunFlushesAtShutdown(t *testing.T) {
	s := openStore(t)
	rc := audit.NewRecorder(s, audit.RecorderOptions{Window: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rc.Run(ctx); close(done) }()
	now := time.Now()
	for i := 0; i < 4; i++ {
		if err := rc.Complete(context.Background(), anonymous("s"+string(rune('0'+i)), "198.51.100.7", now)); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	<-done
	var refusals, events int
	s.Scan(context.Background(), 0, func(st *audit.Stored) error {
		d, err := audit.Decode(st.Body)
		if err != nil {
			return err
		}
		events++
		refusals += d.Refusals
		return nil
	})
	if events != 2 || refusals != 3 {
		t.Fatalf("%d events counting %d further refusals, want 2 and 3", events, refusals)
	}
}

// TestSpaceFloorErrorIsMarked: a refusal under the hard floor says so
// (ErrSpaceFloor), so the server logs the crossing once, not each request.
func TestSpaceFloorErrorIsMarked(t *testing.T) {
	s := openStore(t)
	sp := &audit.Space{AnonymousFloor: 10, Floor: 10, Free: func(string) (uint64, error) { return 1, nil }}
	rc := audit.NewRecorder(s, audit.RecorderOptions{Space: sp})
	err := rc.Complete(context.Background(), &consent.Request{ID: "x", Principal: principal(), Operation: consent.OpRead})
	if !errors.Is(err, audit.ErrSpaceFloor) || mig.ErrorIssue(err) != mig.IssueAuditUnavailable {
		t.Fatalf("error %v", err)
	}
}
