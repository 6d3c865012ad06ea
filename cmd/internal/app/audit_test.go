package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"mig/audit"
	auditbolt "mig/audit/bolt"
)

// TestAuditBeforeResponse: when an allowed read's response arrives (status
// line and headers, before the body is read), its AuditEvent is already in
// the store, with what was released.
func TestAuditBeforeResponse(t *testing.T) {
	g := startGateway(t, nil)
	tok := g.token("clin-audit", "R8000", "RX999")
	if r := g.recordConsent(tok, tppConsent, consentGiven); r.Status != 201 {
		t.Fatalf("consent: HTTP %d %s", r.Status, truncate(r.Body))
	}
	for _, path := range []string{
		"/fhir/Patient/" + g.ids.Patient(tppConsent) + "/$everything",
		"/fhir/Condition?patient=" + g.ids.Patient(tppConsent),
		"/fhir/Patient/" + g.ids.Patient(tppConsent),
	} {
		before := g.auditSeq()
		req, _ := http.NewRequest(http.MethodGet, g.m.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := g.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		// Headers are here; the body is still unread.
		evs := byRequest(g.eventsSince(before), resp.Header.Get("X-Request-ID"))
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: HTTP %d", path, resp.StatusCode)
		}
		if len(evs) != 1 {
			t.Fatalf("%s: %d AuditEvents for the request when its response arrived, want 1", path, len(evs))
		}
		if evs[0].Outcome != audit.OutcomeSuccess || evs[0].NHSNumber != tppConsent || evs[0].Consent != "given" || len(evs[0].Released) == 0 {
			t.Errorf("%s: AuditEvent outcome %q patient %q consent %q released %v", path, evs[0].Outcome, evs[0].NHSNumber, evs[0].Consent, evs[0].Released)
		}
	}
}

// TestAuditUnavailable: when the audit store cannot be written, every
// request, allowed or refused, gets 503 AUDIT_UNAVAILABLE and no data.
func TestAuditUnavailable(t *testing.T) {
	g := startGateway(t, nil)
	tok := g.token("clin-down", "R8000", "RX999")
	if r := g.recordConsent(tok, tppConsent, consentGiven); r.Status != 201 {
		t.Fatalf("consent: HTTP %d %s", r.Status, truncate(r.Body))
	}
	if r := g.searchPatient(tok, tppConsent); r.Status != 200 {
		t.Fatalf("control read: HTTP %d", r.Status)
	}
	// The store's file goes away underneath the running gateway (as when
	// its disk fails): appends fail.
	if err := g.m.audit.Close(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		fn   func() *response
	}{
		{"allowed search", func() *response { return g.searchPatient(tok, tppConsent) }},
		{"allowed everything", func() *response {
			return g.do(http.MethodGet, "/fhir/Patient/"+g.ids.Patient(tppConsent)+"/$everything", tok, nil)
		}},
		{"allowed read", func() *response { return g.do(http.MethodGet, "/fhir/Patient/"+g.ids.Patient(tppConsent), tok, nil) }},
		{"consent record", func() *response { return g.recordConsent(tok, tppConsent2, consentGiven) }},
		{"refused: no view consent", func() *response { return g.searchPatient(tok, emisConsent) }},
		{"refused: no token", func() *response { return g.searchPatient("", tppConsent) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.fn()
			if r.Status != 503 {
				t.Fatalf("HTTP %d, want 503: %s", r.Status, truncate(r.Body))
			}
			if code, _ := r.outcome(t); code != "AUDIT_UNAVAILABLE" {
				t.Fatalf("details code %q, want AUDIT_UNAVAILABLE", code)
			}
			for _, leak := range []string{tppConsent, "Tpp", `"Patient"`, `"Bundle"`, "FREETEXT-"} {
				if strings.Contains(string(r.Body), leak) {
					t.Errorf("503 answer holds %q: %s", leak, r.Body)
				}
			}
			if r.Header.Get("Location") != "" {
				t.Errorf("503 answer has a Location header")
			}
		})
	}
	if !strings.Contains(g.log.String(), "audit record not written") {
		t.Error("no log line says the audit record was not written")
	}
}

// TestAuditorSearch: auditors find events through GET /fhir/AuditEvent,
// wide auditors every organisation's, others their own only.
func TestAuditorSearch(t *testing.T) {
	g := startGateway(t, nil)
	rx := g.token("clin-rx", "R8000", "RX999")
	nx := g.token("clin-nx", "R8000", "NX999")
	g.recordConsent(rx, tppConsent, consentGiven)
	rxRead := g.searchPatient(rx, tppConsent)
	nxRead := g.searchPatient(nx, tppConsent) // refused: no view consent
	if rxRead.Status != 200 || nxRead.Status != 403 {
		t.Fatalf("reads: HTTP %d and %d", rxRead.Status, nxRead.Status)
	}
	search := func(tok string, q url.Values) map[string]*audit.Decoded {
		t.Helper()
		r := g.do(http.MethodGet, "/fhir/AuditEvent?"+q.Encode(), tok, nil)
		if r.Status != 200 {
			t.Fatalf("audit search: HTTP %d %s", r.Status, truncate(r.Body))
		}
		var b struct {
			Entry []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatal(err)
		}
		out := map[string]*audit.Decoded{}
		for _, e := range b.Entry {
			d, err := audit.Decode(e.Resource)
			if err != nil {
				t.Fatal(err)
			}
			out[d.RequestID] = d
		}
		return out
	}
	q := url.Values{"patient:identifier": {"https://fhir.nhs.uk/Id/nhs-number|" + tppConsent}, "_count": {"100"}}
	wide := search(g.auditorToken(), q)
	if wide[rxRead.requestID()] == nil || wide[nxRead.requestID()] == nil {
		t.Fatalf("wide auditor misses events: %d found", len(wide))
	}
	if d := wide[nxRead.requestID()]; d.Outcome != audit.OutcomeSeriousFail || !strings.Contains(d.OutcomeDesc, "NO_VIEW_CONSENT") {
		t.Errorf("refused read audited as outcome %q %q", d.Outcome, d.OutcomeDesc)
	}
	own := search(g.token("privacy-rx", "R0001", "RX999"), q)
	if own[rxRead.requestID()] == nil {
		t.Error("RX999 auditor cannot see RX999's read")
	}
	if own[nxRead.requestID()] != nil {
		t.Error("RX999 auditor sees NX999's request")
	}
	if r := g.do(http.MethodGet, "/fhir/AuditEvent", rx, nil); r.Status != 403 {
		t.Errorf("clinician searching the audit log: HTTP %d, want 403", r.Status)
	}
}

// verifyAuditFile runs the chain verification over a closed audit.db.
func verifyAuditFile(t *testing.T, path string) *auditbolt.VerifyReport {
	t.Helper()
	rep, err := auditbolt.VerifyFile(context.Background(), path)
	if err != nil {
		t.Fatalf("verify %s: %v", path, err)
	}
	if !rep.OK() {
		p, _ := rep.First()
		t.Fatalf("audit chain does not verify: %d problems, first %s", rep.ProblemsTotal, p)
	}
	return rep
}

// TestAuditExportResume: the streaming export resumes after a sequence
// number or after the id of the last AuditEvent a client received (all an
// interrupted NDJSON stream lets it know), and both give the same tail.
func TestAuditExportResume(t *testing.T) {
	g := startGateway(t, nil)
	clin := g.token("clin-export", "R8000", "RX999")
	for i := 0; i < 5; i++ {
		g.searchPatient(clin, tppConsent) // refusals: audited all the same
	}
	aud := g.auditorToken()
	all := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, "/fhir/AuditEvent/$export", aud, nil) })
	lines := strings.SplitAfter(strings.TrimSuffix(string(all.Body), "\n"), "\n")
	if len(lines) < 5 {
		t.Fatalf("export has %d lines, want at least 5", len(lines))
	}
	var third struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(lines[2]), &third); err != nil || third.ID == "" {
		t.Fatalf("third line: %v", err)
	}
	bySeq := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, "/fhir/AuditEvent/$export?_after=3", aud, nil) })
	byID := g.call(t, want{status: 200}, func() *response {
		return g.do(http.MethodGet, "/fhir/AuditEvent/$export?_after="+third.ID, aud, nil)
	})
	tail := strings.Join(lines[3:], "")
	// The export itself is audited before it streams: each later export
	// has one more event at its end than the first saw.
	if !strings.HasPrefix(string(bySeq.Body), tail) || !strings.HasPrefix(string(byID.Body), tail) {
		t.Fatalf("resumed exports do not continue after the third event")
	}
	g.call(t, want{400, "INVALID_PARAMETER"}, func() *response {
		return g.do(http.MethodGet, "/fhir/AuditEvent/$export?_after=no-such-event", aud, nil)
	})
}
