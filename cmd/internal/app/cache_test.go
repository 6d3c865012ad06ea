package app

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mig/adapters/record"
	"mig/consent"
	"mig/fhir/rest"
	"mig/internal/testenv"
)

// testClock is a clock a test sets; zero reads the real time.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t.IsZero() {
		return time.Now()
	}
	return c.t
}

func (c *testClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// bundleContent is what a searchset says, without what differs between
// two identical answers (its timestamps): the total, the links, and every
// entry as sent.
func bundleContent(t *testing.T, r *response) string {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("HTTP %d %s", r.Status, truncate(r.Body))
	}
	var b struct {
		Total *int            `json:"total"`
		Link  json.RawMessage `json:"link"`
		Entry json.RawMessage `json:"entry"`
	}
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(b)
	return string(out)
}

// cacheStats reads the gateway's cache counts.
func (g *gateway) cacheStats() rest.CacheStats { return g.m.cache.Stats() }

// TestCacheNothingCrossesOver: with the cache on, every answer is the one
// the gateway gives with nothing cached, whoever asked before, whenever,
// and however the extract changed: an emergency user then a summary-only
// user on the same bytes (and both at once), a request either side of
// midnight, an edited extract on the very next request.
func TestCacheNothingCrossesOver(t *testing.T) {
	clk := &testClock{}
	root := copyTree(t, filepath.Join(testenv.ModuleRoot(t), "testdata"))
	g := startGateway(t, func(m *Main) {
		m.Testdata = root
		m.Now = clk.now
	})
	if g.m.cache == nil {
		t.Fatal("the cache is off by default")
	}
	const nhs = gp2gpConsent
	pid := g.ids.Patient(nhs)
	everything := "/fhir/Patient/" + pid + "/$everything?_count=500"
	summaryView := "/fhir/Patient/" + pid + "/$mig-view?view=summary"

	admin := g.adminToken()
	a := consent.Agreement{ID: "sx-summary", Title: "summary only", Providers: []string{"A99901"},
		Recipients: []string{"SX999"}, Views: []record.View{record.ViewSummary}, ValidFrom: time.Now().Add(-time.Hour).UTC(), Status: consent.AgreementActive}
	if r := g.do(http.MethodPost, "/admin/agreements", admin, a); r.Status != http.StatusCreated {
		t.Fatalf("agreement: HTTP %d %s", r.Status, truncate(r.Body))
	}
	emerg := g.token("cache-em", "R8000", "RX999")
	summ := g.token("cache-su", "R8000", "SX999")
	for _, c := range []struct {
		tok  string
		kind consentKind
	}{{emerg, consentEmergency}, {summ, consentGiven}} {
		if r := g.recordConsent(c.tok, nhs, c.kind); r.Status != http.StatusCreated {
			t.Fatalf("consent: HTTP %d %s", r.Status, truncate(r.Body))
		}
	}
	fresh := func(tok, path string) string {
		g.m.cache.Reset("test-fresh")
		return bundleContent(t, g.do(http.MethodGet, path, tok, nil))
	}

	t.Run("emergency then summary-only", func(t *testing.T) {
		before := g.cacheStats()
		e1 := bundleContent(t, g.do(http.MethodGet, everything, emerg, nil))
		s1 := bundleContent(t, g.do(http.MethodGet, everything, summ, nil))
		e2 := bundleContent(t, g.do(http.MethodGet, everything, emerg, nil))
		st := g.cacheStats()
		if st.Hits-before.Hits < 3 || st.MapHits-before.MapHits < 1 {
			t.Fatalf("the cache was not used: %+v then %+v", before, st)
		}
		if !strings.Contains(e1, `"BTG"`) || strings.Contains(s1, `"BTG"`) {
			t.Error("the emergency label is on the wrong answer")
		}
		for _, typ := range []string{`"Procedure"`, `"Immunization"`, `"Encounter"`, `"Flag"`} {
			if strings.Contains(s1, `"resourceType":`+typ) {
				t.Errorf("the summary-only user got a %s", typ)
			}
		}
		if !strings.Contains(s1, `"Condition"`) {
			t.Error("the summary-only user got no active problem")
		}
		if e2 != e1 {
			t.Error("the emergency user's answer changed after the summary-only user's")
		}
		if f := fresh(summ, everything); f != s1 {
			t.Errorf("summary-only: cached answer differs from a fresh one:\n%s\n%s", s1, f)
		}
		if f := fresh(emerg, everything); f != e1 {
			t.Error("emergency: cached answer differs from a fresh one")
		}
	})

	t.Run("both at once", func(t *testing.T) {
		want := map[string]string{emerg: fresh(emerg, everything), summ: fresh(summ, everything)}
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(tok string) {
				defer wg.Done()
				for j := 0; j < 4; j++ {
					r := g.do(http.MethodGet, everything, tok, nil)
					if got := bundleContent(t, r); got != want[tok] {
						t.Errorf("concurrent answer differs from the fresh one")
						return
					}
				}
			}([]string{emerg, summ}[i%2])
		}
		wg.Wait()
	})

	t.Run("either side of midnight", func(t *testing.T) {
		// The HbA1c of 2026-09-15 is a recent test for 365 days: in the
		// Summary until 2027-09-15 00:00 UTC.
		before, after := time.Date(2027, 9, 14, 23, 59, 59, 0, time.UTC), time.Date(2027, 9, 15, 0, 0, 1, 0, time.UTC)
		defer clk.set(time.Time{})
		clk.set(before)
		// A token the gateway's clock (in 2027) still finds valid.
		clin := g.idpSigner().sign(t, claims(g.m.Issuer, g.m.Config.Auth.Audience, "cache-clin", "R8000", "RX999", after.Add(time.Hour)))
		if r := g.recordConsent(clin, nhs, consentGiven); r.Status != http.StatusCreated {
			t.Fatalf("consent: HTTP %d %s", r.Status, truncate(r.Body))
		}
		b1 := bundleContent(t, g.do(http.MethodGet, summaryView, clin, nil))
		b2 := bundleContent(t, g.do(http.MethodGet, summaryView, clin, nil))
		clk.set(after)
		hits := g.cacheStats().Hits
		a1 := bundleContent(t, g.do(http.MethodGet, summaryView, clin, nil))
		if g.cacheStats().Hits == hits {
			t.Error("after midnight the parse was not reused: the test does not exercise the cache")
		}
		const hba1c = "999791000000106"
		if b1 != b2 || !strings.Contains(b1, hba1c) || strings.Contains(a1, hba1c) {
			t.Errorf("HbA1c in the Summary before midnight %v (twice the same: %v), after %v", strings.Contains(b1, hba1c), b1 == b2, strings.Contains(a1, hba1c))
		}
		if f := fresh(clin, summaryView); f != a1 {
			t.Error("after midnight: cached answer differs from a fresh one")
		}
		clk.set(before)
		if f := fresh(clin, summaryView); f != b1 {
			t.Error("before midnight: cached answer differs from a fresh one")
		}
	})

	t.Run("edited extract on the next request", func(t *testing.T) {
		r1 := bundleContent(t, g.do(http.MethodGet, everything, emerg, nil))
		misses := g.cacheStats().Misses
		editFile(t, filepath.Join(root, "A99901", nhs+".xml"), `value="58" unit="mmol/mol"`, `value="61" unit="mmol/mol"`)
		r2 := bundleContent(t, g.do(http.MethodGet, everything, emerg, nil))
		if !strings.Contains(r1, `"value":58`) || !strings.Contains(r2, `"value":61`) || strings.Contains(r2, `"value":58`) {
			t.Error("the edited HbA1c was not seen on the next request")
		}
		if g.cacheStats().Misses != misses+1 {
			t.Errorf("the edited extract was not parsed again: %+v", g.cacheStats())
		}
		if f := fresh(emerg, everything); f != r2 {
			t.Error("edited: cached answer differs from a fresh one")
		}
	})
}

// TestCacheConfigurationChange: a new configuration (here the risk set)
// is a new pipeline version, and the answer follows it at once: nothing
// parsed or mapped under the old one is served, in the same process
// (rest.Cache.Reset with the new version, as a reload does) or after a
// restart on the same data directory (the cache is process memory only).
func TestCacheConfigurationChange(t *testing.T) {
	const palliative = "414937009" // in the default risk set: a Flag
	dir := t.TempDir()
	run := func(risks []Code) (*gateway, string) {
		g := startGateway(t, func(m *Main) {
			m.Config.DataDir = dir
			m.Config.Risks = risks
		})
		tok := g.token("cache-cfg", "R8000", "RX999")
		if r := g.recordConsent(tok, gp2gpConsent, consentGiven); r.Status != http.StatusCreated {
			t.Fatalf("consent: HTTP %d", r.Status)
		}
		return g, tok
	}
	g1, tok1 := run(nil)
	path := "/fhir/Flag?patient=" + g1.ids.Patient(gp2gpConsent)
	if b := bundleContent(t, g1.do(http.MethodGet, path, tok1, nil)); !strings.Contains(b, palliative) {
		t.Fatalf("the default risk set shows no palliative care Flag: %s", b)
	}
	g1.m.Close()
	g2, tok2 := run([]Code{{System: "http://snomed.info/sct", Code: "15188001"}})
	if b := bundleContent(t, g2.do(http.MethodGet, path, tok2, nil)); strings.Contains(b, palliative) {
		t.Error("after a restart with another risk set, the old pipeline's Flag was served")
	}

	v1 := pipelineVersion(&g2.m.Config)
	same := g2.m.Config
	if v2 := pipelineVersion(&same); v2 == v1 {
		t.Error("building the pipeline again (its files may have changed) kept the version")
	}
	for name, edit := range map[string]func(c *Config){
		"risks":       func(c *Config) { c.Risks = nil },
		"terms":       func(c *Config) { c.Terms = TermsStrict },
		"limits":      func(c *Config) { c.Limits.MaxBytes = 1 << 20 },
		"terminology": func(c *Config) { c.Terminology.MapFiles = []string{"/elsewhere"} },
	} {
		c := g2.m.Config
		edit(&c)
		if pipelineVersion(&c)[:16] == v1[:16] {
			t.Errorf("a change of %s keeps the configuration hash", name)
		}
	}
	hits := g2.cacheStats().Hits
	g2.m.cache.Reset(pipelineVersion(&g2.m.Config))
	g2.do(http.MethodGet, path, tok2, nil)
	if st := g2.cacheStats(); st.Hits != hits || st.Resets != 1 {
		t.Errorf("a reset kept what was parsed before it: %+v", st)
	}
}
