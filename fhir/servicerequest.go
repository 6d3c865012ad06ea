package fhir

import (
	"mig/adapters/record"

	c "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	srpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/service_request_go_proto"
)

// serviceRequest maps a referral, or any planned entry (a recall, a
// vaccination due, a planned operation), which is a request with intent
// plan, never an event.
//
// Status: a referral is active only when the GP system says it is open;
// one that ran its course is completed, and one with no status is unknown
// (never shown as open on a guess). A plan is active (still intended)
// unless the GP system says it ended.
func (mp *mapping) serviceRequest(e *record.Entry, id string) *srpb.ServiceRequest {
	st := requestStatuses[ServiceRequestStatus(e)]
	code := mp.concept(e.Code)
	out := &srpb.ServiceRequest{
		Id:         &d.Id{Value: id},
		Meta:       meta(Profile("ServiceRequest")),
		Status:     &srpb.ServiceRequest_StatusCode{Value: st},
		Intent:     &srpb.ServiceRequest_IntentCode{Value: c.RequestIntentCode_ORDER},
		Code:       code,
		Subject:    mp.patient,
		AuthoredOn: dateTime(e.Effective),
		Requester:  personRef(e.Author),
	}
	if e.Planned {
		if code == nil {
			return nil // a plan of nothing coded says nothing
		}
		// When it was planned for is the occurrence; when it was written
		// down is authoredOn. Neither says it happened.
		out.Intent = &srpb.ServiceRequest_IntentCode{Value: c.RequestIntentCode_PLAN}
		out.AuthoredOn = dateTime(e.Recorded)
		if dt := dateTime(e.Effective); dt != nil {
			out.Occurrence = &srpb.ServiceRequest_OccurrenceX{Choice: &srpb.ServiceRequest_OccurrenceX_DateTime{DateTime: dt}}
		}
		out.Category = []*d.CodeableConcept{planCategory(e.Kind)}
	}
	if ri := e.Referral; ri != nil {
		if p, ok := priorities[ri.Priority]; ok {
			out.Priority = &srpb.ServiceRequest_PriorityCode{Value: p}
		}
		if r := odsRef(ri.Recipient); r != nil {
			out.Performer = []*d.Reference{r}
		}
		out.PerformerType = mp.concept(ri.Specialty)
	}
	if r := mp.refOfType(e.Encounter, "Encounter"); r != nil {
		out.Encounter = r
	}
	return out
}

// ServiceRequestStatus is the status a referral or plan is shown with
// (active, completed, revoked or unknown); searches match on it.
func ServiceRequestStatus(e *record.Entry) string {
	switch e.Status {
	case record.StatusActive:
		return "active"
	case record.StatusCompleted, record.StatusResolved, record.StatusInactive:
		return "completed"
	case record.StatusStopped:
		return "revoked"
	}
	if e.Planned {
		return "active"
	}
	return "unknown"
}

var requestStatuses = map[string]c.RequestStatusCode_Value{"active": c.RequestStatusCode_ACTIVE,
	"completed": c.RequestStatusCode_COMPLETED, "revoked": c.RequestStatusCode_REVOKED, "unknown": c.RequestStatusCode_UNKNOWN}

var priorities = map[string]c.RequestPriorityCode_Value{
	"routine": c.RequestPriorityCode_ROUTINE, "urgent": c.RequestPriorityCode_URGENT,
	"asap": c.RequestPriorityCode_ASAP, "stat": c.RequestPriorityCode_STAT,
}

// planCategory says what kind of thing a plan is about, in the SNOMED CT
// categories UK Core's ServiceRequest uses: a procedure or immunisation
// planned (71388002 procedure), a test (108252007 laboratory procedure),
// a referral (3457005 patient referral), or anything else planned
// (386053000 evaluation procedure).
func planCategory(k record.Kind) *d.CodeableConcept {
	switch k {
	case record.KindReferral, record.KindAdmission:
		return fixedConcept(record.SystemSNOMED, "3457005", "Patient referral")
	case record.KindInvestigation, record.KindBloodPressure:
		return fixedConcept(record.SystemSNOMED, "108252007", "Laboratory procedure")
	case record.KindProcedure, record.KindImmunisation:
		return fixedConcept(record.SystemSNOMED, "71388002", "Procedure")
	}
	return fixedConcept(record.SystemSNOMED, "386053000", "Evaluation procedure")
}
