package fhir

import (
	"mig/adapters/record"

	c "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	srpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/service_request_go_proto"
)

func (mp *mapping) serviceRequest(e *record.Entry, id string) *srpb.ServiceRequest {
	st := c.RequestStatusCode_ACTIVE
	switch e.Status {
	case record.StatusCompleted, record.StatusResolved, record.StatusInactive, record.StatusStopped:
		st = c.RequestStatusCode_COMPLETED
	}
	out := &srpb.ServiceRequest{
		Id:         &d.Id{Value: id},
		Meta:       meta(Profile("ServiceRequest")),
		Status:     &srpb.ServiceRequest_StatusCode{Value: st},
		Intent:     &srpb.ServiceRequest_IntentCode{Value: c.RequestIntentCode_ORDER},
		Code:       concept(e.Code),
		Subject:    mp.patient,
		AuthoredOn: dateTime(e.Effective),
		Requester:  personRef(e.Author),
	}
	if ri := e.Referral; ri != nil {
		if p, ok := priorities[ri.Priority]; ok {
			out.Priority = &srpb.ServiceRequest_PriorityCode{Value: p}
		}
		if r := odsRef(ri.Recipient); r != nil {
			out.Performer = []*d.Reference{r}
		}
		out.PerformerType = concept(ri.Specialty)
	}
	if r := mp.refOfType(e.Encounter, "Encounter"); r != nil {
		out.Encounter = r
	}
	return out
}

var priorities = map[string]c.RequestPriorityCode_Value{
	"routine": c.RequestPriorityCode_ROUTINE, "urgent": c.RequestPriorityCode_URGENT,
	"asap": c.RequestPriorityCode_ASAP, "stat": c.RequestPriorityCode_STAT,
}
