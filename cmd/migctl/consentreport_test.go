package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mig/adapters/source/gpsim"
	"mig/audit"
	auditbolt "mig/audit/bolt"
)

const practiceDir = "../../testdata/A99902"

// emptyAuditDir is a gateway data directory with an empty audit store.
func emptyAuditDir(t *testing.T) string {
	t.Helper()
	return auditDir(t, 0)
}

// storedEvents reads every event in DIR/audit.db.
func storedEvents(t *testing.T, dir string) []*audit.Stored {
	t.Helper()
	s, err := auditbolt.Open(filepath.Join(dir, "audit.db"), auditbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []*audit.Stored
	if err := s.Scan(context.Background(), 0, func(st *audit.Stored) error { out = append(out, st); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestConsentReport(t *testing.T) {
	if _, err := os.Stat(practiceDir); err != nil {
		t.Skip("testdata/A99902 absent")
	}
	child := childPractice(t)
	sim, err := gpsim.New(gpsim.Config{Dir: child})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim)
	defer hs.Close()
	tests := []struct {
		name, practice string
		row            string // the expected row of 9990002029, "" for none
	}{
		// As shipped, 9990002029 (no consent, hypertension, 66) is in no
		// group the programme asked to be set to share: counted, not listed.
		{"testdata", practiceDir, ""},
		// Made a child (born 2015 in extract and registration): listed.
		{"child dir", child, "9990002029,under-16,0-15\n"},
		{"child http", hs.URL, "9990002029,under-16,0-15\n"},
	}
	for _, tc := range tests {
		practice := tc.practice
		t.Run(tc.name, func(t *testing.T) {
			data := emptyAuditDir(t)
			csvPath := filepath.Join(t.TempDir(), "report.csv")
			code, out, errs := runCLI(t, "consent-report", "-practice", practice, "-format", "emis", "-ods", "A99902",
				"-user", "pracadmin1", "-data", data, "-csv", csvPath)
			if code != 0 || out != "" {
				t.Fatalf("exit %d stdout %q stderr %q", code, out, errs)
			}
			fi, err := os.Stat(csvPath)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("csv file %v %v", fi, err)
			}
			b, _ := os.ReadFile(csvPath)
			rows := string(b)
			if want := "nhs_number,group,age_band\n" + tc.row; rows != want {
				t.Fatalf("report:\n%s\nwant:\n%s", rows, want)
			}
			// Consent recorded (2002, 2010, 2045, 2053, 2061) or dissent (2037): not listed.
			for _, nhs := range []string{"9990002002", "9990002010", "9990002037", "9990002045", "9990002053", "9990002061"} {
				if strings.Contains(rows, nhs) {
					t.Fatalf("report lists %s:\n%s", nhs, rows)
				}
			}
			if !strings.Contains(errs, "patients checked: 7") || !strings.Contains(errs, "dissent: 1\nnothing recorded: 1\n") ||
				!strings.Contains(errs, "consent to share: 5\n") || strings.Contains(errs, "99900") {
				t.Fatalf("summary: %q", errs)
			}
			evs := storedEvents(t, data)
			if len(evs) != 1 {
				t.Fatalf("%d audit events, want 1", len(evs))
			}
			d, err := audit.Decode(evs[0].Body)
			if err != nil {
				t.Fatal(err)
			}
			if d.UserID != "pracadmin1" || d.OrgODS != "A99902" || d.Action != "E" || d.Outcome != audit.OutcomeSuccess || d.Subtype != "operation" {
				t.Fatalf("audit event %+v", d)
			}
			q := base64.StdEncoding.EncodeToString([]byte("consent-report practice=A99902 patients=7"))
			if !strings.Contains(string(evs[0].Body), `"query":"`+q+`"`) {
				t.Fatalf("audit event lacks the query: %s", evs[0].Body)
			}
			var ae map[string]any
			if json.Unmarshal(evs[0].Body, &ae) != nil {
				t.Fatal("body not JSON")
			}
		})
	}
}

// childPractice copies testdata/A99902 to a temp dir with 9990002029 born
// in 2015 (extract and registration list agree).
func childPractice(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ents, err := os.ReadDir(practiceDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(practiceDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		switch e.Name() {
		case "9990002029.xml":
			b = []byte(strings.Replace(string(b), "<DateOfBirth>05/05/1960</DateOfBirth>", "<DateOfBirth>05/05/2015</DateOfBirth>", 1))
		case "patients.json":
			var list []map[string]any
			if err := json.Unmarshal(b, &list); err != nil {
				t.Fatal(err)
			}
			for _, p := range list {
				if p["nhsNumber"] == "9990002029" {
					p["birthDate"] = "2015-05-05"
				}
			}
			if b, err = json.Marshal(list); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestConsentReportStdout(t *testing.T) {
	data := emptyAuditDir(t)
	code, out, _ := runCLI(t, "consent-report", "-practice", childPractice(t), "-format", "emis", "-ods", "A99902", "-user", "pracadmin1", "-data", data)
	if code != 0 || !strings.HasPrefix(out, "nhs_number,group,age_band\n") || !strings.Contains(out, "9990002029") {
		t.Fatalf("exit %d stdout %q", code, out)
	}
}

func TestConsentReportErrors(t *testing.T) {
	data := emptyAuditDir(t)
	locked := emptyAuditDir(t)
	s, err := auditbolt.Open(filepath.Join(locked, "audit.db"), auditbolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	csvPath := filepath.Join(t.TempDir(), "r.csv")
	base := func(extra ...string) []string {
		return append([]string{"consent-report", "-practice", practiceDir, "-format", "emis", "-ods", "A99902", "-user", "pracadmin1"}, extra...)
	}
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no user", []string{"consent-report", "-practice", practiceDir, "-format", "emis", "-ods", "A99902", "-data", data}, 2, "give -practice, -format, -ods, -user and -data"},
		{"no data", base(), 2, "give -practice"},
		{"bad format", []string{"consent-report", "-practice", practiceDir, "-format", "rtf", "-ods", "A99902", "-user", "u", "-data", data}, 2, `unknown format "rtf"`},
		{"bad ods", []string{"consent-report", "-practice", practiceDir, "-format", "emis", "-ods", "RX999", "-user", "u", "-data", data}, 2, "-ods must be a GP practice"},
		{"bad flag", base("-data", data, "-x"), 2, "flag provided but not defined"},
		{"tls with dir", base("-data", data, "-ca", "x.pem"), 2, "for a practice URL"},
		{"practice not a dir", []string{"consent-report", "-practice", "/nonexistent", "-format", "emis", "-ods", "A99902", "-user", "u", "-data", data}, 1, "extract path is not a directory"},
		{"no audit store", base("-data", t.TempDir()), 1, "no audit.db in"},
		{"audit store locked", base("-data", locked, "-csv", csvPath), 1, "is locked by another process"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.err) {
				t.Fatalf("exit %d stderr %q, want %d %q", code, errs, tc.code, tc.err)
			}
			if out != "" || strings.Contains(errs, "99900") {
				t.Fatalf("output on failure: %q %q", out, errs)
			}
		})
	}
	if _, err := os.Stat(csvPath); err == nil {
		t.Fatal("a report file was written without an audit record")
	}
	if n := len(storedEvents(t, data)); n != 0 {
		t.Fatalf("%d audit events after failed runs", n)
	}
}
