package app

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mig"
)

// scrape reads the ops listener's /metrics.
func scrape(t testing.TB, g *gateway) string {
	t.Helper()
	r := doURL(t, g.http, http.MethodGet, g.m.OpsURL+"/metrics", "", nil)
	if r.Status != 200 {
		t.Fatalf("/metrics: HTTP %d %s", r.Status, truncate(r.Body))
	}
	return string(r.Body)
}

// sample is one line of the text exposition format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$`)
var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

func parseSamples(t testing.TB, text string) []sample {
	t.Helper()
	var out []sample
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unparsable metrics line %q", line)
		}
		v, err := strconv.ParseFloat(m[4], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		s := sample{name: m[1], labels: map[string]string{}, value: v}
		for _, p := range labelPair.FindAllStringSubmatch(m[3], -1) {
			s.labels[p[1]] = p[2]
		}
		out = append(out, s)
	}
	return out
}

// find returns the samples named name whose labels include want.
func find(samples []sample, name string, want map[string]string) []sample {
	var out []sample
next:
	for _, s := range samples {
		if s.name != name {
			continue
		}
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

// TestMetricsCarryNoPatientData drives allowed and refused requests for
// every test patient (NHS numbers in paths, queries, bodies, headers and a
// made-up method; clinical codes in searches; unknown routes holding NHS
// numbers), then scrapes /metrics: no label value holds an NHS number, a
// name or a clinical code, and the series an operator needs are there.
func TestMetricsCarryNoPatientData(t *testing.T) {
	g := startGateway(t, func(m *Main) { m.Config.OpsAddr = "127.0.0.1:0" })
	names, allNHS := patientNames(t, g.m.Testdata)
	nameRE := nameMatcher(names)
	codes := []string{"44054006", "263199001", "91936005", "325278007", "72313002", "999791000000106", "183530004", "86198006", "C10F.", "X40J5"}

	clin := g.token("metrics-clin", "R8000", "RX999")
	nx := g.token("metrics-nx", "R8000", "NX999")
	recep := g.token("metrics-recep", "R8009", "RX999")
	for i, nhs := range allNHS {
		if i%3 == 0 {
			g.recordConsent(clin, nhs, consentGiven)
		}
		g.searchPatient(clin, nhs)
		g.searchPatient(nx, nhs)
		g.searchPatient(recep, nhs)
		g.do(http.MethodGet, "/fhir/Patient/"+g.ids.Patient(nhs)+"/$everything", clin, nil)
		g.do(http.MethodGet, "/fhir/Condition?patient="+g.ids.Patient(nhs)+"&code="+codes[i%len(codes)], clin, nil)
		g.do(http.MethodGet, "/fhir/Patient?identifier="+url.QueryEscape("https://fhir.nhs.uk/Id/nhs-number|"+nhs), "", nil)
		g.do(http.MethodGet, "/"+nhs, clin, nil)
		g.do(http.MethodGet, "/fhir/"+nhs+"/"+names[i%len(names)]+"/x/y", clin, nil)
		g.do(http.MethodGet, "/fhir/Patient/"+nhs, clin, nil, "X-Request-ID", nhs)
		g.do(nhs, "/fhir/Patient", clin, nil)
	}
	g.do(http.MethodGet, "/fhir/"+url.PathEscape(names[0]+" "+codes[0]), clin, nil)

	samples := parseSamples(t, scrape(t, g))
	nhsRE := regexp.MustCompile(`999\d{7}`)
	for _, s := range samples {
		for k, v := range s.labels {
			switch {
			case nhsRE.MatchString(v):
				t.Errorf("%s label %s holds an NHS number: %q", s.name, k, v)
			case nameRE.MatchString(v):
				t.Errorf("%s label %s holds a patient's name: %q", s.name, k, v)
			}
			for _, c := range codes {
				if strings.Contains(v, c) {
					t.Errorf("%s label %s holds clinical code %s: %q", s.name, k, c, v)
				}
			}
		}
		if r, ok := s.labels["route"]; ok && r != "unmatched" && r != "other" && !strings.HasPrefix(r, "/") {
			t.Errorf("%s route label %q is not a route template", s.name, r)
		}
	}

	// What an operator needs is there.
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"mig_http_requests_total", map[string]string{"route": "/fhir/:type/_search", "method": "POST", "status": "200", "rule": ""}},
		{"mig_http_requests_total", map[string]string{"route": "/fhir/Patient/:id/:op", "status": "200"}},
		{"mig_http_requests_total", map[string]string{"route": "/fhir/:type", "status": "401", "rule": "authentication"}},
		{"mig_http_requests_total", map[string]string{"route": "unmatched", "status": "404"}},
		{"mig_http_requests_total", map[string]string{"method": "OTHER"}},
		{"mig_http_request_duration_seconds_bucket", map[string]string{"route": "/fhir/Patient/:id/:op", "le": "+Inf"}},
		{"mig_http_requests_in_flight", nil},
		{"mig_audit_append_duration_seconds_count", map[string]string{"outcome": "ok"}},
		{"mig_audit_append_queue", nil},
		{"mig_audit_checkpoint_age_seconds", nil},
		{"mig_audit_checkpoint_lag_records", nil},
		{"mig_gp_fetch_duration_seconds_count", map[string]string{"practice": "A99902", "outcome": "ok"}},
		{"mig_gp_breaker_state", map[string]string{"practice": "A99902", "state": "closed"}},
		{"mig_data_dir_free_bytes", nil},
		{"mig_build_info", map[string]string{"version": Version}},
		{"mig_ready", nil},
		{"mig_admission_requests_total", map[string]string{"decision": "refused"}},
		{"mig_admission_in_flight", nil},
		{"mig_cache_parse_total", map[string]string{"result": "hit"}},
		{"mig_cache_map_total", map[string]string{"result": "miss"}},
		{"mig_cache_evictions_total", map[string]string{"reason": "ttl"}},
		{"mig_cache_bytes", nil},
	} {
		if len(find(samples, c.name, c.labels)) == 0 {
			t.Errorf("no %s%v in /metrics", c.name, c.labels)
		}
	}
	// Refusals are counted under their rule: the receptionist's role.
	refused := 0.0
	for _, s := range find(samples, "mig_http_requests_total", map[string]string{"route": "/fhir/:type/_search", "status": "403"}) {
		if s.labels["rule"] == "" {
			t.Errorf("a 403 without its refusing rule: %v", s.labels)
		}
		refused += s.value
	}
	if refused < float64(len(allNHS)) {
		t.Errorf("%v 403 refusals of Patient/_search counted, want at least %d", refused, len(allNHS))
	}
	if s := find(samples, "mig_gp_breaker_state", map[string]string{"practice": "A99902", "state": "closed"}); len(s) == 1 && s[0].value != 1 {
		t.Errorf("A99902's breaker is not reported closed: %v", s[0].value)
	}
	if s := find(samples, "mig_ready", nil); len(s) == 1 && s[0].value != 1 {
		t.Errorf("mig_ready = %v on a serving node", s[0].value)
	}
}

// TestHealthEndpoints: /healthz and /readyz answer on the main and the ops
// listener, are not audited, and /readyz turns 503 "stopping" at Close.
func TestHealthEndpoints(t *testing.T) {
	g := startGateway(t, func(m *Main) { m.Config.OpsAddr = "127.0.0.1:0" })
	deadline := time.Now().Add(10 * time.Second)
	for !g.m.health.ready() && time.Now().Before(deadline) { // the provider's keys are fetched in the background
		time.Sleep(20 * time.Millisecond)
	}
	before := g.auditSeq()
	for _, base := range []string{g.m.URL, g.m.OpsURL} {
		r := doURL(t, g.http, http.MethodGet, base+"/healthz", "", nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"alive"`) {
			t.Errorf("%s/healthz: HTTP %d %s", base, r.Status, r.Body)
		}
		r = doURL(t, g.http, http.MethodGet, base+"/readyz", "", nil)
		var b readyBody
		if err := json.Unmarshal(r.Body, &b); err != nil || r.Status != 200 || b.Status != "ready" {
			t.Errorf("%s/readyz: HTTP %d %s", base, r.Status, r.Body)
		}
		for _, c := range startChecks {
			if b.Checks[c] != "ok" {
				t.Errorf("%s/readyz: check %s is %q", base, c, b.Checks[c])
			}
		}
		if b.Database != "" {
			t.Errorf("%s/readyz on bbolt reports a database: %q", base, b.Database)
		}
		if r := doURL(t, g.http, http.MethodPost, base+"/readyz", "", nil); r.Status != http.StatusMethodNotAllowed {
			t.Errorf("POST %s/readyz: HTTP %d", base, r.Status)
		}
	}
	if r := doURL(t, g.http, http.MethodGet, g.m.URL+"/metrics", "", nil); r.Status != 404 {
		t.Errorf("/metrics on the public listener: HTTP %d, want 404 (ops listener only)", r.Status)
	}
	if after := g.auditSeq(); after != before+1 { // only the 404 for /metrics
		t.Errorf("health probes were audited: %d events for them", after-before-1)
	}
	g.m.health.stopping()
	if r := doURL(t, g.http, http.MethodGet, g.m.OpsURL+"/readyz", "", nil); r.Status != 503 || !strings.Contains(string(r.Body), `"stopping"`) {
		t.Errorf("/readyz while stopping: HTTP %d %s", r.Status, r.Body)
	}
}

// TestReadinessIgnoresDatabaseOutage: once a node has started, a database
// outage is reported in /readyz's body but never makes it unready, so the
// balancer keeps every node in and clients get 503 AUDIT_UNAVAILABLE.
func TestReadinessIgnoresDatabaseOutage(t *testing.T) {
	r := newReadiness()
	down := errors.New("connection refused")
	var dbErr error
	r.setDatabase(func(context.Context) error { return dbErr })
	for _, c := range startChecks[:len(startChecks)-1] {
		r.set(c, nil)
	}
	if status, b := r.body(context.Background()); status != 503 || b.Status != "starting" || b.Checks[checkServing] != "pending" {
		t.Fatalf("before serving: %d %+v", status, b)
	}
	r.set(checkServing, nil)
	if status, b := r.body(context.Background()); status != 200 || b.Database != "ok" {
		t.Fatalf("serving: %d %+v", status, b)
	}
	dbErr = down
	r.dbAt = time.Time{} // the next probe reads again
	status, b := r.body(context.Background())
	if status != 200 || b.Status != "ready" || b.Database != "unavailable" {
		t.Fatalf("database down: %d %+v; want 200 ready with database unavailable", status, b)
	}
	r.set(checkIdP, errors.New("identity provider unreachable")) // a check never un-passes
	if !r.ready() {
		t.Fatal("a passed start-up check was taken back")
	}
	r2 := newReadiness()
	r2.set(checkIdP, mig.Errorf(mig.EUNAVAILABLE, "identity provider unreachable"))
	if _, b := r2.body(context.Background()); b.Checks[checkIdP] != "identity provider unreachable" || b.Checks[checkKey] != "pending" {
		t.Fatalf("not started: %+v", b)
	}
}
