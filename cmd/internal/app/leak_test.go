package app

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"mig/adapters/record"
	"mig/consent"
)

var nhsPattern = regexp.MustCompile(`\b999\d{7}\b`)

// freeTextOutsideDosage returns the JSON paths of string values holding a
// FREETEXT- marker anywhere but a prescription's dosage or quantity text
// (record.DosageText, the one named exception).
func freeTextOutsideDosage(body []byte) []string {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		if bytes.Contains(body, []byte("FREETEXT-")) {
			return []string{"(not JSON)"}
		}
		return nil
	}
	var bad []string
	var walk func(path string, v any, exempt bool)
	walk = func(path string, v any, exempt bool) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				walk(path+"."+k, c, exempt || k == "dosage" || k == "dosageInstruction" || k == "dispenseRequest")
			}
		case []any:
			for _, c := range x {
				walk(path+"[]", c, exempt)
			}
		case string:
			if strings.Contains(x, "FREETEXT-") && !exempt {
				bad = append(bad, path)
			}
		}
	}
	walk("", v, false)
	return bad
}

// nameMatcher matches any patient's given or family name as a whole word.
func nameMatcher(names []string) *regexp.Regexp {
	quoted := make([]string, 0, len(names))
	for _, n := range names {
		if len(n) >= 3 {
			quoted = append(quoted, regexp.QuoteMeta(n))
		}
	}
	return regexp.MustCompile(`\b(` + strings.Join(quoted, "|") + `)\b`)
}

// TestNothingLeaks drives allowed and refused requests over every test
// patient, then checks that refusals carry no demographics or counts, that
// "no such patient" and "practice outside your agreements" answer
// byte-identically, and that no response, log line or AuditEvent holds
// free text or a patient's name, and no log line an NHS number.
func TestNothingLeaks(t *testing.T) {
	g := startGateway(t, nil)
	names, allNHS := patientNames(t, g.m.Testdata)
	if len(allNHS) == 0 {
		t.Fatal("no patients in the registration lists")
	}
	nameRE := nameMatcher(names)
	unknown := unknownNHS(t)

	var bodies []*response
	keep := func(r *response) *response { bodies = append(bodies, r); return r }

	clin := g.token("leak-clin", "R8000", "RX999")
	emerg := g.token("leak-emerg", "R8000", "RX999")
	for _, nhs := range allNHS {
		keep(g.recordConsent(clin, nhs, consentGiven))
		keep(g.searchPatient(clin, nhs))
		keep(g.do(http.MethodGet, "/fhir/Patient/"+g.ids.Patient(nhs)+"/$everything?_count=500", clin, nil))
		keep(g.recordConsent(emerg, nhs, consentEmergency))
		keep(g.view(emerg, nhs, "summary"))
	}
	for _, nhs := range []string{emisConsent, "9990002010", tppConsent2} {
		for _, v := range record.AllViews() {
			keep(g.view(clin, nhs, string(v)))
		}
		for _, typ := range []string{"Condition", "MedicationRequest", "MedicationStatement", "Observation", "Encounter"} {
			keep(g.do(http.MethodGet, "/fhir/"+typ+"?patient="+g.ids.Patient(nhs), clin, nil))
		}
	}
	allowed := 0
	for _, r := range bodies {
		if r.Status == 200 {
			allowed++
		}
	}
	if allowed < 10 {
		t.Fatalf("only %d allowed reads: the leak checks would prove little", allowed)
	}

	// Refusal shapes: "no such patient" and "practice outside your
	// agreements" must be indistinguishable.
	admin := g.adminToken()
	nx := g.token("leak-nx", "R8000", "NX999")
	if r := g.recordConsent(nx, emisConsent, consentGiven); r.Status != 201 {
		t.Fatalf("NX999 consent: HTTP %d %s", r.Status, truncate(r.Body))
	}
	a := consent.Agreement{ID: "nx-tpp-only", Providers: []string{"A99903"}, Recipients: []string{"NX999"},
		Views: record.AllViews(), ValidFrom: time.Now().Add(-time.Hour).UTC(), Status: consent.AgreementActive}
	if r := g.do(http.MethodPost, "/admin/agreements", admin, a); r.Status != 201 {
		t.Fatalf("add agreement: HTTP %d %s", r.Status, truncate(r.Body))
	}
	if r := g.do(http.MethodPost, "/admin/agreements/"+consent.DemoAgreementID+"/$suspend", admin, nil); r.Status != 200 {
		t.Fatalf("suspend: HTTP %d %s", r.Status, truncate(r.Body))
	}
	outside := keep(g.searchPatient(nx, emisConsent)) // registered at A99902, outside NX999's agreements now
	missing := keep(g.searchPatient(nx, unknown))
	if outside.Status != 404 || missing.Status != 404 {
		t.Fatalf("outside agreements HTTP %d, no such patient HTTP %d; want 404 both", outside.Status, missing.Status)
	}
	if !bytes.Equal(outside.Body, missing.Body) {
		t.Errorf("bodies differ:\noutside agreements: %s\nno such patient:    %s", outside.Body, missing.Body)
	}
	for _, h := range []string{"Content-Type", "Content-Length", "WWW-Authenticate", "Location", "X-MIG-Emergency-Access"} {
		if outside.Header.Get(h) != missing.Header.Get(h) {
			t.Errorf("header %s differs: %q vs %q", h, outside.Header.Get(h), missing.Header.Get(h))
		}
	}
	// The same through $mig-view and a clinical search.
	ov, mv := keep(g.view(nx, emisConsent, "summary")), keep(g.view(nx, unknown, "summary"))
	if ov.Status != mv.Status || !bytes.Equal(ov.Body, mv.Body) {
		t.Errorf("$mig-view: outside agreements HTTP %d %s, no such patient HTTP %d %s", ov.Status, ov.Body, mv.Status, mv.Body)
	}
	oc := keep(g.do(http.MethodGet, "/fhir/Condition?patient="+g.ids.Patient(emisConsent), nx, nil))
	mc := keep(g.do(http.MethodGet, "/fhir/Condition?patient="+g.ids.Patient(unknown), nx, nil))
	if oc.Status != mc.Status || !bytes.Equal(oc.Body, mc.Body) {
		t.Errorf("Condition search: outside agreements HTTP %d %s, no such patient HTTP %d %s", oc.Status, oc.Body, mc.Status, mc.Body)
	}

	dosageText := 0
	for _, r := range bodies {
		if r.Status == 200 && bytes.Contains(r.Body, []byte("FREETEXT-")) {
			dosageText++
		}
		if bad := freeTextOutsideDosage(r.Body); len(bad) > 0 {
			t.Errorf("response (HTTP %d) holds free text at %v", r.Status, bad)
		}
		if r.Status < 400 {
			continue
		}
		if m := nameRE.FindString(string(r.Body)); m != "" {
			t.Errorf("refusal (HTTP %d) holds a patient name %q: %s", r.Status, m, r.Body)
		}
		if m := nhsPattern.FindString(string(r.Body)); m != "" {
			t.Errorf("refusal (HTTP %d) holds an NHS number: %s", r.Status, r.Body)
		}
		var oo map[string]any
		if err := json.Unmarshal(r.Body, &oo); err != nil || oo["resourceType"] != "OperationOutcome" {
			t.Errorf("refusal (HTTP %d) is not an OperationOutcome: %s", r.Status, truncate(r.Body))
			continue
		}
		if len(oo) != 2 || len(oo["issue"].([]any)) != 1 {
			t.Errorf("refusal (HTTP %d) carries more than one issue: %s", r.Status, r.Body)
		}
		if regexp.MustCompile(`\d+ (entries|resources|items|records)`).Match(r.Body) {
			t.Errorf("refusal (HTTP %d) carries a count: %s", r.Status, r.Body)
		}
	}

	if dosageText == 0 {
		t.Errorf("no answer carried the dosage text of 9990002010 or 9990003017 (the named exception): the free-text scan saw no mapped medication text")
	}

	// Log lines: JSON, no NHS number, no name, no free text.
	logs := g.log.String()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	if len(lines) < len(bodies) {
		t.Errorf("%d log lines for %d requests: a request went unlogged", len(lines), len(bodies))
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("log line is not JSON: %.200s", l)
		}
		if m := nhsPattern.FindString(l); m != "" {
			t.Errorf("log line holds an NHS number: %.300s", l)
		}
		if m := nameRE.FindString(l); m != "" {
			t.Errorf("log line holds a patient name %q: %.300s", m, l)
		}
		if strings.Contains(l, "FREETEXT-") {
			t.Errorf("log line holds free text: %.300s", l)
		}
	}

	// AuditEvents: no free text and no patient names.
	evs := g.eventsSince(0)
	if len(evs) < len(bodies) {
		t.Errorf("%d AuditEvents for %d requests", len(evs), len(bodies))
	}
	for _, e := range evs {
		if bytes.Contains(e.Body, []byte("FREETEXT-")) {
			t.Errorf("AuditEvent %s holds free text", e.ID)
		}
		if m := nameRE.Find(e.Body); m != nil {
			t.Errorf("AuditEvent %s holds a patient name %q", e.ID, m)
		}
	}
}
