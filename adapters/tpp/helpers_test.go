package tpp

import (
	"bytes"
	"flag"
	"mig/internal/testenv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mig/adapters/record"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testNow is the clock every test parses at (ParseOptions.Now), so that
// status judged against "now" (end dates still to come) is deterministic.
var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// opts are the parse options of a test asking for nhs at testNow.
func opts(nhs string) record.ParseOptions {
	return record.ParseOptions{NHSNumber: nhs, Now: func() time.Time { return testNow }}
}

// extracts are the synthetic TPP extracts of practice A99903.
var extracts = []string{"9990003009", "9990003017", "9990003025", "9990003033", "9990003041", "9990003068", "9990003076"}

func readExtract(t testing.TB, nhs string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "testdata", "A99903", nhs+".xml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// doc wraps clinical events (and optionally non-clinical items and
// metadata) in a minimal PatientRecord for NHS number 9990003017.
func doc(events string, more ...string) string {
	nonClinical, metadata := "", ""
	if len(more) > 0 {
		nonClinical = more[0]
	}
	if len(more) > 1 {
		metadata = more[1]
	}
	return `<?xml version="1.0" encoding="UTF-8"?>
<PatientRecord><MessageUID>M</MessageUID><PatientUID>P</PatientUID><OrganisationID>A99903</OrganisationID>
<Patient><Identity><NHSNumber>9990003017</NHSNumber></Identity>
<Demographics><Title>Mr</Title><FirstName>Bob</FirstName><Surname>Test</Surname><DateOfBirth>1975-08-30</DateOfBirth><Sex>M</Sex><EnglishSpeaker>Yes</EnglishSpeaker><CareStartDate>2000-01-01</CareStartDate><RegistrationType>GMS</RegistrationType></Demographics>
<Clinical>` + events + `</Clinical><NonClinical>` + nonClinical + `</NonClinical></Patient>
<Metadata>` + metadata + `</Metadata></PatientRecord>`
}

func parseString(t *testing.T, s string) *record.Record {
	t.Helper()
	rec, err := Parse(strings.NewReader(s), opts("9990003017"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return rec
}

func entry(t *testing.T, rec *record.Record, id string) *record.Entry {
	t.Helper()
	i, ok := rec.Index()[id]
	if !ok {
		var ids []string
		for _, e := range rec.Entries {
			ids = append(ids, e.ID)
		}
		t.Fatalf("no entry %q; have %v", id, ids)
	}
	return &rec.Entries[i]
}

func codes(c record.Concept) string {
	var b bytes.Buffer
	for i, cd := range c.Codings {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strings.TrimPrefix(strings.TrimPrefix(cd.System, "http://"), "https://") + "|" + cd.Code + "|" + cd.Term.String())
	}
	return b.String()
}
