package tpp

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"mig/adapters/record"
)

// The tests in this file hold the rules of issue 11 for SystmOne, with
// expectations written by hand (not regenerated): testdata/A99903/9990003076
// has the shapes, and small documents test each rule alone.

func utc(y int, m time.Month, d, h, mi int, p record.Precision) record.Date {
	return record.Date{T: time.Date(y, m, d, h, mi, 0, 0, time.UTC), P: p}
}

func TestRealShapes(t *testing.T) {
	rec, err := Parse(bytes.NewReader(readExtract(t, "9990003076")), opts("9990003076"))
	if err != nil {
		t.Fatal(err)
	}
	day := func(y int, m time.Month, d int) record.Date { return utc(y, m, d, 0, 0, record.PrecisionDay) }
	cases := []struct {
		id       string
		kind     record.Kind
		notShown record.Rule
		eff      record.Date
		code     string // codes, as entered first
	}{
		{"EV-3076-01.1", record.KindNone, record.RuleAdministration, day(2021, 2, 2), "9Nd7.|887031000000108"},
		// allergies
		{"EV-3076-02.1", record.KindAllergy, "", day(2019, 3, 12), "14L..|416098002"}, // heading, allergen in free text
		{"EV-3076-03.1", record.KindAllergy, "", day(2019, 3, 13), "Y7T2a|14L.."},     // drug sensitivity, local allergen code
		{"EV-3076-04.sensitivity", record.KindAllergy, "", day(2019, 3, 14), "14L.."}, // drug sensitivity, drug name only
		{"EV-3076-05.1", record.KindNone, record.RuleUnclassifiable, day(2019, 3, 15), "Y7T2b"},
		{"EV-3076-06.1", record.KindAllergy, "", day(2019, 3, 16), "294505008"},
		// about relatives
		{"EV-3076-07.1", record.KindNone, record.RuleRelative, day(2020, 5, 1), "12C.."},
		{"EV-3076-07.2", record.KindNone, record.RuleRelative, day(2020, 5, 1), "C10F."},
		{"EV-3076-07.3", record.KindNone, record.RuleRelative, day(2020, 5, 1), "416471007"},
		// dates: date-only values in BST keep their day; a real time is converted
		{"EV-3076-08.1", record.KindDiagnosis, "", day(2026, 6, 30), "H06z0"},
		{"EV-3076-09.1", record.KindDiagnosis, "", day(2026, 7, 1), "M03z0"},
		{"EV-3076-10.1", record.KindDiagnosis, "", day(2026, 7, 2), "J10y4"},
		{"EV-3076-11.1", record.KindDiagnosis, "", utc(2026, 7, 3, 23, 30, record.PrecisionMinute), "F4C0."},
		{"EV-3076-12.1", record.KindProcedure, "", utc(2003, 7, 1, 0, 0, record.PrecisionMonth), "7L1H."},
		{"EV-3076-13.1", record.KindDiagnosis, "", utc(1999, 1, 1, 0, 0, record.PrecisionYear), "S23.."},
		// a description id is never a concept code
		{"EV-3076-14.1", record.KindNone, record.RuleUnclassifiable, day(2024, 4, 4), ""},
		// a consultation and what it holds
		{"EV-3076-15", record.KindEncounter, "", utc(2026, 6, 15, 8, 40, record.PrecisionMinute), ""},
		{"EV-3076-15.1", record.KindMedicationAuthorisation, "", day(2026, 6, 15), "323509004"},
		{"EV-3076-15.1.issue", record.KindMedicationIssue, "", day(2026, 6, 15), "323509004"},
		{"EV-3076-15.2", record.KindBloodPressure, "", utc(2026, 6, 15, 8, 40, record.PrecisionMinute), ""},
		{"EV-3076-15.4", record.KindInvestigation, "", utc(2026, 6, 15, 8, 40, record.PrecisionMinute), "XaPbt"},
		{"EV-3076-15.5", record.KindInvestigation, "", utc(2026, 6, 15, 8, 40, record.PrecisionMinute), "44I5."},
		{"EV-3076-16.1", record.KindMedicationAuthorisation, "", day(2026, 1, 10), "318907005"},
		{"EV-3076-17.1", record.KindMedicationIssue, "", day(2026, 2, 10), "318907005"},
		{"EV-3076-19.1", record.KindProcedure, "", day(2024, 5, 5), "7611."},
	}
	if len(rec.Entries) != len(cases) {
		t.Errorf("%d entries, want %d", len(rec.Entries), len(cases))
	}
	for _, c := range cases {
		e := entry(t, rec, c.id)
		if e.Kind != c.kind || e.NotShown != c.notShown || e.Effective != c.eff || codeList(e.Code) != c.code || e.Planned {
			t.Errorf("%s: kind %v notShown %q effective %v code %s planned %v; want %v %q %v %s",
				c.id, e.Kind, e.NotShown, e.Effective, codeList(e.Code), e.Planned, c.kind, c.notShown, c.eff, c.code)
		}
	}
	allergies := []struct {
		id       string
		category string
		uncoded  bool
	}{
		{"EV-3076-02.1", record.AllergyDrug, true},
		{"EV-3076-03.1", record.AllergyDrug, true},
		{"EV-3076-04.sensitivity", record.AllergyDrug, true},
		{"EV-3076-06.1", record.AllergyOther, false},
	}
	for _, a := range allergies {
		e := entry(t, rec, a.id)
		if e.Allergy == nil || e.Allergy.Category != a.category || e.Allergy.AllergenUncoded != a.uncoded || e.Allergy.Confirmed ||
			!e.Allergy.Substance.IsZero() || e.Status != record.StatusActive {
			t.Errorf("%s: allergy %+v status %v", a.id, e.Allergy, e.Status)
		}
		for _, cd := range e.Code.Codings {
			if cd.System == record.SystemTPPLocal && !cd.Term.IsZero() {
				t.Errorf("%s: local term kept", a.id)
			}
		}
	}
	if c := entry(t, rec, "EV-3076-14.1").Code.Codings; len(c) != 1 || c[0].Code != "" || c[0].DescriptionID != "9900612013" {
		t.Errorf("description id: %+v", c)
	}
	// Links other entries name by entry id: the consultation, the
	// authorisation of an acute issue and of a repeat issue.
	for _, id := range []string{"EV-3076-15.1", "EV-3076-15.1.issue", "EV-3076-15.2", "EV-3076-15.4", "EV-3076-15.5"} {
		if e := entry(t, rec, id); e.Encounter != "EV-3076-15" {
			t.Errorf("%s encounter %q", id, e.Encounter)
		}
	}
	if a := entry(t, rec, "EV-3076-15.1.issue").Medication.Authorisation; a != "EV-3076-15.1" {
		t.Errorf("acute issue authorisation %q", a)
	}
	if a := entry(t, rec, "EV-3076-17.1").Medication.Authorisation; a != "EV-3076-16.1" {
		t.Errorf("repeat issue authorisation %q", a)
	}
	// Units: mm Hg and none on blood pressure are mm[Hg]; a unit no GP
	// system writes is left out, and the value says so.
	if bp := entry(t, rec, "EV-3076-15.2"); bp.Systolic.Unit != "mm[Hg]" || bp.Diastolic.Unit != "mm[Hg]" || bp.Systolic.Value != "138" || bp.Diastolic.Value != "86" {
		t.Errorf("blood pressure %+v %+v", bp.Systolic, bp.Diastolic)
	}
	if v := entry(t, rec, "EV-3076-15.5").Value; v.Value != "140" || v.Unit != "" || !v.UnitWithheld {
		t.Errorf("unvetted unit: %+v", v)
	}
	// SystmOne has no confidentiality marker: nothing is withheld. The same
	// event twice is one entry. Read: 25 entries and 1 duplicate (the
	// blood pressure pair is one reading).
	if rec.Withheld || len(rec.WithheldIDs) != 0 || rec.Stats != (record.Stats{Read: 26, Duplicate: 1}) {
		t.Errorf("withheld %v %v stats %+v", rec.Withheld, rec.WithheldIDs, rec.Stats)
	}
}

// codeList lists a concept's codes (or description ids), "|"-separated.
func codeList(c record.Concept) string {
	var out []string
	for _, cd := range c.Codings {
		if cd.Code != "" {
			out = append(out, cd.Code)
		}
	}
	return strings.Join(out, "|")
}

// TestLinkRules: the TPP schema has no confidentiality marker, so nothing
// is withheld from a SystmOne extract; but the links a SystmOne record
// makes name entries by the ids Record.Finish follows, so that the rules
// hold the day an item is withheld (by a future marker, or downstream).
func TestLinkRules(t *testing.T) {
	cases := []struct {
		name     string
		withhold string
		gone     []string
	}{
		{"a withheld consultation withholds everything in it", "EV-3076-15",
			[]string{"EV-3076-15", "EV-3076-15.1", "EV-3076-15.1.issue", "EV-3076-15.2", "EV-3076-15.4", "EV-3076-15.5"}},
		{"a withheld acute authorisation withholds its issue", "EV-3076-15.1", []string{"EV-3076-15.1", "EV-3076-15.1.issue"}},
		{"a withheld repeat withholds its issues", "EV-3076-16.1", []string{"EV-3076-16.1", "EV-3076-17.1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec, err := Parse(bytes.NewReader(readExtract(t, "9990003076")), opts("9990003076"))
			if err != nil {
				t.Fatal(err)
			}
			before := len(rec.Entries)
			rec.Withhold(c.withhold)
			rec.Finish()
			for _, id := range c.gone {
				if _, ok := rec.Index()[id]; ok {
					t.Errorf("%s kept", id)
				}
			}
			if len(rec.Entries) != before-len(c.gone) {
				t.Errorf("%d entries left of %d, want %d gone", len(rec.Entries), before, len(c.gone))
			}
		})
	}
}

// TestAllergyShapes: item 11, one shape at a time.
func TestAllergyShapes(t *testing.T) {
	sens := `<DrugSensitivity><Type>Drug</Type><FreeText>FREETEXT-x</FreeText></DrugSensitivity>`
	cases := []struct {
		name, body string
		id         string
		kind       record.Kind
		code       string
		uncoded    bool
	}{
		{"generic SNOMED heading", cc("Snomed", "419511003", `<IsAllergy/>`), "E.1", record.KindAllergy, "419511003", true},
		{"generic CTV3 heading by classifier", cc("CTV3", "14L..", ""), "E.1", record.KindAllergy, "14L..", true},
		{"specific code names the allergen", cc("CTV3", "14L2.", `<IsAllergy/>`), "E.1", record.KindAllergy, "14L2.", false},
		{"no known allergy is no allergen", cc("Snomed", "716186003", ""), "E.1", record.KindAllergy, "716186003", false},
		{"local code under a drug sensitivity", cc("CTV3", "Y0001", `<IsAllergy/>`) + sens, "E.1", record.KindAllergy, "Y0001|14L..", true},
		{"drug sensitivity alone", sens, "E.sensitivity", record.KindAllergy, "14L..", true},
		{"drug sensitivity beside a diagnosis", cc("CTV3", "M2y..", "") + sens, "E.sensitivity", record.KindAllergy, "14L..", true},
		{"local allergy code alone is not an allergy", cc("CTV3", "Y0001", `<IsAllergy/>`), "E.1", record.KindNone, "Y0001", false},
		{"family history of an allergy is not the patient's", cc("CTV3", "14L2.", `<IsAllergy/><IsFamilyHistory/>`), "E.1", record.KindNone, "14L2.", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := parseString(t, doc(event("E", "", c.body)))
			e := entry(t, rec, c.id)
			if e.Kind != c.kind || codeList(e.Code) != c.code {
				t.Fatalf("kind %v code %s, want %v %s", e.Kind, codeList(e.Code), c.kind, c.code)
			}
			if c.kind == record.KindAllergy && (e.Allergy.AllergenUncoded != c.uncoded || e.Allergy.Confirmed) {
				t.Errorf("allergy %+v", e.Allergy)
			}
			if c.kind == record.KindNone && e.NotShown == record.RuleNone {
				t.Error("KindNone without a reason")
			}
			allergies := 0
			for _, x := range rec.Entries {
				if x.Kind == record.KindAllergy {
					allergies++
				}
			}
			if want := map[bool]int{true: 1, false: 0}[c.kind == record.KindAllergy]; allergies != want {
				t.Errorf("%d allergies, want %d", allergies, want)
			}
		})
	}
}

// TestAccounting: in every extract each statement read (a blood pressure
// reading, halves and header, is one) is an entry (shown, or kept with the
// rule that hides it) or a duplicate; every KindNone entry says why.
func TestAccounting(t *testing.T) {
	for _, nhs := range extracts {
		rec, err := Parse(bytes.NewReader(readExtract(t, nhs)), opts(nhs))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range rec.Entries {
			if (e.Kind == record.KindNone) != (e.NotShown != record.RuleNone) {
				t.Errorf("%s %s: kind %v, not shown %q", nhs, e.ID, e.Kind, e.NotShown)
			}
		}
		if got := len(rec.Entries) + rec.Stats.Withheld + rec.Stats.Duplicate; got != rec.Stats.Read {
			t.Errorf("%s: read %d, accounted for %d (%d entries, %+v)", nhs, rec.Stats.Read, got, len(rec.Entries), rec.Stats)
		}
	}
}

// TestDatesBST: item 9 for SystmOne: a date-only value, however written,
// stays on its calendar day in British Summer Time.
func TestDatesBST(t *testing.T) {
	cases := []struct {
		in   string
		want record.Date
	}{
		{"2026-06-15", utc(2026, 6, 15, 0, 0, record.PrecisionDay)},
		{"2026-06-15T00:00:00", utc(2026, 6, 15, 0, 0, record.PrecisionDay)},
		{"2026-06-15T00:00", utc(2026, 6, 15, 0, 0, record.PrecisionDay)},
		{"2026-06-15T00:00:00+01:00", utc(2026, 6, 15, 0, 0, record.PrecisionDay)},
		{"2026-06-15+01:00", utc(2026, 6, 15, 0, 0, record.PrecisionDay)},
		{"2026-03-29T00:00:00", utc(2026, 3, 29, 0, 0, record.PrecisionDay)},  // BST begins
		{"2026-10-25T00:00:00", utc(2026, 10, 25, 0, 0, record.PrecisionDay)}, // BST ends
		{"2026-06-15T00:10:00", utc(2026, 6, 14, 23, 10, record.PrecisionMinute)},
		{"2026-06", utc(2026, 6, 1, 0, 0, record.PrecisionMonth)},
		{"2026", utc(2026, 1, 1, 0, 0, record.PrecisionYear)},
	}
	for _, c := range cases {
		if got, ok := ParseDate(c.in); !ok || got != c.want {
			t.Errorf("ParseDate(%q) = %v %v, want %v", c.in, got, ok, c.want)
		}
	}
}
