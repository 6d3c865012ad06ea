package audit_test

import (
	"bytes"
	"context"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"mig"
	"mig/adapters/record"
	"mig/audit"
	"mig/audit/bolt"
	"mig/consent"
)

const (
	reportNHS   = "9990001006" // the patient
	otherNHS    = "9990001014" // someone else
	reportPrac  = "A99901"
	plantedText = "FREETEXT-"
)

func clinicianAt(org, role, user string) *consent.Principal {
	return &consent.Principal{UserID: user, Name: "Dr Jo Tester", RoleCode: role, RoleProfileID: "555000333444",
		RoleName: plantedText + "job title", OrgODS: org, OrgName: plantedText + "org name", ClientID: "ed-client"}
}

func refusal(rule, issue string) consent.Decision {
	return consent.Decision{Verdict: consent.Reject, Rule: rule, Err: mig.Refusal(issue, "refused")}
}

// reportRequests are the accesses the report tests store, in order: what
// the recorder writes for each (audit.Events), so the report reads the
// shapes a gateway stores.
func reportRequests() []consent.Request {
	day := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	given := &consent.ViewConsent{ID: "vc1", Given: true}
	hostile := clinicianAt("RX999", "R8000", "u-hostile")
	hostile.Name = plantedText + "123 <script>alert(1)</script>"
	return []consent.Request{
		// 0, 1: a clinician reads the Summary view twice in five minutes.
		{ID: "r0", Time: day("2026-06-01T09:00:00Z"), Principal: clinicianAt("RX999", "R8000", "u-clin"), Operation: consent.OpView, Type: "Patient",
			Query: "/fhir/Patient/abc/$mig-view?view=summary", NHSNumber: reportNHS, Practice: reportPrac, AgreementID: "isa-1",
			ViewConsent: given, Released: map[string]int{"Patient": 1, "Condition": 2, "OperationOutcome": 1}, Decision: consent.Decision{Verdict: consent.Authorized}},
		{ID: "r1", Time: day("2026-06-01T09:05:00Z"), Principal: clinicianAt("RX999", "R8000", "u-clin"), Operation: consent.OpView, Type: "Patient",
			Query: "/fhir/Patient/abc/$mig-view?view=summary", NHSNumber: reportNHS, Practice: reportPrac, AgreementID: "isa-1",
			ViewConsent: given, Released: map[string]int{"Patient": 1, "Condition": 2}, Decision: consent.Decision{Verdict: consent.Authorized}},
		// 2: a nurse elsewhere, no consent to view.
		{ID: "r2", Time: day("2026-06-01T10:00:00Z"), Principal: clinicianAt("NX999", "R8001", "u-nurse"), Operation: consent.OpSearch, Type: "Condition",
			Query: "/fhir/Condition?patient=abc", NHSNumber: reportNHS, Practice: reportPrac,
			Decision: consent.Decision{Verdict: consent.Reject, Rule: consent.RuleViewConsent, Err: mig.Refusal(mig.IssueNoViewConsent, "no consent")}},
		// 3: emergency access, late on 2 June UTC: 3 June in the UK.
		{ID: "r3", Time: day("2026-06-02T23:30:00Z"), Principal: clinicianAt("RX999", "R8000", "u-clin"), Operation: consent.OpEverything, Type: "Patient",
			Query: "/fhir/Patient/abc/$everything", NHSNumber: reportNHS, Practice: reportPrac, Emergency: true,
			ViewConsent: &consent.ViewConsent{ID: "vc2", Emergency: true, EmergencyReason: consent.EmergencyUnconscious},
			Released:    map[string]int{"Patient": 1, "MedicationRequest": 3, "AllergyIntolerance": 1}, Decision: consent.Decision{Verdict: consent.Authorized}},
		// 4: no verified token.
		{ID: "r4", Time: day("2026-06-04T08:00:00Z"), Operation: consent.OpSearch, Type: "Patient", NHSNumber: reportNHS,
			Decision: consent.Decision{Verdict: consent.Reject, Rule: consent.RuleAuthentication, Err: mig.Errorf(mig.EUNAUTHORIZED, "no token")}},
		// 5: another patient.
		{ID: "r5", Time: day("2026-06-04T09:00:00Z"), Principal: clinicianAt("RX999", "R8000", "u-clin"), Operation: consent.OpRead, Type: "Patient",
			NHSNumber: otherNHS, Practice: reportPrac, ViewConsent: given, Released: map[string]int{"Patient": 1}, Decision: consent.Decision{Verdict: consent.Authorized}},
		// 6: no consent to share at the practice.
		{ID: "r6", Time: day("2026-06-05T11:00:00Z"), Principal: clinicianAt("RX999", "R8000", "u-clin2"), Operation: consent.OpView, Type: "Patient",
			Query: "/fhir/Patient/abc/$mig-view?view=medication", NHSNumber: reportNHS, Practice: reportPrac, ViewConsent: given,
			Decision: refusal(consent.RuleShareConsent, mig.IssueNoPatientConsent)},
		// 7: a receptionist.
		{ID: "r7", Time: day("2026-06-05T12:00:00Z"), Principal: clinicianAt("RX999", "R8009", "u-rec"), Operation: consent.OpSearch, Type: "Patient",
			NHSNumber: reportNHS, Decision: refusal(consent.RuleRole, mig.IssueAccessDenied)},
		// 8: a consent to view recorded.
		{ID: "r8", Time: day("2026-06-06T09:00:00Z"), Principal: clinicianAt("RX999", "R8000", "u-clin"), Operation: consent.OpConsentRecord, Type: "Consent",
			NHSNumber: reportNHS, Practice: reportPrac, ViewConsent: given, Released: map[string]int{"Consent": 1}, Decision: consent.Decision{Verdict: consent.Authorized}},
		// 9: the GP system was down.
		{ID: "r9", Time: day("2026-06-06T10:00:00Z"), Principal: clinicianAt("RX999", "R8000", "u-clin"), Operation: consent.OpView, Type: "Patient",
			Query: "/fhir/Patient/abc/$mig-view?view=problems", NHSNumber: reportNHS, Practice: reportPrac, ViewConsent: given,
			Decision: consent.Decision{Verdict: consent.Reject, Rule: "gp-system", Err: &mig.Error{Code: mig.EUNAVAILABLE, Issue: mig.IssueGPSystemUnavailable, Message: "down"}}},
		// 10: while the patient was registered at another practice.
		{ID: "r10", Time: day("2026-06-07T09:00:00Z"), Principal: clinicianAt("RX999", "R8000", "u-clin"), Operation: consent.OpRead, Type: "Condition",
			NHSNumber: reportNHS, Practice: "A99902", ViewConsent: given, Released: map[string]int{"Condition": 1}, Decision: consent.Decision{Verdict: consent.Authorized}},
		// 11: what an attacker controls: the token's name, a view and a
		// type that are not ours, a planted emergency reason and rule.
		{ID: "r11", Time: day("2026-06-08T09:00:00Z"), Principal: hostile, Operation: consent.OpView, Type: plantedText + "type",
			Query: "/fhir/Patient/abc/$mig-view?view=" + plantedText + "view", NHSNumber: reportNHS, Practice: reportPrac, Emergency: true,
			ViewConsent: &consent.ViewConsent{ID: "vc3", Emergency: true, EmergencyReason: plantedText + "reason"},
			Released:    map[string]int{plantedText + "type": 9, "Flag": 1}, Decision: consent.Decision{Verdict: consent.Authorized}},
		{ID: "r12", Time: day("2026-06-08T09:01:00Z"), Principal: hostile, Operation: consent.OpRead, Type: plantedText + "type",
			NHSNumber: reportNHS, Practice: reportPrac, Decision: refusal(plantedText+"rule", mig.IssueAccessDenied)},
		// 13: the International Patient Summary, which runs as $everything.
		{ID: "r13", Time: day("2026-06-09T09:00:00Z"), Principal: clinicianAt("RX999", "R8000", "u-clin"), Operation: consent.OpEverything, Type: "Patient",
			Query: "/fhir/Patient/abc/$summary", NHSNumber: reportNHS, Practice: reportPrac, ViewConsent: given,
			Released: map[string]int{"Composition": 1, "Condition": 2}, Decision: consent.Decision{Verdict: consent.Authorized}},
	}
}

// storeReportEvents appends the report requests' events to a new store.
func storeReportEvents(t *testing.T) (*bolt.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, r := range reportRequests() {
		r := r
		if _, err := s.Append(context.Background(), audit.Events(&r, time.Now)...); err != nil {
			t.Fatal(err)
		}
	}
	return s, path
}

func access(day, org, role string, asked []audit.Part, shown []audit.Shown, consentStatus, reason, outcome, rule string, n int) audit.PatientAccess {
	return audit.PatientAccess{Day: day, Org: org, Role: role, Asked: asked, Shown: shown, Consent: consentStatus, Reason: reason,
		Outcome: outcome, Rule: rule, Count: n}
}

func view(v string) []audit.Part { return []audit.Part{{Kind: audit.PartView, Code: v}} }
func activity(a string) []audit.Part {
	return []audit.Part{{Kind: audit.PartActivity, Code: a}}
}
func typ(t string) []audit.Part { return []audit.Part{{Kind: audit.PartType, Code: t}} }

// wantReport is the default report (no time, no names, not scoped) of
// reportRequests.
func wantReport() []audit.PatientAccess {
	return []audit.PatientAccess{
		access("2026-06-01", "RX999", "clinician", view("summary"), []audit.Shown{{Type: "Condition", Count: 4}, {Type: "Patient", Count: 2}}, "given", "", audit.AccessAllowed, "", 2),
		access("2026-06-01", "NX999", "nurse", typ("Condition"), nil, "none", "", audit.AccessRefused, consent.RuleViewConsent, 1),
		access("2026-06-03", "RX999", "clinician", activity("everything"), []audit.Shown{{Type: "AllergyIntolerance", Count: 1}, {Type: "MedicationRequest", Count: 3}, {Type: "Patient", Count: 1}}, "emergency", consent.EmergencyUnconscious, audit.AccessAllowed, "", 1),
		access("2026-06-05", "RX999", "clinician", view("medication"), nil, "given", "", audit.AccessRefused, consent.RuleShareConsent, 1),
		access("2026-06-05", "RX999", "admin", typ("Patient"), nil, "", "", audit.AccessRefused, consent.RuleRole, 1),
		access("2026-06-06", "RX999", "clinician", activity("consent-record"), []audit.Shown{{Type: "Consent", Count: 1}}, "given", "", audit.AccessAllowed, "", 1),
		access("2026-06-06", "RX999", "clinician", view("problems"), nil, "given", "", audit.AccessNotCompleted, "gp-system", 1),
		access("2026-06-07", "RX999", "clinician", typ("Condition"), []audit.Shown{{Type: "Condition", Count: 1}}, "given", "", audit.AccessAllowed, "", 1),
		access("2026-06-08", "RX999", "clinician", activity("view"), []audit.Shown{{Type: "Flag", Count: 1}}, "emergency", "unspecified", audit.AccessAllowed, "", 1),
		access("2026-06-08", "RX999", "clinician", activity("record"), nil, "", "", audit.AccessRefused, "other", 1),
		access("2026-06-09", "RX999", "clinician", activity("summary"), []audit.Shown{{Type: "Composition", Count: 1}, {Type: "Condition", Count: 2}}, "given", "", audit.AccessAllowed, "", 1),
	}
}

func TestPatientReport(t *testing.T) {
	ctx := context.Background()
	s, _ := storeReportEvents(t)
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	q := audit.PatientReportQuery{NHSNumber: reportNHS, Now: now}
	rep, err := audit.BuildPatientReport(ctx, s, nil, q)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep.Accesses, wantReport()) {
		t.Errorf("accesses:\n%s\nwant:\n%s", dump(rep.Accesses), dump(wantReport()))
	}
	if rep.UnauthenticatedLeftOut != 1 || rep.ElsewhereLeftOut != 0 || !rep.Generated.Equal(now) {
		t.Errorf("left out %d unauthenticated, %d elsewhere, generated %v", rep.UnauthenticatedLeftOut, rep.ElsewhereLeftOut, rep.Generated)
	}

	t.Run("scoped to the practice", func(t *testing.T) {
		q := q
		q.Practice = reportPrac
		rep, err := audit.BuildPatientReport(ctx, s, nil, q)
		if err != nil {
			t.Fatal(err)
		}
		want := wantReport()
		want = append(want[:7], want[8:]...) // the access at A99902
		if !reflect.DeepEqual(rep.Accesses, want) || rep.ElsewhereLeftOut != 1 {
			t.Errorf("scoped: %d elsewhere\n%s", rep.ElsewhereLeftOut, dump(rep.Accesses))
		}
	})

	t.Run("period in UK days", func(t *testing.T) {
		q := q
		q.From, _ = audit.UKDay("2026-06-03")
		to, _ := audit.UKDay("2026-06-05")
		q.To = to.In(record.UKTime).AddDate(0, 0, 1).UTC()
		rep, err := audit.BuildPatientReport(ctx, s, nil, q)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rep.Accesses, wantReport()[2:5]) || rep.UnauthenticatedLeftOut != 1 {
			t.Errorf("3-5 June:\n%s", dump(rep.Accesses))
		}
		if rep.FirstDay() != "2026-06-03" || rep.LastDay() != "2026-06-05" {
			t.Errorf("period %s to %s", rep.FirstDay(), rep.LastDay())
		}
	})

	t.Run("time and names when asked", func(t *testing.T) {
		q := q
		q.ShowTime, q.ShowNames = true, true
		rep, err := audit.BuildPatientReport(ctx, s, nil, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Accesses) != len(wantReport())+1 {
			t.Fatalf("with times, the two summary reads are two lines: %d lines", len(rep.Accesses))
		}
		a, b := rep.Accesses[0], rep.Accesses[1]
		if a.Time != "10:00" || b.Time != "10:05" || a.Name != "Dr Jo Tester" || a.Count != 1 {
			t.Errorf("first lines %+v %+v", a, b)
		}
		if e := rep.Accesses[3]; e.Day != "2026-06-03" || e.Time != "00:30" {
			t.Errorf("emergency access at %s %s, want 2026-06-03 00:30 UK", e.Day, e.Time)
		}
		for _, a := range rep.Accesses {
			if a.Org == "RX999" && a.Day == "2026-06-08" && a.Name != "" {
				t.Errorf("a name not in the shape of a name is shown: %q", a.Name)
			}
		}
		red, err := rep.Redact(false, false)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(red.Accesses, wantReport()) {
			t.Errorf("redacted:\n%s", dump(red.Accesses))
		}
		if _, err := red.Redact(true, false); err == nil {
			t.Error("a redacted report gave back times")
		}
	})

	t.Run("archived segments", func(t *testing.T) {
		q := q
		s, _ := storeReportEvents(t)
		seg := filepath.Join(t.TempDir(), "segment-1.db")
		if err := s.Archive(ctx, 7, seg); err != nil { // records 1-6 leave the live file
			t.Fatal(err)
		}
		live, err := audit.BuildPatientReport(ctx, s, nil, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(live.Accesses) >= len(wantReport()) {
			t.Fatalf("the live file alone still holds every access")
		}
		a, err := bolt.Open(seg, bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		// Given twice (a segment given again must not count twice).
		both, err := audit.BuildPatientReport(ctx, s, []audit.Scanner{a, a}, q)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(both.Accesses, wantReport()) || both.UnauthenticatedLeftOut != 1 {
			t.Errorf("archive and live:\n%s", dump(both.Accesses))
		}
	})

	t.Run("no free text", func(t *testing.T) {
		q := q
		q.ShowTime, q.ShowNames = true, true
		q.OrgNames = map[string]string{"RX999": "Demo Emergency Department", "NX999": plantedText + "<b>"}
		rep, err := audit.BuildPatientReport(ctx, s, nil, q)
		if err != nil {
			t.Fatal(err)
		}
		for name, out := range renderAll(t, rep) {
			if strings.Contains(out, plantedText) || strings.Contains(out, "<script") {
				t.Errorf("%s holds planted text:\n%s", name, out)
			}
			if name != "csv" && !strings.Contains(out, "Demo Emergency Department") {
				t.Errorf("%s lacks the configured organisation name", name)
			}
		}
	})

	t.Run("bad NHS number", func(t *testing.T) {
		if _, err := audit.BuildPatientReport(ctx, s, nil, audit.PatientReportQuery{NHSNumber: "1234567890"}); mig.ErrorCode(err) != mig.EINVALID {
			t.Errorf("err %v", err)
		}
	})
}

// renderAll writes the report in every form.
func renderAll(t *testing.T, rep *audit.PatientReport) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, f := range map[string]func(*bytes.Buffer) error{
		"text": func(b *bytes.Buffer) error { return rep.WriteText(b) },
		"csv":  func(b *bytes.Buffer) error { return rep.WriteCSV(b) },
		"html": func(b *bytes.Buffer) error { return rep.WriteHTML(b) },
		"fhir": func(b *bytes.Buffer) error { p, err := rep.Parameters(); b.Write(p); return err },
	} {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = b.String()
	}
	return out
}

func dump(as []audit.PatientAccess) string {
	var b strings.Builder
	for _, a := range as {
		b.WriteString(strings.ReplaceAll(strings.TrimSpace(strings.Join(strings.Fields(fmtAccess(a)), " ")), "\n", " "))
		b.WriteByte('\n')
	}
	return b.String()
}

func fmtAccess(a audit.PatientAccess) string {
	var parts []string
	for _, p := range a.Asked {
		parts = append(parts, p.Kind+":"+p.Code)
	}
	var shown []string
	for _, s := range a.Shown {
		shown = append(shown, s.Type+"="+strconv.Itoa(s.Count))
	}
	return strings.Join([]string{a.Day, a.Time, a.Org, a.Role, a.Name, strings.Join(parts, ","), strings.Join(shown, ","),
		a.Consent, a.Reason, a.Outcome, a.Rule, strconv.Itoa(a.Count)}, " | ")
}

// TestPatientReportParameters: the FHIR form reads back as the report it
// was made from, so migctl -server renders what the gateway found.
func TestPatientReportParameters(t *testing.T) {
	ctx := context.Background()
	s, _ := storeReportEvents(t)
	for _, detail := range []bool{false, true} {
		from, _ := audit.UKDay("2026-06-01")
		q := audit.PatientReportQuery{NHSNumber: reportNHS, Practice: reportPrac, From: from, ShowTime: detail, ShowNames: detail,
			OrgNames: map[string]string{"RX999": "Demo Emergency Department"}, Now: time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)}
		rep, err := audit.BuildPatientReport(ctx, s, nil, q)
		if err != nil {
			t.Fatal(err)
		}
		b, err := rep.Parameters()
		if err != nil {
			t.Fatal(err)
		}
		back, err := audit.ParsePatientReport(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, rep) {
			t.Errorf("detail %v: read back\n%+v\nwant\n%+v", detail, back, rep)
		}
	}
	for _, bad := range []string{``, `{}`, `{"resourceType":"Bundle"}`, `{"resourceType":"Parameters","parameter":[]}`,
		`{"resourceType":"Parameters","parameter":[{"name":"patient","valueIdentifier":{"value":"1234567890"}}]}`,
		`{"resourceType":"Parameters","parameter":[{"name":"patient","valueIdentifier":{"value":"9990001006"}},{"name":"access","part":[{"name":"date","valueDate":"x"}]}]}`,
	} {
		if _, err := audit.ParsePatientReport([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// FuzzParsePatientReport: whatever a server answers, parsing never panics,
// and what it accepts renders without anything outside the report's words
// but shaped names.
func FuzzParsePatientReport(f *testing.F) {
	rep := &audit.PatientReport{NHSNumber: reportNHS, Generated: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), ShowNames: true,
		Accesses: []audit.PatientAccess{access("2026-06-01", "RX999", "clinician", view("summary"), []audit.Shown{{Type: "Condition", Count: 2}}, "given", "", audit.AccessAllowed, "", 2)}}
	rep.Accesses[0].Name = "Jo Tester"
	b, _ := rep.Parameters()
	f.Add(b)
	f.Add([]byte(`{"resourceType":"Parameters","parameter":[{"name":"patient","valueIdentifier":{"value":"9990001006"}},{"name":"access","part":[{"name":"date","valueDate":"2026-01-01"},{"name":"role","valueCoding":{"code":"x"}},{"name":"outcome","valueCoding":{"code":"refused"}},{"name":"reason","valueCoding":{"code":"FREETEXT-x"}}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := audit.ParsePatientReport(b)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := r.WriteText(&out); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteHTML(&out); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteCSV(&out); err != nil {
			t.Fatal(err)
		}
	})
}
