package source_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mig"
)

// Test NHS numbers (999 range, valid check digits) from ARCHITECTURE.md.
const (
	nhsA = "9990001006"
	nhsB = "9990001014"
	nhsC = "9990001022" // valid, but no extract in the test practice
)

const patientsJSON = `[
 {"nhsNumber":"9990001006","name":{"prefix":"Mrs","given":["Ann"],"family":"Example"},
  "birthDate":"1950-03-14","sex":"female",
  "address":{"lines":["1 Test Street"],"city":"Leeds","district":"West Yorkshire","postalCode":"LS1 1AA"},
  "deceased":false,"deceasedDate":"","deducted":false,"sensitive":false},
 {"nhsNumber":"9990001014","name":{"given":["Bob"],"family":"Sample"},
  "birthDate":"1961-07","sex":"male","address":{},
  "deceased":true,"deceasedDate":"2026-01-02","deducted":true,"sensitive":true}
]`

// practiceDir writes a practice directory: two extracts, a file whose name
// is not an NHS number, and patients.json.
func practiceDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, nhsA+".xml"), "<extract>A FREETEXT-a</extract>")
	write(t, filepath.Join(dir, nhsB+".xml"), "<extract>B</extract>")
	write(t, filepath.Join(dir, "9990001000.xml"), "<bad check digit/>")
	write(t, filepath.Join(dir, "notes.txt"), "x")
	write(t, filepath.Join(dir, "patients.json"), patientsJSON)
	return dir
}

func write(t *testing.T, name, s string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// wantErr checks err is a *mig.Error with code (and issue, if given) whose
// message names none of the forbidden strings.
func wantErr(t *testing.T, err error, code, issue string, mustName string, forbidden ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	if got := mig.ErrorCode(err); got != code {
		t.Fatalf("code %s (%v), want %s", got, err, code)
	}
	if issue != "" && mig.ErrorIssue(err) != issue {
		t.Fatalf("issue %q (%v), want %s", mig.ErrorIssue(err), err, issue)
	}
	msg := err.Error()
	if mustName != "" && !strings.Contains(msg, mustName) {
		t.Errorf("message %q does not name %s", msg, mustName)
	}
	for _, f := range forbidden {
		if f != "" && strings.Contains(msg, f) {
			t.Errorf("message %q holds %q", msg, f)
		}
	}
}
