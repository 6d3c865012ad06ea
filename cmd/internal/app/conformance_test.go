package app

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"
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
			found := false
			for _, e := range parseBundle(t, r).Entry {
				var ev struct {
					Entity []struct {
						What struct {
							Identifier struct {
								Value string `json:"value"`
							} `json:"identifier"`
						} `json:"what"`
					} `json:"entity"`
				}
				json.Unmarshal(e.Resource, &ev)
				for _, en := range ev.Entity {
					if en.What.Identifier.Value == read.requestID() {
						found = true
					}
				}
			}
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
