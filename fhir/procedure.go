package fhir

import (
	"mig/adapters/record"

	c "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	procpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/procedure_go_proto"
)

func (mp *mapping) procedure(e *record.Entry, id string) *procpb.Procedure {
	code := mp.concept(e.Code)
	if code == nil {
		return nil
	}
	out := &procpb.Procedure{
		Id:       &d.Id{Value: id},
		Meta:     meta(Profile("Procedure")),
		Status:   &procpb.Procedure_StatusCode{Value: c.EventStatusCode_COMPLETED},
		Code:     code,
		Subject:  mp.patient,
		Recorder: personRef(e.Author),
	}
	if dt := dateTime(e.Effective); dt != nil {
		out.Performed = &procpb.Procedure_PerformedX{Choice: &procpb.Procedure_PerformedX_DateTime{DateTime: dt}}
	}
	if r := mp.refOfType(e.Encounter, "Encounter"); r != nil {
		out.Encounter = r
	}
	return out
}
