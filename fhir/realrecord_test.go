package fhir

import (
	"encoding/json"
	"strings"
	"testing"

	"mig/adapters/record"
)

// Hand-written expectations for the rules real GP records needed (issue
// "Right on real records"): each case builds the entries a real shape
// gives and checks the FHIR a clinician would read.

func oneRecord(entries ...record.Entry) *record.Record {
	return &record.Record{Patient: record.Patient{NHSNumber: "9990001006"}, Entries: entries}
}

// mapped maps rec and returns the resources as decoded JSON, with the
// result; every body must pass the validating unmarshaller.
func mapped(t *testing.T, rec *record.Record) (*Result, []map[string]any) {
	t.Helper()
	res, bodies := mapAll(t, testMapper(t), tagged(rec), nil)
	var out []map[string]any
	for i, b := range bodies {
		validate(t, "resource", b)
		if i == 0 {
			continue // the Patient
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return res, out
}

func snomed(code string) record.Concept {
	return record.Concept{Codings: []record.Coding{record.SNOMEDCoding(code, record.Term{})}}
}

func TestPlansAreNotEvents(t *testing.T) {
	due := day(2027, 3, 1)
	tests := []struct {
		name string
		kind record.Kind
		view record.View
	}{
		{"vaccination due", record.KindImmunisation, record.ViewProcedures},
		{"planned operation", record.KindProcedure, record.ViewProcedures},
		{"recall for a test", record.KindInvestigation, record.ViewInvestigations},
		{"planned referral", record.KindReferral, record.ViewEvents},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, rs := mapped(t, oneRecord(record.Entry{ID: "p1", Kind: tc.kind, Planned: true,
				Code: read("65E..", "", "86198006", ""), Effective: due, Recorded: day(2026, 11, 1)}))
			if len(rs) != 1 || rs[0]["resourceType"] != "ServiceRequest" {
				t.Fatalf("got %v, want one ServiceRequest", rs)
			}
			r := rs[0]
			if r["intent"] != "plan" || r["status"] != "active" {
				t.Errorf("intent %v status %v, want plan active", r["intent"], r["status"])
			}
			if r["occurrenceDateTime"] != "2027-03-01" || r["authoredOn"] != "2026-11-01" {
				t.Errorf("occurrence %v authoredOn %v", r["occurrenceDateTime"], r["authoredOn"])
			}
			for _, k := range []string{"performedDateTime", "occurrenceString"} {
				if _, ok := r[k]; ok {
					t.Errorf("a plan carries %s", k)
				}
			}
			if !res.Resources[0].Entry.InView(tc.view) || res.Resources[0].Entry.InView(record.ViewSummary) {
				t.Errorf("views %v, want %s and not summary", res.Resources[0].Views, tc.view)
			}
		})
	}
}

func TestDescriptionIDs(t *testing.T) {
	// 37443015 is a description id (partition 01, Verhoeff-valid);
	// 22298006 is myocardial infarction, a concept.
	if !record.IsDescriptionID("37443015") || record.IsDescriptionID("22298006") {
		t.Fatal("fixture ids are not what the test assumes")
	}
	// Unresolved: the coding is left out, the Read code stands.
	c := read("G30..", "", "", "")
	c.Codings = append(c.Codings, record.SNOMEDCoding("37443015", record.Term{}))
	_, rs := mapped(t, oneRecord(record.Entry{ID: "d1", Kind: record.KindDiagnosis, Code: c}))
	b, _ := json.Marshal(rs)
	if strings.Contains(string(b), "37443015") {
		t.Errorf("an unresolved description id was shown: %s", b)
	}
	// Resolved by a release: the concept, with the description id in the
	// coding-sctdescid extension.
	c = record.Concept{Codings: []record.Coding{{System: record.SystemSNOMED, Code: "22298006", DescriptionID: "37443015"}}}
	_, rs = mapped(t, oneRecord(record.Entry{ID: "d2", Kind: record.KindDiagnosis, Code: c}))
	cd := get(rs[0], "code", "coding", "0").(map[string]any)
	if cd["code"] != "22298006" || get(cd, "extension", "0", "url") != ExtSCTDescID || get(cd, "extension", "0", "valueId") != "37443015" {
		t.Errorf("coding %v", cd)
	}
	// A description id in the concept slot (an adapter that did not use
	// SNOMEDCoding) is never shown as a concept.
	c = record.Concept{Codings: []record.Coding{{System: record.SystemSNOMED, Code: "37443015"}}}
	res, rs := mapped(t, oneRecord(record.Entry{ID: "d3", Kind: record.KindDiagnosis, Code: c}))
	if len(rs) != 0 || !res.Unclassified {
		t.Errorf("got %v unclassified %v, want nothing shown and the warning", rs, res.Unclassified)
	}
}

func TestAllergenNotCoded(t *testing.T) {
	res, rs := mapped(t, oneRecord(
		record.Entry{ID: "a1", Kind: record.KindAllergy, Status: record.StatusActive, Code: read("14L..", "", "", ""),
			Allergy: &record.AllergyInfo{Category: record.AllergyDrug, AllergenUncoded: true}},
		record.Entry{ID: "nka", Kind: record.KindAllergy, Code: read("1151.", "", "", ""),
			Allergy: &record.AllergyInfo{Category: record.AllergyNoKnown}}))
	if len(rs) != 1 {
		t.Fatalf("%d resources, want the allergy alone (no known allergies is contradicted)", len(rs))
	}
	if get(rs[0], "extension", "0", "url") != ExtAllergenNotCoded || get(rs[0], "extension", "0", "valueBoolean") != true {
		t.Errorf("no allergen-not-coded marker: %v", rs[0])
	}
	if _, ok := rs[0]["verificationStatus"]; ok {
		t.Error("verificationStatus invented")
	}
	if get(rs[0], "code", "coding", "0", "code") != "14L.." {
		t.Error("the heading's code is not the allergy's code")
	}
	if res.Withheld || res.Unclassified {
		t.Errorf("withheld %v unclassified %v: nothing was", res.Withheld, res.Unclassified)
	}
	// No code at all: never an AllergyIntolerance, and the response says so.
	res, rs = mapped(t, oneRecord(record.Entry{ID: "a2", Kind: record.KindAllergy, Allergy: &record.AllergyInfo{AllergenUncoded: true}}))
	if len(rs) != 0 || !res.Unclassified {
		t.Errorf("an allergy with no code: %v unclassified %v", rs, res.Unclassified)
	}
	// A "no known allergies" alone is shown with SNOMED's code beside it.
	_, rs = mapped(t, oneRecord(record.Entry{ID: "nka", Kind: record.KindAllergy, Code: read("1151.", "", "", ""),
		Allergy: &record.AllergyInfo{Category: record.AllergyNoKnown}}))
	if len(rs) != 1 || get(rs[0], "code", "coding", "1", "code") != "716186003" || get(rs[0], "code", "coding", "1", "userSelected") != nil {
		t.Errorf("no known allergy: %v", rs)
	}
}

func TestBatteriesAndReports(t *testing.T) {
	hb := record.Entry{ID: "hb", Kind: record.KindInvestigation, Parent: "fbc", Code: read("423..", "", "", ""),
		Value: &record.Quantity{Value: "131", Unit: "g/L"}}
	fbc := record.Entry{ID: "fbc", Kind: record.KindInvestigation, Code: read("424..", "", "26604007", ""), Members: []string{"hb"}, Battery: true}
	_, rs := mapped(t, oneRecord(fbc, hb))
	if len(rs) != 2 || get(rs[0], "code", "coding", "1", "code") != "26604007" || get(rs[0], "hasMember", "0", "reference") == nil {
		t.Fatalf("battery: %v", rs)
	}
	// The member withheld by the access rules: the empty battery is not sent
	// and no reference dangles.
	res, bodies := mapAll(t, testMapper(t), tagged(oneRecord(fbc, hb)), func(e *record.Entry) bool { return e.ID != "hb" })
	if len(res.Resources) != 0 || !res.Withheld || res.EmptyReports != 1 {
		t.Errorf("empty report sent: %d resources, withheld %v, %d empty reports", len(res.Resources), res.Withheld, res.EmptyReports)
	}
	rec := oneRecord(fbc, hb)
	rec.Stats.Read = 2
	if rp := Account(rec, res); rp.Accounted() != 2 || rp.Rules[record.RuleEmptyReport] != 1 {
		t.Errorf("report %+v", rp)
	}
	_ = bodies
}

func TestInterpretationAndRanges(t *testing.T) {
	for _, tc := range []struct{ system, code, want string }{
		{"2.16.840.1.113883.2.1.6.5", "HI", "H"},
		{"2.16.840.1.113883.2.1.6.5", "LO", "L"},
		{"2.16.840.1.113883.2.1.6.5", "OR", "A"},
		{"2.16.840.1.113883.2.1.6.5", "PA", "A"},
		{SystemV3Interpretation, "HH", "HH"},
		{"2.16.840.1.113883.2.1.6.5", "XX", ""},
		{"urn:oid:9.9", "H", ""},
	} {
		_, rs := mapped(t, oneRecord(record.Entry{ID: "r", Kind: record.KindInvestigation, Code: read("44J3.", "", "", ""),
			Value:          &record.Quantity{Value: "7.1", Unit: "mmol/L", Comparator: "<"},
			Range:          &record.Range{High: &record.Quantity{Value: "5.5", Unit: "mmol/L"}},
			Interpretation: record.Concept{Codings: []record.Coding{{System: tc.system, Code: tc.code}}}}))
		got, _ := get(rs[0], "interpretation", "0", "coding", "0", "code").(string)
		if got != tc.want {
			t.Errorf("%s|%s: interpretation %q, want %q", tc.system, tc.code, got, tc.want)
		}
		if get(rs[0], "valueQuantity", "comparator") != "<" || get(rs[0], "referenceRange", "0", "high", "value") != 5.5 {
			t.Errorf("value or range lost: %v", rs[0])
		}
	}
	// A result given as an interval keeps both bounds.
	_, rs := mapped(t, oneRecord(record.Entry{ID: "iv", Kind: record.KindInvestigation, Code: read("44P..", "", "", ""),
		ValueRange: &record.Range{Low: &record.Quantity{Value: "4", Unit: "mmol/L"}, High: &record.Quantity{Value: "6", Unit: "mmol/L"}}}))
	if get(rs[0], "valueRange", "low", "value") != 4.0 || get(rs[0], "valueRange", "high", "code") != "mmol/L" {
		t.Errorf("interval result: %v", rs[0])
	}
	// Blood pressure halves keep their ranges.
	_, rs = mapped(t, oneRecord(record.Entry{ID: "bp", Kind: record.KindBloodPressure,
		Systolic: &record.Quantity{Value: "150"}, Diastolic: &record.Quantity{Value: "95"},
		SystolicRange: &record.Range{High: &record.Quantity{Value: "140"}}, DiastolicRange: &record.Range{High: &record.Quantity{Value: "90"}}}))
	if get(rs[0], "component", "0", "referenceRange", "0", "high", "value") != 140.0 || get(rs[0], "component", "1", "referenceRange", "0", "high", "value") != 90.0 {
		t.Errorf("bp ranges lost: %v", rs[0]["component"])
	}
}

func TestReferralStatus(t *testing.T) {
	for _, tc := range []struct {
		st   record.Status
		want string
	}{{record.StatusActive, "active"}, {record.StatusCompleted, "completed"}, {record.StatusUnknown, "unknown"}, {record.StatusStopped, "revoked"}} {
		_, rs := mapped(t, oneRecord(record.Entry{ID: "ref", Kind: record.KindReferral, Status: tc.st, Code: read("8H4E.", "", "", "")}))
		if rs[0]["status"] != tc.want {
			t.Errorf("%v: status %v, want %s", tc.st, rs[0]["status"], tc.want)
		}
	}
}

func TestRepeatedIDsMakeUniqueResources(t *testing.T) {
	a := record.Entry{ID: "X1", Kind: record.KindAllergy, Status: record.StatusActive, Code: read("14L2.", "", "", ""), Allergy: &record.AllergyInfo{}}
	b := a
	b.Allergy = &record.AllergyInfo{}
	c := record.Entry{ID: "X1", Kind: record.KindDiagnosis, Code: read("H33..", "", "", "")}
	rec := oneRecord(a, b, c)
	rec.Finish()
	res, _ := mapped(t, rec)
	seen := map[string]bool{}
	for _, r := range res.Resources {
		u := r.Type + "/" + r.ID
		if seen[u] {
			t.Errorf("two entries for %s", u)
		}
		seen[u] = true
	}
	if len(res.Resources) != 2 || rec.Stats.Duplicate != 1 {
		t.Errorf("%d resources, %d duplicates: want the allergy once and the diagnosis", len(res.Resources), rec.Stats.Duplicate)
	}
}

func TestUnclassifiedWarningAndReport(t *testing.T) {
	rec := oneRecord(
		record.Entry{ID: "u", Kind: record.KindNone, NotShown: record.RuleUnclassifiable, Code: snomed("41398015")},
		record.Entry{ID: "adm", Kind: record.KindNone, NotShown: record.RuleAdministration, Code: read("9N1..", "", "", "")},
		record.Entry{ID: "dx", Kind: record.KindDiagnosis, Code: read("H33..", "", "", "")},
		record.Entry{ID: "bad", Kind: record.KindNone, NotShown: record.RuleUnclassifiable,
			Code: record.Concept{Codings: []record.Coding{{System: "ring me", Code: "call 07700 900123"}}}},
	)
	rec.Stats.Read = 4
	res, _ := mapped(t, rec)
	if !res.Unclassified || res.Withheld {
		t.Fatalf("unclassified %v withheld %v", res.Unclassified, res.Withheld)
	}
	rp := Account(rec, res)
	if rp.Accounted() != rp.Read || rp.Shown != 1 || rp.Rules[record.RuleAdministration] != 1 || len(rp.Unclassifiable) != 2 {
		t.Errorf("report %+v", rp)
	}
	var b strings.Builder
	if err := rp.Write(&b, "x.xml"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"ring me", "07700"} {
		if strings.Contains(b.String(), bad) {
			t.Errorf("report shows extract text %q:\n%s", bad, b.String())
		}
	}
	if !strings.Contains(b.String(), "other|(not a code)") || !strings.Contains(b.String(), "administration 1") {
		t.Errorf("report:\n%s", b.String())
	}
}

func TestCodesFindBloodPressureByPanel(t *testing.T) {
	e := &record.Entry{Kind: record.KindBloodPressure, Code: read("246..", "", "", "")}
	if !hasCode(Codes(e), record.SystemLOINC, loincBPPanel) {
		t.Error("the bp panel code is not among the codes searched")
	}
}
