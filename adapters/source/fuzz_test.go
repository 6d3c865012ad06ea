package source

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mig"
)

// leakFree fails t unless err is a *mig.Error whose text holds none of the
// planted FREETEXT markers (and no other NHS number than the one asked for
// is ever quoted: the seeds use only 9990001006 and 9990001014).
func leakFree(t *testing.T, err error) {
	t.Helper()
	var me *mig.Error
	if !errors.As(err, &me) {
		t.Fatalf("error %T is not a *mig.Error", err)
	}
	for _, s := range []string{err.Error(), me.Message} {
		if strings.Contains(s, "FREETEXT") || strings.Contains(s, "999000") {
			t.Fatalf("error quotes the input: %q", s)
		}
	}
}

// FuzzPatientFromPDS maps arbitrary bodies as a PDS Patient: never a
// panic, and errors are *mig.Error quoting nothing of the body.
func FuzzPatientFromPDS(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "pds-patient.json")); err == nil {
		f.Add(b)
	} else {
		f.Fatal(err)
	}
	for _, s := range []string{
		`{"resourceType":"Patient","id":"9990001006","gender":"female","birthDate":"1950-03-14",
		  "name":[{"use":"official","prefix":["Mrs"],"given":["FREETEXT-given"],"family":"FREETEXT-family","period":{"start":"2000-01-01"}}],
		  "address":[{"use":"home","line":["FREETEXT-line"],"city":"FREETEXT-city","postalCode":"LS1 1AA","period":{"start":"2000-01-01","end":"FREETEXT-end"}}],
		  "meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]}}`,
		`{"resourceType":"Patient","id":"9990001006","gender":"FREETEXT-gender"}`,
		`{"resourceType":"Patient","id":"9990001006","birthDate":"FREETEXT-date"}`,
		`{"resourceType":"Patient","id":"9990001006","deceasedDateTime":"FREETEXT-date","deceasedBoolean":true}`,
		`{"resourceType":"Patient","id":"9990001014","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9990001014"}]}`,
		`{"resourceType":"FREETEXT-type","id":"9990001006"}`,
		`{"resourceType":"Patient","id":9990001006}`,
		`FREETEXT-{`, ``, `null`, `[]`,
		`{"resourceType":"Patient","id":"9990001006","generalPractitioner":[{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"A99901"}}],"name":[{"period":{"start":"FREETEXT-start"}}]}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := PatientFromPDS(b, "9990001006", now)
		if err != nil {
			leakFree(t, err)
			return
		}
		if p == nil || p.NHSNumber != "9990001006" {
			t.Fatalf("patient %+v without an error", p)
		}
	})
}

// FuzzPatientJSON decodes arbitrary bytes as a patients.json entry and
// converts it: never a panic, and errors are *mig.Error naming the field,
// never its value.
func FuzzPatientJSON(f *testing.F) {
	for _, s := range []string{
		`{"nhsNumber":"9990001006","name":{"prefix":"Mrs","given":["Ann"],"family":"Example"},"birthDate":"1950-03-14","sex":"female",
		  "address":{"lines":["1 Test Street"],"city":"Leeds","district":"West Yorkshire","postalCode":"LS1 1AA"},"deceased":false,"deceasedDate":"","deducted":false,"sensitive":false}`,
		`{"nhsNumber":"9990001006","birthDate":"1950","sex":"M","deceasedDate":"2020-01-02T10:00:00Z"}`,
		`{"nhsNumber":"9990001006","sex":"FREETEXT-sex"}`,
		`{"nhsNumber":"9990001006","birthDate":"FREETEXT-birth"}`,
		`{"nhsNumber":"9990001006","deceasedDate":"FREETEXT-death"}`,
		`{"nhsNumber":"9990001006","birthDate":"1950-13-40"}`,
		`{"name":{"given":["FREETEXT-a"],"family":"FREETEXT-b"},"address":{"lines":["FREETEXT-c"]}}`,
		`{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var pj PatientJSON
		if json.Unmarshal(b, &pj) != nil {
			return // not an entry: the list reader's error, not Patient's
		}
		p, err := pj.Patient("A99901")
		if err != nil {
			leakFree(t, err)
			return
		}
		if p == nil || p.PracticeODS != "A99901" || p.NHSNumber != pj.NHSNumber {
			t.Fatalf("patient %+v does not match its entry", p)
		}
	})
}
