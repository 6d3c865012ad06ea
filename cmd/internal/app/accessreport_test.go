package app

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mig/audit"
	auditbolt "mig/audit/bolt"
)

// The patient access report ("who has looked at my record", issue 16 part
// 3) through real HTTP: for the auditor and access-report roles of the
// patient's own practice, refused to everyone else, audited like every
// read, and never carrying what a token or a request made up.

const accessReportPath = "/fhir/Patient/$mig-access-report"

func accessReportURL(nhs string, extra ...string) string {
	q := url.Values{"identifier": {"https://fhir.nhs.uk/Id/nhs-number|" + nhs}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return accessReportPath + "?" + q.Encode()
}

// hostileToken is a verified token whose free-text claims (name,
// organisation name, job title) carry the free-text marker.
func (g *gateway) hostileToken(t *testing.T, user string) string {
	t.Helper()
	c := claims(g.m.Issuer, "mig", user, "R8000", "RX999", time.Now().Add(time.Hour))
	c["name"] = "FREETEXT-" + tppConsent + " <script>alert(1)</script>"
	c["nhsid_user_orgs"] = []map[string]any{{"org_code": "RX999", "org_name": "FREETEXT-org " + tppConsent}}
	roles := c["nhsid_nrbac_roles"].([]map[string]any)
	roles[0]["role_name"] = "FREETEXT-job " + tppConsent
	return g.idpSigner().sign(t, c)
}

// accessesToPatient makes known accesses to tppConsent (A99903) and one to
// another patient; it returns how many the report must list, by line key.
func accessesToPatient(t *testing.T, g *gateway) {
	t.Helper()
	clin := g.token("ar-clin", "R8000", "RX999")
	noConsent := g.token("ar-clin2", "R8000", "RX999")
	emergency := g.token("ar-clin3", "R8000", "RX999")
	hostile := g.hostileToken(t, "ar-hostile")
	for _, tok := range []string{clin, hostile} {
		g.call(t, want{status: 201}, func() *response { return g.recordConsent(tok, tppConsent, consentGiven) })
		g.call(t, want{status: 200}, func() *response { return g.view(tok, tppConsent, "summary") })
	}
	g.call(t, want{403, "NO_VIEW_CONSENT"}, func() *response { return g.view(noConsent, tppConsent, "summary") })
	g.call(t, want{status: 201}, func() *response { return g.recordConsent(emergency, tppConsent, consentEmergency) })
	g.call(t, want{status: 200}, func() *response { return g.view(emergency, tppConsent, "summary") })
	g.call(t, want{status: 401}, func() *response { return g.view("", tppConsent, "summary") })
	// Another patient of the same practice.
	g.call(t, want{status: 201}, func() *response { return g.recordConsent(clin, tppConsent2, consentGiven) })
	g.call(t, want{status: 200}, func() *response { return g.view(clin, tppConsent2, "summary") })
}

// lineKey names a report line by what it says, whatever the day.
func lineKey(a audit.PatientAccess) string {
	var asked []string
	for _, p := range a.Asked {
		asked = append(asked, p.Kind+":"+p.Code)
	}
	return strings.Join([]string{a.Org, a.Role, strings.Join(asked, ","), a.Consent, a.Reason, a.Outcome, a.Rule}, " ")
}

func reportLines(t *testing.T, body []byte) (*audit.PatientReport, map[string]int) {
	t.Helper()
	rep, err := audit.ParsePatientReport(body)
	if err != nil {
		t.Fatalf("not a report: %v: %s", err, truncate(body))
	}
	lines := map[string]int{}
	for _, a := range rep.Accesses {
		lines[lineKey(a)] += a.Count
	}
	return rep, lines
}

// wantAccessLines are the lines accessesToPatient leaves.
var wantAccessLines = map[string]int{
	"RX999 clinician activity:consent-record given  allowed ":                2,
	"RX999 clinician view:summary given  allowed ":                           2,
	"RX999 clinician view:summary none  refused view-consent":                1,
	"RX999 clinician activity:consent-record emergency unconscious allowed ": 1,
	"RX999 clinician view:summary emergency unconscious allowed ":            1,
}

func TestAccessReport(t *testing.T) {
	g := startGateway(t, nil)
	accessesToPatient(t, g)
	ig := g.token("ar-ig", "R0001", "A99903")

	seq := g.auditSeq()
	r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, accessReportURL(tppConsent), ig, nil) })
	validR4(t, "Parameters", r.Body)
	rep, lines := reportLines(t, r.Body)
	if len(lines) != len(wantAccessLines) {
		t.Errorf("report lines:\n%v\nwant:\n%v", lines, wantAccessLines)
	}
	for k, n := range wantAccessLines {
		if lines[k] != n {
			t.Errorf("line %q: %d accesses, want %d", k, lines[k], n)
		}
	}
	if rep.NHSNumber != tppConsent || rep.Practice != "A99903" || rep.UnauthenticatedLeftOut != 1 || rep.ShowTime || rep.ShowNames {
		t.Errorf("report %s practice %s, %d unauthenticated left out, time %v names %v", rep.NHSNumber, rep.Practice,
			rep.UnauthenticatedLeftOut, rep.ShowTime, rep.ShowNames)
	}
	for _, leak := range []string{"FREETEXT-", "<script", "ar-clin", "ar-hostile", "Test User", "R8000", tppConsent2} {
		if strings.Contains(string(r.Body), leak) {
			t.Errorf("the report holds %q", leak)
		}
	}
	// The report read is audited like any read, stored before the answer
	// (g.call checked one event for the request), about the patient.
	ev := byRequest(g.eventsSince(seq), r.requestID())[0]
	if ev.NHSNumber != tppConsent || ev.Practice != "A99903" || ev.UserID != "ar-ig" || ev.Outcome != audit.OutcomeSuccess ||
		!strings.Contains(string(ev.Body), `"access-report"`) || ev.Released["Parameters"] != 1 {
		t.Errorf("the report read's AuditEvent: %s", truncate(ev.Body))
	}
	// ... and the next report says it was read.
	r = g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, accessReportURL(tppConsent), ig, nil) })
	if _, lines := reportLines(t, r.Body); lines["A99903 information-governance activity:access-report   allowed "] != 1 {
		t.Errorf("the report read is not in the next report: %v", lines)
	}

	t.Run("practice administrator", func(t *testing.T) {
		admin := g.token("ar-admin", "R8008", "A99903")
		r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, accessReportURL(tppConsent), admin, nil) })
		if _, lines := reportLines(t, r.Body); lines["RX999 clinician view:summary given  allowed "] != 2 {
			t.Errorf("lines %v", lines)
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodHead, accessReportURL(tppConsent), ig, nil) })
		if len(r.Body) != 0 {
			t.Errorf("HEAD answered a body")
		}
	})
	t.Run("period", func(t *testing.T) {
		r := g.call(t, want{status: 200}, func() *response {
			return g.do(http.MethodGet, accessReportURL(tppConsent, "from", "2020-01-01", "to", "2020-12-31"), ig, nil)
		})
		if rep, _ := reportLines(t, r.Body); len(rep.Accesses) != 0 || rep.FirstDay() != "2020-01-01" || rep.LastDay() != "2020-12-31" {
			t.Errorf("2020: %d lines, %s to %s", len(rep.Accesses), rep.FirstDay(), rep.LastDay())
		}
	})

	for _, tc := range []struct {
		name, tok, path, rule string
		w                     want
	}{
		{"another practice's auditor", g.token("ar-ig2", "R0001", "A99901"), accessReportURL(tppConsent), "registered-practice", want{404, "PATIENT_NOT_FOUND"}},
		{"the operator's auditor", g.auditorToken(), accessReportURL(tppConsent), "registered-practice", want{404, "PATIENT_NOT_FOUND"}},
		{"a clinician of the practice", g.token("ar-gp", "R8000", "A99903"), accessReportURL(tppConsent), "role", want{403, "ACCESS_DENIED"}},
		{"the clinician who looked", g.token("ar-clin", "R8000", "RX999"), accessReportURL(tppConsent), "role", want{403, "ACCESS_DENIED"}},
		{"a receptionist of the practice", g.token("ar-rec", "R8009", "A99903"), accessReportURL(tppConsent), "role", want{403, "ACCESS_DENIED"}},
		{"no token", "", accessReportURL(tppConsent), "authentication", want{status: 401}},
		{"unknown patient", ig, accessReportURL(unknownNHS(t)), "patient-resolution", want{404, "PATIENT_NOT_FOUND"}},
		{"no identifier", ig, accessReportPath, "request", want{400, "INVALID_PARAMETER"}},
		{"bad NHS number", ig, accessReportPath + "?identifier=https://fhir.nhs.uk/Id/nhs-number|9990003008", "request", want{400, "INVALID_NHS_NUMBER"}},
		{"to before from", ig, accessReportURL(tppConsent, "from", "2026-02-01", "to", "2026-01-31"), "request", want{400, "INVALID_PARAMETER"}},
		{"a date-time", ig, accessReportURL(tppConsent, "from", "2026-02-01T00:00:00Z"), "request", want{400, "INVALID_PARAMETER"}},
		{"unknown parameter", ig, accessReportURL(tppConsent, "colour", "blue"), "request", want{400, "INVALID_PARAMETER"}},
		{"identifier twice", ig, accessReportURL(tppConsent) + "&identifier=https://fhir.nhs.uk/Id/nhs-number|" + tppConsent, "request", want{400, "INVALID_PARAMETER"}},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			seq := g.auditSeq()
			r := g.callRule(t, tc.w, tc.rule, func() *response { return g.do(http.MethodGet, tc.path, tc.tok, nil) })
			if strings.Contains(string(r.Body), "FREETEXT-") {
				t.Errorf("the refusal repeats the request: %s", r.Body)
			}
			if tc.tok != "" && strings.Contains(tc.path, tppConsent) && !strings.Contains(tc.name, "twice") {
				if ev := g.eventsSince(seq)[0]; ev.NHSNumber != tppConsent {
					t.Errorf("the refusal's AuditEvent does not name the patient asked about")
				}
			}
		})
	}
	// Each refusal naming the patient is itself in the patient's report.
	r = g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, accessReportURL(tppConsent), ig, nil) })
	_, lines = reportLines(t, r.Body)
	for _, k := range []string{
		"A99901 information-governance activity:access-report   refused registered-practice",
		"A99903 clinician activity:access-report   refused role",
		"A99903 admin activity:access-report   refused role",
	} {
		if lines[k] == 0 {
			t.Errorf("no line %q in %v", k, lines)
		}
	}
}

// TestAccessReportDetail: with patientReport.showTime and showNames the
// report gives the time of day and names in the shape of a name, never a
// token's planted text; organisation names come from the configuration.
func TestAccessReportDetail(t *testing.T) {
	g := startGateway(t, func(m *Main) {
		m.Config.PatientReport.ShowTime = true
		m.Config.PatientReport.ShowNames = true
		m.Config.PatientReport.Organisations = map[string]string{"RX999": "Demo Emergency Department"}
	})
	accessesToPatient(t, g)
	r := g.call(t, want{status: 200}, func() *response {
		return g.do(http.MethodGet, accessReportURL(tppConsent), g.token("ar-ig", "R0001", "A99903"), nil)
	})
	validR4(t, "Parameters", r.Body)
	rep, _ := reportLines(t, r.Body)
	names := map[string]bool{}
	for _, a := range rep.Accesses {
		if a.Time == "" {
			t.Errorf("a line without its time: %+v", a)
		}
		if a.Org == "RX999" && a.OrgName != "Demo Emergency Department" {
			t.Errorf("RX999 named %q", a.OrgName)
		}
		names[a.Name] = true
	}
	if !names["Test User ar-clin"] || !names[""] {
		t.Errorf("names %v: want the clinician's, and none for the planted one", names)
	}
	if strings.Contains(string(r.Body), "FREETEXT-") || strings.Contains(string(r.Body), "<script") {
		t.Errorf("planted text in the report")
	}
}

// TestAccessReportArchive: the report over the API reads the archived
// segments the configuration names (patientReport.archives), so a
// practice's answer does not lose what was archived.
func TestAccessReportArchive(t *testing.T) {
	dir := t.TempDir()
	g := startGateway(t, func(m *Main) { m.Config.DataDir = dir })
	accessesToPatient(t, g)
	last := g.auditSeq()
	g.m.Close()

	live, err := auditbolt.Open(filepath.Join(dir, "audit.db"), auditbolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(t.TempDir(), "segment-1.db")
	if err := live.Archive(context.Background(), last+1, seg); err != nil {
		t.Fatal(err)
	}
	live.Close()

	for _, withArchive := range []bool{false, true} {
		g := startGateway(t, func(m *Main) {
			m.Config.DataDir = dir
			if withArchive {
				m.Config.PatientReport.Archives = []string{seg}
			}
		})
		r := g.call(t, want{status: 200}, func() *response {
			return g.do(http.MethodGet, accessReportURL(tppConsent), g.token("ar-ig", "R0001", "A99903"), nil)
		})
		_, lines := reportLines(t, r.Body)
		found := 0
		for k, n := range wantAccessLines {
			if lines[k] == n {
				found++
			}
		}
		switch {
		case withArchive && found != len(wantAccessLines):
			t.Errorf("with the archive: %v", lines)
		case !withArchive && found != 0:
			t.Errorf("without the archive the live file still holds the accesses: %v", lines)
		}
		g.m.Close()
	}
}
