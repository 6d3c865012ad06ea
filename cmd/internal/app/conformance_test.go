package app

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"mig/audit"
)

// These tests hold the gateway to what its CapabilityStatement and README
// say it serves (issue 16, part 1), through real HTTP; each request is one
// AuditEvent (g.call).

// TestConformanceDates: date parameters take FHIR date-times with their
// zone and every served prefix, on clinical searches and on AuditEvent.
func TestConformanceDates(t *testing.T) {
	g := startGateway(t, nil)
	clin := g.token("clin-dates", "R8000", "RX999")
	if r := g.recordConsent(clin, tppConsent, consentGiven); r.Status != 201 {
		t.Fatalf("consent: HTTP %d %s", r.Status, truncate(r.Body))
	}
	pid := g.ids.Patient(tppConsent)
	// The story's fracture: onset 2015-02-10, recorded to the day.
	for _, tc := range []struct {
		date  string
		found int
	}{
		{"2015-02-10", 1},
		{"eq2015-02-10", 1},
		{"eq2015-02", 1},
		{"eq2015-02-10T00:00:00Z", 0}, // a day is not inside one second
		{"ne2015-02-10", 0},
		{"ne2016", 1},
		{"ge2015-02-10T00:00:00Z", 1},
		{"ge2015-02-10T01:00:00+01:00", 1},
		{"ge2015-02-11T00:00Z", 0},
		{"gt2015-02-09T23:59:59.5Z", 1},
		{"lt2015-02-10T12:00:00-05:00", 1},
		{"le2015-02-09", 0},
		{"sa2015-02-09T23:59:59Z", 1},
		{"sa2015-02-10", 0},
		{"eb2015-02-11", 1},
		{"eb2015-02-10T00:00:00+01:00", 0},
	} {
		t.Run(tc.date, func(t *testing.T) {
			q := url.Values{"patient": {pid}, "code": {"263199001"}, "onset-date": {tc.date}}
			r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, "/fhir/Condition?"+q.Encode(), clin, nil) })
			if n := len(parseBundle(t, r).matches(t)); n != tc.found {
				t.Errorf("onset-date=%s: %d Conditions, want %d", tc.date, n, tc.found)
			}
		})
	}
	// An unencoded "+" arrives as a space: read as the offset it was.
	r := g.call(t, want{status: 200}, func() *response {
		return g.do(http.MethodGet, "/fhir/Condition?patient="+pid+"&code=263199001&onset-date=ge2015-02-10T01:00:00+01:00", clin, nil)
	})
	if n := len(parseBundle(t, r).matches(t)); n != 1 {
		t.Errorf("unencoded +01:00: %d Conditions, want 1", n)
	}

	aud := g.auditorToken()
	read := g.searchPatient(clin, tppConsent)
	now := time.Now().UTC()
	london := time.FixedZone("", 3600)
	for _, tc := range []struct {
		name  string
		dates []string
		found bool
	}{
		{"bare day", []string{now.Format("2006-01-02")}, true},
		{"eq day", []string{"eq" + now.Format("2006-01-02")}, true},
		{"eq year", []string{"eq" + now.Format("2006")}, true},
		{"ge date-time Z", []string{"ge" + now.Add(-time.Hour).Format(time.RFC3339)}, true},
		{"ge date-time offset", []string{"ge" + now.Add(-time.Hour).In(london).Format(time.RFC3339)}, true},
		{"sa an hour ago", []string{"sa" + now.Add(-time.Hour).Format(time.RFC3339)}, true},
		{"sa in an hour", []string{"sa" + now.Add(time.Hour).Format(time.RFC3339)}, false},
		{"eb in an hour", []string{"eb" + now.Add(time.Hour).Format(time.RFC3339)}, true},
		{"eb an hour ago", []string{"eb" + now.Add(-time.Hour).Format(time.RFC3339)}, false},
		{"a window", []string{"ge" + now.Add(-time.Hour).Format(time.RFC3339), "lt" + now.Add(time.Hour).Format(time.RFC3339)}, true},
		{"an empty window", []string{"ge" + now.Add(-time.Hour).Format(time.RFC3339), "lt" + now.Add(-time.Minute*30).Format(time.RFC3339)}, false},
	} {
		t.Run("AuditEvent "+tc.name, func(t *testing.T) {
			q := url.Values{"date": tc.dates, "_count": {"500"}}
			r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, "/fhir/AuditEvent?"+q.Encode(), aud, nil) })
			found := auditRequestIDs(t, parseBundle(t, r))[read.requestID()]
			if found != tc.found {
				t.Errorf("date=%v: the read found %v, want %v", tc.dates, found, tc.found)
			}
		})
	}
	for _, tc := range []struct{ path, tok string }{
		{"/fhir/AuditEvent?date=ne2026", aud},
		{"/fhir/AuditEvent?date=ap2026", aud},
		{"/fhir/AuditEvent?date=2026-04-02T10:00:00", aud}, // no zone
		{"/fhir/Condition?patient=" + pid + "&onset-date=2015-02-10T10:00", clin},
		{"/fhir/Condition?patient=" + pid + "&onset-date=2015-02-10T10:00:00%2B0100", clin},
		{"/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|" + tppConsent + "&birthdate=1950-03-14T00:00", clin},
	} {
		t.Run("refused "+tc.path, func(t *testing.T) {
			g.call(t, want{400, "INVALID_PARAMETER"}, func() *response { return g.do(http.MethodGet, tc.path, tc.tok, nil) })
		})
	}
}

// TestConformanceDeclared: the parameters the CapabilityStatement declares
// do what it says: AuditEvent agent takes its reference and identifier
// forms, _count pages Consent and Contract, and modifiers are documented on
// their parameter, never declared as parameters.
func TestConformanceDeclared(t *testing.T) {
	g := startGateway(t, nil)
	clin := g.token("clin-agent", "R8000", "RX999")
	for i := 0; i < 3; i++ {
		if r := g.recordConsent(clin, tppConsent, consentGiven); r.Status != 201 {
			t.Fatalf("consent: HTTP %d %s", r.Status, truncate(r.Body))
		}
	}
	read := g.searchPatient(clin, tppConsent)
	aud := g.auditorToken()
	sds := "https://fhir.nhs.uk/Id/sds-user-id"
	for _, tc := range []struct {
		name  string
		q     url.Values
		found bool
	}{
		{"reference", url.Values{"agent": {"Practitioner/clin-agent"}}, true},
		{"absolute reference", url.Values{"agent": {g.m.URL + "/fhir/Practitioner/clin-agent"}}, true},
		{"bare id", url.Values{"agent": {"clin-agent"}}, true},
		{"other user", url.Values{"agent": {"Practitioner/someone-else"}}, false},
		{"identifier", url.Values{"agent:identifier": {sds + "|clin-agent"}}, true},
		{"identifier without system", url.Values{"agent:identifier": {"clin-agent"}}, true},
	} {
		t.Run("agent "+tc.name, func(t *testing.T) {
			tc.q.Set("_count", "500")
			r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, "/fhir/AuditEvent?"+tc.q.Encode(), aud, nil) })
			ids := auditRequestIDs(t, parseBundle(t, r))
			if ids[read.requestID()] != tc.found {
				t.Errorf("%v: the read found %v, want %v (%d events)", tc.q, ids[read.requestID()], tc.found, len(ids))
			}
			if tc.found && len(ids) != 4 { // three consents and the read
				t.Errorf("%v: %d events, want 4", tc.q, len(ids))
			}
		})
	}
	for _, q := range []string{"agent=Organization/RX999", "agent=" + url.QueryEscape(sds+"|clin-agent"), "agent=",
		"agent:identifier=" + url.QueryEscape("https://example.org/other|clin-agent"), "agent:identifier=",
		"agent=clin-agent&agent:identifier=clin-agent", "agent=Practitioner/"} {
		t.Run("refused "+q, func(t *testing.T) {
			g.call(t, want{400, "INVALID_PARAMETER"}, func() *response { return g.do(http.MethodGet, "/fhir/AuditEvent?"+q, aud, nil) })
		})
	}

	// _count pages Consent (three recorded) and Contract.
	pid := g.ids.Patient(tppConsent)
	r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, "/fhir/Consent?patient="+pid+"&_count=2", clin, nil) })
	b := parseBundle(t, r)
	if b.Total == nil || *b.Total != 3 || len(b.Entry) != 2 || b.link("next") == "" {
		t.Fatalf("Consent _count=2: total %v, %d entries, next %q", b.Total, len(b.Entry), b.link("next"))
	}
	next, _ := url.Parse(b.link("next"))
	r = g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, "/fhir/Consent?"+next.RawQuery, clin, nil) })
	if b2 := parseBundle(t, r); len(b2.Entry) != 1 || b2.link("next") != "" || b2.Entry[0].FullURL == b.Entry[0].FullURL || b2.Entry[0].FullURL == b.Entry[1].FullURL {
		t.Errorf("Consent second page: %d entries, next %q", len(b2.Entry), b2.link("next"))
	}
	r = g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, "/fhir/Contract?_count=1", clin, nil) })
	if b := parseBundle(t, r); b.Total == nil || len(b.Entry) != min(*b.Total, 1) || (*b.Total > 1) != (b.link("next") != "") {
		t.Errorf("Contract _count=1: total %v, %d entries, next %q", b.Total, len(b.Entry), b.link("next"))
	}
	for _, path := range []string{"/fhir/Consent?patient=" + pid + "&_count=0", "/fhir/Consent?patient=" + pid + "&_count=",
		"/fhir/Consent?patient=" + pid + "&_count=501", "/fhir/Contract?_count=x", "/fhir/Contract?_count=",
		"/fhir/Contract?_page=bogus", "/fhir/Consent?patient=" + pid + "&_page=bogus"} {
		t.Run("refused "+path, func(t *testing.T) {
			g.call(t, want{400, "INVALID_PARAMETER"}, func() *response { return g.do(http.MethodGet, path, clin, nil) })
		})
	}

	// The CapabilityStatement declares parameters, not modifiers, and
	// _count wherever it is taken.
	cs := capabilityStatement(t, g)
	for _, res := range cs.Rest[0].Resource {
		names := map[string]bool{}
		for _, p := range res.SearchParam {
			if strings.Contains(p.Name, ":") {
				t.Errorf("%s declares %q: a modifier, not a parameter", res.Type, p.Name)
			}
			names[p.Name] = true
		}
		if hasInteraction(res.Interaction, "search-type") && !names["_count"] {
			t.Errorf("%s is searchable but does not declare _count", res.Type)
		}
	}
}

// capabilityStatementJSON is the part of the CapabilityStatement the
// conformance tests walk.
type capabilityStatementJSON struct {
	Rest []struct {
		Resource []struct {
			Type        string `json:"type"`
			Interaction []struct {
				Code string `json:"code"`
			} `json:"interaction"`
			SearchParam []struct {
				Name          string `json:"name"`
				Type          string `json:"type"`
				Documentation string `json:"documentation"`
			} `json:"searchParam"`
			Operation []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"operation"`
		} `json:"resource"`
	} `json:"rest"`
}

func capabilityStatement(t *testing.T, g *gateway) *capabilityStatementJSON {
	t.Helper()
	r := g.do(http.MethodGet, "/fhir/metadata", "", nil)
	var cs capabilityStatementJSON
	if r.Status != 200 || json.Unmarshal(r.Body, &cs) != nil || len(cs.Rest) != 1 {
		t.Fatalf("metadata: HTTP %d %s", r.Status, truncate(r.Body))
	}
	return &cs
}

func hasInteraction(in []struct {
	Code string `json:"code"`
}, code string) bool {
	for _, i := range in {
		if i.Code == code {
			return true
		}
	}
	return false
}

// auditRequestIDs is the set of request ids of the AuditEvents in a
// searchset.
func auditRequestIDs(t *testing.T, b *bundle) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, e := range b.Entry {
		d, err := audit.Decode(e.Resource)
		if err != nil {
			t.Fatal(err)
		}
		out[d.RequestID] = true
	}
	return out
}

// TestConformanceHeadOptions: HEAD on every read route answers as GET does,
// without a body, audited as GET is (one AuditEvent with the same
// subtype, outcome and release); OPTIONS is 405, audited, as the gateway
// serves no CORS.
func TestConformanceHeadOptions(t *testing.T) {
	g := startGateway(t, nil)
	clin := g.token("clin-head", "R8000", "RX999")
	if r := g.recordConsent(clin, tppConsent, consentGiven); r.Status != 201 {
		t.Fatalf("consent: HTTP %d", r.Status)
	}
	pid := g.ids.Patient(tppConsent)
	conds := parseBundle(t, g.do(http.MethodGet, "/fhir/Condition?patient="+pid, clin, nil)).matches(t)
	if len(conds) == 0 {
		t.Fatal("no Condition to read")
	}
	aud, admin := g.auditorToken(), g.adminToken()
	ident := url.QueryEscape("https://fhir.nhs.uk/Id/nhs-number|" + tppConsent)
	for _, tc := range []struct {
		path, tok string
		audited   bool
	}{
		{"/fhir/metadata", "", false},
		{"/fhir/.well-known/smart-configuration", "", false},
		{"/fhir/OperationDefinition/mig-view", "", false},
		{"/fhir/Patient?identifier=" + ident, clin, true},
		{"/fhir/Patient/" + pid, clin, true},
		{"/fhir/Condition?patient=" + pid + "&_count=1", clin, true},
		{"/fhir/Condition/" + conds[0].ID, clin, true},
		{"/fhir/Patient/" + pid + "/$everything", clin, true},
		{"/fhir/Patient/" + pid + "/$mig-view?view=summary", clin, true},
		{"/fhir/Consent?patient=" + pid, clin, true},
		{"/fhir/Contract", clin, true},
		{"/fhir/AuditEvent?_count=1", aud, true},
		{"/fhir/AuditEvent/$export?_after=1000000", aud, true},
		{"/admin/agreements", admin, true},
		// Refusals answer HEAD as GET too.
		{"/fhir/Condition?patient=" + pid + "&bogus=1", clin, true},
		{"/fhir/Condition/nope", clin, true},
		{"/fhir/AuditEvent", clin, true},
		{"/fhir/Condition?patient=" + pid, "", true},
	} {
		t.Run(tc.path, func(t *testing.T) {
			seq := g.auditSeq()
			get := g.do(http.MethodGet, tc.path, tc.tok, nil)
			mid := g.auditSeq()
			head := g.do(http.MethodHead, tc.path, tc.tok, nil)
			if head.Status != get.Status || head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
				t.Errorf("HEAD: HTTP %d %q, GET: HTTP %d %q", head.Status, head.Header.Get("Content-Type"), get.Status, get.Header.Get("Content-Type"))
			}
			if len(head.Body) != 0 {
				t.Errorf("HEAD has a body of %d bytes", len(head.Body))
			}
			if head.Header.Get("WWW-Authenticate") != get.Header.Get("WWW-Authenticate") {
				t.Errorf("WWW-Authenticate differs: %q vs %q", head.Header.Get("WWW-Authenticate"), get.Header.Get("WWW-Authenticate"))
			}
			if !tc.audited {
				if n := len(g.eventsSince(seq)); n != 0 {
					t.Errorf("%d AuditEvents for a public route", n)
				}
				return
			}
			if tc.tok == "" {
				return // unauthenticated refusals are combined per source (README, "Audit")
			}
			ge, he := g.eventsSince(seq)[:1], g.eventsSince(mid)
			if len(he) != 1 || he[0].RequestID != head.requestID() {
				t.Fatalf("HEAD: %d AuditEvents, want 1 for its request", len(he))
			}
			if ge[0].Outcome != he[0].Outcome || ge[0].Subtype != he[0].Subtype || ge[0].NHSNumber != he[0].NHSNumber ||
				!equalCounts(ge[0].Released, he[0].Released) {
				t.Errorf("HEAD audited as %q %q %v, GET as %q %q %v", he[0].Outcome, he[0].Subtype, he[0].Released,
					ge[0].Outcome, ge[0].Subtype, ge[0].Released)
			}
		})
	}
	for _, tc := range []struct{ path, tok string }{
		{"/fhir/metadata", ""}, {"/fhir/Condition?patient=" + pid, clin}, {"/fhir/Patient/" + pid, clin},
		{"/fhir/Consent", clin}, {"/admin/agreements", admin}, {"/nowhere", clin},
	} {
		t.Run("OPTIONS "+tc.path, func(t *testing.T) {
			r := g.call(t, want{405, "NOT_IMPLEMENTED"}, func() *response {
				return g.do(http.MethodOptions, tc.path, tc.tok, nil, "Origin", "https://elsewhere.example", "Access-Control-Request-Method", "GET")
			})
			if r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Allow") == "" {
				t.Errorf("OPTIONS: Allow %q, Access-Control-Allow-Origin %q", r.Header.Get("Allow"), r.Header.Get("Access-Control-Allow-Origin"))
			}
		})
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestConformanceSummaryElements: _summary=count answers the total with no
// matches; _elements keeps what was asked with the mandatory and modifier
// elements and meta.security, tagged SUBSETTED, and stays valid R4.
func TestConformanceSummaryElements(t *testing.T) {
	g := startGateway(t, nil)
	clin := g.token("clin-shape", "R8000", "RX999")
	if r := g.recordConsent(clin, tppConsent, consentGiven); r.Status != 201 {
		t.Fatalf("consent: HTTP %d", r.Status)
	}
	pid := g.ids.Patient(tppConsent)
	for _, path := range []string{"/fhir/Condition?patient=" + pid, "/fhir/MedicationStatement?patient=" + pid,
		"/fhir/Patient/" + pid + "/$everything", "/fhir/Patient/" + pid + "/$mig-view?view=summary", "/fhir/Consent?patient=" + pid, "/fhir/Contract"} {
		t.Run("count "+path, func(t *testing.T) {
			full := parseBundle(t, g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, withQuery(path, "_count=500"), clin, nil) }))
			r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, withQuery(path, "_summary=count"), clin, nil) })
			validR4(t, "count Bundle", r.Body)
			b := parseBundle(t, r)
			if b.Total == nil || full.Total == nil || *b.Total != *full.Total || len(b.matches(t)) != 0 || b.link("next") != "" {
				t.Errorf("_summary=count: total %v (full %v), %d matches, next %q", b.Total, full.Total, len(b.matches(t)), b.link("next"))
			}
		})
	}
	for _, tc := range []struct {
		path, asked string
		kept, gone  []string
	}{
		{"/fhir/Condition?patient=" + pid, "code", []string{"code", "clinicalStatus", "subject"}, []string{"onsetDateTime", "category"}},
		{"/fhir/AllergyIntolerance?patient=" + pid, "code", []string{"code", "clinicalStatus", "patient"}, []string{"recordedDate", "category"}},
		{"/fhir/MedicationStatement?patient=" + pid, "effective", []string{"status", "medicationCodeableConcept", "subject"}, []string{"dosage"}},
		{"/fhir/Observation?patient=" + pid, "effective", []string{"status", "code"}, []string{"valueQuantity", "category"}},
		{"/fhir/Patient/" + pid + "/$everything", "id", []string{"resourceType", "id"}, []string{"name", "onsetDateTime", "recordedDate", "dosage"}},
		{"/fhir/Consent?patient=" + pid, "dateTime", []string{"status", "scope", "category"}, []string{"provision"}},
	} {
		t.Run("elements "+tc.path, func(t *testing.T) {
			r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, withQuery(tc.path, "_elements="+tc.asked), clin, nil) })
			validR4(t, "subset Bundle", r.Body)
			b := parseBundle(t, r)
			if len(b.matches(t)) == 0 {
				t.Fatal("no matches")
			}
			for _, e := range b.Entry {
				if e.Search.Mode != "match" {
					continue
				}
				var res map[string]json.RawMessage
				json.Unmarshal(e.Resource, &res)
				var meta struct {
					Tag []struct{ System, Code string }
				}
				json.Unmarshal(res["meta"], &meta)
				if len(meta.Tag) == 0 || meta.Tag[len(meta.Tag)-1].Code != "SUBSETTED" {
					t.Errorf("%s not tagged SUBSETTED: %s", res["resourceType"], res["meta"])
				}
				var typ string
				json.Unmarshal(res["resourceType"], &typ)
				if typ == "Patient" && tc.asked == "id" {
					continue
				}
				for _, k := range tc.kept {
					if _, ok := res[k]; !ok && !(typ != "Condition" && typ != "AllergyIntolerance" && k == "clinicalStatus") {
						if typ == strings.Split(strings.TrimPrefix(tc.path, "/fhir/"), "?")[0] {
							t.Errorf("%s: %s dropped", typ, k)
						}
					}
				}
				for _, k := range tc.gone {
					if _, ok := res[k]; ok {
						t.Errorf("%s: %s kept though not asked for", typ, k)
					}
				}
			}
		})
	}
	for _, q := range []string{"_summary=true", "_summary=text", "_summary=", "_elements=", "_elements=Condition.code",
		"_summary=count&_elements=code", "_elements=code&_elements=onset"} {
		t.Run("refused "+q, func(t *testing.T) {
			g.call(t, want{400, "INVALID_PARAMETER"}, func() *response { return g.do(http.MethodGet, "/fhir/Condition?patient="+pid+"&"+q, clin, nil) })
		})
	}
	t.Run("refused on AuditEvent", func(t *testing.T) {
		g.call(t, want{400, "INVALID_PARAMETER"}, func() *response {
			return g.do(http.MethodGet, "/fhir/AuditEvent?_summary=count", g.auditorToken(), nil)
		})
	})
}

// withQuery adds a parameter to a path that may have a query already.
func withQuery(path, q string) string {
	if strings.Contains(path, "?") {
		return path + "&" + q
	}
	return path + "?" + q
}

// TestConformanceEverything: $everything takes _type, start, end and
// _count as our OperationDefinition says, keeps undated and ongoing items
// in a care period, and refuses _since with a clear message.
func TestConformanceEverything(t *testing.T) {
	g := startGateway(t, nil)
	clin := g.token("clin-everything", "R8000", "RX999")
	if r := g.recordConsent(clin, tppConsent, consentGiven); r.Status != 201 {
		t.Fatalf("consent: HTTP %d", r.Status)
	}
	pid := g.ids.Patient(tppConsent)
	ev := "/fhir/Patient/" + pid + "/$everything"
	get := func(t *testing.T, q string) *bundle {
		t.Helper()
		r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, withQuery(ev, q), clin, nil) })
		validR4(t, "$everything", r.Body)
		return parseBundle(t, r)
	}
	codes := func(b *bundle) map[string]bool {
		out := map[string]bool{}
		for _, e := range b.Entry {
			if e.Search.Mode == "match" {
				for _, c := range []string{"44054006", "263199001", "91936005", "325278007", "323509004", "86198006", "80146002", "414937009", "999791000000106", "183530004", "1005671000000105"} {
					if strings.Contains(string(e.Resource), `"`+c+`"`) {
						out[c] = true
					}
				}
			}
		}
		return out
	}
	types := func(b *bundle) map[string]int {
		out := map[string]int{}
		for _, m := range b.matches(t) {
			out[m.ResourceType]++
		}
		return out
	}
	all := get(t, "_count=500")
	if c := codes(all); len(c) != 11 {
		t.Fatalf("the story's codes in $everything: %v", c)
	}
	t.Run("care period", func(t *testing.T) {
		b := get(t, "_count=500&start=2026-09&end=2026-09-30")
		c := codes(b)
		for code, want := range map[string]bool{
			"44054006": true, "91936005": true, "325278007": true, "414937009": true, // ongoing: problem, allergy, medication, risk
			"999791000000106": true, "183530004": true, // dated in the period
			"263199001": false, "323509004": false, "86198006": false, "80146002": false, "1005671000000105": false,
		} {
			if c[code] != want {
				t.Errorf("start=2026-09&end=2026-09-30: %s present %v, want %v", code, c[code], want)
			}
		}
		if types(b)["Patient"] != 1 || *b.Total >= *all.Total {
			t.Errorf("care period: %v, total %d of %d", types(b), *b.Total, *all.Total)
		}
		// Open-ended: start alone keeps the later items too.
		if c := codes(get(t, "_count=500&start=2026-10-02T00:00:00Z")); !c["86198006"] || c["183530004"] || !c["44054006"] {
			t.Errorf("start=2026-10-02T00:00:00Z: %v", c)
		}
		// end alone: the fracture and the appendicectomy, not the later results.
		if c := codes(get(t, "_count=500&end=2015")); !c["263199001"] || !c["80146002"] || c["999791000000106"] || !c["91936005"] {
			t.Errorf("end=2015: %v", c)
		}
	})
	t.Run("_type", func(t *testing.T) {
		got := types(get(t, "_count=500&_type=Condition,AllergyIntolerance"))
		if len(got) != 2 || got["Condition"] == 0 || got["AllergyIntolerance"] == 0 {
			t.Errorf("_type=Condition,AllergyIntolerance: %v", got)
		}
		if got := types(get(t, "_type=Patient")); len(got) != 1 || got["Patient"] != 1 {
			t.Errorf("_type=Patient: %v", got)
		}
	})
	t.Run("_count", func(t *testing.T) {
		b := get(t, "_count=2&_type=Condition,Observation,Patient")
		if len(b.matches(t)) != 2 || b.link("next") == "" {
			t.Fatalf("_count=2: %d matches, next %q", len(b.matches(t)), b.link("next"))
		}
		next, _ := url.Parse(b.link("next"))
		if n := len(get(t, next.RawQuery).matches(t)); n == 0 {
			t.Error("next page empty")
		}
	})
	for _, q := range []string{"_since=2026-01-01T00:00:00Z", "_type=Practitioner", "_type=", "_type=Condition&_type=Flag",
		"start=ge2026", "start=2026-13", "start=2026-10&end=2026-09", "end=2026-04-02T10:00"} {
		t.Run("refused "+q, func(t *testing.T) {
			r := g.call(t, want{400, "INVALID_PARAMETER"}, func() *response { return g.do(http.MethodGet, withQuery(ev, q), clin, nil) })
			if _, diag := r.outcome(t); strings.HasPrefix(q, "_since") && !strings.Contains(diag, "live") {
				t.Errorf("_since refused with %q", diag)
			}
		})
	}
	t.Run("definition", func(t *testing.T) {
		cs := capabilityStatement(t, g)
		var def string
		for _, res := range cs.Rest[0].Resource {
			for _, op := range res.Operation {
				if res.Type == "Patient" && op.Name == "everything" {
					def = op.Definition
				}
			}
		}
		if def != g.m.URL+"/fhir/OperationDefinition/mig-everything" {
			t.Fatalf("$everything points at %q", def)
		}
		r := g.do(http.MethodGet, strings.TrimPrefix(def, g.m.URL), "", nil)
		if r.Status != 200 {
			t.Fatalf("HTTP %d", r.Status)
		}
		validR4(t, "OperationDefinition", r.Body)
		for _, p := range []string{`"start"`, `"end"`, `"_type"`, `"_count"`, `_since is refused`} {
			if !strings.Contains(string(r.Body), p) {
				t.Errorf("definition does not say %s", p)
			}
		}
	})
}

// TestConformanceWalk walks the CapabilityStatement and exercises every
// declared interaction, search parameter (and documented modifier) and
// operation (with each input parameter its definition declares) against
// the running gateway: anything declared but refused fails. A parameter
// this walker cannot make a value for fails too, so a new declaration
// brings its example here.
func TestConformanceWalk(t *testing.T) {
	g := startGateway(t, nil)
	clin := g.token("clin-walk", "R8000", "RX999")
	aud := g.auditorToken()
	if r := g.recordConsent(clin, tppConsent, consentGiven); r.Status != 201 {
		t.Fatalf("consent: HTTP %d", r.Status)
	}
	pid := g.ids.Patient(tppConsent)
	nhsIdent := "https://fhir.nhs.uk/Id/nhs-number|" + tppConsent
	ok := func(t *testing.T, method, path, tok string, body any) *response {
		t.Helper()
		return g.call(t, want{status: map[string]int{http.MethodPost: 201}[method] + map[bool]int{true: 200}[method != http.MethodPost]},
			func() *response { return g.do(method, path, tok, body) })
	}
	// An id of every type to read, from what the gateway serves.
	ids := map[string]string{}
	for _, m := range parseBundle(t, ok(t, http.MethodGet, "/fhir/Patient/"+pid+"/$everything?_count=500", clin, nil)).matches(t) {
		ids[m.ResourceType] = m.ID
	}
	for path, tok := range map[string]string{"/fhir/Consent?patient=" + pid: clin, "/fhir/Contract": clin, "/fhir/AuditEvent?_count=1": aud} {
		for _, m := range parseBundle(t, ok(t, http.MethodGet, path, tok, nil)).matches(t) {
			ids[m.ResourceType] = m.ID
		}
	}
	base := func(typ string) (url.Values, string) {
		switch typ {
		case "Patient":
			return url.Values{"identifier": {nhsIdent}}, clin
		case "AuditEvent":
			return url.Values{}, aud
		case "Contract":
			return url.Values{}, clin
		}
		return url.Values{"patient": {pid}}, clin
	}
	example := func(typ, name, ptype, doc string) (string, bool) {
		switch {
		case name == "_count":
			return "5", true
		case name == "_summary":
			return "count", true
		case name == "_elements":
			return "id", true
		case name == "identifier":
			return nhsIdent, true
		case name == "patient":
			return "Patient/" + pid, true
		case name == "agent":
			return "Practitioner/clin-walk", true
		case ptype == "date":
			return "ge2000-01-01T00:00:00Z", true
		case ptype == "token" && strings.Contains(doc, " | "):
			first, _, _ := strings.Cut(doc, " | ")
			first, _, _ = strings.Cut(first, " ")
			return first, true
		case ptype == "token" && strings.HasPrefix(doc, "[system|]code"):
			return "http://snomed.info/sct|44054006", true
		}
		return "", false
	}
	modifierExample := map[string]string{"patient:identifier": nhsIdent, "agent:identifier": "https://fhir.nhs.uk/Id/sds-user-id|clin-walk"}

	cs := capabilityStatement(t, g)
	for _, res := range cs.Rest[0].Resource {
		for _, in := range res.Interaction {
			t.Run(res.Type+" "+in.Code, func(t *testing.T) {
				switch in.Code {
				case "read":
					if ids[res.Type] == "" {
						t.Fatalf("no %s to read", res.Type)
					}
					ok(t, http.MethodGet, "/fhir/"+res.Type+"/"+ids[res.Type], map[bool]string{true: aud, false: clin}[res.Type == "AuditEvent"], nil)
				case "search-type":
					q, tok := base(res.Type)
					ok(t, http.MethodGet, "/fhir/"+res.Type+"?"+q.Encode(), tok, nil)
				case "create":
					if res.Type != "Consent" {
						t.Fatalf("no example to create a %s", res.Type)
					}
					ok(t, http.MethodPost, "/fhir/Consent", clin, consentBody(tppConsent, consentGiven))
				default:
					t.Fatalf("interaction %s has no walker", in.Code)
				}
			})
		}
		for _, sp := range res.SearchParam {
			names := []string{sp.Name}
			if strings.Contains(sp.Documentation, ":identifier modifier") {
				names = append(names, sp.Name+":identifier")
			}
			for _, name := range names {
				t.Run(res.Type+" ?"+name, func(t *testing.T) {
					v, found := modifierExample[name]
					if !found {
						v, found = example(res.Type, name, sp.Type, sp.Documentation)
					}
					if !found {
						t.Fatalf("no example value for %s %s (%s)", res.Type, name, sp.Type)
					}
					q, tok := base(res.Type)
					if name == "patient:identifier" {
						q.Del("patient")
					}
					q.Set(name, v)
					ok(t, http.MethodGet, "/fhir/"+res.Type+"?"+q.Encode(), tok, nil)
				})
			}
		}
		for _, op := range res.Operation {
			t.Run(res.Type+" $"+op.Name, func(t *testing.T) {
				path, tok := "/fhir/Patient/"+pid+"/$"+op.Name, clin
				if res.Type == "AuditEvent" {
					path, tok = "/fhir/AuditEvent/$"+op.Name, aud
				}
				if op.Name == "mig-access-report" { // type level, for the patient's practice
					path, tok = "/fhir/Patient/$"+op.Name, g.token("ig-walk", "R0001", "A99903")
				}
				q := url.Values{}
				if def, local := strings.CutPrefix(op.Definition, g.m.URL); local {
					r := g.do(http.MethodGet, def, "", nil)
					if r.Status != 200 {
						t.Fatalf("definition %s: HTTP %d", def, r.Status)
					}
					validR4(t, "OperationDefinition", r.Body)
					var od struct {
						Parameter []struct {
							Name string `json:"name"`
							Use  string `json:"use"`
							Min  int    `json:"min"`
						} `json:"parameter"`
					}
					json.Unmarshal(r.Body, &od)
					for _, p := range od.Parameter {
						if p.Use == "in" && p.Min > 0 {
							q.Set(p.Name, map[string]string{"view": "summary", "identifier": nhsIdent}[p.Name])
						}
					}
					ok(t, http.MethodGet, withQuery(path, q.Encode()), tok, nil)
					for _, p := range od.Parameter {
						if p.Use != "in" {
							continue
						}
						v := map[string]string{"view": "problems", "_count": "5", "start": "2015", "end": "2026-09-30", "_type": "Condition,Patient",
							"from": "2026-01-01", "to": "2099-12-31", "identifier": nhsIdent,
							"profile": "http://hl7.org/fhir/uv/ips/StructureDefinition/Bundle-uv-ips"}[p.Name]
						if v == "" {
							t.Errorf("no example value for $%s %s", op.Name, p.Name)
							continue
						}
						q2 := url.Values{}
						for k, vs := range q {
							q2[k] = vs
						}
						q2.Set(p.Name, v)
						ok(t, http.MethodGet, withQuery(path, q2.Encode()), tok, nil)
					}
					return
				}
				ok(t, http.MethodGet, path, tok, nil) // an external definition: its bare form
			})
		}
	}
}
