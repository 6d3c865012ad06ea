package app

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"mig"
)

// TestAdmissionUnderFlood: organisation RX999 floods the node with
// whole-record requests while NX999 reads one at a time. NX999 is not
// starved; RX999's excess is refused at once with 503 OVERLOADED and
// Retry-After; every admitted answer is the one an idle node gives; and
// every refusal is in the audit trail, the first of each user's window on
// its own and the rest in a combined event.
func TestAdmissionUnderFlood(t *testing.T) {
	g := startGateway(t, func(m *Main) {
		m.Config.Admission = AdmissionConfig{MaxInFlight: 2, MaxWait: Duration(500 * time.Millisecond), RetryAfter: Duration(time.Second)}
		m.Config.Refusals.CombineWindow, m.Config.Refusals.Separate = Duration(time.Hour), false // flushed by the test
	})
	const nhs = "9990001030" // the 26-year record: each answer takes a while
	path := "/fhir/Patient/" + g.ids.Patient(nhs) + "/$everything?_count=500"
	flooder := g.token("adm-flood", "R8000", "RX999")
	other := g.token("adm-other", "R8000", "NX999")
	for _, tok := range []string{flooder, other} {
		if r := g.recordConsent(tok, nhs, consentGiven); r.Status != http.StatusCreated {
			t.Fatalf("consent: HTTP %d %s", r.Status, truncate(r.Body))
		}
	}
	idle := map[string]string{flooder: bundleContent(t, g.do(http.MethodGet, path, flooder, nil)),
		other: bundleContent(t, g.do(http.MethodGet, path, other, nil))}
	seq := g.auditSeq()

	type result struct {
		status     int
		took       time.Duration
		retryAfter string
		code       string
		same       bool
	}
	call := func(tok string) result {
		start := time.Now()
		r := g.do(http.MethodGet, path, tok, nil)
		res := result{status: r.Status, took: time.Since(start), retryAfter: r.Header.Get("Retry-After")}
		switch r.Status {
		case http.StatusOK:
			res.same = bundleContent(t, r) == idle[tok]
		case http.StatusServiceUnavailable:
			res.code, _ = r.outcome(t)
		}
		return res
	}
	var mu sync.Mutex
	var flood []result
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := call(flooder)
				mu.Lock()
				flood = append(flood, r)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(200 * time.Millisecond) // the flood is under way
	var others []result
	for i := 0; i < 10; i++ {
		others = append(others, call(other))
	}
	close(stop)
	wg.Wait()

	check := func(who string, rs []result) (ok, refused int, okTook, refusedTook []time.Duration) {
		for _, r := range rs {
			switch r.status {
			case http.StatusOK:
				ok++
				okTook = append(okTook, r.took)
				if !r.same {
					t.Errorf("%s: an admitted answer differs from the idle node's", who)
				}
			case http.StatusServiceUnavailable:
				refused++
				refusedTook = append(refusedTook, r.took)
				if r.code != mig.IssueOverloaded || r.retryAfter != "1" {
					t.Errorf("%s: 503 %s with Retry-After %q", who, r.code, r.retryAfter)
				}
			default:
				t.Errorf("%s: HTTP %d", who, r.status)
			}
		}
		return
	}
	fOK, fRefused, fOKTook, fRefusedTook := check("flooder", flood)
	oOK, oRefused, _, _ := check("other", others)
	t.Logf("flooder: %d admitted, %d refused; other: %d admitted, %d refused", fOK, fRefused, oOK, oRefused)
	if fRefused == 0 || fOK == 0 {
		t.Fatal("the flood did not reach the limit: the test proves nothing")
	}
	if oOK < len(others)*9/10 {
		t.Errorf("the other organisation was starved: %d of %d admitted", oOK, len(others))
	}
	if median(fRefusedTook) >= median(fOKTook) {
		t.Errorf("refusals took %v (median), admitted requests %v: the excess waited", median(fRefusedTook), median(fOKTook))
	}
	st := g.m.admission.Stats()
	if int(st.Refused) != fRefused+oRefused || st.Peak > 2 || st.InFlight != 0 {
		t.Errorf("admission stats %+v, %d refusals answered", st, fRefused+oRefused)
	}

	// The audit trail: each refusal once, alone or counted.
	if err := g.m.recorder.Flush(context.Background(), time.Now(), true); err != nil {
		t.Fatal(err)
	}
	alone, counted := 0, 0
	for _, e := range g.eventsSince(seq) {
		body := string(e.Body)
		switch {
		case strings.Contains(body, "admission overloaded-refusals-combined"):
			counted += e.Refusals
			if !strings.Contains(body, "adm-flood") && !strings.Contains(body, "adm-other") {
				t.Errorf("a combined overload event names no user: %s", truncate(e.Body))
			}
		case strings.Contains(body, "admission OVERLOADED"):
			alone++
		}
	}
	if alone+counted != fRefused+oRefused || alone > 2 {
		t.Errorf("audited %d refusals alone and %d combined, want %d in all, at most one alone per user", alone, counted, fRefused+oRefused)
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// The environment's GOMEMLIMIT and GOGC win over the configuration.
func TestRuntimeSettings(t *testing.T) {
	rc := RuntimeConfig{MemoryLimit: 256 << 20, GCPercent: 200}
	for _, tc := range []struct {
		env       map[string]string
		limit     int64
		gcPercent int
	}{
		{nil, 256 << 20, 200},
		{map[string]string{"GOMEMLIMIT": "1GiB"}, 0, 200},
		{map[string]string{"GOGC": "off"}, 256 << 20, 0},
		{map[string]string{"GOMEMLIMIT": "1GiB", "GOGC": "50"}, 0, 0},
	} {
		limit, gc := runtimeSettings(rc, func(k string) string { return tc.env[k] })
		if limit != tc.limit || gc != tc.gcPercent {
			t.Errorf("env %v: limit %d, GOGC %d; want %d, %d", tc.env, limit, gc, tc.limit, tc.gcPercent)
		}
	}
}

// The cache, admission and runtime blocks: defaults, zero turning the
// cache and admission off, and values out of range refused at start.
func TestLimitsConfig(t *testing.T) {
	c := DefaultConfig()
	if c.Cache.MaxBytes != 64<<20 || c.Cache.TTL != Duration(5*time.Minute) || c.Admission.MaxInFlight != DefaultMaxInFlight ||
		c.Runtime.MemoryLimit != DefaultMemoryLimit || c.Runtime.GCPercent != DefaultGCPercent {
		t.Errorf("defaults: %+v %+v %+v", c.Cache, c.Admission, c.Runtime)
	}
	var off Config = DefaultConfig()
	if err := json.Unmarshal([]byte(`{"cache":{"maxBytes":0},"admission":{"maxInFlight":0}}`), &off); err != nil {
		t.Fatal(err)
	}
	m := &Main{Config: off}
	if m.newCache() != nil || m.newAdmission() != nil {
		t.Error("zero did not turn the cache and admission off")
	}
	for name, edit := range map[string]func(c *Config){
		"negative cache":     func(c *Config) { c.Cache.MaxBytes = -1 },
		"negative in flight": func(c *Config) { c.Admission.MaxInFlight = -1 },
		"share above one":    func(c *Config) { c.Admission.MaxOrgShare = 1.5 },
		"negative limit":     func(c *Config) { c.Runtime.MemoryLimit = -1 },
		"GOGC below off":     func(c *Config) { c.Runtime.GCPercent = -2 },
	} {
		c := DefaultConfig()
		edit(&c)
		if errs := c.validateLimits(); len(errs) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
	if def := DefaultConfig(); len(def.validateLimits()) != 0 {
		t.Error("defaults refused")
	}
}
