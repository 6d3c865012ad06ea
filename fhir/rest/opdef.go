package rest

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"mig/adapters/record"
	"mig/fhir/ips"
)

// migViewDefinition is the OperationDefinition of $mig-view, served where
// the CapabilityStatement points, so FHIR tooling can resolve it. It is
// built from the view table, so adding a view updates it.
func (s *Server) migViewDefinition() map[string]any {
	var names []string
	for _, v := range record.Views {
		names = append(names, string(v.View)+" ("+v.Title+")")
	}
	return map[string]any{
		"resourceType": "OperationDefinition",
		"id":           "mig-view",
		"url":          s.Base + "/OperationDefinition/mig-view",
		"version":      s.Version,
		"name":         "MigView",
		"title":        "MIG view of a patient's GP record",
		"status":       "active",
		"kind":         "operation",
		"description": "One of the ten MIG views of the patient's GP record, read live from the GP system, as a searchset Bundle: " +
			strings.Join(names, ", ") + ". The Patient is in every view. Only coded data; items withheld by the sharing agreement, " +
			"confidentiality or sensitivity are announced by an OperationOutcome entry (search mode outcome), never listed.",
		"affectsState": false,
		"code":         "mig-view",
		"resource":     []string{"Patient"},
		"system":       false,
		"type":         false,
		"instance":     true,
		"parameter": []map[string]any{
			{"name": "view", "use": "in", "min": 1, "max": "1", "type": "code",
				"documentation": "the view: " + strings.Join(viewCodes(), " | ")},
			{"name": "_count", "use": "in", "min": 0, "max": "1", "type": "integer",
				"documentation": "page size (1-500, default 50)"},
			{"name": "return", "use": "out", "min": 1, "max": "1", "type": "Bundle",
				"documentation": "searchset Bundle: the Patient, the view's resources, and an OperationOutcome entry when something was withheld"},
		},
	}
}

func viewCodes() []string {
	var out []string
	for _, v := range record.AllViews() {
		out = append(out, string(v))
	}
	return out
}

// migEverythingDefinition is our $everything: HL7's Patient-everything
// (which it names as its base) with what differs said: _since is refused,
// start and end keep undated and ongoing items, the answer is a searchset.
func (s *Server) migEverythingDefinition() map[string]any {
	return map[string]any{
		"resourceType": "OperationDefinition",
		"id":           "mig-everything",
		"url":          s.Base + "/OperationDefinition/mig-everything",
		"version":      s.Version,
		"name":         "MigPatientEverything",
		"title":        "Everything the sharing agreement covers of a patient's GP record",
		"status":       "active",
		"kind":         "operation",
		"description": "HL7 Patient-everything on a GP record read live from the GP system: the Patient and every resource the agreement's views cover, " +
			"as a searchset Bundle; items withheld by the agreement, confidentiality or sensitivity are announced by an OperationOutcome entry " +
			"(search mode outcome), never listed. _since is refused (400): a live record has no history of changes to compare against. " +
			"start and end bound the clinical date (onset, effective, occurrence, else recorded; a resolved problem or ended medication " +
			"counts to its end) and keep undated items and ongoing ones whatever their date: active problems, active allergies, current " +
			"medication (active authorisations) and active risks. _summary=count and _elements are served as on searches.",
		"base":         "http://hl7.org/fhir/OperationDefinition/Patient-everything",
		"affectsState": false,
		"code":         "everything",
		"resource":     []string{"Patient"},
		"system":       false,
		"type":         false,
		"instance":     true,
		"parameter": []map[string]any{
			{"name": "start", "use": "in", "min": 0, "max": "1", "type": "date",
				"documentation": "care period start: YYYY, YYYY-MM, YYYY-MM-DD or a date-time with its zone, no prefix; from its first instant"},
			{"name": "end", "use": "in", "min": 0, "max": "1", "type": "date",
				"documentation": "care period end, as start; to its last instant"},
			{"name": "_type", "use": "in", "min": 0, "max": "1", "type": "code",
				"documentation": "resource types to return, comma separated: " + strings.Join(typeNames(), " | ") + "; the Patient only if listed"},
			{"name": "_count", "use": "in", "min": 0, "max": "1", "type": "integer",
				"documentation": "page size (1-500, default 50); next and previous links carry the _page cursor"},
			{"name": "return", "use": "out", "min": 1, "max": "1", "type": "Bundle",
				"documentation": "searchset Bundle with total: the resources, and an OperationOutcome entry when something was withheld"},
		},
	}
}

// migSummaryDefinition is our $summary: the IPS summary operation (its
// base) on one patient, with what differs said: instance level only (no
// identifier), no graph, profile only the IPS Bundle profile.
func (s *Server) migSummaryDefinition() map[string]any {
	return map[string]any{
		"resourceType": "OperationDefinition",
		"id":           "mig-summary",
		"url":          s.Base + "/OperationDefinition/mig-summary",
		"version":      s.Version,
		"name":         "MigIpsSummary",
		"title":        "International Patient Summary of a patient's GP record",
		"status":       "active",
		"kind":         "operation",
		"description": "The IPS summary operation on a GP record read live from the GP system: an IPS 2.0 document Bundle (Composition first, " +
			"then the Patient, the gateway as author, and each section's resources once), under the access rules and audit of $everything. " +
			"Sections: medication summary, allergies and intolerances, problems (from the summary view), immunisations (procedures view), " +
			"results (investigations view), vital signs (examination view). A section is present only if the sharing agreement covers its view; " +
			"the three the IPS requires are always present, with emptyReason withheld when not covered. Withheld items are said in the document: " +
			"emptyReason withheld when all of a section's items were, a section note when some were, and a note on the Composition when anything " +
			"of the record was. Narrative is generated from codes, displays, dates and values only. Served for one patient by id: the identifier " +
			"and graph parameters are not served.",
		"base":         ips.OperationSummary,
		"affectsState": false,
		"code":         "summary",
		"resource":     []string{"Patient"},
		"system":       false,
		"type":         false,
		"instance":     true,
		"parameter": []map[string]any{
			{"name": "profile", "use": "in", "min": 0, "max": "1", "type": "uri",
				"documentation": "the document profile: only " + ips.ProfileBundle + " (the default)"},
			{"name": "return", "use": "out", "min": 1, "max": "1", "type": "Bundle",
				"documentation": "the IPS document Bundle"},
		},
	}
}

// operationDefinition serves GET /fhir/OperationDefinition/{id} (public, as
// the CapabilityStatement is): the definitions of our own operations.
func (s *Server) operationDefinition(c echo.Context) error {
	var def map[string]any
	switch c.Param("id") {
	case "mig-view":
		def = s.migViewDefinition()
	case "mig-everything":
		def = s.migEverythingDefinition()
	case "mig-access-report":
		def = s.migAccessReportDefinition()
	case "mig-summary":
		def = s.migSummaryDefinition()
	default:
		return s.writeError(c, resourceNotFound("OperationDefinition"))
	}
	body, err := json.Marshal(def)
	if err != nil {
		return s.writeError(c, err)
	}
	return c.Blob(http.StatusOK, contentType, body)
}
