package ips

import (
	"mig/adapters/record"
	"mig/fhir"
)

// Section is one IPS section the gateway fills, and the MIG view it is
// drawn from: the section is in a summary only when the request's sharing
// agreement covers that view (a required one is always there, and says so
// when it is not covered).
type Section struct {
	Key      string      // short name: problems, medications...
	Code     string      // LOINC section code
	Display  string      // LOINC display
	Title    string      // section title
	View     record.View // the view its entries come from
	Required bool        // IPS requires it (1..1)
	Head     []string    // narrative table columns
	Empty    string      // narrative when the record holds nothing of it
	// holds reports whether the section lists an entry (when shown) and
	// says it was withheld (when the access rules withheld it).
	holds func(e *record.Entry) bool
	// lists reports whether a resource made from an entry it holds is one
	// of the section's entries (an authorisation is listed as its
	// MedicationStatement, not its MedicationRequest).
	lists func(rs fhir.Resource) bool
}

// Sections are the sections a summary may hold, in the order the IPS
// lists them.
var Sections = []Section{
	{Key: "medications", Code: "10160-0", Display: "History of Medication use Narrative", Title: "Medication summary",
		View: record.ViewSummary, Required: true, Head: []string{"Medication", "Status", "Since"},
		Empty: "No current medication is recorded in the GP record.",
		holds: func(e *record.Entry) bool {
			return (e.Kind == record.KindMedicationAuthorisation || e.Kind == record.KindMedicationIssue) && e.InView(record.ViewSummary)
		},
		lists: func(rs fhir.Resource) bool {
			return rs.Entry.Kind == record.KindMedicationAuthorisation && rs.Type == "MedicationStatement" ||
				rs.Entry.Kind == record.KindMedicationIssue && rs.Type == "MedicationRequest"
		}},
	{Key: "allergies", Code: "48765-2", Display: "Allergies and adverse reactions Document", Title: "Allergies and intolerances",
		View: record.ViewSummary, Required: true, Head: []string{"Allergy or intolerance", "Status", "Since"},
		Empty: "No allergies or intolerances are recorded in the GP record.",
		holds: func(e *record.Entry) bool { return e.Kind == record.KindAllergy && e.InView(record.ViewSummary) },
		lists: func(rs fhir.Resource) bool { return rs.Type == "AllergyIntolerance" }},
	{Key: "problems", Code: "11450-4", Display: "Problem list - Reported", Title: "Problems",
		View: record.ViewSummary, Required: true, Head: []string{"Problem", "Status", "Onset"},
		Empty: "No current problems are recorded in the GP record.",
		holds: func(e *record.Entry) bool { return e.Kind == record.KindProblem && e.InView(record.ViewSummary) },
		lists: func(rs fhir.Resource) bool { return rs.Type == "Condition" }},
	{Key: "immunizations", Code: "11369-6", Display: "History of Immunization Narrative", Title: "Immunisations",
		View: record.ViewProcedures, Head: []string{"Vaccine", "Date"},
		Empty: "No immunisations are recorded in the GP record.",
		holds: func(e *record.Entry) bool {
			return e.Kind == record.KindImmunisation && !e.Planned && e.InView(record.ViewProcedures)
		},
		lists: func(rs fhir.Resource) bool { return rs.Type == "Immunization" }},
	{Key: "results", Code: "30954-2", Display: "Relevant diagnostic tests/laboratory data Narrative", Title: "Results",
		View: record.ViewInvestigations, Head: []string{"Test", "Result", "Date"},
		Empty: "No results are recorded in the GP record.",
		holds: func(e *record.Entry) bool {
			return e.Kind == record.KindInvestigation && !e.Planned && e.InView(record.ViewInvestigations)
		},
		lists: func(rs fhir.Resource) bool { return rs.Type == "Observation" }},
	{Key: "vital-signs", Code: "8716-3", Display: "Vital signs", Title: "Vital signs",
		View: record.ViewExamination, Head: []string{"Measurement", "Result", "Date"},
		Empty: "No blood pressure readings are recorded in the GP record.",
		holds: func(e *record.Entry) bool {
			return e.Kind == record.KindBloodPressure && !e.Planned && e.InView(record.ViewExamination)
		},
		lists: func(rs fhir.Resource) bool { return rs.Type == "Observation" }},
}

// SectionByCode returns the section with the LOINC code.
func SectionByCode(code string) (Section, bool) {
	for _, s := range Sections {
		if s.Code == code {
			return s, true
		}
	}
	return Section{}, false
}
