package record

import (
	"strings"
	"testing"
	"time"
)

func TestKindOf(t *testing.T) {
	rv := func(c string) Concept { return Concept{Codings: []Coding{{System: SystemReadV2, Code: c}}} }
	ctv3 := func(c string) Concept { return Concept{Codings: []Coding{{System: SystemCTV3, Code: c}}} }
	cl := &Classifier{}
	for _, tc := range []struct {
		name string
		c    Concept
		want Kind
	}{
		{"diagnosis A-Q", rv("C10F.00"), KindDiagnosis},
		{"diagnosis R", rv("R0601"), KindDiagnosis},
		{"injury S", rv("S23..00"), KindDiagnosis},
		{"BP reading", rv("246..00"), KindBloodPressure},
		{"systolic", rv("2469.00"), KindBloodPressure},
		{"other chapter 2 hidden", rv("22A..00"), KindNone},
		{"investigation 4", rv("42W5.00"), KindInvestigation},
		{"imaging 5", rv("5....00"), KindInvestigation},
		{"immunisation", rv("65E..00"), KindImmunisation},
		{"chapter 6 other hidden", rv("66A..00"), KindNone},
		{"operation", rv("7611.00"), KindProcedure},
		{"admission", rv("8H2..00"), KindAdmission},
		{"referral", rv("8H4E.00"), KindReferral},
		{"other chapter 8 procedure", rv("8B3..00"), KindProcedure},
		{"allergy history", rv("14L2.00"), KindAllergy},
		{"other chapter 1 hidden", rv("137R.00"), KindNone},
		{"consent code hidden", rv("9Nd7.00"), KindNone},
		{"drug code hidden", rv("f41y.00"), KindNone},
		{"risk in default set", rv("8CM1.00"), KindRisk},
		{"ctv3 twin", ctv3("C10F."), KindDiagnosis},
		{"ctv3 X code no rule", ctv3("X40J5"), KindNone},
		{"ctv3 BP", ctv3("XaJ2E"), KindBloodPressure},
		{"snomed only", Concept{Codings: []Coding{{System: SystemSNOMED, Code: "44054006"}}}, KindNone},
		{"snomed systolic", Concept{Codings: []Coding{{System: SystemSNOMED, Code: "72313002"}}}, KindBloodPressure},
		{"empty", Concept{}, KindNone},
	} {
		if got := cl.KindOf(tc.c); got != tc.want {
			t.Errorf("%s: KindOf = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCustomRiskSet(t *testing.T) {
	cl := &Classifier{Risks: CodeSet{CodeKey(SystemReadV2, "1JA.."): true}}
	c := Concept{Codings: []Coding{{System: SystemReadV2, Code: "1JA..00"}}}
	if got := cl.KindOf(c); got != KindRisk {
		t.Fatalf("KindOf = %v, want risk", got)
	}
	// The default set no longer applies when replaced.
	c = Concept{Codings: []Coding{{System: SystemReadV2, Code: "8CM1."}}}
	if got := cl.KindOf(c); got != KindProcedure {
		t.Fatalf("KindOf = %v, want procedure", got)
	}
}

func TestTag(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	day := func(y int, m time.Month, d int) Date {
		return Date{T: time.Date(y, m, d, 0, 0, 0, 0, time.UTC), P: PrecisionDay}
	}
	rec := &Record{Entries: []Entry{
		{ID: "p1", Kind: KindProblem, Status: StatusActive},
		{ID: "p2", Kind: KindProblem, Status: StatusInactive},
		{ID: "a1", Kind: KindMedicationAuthorisation, Status: StatusActive},
		{ID: "a2", Kind: KindMedicationAuthorisation, Status: StatusStopped},
		{ID: "i1", Kind: KindMedicationIssue, Effective: day(2026, 11, 10), Medication: &MedicationInfo{Type: PrescriptionAcute}},
		{ID: "i2", Kind: KindMedicationIssue, Effective: day(2026, 9, 1), Medication: &MedicationInfo{Type: PrescriptionAcute}},
		{ID: "i3", Kind: KindMedicationIssue, Effective: day(2026, 11, 10), Medication: &MedicationInfo{Type: PrescriptionRepeat}},
		{ID: "t1", Kind: KindInvestigation, Effective: day(2026, 1, 5)},
		{ID: "t2", Kind: KindInvestigation, Effective: day(2024, 1, 5)},
		{ID: "bp", Kind: KindBloodPressure, Effective: day(2026, 1, 5)},
		{ID: "al", Kind: KindAllergy, Status: StatusActive},
		{ID: "en", Kind: KindEncounter},
		{ID: "im", Kind: KindImmunisation},
		{ID: "no", Kind: KindNone},
	}}
	Tag(rec, DefaultViewContext(now))
	want := map[string][]View{
		"p1": {ViewSummary, ViewProblems}, "p2": {ViewProblems},
		"a1": {ViewSummary, ViewMedication}, "a2": {ViewMedication},
		"i1": {ViewSummary, ViewMedication}, "i2": {ViewMedication}, "i3": {ViewMedication},
		"t1": {ViewSummary, ViewInvestigations}, "t2": {ViewInvestigations},
		"bp": {ViewExamination}, "al": {ViewSummary}, "en": {ViewEvents},
		"im": {ViewProcedures}, "no": nil,
	}
	for _, e := range rec.Entries {
		w := want[e.ID]
		if len(e.Views) != len(w) {
			t.Errorf("%s: views %v, want %v", e.ID, e.Views, w)
			continue
		}
		for i := range w {
			if e.Views[i] != w[i] {
				t.Errorf("%s: views %v, want %v", e.ID, e.Views, w)
			}
		}
	}
	if len(AllViews()) != 10 {
		t.Fatalf("want ten views, got %d", len(AllViews()))
	}
}

// TestDefaultRiskCodesAreSCTIDs: every SNOMED CT code of the default risk
// set is a well-formed concept id (a made-up id once stood in it).
func TestDefaultRiskCodesAreSCTIDs(t *testing.T) {
	for _, r := range defaultRisks {
		if r.System == SystemSNOMED && (!ValidSCTID(r.Code) || SCTPartition(r.Code) != '0') {
			t.Errorf("risk code %s is not a SNOMED CT concept id", r.Code)
		}
	}
}

func TestFinish(t *testing.T) {
	code := Concept{Codings: []Coding{{System: SystemReadV2, Code: "H33.."}}}
	// The adapter left out consultation C1, authorisation A and result M2
	// as confidential; what links to them goes too.
	r := &Record{Entries: []Entry{
		{ID: "I", Kind: KindMedicationIssue, Code: code, Medication: &MedicationInfo{Authorisation: "A"}},
		{ID: "X", Kind: KindDiagnosis, Code: code, Encounter: "C1"},
		{ID: "B", Kind: KindInvestigation, Code: code, Members: []string{"M1", "M2"}},
		{ID: "M1", Kind: KindInvestigation, Code: code, Parent: "B"},
		{ID: "D", Kind: KindDiagnosis, Code: code},
		{ID: "D", Kind: KindDiagnosis, Code: code},
		{ID: "D", Kind: KindProcedure, Code: code},
	}}
	for _, id := range []string{"C1", "A", "M2"} {
		r.Withhold(id)
	}
	r.Finish()
	var got []string
	for _, e := range r.Entries {
		got = append(got, e.ID)
	}
	want := []string{"B", "M1", "D", "D#2"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("entries %v, want %v", got, want)
	}
	if b := r.Entries[0]; !b.Battery || len(b.Members) != 1 || b.Members[0] != "M1" {
		t.Errorf("battery %+v", b)
	}
	if r.Stats.Duplicate != 1 || !r.Withheld {
		t.Errorf("stats %+v", r.Stats)
	}
	// A hostile run of one id costs a bounded number of comparisons.
	r = &Record{}
	for i := 0; i < 20000; i++ {
		r.Entries = append(r.Entries, Entry{ID: "Z", Kind: KindDiagnosis, Code: code, Effective: Date{P: Precision(i % 200)}})
	}
	r.Finish()
	if len(r.Entries) < 200 {
		t.Errorf("%d entries left of 20000 with 200 distinct contents", len(r.Entries))
	}
}

// TestDemographicShapes: a name or address part with a sentence, a phone
// number, an e-mail or markup in it is dropped; real ones are kept.
func TestDemographicShapes(t *testing.T) {
	n := NewHumanName("Mrs", []string{"Anne-Marie", "O'Neill", "Call 07700 900123"}, "Disclosed abuse. Call 07700 900123")
	if n.Prefix() != "Mrs" || strings.Join(n.Given(), ",") != "Anne-Marie,O'Neill" || n.Family() != "" {
		t.Errorf("name %+v", n)
	}
	if n := NewHumanName("Dr.", []string{"José"}, "Smith-Jones"); n.Prefix() != "Dr." || n.Given()[0] != "José" || n.Family() != "Smith-Jones" {
		t.Errorf("real name dropped: %+v", n)
	}
	a := NewAddress([]string{"Flat 2, 14 St. Mary's Road", "see j@x.org", "<script>", "ring 0113 496 0000 now"},
		"Leeds", "West Yorkshire! Call now", "LS1 1AA")
	if strings.Join(a.Lines(), "|") != "Flat 2, 14 St. Mary's Road" || a.City() != "Leeds" || a.District() != "" || a.PostalCode() != "LS1 1AA" {
		t.Errorf("address %+v", a)
	}
	if a := NewAddress(nil, "", "", "not a postcode"); a.PostalCode() != "" {
		t.Errorf("postcode %q kept", a.PostalCode())
	}
	if a := NewAddress([]string{strings.Repeat("a", 36)}, "", "", "ls11aa"); len(a.Lines()) != 0 || a.PostalCode() != "ls11aa" {
		t.Errorf("long line kept or postcode dropped: %+v", a)
	}
}

func TestSNOMEDCoding(t *testing.T) {
	for _, tc := range []struct{ in, code, desc string }{
		{"22298006", "22298006", ""},                 // a concept
		{"37443015", "", "37443015"},                 // a description id
		{"183504008", "", ""},                        // a wrong check digit: not a SNOMED code
		{"call 07700 900123", "", ""},                // not an SCTID at all
		{"0123456", "", ""},                          // leading zero
		{"9999991000000104", "9999991000000104", ""}, // an extension concept
	} {
		c := SNOMEDCoding(tc.in, NewTerm("x"))
		if c.System != SystemSNOMED || c.Code != tc.code || c.DescriptionID != tc.desc {
			t.Errorf("SNOMEDCoding(%q) = %+v", tc.in, c)
		}
	}
}

func TestFamilyHistory(t *testing.T) {
	for _, tc := range []struct {
		c    Concept
		want bool
	}{
		{Concept{Codings: []Coding{{System: SystemReadV2, Code: "12C1.00"}}}, true},
		{Concept{Codings: []Coding{{System: SystemCTV3, Code: "12C1."}}}, true},
		{Concept{Codings: []Coding{{System: SystemSNOMED, Code: "416471007"}}}, true},
		{Concept{Codings: []Coding{{System: SystemReadV2, Code: "C10F."}, {System: SystemSNOMED, Code: "44054006"}}}, false},
		{Concept{Codings: []Coding{{System: SystemCTV3, Code: "Y12ab"}}}, false}, // TPP local, not chapter 12
	} {
		if got := FamilyHistory(tc.c); got != tc.want {
			t.Errorf("FamilyHistory(%v) = %v, want %v", tc.c.Codings, got, tc.want)
		}
	}
}
