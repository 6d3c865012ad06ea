package rest

import (
	"net/url"
	"testing"

	"mig/adapters/record"
	"mig/fhir"
)

// start and end keep what is dated in the care period, undated items, and
// ongoing ones whatever their date; a resolved problem or ended medication
// counts to its end.
func TestEverythingKeep(t *testing.T) {
	day := func(s string) record.Date { return record.Date{T: utc(s + "T00:00:00Z"), P: record.PrecisionDay} }
	f, err := parseEverything(url.Values{"start": {"2026-09"}, "end": {"2026-09-30"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		typ  string
		e    *record.Entry
		want bool
	}{
		{"the Patient", "Patient", nil, true},
		{"in the period", "Observation", &record.Entry{Kind: record.KindInvestigation, Effective: day("2026-09-15")}, true},
		{"recorded in the period", "Procedure", &record.Entry{Kind: record.KindProcedure, Recorded: day("2026-09-30")}, true},
		{"before", "Observation", &record.Entry{Kind: record.KindInvestigation, Effective: day("2026-08-31")}, false},
		{"after", "Immunization", &record.Entry{Kind: record.KindImmunisation, Effective: day("2026-10-01")}, false},
		{"undated", "Procedure", &record.Entry{Kind: record.KindProcedure}, true},
		{"active problem of 2012", "Condition", &record.Entry{Kind: record.KindProblem, Status: record.StatusActive, Effective: day("2012-05-01")}, true},
		{"resolved problem of 2015", "Condition", &record.Entry{Kind: record.KindProblem, Status: record.StatusResolved, Effective: day("2015-02-10"), End: day("2015-06-01")}, false},
		{"resolved problem into the period", "Condition", &record.Entry{Kind: record.KindProblem, Status: record.StatusResolved, Effective: day("2026-01-10"), End: day("2026-09-01")}, true},
		{"allergy of unknown status", "AllergyIntolerance", &record.Entry{Kind: record.KindAllergy, Status: record.StatusUnknown, Effective: day("2001-05-02")}, true},
		{"current medication", "MedicationRequest", &record.Entry{Kind: record.KindMedicationAuthorisation, Status: record.StatusActive, Effective: day("2024-01-10")}, true},
		{"stopped medication", "MedicationStatement", &record.Entry{Kind: record.KindMedicationAuthorisation, Status: record.StatusStopped, Effective: day("2025-03-01"), End: day("2025-03-08")}, false},
		{"an old issue", "MedicationRequest", &record.Entry{Kind: record.KindMedicationIssue, Effective: day("2026-10-01")}, false},
		{"active risk", "Flag", &record.Entry{Kind: record.KindRisk, Status: record.StatusUnknown, Effective: day("2026-06-01")}, true},
		{"inactive risk", "Flag", &record.Entry{Kind: record.KindRisk, Status: record.StatusInactive, Effective: day("2026-06-01")}, false},
		{"diagnosis is dated, not ongoing", "Condition", &record.Entry{Kind: record.KindDiagnosis, Status: record.StatusActive, Effective: day("2020-01-01")}, false},
	} {
		if got := f.keep(fhir.Resource{Type: tc.typ, Entry: tc.e}); got != tc.want {
			t.Errorf("%s: kept %v, want %v", tc.name, got, tc.want)
		}
	}
	types, _ := parseEverything(url.Values{"_type": {"Condition,Flag"}})
	for typ, want := range map[string]bool{"Condition": true, "Flag": true, "Patient": false, "Observation": false} {
		if got := types.keep(fhir.Resource{Type: typ, Entry: &record.Entry{}}); got != want {
			t.Errorf("_type=Condition,Flag keeps %s: %v", typ, got)
		}
	}
}
