package app

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"mig/adapters/record"
	"mig/consent"
)

// These tests attack the running gateway's access control, audit and input
// handling as an outsider, a curious clinician and an information-governance
// auditor would. Every attack must be refused (or held) and audited exactly
// once, and nothing it sends may reach the log unvetted.

// nextPage returns the _page cursor of a Bundle's next link.
func nextPage(t *testing.T, r *response) string {
	t.Helper()
	b := parseBundle(t, r)
	next := b.link("next")
	if next == "" {
		t.Fatalf("no next link: %s", truncate(r.Body))
	}
	u, err := url.Parse(next)
	if err != nil {
		t.Fatal(err)
	}
	if c := u.Query().Get("_page"); c != "" {
		return c
	}
	t.Fatalf("next link has no _page: %s", next)
	return ""
}

// callRule is call (one AuditEvent with the right outcome) that also checks
// the AuditEvent names the refusing rule.
func (g *gateway) callRule(t *testing.T, w want, rule string, fn func() *response) *response {
	t.Helper()
	seq := g.auditSeq()
	r := g.call(t, w, fn)
	if r.Status < 400 {
		return r
	}
	if evs := g.eventsSince(seq); len(evs) != 1 || !strings.HasPrefix(evs[0].OutcomeDesc, rule+" ") {
		t.Fatalf("AuditEvent outcomeDesc %q, want the rule %q", evs[0].OutcomeDesc, rule)
	}
	return r
}

// TestAttackCursors: a paging cursor is bound to its search (path, type,
// patient, parameters) and its user: reused anywhere else it is 400, and a
// cursor never outlives the access that issued it.
func TestAttackCursors(t *testing.T) {
	g := startGateway(t, nil)
	alice := g.token("cur-alice", "R8000", "RX999")
	bob := g.token("cur-bob", "R8000", "RX999")
	for _, tok := range []string{alice, bob} {
		for _, nhs := range []string{gp2gpConsent, tppConsent} {
			g.call(t, want{status: 201}, func() *response { return g.recordConsent(tok, nhs, consentGiven) })
		}
	}
	pa, pb := g.ids.Patient(gp2gpConsent), g.ids.Patient(tppConsent)
	first := g.call(t, want{status: 200}, func() *response {
		return g.do(http.MethodGet, "/fhir/Condition?patient="+pa+"&_count=1", alice, nil)
	})
	cur := nextPage(t, first)
	// Control: the cursor works where it was issued.
	g.call(t, want{status: 200}, func() *response {
		return g.do(http.MethodGet, "/fhir/Condition?patient="+pa+"&_count=1&_page="+cur, alice, nil)
	})
	everything := g.call(t, want{status: 200}, func() *response {
		return g.do(http.MethodGet, "/fhir/Patient/"+pa+"/$everything?_count=1", alice, nil)
	})
	evCur := nextPage(t, everything)
	g.call(t, want{status: 200}, func() *response {
		return g.do(http.MethodGet, "/fhir/Patient/"+pa+"/$everything?_count=1&_page="+evCur, alice, nil)
	})

	bad := want{400, "INVALID_PARAMETER"}
	cases := []struct {
		name string
		fn   func() *response
	}{
		{"another type, same patient", func() *response {
			return g.do(http.MethodGet, "/fhir/Observation?patient="+pa+"&_count=1&_page="+cur, alice, nil)
		}},
		{"another patient's $everything", func() *response {
			return g.do(http.MethodGet, "/fhir/Patient/"+pb+"/$everything?_count=1&_page="+evCur, alice, nil)
		}},
		{"$everything cursor on $mig-view", func() *response {
			return g.do(http.MethodGet, "/fhir/Patient/"+pa+"/$mig-view?view=problems&_count=1&_page="+evCur, alice, nil)
		}},
		{"another user", func() *response {
			return g.do(http.MethodGet, "/fhir/Condition?patient="+pa+"&_count=1&_page="+cur, bob, nil)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { g.callRule(t, bad, "request", c.fn) })
	}
	t.Run("after the patient refused", func(t *testing.T) {
		g.call(t, want{status: 201}, func() *response { return g.recordConsent(alice, gp2gpConsent, consentRefused) })
		g.callRule(t, want{403, "NO_VIEW_CONSENT"}, "view-consent", func() *response {
			return g.do(http.MethodGet, "/fhir/Condition?patient="+pa+"&_count=1&_page="+cur, alice, nil)
		})
		g.call(t, want{403, "NO_VIEW_CONSENT"}, func() *response {
			return g.do(http.MethodGet, "/fhir/Patient/"+pa+"/$everything?_count=1&_page="+evCur, alice, nil)
		})
	})
	assertCleanLog(t, g)
}

// TestAttackIDConfusion: ids of one type or patient used as another.
func TestAttackIDConfusion(t *testing.T) {
	g := startGateway(t, nil)
	clin := g.token("idc-clin", "R8000", "RX999")
	g.call(t, want{status: 201}, func() *response { return g.recordConsent(clin, gp2gpConsent, consentGiven) })
	created := g.call(t, want{status: 201}, func() *response { return g.recordConsent(clin, tppConsent, consentGiven) })
	consentID := created.Header.Get("Location")[strings.LastIndex(created.Header.Get("Location"), "/")+1:]
	conds := parseBundle(t, g.call(t, want{status: 200}, func() *response {
		return g.do(http.MethodGet, "/fhir/Condition?patient="+g.ids.Patient(gp2gpConsent), clin, nil)
	})).matches(t)
	if len(conds) == 0 {
		t.Fatal("no Condition to confuse")
	}
	condID := conds[0].ID
	audits := parseBundle(t, g.call(t, want{status: 200}, func() *response {
		return g.do(http.MethodGet, "/fhir/AuditEvent?_count=1", g.auditorToken(), nil)
	})).matches(t)
	if len(audits) == 0 {
		t.Fatal("no AuditEvent")
	}
	auditID := audits[0].ID
	notFound := want{404, ""}
	cases := []struct {
		name string
		path string
		want want
	}{
		{"Condition id read as Observation", "/fhir/Observation/" + condID, notFound},
		{"Consent id read as Patient", "/fhir/Patient/" + consentID, notFound},
		{"Consent id as a search's patient", "/fhir/Condition?patient=" + consentID, want{404, "PATIENT_NOT_FOUND"}},
		{"Condition id as $everything's patient", "/fhir/Patient/" + condID + "/$everything", want{404, "PATIENT_NOT_FOUND"}},
		{"Contract id read as Patient", "/fhir/Patient/" + consent.DemoAgreementID, notFound},
		{"AuditEvent read by a clinician", "/fhir/AuditEvent/" + auditID, want{403, "ACCESS_DENIED"}},
		{"AuditEvent id read as Condition", "/fhir/Condition/" + auditID, notFound},
		{"path traversal in an id", "/fhir/Patient/..%2F..%2Fadmin%2Fagreements", notFound},
		{"dot-dot id", "/fhir/Condition/..", notFound},
		{"very long id", "/fhir/Condition/" + strings.Repeat("A", 6000), notFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := g.call(t, c.want, func() *response { return g.do(http.MethodGet, c.path, clin, nil) })
			if strings.Contains(string(r.Body), gp2gpConsent) || strings.Contains(string(r.Body), tppConsent) {
				t.Errorf("refusal names an NHS number: %s", truncate(r.Body))
			}
		})
	}
	// Another user of the same organisation cannot read the consent.
	other := g.token("idc-other", "R8000", "RX999")
	g.call(t, want{404, ""}, func() *response { return g.do(http.MethodGet, "/fhir/Consent/"+consentID, other, nil) })
	// Nor use it: a consent is for its user and organisation only.
	g.call(t, want{403, "NO_VIEW_CONSENT"}, func() *response { return g.searchPatient(other, tppConsent) })
	// The same user id from the other recipient organisation.
	g.call(t, want{403, "NO_VIEW_CONSENT"}, func() *response {
		return g.searchPatient(g.token("idc-clin", "R8000", "NX999"), tppConsent)
	})
	// The same user and organisation with a non-clinical role.
	g.call(t, want{403, "ACCESS_DENIED"}, func() *response {
		return g.searchPatient(g.token("idc-clin", "R8009", "RX999"), tppConsent)
	})
	assertCleanLog(t, g)
}

// TestAttackRoles: admins, auditors and clinicians stay in their lanes.
func TestAttackRoles(t *testing.T) {
	g := startGateway(t, nil)
	// The administrator holding a clinical role in a recipient organisation.
	adminClin := g.token("admin", "R8000", "RX999")
	t.Run("admin records consent", func(t *testing.T) {
		g.callRule(t, want{403, "ACCESS_DENIED"}, "role", func() *response { return g.recordConsent(adminClin, tppConsent, consentGiven) })
	})
	t.Run("admin reads a record", func(t *testing.T) {
		g.callRule(t, want{403, "ACCESS_DENIED"}, "role", func() *response { return g.searchPatient(adminClin, tppConsent) })
		g.call(t, want{403, "ACCESS_DENIED"}, func() *response { return g.view(adminClin, tppConsent, "summary") })
	})
	t.Run("admin still administers", func(t *testing.T) {
		g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, "/admin/agreements", adminClin, nil) })
	})
	clin := g.token("role-clin", "R8000", "RX999")
	t.Run("clinician reads audit", func(t *testing.T) {
		g.call(t, want{403, "ACCESS_DENIED"}, func() *response { return g.do(http.MethodGet, "/fhir/AuditEvent", clin, nil) })
		g.call(t, want{403, "ACCESS_DENIED"}, func() *response { return g.do(http.MethodGet, "/fhir/AuditEvent/$export", clin, nil) })
	})
	t.Run("clinician calls admin", func(t *testing.T) {
		g.call(t, want{403, "ACCESS_DENIED"}, func() *response { return g.do(http.MethodGet, "/admin/agreements", clin, nil) })
		g.call(t, want{403, "ACCESS_DENIED"}, func() *response {
			return g.do(http.MethodPost, "/admin/agreements", clin, consent.DemoAgreement(time.Now()))
		})
	})
	t.Run("auditor reads clinical data", func(t *testing.T) {
		g.call(t, want{403, "ACCESS_DENIED"}, func() *response { return g.searchPatient(g.auditorToken(), tppConsent) })
		g.call(t, want{403, "ACCESS_DENIED"}, func() *response {
			return g.recordConsent(g.token("aud-rx", "R0001", "RX999"), tppConsent, consentGiven)
		})
	})
	admin := g.adminToken()
	t.Run("admin bad JSON", func(t *testing.T) {
		g.call(t, want{400, "INVALID_PARAMETER"}, func() *response {
			return g.do(http.MethodPost, "/admin/agreements", admin, []byte(`{"id":"x",`))
		})
		g.call(t, want{400, "INVALID_PARAMETER"}, func() *response {
			return g.do(http.MethodPost, "/admin/agreements", admin, []byte(`{"id":"x","extra":1}`))
		})
	})
	for name, a := range map[string]consent.Agreement{
		"ODS code with a space":   {ID: "bad1", Providers: []string{"A99901"}, Recipients: []string{"RX 99"}},
		"provider not a practice": {ID: "bad2", Providers: []string{"RX999"}, Recipients: []string{"NX999"}},
		"lower-case ODS":          {ID: "bad3", Providers: []string{"a99901"}, Recipients: []string{"NX999"}},
		"ODS with a newline":      {ID: "bad4", Providers: []string{"A99901"}, Recipients: []string{"NX99\n9"}},
		"emergency not recipient": {ID: "bad5", Providers: []string{"A99901"}, Recipients: []string{"NX999"}, EmergencyAccess: []string{"RX999"}},
		"id with a slash":         {ID: "../x", Providers: []string{"A99901"}, Recipients: []string{"NX999"}},
	} {
		t.Run("admin agreement: "+name, func(t *testing.T) {
			a.Views, a.ValidFrom, a.Status = []record.View{record.ViewSummary}, time.Now().UTC(), consent.AgreementActive
			g.call(t, want{400, "INVALID_RESOURCE"}, func() *response { return g.do(http.MethodPost, "/admin/agreements", admin, a) })
		})
	}
	assertCleanLog(t, g)
}

// TestAttackAgreements: partial agreements, agreements not yet or no longer
// in force, and emergency access under several agreements.
func TestAttackAgreements(t *testing.T) {
	g := startGateway(t, nil)
	admin := g.adminToken()
	now := time.Now().UTC()
	add := func(a consent.Agreement) {
		t.Helper()
		g.call(t, want{status: 201}, func() *response { return g.do(http.MethodPost, "/admin/agreements", admin, a) })
	}
	// A future and an expired agreement for a new organisation NY999.
	add(consent.Agreement{ID: "ny-future", Providers: []string{"A99903"}, Recipients: []string{"NY999"},
		Views: record.AllViews(), ValidFrom: now.Add(24 * time.Hour), Status: consent.AgreementActive})
	add(consent.Agreement{ID: "ny-expired", Providers: []string{"A99903"}, Recipients: []string{"NY999"},
		Views: record.AllViews(), ValidFrom: now.Add(-48 * time.Hour), ValidTo: now.Add(-24 * time.Hour), Status: consent.AgreementActive})
	ny := g.token("ny-clin", "R8000", "NY999")
	t.Run("not in force: no access", func(t *testing.T) {
		g.callRule(t, want{403, "NO_ORGANISATION_CONSENT"}, "recipient", func() *response { return g.recordConsent(ny, tppConsent, consentGiven) })
		g.call(t, want{403, "NO_ORGANISATION_CONSENT"}, func() *response { return g.searchPatient(ny, tppConsent) })
	})
	t.Run("not in force: not a Contract", func(t *testing.T) {
		r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, "/fhir/Contract", ny, nil) })
		for _, id := range []string{"ny-future", "ny-expired"} {
			if strings.Contains(string(r.Body), id) {
				t.Errorf("Contract search lists %s, an agreement not in force", id)
			}
		}
		g.call(t, want{404, ""}, func() *response { return g.do(http.MethodGet, "/fhir/Contract/ny-future", ny, nil) })
	})

	// NY999 gets a medication-only agreement for the TPP practice.
	add(consent.Agreement{ID: "ny-medication", Providers: []string{"A99903"}, Recipients: []string{"NY999"},
		Views: []record.View{record.ViewMedication}, ValidFrom: now.Add(-time.Hour), Status: consent.AgreementActive})
	unknown := unknownNHS(t)
	t.Run("consent for a patient outside the agreements is not found", func(t *testing.T) {
		outside := g.callRule(t, want{404, "PATIENT_NOT_FOUND"}, "patient-resolution", func() *response { return g.recordConsent(ny, gp2gpConsent, consentGiven) })
		none := g.call(t, want{404, "PATIENT_NOT_FOUND"}, func() *response { return g.recordConsent(ny, unknown, consentGiven) })
		if string(outside.Body) != string(none.Body) {
			t.Errorf("outside-agreement and unknown answers differ:\n%s\n%s", outside.Body, none.Body)
		}
	})
	g.call(t, want{status: 201}, func() *response { return g.recordConsent(ny, tppConsent, consentGiven) })
	pid := g.ids.Patient(tppConsent)
	t.Run("view outside the agreement", func(t *testing.T) {
		for _, v := range []string{"problems", "summary", "investigations", "risks"} {
			g.callRule(t, want{403, "NO_ORGANISATION_CONSENT"}, "agreement", func() *response { return g.view(ny, tppConsent, v) })
		}
	})
	t.Run("type searches outside the agreement release nothing", func(t *testing.T) {
		for _, typ := range []string{"Condition", "Observation", "AllergyIntolerance", "Encounter", "Flag", "Procedure", "Immunization", "ServiceRequest"} {
			r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, "/fhir/"+typ+"?patient="+pid, ny, nil) })
			if n := len(parseBundle(t, r).matches(t)); n != 0 {
				t.Errorf("%s search under a medication-only agreement released %d resources", typ, n)
			}
		}
	})
	t.Run("$everything pages release only medication", func(t *testing.T) {
		path := "/fhir/Patient/" + pid + "/$everything?_count=2"
		for page := 0; path != "" && page < 50; page++ {
			r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, path, ny, nil) })
			b := parseBundle(t, r)
			for _, m := range b.matches(t) {
				switch m.ResourceType {
				case "Patient", "MedicationStatement", "MedicationRequest":
				default:
					t.Errorf("page %d released a %s", page, m.ResourceType)
				}
			}
			if !strings.Contains(string(r.Body), `"suppressed"`) {
				t.Errorf("page %d has no withheld warning", page)
			}
			if strings.Contains(string(r.Body), `"suppressed"`) && regexp.MustCompile(`withheld[^"]*\d`).Match(r.Body) {
				t.Errorf("withheld warning counts: %s", truncate(r.Body))
			}
			path = ""
			if next := b.link("next"); next != "" {
				path = strings.TrimPrefix(next, g.m.URL)
			}
		}
	})
	t.Run("suspended agreement is not used by cached state", func(t *testing.T) {
		g.call(t, want{status: 200}, func() *response { return g.view(ny, tppConsent, "medication") })
		g.call(t, want{status: 200}, func() *response {
			return g.do(http.MethodPost, "/admin/agreements/ny-medication/$suspend", admin, nil)
		})
		g.call(t, want{403, "NO_ORGANISATION_CONSENT"}, func() *response { return g.view(ny, tppConsent, "medication") })
		g.call(t, want{403, "NO_ORGANISATION_CONSENT"}, func() *response { return g.searchPatient(ny, tppConsent) })
	})

	// Emergency access when the organisation is in two agreements for the
	// practice, only one of which permits emergency access: recording it
	// must follow the same rule reading does (any covering agreement).
	add(consent.Agreement{ID: "a-rx-no-emergency", Providers: []string{"A99903"}, Recipients: []string{"RX999"},
		Views: record.AllViews(), ValidFrom: now.Add(-time.Hour), Status: consent.AgreementActive})
	rx := g.token("rx-emerg", "R8000", "RX999")
	t.Run("emergency under two agreements", func(t *testing.T) {
		g.call(t, want{status: 201}, func() *response { return g.recordConsent(rx, tppConsent2, consentEmergency) })
		r := g.call(t, want{status: 200}, func() *response { return g.view(rx, tppConsent2, "summary") })
		if r.Header.Get("X-MIG-Emergency-Access") != "BTG" {
			t.Error("emergency read not marked BTG")
		}
	})
	t.Run("emergency from NX999 and for a dissenting patient", func(t *testing.T) {
		g.callRule(t, want{403, "ACCESS_DENIED"}, "emergency", func() *response {
			return g.recordConsent(g.token("nx-emerg", "R8000", "NX999"), tppConsent2, consentEmergency)
		})
		g.callRule(t, want{403, "NO_PATIENT_CONSENT"}, "share-consent", func() *response { return g.recordConsent(rx, tppDissent, consentEmergency) })
	})
	assertCleanLog(t, g)
}

// TestAttackInput: malformed parameters, formats, methods and bodies.
func TestAttackInput(t *testing.T) {
	g := startGateway(t, nil)
	clin := g.token("in-clin", "R8000", "RX999")
	g.call(t, want{status: 201}, func() *response { return g.recordConsent(clin, tppConsent, consentGiven) })
	g.call(t, want{status: 201}, func() *response { return g.recordConsent(clin, gp2gpConsent, consentGiven) })
	pid := g.ids.Patient(tppConsent)
	ident := func(v string) string {
		return "/fhir/Patient?identifier=" + url.QueryEscape("https://fhir.nhs.uk/Id/nhs-number|"+v)
	}
	badNHS := want{400, "INVALID_NHS_NUMBER"}
	badParam := want{400, "INVALID_PARAMETER"}
	cases := []struct {
		name   string
		method string
		path   string
		body   any
		hdr    []string
		want   want
	}{
		{"NHS number with spaces", "GET", ident("999 000 3009"), nil, nil, badNHS},
		{"NHS number with a plus", "GET", ident("+9990003009"), nil, nil, badNHS},
		{"NHS number in Arabic-Indic digits", "GET", ident("٩٩٩٠٠٠٣٠٠٩"), nil, nil, badNHS},
		{"NHS number in full-width digits", "GET", ident("９９９０００３００９"), nil, nil, badNHS},
		{"identifier of another system", "GET", "/fhir/Patient?identifier=" + url.QueryEscape("https://example.org/mrn|"+tppConsent), nil, nil, badParam},
		{"identifier without system", "GET", "/fhir/Patient?identifier=" + tppConsent, nil, nil, badParam},
		{"two identifiers", "GET", ident(tppConsent) + "&identifier=" + url.QueryEscape("https://fhir.nhs.uk/Id/nhs-number|"+gp2gpConsent), nil, nil, badParam},
		{"two patients", "GET", "/fhir/Condition?patient=" + pid + "&patient=" + g.ids.Patient(gp2gpConsent), nil, nil, badParam},
		{"two _counts", "GET", "/fhir/Condition?patient=" + pid + "&_count=1&_count=500", nil, nil, badParam},
		{"two views", "GET", "/fhir/Patient/" + pid + "/$mig-view?view=summary&view=problems", nil, nil, badParam},
		{"_count=0", "GET", "/fhir/Condition?patient=" + pid + "&_count=0", nil, nil, badParam},
		{"_count=-1", "GET", "/fhir/Condition?patient=" + pid + "&_count=-1", nil, nil, badParam},
		{"_count huge", "GET", "/fhir/Condition?patient=" + pid + "&_count=99999999999999999999", nil, nil, badParam},
		{"unknown parameter", "GET", "/fhir/Condition?patient=" + pid + "&_id=x", nil, nil, badParam},
		{"view on $everything", "GET", "/fhir/Patient/" + pid + "/$everything?view=problems", nil, nil, badParam},
		{"birthdate garbage", "GET", ident(tppConsent) + "&birthdate=yesterday", nil, nil, badParam},
		{"_format=xml", "GET", "/fhir/Condition?patient=" + pid + "&_format=xml", nil, nil, want{406, "NOT_IMPLEMENTED"}},
		{"_format=application/fhir+xml", "GET", "/fhir/Condition?patient=" + pid + "&_format=" + url.QueryEscape("application/fhir+xml"), nil, nil, want{406, "NOT_IMPLEMENTED"}},
		{"_format=turtle", "GET", "/fhir/Condition?patient=" + pid + "&_format=ttl", nil, nil, want{406, "NOT_IMPLEMENTED"}},
		{"Accept XML only", "GET", "/fhir/Condition?patient=" + pid, nil, []string{"Accept", "application/fhir+xml"}, want{406, "NOT_IMPLEMENTED"}},
		{"Accept JSON with q=0", "GET", "/fhir/Condition?patient=" + pid, nil, []string{"Accept", "application/fhir+xml, application/json;q=0"}, want{406, "NOT_IMPLEMENTED"}},
		{"Consent as text/plain", "POST", "/fhir/Consent", nil, []string{"Content-Type", "text/plain"}, want{415, "BAD_REQUEST"}},
		{"valid Consent as text/plain", "POST", "/fhir/Consent", consentBody(gp2gpConsent, consentRefused), []string{"Content-Type", "text/plain"}, want{415, "BAD_REQUEST"}},
		{"Consent as a form", "POST", "/fhir/Consent", url.Values{"resourceType": {"Consent"}}, nil, want{415, "BAD_REQUEST"}},
		{"oversized Consent", "POST", "/fhir/Consent", []byte(`{"resourceType":"Consent","x":"` + strings.Repeat("A", 70<<10) + `"}`), nil, want{413, "BAD_REQUEST"}},
		{"Consent for another identifier system", "POST", "/fhir/Consent", []byte(strings.Replace(string(consentBody(tppConsent, consentGiven)),
			"https://fhir.nhs.uk/Id/nhs-number", "https://example.org/mrn", 1)), nil, want{400, "INVALID_RESOURCE"}},
		{"PUT a Condition", "PUT", "/fhir/Condition/x", []byte(`{}`), nil, want{405, "NOT_IMPLEMENTED"}},
		{"DELETE a Consent", "DELETE", "/fhir/Consent/x", nil, nil, want{405, "NOT_IMPLEMENTED"}},
		{"unknown endpoint", "GET", "/fhir/Patient/" + pid + "/a/b", nil, nil, want{404, ""}},
		{"unknown type", "GET", "/fhir/Practitioner?patient=" + pid, nil, nil, want{404, "UNKNOWN_RESOURCE"}},
		{"very long URL", "GET", "/fhir/Condition?patient=" + pid + "&code=" + strings.Repeat("A", 7000), nil, nil, want{200, ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g.callRule(t, c.want, "request", func() *response { return g.do(c.method, c.path, clin, c.body, c.hdr...) })
		})
	}
	t.Run("HEAD a record is audited", func(t *testing.T) {
		// HEAD is GET without the body (issue 16): a release all the same.
		seq := g.auditSeq()
		r := g.do(http.MethodHead, "/fhir/Patient/"+pid, clin, nil)
		if r.Status != 200 || len(r.Body) > 0 {
			t.Fatalf("HEAD: HTTP %d with %d bytes", r.Status, len(r.Body))
		}
		evs := g.eventsSince(seq)
		if len(evs) != 1 || evs[0].RequestID != r.requestID() || evs[0].UserID != "in-clin" || evs[0].Outcome != "0" { // success
			t.Fatalf("HEAD: %d AuditEvents, want 1 naming the user and the release", len(evs))
		}
	})
	t.Run("birthdate mismatch finds nothing", func(t *testing.T) {
		r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, ident(tppConsent)+"&birthdate=1951", clin, nil) })
		if n := len(parseBundle(t, r).matches(t)); n != 0 {
			t.Errorf("birthdate mismatch matched %d", n)
		}
	})
	t.Run("metadata without a token", func(t *testing.T) {
		r := g.do(http.MethodGet, "/fhir/metadata", "", nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), "CapabilityStatement") {
			t.Fatalf("metadata: HTTP %d", r.Status)
		}
	})
	t.Run("OPTIONS releases nothing", func(t *testing.T) {
		r := g.do(http.MethodOptions, "/fhir/Patient/"+pid, "", nil)
		if len(r.Body) > 0 && strings.Contains(string(r.Body), tppConsent) {
			t.Fatalf("OPTIONS answered with data")
		}
	})
	t.Run("odd method does not reach the log", func(t *testing.T) {
		g.call(t, want{404, ""}, func() *response { return g.do("FREETEXT-"+tppConsent, "/fhir/Patient/"+pid, clin, nil) })
	})
	t.Run("Consent with narrative: accepted, never kept or echoed", func(t *testing.T) {
		body := strings.Replace(string(consentBody(tppConsent, consentGiven)), `"status":"active",`,
			`"status":"active","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">FREETEXT-consent</div>"},`, 1)
		seq := g.auditSeq()
		r := g.call(t, want{status: 201}, func() *response { return g.do(http.MethodPost, "/fhir/Consent", clin, []byte(body)) })
		if strings.Contains(string(r.Body), "FREETEXT-") {
			t.Error("Consent answer echoes the narrative")
		}
		for _, e := range g.eventsSince(seq) {
			if strings.Contains(string(e.Body), "FREETEXT-") {
				t.Error("AuditEvent holds the narrative")
			}
		}
		list := g.call(t, want{status: 200}, func() *response {
			return g.do(http.MethodGet, "/fhir/Consent?patient="+pid, clin, nil)
		})
		if strings.Contains(string(list.Body), "FREETEXT-") {
			t.Error("stored Consent holds the narrative")
		}
	})
	assertCleanLog(t, g)
}

// TestAttackAuditScope: an organisation's auditor sees its own staff's
// events only, its own searches are audited, and request ids are vetted.
func TestAttackAuditScope(t *testing.T) {
	g := startGateway(t, nil)
	nx := g.token("scope-nx", "R8000", "NX999")
	g.call(t, want{status: 201}, func() *response { return g.recordConsent(nx, gp2gpConsent, consentGiven) })
	nxRead := g.call(t, want{status: 200}, func() *response { return g.searchPatient(nx, gp2gpConsent) })
	rxAud := g.token("scope-aud", "R0001", "RX999")
	var nxEventID string
	for _, e := range g.eventsSince(0) {
		if e.RequestID == nxRead.requestID() {
			var id struct {
				ID string `json:"id"`
			}
			json.Unmarshal(e.Body, &id)
			nxEventID = id.ID
		}
	}
	if nxEventID == "" {
		t.Fatal("NX999 read not audited")
	}
	t.Run("search", func(t *testing.T) {
		for _, q := range []string{"", "?patient:identifier=" + url.QueryEscape("https://fhir.nhs.uk/Id/nhs-number|"+gp2gpConsent), "?agent=scope-nx", "?_count=500"} {
			r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, "/fhir/AuditEvent"+q, rxAud, nil) })
			if strings.Contains(string(r.Body), nxRead.requestID()) || strings.Contains(string(r.Body), nxEventID) {
				t.Errorf("RX999 auditor sees NX999's event with %q", q)
			}
		}
	})
	t.Run("read by id", func(t *testing.T) {
		g.call(t, want{404, ""}, func() *response { return g.do(http.MethodGet, "/fhir/AuditEvent/"+nxEventID, rxAud, nil) })
	})
	t.Run("export", func(t *testing.T) {
		r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, "/fhir/AuditEvent/$export", rxAud, nil) })
		if strings.Contains(string(r.Body), nxRead.requestID()) {
			t.Error("RX999 auditor's export holds NX999's event")
		}
		g.call(t, want{403, "ACCESS_DENIED"}, func() *response {
			return g.do(http.MethodGet, "/fhir/AuditEvent/$export", rxAud, nil, "Prefer", "respond-async")
		})
	})
	t.Run("auditor's own search is audited", func(t *testing.T) {
		seq := g.auditSeq()
		r := g.do(http.MethodGet, "/fhir/AuditEvent?agent=scope-nx", rxAud, nil)
		evs := byRequest(g.eventsSince(seq), r.requestID())
		if len(evs) != 1 || evs[0].UserID != "scope-aud" {
			t.Fatalf("auditor's search: %d events", len(evs))
		}
	})
	ids := []string{"abc\r\nX-Injected: 1", strings.Repeat("a", 65), "ünïcödé", "FREETEXT-" + gp2gpConsent + "\u2028x", "a b", "<script>"}
	for _, id := range ids {
		for _, h := range []string{"X-Request-ID", "Ssp-TraceID"} {
			t.Run(h+" "+url.QueryEscape(id[:min(len(id), 12)]), func(t *testing.T) {
				seq := g.auditSeq()
				req, err := http.NewRequest(http.MethodGet, g.m.URL+"/fhir/Contract", nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+nx)
				req.Header[h] = []string{id}
				resp, err := g.http.Do(req)
				if err != nil {
					// The client refused to send it: nothing reached us.
					return
				}
				resp.Body.Close()
				got := resp.Header.Get("X-Request-ID")
				if got == id || !regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`).MatchString(got) {
					t.Fatalf("request id %q echoed as %q", id, got)
				}
				evs := g.eventsSince(seq)
				if len(evs) != 1 || evs[0].RequestID != got {
					t.Fatalf("%d events, want one for %q", len(evs), got)
				}
			})
		}
	}
	// The audit trail's source address is the peer's, not whatever a
	// client writes in forwarding headers (free text, or a spoofed address).
	for _, h := range []string{"X-Forwarded-For", "X-Real-IP"} {
		for _, v := range []string{"FREETEXT-" + gp2gpConsent + " Mrs Ann Example", "203.0.113.9"} {
			t.Run(h+" "+v[:4], func(t *testing.T) {
				seq := g.auditSeq()
				r := g.do(http.MethodGet, "/fhir/Contract", nx, nil, h, v)
				evs := byRequest(g.eventsSince(seq), r.requestID())
				if len(evs) != 1 {
					t.Fatalf("%d AuditEvents", len(evs))
				}
				if strings.Contains(string(evs[0].Body), v) {
					t.Errorf("AuditEvent holds the client's %s %q", h, v)
				}
				if !strings.Contains(string(evs[0].Body), `"127.0.0.1"`) {
					t.Errorf("AuditEvent does not record the peer address: %s", truncate(evs[0].Body))
				}
			})
		}
	}
	assertCleanLog(t, g)
}

// assertCleanLog checks the captured log for NHS numbers, names and free
// text, whatever the attacks sent.
func assertCleanLog(t *testing.T, g *gateway) {
	t.Helper()
	log := g.log.String()
	if strings.Contains(log, "FREETEXT-") {
		t.Error("log holds FREETEXT-")
	}
	names, nhs := patientNames(t, g.m.Testdata)
	for _, n := range append(nhs, unknownNHS(t)) {
		if strings.Contains(log, n) {
			t.Errorf("log holds NHS number %s", n)
		}
	}
	if m := nameMatcher(names).FindString(log); m != "" {
		t.Errorf("log holds a patient name %q", m)
	}
	if m := regexp.MustCompile(`/fhir/[A-Za-z]+/[0-9a-fA-F]{16}`).FindString(log); m != "" {
		t.Errorf("log holds a request path %q", m)
	}
}

// TestTrustedProxy: behind a configured reverse proxy the audit trail
// records the client address the proxy forwards, and still never a
// malformed one.
func TestTrustedProxy(t *testing.T) {
	g := startGateway(t, func(m *Main) { m.Config.TrustedProxies = []string{"127.0.0.0/8"} })
	nx := g.token("proxy-user", "R8000", "NX999")
	for _, tc := range []struct{ xff, want, never string }{
		{"203.0.113.9", `"203.0.113.9"`, ""},
		{"FREETEXT-" + gp2gpConsent + " Mrs Ann Example", `"127.0.0.1"`, "FREETEXT-"},
	} {
		seq := g.auditSeq()
		r := g.do(http.MethodGet, "/fhir/Contract", nx, nil, "X-Forwarded-For", tc.xff)
		evs := byRequest(g.eventsSince(seq), r.requestID())
		if len(evs) != 1 {
			t.Fatalf("%d AuditEvents", len(evs))
		}
		if !strings.Contains(string(evs[0].Body), tc.want) {
			t.Errorf("X-Forwarded-For %q: AuditEvent lacks %s: %s", tc.xff, tc.want, truncate(evs[0].Body))
		}
		if tc.never != "" && strings.Contains(string(evs[0].Body), tc.never) {
			t.Errorf("AuditEvent holds the forwarded text")
		}
	}
}

// TestRepeatedPatientParameters: Consent and AuditEvent searches refuse a
// second patient, as clinical searches do.
func TestRepeatedPatientParameters(t *testing.T) {
	g := startGateway(t, nil)
	clin := g.token("clin-repeat", "R8000", "RX999")
	aud := g.auditorToken()
	a, b := g.ids.Patient(tppConsent), g.ids.Patient(emisConsent)
	for _, tc := range []struct{ path, token string }{
		{"/fhir/Consent?patient=" + a + "&patient=" + b, clin},
		{"/fhir/AuditEvent?patient=" + a + "&patient=" + b, aud},
		{"/fhir/AuditEvent?_count=5&_count=6", aud},
	} {
		g.call(t, want{400, "INVALID_PARAMETER"}, func() *response { return g.do(http.MethodGet, tc.path, tc.token, nil) })
	}
	// date takes two bounds.
	g.call(t, want{status: 200}, func() *response {
		return g.do(http.MethodGet, "/fhir/AuditEvent?date=ge2026-01-01&date=le2099-01-01", aud, nil)
	})
}
