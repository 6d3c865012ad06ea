package tpp

import (
	"bytes"
	"errors"
	"mig/internal/testenv"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mig"
	"mig/adapters/record"
	"mig/adapters/xmltok"
)

// TestGolden compares the dump of every extract with testdata/<nhs>.golden
// (go test -update rewrites them).
func TestGolden(t *testing.T) {
	for _, nhs := range extracts {
		t.Run(nhs, func(t *testing.T) {
			rec, err := Parse(bytes.NewReader(readExtract(t, nhs)), opts(nhs))
			if err != nil {
				t.Fatal(err)
			}
			got := dump(rec, true)
			golden := filepath.Join("testdata", nhs+".golden")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("dump differs from %s (run go test -update and review the diff)", golden)
			}
		})
	}
}

// TestNoFreeText: every extract carries FREETEXT- markers in every
// free-text field the schema has; none may reach the record (the dosage
// and quantity exception aside, which the dump leaves out here).
func TestNoFreeText(t *testing.T) {
	for _, nhs := range extracts {
		src := readExtract(t, nhs)
		if !bytes.Contains(src, []byte("FREETEXT-")) {
			t.Errorf("%s: extract carries no FREETEXT- marker", nhs)
		}
		rec, err := Parse(bytes.NewReader(src), opts(nhs))
		if err != nil {
			t.Fatal(nhs, err)
		}
		if out := dump(rec, false); bytes.Contains(out, []byte("FREETEXT-")) {
			i := bytes.Index(out, []byte("FREETEXT-"))
			t.Errorf("%s: free text reached the record: %s", nhs, out[max(0, i-200):min(len(out), i+40)])
		}
	}
	// The dosage exception is the one place free text may stay.
	rec, err := Parse(bytes.NewReader(readExtract(t, "9990003017")), opts(""))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(dump(rec, true), []byte("FREETEXT-3017-dosage-exception")) {
		t.Error("the dosage/quantity exception was not kept")
	}
}

// TestEquivalenceStory checks 9990003009 against the story in
// ARCHITECTURE.md by SNOMED code, independently of the golden file.
func TestEquivalenceStory(t *testing.T) {
	rec, err := Parse(bytes.NewReader(readExtract(t, "9990003009")), opts("9990003009"))
	if err != nil {
		t.Fatal(err)
	}
	bySNOMED := map[string]*record.Entry{}
	kinds := map[record.Kind]int{}
	var relatives []*record.Entry
	for i := range rec.Entries {
		e := &rec.Entries[i]
		kinds[e.Kind]++
		if e.NotShown == record.RuleRelative {
			relatives = append(relatives, e)
			continue
		}
		if c, ok := e.Code.Find(record.SystemSNOMED); ok && e.Kind != record.KindMedicationIssue {
			bySNOMED[c.Code] = e
		}
	}
	day := func(d record.Date) string { return d.T.Format("2006-01-02") }
	tests := []struct {
		sct, ctv3 string
		kind      record.Kind
		status    record.Status
		effective string
	}{
		{"887031000000108", "9Nd7.", record.KindNone, 0, "2020-01-06"},
		{"44054006", "X40J5", record.KindProblem, record.StatusActive, "2012-05-01"},
		{"263199001", "S23..", record.KindProblem, record.StatusInactive, "2015-02-10"},
		{"91936005", "14L2.", record.KindAllergy, record.StatusActive, "2001-05-02"},
		{"325278007", "", record.KindMedicationAuthorisation, record.StatusActive, "2024-01-10"},
		{"323509004", "", record.KindMedicationAuthorisation, record.StatusCompleted, "2025-03-01"},
		{"999791000000106", "XaPbt", record.KindInvestigation, 0, "2026-09-15"},
		{"183530004", "8H4E.", record.KindReferral, 0, "2026-09-15"},
		{"86198006", "65E..", record.KindImmunisation, 0, "2026-10-05"},
		{"80146002", "7611.", record.KindProcedure, 0, "2010-07-20"},
		{"414937009", "8CM1.", record.KindRisk, 0, "2026-06-01"},
		{"416098002", "14L..", record.KindAllergy, record.StatusActive, "2018-04-16"},
		{"1005671000000105", "44P..", record.KindInvestigation, 0, "2026-08-20"},
	}
	for _, tt := range tests {
		e := bySNOMED[tt.sct]
		if e == nil {
			t.Errorf("no entry coded %s", tt.sct)
			continue
		}
		if e.Kind != tt.kind || e.Status != tt.status || day(e.Effective) != tt.effective {
			t.Errorf("%s: %v %v %s; want %v %v %s", tt.sct, e.Kind, e.Status, day(e.Effective), tt.kind, tt.status, tt.effective)
		}
		if tt.ctv3 != "" && (e.Code.Codings[0].System != record.SystemCTV3 || e.Code.Codings[0].Code != tt.ctv3) {
			t.Errorf("%s: as-entered code %+v, want CTV3 %s first", tt.sct, e.Code.Codings[0], tt.ctv3)
		}
	}
	if bySNOMED["263199001"].End.T.Format("2006-01-02") != "2015-06-01" || bySNOMED["323509004"].End.T.Format("2006-01-02") != "2025-03-08" {
		t.Error("end dates")
	}
	// 14: the drug allergy heading, the drug named only in free text.
	if al := bySNOMED["416098002"]; al != nil && (al.Allergy == nil || !al.Allergy.AllergenUncoded || al.Allergy.Confirmed ||
		al.Allergy.Category != record.AllergyDrug) {
		t.Errorf("allergy, allergen not coded: %+v", al.Allergy)
	}
	// 15: a unit on no list: value kept, unit withheld.
	if ch := bySNOMED["1005671000000105"]; ch != nil && (ch.Value == nil || ch.Value.Value != "5.2" || ch.Value.Unit != "" || !ch.Value.UnitWithheld) {
		t.Errorf("cholesterol value %+v", ch.Value)
	}
	// 16: the mother's diabetes, about a relative: not shown.
	if len(relatives) != 1 {
		t.Errorf("%d statements about a relative, want 1", len(relatives))
	} else if c, _ := relatives[0].Code.Find(record.SystemSNOMED); c.Code != "44054006" || day(relatives[0].Effective) != "2018-09-03" {
		t.Errorf("statement about a relative %+v", relatives[0])
	}
	want := map[record.Kind]int{record.KindNone: 2, record.KindProblem: 2, record.KindAllergy: 2, record.KindMedicationAuthorisation: 2,
		record.KindMedicationIssue: 3, record.KindEncounter: 1, record.KindBloodPressure: 1, record.KindInvestigation: 2,
		record.KindReferral: 1, record.KindImmunisation: 1, record.KindProcedure: 1, record.KindRisk: 1}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%v entries = %d, want %d", k, kinds[k], n)
		}
	}
	var enc string
	for _, e := range rec.Entries {
		switch e.Kind {
		case record.KindEncounter:
			enc = e.ID
			// 10:30 UK time (BST) is 09:30 UTC.
			if e.Effective.T.In(record.UKTime).Format("2006-01-02T15:04") != "2026-09-15T10:30" {
				t.Errorf("encounter at %v", e.Effective.T)
			}
		case record.KindBloodPressure:
			if e.Systolic == nil || e.Diastolic == nil || e.Systolic.Value != "142" || e.Diastolic.Value != "88" || e.Systolic.Unit != "mm[Hg]" {
				t.Errorf("blood pressure %+v %+v", e.Systolic, e.Diastolic)
			}
		case record.KindMedicationIssue:
			if e.Medication.Authorisation == "" {
				t.Errorf("issue %s not tied to its authorisation", e.ID)
			}
		}
	}
	members := 0
	for _, e := range rec.Entries {
		if e.Encounter != "" {
			members++
			if e.Encounter != enc {
				t.Errorf("%s in encounter %q", e.ID, e.Encounter)
			}
		}
	}
	if members != 3 {
		t.Errorf("encounter holds %d entries, want 3 (BP, HbA1c, referral)", members)
	}
	if len(rec.SharingFlags) != 0 {
		t.Errorf("sharing flags %+v: the schema has none", rec.SharingFlags)
	}
}

// TestSharingConsentCodes: sharing consent is read from coded entries
// (9Nd7. consent, 9Nd1. dissent); SMSConsent is about text messages.
func TestSharingConsentCodes(t *testing.T) {
	tests := map[string]string{"9990003009": "9Nd7.", "9990003017": "9Nd7.", "9990003025": "", "9990003033": "9Nd1.",
		"9990003041": "9Nd7.", "9990003068": "9Nd7.", "9990003076": "9Nd7."}
	for nhs, want := range tests {
		rec, err := Parse(bytes.NewReader(readExtract(t, nhs)), opts(nhs))
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, e := range rec.Entries {
			if c, ok := e.Code.Find(record.SystemCTV3); ok && (c.Code == "9Nd7." || c.Code == "9Nd1.") {
				if e.Kind != record.KindNone {
					t.Errorf("%s: consent entry kind %v", nhs, e.Kind)
				}
				got = c.Code
			}
		}
		if got != want || len(rec.SharingFlags) != 0 {
			t.Errorf("%s: consent code %q, flags %v; want %q, none", nhs, got, rec.SharingFlags, want)
		}
	}
}

func TestErrors(t *testing.T) {
	good := string(readExtract(t, "9990003009"))
	nhs := regexp.MustCompile(`9990003009`)
	tests := []struct {
		name  string
		doc   string
		opt   record.ParseOptions
		code  string
		issue string
	}{
		{"malformed", strings.Replace(good, "</Surname>", "</Surnam>", 1), record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"truncated", good[:len(good)/2], record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"empty", "", record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"doctype with entity", `<?xml version="1.0"?><!DOCTYPE PatientRecord [<!ENTITY x "FREETEXT-entity">]>` + good[strings.Index(good, "<PatientRecord>"):],
			record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"undeclared entity", strings.Replace(good, "<Surname>Tpp", "<Surname>&x;Tpp", 1), record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"non-UTF-8 encoding", strings.Replace(good, `encoding="UTF-8"`, `encoding="ISO-8859-1"`, 1), record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"invalid UTF-8", strings.Replace(good, "Ann", "A\xffn", 1), record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"over the size limit", good, record.ParseOptions{Limits: xmltok.Limits{MaxBytes: 1024}}, mig.ETOOLARGE, mig.IssueMalformedExtract},
		{"too deep", good, record.ParseOptions{Limits: xmltok.Limits{MaxDepth: 4}}, mig.ETOOLARGE, mig.IssueMalformedExtract},
		{"wrong root", strings.ReplaceAll(good, "PatientRecord>", "Other>"), record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"content after root", good + "<PatientRecord/>", record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"bad event date", strings.Replace(good, `DateTime="2010-07-20T00:00:00"`, `DateTime="FREETEXT-date"`, 1), record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"bad item date", strings.Replace(good, "<ProblemEndDate>2015-06-01<", "<ProblemEndDate>01/06/2015<", 1), record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"bad birth date", strings.Replace(good, "<DateOfBirth>1950-03-14<", "<DateOfBirth>1950-3-14<", 1), record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"bad value", strings.Replace(good, "<Value>58</Value>", "<Value>FREETEXT-58</Value>", 1), record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"bad integer", strings.Replace(good, "<MaxIssues>6<", "<MaxIssues>six<", 1), record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"two identities", strings.Replace(good, "</Identity>", "</Identity><Identity><NHSNumber>9990003009</NHSNumber></Identity>", 1), record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"wrong NHS number", good, record.ParseOptions{NHSNumber: "9990003017"}, mig.ECONFLICT, mig.IssueIdentityMismatch},
		{"NHS number missing", strings.Replace(good, "<NHSNumber>9990003009</NHSNumber>", "<PseudoNumber>X1</PseudoNumber>", 1), record.ParseOptions{NHSNumber: "9990003009"}, mig.ECONFLICT, mig.IssueIdentityMismatch},
		{"Identity missing", strings.Replace(good, "<NHSNumber>9990003009</NHSNumber>", "", 1), record.ParseOptions{NHSNumber: "9990003009"}, mig.ECONFLICT, mig.IssueIdentityMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := Parse(strings.NewReader(tt.doc), tt.opt)
			if err == nil {
				t.Fatalf("no error; record with %d entries", len(rec.Entries))
			}
			var me *mig.Error
			if !errors.As(err, &me) {
				t.Fatalf("error %T %v is not *mig.Error", err, err)
			}
			if me.Code != tt.code || me.Issue != tt.issue {
				t.Errorf("error %v: code %s issue %s, want %s %s", err, me.Code, me.Issue, tt.code, tt.issue)
			}
			if !strings.HasPrefix(me.Message, "tpp extract") {
				t.Errorf("message %q does not name the format", me.Message)
			}
			if strings.Contains(me.Message, "FREETEXT") || nhs.MatchString(me.Message) || strings.Contains(me.Message, "Tpp") {
				t.Errorf("message %q carries content", me.Message)
			}
		})
	}
	// Without an NHS number asked for, the extract's own is reported.
	rec, err := Parse(strings.NewReader(good), record.ParseOptions{})
	if err != nil || rec.Patient.NHSNumber != "9990003009" || rec.Format != "tpp" {
		t.Errorf("Parse without NHS number: %v %+v", err, rec)
	}
}

// TestSchemaNames checks that every element and attribute name the
// parser acts on is declared in the reference schema, so a typo cannot
// silently skip data. Skipped when ../shared/reference is absent.
func TestSchemaNames(t *testing.T) {
	xsd, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "..", "shared", "reference", "tpp", "TppPatientRecord.xsd"))
	if err != nil {
		t.Skipf("reference schema not available: %v", err)
	}
	var all []byte
	for _, f := range []string{"tpp.go", "event.go", "medication.go", "nonclinical.go", "codes.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	names := map[string]bool{}
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`case ((?:"[A-Za-z]+",? ?)+):`),
		regexp.MustCompile(`(?:text|Child|All|Attr|date|integer)\((?:\w+, )?(?:path, )?"([A-Za-z]+)"\)`),
		regexp.MustCompile(`t\.Local (?:==|!=) "([A-Za-z]+)"`),
	} {
		for _, m := range re.FindAllSubmatch(all, -1) {
			for _, n := range regexp.MustCompile(`[A-Za-z]+`).FindAll(m[1], -1) {
				names[string(n)] = true
			}
		}
	}
	t.Logf("%d names checked", len(names))
	if len(names) < 40 {
		t.Fatalf("found only %d names in the parser: the test's patterns are stale", len(names))
	}
	for n := range names {
		switch n {
		case "CTV", "Snomed", "M", "F", "Major", "Minor", "systolic", "diastolic", "bp":
			continue // values, not names
		}
		if !bytes.Contains(xsd, []byte(`name="`+n+`"`)) {
			t.Errorf("%q is not declared in TppPatientRecord.xsd", n)
		}
	}
}
