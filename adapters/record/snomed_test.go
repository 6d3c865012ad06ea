package record

import (
	"bytes"
	"os"
	"testing"

	"mig/adapters/record/internal/immgen"
	"mig/internal/testenv"
)

// TestImmunisationsGenerated re-derives the immunisation code set from the
// list in ../shared/reference (read in place; skipped when absent) and
// checks that immunisations.go is exactly what the generator writes.
func TestImmunisationsGenerated(t *testing.T) {
	csvPath := testenv.Reference(t, "snomed", "snomed_immunization_codes.csv")
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := immgen.Derive(f, ValidSCTID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 385 || res.FromSafety != 155 || len(res.Rejected) != 0 {
		t.Errorf("rows %d, from Safety Code %d, rejected %v; want 385, 155, none", res.Rows, res.FromSafety, res.Rejected)
	}
	if len(res.Given) != len(snomedImmunisations) || len(res.NotGiven) != len(snomedImmunisationsNotGiven) {
		t.Errorf("derived %d given, %d not given; immunisations.go has %d, %d: run go generate in adapters/record",
			len(res.Given), len(res.NotGiven), len(snomedImmunisations), len(snomedImmunisationsNotGiven))
	}
	for _, id := range res.Given {
		if !snomedImmunisations[id] {
			t.Errorf("%s derived but not in snomedImmunisations", id)
		}
	}
	for _, id := range res.NotGiven {
		if !snomedImmunisationsNotGiven[id] {
			t.Errorf("%s derived but not in snomedImmunisationsNotGiven", id)
		}
	}
	want, err := immgen.Render(res)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("immunisations.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("immunisations.go differs from what the generator writes: run go generate in adapters/record")
	}
}

// TestImmunisationSet checks the shipped set without the reference list:
// every id a valid concept id, the two sets apart, known ids where they
// belong (each checked against the list by hand: row, Description).
func TestImmunisationSet(t *testing.T) {
	for name, set := range map[string]map[string]bool{"given": snomedImmunisations, "not given": snomedImmunisationsNotGiven} {
		if len(set) == 0 {
			t.Errorf("%s: empty", name)
		}
		for id := range set {
			if !ValidSCTID(id) || SCTPartition(id) != '0' {
				t.Errorf("%s: %s is not a valid concept id", name, id)
			}
		}
	}
	for id := range snomedImmunisationsNotGiven {
		if snomedImmunisations[id] {
			t.Errorf("%s is both given and not given", id)
		}
	}
	for _, tc := range []struct {
		id    string
		given bool
		why   string
	}{
		{"86198006", true, "administration of influenza vaccine (the equivalence story's item 11)"},
		{"33879002", true, "active immunisation"},
		{"571511000119102", true, "adult hepatitis A vaccine: Concept Id mangled to 571511000000000"},
		{"822851000000102", true, "seasonal influenza vaccination: mangled, yet 822851000000000 passes Verhoeff"},
		{"90351000119108", false, "vaccination not done"},
	} {
		if snomedImmunisations[tc.id] != tc.given || snomedImmunisationsNotGiven[tc.id] == tc.given {
			t.Errorf("%s (%s): given %v, want %v", tc.id, tc.why, snomedImmunisations[tc.id], tc.given)
		}
	}
	for _, mangled := range []string{"571511000000000", "822851000000000", "90351000000000"} {
		if snomedImmunisations[mangled] || snomedImmunisationsNotGiven[mangled] {
			t.Errorf("mangled id %s shipped", mangled)
		}
	}
}

func TestRoundSignificant(t *testing.T) {
	for in, want := range map[string]string{
		"571511000119102":   "571511000000000",
		"16292241000119109": "16292200000000000",
		"1363831000000108":  "1363830000000000",
		"90351000119108":    "90351000000000",
		"86198006":          "86198000",
		"123456":            "123456",
		"1234565":           "1234570",
		"12x4567":           "",
	} {
		if got := immgen.RoundSignificant(in, 6); got != want {
			t.Errorf("RoundSignificant(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestDeriveRejects(t *testing.T) {
	csv := "\ufeffConcept Id,Description,Safety Code\r\n" +
		"86198006,FREETEXT-a,\"\t86198006\"\r\n" + // line 2: fine
		"86198007,FREETEXT-b,\"\t86198007\"\r\n" + // line 3: bad check digit
		"123456789,FREETEXT-c,\"\t86198006\"\r\n" + // line 4: columns disagree, not a rounding
		"571511000000000,FREETEXT-d,\"\t571511000119102\"\r\n" + // line 5: mangled, from Safety Code
		"12345013,FREETEXT-e,\"\t12345013\"\r\n" + // line 6: a description id (valid SCTID, partition 01)
		"90351000000000,x not done,\"\t90351000119108\"\r\n" // line 7: not given
	res, err := immgen.Derive(bytes.NewReader([]byte(csv)), ValidSCTID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 6 || res.FromSafety != 2 || len(res.Given) != 2 || len(res.NotGiven) != 1 {
		t.Errorf("%+v", res)
	}
	lines := []int{}
	for _, r := range res.Rejected {
		lines = append(lines, r.Line)
		if bytes.Contains([]byte(r.Reason), []byte("FREETEXT")) {
			t.Errorf("reason quotes content: %s", r.Reason)
		}
	}
	if len(lines) != 3 || lines[0] != 3 || lines[1] != 4 || lines[2] != 6 {
		t.Errorf("rejected lines %v, want [3 4 6]", lines)
	}
}

// TestSNOMEDRulesTable checks every row: a valid concept id, a source, a
// kind or a rule (never both), no ancestor twice.
func TestSNOMEDRulesTable(t *testing.T) {
	seen := map[string]bool{}
	for i, r := range snomedRules {
		if !ValidSCTID(r.Ancestor) || SCTPartition(r.Ancestor) != '0' {
			t.Errorf("row %d: %s is not a valid concept id", i, r.Ancestor)
		}
		if seen[r.Ancestor] {
			t.Errorf("row %d: %s listed twice", i, r.Ancestor)
		}
		seen[r.Ancestor] = true
		if r.Source == "" {
			t.Errorf("row %d (%s): no source", i, r.Ancestor)
		}
		if (r.Kind == KindNone) == (r.Rule == RuleNone) || r.Rule == RuleUnclassifiable {
			t.Errorf("row %d (%s): kind %v with rule %q", i, r.Ancestor, r.Kind, r.Rule)
		}
	}
}

// fakeHierarchy is a hand-built IS-A graph over real concept ids.
type fakeHierarchy map[string][]string

func (h fakeHierarchy) IsA(c, a string) bool {
	if c == a {
		return true
	}
	for _, p := range h[c] {
		if h.IsA(p, a) {
			return true
		}
	}
	return false
}

func TestClassifySNOMEDOnly(t *testing.T) {
	h := fakeHierarchy{
		"44054006":        {"73211009"},              // type 2 diabetes -> diabetes mellitus
		"73211009":        {"64572001"},              // -> disease
		"64572001":        {"404684003"},             // -> clinical finding
		"91936005":        {"609328004"},             // allergy to penicillin -> allergic disposition
		"609328004":       {"420134006"},             // -> propensity to adverse reaction
		"420134006":       {"404684003"},             // -> clinical finding
		"416098002":       {"420134006", "64572001"}, // drug allergy: both parents, allergy wins
		"29857009":        {"404684003"},             // chest pain -> clinical finding
		"160303001":       {"57177007"},              // family history of diabetes -> family history
		"57177007":        {"243796009"},             // -> situation
		"716186003":       {"243796009"},             // no known allergy -> situation
		"161501007":       {"417662000"},             // history of hypertension -> history of finding
		"417662000":       {"243796009"},
		"80146002":        {"387713003"}, // appendicectomy -> surgical procedure
		"387713003":       {"71388002"},
		"306206005":       {"3457005"}, // referral to service -> patient referral
		"3457005":         {"71388002"},
		"32485007":        {"71388002"},
		"185349003":       {"308335008"}, // encounter for check up -> patient encounter procedure
		"308335008":       {"71388002"},
		"43396009":        {"15220000"}, // haemoglobin A1c measurement -> laboratory test
		"15220000":        {"386053000"},
		"386053000":       {"71388002"},
		"127785005":       {"71388002"},
		"999791000000106": {"363787002"}, // HbA1c level (observable entity)
		"325278007":       {"373873005"}, // metformin 500 mg tablet -> product
	}
	cl := &Classifier{Hierarchy: h}
	for _, tc := range []struct {
		code string
		kind Kind
		rule Rule
	}{
		{"44054006", KindDiagnosis, RuleNone},
		{"91936005", KindAllergy, RuleNone},
		{"416098002", KindAllergy, RuleNone},
		{"29857009", KindNone, RuleHistory},
		{"160303001", KindNone, RuleRelative},
		{"716186003", KindAllergy, RuleNone},
		{"161501007", KindNone, RuleHistory},
		{"80146002", KindProcedure, RuleNone},
		{"306206005", KindReferral, RuleNone},
		{"32485007", KindAdmission, RuleNone},
		{"185349003", KindNone, RuleAdministration},
		{"43396009", KindInvestigation, RuleNone},
		{"86198006", KindImmunisation, RuleNone},          // shipped set, no hierarchy needed
		{"999791000000106", KindNone, RuleUnclassifiable}, // observable entity: deliberately not decided
		{"325278007", KindNone, RuleDrugCode},
		{"12345678901234", KindNone, RuleUnclassifiable}, // unknown to the release
	} {
		c := Concept{Codings: []Coding{{System: SystemSNOMED, Code: tc.code}}}
		if k, r := cl.Classify(c); k != tc.kind || r != tc.rule {
			t.Errorf("%s: %v %q, want %v %q", tc.code, k, r, tc.kind, tc.rule)
		}
	}
	// Without a release only the shipped sets decide.
	var none *Classifier
	if k, r := none.Classify(Concept{Codings: []Coding{{System: SystemSNOMED, Code: "44054006"}}}); k != KindNone || r != RuleUnclassifiable {
		t.Errorf("no release: %v %q", k, r)
	}
	if k, _ := none.Classify(Concept{Codings: []Coding{{System: SystemSNOMED, Code: "571511000119102"}}}); k != KindImmunisation {
		t.Errorf("no release, shipped immunisation: %v", k)
	}
}
