package fhir

import (
	"mig/adapters/record"

	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	immpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/immunization_go_proto"
	vs "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/valuesets_go_proto"
)

func (mp *mapping) immunization(e *record.Entry, id string) *immpb.Immunization {
	code := mp.concept(e.Code)
	if code == nil {
		return nil
	}
	when := e.Effective
	if when.IsZero() {
		when = e.Recorded
	}
	out := &immpb.Immunization{
		Id:            &d.Id{Value: id},
		Meta:          meta(Profile("Immunization")),
		Status:        &immpb.Immunization_StatusCode{Value: vs.ImmunizationStatusCodesValueSet_COMPLETED},
		VaccineCode:   code,
		Patient:       mp.patient,
		Recorded:      dateTime(e.Recorded),
		PrimarySource: &d.Boolean{Value: true},
	}
	if dt := dateTime(when); dt != nil {
		out.Occurrence = &immpb.Immunization_OccurrenceX{Choice: &immpb.Immunization_OccurrenceX_DateTime{DateTime: dt}}
	} else {
		// occurrence[x] is required and the record gave no date: say so
		// with a fixed word of ours (jsonformat cannot write a dateTime
		// that holds only a data-absent-reason extension).
		out.Occurrence = &immpb.Immunization_OccurrenceX{Choice: &immpb.Immunization_OccurrenceX_StringValue{StringValue: fstr("unknown")}}
	}
	if r := mp.refOfType(e.Encounter, "Encounter"); r != nil {
		out.Encounter = r
	}
	if r := personRef(e.Author); r != nil {
		out.Performer = []*immpb.Immunization_Performer{{Actor: r}}
	}
	return out
}
