package rest

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"mig"
	"mig/adapters/record"
	"mig/audit"
	"mig/consent"
)

// AccessReportOptions say what the patient access report shows and which
// archived audit segments it reads besides the live store.
type AccessReportOptions struct {
	ShowTime  bool              // the time of day beside the date
	ShowNames bool              // users' names (when their token gave one in the shape of a name)
	OrgNames  map[string]string // ODS code -> organisation name told to patients
	Archives  []audit.Scanner   // archived segments (migctl audit archive)
}

var accessReportParams = map[string]bool{"identifier": true, "from": true, "to": true, "_format": true}

// accessReport serves GET /fhir/Patient/$mig-access-report?identifier=
// https://fhir.nhs.uk/Id/nhs-number|N[&from=YYYY-MM-DD][&to=YYYY-MM-DD]:
// who has looked at the patient's record, for the auditor and
// access-report roles of the practice the patient is registered at. The
// answer is a Parameters resource (audit.PatientReport.Parameters). Like
// every read, it is audited, and its AuditEvent is stored before the
// answer leaves; a requester outside the patient's practice gets the one
// not-found answer, so nobody learns where an NHS number is registered.
func (s *Server) accessReport(c echo.Context) error {
	r := s.newRequest(c, consent.OpAccessReport, "Patient")
	p := c.QueryParams()
	if nhs, err := nhsFromIdentifier(p.Get("identifier")); err == nil {
		r.NHSNumber = nhs // refusals name the patient asked about
	}
	if _, err := s.start(c, r); err != nil {
		return done(err)
	}
	q, err := accessReportQuery(p)
	if err != nil {
		return s.refuse(c, r, "request", err)
	}
	ctx := c.Request().Context()
	practice, err := s.Records.Locate(ctx, q.NHSNumber)
	if err != nil {
		if mig.ErrorCode(err) == mig.ENOTFOUND {
			err = notFound()
		}
		return s.refuse(c, r, "patient-resolution", err)
	}
	r.Practice = practice
	if practice != r.Principal.OrgODS {
		return s.refuse(c, r, "registered-practice", notFound())
	}
	q.Practice = practice
	q.ShowTime, q.ShowNames, q.OrgNames = s.AccessReport.ShowTime, s.AccessReport.ShowNames, s.AccessReport.OrgNames
	q.Now = s.now()
	rep, err := audit.BuildPatientReport(ctx, s.Audit, s.AccessReport.Archives, q)
	if err != nil {
		return s.refuse(c, r, "audit", err)
	}
	body, err := rep.Parameters()
	if err != nil {
		return s.refuse(c, r, "internal", err)
	}
	r.Released = map[string]int{"Parameters": 1}
	return s.release(c, r, http.StatusOK, contentType, body)
}

// accessReportQuery reads the operation's parameters: the NHS number
// (required) and the first and last UK days (optional).
func accessReportQuery(p url.Values) (audit.PatientReportQuery, error) {
	var q audit.PatientReportQuery
	for k, vals := range p {
		if !accessReportParams[k] {
			return q, invalidParam("parameter %q is not supported by $mig-access-report; see GET /fhir/OperationDefinition/mig-access-report", safeParam(k))
		}
		if err := onlyOnce(k, vals); err != nil {
			return q, err
		}
	}
	if p.Get("identifier") == "" {
		return q, invalidParam("identifier is required: %s|<NHS number>", nhsSystem)
	}
	nhs, err := nhsFromIdentifier(p.Get("identifier"))
	if err != nil {
		return q, err
	}
	q.NHSNumber = nhs
	if v := p.Get("from"); v != "" {
		if q.From, err = audit.UKDay(v); err != nil {
			return q, invalidParam("from must be a date, YYYY-MM-DD (a UK day)")
		}
	}
	if v := p.Get("to"); v != "" {
		last, err := audit.UKDay(v)
		if err != nil {
			return q, invalidParam("to must be a date, YYYY-MM-DD (a UK day, included)")
		}
		q.To = last.In(record.UKTime).AddDate(0, 0, 1).UTC()
		if !q.To.After(q.From) {
			return q, invalidParam("to must not be before from")
		}
	}
	return q, nil
}

// migAccessReportDefinition is the OperationDefinition of
// $mig-access-report, served where the CapabilityStatement points.
func (s *Server) migAccessReportDefinition() map[string]any {
	code := func(name, doc string) map[string]any {
		return map[string]any{"name": name, "use": "out", "min": 1, "max": "1", "type": "Coding", "documentation": doc}
	}
	return map[string]any{
		"resourceType": "OperationDefinition",
		"id":           "mig-access-report",
		"url":          s.Base + "/OperationDefinition/mig-access-report",
		"version":      s.Version,
		"name":         "MigAccessReport",
		"title":        "Who has looked at a patient's record",
		"status":       "active",
		"kind":         "operation",
		"description": "Each access to the patient's GP record through the gateway recorded in the period, allowed or refused, from the " +
			"audit trail (archived segments included), for answering a patient's request: the UK day, the organisation, the role " +
			"category, what was asked for and shown, the consent status (given, refused, emergency with its coded reason) and, " +
			"for a refusal, the refusing rule. For the auditor roles and the access-report roles (default R8008) of the practice " +
			"the patient is registered at; anyone else gets 404 PATIENT_NOT_FOUND (or 403 for a role not allowed). By default the " +
			"time of day and staff names are kept back and roles are categories, never job titles (organisation, role and time " +
			"together can identify a lone member of staff); the gateway's patientReport configuration can add them. Attempts " +
			"without a verified sign-in, and accesses while the patient was registered at another practice, are counted, not listed. " +
			"Read like any other: audited, the AuditEvent stored before the answer.",
		"affectsState": false,
		"code":         "mig-access-report",
		"resource":     []string{"Patient"},
		"system":       false,
		"type":         true,
		"instance":     false,
		"parameter": []map[string]any{
			{"name": "identifier", "use": "in", "min": 1, "max": "1", "type": "string", "searchType": "token",
				"documentation": nhsSystem + "|<NHS number>"},
			{"name": "from", "use": "in", "min": 0, "max": "1", "type": "date", "documentation": "first UK day, YYYY-MM-DD (default: the beginning)"},
			{"name": "to", "use": "in", "min": 0, "max": "1", "type": "date", "documentation": "last UK day, included, YYYY-MM-DD (default: today)"},
			{"name": "patient", "use": "out", "min": 1, "max": "1", "type": "Identifier", "documentation": "the NHS number"},
			{"name": "generated", "use": "out", "min": 1, "max": "1", "type": "dateTime", "documentation": "when the report was made"},
			{"name": "periodStart", "use": "out", "min": 0, "max": "1", "type": "date", "documentation": "from, when given"},
			{"name": "periodEnd", "use": "out", "min": 0, "max": "1", "type": "date", "documentation": "to, when given"},
			{"name": "practice", "use": "out", "min": 1, "max": "1", "type": "Identifier", "documentation": "the practice the report covers (ODS code)"},
			{"name": "showsTime", "use": "out", "min": 1, "max": "1", "type": "boolean", "documentation": "whether accesses carry the time of day"},
			{"name": "showsNames", "use": "out", "min": 1, "max": "1", "type": "boolean", "documentation": "whether accesses carry users' names"},
			{"name": "unauthenticatedLeftOut", "use": "out", "min": 1, "max": "1", "type": "integer", "documentation": "attempts without a verified sign-in, not listed"},
			{"name": "elsewhereLeftOut", "use": "out", "min": 1, "max": "1", "type": "integer", "documentation": "accesses while registered at another practice, not listed"},
			{"name": "access", "use": "out", "min": 0, "max": "*", "documentation": "one line: an access, or several that look the same on one day",
				"part": []map[string]any{
					{"name": "date", "use": "out", "min": 1, "max": "1", "type": "date", "documentation": "UK day"},
					{"name": "time", "use": "out", "min": 0, "max": "1", "type": "time", "documentation": "UK time to the minute, only when configured"},
					{"name": "organization", "use": "out", "min": 0, "max": "1", "type": "Identifier", "documentation": "the user's organisation (ODS code)"},
					{"name": "organizationName", "use": "out", "min": 0, "max": "1", "type": "string", "documentation": "its name, from the gateway's configuration"},
					code("role", "role category ("+audit.SystemRoleCategory+"), from the national RBAC role; never the job title"),
					{"name": "name", "use": "out", "min": 0, "max": "1", "type": "string", "documentation": "the user's name, only when configured and in the shape of a name"},
					{"name": "asked", "use": "out", "min": 1, "max": "*", "type": "Coding", "documentation": "what was asked for: a view (" + audit.SystemMigView + "), a resource type or an activity (" + audit.SystemAccessActivity + ")"},
					{"name": "shown", "use": "out", "min": 0, "max": "*", "documentation": "what was released, by resource type",
						"part": []map[string]any{
							{"name": "type", "use": "out", "min": 1, "max": "1", "type": "Coding", "documentation": "the resource type (http://hl7.org/fhir/resource-types), in plain words"},
							{"name": "count", "use": "out", "min": 1, "max": "1", "type": "integer", "documentation": "how many"},
						}},
					{"name": "consent", "use": "out", "min": 0, "max": "1", "type": "Coding", "documentation": "consent to view (" + audit.SystemViewConsentStatus + "): given | refused | emergency | none"},
					{"name": "emergencyReason", "use": "out", "min": 0, "max": "1", "type": "Coding", "documentation": "the coded emergency reason (" + audit.SystemEmergencyReason + ")"},
					code("outcome", "allowed | refused | not-completed ("+audit.SystemAccessOutcome+")"),
					{"name": "reason", "use": "out", "min": 0, "max": "1", "type": "Coding", "documentation": "the refusing or failing rule (" + audit.SystemAccessRule + "), in plain words"},
					{"name": "count", "use": "out", "min": 1, "max": "1", "type": "integer", "documentation": "accesses this line stands for"},
				}},
		},
	}
}
