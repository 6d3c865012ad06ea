package fhir

import (
	"encoding/csv"
	"encoding/json"
	"html"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"mig/adapters/record"
	"mig/internal/testenv"
)

func TestTermLooksCoded(t *testing.T) {
	tests := []struct {
		term string
		ok   bool
	}{
		{"Type 2 diabetes mellitus", true},
		{"H/O: penicillin allergy", true},
		{"O/E - blood pressure reading", true},
		{"Allergy, unspecified", true},
		{"Administration of first dose of vaccine product containing only Severe acute respiratory syndrome coronavirus 2 antigen", true},
		{"Metformin 500mg tablets", true},
		{"eGFR (estimated glomerular filtration rate) using creatinine (CKD-EPI) per 1.73 square metres", true},
		{"Haemoglobin A1c level - IFCC standardised", true},
		{"Influenza vaccination 2023/24 season", true},
		{"", false},
		{"Patient says she is scared of her husband. Call 07700 900123", false},
		{"ring 07700900123", false},
		{"NHS 943 476 5919", false},
		{"943-476-5919", false},
		{"see j.smith@example.org", false},
		{"http://evil.example/x", false},
		{"www.example.com", false},
		{"details at example.nhs.uk", false},
		{"Is she safe?", false},
		{"Do not tell her!", false},
		{"Diabetes; lives alone", false},
		{"Lives alone. Carer daily", false},
		{"Lives alone. 2 carers", false},
		{"Measles/mumps/rubella vaccn.", true},
		{"Trivial drinker - <1u/day", true},
		{"eGFR >90", true},
		{"Note.. follow up", false},
		{"He said \"never\"", false},
		{"<script>alert(1)</script>", false},
		{"line\nbreak", false},
		{strings.Repeat("word ", 30), false},
		{strings.Repeat("x", MaxTermLength+1), false},
	}
	for _, tc := range tests {
		if got := TermLooksCoded(tc.term); got != tc.ok {
			t.Errorf("TermLooksCoded(%.40q) = %v, want %v", tc.term, got, tc.ok)
		}
	}
}

type fakeTerminology map[string]string

func (f fakeTerminology) Display(system, code string) (string, bool) {
	s, ok := f[system+"|"+code]
	return s, ok
}

// TestTermPolicy: which term a coding shows in each mode, and the masked
// marker wherever an extract's term was not shown.
func TestTermPolicy(t *testing.T) {
	planted := "Patient disclosed abuse. Call 07700 900123"
	rec := func() *record.Record {
		return oneRecord(record.Entry{ID: "dx", Kind: record.KindDiagnosis, Code: record.Concept{Codings: []record.Coding{
			{System: record.SystemReadV2, Code: "H33..", Term: record.NewTerm("Asthma")},
			{System: record.SystemSNOMED, Code: "195967001", Term: record.NewTerm(planted)},
			{System: record.SystemSNOMED, Code: "22298006"},
		}}})
	}
	tests := []struct {
		name   string
		policy TermPolicy
		want   []string // display per coding; "masked" for a suppressed one, "" for none
	}{
		{"strict", TermPolicy{}, []string{"masked", "masked", ""}},
		{"filter", TermPolicy{Filter: true}, []string{"Asthma", "masked", ""}},
		{"terminology", TermPolicy{Terminology: fakeTerminology{
			record.SystemSNOMED + "|195967001": "Asthma (from the release)",
			record.SystemSNOMED + "|22298006":  "Myocardial infarction"}},
			[]string{"masked", "Asthma (from the release)", "Myocardial infarction"}},
		{"terminology wins over filter", TermPolicy{Filter: true, Terminology: fakeTerminology{}}, []string{"masked", "masked", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &Mapper{IDs: mustIDs(t, 7), Base: "https://mig.example.nhs.uk/fhir/", Terms: tc.policy}
			res, bodies := mapAll(t, m, tagged(rec()), nil)
			if len(res.Resources) != 1 {
				t.Fatalf("%d resources", len(res.Resources))
			}
			b := bodies[1]
			validate(t, "condition", b)
			if strings.Contains(string(b), "07700") || strings.Contains(string(b), `"display":""`) {
				t.Fatalf("planted term or empty display in %s", b)
			}
			var c map[string]any
			if err := json.Unmarshal(b, &c); err != nil {
				t.Fatal(err)
			}
			for i, want := range tc.want {
				cd := get(c, "code", "coding", string(rune('0'+i))).(map[string]any)
				got, _ := cd["display"].(string)
				if get(cd, "_display", "extension", "0", "valueCode") == "masked" {
					got = "masked"
				}
				if got != want {
					t.Errorf("coding %d display %q, want %q", i, got, want)
				}
			}
		})
	}
}

// TestTermFilterFalsePositives: every national code's term in the shared
// GP2GP samples and fragments, and every term of the SNOMED CT
// immunisation list, passes the filter, but for the rejections listed here
// with why. A real term the filter hides costs a clinician the words beside
// a code; the code still stands.
func TestTermFilterFalsePositives(t *testing.T) {
	justified := map[string]string{
		// A drug allergy's term in which the GP system wrote the product, its
		// supplier and a quantity after "@": a prescription line, not a code's
		// term; the allergy keeps its code.
		"Propranolol 10mg tablets (Almus Pharmaceuticals Ltd) @ 28 tablet(s)": "prescription text after @",
	}
	national := map[string]bool{
		"2.16.840.1.113883.2.1.6.2":      true, // Read v2
		"2.16.840.1.113883.2.1.3.2.4.14": true, // CTV3
		"2.16.840.1.113883.2.1.3.2.4.15": true, // SNOMED CT
	}
	codeRE := regexp.MustCompile(`<(?:code|translation|value)\b[^>]*>`)
	attr := func(tag, name string) string {
		m := regexp.MustCompile(`\b` + name + `="([^"]*)"`).FindStringSubmatch(tag)
		if m == nil {
			return ""
		}
		return html.UnescapeString(m[1])
	}
	terms := map[string]string{} // term -> where
	root := testenv.Reference(t, "gp2gp")
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".xml") || strings.Contains(path, "schemas") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range codeRE.FindAllString(string(b), -1) {
			if national[attr(tag, "codeSystem")] {
				if s := strings.TrimSpace(attr(tag, "displayName")); s != "" {
					terms[s] = filepath.Base(path)
				}
			}
		}
		return nil
	})
	f, err := os.Open(filepath.Join(testenv.Reference(t, "snomed"), "snomed_immunization_codes.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows[1:] {
		if len(r) > 1 && strings.TrimSpace(r[1]) != "" {
			terms[strings.TrimSpace(r[1])] = "snomed_immunization_codes.csv"
		}
	}
	if len(terms) < 500 {
		t.Fatalf("%d terms collected: the collector is broken", len(terms))
	}
	var rejected []string
	for term, where := range terms {
		if !TermLooksCoded(term) {
			if _, ok := justified[term]; !ok {
				rejected = append(rejected, where+": "+term)
			}
		}
	}
	sort.Strings(rejected)
	for _, r := range rejected {
		t.Errorf("a real term is rejected: %s", r)
	}
	t.Logf("%d real terms checked, %d rejections justified", len(terms), len(justified))
}
