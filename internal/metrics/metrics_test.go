package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"mig"
)

func TestSafe(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"GET", "GET"},
		{"view-consent", "view-consent"},
		{"A99902", "A99902"},
		{"unavailable", "unavailable"},
		{"0.1.0-dev", "0.1.0-dev"},
		{"go1.26.8", "go1.26.8"},
		{"9990001006", "other"},                     // an NHS number
		{"44054006", "other"},                       // a SNOMED CT code
		{"Mrs Ann Example", "other"},                // a space: no name with a space gets through
		{"rule\nx", "other"},                        // a control character
		{strings.Repeat("a", 81), "other"},          // too long
		{"x\"y", "other"},                           // a quote
		{"/fhir/Patient", "other"},                  // a path is not a word
		{"ann@example.nhs.uk", "other"},             // an address
		{"12345", "12345"},                          // five digits: no NHS number or SCTID is that short
		{"diabetes", "diabetes"},                    // a word passes Safe: labels are fed only rule names and codes of ours
		{"9990001006-extra", "other"},               // digits inside a word
		{"%39%39%39%30%30%30%31%30%30%36", "other"}, // escaped
	} {
		if got := Safe(c.in); got != c.want {
			t.Errorf("Safe(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRoute(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "unmatched"},
		{"/fhir/Patient/:id/:op", "/fhir/Patient/:id/:op"},
		{"/fhir/AuditEvent/$export", "/fhir/AuditEvent/$export"},
		{"/fhir/*", "/fhir/*"},
		{"/fhir/Patient/9990001006", "other"},
		{"/fhir/Condition?code=44054006", "other"},
		{"fhir/Patient", "other"},
		{"/fhir/Patient name", "other"},
	} {
		if got := Route(c.in); got != c.want {
			t.Errorf("Route(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestExposition: every recorder lands in the text format under its
// documented name, with vetted labels.
func TestExposition(t *testing.T) {
	m := New(Build{Version: "1.2.3", Revision: "0123456789abcdef", GoVersion: "go1.26.8"})
	m.RequestStarted()
	m.RequestFinished("GET", "/fhir/Patient/9990001006", 200, "", 30*time.Millisecond)
	m.RequestStarted()
	m.RequestFinished("POST", "/fhir/:type/_search", 403, "view-consent", time.Millisecond)
	m.AppendStarted()
	m.AppendFinished(2*time.Millisecond, nil)
	m.AppendStarted()
	m.AppendFinished(time.Second, errors.New("disk full"))
	m.Fetch("A99902", 40*time.Millisecond, nil)
	m.Fetch("A99902", time.Second, mig.Errorf(mig.EUNAVAILABLE, "GP system A99902 unavailable"))
	m.Fetch("A99901", time.Millisecond, mig.Errorf(mig.ENOTFOUND, "no record"))
	m.Notified("A99903", nil)
	m.Refreshed("A99901", 9, time.Millisecond, nil)
	m.GaugeFunc("test_gauge", "A gauge.", func() float64 { return 42 })
	m.CounterFunc("test_refusals_total", "A count kept elsewhere.", func() float64 { return 7 })
	m.States("test_state", "An enumeration.", "practice", []string{"closed", "open"}, func() map[string]string {
		return map[string]string{"A99902": "open", "9990001006": "closed"}
	})
	m.CountersFunc("test_decisions_total", "Counts by decision.", "decision", func() map[string]float64 {
		return map[string]float64{"admitted": 3, "9990001006": 1}
	})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	text := string(b)
	for _, want := range []string{
		`mig_build_info{goversion="go1.26.8",revision="0123456789abcdef",version="1.2.3"} 1`,
		`mig_http_requests_total{method="GET",route="other",rule="",status="200"} 1`,
		`mig_http_requests_total{method="POST",route="/fhir/:type/_search",rule="view-consent",status="403"} 1`,
		`mig_http_requests_in_flight 0`,
		`mig_http_request_duration_seconds_count{method="POST",route="/fhir/:type/_search"} 1`,
		`mig_audit_append_duration_seconds_count{outcome="ok"} 1`,
		`mig_audit_append_duration_seconds_count{outcome="error"} 1`,
		`mig_audit_append_queue 0`,
		`mig_gp_fetch_duration_seconds_count{outcome="ok",practice="A99902"} 1`,
		`mig_gp_fetch_duration_seconds_count{outcome="not-found",practice="A99901"} 1`,
		`mig_gp_fetch_errors_total{code="unavailable",practice="A99902"} 1`,
		`mig_gp_notifications_total{outcome="ok",practice="A99903"} 1`,
		`mig_locator_patients{practice="A99901"} 9`,
		`mig_test_gauge 42`,
		`mig_test_refusals_total 7`,
		`mig_test_state{practice="A99902",state="open"} 1`,
		`mig_test_state{practice="A99902",state="closed"} 0`,
		`mig_test_state{practice="other",state="closed"} 1`,
		`mig_test_decisions_total{decision="admitted"} 3`,
		`mig_test_decisions_total{decision="other"} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(text, "9990001006") {
		t.Error("an NHS number reached the exposition")
	}
	if strings.Contains(text, `code="not_found"`) {
		t.Errorf("not-found counted as an error, or a code mangled:\n%s", text)
	}
}
