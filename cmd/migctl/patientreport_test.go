package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"mig"
	"mig/adapters/record"
	"mig/audit"
	auditbolt "mig/audit/bolt"
	"mig/consent"
	consentbolt "mig/consent/bolt"
	"mig/fhir/rest"
)

const (
	reportNHS      = "9990001006"
	reportOther    = "9990001014"
	planted        = "FREETEXT-"
	reportPractice = "A99901"
	practiceTok    = "practice-auditor-token"
	otherPracTok   = "other-practice-auditor-token"
)

// reportClock is the fixed time the golden reports are made at.
var reportClock = time.Date(2026, 7, 1, 9, 15, 0, 0, time.UTC)

// patientReportDir writes a data directory whose audit trail holds known
// accesses to reportNHS, with its first records archived to a segment.
func patientReportDir(t *testing.T) (dir, segment string) {
	t.Helper()
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	who := func(org, role, user, name string) *consent.Principal {
		return &consent.Principal{UserID: user, Name: name, RoleCode: role, RoleName: planted + "job", OrgODS: org,
			OrgName: planted + "org", ClientID: "ed-client"}
	}
	given := &consent.ViewConsent{ID: "vc", Given: true}
	ok := consent.Decision{Verdict: consent.Authorized}
	reqs := []consent.Request{
		{Time: at("2026-06-01T09:00:00Z"), Principal: who("RX999", "R8000", "u1", "Dr Jo Tester"), Operation: consent.OpConsentRecord, Type: "Consent",
			NHSNumber: reportNHS, Practice: reportPractice, ViewConsent: given, Released: map[string]int{"Consent": 1}, Decision: ok},
		{Time: at("2026-06-01T09:01:00Z"), Principal: who("RX999", "R8000", "u1", "Dr Jo Tester"), Operation: consent.OpView, Type: "Patient",
			Query: "/fhir/Patient/x/$mig-view?view=summary", NHSNumber: reportNHS, Practice: reportPractice, ViewConsent: given,
			Released: map[string]int{"Patient": 1, "Condition": 2, "MedicationStatement": 1}, Decision: ok},
		{Time: at("2026-06-01T09:04:00Z"), Principal: who("RX999", "R8000", "u1", "Dr Jo Tester"), Operation: consent.OpView, Type: "Patient",
			Query: "/fhir/Patient/x/$mig-view?view=summary", NHSNumber: reportNHS, Practice: reportPractice, ViewConsent: given,
			Released: map[string]int{"Patient": 1, "Condition": 2, "MedicationStatement": 1}, Decision: ok},
		// Archived up to here.
		{Time: at("2026-06-02T14:00:00Z"), Principal: who("NX999", "R8001", "u2", planted+"42 <b>nurse</b>"), Operation: consent.OpSearch, Type: "Condition",
			NHSNumber: reportNHS, Practice: reportPractice,
			Decision: consent.Decision{Verdict: consent.Reject, Rule: consent.RuleViewConsent, Err: mig.Refusal(mig.IssueNoViewConsent, "x")}},
		{Time: at("2026-06-03T23:40:00Z"), Principal: who("RX999", "R8000", "u3", "Sam O'Neil-Jones"), Operation: consent.OpEverything, Type: "Patient",
			NHSNumber: reportNHS, Practice: reportPractice, Emergency: true,
			ViewConsent: &consent.ViewConsent{ID: "vc2", Emergency: true, EmergencyReason: consent.EmergencyLackingCapacity},
			Released:    map[string]int{"Patient": 1, "AllergyIntolerance": 1, "Flag": 1}, Decision: ok},
		{Time: at("2026-06-05T10:30:00Z"), Principal: who("ZZ999", "R8000", "u4", "Al Smith"), Operation: consent.OpView, Type: "Patient",
			Query: "/fhir/Patient/x/$mig-view?view=problems", NHSNumber: reportNHS,
			Decision: consent.Decision{Verdict: consent.Reject, Rule: consent.RuleRecipient, Err: mig.Refusal(mig.IssueNoOrganisationConsent, "x")}},
		{Time: at("2026-06-06T11:00:00Z"), Principal: who(reportPractice, "R0001", "ig1", "Pat Auditor"), Operation: consent.OpAccessReport, Type: "Patient",
			NHSNumber: reportNHS, Practice: reportPractice, Released: map[string]int{"Parameters": 1}, Decision: ok},
		// Neither listed: no verified token; another patient.
		{Time: at("2026-06-07T08:00:00Z"), Operation: consent.OpSearch, Type: "Patient", NHSNumber: reportNHS,
			Decision: consent.Decision{Verdict: consent.Reject, Rule: consent.RuleAuthentication, Err: mig.Errorf(mig.EUNAUTHORIZED, "x")}},
		{Time: at("2026-06-07T09:00:00Z"), Principal: who("RX999", "R8000", "u1", "Dr Jo Tester"), Operation: consent.OpRead, Type: "Patient",
			NHSNumber: reportOther, Practice: reportPractice, ViewConsent: given, Released: map[string]int{"Patient": 1}, Decision: ok},
	}
	dir = t.TempDir()
	s, err := auditbolt.Open(filepath.Join(dir, "audit.db"), auditbolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range reqs {
		r.ID = "req-" + string(rune('a'+i))
		if _, err := s.Append(context.Background(), audit.Events(&r, time.Now)...); err != nil {
			t.Fatal(err)
		}
	}
	segment = filepath.Join(t.TempDir(), "segment-1.db")
	if err := s.Archive(context.Background(), 4, segment); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, segment
}

func fixReportClock(t *testing.T) {
	old := reportNow
	reportNow = func() time.Time { return reportClock }
	t.Cleanup(func() { reportNow = old })
}

// checkGolden compares out with testdata/patient-report/name (rewritten
// with -update).
func checkGolden(t *testing.T, name, out string) {
	t.Helper()
	path := filepath.Join("testdata", "patient-report", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if out != string(want) {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n%s", name, out)
	}
}

func TestPatientReportCLI(t *testing.T) {
	fixReportClock(t)
	dir, segment := patientReportDir(t)
	cfg := writeFile(t, t.TempDir(), "mig.json", `{"dataDir":"`+dir+`","auth":{"issuer":"https://idp.example"},
		"practices":[{"ods":"A99901","name":"Demo GP2GP practice","format":"gp2gp","dir":{"path":"/nonexistent"}}],
		"patientReport":{"organisations":{"RX999":"Demo Emergency Department","NX999":"Demo Out of Hours"}}}`)
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"default.txt", nil},
		{"default.csv", []string{"-format", "csv"}},
		{"default.html", []string{"-format", "html"}},
		{"detail.txt", []string{"-time", "-names"}},
		{"detail.csv", []string{"-format", "csv", "-time", "-names"}},
		{"detail.html", []string{"-format", "html", "-time", "-names"}},
		{"june-2-to-4.txt", []string{"-from", "2026-06-02", "-to", "2026-06-04"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			args := append([]string{"audit", "patient-report", "-data", dir, "-archive", segment, "-config", cfg, "-nhs", reportNHS}, tc.args...)
			code, out, errs := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			if strings.Contains(out, planted) || strings.Contains(out, "<b>") {
				t.Errorf("planted text in the report:\n%s", out)
			}
			if strings.Contains(out, "2026-06-07") {
				t.Errorf("the other patient's access or the unauthenticated attempt is listed:\n%s", out)
			}
			checkGolden(t, tc.golden, out)
		})
	}

	t.Run("without the archive", func(t *testing.T) {
		code, out, errs := runCLI(t, "audit", "patient-report", "-data", dir, "-nhs", reportNHS)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		if strings.Contains(out, "Summary view") || !strings.Contains(out, "Everything the sharing agreement covers") {
			t.Errorf("the live file alone should hold only the later accesses:\n%s", out)
		}
	})

	t.Run("written to a file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "report.html")
		if code, out, errs := runCLI(t, "audit", "patient-report", "-data", dir, "-nhs", reportNHS, "-format", "html", "-o", p); code != 0 || out != "" {
			t.Fatalf("exit %d stdout %q stderr %q", code, out, errs)
		}
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("report file %v %v", fi, err)
		}
	})

	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"no NHS number", []string{"-data", dir}, "-nhs"},
		{"bad NHS number", []string{"-data", dir, "-nhs", "9990001007"}, "-nhs"},
		{"bad format", []string{"-data", dir, "-nhs", reportNHS, "-format", "pdf"}, "-format"},
		{"bad day", []string{"-data", dir, "-nhs", reportNHS, "-from", "2026-06-01T00:00:00Z"}, "-from"},
		{"to before from", []string{"-data", dir, "-nhs", reportNHS, "-from", "2026-06-02", "-to", "2026-06-01"}, "-to"},
		{"both modes", []string{"-data", dir, "-server", "http://127.0.0.1:1", "-nhs", reportNHS}, "not both"},
		{"neither mode", []string{"-nhs", reportNHS}, "-data"},
		{"missing archive", []string{"-data", dir, "-nhs", reportNHS, "-archive", filepath.Join(t.TempDir(), "none.db")}, "archive"},
	} {
		t.Run("refused "+tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, append([]string{"audit", "patient-report"}, tc.args...)...)
			if code == 0 || out != "" || !strings.Contains(errs, tc.msg) {
				t.Errorf("exit %d stdout %q stderr %q, want an error naming %s", code, out, errs, tc.msg)
			}
		})
	}
}

// fixedRecords locates every patient at one practice.
type fixedRecords struct{ practice string }

func (f fixedRecords) Locate(context.Context, string) (string, error) { return f.practice, nil }
func (f fixedRecords) Read(context.Context, string, string) (*record.Record, error) {
	return nil, mig.Errorf(mig.ENOTFOUND, "not read")
}

// TestPatientReportCLIServer: -server reads the gateway's
// $mig-access-report, which gives what its configuration allows; the
// flags ask for no more.
func TestPatientReportCLIServer(t *testing.T) {
	fixReportClock(t)
	for _, detail := range []bool{false, true} {
		dir, segment := patientReportDir(t) // each run's reads are audited: start afresh
		as, err := auditbolt.Open(filepath.Join(dir, "audit.db"), auditbolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		seg, err := auditbolt.Open(segment, auditbolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		cs, err := consentbolt.Open(filepath.Join(t.TempDir(), "consent.db"))
		if err != nil {
			t.Fatal(err)
		}
		chain := append(consent.NewChain(consent.DefaultConfig(), cs.Agreements(), cs.ViewConsents()), audit.NewRecorder(as, audit.RecorderOptions{}))
		srv := &rest.Server{
			Verifier: tokens{
				practiceTok:  {UserID: "ig1", RoleCode: "R0001", OrgODS: reportPractice, ClientID: "test"},
				otherPracTok: {UserID: "ig2", RoleCode: "R0001", OrgODS: "A99902", ClientID: "test"},
				clinToken:    {UserID: "clin1", RoleCode: "R8000", OrgODS: reportPractice, ClientID: "test"},
			},
			Chain: chain, Records: fixedRecords{reportPractice}, Agreements: cs.Agreements(), ViewConsents: cs.ViewConsents(),
			Audit: as, Log: zerolog.Nop(), PageKey: bytes.Repeat([]byte{7}, 32), Now: func() time.Time { return reportClock },
			AccessReport: rest.AccessReportOptions{ShowTime: detail, ShowNames: detail,
				OrgNames: map[string]string{"RX999": "Demo Emergency Department", "NX999": "Demo Out of Hours", reportPractice: "Demo GP2GP practice"},
				Archives: []audit.Scanner{seg}},
		}
		hs := httptest.NewServer(srv.Handler())
		srv.Base = hs.URL + "/fhir"
		remote := []string{"audit", "patient-report", "-server", hs.URL, "-token", practiceTok, "-nhs", reportNHS}

		code, out, errs := runCLI(t, remote...)
		if code != 0 {
			t.Fatalf("detail %v: exit %d: %s", detail, code, errs)
		}
		// Whatever the gateway allows, the flags ask for the default.
		checkGolden(t, "server.txt", out)
		if detail {
			code, out, errs = runCLI(t, append(remote, "-time", "-names", "-format", "csv")...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			checkGolden(t, "server-detail.csv", out)
		} else {
			if code, _, errs := runCLI(t, append(remote, "-time")...); code == 0 || !strings.Contains(errs, "showTime") {
				t.Errorf("-time from a gateway that gives no times: exit %d %q", code, errs)
			}
		}
		for _, tok := range []string{otherPracTok, clinToken} {
			if code, out, errs := runCLI(t, "audit", "patient-report", "-server", hs.URL, "-token", tok, "-nhs", reportNHS); code == 0 || out != "" || !strings.Contains(errs, "gateway refused") {
				t.Errorf("token %s: exit %d stdout %q stderr %q", tok, code, out, errs)
			}
		}
		hs.Close()
		cs.Close()
		seg.Close()
		as.Close()
	}
}
