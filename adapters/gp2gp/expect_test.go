package gp2gp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mig/adapters/record"
	"mig/adapters/xmltok"
	"mig/internal/testenv"
)

// Hand-written expectations for the real-world shapes of issue 11, on the
// reference fragments (read in place) and on small extracts written here.

// fragment parses one reference fragment, wrapped as TestFragments wraps it.
func fragment(t *testing.T, rel string) (*parser, *record.Record) {
	t.Helper()
	path := filepath.Join(testenv.Reference(t, "gp2gp", "fragments"), rel)
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, why := testenv.WrapFragment(fragmentRoot(t, body), body)
	if doc == nil {
		t.Fatalf("%s: %s", rel, why)
	}
	p, r, err := parseWhole(doc, record.ParseOptions{})
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return p, r
}

// fragmentNode returns the first element named local in a fragment, read
// with xmltok.
func fragmentNode(t *testing.T, rel, local string) *xmltok.Node {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(testenv.Reference(t, "gp2gp", "fragments"), rel))
	if err != nil {
		t.Fatal(err)
	}
	n := node(t, string(testenv.XMLDecl.ReplaceAll(body, nil)))
	var found *xmltok.Node
	n.Walk(func(m *xmltok.Node) bool {
		if found == nil && m.Local == local {
			found = m
		}
		return found == nil
	})
	if found == nil {
		t.Fatalf("%s: no %s element", rel, local)
	}
	return found
}

func entryByID(r *record.Record, id string) *record.Entry {
	for i := range r.Entries {
		if r.Entries[i].ID == id {
			return &r.Entries[i]
		}
	}
	return nil
}

func kinds(r *record.Record, k record.Kind) []record.Entry {
	var out []record.Entry
	for _, e := range r.Entries {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

func TestQuantityShapes(t *testing.T) {
	tests := []struct {
		file                    string
		value, unit, comparator string
		withheld                bool
	}{
		{"ivlpq_high_exclusive.xml", "100", "kg/m2", "<", false},
		{"ivlpq_high_inclusive.xml", "100", "kg/m2", "<=", false},
		{"ivlpq_high_standard_unit.xml", "100", "kg/m2", "<", false},
		{"ivlpq_low_exclusive.xml", "100", "kg/m2", ">", false},
		{"ivlpq_low_inclusive.xml", "100", "kg/m2", ">=", false},
		{"ivlpq_low_standard_unit.xml", "100", "kg/m2", ">", false},
		// kua/L (kilo-units of allergen) is not UCUM and not on our list:
		// the number stays, the unit is marked withheld, never dropped
		// silently.
		{"ivlpq_high_arbitrary_unit.xml", "100", "", "<", true},
		{"ivlpq_low_arbitrary_unit.xml", "100", "", ">", true},
		{"ivlpq_no_unit.xml", "100", "", "<", false},
		{"pq_arbitrary_unit.xml", "100", "", "", true},
		// UCUM is case-sensitive: "s" is the second, "S" the siemens.
		{"pq_arbitrary_unit_lowercase_s.xml", "10", "s", "", false},
		{"pq_arbitrary_unit_uppercase_s.xml", "10", "S", "", false},
		{"pq_no_unit.xml", "100", "", "", false},
		{"pq_standard_unit.xml", "100", "kg/m2", "", false},
		// unit="1" is UCUM unity: no unit, and nothing withheld.
		{"unit_is_unity.xml", "100", "", "", false},
		// A value with no xsi:type but a number is a PQ.
		{"no_type_arbitrary_unit.xml", "100", "", "", true},
		{"no_type_no_unit.xml", "100", "", "", false},
		{"no_type_standard_unit.xml", "100", "kg/m2", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			q := value(fragmentNode(t, filepath.Join("Quantity", tc.file), "value"))
			if q == nil {
				t.Fatal("no value: a result never loses its value")
			}
			if q.Value != tc.value || q.Unit != tc.unit || q.Comparator != tc.comparator || q.UnitWithheld != tc.withheld {
				t.Errorf("got %+v, want value %s unit %q comparator %q withheld %v", *q, tc.value, tc.unit, tc.comparator, tc.withheld)
			}
		})
	}
	// Through Parse: the value of a bare fragment, wrapped in our own
	// coded observation.
	_, r := fragment(t, "Quantity/ivlpq_high_exclusive.xml")
	e := entryByID(r, "FRAGMENT-VALUE")
	if e == nil || e.Value == nil || e.Value.Value != "100" || e.Value.Comparator != "<" || e.Value.Unit != "kg/m2" {
		t.Errorf("ivlpq_high_exclusive through Parse: %+v", e)
	}
	// A one-sided value in a real observation.
	_, r = fragment(t, "Observation/ivl_pq_value_quantity_observation_example.xml")
	for _, e := range r.Entries {
		if e.Value != nil && (e.Value.Value != "200" || e.Value.Comparator != "<" || e.Value.Unit != "mL") {
			t.Errorf("ivl_pq observation value %+v", *e.Value)
		}
	}
	// Both bounds: equal bounds are the value; otherwise at least the low.
	// A unitless INT is a number too.
	const xsi = `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"`
	for _, tc := range []struct{ xml, value, unit, comparator string }{
		{`<value ` + xsi + ` xsi:type="IVL_PQ"><low value="4" unit="mmol/L"/><high value="4" unit="mmol/L"/></value>`, "4", "mmol/L", ""},
		{`<value ` + xsi + ` xsi:type="IVL_PQ"><low value="4" unit="mmol/L"/><high value="6" unit="mmol/L"/></value>`, "4", "mmol/L", ">="},
		{`<value ` + xsi + ` xsi:type="IVL_PQ"><low value="4" unit="mmol/L" inclusive="false"/><high value="6" unit="mmol/L"/></value>`, "4", "mmol/L", ">"},
		{`<value ` + xsi + ` xsi:type="INT" value="3"/>`, "3", "", ""},
	} {
		q := value(node(t, tc.xml))
		if q == nil || q.Value != tc.value || q.Comparator != tc.comparator || q.Unit != tc.unit || q.UnitWithheld {
			t.Errorf("%s: got %+v", tc.xml, q)
		}
	}
	// A result keeps both bounds of an interval as a range.
	q, rng := valueOrRange(node(t, `<value `+xsi+` xsi:type="IVL_PQ"><low value="4" unit="mmol/L"/><high value="6" unit="mmol/L"/></value>`))
	if q != nil || rng == nil || rng.Low.Value != "4" || rng.High.Value != "6" || rng.High.Unit != "mmol/L" {
		t.Errorf("both bounds: value %+v range %+v", q, rng)
	}
	if q, rng := valueOrRange(node(t, `<value `+xsi+` xsi:type="IVL_PQ"><high value="5" unit="mg/L" inclusive="false"/></value>`)); rng != nil || q == nil || q.Comparator != "<" {
		t.Errorf("one bound: value %+v range %+v", q, rng)
	}
}

func TestInterpretationAndRanges(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"interpretation_high_observation_example.xml", "H"},
		{"interpretation_low_observation_example.xml", "L"},
		{"interpretation_abnormal_observation_example.xml", "A"}, // OR: outside reference range
		{"interpretation_null_flavor_observation_example.xml", ""},
	} {
		c := interpretation(fragmentNode(t, filepath.Join("Observation", tc.file), "interpretationCode"))
		got := ""
		if len(c.Codings) == 1 {
			if c.Codings[0].System != systemInterpretation {
				t.Errorf("%s: system %s", tc.file, c.Codings[0].System)
			}
			got = c.Codings[0].Code
		}
		if got != tc.want || len(c.Codings) > 1 {
			t.Errorf("%s: interpretation %+v, want %q", tc.file, c.Codings, tc.want)
		}
	}
	for _, tc := range []struct{ code, want string }{{"HH", "HH"}, {"LL", "LL"}, {"AA", "AA"}, {"PA", "A"}, {"OR", "A"}, {"XX", ""}} {
		c := interpretation(node(t, `<interpretationCode code="`+tc.code+`" codeSystem="2.16.840.1.113883.2.1.6.5"/>`))
		if got := firstCode(c); got != tc.want {
			t.Errorf("interpretation %s = %q, want %q", tc.code, got, tc.want)
		}
	}
	// Another code system's "HI" is not ours to read.
	if c := interpretation(node(t, `<interpretationCode code="HI" codeSystem="1.2.3"/>`)); !c.IsZero() {
		t.Errorf("foreign interpretation code read: %+v", c)
	}
	ranges := []struct {
		file     string
		low, hi  string
		nilRange bool
	}{
		{"multiple_reference_range_observation_example.xml", "10", "12", false}, // the first of two
		{"high_low_reference_range_observation_example.xml", "", "", false},
		{"decimal_reference_range_observation_example.xml", "", "", false},
	}
	for _, tc := range ranges {
		obs := fragmentNode(t, filepath.Join("Observation", tc.file), "ObservationStatement")
		rg := referenceRange(obs)
		if rg == nil {
			t.Errorf("%s: no range", tc.file)
			continue
		}
		if tc.low != "" && (rg.Low == nil || rg.Low.Value != tc.low || rg.High == nil || rg.High.Value != tc.hi) {
			t.Errorf("%s: range %+v %+v", tc.file, rg.Low, rg.High)
		}
	}
	// Blood pressure halves keep their ranges and the reading its flag.
	_, r := fragment(t, "BloodPressure/full_valid_data_bp_example.xml")
	bp := kinds(r, record.KindBloodPressure)
	if len(bp) != 1 {
		t.Fatalf("%d readings", len(bp))
	}
	b := bp[0]
	if b.Systolic == nil || b.Systolic.Value != "80.000" || b.Diastolic == nil || b.Diastolic.Value != "90.000" ||
		b.SystolicRange == nil || b.SystolicRange.Low.Value != "10" || b.SystolicRange.High.Value != "12" ||
		b.DiastolicRange == nil || b.DiastolicRange.Low.Value != "20" || b.DiastolicRange.High.Value != "22" ||
		firstCode(b.Interpretation) != "H" {
		t.Errorf("blood pressure %+v ranges %+v %+v", b, b.SystolicRange, b.DiastolicRange)
	}
}

func firstCode(c record.Concept) string {
	if len(c.Codings) == 0 {
		return ""
	}
	return c.Codings[0].Code
}

func TestPlansAndDescriptionIDs(t *testing.T) {
	_, r := fragment(t, "ProcedureRequest/full_valid_data_example.xml")
	e := entryByID(r, "6DFFAEC4-7527-4D80-A2BD-81BDEBA04400")
	if e == nil {
		t.Fatal("plan missing")
	}
	// SNOMED 2534664018 is a description id (partition 01): never a
	// concept code; with no release loaded nothing classifies it.
	if !e.Planned || e.Kind != record.KindNone || e.NotShown != record.RuleUnclassifiable ||
		len(e.Code.Codings) != 1 || e.Code.Codings[0].Code != "" || e.Code.Codings[0].DescriptionID != "2534664018" ||
		e.Effective != day("20221117") {
		t.Errorf("plan %+v", e)
	}
	_, r = fragment(t, "RequestStatement/full_valid_data_with_referral_request.xml")
	ref := entryByID(r, "B4303C92-4D1C-11E3-A2DD-010000000161")
	if ref == nil || ref.Kind != record.KindReferral || ref.Code.Codings[0].Code != "" || ref.Code.Codings[0].DescriptionID != "2534664018" {
		t.Errorf("referral coded by a description id %+v", ref)
	}
	// Every SNOMED coding of every fragment: a description id is never a Code.
	for _, rel := range []string{"Observation/full_valid_data_observation_example.xml", "ProcedureRequest/no_optional_data_example.xml"} {
		_, r := fragment(t, rel)
		for _, e := range r.Entries {
			for _, cd := range e.Code.Codings {
				if cd.System == record.SystemSNOMED && record.IsDescriptionID(cd.Code) {
					t.Errorf("%s: description id %s as a concept code", rel, cd.Code)
				}
			}
		}
	}
	// A plan in our own words: a due vaccination (moodCode INT on an
	// ObservationStatement) and a planned operation (PlanStatement) keep
	// the kind their codes give and are Planned; their date is when due.
	r = inline(t, composition("C-PLAN", "20260301",
		obsXML("P-1", "INT", read65("65E..00", "Influenza vaccination"), "20261001", ""),
		`<PlanStatement classCode="OBS" moodCode="INT"><id root="P-2"/><code code="7611.00" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="Appendicectomy"/><statusCode code="ACTIVE"/><effectiveTime><center value="20270115"/></effectiveTime><availabilityTime value="20260301"/></PlanStatement>`,
		obsXML("P-3", "EVN", read65("65E..00", "Influenza vaccination"), "20251001", ""),
		`<PlanStatement classCode="OBS" moodCode="INT"><id root="P-4"/><code code="65E..00" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="Influenza vaccination"/><availabilityTime value="20260301"/></PlanStatement>`))
	// A plan with no date of its own has none: the day it was recorded is
	// not when it is due.
	if e := entryByID(r, "P-4"); e == nil || !e.Planned || !e.Effective.IsZero() || e.Recorded != day("20260301") {
		t.Errorf("undated plan %+v", e)
	}
	for _, tc := range []struct {
		id      string
		kind    record.Kind
		planned bool
		when    string
	}{{"P-1", record.KindImmunisation, true, "20261001"}, {"P-2", record.KindProcedure, true, "20270115"}, {"P-3", record.KindImmunisation, false, "20251001"}} {
		e := entryByID(r, tc.id)
		if e == nil || e.Kind != tc.kind || e.Planned != tc.planned || e.Effective != day(tc.when) {
			t.Errorf("%s: %+v", tc.id, e)
		}
	}
}

func TestRelatives(t *testing.T) {
	_, r := fragment(t, "Observation/full_valid_data_observation_example.xml")
	e := entryByID(r, "263B2A9F-0B1D-4697-943A-328F70E068DE")
	if e == nil || e.Kind != record.KindNone || e.NotShown != record.RuleRelative {
		t.Errorf("statement about the patient's uncle: %+v", e)
	}
	// Family history codes, and a problem naming one, are never the
	// patient's own condition.
	r = inline(t, composition("C-FH", "20250101",
		obsXML("FH-1", "EVN", `<code code="12C2.00" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="FH: Ischaemic heart disease &lt; 60"/>`, "20250101", ""),
		obsXML("FH-2", "EVN", `<code code="C10F.00" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="Type 2 diabetes mellitus"/>`, "20250101",
			`<subject typeCode="SBJ"><personalRelationship classCode="PRS"><code code="72705000" codeSystem="2.16.840.1.113883.2.1.3.2.4.15" displayName="Mother"/></personalRelationship></subject>`),
		`<LinkSet classCode="OBS" moodCode="EVN"><id root="FH-PROBLEM"/><code code="394774009" codeSystem="2.16.840.1.113883.2.1.3.2.4.15" displayName="Active Problem"/><effectiveTime><low value="20250101"/></effectiveTime><availabilityTime value="20250101"/><conditionNamed typeCode="NAME" inversionInd="true"><namedStatementRef classCode="OBS" moodCode="EVN"><id root="FH-2"/></namedStatementRef></conditionNamed></LinkSet>`))
	for _, id := range []string{"FH-1", "FH-2", "FH-PROBLEM"} {
		e := entryByID(r, id)
		if id == "FH-2" && e == nil {
			continue // absorbed by the problem that names it
		}
		if e == nil || e.Kind != record.KindNone || e.NotShown != record.RuleRelative {
			t.Errorf("%s: %+v", id, e)
		}
	}
	if len(kinds(r, record.KindProblem))+len(kinds(r, record.KindDiagnosis)) != 0 {
		t.Errorf("a relative's condition shown as the patient's")
	}
}

func TestDuplicates(t *testing.T) {
	// The same allergy statement in three compositions (one id each): one
	// allergy, one consultation, four duplicates.
	_, r := fragment(t, "AllergyIntolerance/allergy-structure-with-multiple-allergy.xml")
	if n := len(kinds(r, record.KindAllergy)); n != 1 || r.Stats.Duplicate != 4 || len(kinds(r, record.KindEncounter)) != 1 {
		t.Errorf("%d allergies, %d duplicates", n, r.Stats.Duplicate)
	}
	// Ids reused across element types (allergy compound and observation)
	// and different content under one id: distinct entries, distinct ids.
	_, r = fragment(t, "CompoundStatement/NestedObservationCompoundStatement.xml")
	ids := map[string]bool{}
	for _, e := range r.Entries {
		if ids[e.ID] {
			t.Errorf("two entries with id %s", e.ID)
		}
		ids[e.ID] = true
	}
	if n := len(kinds(r, record.KindAllergy)); n != 4 {
		t.Errorf("%d allergies from four allergy structures with one id", n)
	}
	// The same allergy filed in two consultations: one act, one entry.
	allergy := `<CompoundStatement classCode="CATEGORY" moodCode="EVN"><id root="AL-1"/><code code="14L..00" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="H/O: drug allergy"/><effectiveTime><center value="20200101"/></effectiveTime><availabilityTime value="20200101"/><component><ObservationStatement classCode="OBS" moodCode="EVN"><id root="AL-1"/><code code="14L2.00" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="H/O: penicillin allergy"/><effectiveTime><center value="20200101"/></effectiveTime><availabilityTime value="20200101"/></ObservationStatement></component></CompoundStatement>`
	r = inline(t, composition("C-A", "20200101", allergy), composition("C-B", "20220101", allergy))
	// Items: the allergy twice and the two consultations.
	if n := len(kinds(r, record.KindAllergy)); n != 1 || r.Stats.Duplicate != 1 || r.Stats.Read != 4 {
		t.Errorf("%d allergies, stats %+v", n, r.Stats)
	}
}

func TestConfidentialityFollowsLinks(t *testing.T) {
	for _, tc := range []struct {
		file     string
		gone     []string // ids not in the output
		withheld []string // ids Record.Withhold was told (a reading once, not its halves)
		left     []record.Kind
	}{
		{"BloodPressure/battery_compound_statement_containing_confidentiality_code.xml",
			[]string{"FE739904-2AAB-4B3F-9718-84BE019FD483", "38324DDE-7ABE-4039-BF78-8E9D334FCA8F", "041E16C5-CB96-4A2C-A8D8-BF6CD904671E"},
			[]string{"FE739904-2AAB-4B3F-9718-84BE019FD483"},
			[]record.Kind{record.KindEncounter}},
		{"BloodPressure/systolic_observation_containing_confidentiality_code.xml",
			[]string{"FE739904-2AAB-4B3F-9718-84BE019FD483", "38324DDE-7ABE-4039-BF78-8E9D334FCA8F", "041E16C5-CB96-4A2C-A8D8-BF6CD904671E"},
			[]string{"FE739904-2AAB-4B3F-9718-84BE019FD483"},
			[]record.Kind{record.KindEncounter}},
		{"BloodPressure/diastolic_observation_containing_confidentiality_code.xml",
			[]string{"FE739904-2AAB-4B3F-9718-84BE019FD483", "38324DDE-7ABE-4039-BF78-8E9D334FCA8F", "041E16C5-CB96-4A2C-A8D8-BF6CD904671E"},
			[]string{"FE739904-2AAB-4B3F-9718-84BE019FD483"},
			[]record.Kind{record.KindEncounter}},
		{"BloodPressure/ehr_composition_containing_confidentiality_code.xml",
			[]string{"TEST_ID_MATCHING_ENCOUNTER", "FE739904-2AAB-4B3F-9718-84BE019FD483"},
			[]string{"TEST_ID_MATCHING_ENCOUNTER", "FE739904-2AAB-4B3F-9718-84BE019FD483"},
			nil},
		{"MedicationStatement/ehrExtract_nopatConfidentialityCodePresentWithinEhrComposition.xml",
			[]string{"CDFC5DF7-2D1B-4EBB-BE5C-6BD2E19405FF"},
			[]string{"CDFC5DF7-2D1B-4EBB-BE5C-6BD2E19405FF", "8866381C-E5B8-4A6E-ADBC-964F9A77D407"},
			nil},
		{"Condition/linkset_valid_nopat_confidentiality_code.xml",
			[]string{"LINKSET_ID"}, []string{"LINKSET_ID"}, []record.Kind{record.KindEncounter}},
		{"AllergyIntolerance/allergy-structure-with-observation-statement-nopat-confidentiality-code.xml",
			[]string{"230D3D37-99E3-450A-AE88-B5AB802B7137"}, []string{"230D3D37-99E3-450A-AE88-B5AB802B7137"}, []record.Kind{record.KindEncounter}},
		{"SpecimenComponents/specimen_observation_statement_with_nopat_conf_code.xml",
			[]string{"OBSERVATION_STATEMENT_ID"}, []string{"OBSERVATION_STATEMENT_ID"}, []record.Kind{record.KindEncounter, record.KindInvestigation}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, r := fragment(t, tc.file)
			if !r.Withheld {
				t.Error("Withheld not set")
			}
			for _, id := range tc.gone {
				if e := entryByID(r, id); e != nil {
					t.Errorf("%s present: %+v", id, e)
				}
			}
			told := map[string]bool{}
			for _, id := range r.WithheldIDs {
				told[id] = true
			}
			for _, id := range tc.withheld {
				if !told[id] {
					t.Errorf("%s not among WithheldIDs %v", id, r.WithheldIDs)
				}
			}
			var left []record.Kind
			for _, e := range r.Entries {
				left = append(left, e.Kind)
				for _, m := range e.Members {
					for _, g := range tc.gone {
						if m == g {
							t.Errorf("%s still lists withheld member %s", e.ID, m)
						}
					}
				}
			}
			if len(left) != len(tc.left) {
				t.Errorf("left %v, want %v", left, tc.left)
			}
		})
	}
	// Not NOPAT: shown.
	_, r := fragment(t, "AllergyIntolerance/allergy-structure-with-observation-statement-noscrub-confidentiality-code.xml")
	if r.Withheld || len(kinds(r, record.KindAllergy)) != 1 {
		t.Errorf("NOSCRUB allergy: withheld %v, entries %+v", r.Withheld, r.Entries)
	}

	// Our own: a confidential authorisation withholds its issues, filed in
	// another MedicationStatement; a confidential loose systolic half
	// withholds the diastolic recorded with it; a confidential battery
	// member leaves the battery's members.
	drug := `<consumable><manufacturedProduct><manufacturedMaterial><code code="dn1..00" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="Sertraline 50mg tablets"/></manufacturedMaterial></manufacturedProduct></consumable>`
	auth := `<MedicationStatement classCode="SBADM" moodCode="INT"><id root="MS-1"/><availabilityTime value="20240101"/>` + drug +
		`<component><ehrSupplyAuthorise classCode="SPLY" moodCode="INT"><id root="AUTH-1"/><confidentialityCode code="NOPAT" codeSystem="2.16.840.1.113883.4.642.3.47"/><statusCode code="ACTIVE"/><availabilityTime value="20240101"/><repeatNumber value="3"/></ehrSupplyAuthorise></component></MedicationStatement>`
	issue := `<MedicationStatement classCode="SBADM" moodCode="ORD"><id root="MS-2"/><availabilityTime value="20240201"/>` + drug +
		`<component><ehrSupplyPrescribe classCode="SPLY" moodCode="RQO"><id root="ISSUE-1"/><availabilityTime value="20240201"/><inFulfillmentOf><priorMedicationRef moodCode="INT"><id root="AUTH-1"/></priorMedicationRef></inFulfillmentOf></ehrSupplyPrescribe></component></MedicationStatement>`
	nopat := `<confidentialityCode code="NOPAT" codeSystem="2.16.840.1.113883.4.642.3.47"/>`
	sys := `<ObservationStatement classCode="OBS" moodCode="EVN"><id root="SYS-1"/><code code="2469.00" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="O/E - Systolic BP reading"/><effectiveTime><center value="202403011000"/></effectiveTime><availabilityTime value="202403011000"/>` + nopat + `<value xsi:type="PQ" value="150" unit="mm[Hg]"/></ObservationStatement>`
	dia := `<ObservationStatement classCode="OBS" moodCode="EVN"><id root="DIA-1"/><code code="246A.00" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="O/E - Diastolic BP reading"/><effectiveTime><center value="202403011000"/></effectiveTime><availabilityTime value="202403011000"/><value xsi:type="PQ" value="95" unit="mm[Hg]"/></ObservationStatement>`
	battery := `<CompoundStatement classCode="BATTERY" moodCode="EVN"><id root="LFT-1"/><code code="44D..00" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="Liver function tests"/><availabilityTime value="20240301"/>` +
		`<component>` + obsXML("ALT-1", "EVN", `<code code="44G3.00" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="ALT/SGPT serum level"/>`, "20240301", nopat) + `</component>` +
		`<component>` + obsXML("ALB-1", "EVN", `<code code="44M4.00" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="Serum albumin"/>`, "20240301", "") + `</component></CompoundStatement>`
	p, r, err := parseWhole(extractXML(composition("C-1", "20240101", auth), composition("C-2", "20240201", issue),
		composition("C-3", "202403011000", sys, dia), composition("C-4", "20240301", battery)), record.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"AUTH-1", "ISSUE-1", "SYS-1", "DIA-1", "ALT-1"} {
		if e := entryByID(r, id); e != nil {
			t.Errorf("%s shown: %+v", id, e)
		}
	}
	lft := entryByID(r, "LFT-1")
	if lft == nil || lft.Kind != record.KindInvestigation || len(lft.Members) != 1 || lft.Members[0] != "ALB-1" {
		t.Errorf("battery %+v", lft)
	}
	// Items: the authorisation, its issue, the reading (two halves), the
	// battery and its two results, and four consultations; withheld: all
	// but the battery and the result left in it (consultations kept).
	if !r.Withheld || r.Stats.Read != 10 || r.Stats.Withheld != 4 {
		t.Errorf("withheld %v stats %+v", r.Withheld, r.Stats)
	}
	if !p.withheld[key{"ehrSupplyPrescribe", "ISSUE-1"}] || !p.withheld[key{"ObservationStatement", "DIA-1"}] {
		t.Error("links not followed by element type")
	}
}

func TestAllergyShapes(t *testing.T) {
	for _, tc := range []struct {
		file      string
		id        string
		code      string // system|code of the allergy's first coding
		category  string
		uncoded   bool
		substance string // system|code of the allergen's national coding
	}{
		// The observation has only a local code and no allergen: the
		// heading's code, allergen not coded.
		{"degraded-drug-allergy-structure.xml", "394559384658936", record.SystemReadV2 + "|14L..00", record.AllergyDrug, true, ""},
		// No ids at all; the observation codes the allergy itself.
		{"degraded-non-drug-allergy-structure.xml", "", record.SystemCTV3 + "|XaPlY", record.AllergyOther, false, ""},
		// Local allergy code and local allergen only.
		{"drug-allergy-structure.xml", "394559384658936", record.SystemReadV2 + "|14L..00", record.AllergyDrug, true, ""},
		{"non-drug-allergy-structure.xml", "394559384658936", record.SystemReadV2 + "|SN53.00", record.AllergyOther, true, ""},
		// A heading code with a coded allergen.
		{"allergy-structure-tpp-named-schema.xml", "394559384658936", record.SystemCTV3 + "|14L..", record.AllergyDrug, false, record.SystemSNOMED + "|14613911000001107"},
		{"allergy-structure-with-translations.xml", "394559384658936", record.SystemCTV3 + "|14L..", record.AllergyDrug, false, record.SystemSNOMED + "|14613911000001107"},
		{"drug-allergy-with-value.xml", "394559384658936", record.SystemCTV3 + "|14L..", record.AllergyDrug, false, record.SystemSNOMED + "|41891011000001106"},
		// No code on the observation, allergen from a dm+d translation.
		{"allergy-structure-with-optional-data.xml", "394559384658936", record.SystemReadV2 + "|14L..00", record.AllergyDrug, false, record.SystemSNOMED + "|9808411000001103"},
		// A specific allergy code with its qualifier (Ongoing: not a confirmation).
		{"drug_allergy_with_qualifier_and_original_text.xml", "394559384658936", record.SystemReadV2 + "|ZVu6M00", record.AllergyDrug, false, record.SystemSNOMED + "|41891011000001106"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, r := fragment(t, filepath.Join("AllergyIntolerance", tc.file))
			al := kinds(r, record.KindAllergy)
			if len(al) != 1 {
				t.Fatalf("%d allergies: %+v", len(al), r.Entries)
			}
			e := al[0]
			if tc.id != "" && e.ID != tc.id {
				t.Errorf("id %s", e.ID)
			}
			cd := e.Code.Codings[0]
			if cd.System+"|"+cd.Code != tc.code || e.Allergy.Category != tc.category || e.Allergy.AllergenUncoded != tc.uncoded || e.Allergy.Confirmed {
				t.Errorf("allergy %+v %+v", e.Code.Codings, *e.Allergy)
			}
			sub := ""
			for _, s := range e.Allergy.Substance.Codings {
				if s.System == record.SystemSNOMED {
					sub = s.System + "|" + s.Code
				}
			}
			if sub != tc.substance {
				t.Errorf("allergen %q, want %q", sub, tc.substance)
			}
		})
	}
	// Confirmed only when the source says so.
	confirmedAllergy := `<CompoundStatement classCode="CATEGORY" moodCode="EVN"><id root="AL-C"/><code code="14L..00" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="H/O: drug allergy"/><availabilityTime value="20200101"/><component><ObservationStatement classCode="OBS" moodCode="EVN"><id root="AL-C"/><code code="14L2.00" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="H/O: penicillin allergy"><qualifier inverted="false"><name code="410605003" codeSystem="2.16.840.1.113883.2.1.3.2.4.15" displayName="Confirmed present"/></qualifier></code><availabilityTime value="20200101"/></ObservationStatement></component></CompoundStatement>`
	r := inline(t, composition("C-AL", "20200101", confirmedAllergy))
	if al := kinds(r, record.KindAllergy); len(al) != 1 || !al[0].Allergy.Confirmed || al[0].Allergy.AllergenUncoded {
		t.Errorf("confirmed allergy %+v", al)
	}
}

func TestPanels(t *testing.T) {
	_, r := fragment(t, "SpecimenComponents/specimen_with_three_test_group_headers.xml")
	report := entryByID(r, "DR_TEST_ID")
	if report == nil || report.Kind != record.KindInvestigation || !hasCode(report.Code, record.SystemSNOMED, snomedLabReport) ||
		strings.Join(report.Members, ",") != "TEST-GROUP-HEADER-2,TEST-GROUP-HEADER-3" {
		t.Fatalf("report %+v", report)
	}
	for _, tc := range []struct{ group, code, member string }{
		{"TEST-GROUP-HEADER-2", "42I..", "OBSERVATION-STATEMENT-ID-2"},
		{"TEST-GROUP-HEADER-3", "43A..", "OBSERVATION-STATEMENT-ID-3"},
	} {
		g := entryByID(r, tc.group)
		if g == nil || g.Kind != record.KindInvestigation || !hasCode(g.Code, record.SystemReadV2, tc.code) || g.Parent != "DR_TEST_ID" ||
			len(g.Members) != 1 || g.Members[0] != tc.member {
			t.Errorf("test group %+v", g)
		}
		if m := entryByID(r, tc.member); m == nil || m.Parent != tc.group || m.Kind != record.KindInvestigation {
			t.Errorf("result %+v", m)
		}
	}
	// The specimen cluster is no result: not shown, says why.
	if s := entryByID(r, "2067A980-8CA7-491C-A22E-10BB116F75B9"); s == nil || s.Kind != record.KindNone || s.NotShown != record.RuleNotInDataset {
		t.Errorf("specimen %+v", s)
	}
	// A battery of our own keeps its code (liver function tests) as the
	// parent of its results; an uncoded battery is only a container.
	lft := `<CompoundStatement classCode="BATTERY" moodCode="EVN"><id root="LFT-2"/><code code="44D..00" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="Liver function tests"><translation code="26958001" codeSystem="2.16.840.1.113883.2.1.3.2.4.15" displayName="Hepatic function panel"/></code><availabilityTime value="20240301"/>` +
		`<component>` + obsXML("ALB-2", "EVN", `<code code="44M4.00" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="Serum albumin"/>`, "20240301", `<value xsi:type="PQ" value="41" unit="g/L"/>`) + `</component></CompoundStatement>`
	bare := `<CompoundStatement classCode="BATTERY" moodCode="EVN"><id root="BARE-1"/><code nullFlavor="UNK"/><availabilityTime value="20240301"/>` +
		`<component>` + obsXML("ALB-3", "EVN", `<code code="44M4.00" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="Serum albumin"/>`, "20240301", "") + `</component></CompoundStatement>`
	r = inline(t, composition("C-LFT", "20240301", lft, bare))
	if p := entryByID(r, "LFT-2"); p == nil || p.Kind != record.KindInvestigation || !hasCode(p.Code, record.SystemSNOMED, "26958001") ||
		len(p.Members) != 1 || p.Members[0] != "ALB-2" {
		t.Errorf("battery %+v", p)
	}
	if entryByID(r, "BARE-1") != nil {
		t.Error("uncoded battery made an entry")
	}
	if a := entryByID(r, "ALB-3"); a == nil || a.Parent != "" || a.Kind != record.KindInvestigation {
		t.Errorf("result of an uncoded battery %+v", a)
	}
}

func TestReferralStatus(t *testing.T) {
	_, r := fragment(t, "RequestStatement/full_valid_data_example.xml")
	// COMPLETE: the request was recorded, not the referral finished.
	if ref := entryByID(r, "B4303C92-4D1C-11E3-A2DD-010000000161"); ref == nil || ref.Status != record.StatusUnknown {
		t.Errorf("COMPLETE referral %+v", ref)
	}
	req := func(id, status string) string {
		sc := ""
		if status != "" {
			sc = `<statusCode code="` + status + `"/>`
		}
		return `<RequestStatement classCode="OBS" moodCode="RQO"><id root="` + id + `"/><code code="8H4E.00" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="Referral to diabetologist"/>` +
			sc + `<availabilityTime value="20260101"/></RequestStatement>`
	}
	r = inline(t, composition("C-REF", "20260101", req("R-ACTIVE", "active"), req("R-DONE", "completed"),
		req("R-NULL", "nullified"), req("R-NONE", "")))
	for id, want := range map[string]record.Status{"R-ACTIVE": record.StatusActive, "R-DONE": record.StatusUnknown,
		"R-NULL": record.StatusUnknown, "R-NONE": record.StatusUnknown} {
		if e := entryByID(r, id); e == nil || e.Kind != record.KindReferral || e.Status != want {
			t.Errorf("%s: %+v, want status %s", id, e, want)
		}
	}
}

// Small extracts written here, in our own words and codes.

func extractXML(comps ...string) []byte {
	return []byte(`<RCMR_IN030000UK06 xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><ControlActEvent><subject><EhrExtract><availabilityTime value="20261120"/><component><ehrFolder>` +
		strings.Join(comps, "") + `</ehrFolder></component></EhrExtract></subject></ControlActEvent></RCMR_IN030000UK06>`)
}

func composition(id, ts string, stmts ...string) string {
	var b strings.Builder
	b.WriteString(`<component><ehrComposition classCode="COMPOSITION" moodCode="EVN"><id root="` + id + `"/><code code="25671000000102" codeSystem="2.16.840.1.113883.2.1.3.2.4.15" displayName="Surgery consultation note"/><effectiveTime><center value="` + ts + `"/></effectiveTime><availabilityTime value="` + ts + `"/>`)
	for _, s := range stmts {
		b.WriteString(`<component>` + s + `</component>`)
	}
	b.WriteString(`</ehrComposition></component>`)
	return b.String()
}

func obsXML(id, mood, code, ts, extra string) string {
	return `<ObservationStatement classCode="OBS" moodCode="` + mood + `"><id root="` + id + `"/>` + code +
		`<statusCode code="COMPLETE"/><effectiveTime><center value="` + ts + `"/></effectiveTime><availabilityTime value="` + ts + `"/>` + extra + `</ObservationStatement>`
}

func read65(code, display string) string {
	return `<code code="` + code + `" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="` + display + `"/>`
}

func inline(t *testing.T, comps ...string) *record.Record {
	t.Helper()
	doc := extractXML(comps...)
	p, r, err := parseWhole(doc, record.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	account(t, doc, p, r)
	return r
}
