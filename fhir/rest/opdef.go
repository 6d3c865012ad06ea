package rest

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"mig/adapters/record"
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

// operationDefinition serves GET /fhir/OperationDefinition/{id} (public, as
// the CapabilityStatement is): the definitions of our own operations.
func (s *Server) operationDefinition(c echo.Context) error {
	if c.Param("id") != "mig-view" {
		return s.writeError(c, resourceNotFound("OperationDefinition"))
	}
	body, err := json.Marshal(s.migViewDefinition())
	if err != nil {
		return s.writeError(c, err)
	}
	return c.Blob(http.StatusOK, contentType, body)
}
