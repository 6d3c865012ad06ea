package fhir

import (
	"mig/adapters/record"

	c "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	encpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/encounter_go_proto"
)

func (mp *mapping) encounter(e *record.Entry, id string) *encpb.Encounter {
	out := &encpb.Encounter{
		Id:              &d.Id{Value: id},
		Meta:            meta(Profile("Encounter")),
		Status:          &encpb.Encounter_StatusCode{Value: c.EncounterStatusCode_FINISHED},
		Subject:         mp.patient,
		Period:          period(e.Effective, e.End),
		ServiceProvider: odsRef(e.Organisation),
	}
	if e.Kind == record.KindAdmission {
		out.ClassValue = coding(SystemV3ActCode, "IMP", "inpatient encounter")
	} else {
		out.ClassValue = coding(SystemV3ActCode, "AMB", "ambulatory")
	}
	if t := mp.concept(e.Code); t != nil {
		out.Type = []*d.CodeableConcept{t}
	}
	if r := personRef(e.Author); r != nil {
		out.Participant = []*encpb.Encounter_Participant{{
			Type:       []*d.CodeableConcept{fixedConcept(SystemV3ParticipantType, "PPRF", "primary performer")},
			Individual: r,
		}}
	}
	return out
}
