package gp2gp

import (
	"mig/internal/testenv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mig/adapters/record"
	"mig/adapters/xmltok"
)

func TestParseTS(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}
	tests := []struct {
		in   string
		ok   bool
		want record.Date
	}{
		{"2012", true, record.Date{T: utc(2012, 1, 1, 0, 0, 0), P: record.PrecisionYear}},
		{"201205", true, record.Date{T: utc(2012, 5, 1, 0, 0, 0), P: record.PrecisionMonth}},
		{"20120501", true, record.Date{T: utc(2012, 5, 1, 0, 0, 0), P: record.PrecisionDay}},
		// No zone: UK local time, British Summer Time in May (UTC+1).
		{"2012050113", true, record.Date{T: utc(2012, 5, 1, 12, 0, 0), P: record.PrecisionMinute}},
		{"201205011330", true, record.Date{T: utc(2012, 5, 1, 12, 30, 0), P: record.PrecisionMinute}},
		{"20120501133005", true, record.Date{T: utc(2012, 5, 1, 12, 30, 5), P: record.PrecisionSecond}},
		{"20120501133005.123", true, record.Date{T: utc(2012, 5, 1, 12, 30, 5), P: record.PrecisionSecond}},
		// Greenwich Mean Time in January: UTC.
		{"201201011330", true, record.Date{T: utc(2012, 1, 1, 13, 30, 0), P: record.PrecisionMinute}},
		{"20120501133005+0100", true, record.Date{T: utc(2012, 5, 1, 12, 30, 5), P: record.PrecisionSecond}},
		{"201205011330-0500", true, record.Date{T: utc(2012, 5, 1, 18, 30, 0), P: record.PrecisionMinute}},
		{"20120501+0100", true, record.Date{T: utc(2012, 5, 1, 0, 0, 0), P: record.PrecisionDay}},
		{" 20120501 ", true, record.Date{T: utc(2012, 5, 1, 0, 0, 0), P: record.PrecisionDay}},
		{"", false, record.Date{}},
		{"2012-05-01", false, record.Date{}},
		{"20121301", false, record.Date{}},
		{"20120230", false, record.Date{}},
		{"2012050", false, record.Date{}},
		{"20120501+01", false, record.Date{}},
		{"20120501+2500", false, record.Date{}},
		{"201205011330.5", false, record.Date{}},
		{"abcd", false, record.Date{}},
	}
	for _, tc := range tests {
		got, ok := parseTS(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseTS(%q) = %v %v, want %v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func node(t *testing.T, x string) *xmltok.Node {
	t.Helper()
	d := xmltok.NewDecoder(strings.NewReader(x), xmltok.Limits{})
	tok, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	n, err := d.ReadNode(tok)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestConcept(t *testing.T) {
	const read, snomed, ctv3, local = oidReadV2, oidSNOMED, oidCTV3, "2.16.840.1.113883.2.1.6.3"
	tests := []struct {
		name string
		xml  string
		want []record.Coding
	}{
		{"Read v2 kept as entered, then translation",
			`<code code="137R.00" codeSystem="` + read + `" displayName="Current smoker"><originalText>free</originalText><translation code="77176002" codeSystem="` + snomed + `" displayName="Smoker"/></code>`,
			[]record.Coding{{System: record.SystemReadV2, Code: "137R.00", Term: record.NewTerm("Current smoker")}, {System: record.SystemSNOMED, Code: "77176002", Term: record.NewTerm("Smoker")}}},
		{"CTV3", `<code code="XaPbt" codeSystem="` + ctv3 + `" displayName="HbA1c"/>`,
			[]record.Coding{{System: record.SystemCTV3, Code: "XaPbt", Term: record.NewTerm("HbA1c")}}},
		{"local code with a national translation: kept without its term",
			`<code code="EMIS1" codeSystem="` + local + `" displayName="free text"><translation code="22A..00" codeSystem="` + read + `" displayName="O/E - weight"/></code>`,
			[]record.Coding{{System: "urn:oid:" + local, Code: "EMIS1"}, {System: record.SystemReadV2, Code: "22A..00", Term: record.NewTerm("O/E - weight")}}},
		{"EMIS drug code", `<code code="ASTA4609" codeSystem="2.16.840.1.113883.2.1.6.9" displayName="x"><translation code="319775004" codeSystem="` + snomed + `" displayName="Aspirin 75mg tablets"/></code>`,
			[]record.Coding{{System: record.SystemEMISDrug, Code: "ASTA4609"}, {System: record.SystemSNOMED, Code: "319775004", Term: record.NewTerm("Aspirin 75mg tablets")}}},
		{"local code alone: nothing", `<code code="EMISNQAD2" codeSystem="` + local + `" displayName="Adverse reactions"/>`, nil},
		{"unknown system without OID form: dropped", `<code code="X" codeSystem="not-an-oid" displayName="x"><translation code="H33..00" codeSystem="` + read + `" displayName="Asthma"/></code>`,
			[]record.Coding{{System: record.SystemReadV2, Code: "H33..00", Term: record.NewTerm("Asthma")}}},
		{"nullFlavor", `<code nullFlavor="UNK"><originalText>free</originalText></code>`, nil},
		{"duplicate translation once", `<code code="H33..00" codeSystem="` + read + `" displayName="Asthma"><translation code="H33..00" codeSystem="` + read + `" displayName="Asthma"/></code>`,
			[]record.Coding{{System: record.SystemReadV2, Code: "H33..00", Term: record.NewTerm("Asthma")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := concept(node(t, tc.xml)).Codings
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("coding %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestSmallMappers(t *testing.T) {
	for _, tc := range []struct{ code, want string }{
		{"394848005", "routine"}, {"394849002", "urgent"}, {"88694003", "stat"}, {"A", "asap"}, {"zzz", ""},
	} {
		if got := priority(node(t, `<priorityCode code="`+tc.code+`"/>`)); got != tc.want {
			t.Errorf("priority(%s) = %q, want %q", tc.code, got, tc.want)
		}
	}
	for _, tc := range []struct{ code, want string }{{"HI", "H"}, {"LO", "L"}, {"PA", "A"}, {"N", "N"}, {"??", ""}} {
		c := interpretation(node(t, `<interpretationCode code="`+tc.code+`"/>`))
		got := ""
		if len(c.Codings) == 1 {
			got = c.Codings[0].Code
		}
		if got != tc.want {
			t.Errorf("interpretation(%s) = %q, want %q", tc.code, got, tc.want)
		}
	}
	for _, tc := range []struct {
		xml       string
		value, un string
		nil_      bool
	}{
		{`<value value="142" unit="mm[Hg]"/>`, "142", "mm[Hg]", false},
		{`<value value="170" unit="1"/>`, "170", "", false},
		{`<value value="-1.5e3" unit="g"/>`, "-1.5e3", "g", false},
		{`<value value="high" unit="g"/>`, "", "", true},
		{`<value value="NaN" unit="g"/>`, "", "", true},
		{`<value nullFlavor="UNK"/>`, "", "", true},
	} {
		q := quantity(node(t, tc.xml))
		if (q == nil) != tc.nil_ || q != nil && (q.Value != tc.value || q.Unit != tc.un) {
			t.Errorf("quantity(%s) = %+v", tc.xml, q)
		}
	}
}

// byCode finds the entries whose codes hold a SNOMED code.
func byCode(r *record.Record, snomed string) []record.Entry {
	var out []record.Entry
	for _, e := range r.Entries {
		if hasCode(e.Code, record.SystemSNOMED, snomed) {
			out = append(out, e)
		}
	}
	return out
}

func one(t *testing.T, r *record.Record, snomed string, kind record.Kind) record.Entry {
	t.Helper()
	es := byCode(r, snomed)
	if len(es) != 1 {
		t.Fatalf("SNOMED %s: %d entries, want 1", snomed, len(es))
	}
	if es[0].Kind != kind {
		t.Fatalf("SNOMED %s: kind %s, want %s", snomed, es[0].Kind, kind)
	}
	return es[0]
}

func day(s string) record.Date {
	d, _ := parseTS(s)
	return d
}

func ourFile(t *testing.T, nhs string) *record.Record {
	return parseFile(t, filepath.Join(testenv.ModuleRoot(t), "testdata", "A99901", nhs+".xml"), record.ParseOptions{NHSNumber: nhs})
}

// TestEquivalenceStory checks 9990001006 against ARCHITECTURE.md, item by item.
func TestEquivalenceStory(t *testing.T) {
	r := ourFile(t, "9990001006")
	if r.Patient.PracticeODS != "A99901" || r.Extracted.IsZero() || r.Withheld {
		t.Errorf("patient %+v extracted %v withheld %v", r.Patient, r.Extracted, r.Withheld)
	}
	consent := one(t, r, "887031000000108", record.KindNone)
	if consent.Effective != day("20200106") {
		t.Errorf("consent date %v", consent.Effective)
	}
	// 44054006 twice: the patient's own diabetes (item 2) and the mother's
	// (item 16, about a relative: not shown).
	var dm, relative record.Entry
	for _, e := range byCode(r, "44054006") {
		switch e.Kind {
		case record.KindProblem:
			dm = e
		case record.KindNone:
			relative = e
		}
	}
	if n := len(byCode(r, "44054006")); n != 2 || relative.NotShown != record.RuleRelative || relative.Effective != day("20180903") {
		t.Errorf("SNOMED 44054006: %d entries, the relative's %+v", n, relative)
	}
	if dm.Status != record.StatusActive || dm.Effective != day("20120501") || dm.Problem.Significance != "major" {
		t.Errorf("diabetes %+v", dm)
	}
	fr := one(t, r, "263199001", record.KindProblem)
	if fr.Status != record.StatusInactive || fr.Effective != day("20150210") || fr.End != day("20150601") {
		t.Errorf("fracture %+v", fr)
	}
	al := one(t, r, "91936005", record.KindAllergy)
	if al.Status != record.StatusActive || al.Effective != day("20010502") || al.Allergy.Category != record.AllergyDrug ||
		!hasCode(al.Allergy.Substance, record.SystemSNOMED, "764146007") {
		t.Errorf("allergy %+v %+v", al, al.Allergy)
	}
	var met, amox record.Entry
	issues := map[string][]record.Entry{}
	for _, e := range r.Entries {
		switch {
		case e.Kind == record.KindMedicationAuthorisation && hasCode(e.Code, record.SystemSNOMED, "325278007"):
			met = e
		case e.Kind == record.KindMedicationAuthorisation && hasCode(e.Code, record.SystemSNOMED, "323509004"):
			amox = e
		case e.Kind == record.KindMedicationIssue:
			issues[e.Medication.Authorisation] = append(issues[e.Medication.Authorisation], e)
		}
	}
	m := met.Medication
	if met.Status != record.StatusActive || met.Effective != day("20240110") || m.Type != record.PrescriptionRepeat ||
		m.RepeatsAllowed != 6 || m.Dosage.String() != "one tablet twice daily" || m.Quantity.String() != "56 tablet" || m.RepeatsIssued != 2 {
		t.Errorf("metformin %+v %+v", met, m)
	}
	if got := issues[met.ID]; len(got) != 2 || got[0].Effective != day("20261001") || got[1].Effective != day("20261101") ||
		got[0].Medication.Dosage.String() != "one tablet twice daily" || got[1].Medication.Quantity.String() != "56 tablet" {
		t.Errorf("metformin issues %+v", got)
	}
	a := amox.Medication
	if amox.Status != record.StatusCompleted || amox.Effective != day("20250301") || amox.End != day("20250308") ||
		a.Type != record.PrescriptionAcute || a.Dosage.String() != "one capsule three times a day" || a.Quantity.String() != "21 capsule" {
		t.Errorf("amoxicillin %+v %+v", amox, a)
	}
	if got := issues[amox.ID]; len(got) != 1 || got[0].Effective != day("20250301") {
		t.Errorf("amoxicillin issues %+v", got)
	}
	var encs []record.Entry
	for _, e := range r.Entries {
		if e.Kind == record.KindEncounter {
			encs = append(encs, e)
		}
	}
	if len(encs) != 1 || encs[0].Effective != day("202609151030") {
		t.Fatalf("encounters %+v", encs)
	}
	bp := byCode(r, "163020007")
	if len(bp) != 1 || bp[0].Kind != record.KindBloodPressure || bp[0].Effective != day("202609151035") ||
		bp[0].Systolic.Value != "142" || bp[0].Diastolic.Value != "88" || bp[0].Systolic.Unit != "mm[Hg]" || bp[0].Encounter != encs[0].ID ||
		!hasCode(bp[0].SystolicCode, record.SystemReadV2, "2469.") || !hasCode(bp[0].SystolicCode, record.SystemSNOMED, "72313002") ||
		!hasCode(bp[0].DiastolicCode, record.SystemReadV2, "246A.") || !hasCode(bp[0].DiastolicCode, record.SystemSNOMED, "1091811000000102") {
		t.Errorf("blood pressure %+v", bp)
	}
	hb := one(t, r, "999791000000106", record.KindInvestigation)
	if hb.Value.Value != "58" || hb.Value.Unit != "mmol/mol" || hb.Range.Low.Value != "20" || hb.Range.High.Value != "41" ||
		hb.Effective != day("20260915") || hb.Encounter != encs[0].ID {
		t.Errorf("HbA1c %+v", hb)
	}
	ref := one(t, r, "183530004", record.KindReferral)
	if ref.Referral.Priority != "routine" || ref.Effective != day("20260915") || ref.Encounter != encs[0].ID {
		t.Errorf("referral %+v", ref)
	}
	if im := one(t, r, "86198006", record.KindImmunisation); im.Effective != day("20261005") {
		t.Errorf("immunisation %+v", im)
	}
	if pr := one(t, r, "80146002", record.KindProcedure); pr.Effective != day("20100720") {
		t.Errorf("procedure %+v", pr)
	}
	if rk := one(t, r, "414937009", record.KindRisk); rk.Effective != day("20260601") {
		t.Errorf("risk %+v", rk)
	}
	// 14: a drug allergy under the heading whose allergen is a local code.
	if al := one(t, r, "416098002", record.KindAllergy); al.Effective != day("20180416") || al.Allergy.Category != record.AllergyDrug ||
		!al.Allergy.AllergenUncoded || al.Allergy.Confirmed || !al.Allergy.Substance.IsZero() {
		t.Errorf("allergy, allergen not coded %+v %+v", al, al.Allergy)
	}
	// 15: a result in a unit on no list: value kept, unit withheld.
	if ch := one(t, r, "1005671000000105", record.KindInvestigation); ch.Value == nil || ch.Value.Value != "5.2" ||
		ch.Value.Unit != "" || !ch.Value.UnitWithheld || ch.Effective != day("20260820") {
		t.Errorf("cholesterol %+v %+v", ch, ch.Value)
	}
	// Nothing else is shown: 15 items, the consultation holding 3 of them.
	shown := 0
	for _, e := range r.Entries {
		if e.Kind != record.KindNone {
			shown++
		}
	}
	if want := 2 + 1 + 2 + 3 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1; shown != want {
		t.Errorf("%d shown entries, want %d", shown, want)
	}
}

// TestEveryKind checks the structures of 9990001014.
func TestEveryKind(t *testing.T) {
	r := ourFile(t, "9990001014")
	idx := r.Index()
	report := one(t, r, "16488004", record.KindInvestigation)
	if len(report.Members) != 2 {
		t.Fatalf("report members %v", report.Members)
	}
	results := 0
	for _, bid := range report.Members {
		b := r.Entries[idx[bid]]
		if b.Kind != record.KindInvestigation || b.Parent != report.ID || len(b.Members) != 2 {
			t.Errorf("battery %+v", b)
		}
		for _, id := range b.Members {
			if res := r.Entries[idx[id]]; res.Parent != b.ID || res.Value == nil || res.Range == nil {
				t.Errorf("result %+v", res)
			}
			results++
		}
	}
	if results != 4 {
		t.Errorf("%d results", results)
	}
	if wcc := one(t, r, "767002", record.KindInvestigation); !hasCode(wcc.Interpretation, systemInterpretation, "H") {
		t.Errorf("white cell count interpretation %+v", wcc.Interpretation)
	}
	var bps []record.Entry
	for _, e := range r.Entries {
		if e.Kind == record.KindBloodPressure {
			bps = append(bps, e)
		}
	}
	if len(bps) != 3 {
		t.Fatalf("%d BP readings, want 3", len(bps))
	}
	loose := bps[2] // the sitting pair recorded as two loose statements: no code of its own, none invented
	if loose.Systolic == nil || loose.Diastolic == nil || loose.Systolic.Value != "131" || loose.Diastolic.Value != "79" ||
		!loose.Code.IsZero() || len(loose.SystolicCode.Codings) != 2 || len(loose.DiastolicCode.Codings) != 2 ||
		!hasCode(loose.SystolicCode, record.SystemReadV2, "246Q.") || !hasCode(loose.SystolicCode, record.SystemSNOMED, "407554009") ||
		!hasCode(loose.DiastolicCode, record.SystemReadV2, "246R.") || !hasCode(loose.DiastolicCode, record.SystemSNOMED, "407555005") {
		t.Errorf("paired reading %+v", loose)
	}
	htn := one(t, r, "59621000", record.KindProblem)
	if len(htn.Problem.Links) != 2 || r.Entries[idx[htn.Problem.Links[0]]].Kind != record.KindBloodPressure ||
		r.Entries[idx[htn.Problem.Links[1]]].Kind != record.KindMedicationAuthorisation {
		t.Errorf("hypertension links %v", htn.Problem.Links)
	}
	if asthma := one(t, r, "195967001", record.KindProblem); asthma.Status != record.StatusInactive || asthma.Problem.Significance != "minor" {
		t.Errorf("asthma %+v", asthma)
	}
	if nka := one(t, r, "716186003", record.KindAllergy); nka.Allergy.Category != record.AllergyNoKnown {
		t.Errorf("no known allergy %+v", nka.Allergy)
	}
	if latex := one(t, r, "300916003", record.KindAllergy); latex.Allergy.Category != record.AllergyOther ||
		!hasCode(latex.Allergy.Substance, record.SystemSNOMED, "111088007") {
		t.Errorf("latex allergy %+v", latex.Allergy)
	}
	if simva := one(t, r, "320000009", record.KindMedicationAuthorisation); simva.Status != record.StatusStopped || simva.End != day("20230601") {
		t.Errorf("simvastatin %+v", simva)
	}
	if ref := one(t, r, "183519002", record.KindReferral); ref.Referral.Priority != "urgent" {
		t.Errorf("referral %+v", ref.Referral)
	}
	problems := 0
	for _, e := range r.Entries {
		if e.Kind == record.KindProblem {
			problems++
		}
	}
	if problems != 2 {
		t.Errorf("%d problems, want 2 (the 394776006 LinkSet naming a referral is none)", problems)
	}
	one(t, r, "170777000", record.KindNone) // plan: by its code (66AS. not shown)
	one(t, r, "32485007", record.KindAdmission)
	one(t, r, "450476008", record.KindRisk)
	one(t, r, "10509002", record.KindDiagnosis)
	one(t, r, "80146002", record.KindProcedure)
	one(t, r, "86198006", record.KindImmunisation)
	weights := 0
	for _, w := range r.Entries {
		if hasCode(w.Code, record.SystemReadV2, "22A..") {
			weights++
			if w.Code.Codings[0].Term.String() != "" || !strings.HasPrefix(w.Code.Codings[0].System, "urn:oid:") || w.Kind != record.KindNone {
				t.Errorf("local code kept with a term, or shown: %+v", w)
			}
		}
	}
	if weights != 1 {
		t.Errorf("%d weights (local code with a Read v2 translation), want 1", weights)
	}
}

// TestConfidential checks 9990001022 (UK07): a NOPAT statement, the problem
// naming it and a NOPAT consultation are left out, and Withheld is set.
func TestConfidential(t *testing.T) {
	r := ourFile(t, "9990001022")
	if !r.Withheld {
		t.Error("Withheld not set")
	}
	for _, code := range []string{"35489007", "197480006", "321944001"} {
		if es := byCode(r, code); len(es) != 0 {
			t.Errorf("SNOMED %s withheld item present: %+v", code, es)
		}
	}
	for _, e := range r.Entries {
		if e.Kind == record.KindProblem {
			t.Errorf("problem naming a withheld statement present: %+v", e)
		}
	}
	one(t, r, "10509002", record.KindDiagnosis)
	one(t, r, "163020007", record.KindBloodPressure)
	for _, nhs := range []string{"9990001006", "9990001014"} {
		if ourFile(t, nhs).Withheld {
			t.Errorf("%s: Withheld set with nothing confidential", nhs)
		}
	}
}

// TestConsentCodes checks the sharing-consent entries access control reads.
func TestConsentCodes(t *testing.T) {
	tests := []struct {
		nhs     string
		consent []string // Read v2 codes of KindNone consent entries, in order
	}{
		{"9990001006", []string{"9Nd7."}},
		{"9990001049", []string{"9Nd7.", "9Nd1."}},
		{"9990001057", nil},
		{"9990001065", []string{"9Nd7."}},
		{"9990001073", []string{"9Nd7."}},
		{"9990001081", []string{"9Nd7."}},
	}
	for _, tc := range tests {
		r := ourFile(t, tc.nhs)
		var got []string
		for _, e := range r.Entries {
			if b := readBase(e.Code); strings.HasPrefix(b, "9Nd") {
				if e.Kind != record.KindNone {
					t.Errorf("%s: consent entry of kind %s", tc.nhs, e.Kind)
				}
				got = append(got, b)
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.consent, ",") {
			t.Errorf("%s: consent codes %v, want %v", tc.nhs, got, tc.consent)
		}
	}
}

// TestLongHistory checks the size and span of 9990001030.
func TestLongHistory(t *testing.T) {
	r := ourFile(t, "9990001030")
	if len(r.Entries) < 500 {
		t.Errorf("%d entries, want 500+", len(r.Entries))
	}
	first, last := r.Entries[0].Effective.T, r.Entries[0].Effective.T
	for _, e := range r.Entries {
		if e.Effective.T.Before(first) {
			first = e.Effective.T
		}
		if e.Effective.T.After(last) {
			last = e.Effective.T
		}
	}
	if last.Sub(first) < 20*365*24*time.Hour {
		t.Errorf("history spans %v to %v, want 20+ years", first, last)
	}
}

// TestSensitive checks 9990001065 holds the sensitive codes as ordinary
// entries (sensitive-code filtering is consent's job, not the adapter's).
func TestSensitive(t *testing.T) {
	r := ourFile(t, "9990001065")
	one(t, r, "15628003", record.KindDiagnosis)
	one(t, r, "57797005", record.KindProcedure)
}

// TestRealWorld checks 9990001103 (UK07), the real-world shapes of issue 11
// in our own extract, item by item.
func TestRealWorld(t *testing.T) {
	r := ourFile(t, "9990001103")
	res := func(read string) record.Entry {
		t.Helper()
		var out []record.Entry
		for _, e := range r.Entries {
			if readBase(e.Code) == read {
				out = append(out, e)
			}
		}
		if len(out) != 1 {
			t.Fatalf("Read %s: %d entries", read, len(out))
		}
		return out[0]
	}
	q := func(e record.Entry) record.Quantity {
		t.Helper()
		if e.Value == nil {
			t.Fatalf("%s: no value", readBase(e.Code))
		}
		return *e.Value
	}
	// Units from originalText beside unit="1"; units that cannot be vetted
	// are marked, never dropped silently.
	if v := q(res("44G3.")); v.Value != "34" || v.Unit != "U/L" || v.UnitWithheld {
		t.Errorf("ALT %+v", v)
	}
	if v := q(res("44E..")); v.Value != "25" || v.Unit != "umol/L" || firstCode(res("44E..").Interpretation) != "H" {
		t.Errorf("bilirubin %+v", v)
	}
	if v := q(res("44P..")); v.Value != "5.2" || v.Unit != "" || !v.UnitWithheld {
		t.Errorf("cholesterol with a braced unit of the sender's own %+v", v)
	}
	if v := q(res("42W5.")); v.Value != "48" || v.Unit != "" || !v.UnitWithheld {
		t.Errorf("HbA1c with free text for a unit %+v", v)
	}
	// One-sided values.
	if v := q(res("451E.")); v.Value != "90" || v.Comparator != ">" || v.Unit != "mL/min/1.73m2" {
		t.Errorf("eGFR %+v", v)
	}
	if v := q(res("44CS.")); v.Value != "5" || v.Comparator != "<" || v.Unit != "mg/L" {
		t.Errorf("CRP %+v", v)
	}
	// The battery keeps its code, its shown members, their flags; the
	// confidential member is gone.
	lft := res("44D..")
	if lft.Kind != record.KindInvestigation || len(lft.Members) != 3 {
		t.Errorf("liver function battery %+v", lft)
	}
	if alb := res("44M4."); firstCode(alb.Interpretation) != "L" || alb.Parent != lft.ID {
		t.Errorf("albumin %+v", alb)
	}
	if len(byRead(r, "44G4.")) != 0 {
		t.Error("confidential battery member shown")
	}
	// Plans are plans, dated when due.
	if fl := res("65E.."); !fl.Planned || fl.Kind != record.KindImmunisation || fl.Effective != day("20271001") {
		t.Errorf("due vaccination %+v", fl)
	}
	if op := res("7611."); !op.Planned || op.Kind != record.KindProcedure || op.Effective != day("20270120") {
		t.Errorf("planned operation %+v", op)
	}
	// A description id is never a concept code.
	var desc []record.Entry
	for _, e := range r.Entries {
		for _, cd := range e.Code.Codings {
			if cd.DescriptionID == "301485011" {
				desc = append(desc, e)
			}
			if cd.System == record.SystemSNOMED && cd.Code == "301485011" {
				t.Errorf("description id as a concept code: %+v", e)
			}
		}
	}
	if len(desc) != 1 || desc[0].Kind != record.KindNone || desc[0].NotShown != record.RuleUnclassifiable {
		t.Errorf("description id entry %+v", desc)
	}
	// Two different statements under one id stay two, with distinct ids;
	// the allergy filed twice is one.
	if b, s := res("H06z0"), res("H01.."); b.ID == s.ID || s.ID != b.ID+"#2" {
		t.Errorf("ids %s %s", b.ID, s.ID)
	}
	var drug, uncoded int
	for _, e := range r.Entries {
		if e.Kind == record.KindAllergy {
			drug++
			if e.Allergy.AllergenUncoded {
				uncoded++
				if readBase(e.Code) != "14L.." || e.Allergy.Confirmed {
					t.Errorf("uncoded allergen %+v %+v", e, e.Allergy)
				}
			}
		}
	}
	if drug != 3 || uncoded != 2 || r.Stats.Duplicate != 1 {
		t.Errorf("%d allergies, %d with the allergen not coded, %d duplicates", drug, uncoded, r.Stats.Duplicate)
	}
	// About relatives.
	for _, code := range []string{"C10F.", "12C.."} {
		if e := res(code); e.Kind != record.KindNone || e.NotShown != record.RuleRelative {
			t.Errorf("%s: %+v", code, e)
		}
	}
	// Confidentiality follows links.
	for _, code := range []string{"dn1..", "E200.", "44G4."} {
		if es := byRead(r, code); len(es) != 0 {
			t.Errorf("%s withheld item shown: %+v", code, es)
		}
	}
	bps := kinds(r, record.KindBloodPressure)
	if len(bps) != 1 || bps[0].Systolic.Value != "128" {
		t.Errorf("readings %+v (the one with a confidential half must go)", bps)
	}
	// Withheld items: the gamma GT result, the authorisation and its issue,
	// the reading, the confidential consultation and the diagnosis in it.
	if !r.Withheld || r.Stats.Withheld != 6 {
		t.Errorf("withheld %v, %d", r.Withheld, r.Stats.Withheld)
	}
	// Referral status from the source.
	var statuses []string
	for _, e := range kinds(r, record.KindReferral) {
		statuses = append(statuses, e.Status.String())
	}
	if strings.Join(statuses, ",") != "active,unknown,unknown,unknown" { // open, recorded (COMPLETE), nullified, none
		t.Errorf("referral statuses %v", statuses)
	}
	// Every coded statement accounted for; nothing KindNone without a reason.
	doc, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "testdata", "A99901", "9990001103.xml"))
	if err != nil {
		t.Fatal(err)
	}
	p, r2, err := parseWhole(doc, record.ParseOptions{NHSNumber: "9990001103"})
	if err != nil {
		t.Fatal(err)
	}
	// 32 items from coded statements, and 12 consultations.
	if got := account(t, doc, p, r2); got.statements != 40 || r2.Stats.Read != 44 || p.encUnits != 12 {
		t.Errorf("%d coded statements (want 40) making %d items (want 44, with %d consultations, want 12)", got.statements, r2.Stats.Read, p.encUnits)
	}
}

func byRead(r *record.Record, code string) []record.Entry {
	var out []record.Entry
	for _, e := range r.Entries {
		if readBase(e.Code) == code || readBase(e.SystolicCode) == code {
			out = append(out, e)
		}
	}
	return out
}
