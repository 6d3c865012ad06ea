package fhir

import (
	"mig/adapters/record"

	c "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	flagpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/flag_go_proto"
)

func (mp *mapping) flag(e *record.Entry, id string) *flagpb.Flag {
	code := mp.concept(e.Code)
	if code == nil {
		return nil
	}
	st := c.FlagStatusCode_ACTIVE
	switch e.Status {
	case record.StatusInactive, record.StatusResolved, record.StatusCompleted, record.StatusStopped:
		st = c.FlagStatusCode_INACTIVE
	}
	return &flagpb.Flag{
		Id:       &d.Id{Value: id},
		Meta:     meta(Profile("Flag")),
		Status:   &flagpb.Flag_StatusCode{Value: st},
		Category: []*d.CodeableConcept{fixedConcept(systemFlagCategory, "clinical", "Clinical")},
		Code:     code,
		Subject:  mp.patient,
		Period:   period(e.Effective, e.End),
		Author:   personRef(e.Author),
	}
}
