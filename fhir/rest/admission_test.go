package rest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"mig"
	"mig/adapters/record"
	"mig/consent"
)

func TestAdmissionOverloadedMapping(t *testing.T) {
	err := &mig.Error{Code: mig.EOVERLOADED}
	if HTTPStatus(err) != http.StatusServiceUnavailable || issueTypeOf[mig.EOVERLOADED] != "throttled" || defaultIssue(mig.EOVERLOADED) != mig.IssueOverloaded {
		t.Errorf("EOVERLOADED maps to %d %q %q", HTTPStatus(err), issueTypeOf[mig.EOVERLOADED], defaultIssue(mig.EOVERLOADED))
	}
}

// acquire takes a slot or fails the test.
func acquire(t *testing.T, a *Admission, org string) func() {
	t.Helper()
	release, ok := a.Acquire(context.Background(), org)
	if !ok {
		t.Fatalf("%s refused: %+v", org, a.Stats())
	}
	return release
}

func refusedNow(t *testing.T, a *Admission, org string, within time.Duration) {
	t.Helper()
	start := time.Now()
	if release, ok := a.Acquire(context.Background(), org); ok {
		release()
		t.Fatalf("%s admitted: %+v", org, a.Stats())
	}
	if took := time.Since(start); took > within {
		t.Errorf("%s refused after %v, want at once (under %v)", org, took, within)
	}
}

// The node holds at most MaxInFlight; an organisation at its share is
// refused at once; one below it waits for the next slot freed, which goes
// to it rather than to the busy organisation.
func TestAdmissionFairHandoff(t *testing.T) {
	a := NewAdmission(AdmissionOptions{MaxInFlight: 4, MaxWait: 5 * time.Second})
	var held []func()
	for i := 0; i < 4; i++ {
		held = append(held, acquire(t, a, "A")) // a lone organisation uses the node
	}
	refusedNow(t, a, "A", 50*time.Millisecond)
	got := make(chan func())
	go func() {
		release, ok := a.Acquire(context.Background(), "B")
		if !ok {
			close(got)
			return
		}
		got <- release
	}()
	waitFor(t, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.orgs["B"] != nil && len(a.orgs["B"].waiting) == 1
	})
	refusedNow(t, a, "A", 50*time.Millisecond) // B waits: A is over its share of two
	held[0]()
	relB, ok := <-got
	if !ok {
		t.Fatal("B was refused though a slot was freed")
	}
	if st := a.Stats(); st.InFlight != 4 || st.Waited != 1 || st.Admitted != 4 || st.Refused != 2 || st.Peak != 4 {
		t.Errorf("stats %+v", st)
	}
	relB()
	for _, r := range held[1:] {
		r()
	}
	if st := a.Stats(); st.InFlight != 0 || len(a.orgs) != 0 {
		t.Errorf("slots leaked: %+v, %d organisations", st, len(a.orgs))
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never met")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestAdmissionBoundedWait(t *testing.T) {
	a := NewAdmission(AdmissionOptions{MaxInFlight: 2, MaxWait: 30 * time.Millisecond})
	r1, r2 := acquire(t, a, "A"), acquire(t, a, "A")
	start := time.Now()
	if _, ok := a.Acquire(context.Background(), "B"); ok {
		t.Fatal("B admitted on a full node with nothing freed")
	}
	if took := time.Since(start); took < 30*time.Millisecond || took > 2*time.Second {
		t.Errorf("B waited %v, want MaxWait (30ms)", took)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(5 * time.Millisecond); cancel() }()
	a2 := NewAdmission(AdmissionOptions{MaxInFlight: 2, MaxWait: time.Hour})
	h1, h2 := acquire(t, a2, "A"), acquire(t, a2, "A")
	if _, ok := a2.Acquire(ctx, "B"); ok {
		t.Fatal("a cancelled request was admitted")
	}
	for _, r := range []func(){r1, r2, h1, h2} {
		r()
	}
	if a.Stats().InFlight != 0 || a2.Stats().InFlight != 0 || len(a2.orgs) != 0 {
		t.Error("slots leaked")
	}
	never := NewAdmission(AdmissionOptions{MaxInFlight: 1, MaxWait: -1})
	defer acquire(t, never, "A")()
	refusedNow(t, never, "B", 20*time.Millisecond)
}

// MaxOrgShare keeps slots free for others even when one organisation is
// alone.
func TestAdmissionMaxOrgShare(t *testing.T) {
	a := NewAdmission(AdmissionOptions{MaxInFlight: 8, MaxOrgShare: 0.5})
	var held []func()
	for i := 0; i < 4; i++ {
		held = append(held, acquire(t, a, "A"))
	}
	refusedNow(t, a, "A", 50*time.Millisecond)
	held = append(held, acquire(t, a, "B"))
	for _, r := range held {
		r()
	}
}

// A flood: organisation A keeps 32 requests coming, B one at a time. B is
// never starved: nearly all its requests are admitted, while A's excess is
// refused; the node never holds more than MaxInFlight.
func TestAdmissionFlood(t *testing.T) {
	a := NewAdmission(AdmissionOptions{MaxInFlight: 4, MaxWait: 200 * time.Millisecond})
	var peak, inFlight atomic.Int32
	work := func(org string) bool {
		release, ok := a.Acquire(context.Background(), org)
		if !ok {
			return false
		}
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(2 * time.Millisecond)
		inFlight.Add(-1)
		release()
		return true
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var aOK, aRefused atomic.Int32
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if work("A") {
					aOK.Add(1)
				} else {
					aRefused.Add(1)
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	bOK, bTotal := 0, 200
	for i := 0; i < bTotal; i++ {
		if work("B") {
			bOK++
		}
	}
	close(stop)
	wg.Wait()
	if bOK < bTotal*95/100 {
		t.Errorf("B admitted %d of %d under A's flood", bOK, bTotal)
	}
	if aOK.Load() == 0 || aRefused.Load() == 0 {
		t.Errorf("A: %d admitted, %d refused: the flood did not exercise the limit", aOK.Load(), aRefused.Load())
	}
	if p := peak.Load(); p > 4 {
		t.Errorf("%d in flight, MaxInFlight 4", p)
	}
	st := a.Stats()
	if st.Refused != uint64(aRefused.Load())+uint64(bTotal-bOK) || st.Admitted+st.Waited != uint64(aOK.Load())+uint64(bOK) {
		t.Errorf("stats %+v do not add up", st)
	}
}

// gate is a chain service whose Start holds each request until let go.
type gate struct {
	consent.Base
	in  chan string
	out chan struct{}
}

func (g *gate) Start(_ context.Context, r *consent.Request) consent.Decision {
	g.in <- r.Principal.OrgODS
	<-g.out
	return consent.Decision{Verdict: consent.Reject, Rule: "test", Err: &mig.Error{Code: mig.EFORBIDDEN, Message: "test"}}
}

type orgTokens struct{}

func (orgTokens) Verify(_ context.Context, raw string) (*consent.Principal, error) {
	return &consent.Principal{UserID: "u-" + raw, RoleCode: "R8000", OrgODS: raw}, nil
}

// Through HTTP: the excess is 503 at once, with Retry-After and an
// OperationOutcome OVERLOADED (issue throttled), audited under rule
// admission; an admitted request runs as before.
func TestAdmissionHTTP(t *testing.T) {
	log := &auditLog{}
	g := &gate{in: make(chan string, 8), out: make(chan struct{})}
	s := &Server{Verifier: orgTokens{}, Chain: consent.Chain{g, log}, Log: zerolog.Nop(),
		Base: "http://gw.test/fhir", Now: time.Now, ViewContext: record.DefaultViewContext,
		Admission: NewAdmission(AdmissionOptions{MaxInFlight: 2, MaxWait: 5 * time.Second, RetryAfter: 2 * time.Second})}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	get := func(org string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/fhir/Condition?patient=x", nil)
		req.Header.Set("Authorization", "Bearer "+org)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return nil, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	done := make(chan int, 8)
	for i := 0; i < 2; i++ {
		go func() {
			resp, _ := get("A")
			done <- resp.StatusCode
		}()
		<-g.in
	}
	start := time.Now()
	resp, body := get("A")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "2" || time.Since(start) > time.Second {
		t.Fatalf("the excess: HTTP %d, Retry-After %q, after %v", resp.StatusCode, resp.Header.Get("Retry-After"), time.Since(start))
	}
	var oo struct {
		Issue []struct {
			Code    string `json:"code"`
			Details struct {
				Coding []struct{ Code string } `json:"coding"`
			} `json:"details"`
		} `json:"issue"`
	}
	if err := json.Unmarshal(body, &oo); err != nil || len(oo.Issue) != 1 || oo.Issue[0].Code != "throttled" ||
		len(oo.Issue[0].Details.Coding) == 0 || oo.Issue[0].Details.Coding[0].Code != mig.IssueOverloaded {
		t.Errorf("OperationOutcome %s", body)
	}
	if log.count() != 1 || log.ops[0] != " admission" {
		t.Errorf("audited %q, want one refusal under admission", log.ops)
	}
	// B, below its share, waits for a slot A frees, and runs as before.
	go func() {
		resp, _ := get("B")
		done <- resp.StatusCode
	}()
	waitFor(t, func() bool { return s.Admission.Stats().Waited == 0 && len(g.in) == 0 && waiting(s.Admission, "B") })
	g.out <- struct{}{}
	if org := <-g.in; org != "B" {
		t.Errorf("the freed slot went to %s", org)
	}
	g.out <- struct{}{}
	g.out <- struct{}{}
	for i := 0; i < 3; i++ {
		if code := <-done; code != http.StatusForbidden {
			t.Errorf("an admitted request answered %d, want the chain's 403", code)
		}
	}
	if st := s.Admission.Stats(); st.Refused != 1 || st.Admitted != 2 || st.Waited != 1 || st.InFlight != 0 {
		t.Errorf("stats %+v", st)
	}
}

func waiting(a *Admission, org string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.orgs[org] != nil && len(a.orgs[org].waiting) > 0
}
