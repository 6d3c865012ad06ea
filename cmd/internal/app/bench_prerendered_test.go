//go:build migbench

package app

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// These run only in the benchmark build; make bench runs them before it
// measures anything:
//
//	go test -tags migbench -run TestBench ./cmd/internal/app/

// TestBenchBuildRefusedWithoutDev: the benchmark build will not serve a
// deployment's configuration.
func TestBenchBuildRefusedWithoutDev(t *testing.T) {
	m := NewMain()
	m.Config.Addr = "127.0.0.1:0"
	m.Config.DataDir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := m.Run(ctx)
	if err == nil {
		m.Close()
		t.Fatal("a benchmark build started without -dev")
	}
	if !strings.Contains(err.Error(), "benchmark build") {
		t.Fatalf("refused for another reason: %v", err)
	}
}

// stamps are the Bundle's lastUpdated and timestamp, the only bytes of two
// renderings of one answer that may differ.
var stamps = regexp.MustCompile(`"(lastUpdated|timestamp)":"[^"]*"`)

// TestBenchPrerendered: the pre-rendered route serves the bytes the real
// route answers, again and again, each request with its own AuditEvent
// stored first, and refuses what the real route refuses (no token, a role
// without access), audited.
func TestBenchPrerendered(t *testing.T) {
	g := startGateway(t, nil)
	tok := g.token("bench1", "R8000", "RX999")
	const nhs = "9990001030"
	if r := g.recordConsent(tok, nhs, consentGiven); r.Status != http.StatusCreated {
		t.Fatalf("consent: %d", r.Status)
	}
	for _, path := range []string{"/$everything?_count=500", "/$everything", "/$mig-view?view=summary"} {
		target := "/fhir/Patient/" + g.ids.Patient(nhs) + path
		real := g.do(http.MethodGet, target, tok, nil)
		if real.Status != http.StatusOK {
			t.Fatalf("%s: real route %d", path, real.Status)
		}
		for i := 0; i < 2; i++ {
			seq := g.auditSeq()
			pre := g.do(http.MethodGet, benchPrefix+target, tok, nil)
			if pre.Status != http.StatusOK {
				t.Fatalf("%s: pre-rendered %d %s", path, pre.Status, truncate(pre.Body))
			}
			if got, want := stamps.ReplaceAll(pre.Body, nil), stamps.ReplaceAll(real.Body, nil); string(got) != string(want) {
				t.Fatalf("%s: pre-rendered bytes differ from the real route's (%d and %d bytes)", path, len(got), len(want))
			}
			evs := byRequest(g.eventsSince(seq), pre.requestID())
			if len(evs) != 1 || evs[0].Outcome != "0" || evs[0].NHSNumber != nhs || evs[0].Released["Patient"] != 1 {
				t.Fatalf("%s: audit of a pre-rendered answer: %+v", path, evs)
			}
		}
	}
	target := benchPrefix + "/fhir/Patient/" + g.ids.Patient(nhs) + "/$everything"
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"receptionist", g.token("rec1", "R8009", "RX999"), http.StatusForbidden},
	} {
		seq := g.auditSeq()
		r := g.do(http.MethodGet, target, tc.token, nil)
		if r.Status != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, r.Status, tc.want)
		}
		if strings.Contains(string(r.Body), `"Bundle"`) {
			t.Errorf("%s: data released", tc.name)
		}
		if evs := byRequest(g.eventsSince(seq), r.requestID()); len(evs) != 1 || evs[0].Outcome == "0" {
			t.Errorf("%s: audit: %+v", tc.name, evs)
		}
	}
}
