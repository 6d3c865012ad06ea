package fhir

import (
	"mig/adapters/record"

	c "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	obspb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/observation_go_proto"
)

// imaging reports whether an investigation's code is in Read v2 chapter 5
// (imaging), directly or as a CTV3 twin.
func imaging(rc record.Concept) bool {
	for _, cd := range rc.Codings {
		switch cd.System {
		case record.SystemReadV2:
			return cd.Code != "" && cd.Code[0] == '5'
		case record.SystemCTV3:
			if twin, ok := record.ReadTwin(cd.Code); ok {
				return twin[0] == '5'
			}
		}
	}
	return false
}

func (mp *mapping) investigation(e *record.Entry, id string) *obspb.Observation {
	code := concept(e.Code)
	if code == nil {
		return nil
	}
	out := &obspb.Observation{
		Id:      &d.Id{Value: id},
		Meta:    meta(Profile("Observation")),
		Status:  &obspb.Observation_StatusCode{Value: c.ObservationStatusCode_FINAL},
		Code:    code,
		Subject: mp.patient,
	}
	if imaging(e.Code) {
		out.Category = []*d.CodeableConcept{fixedConcept(systemObsCategory, "imaging", "Imaging")}
	} else {
		out.Category = []*d.CodeableConcept{fixedConcept(systemObsCategory, "laboratory", "Laboratory")}
	}
	if dt := dateTime(e.Effective); dt != nil {
		out.Effective = &obspb.Observation_EffectiveX{Choice: &obspb.Observation_EffectiveX_DateTime{DateTime: dt}}
	}
	if q := quantity(e.Value); q != nil {
		out.Value = &obspb.Observation_ValueX{Choice: &obspb.Observation_ValueX_Quantity{Quantity: q}}
	}
	if e.Range != nil {
		rr := &obspb.Observation_ReferenceRange{Low: simpleQuantity(e.Range.Low), High: simpleQuantity(e.Range.High)}
		if rr.Low != nil || rr.High != nil {
			out.ReferenceRange = []*obspb.Observation_ReferenceRange{rr}
		}
	}
	if ic := concept(e.Interpretation); ic != nil {
		out.Interpretation = []*d.CodeableConcept{ic}
	}
	if r := mp.refOfType(e.Encounter, "Encounter"); r != nil {
		out.Encounter = r
	}
	if r := personRef(e.Author); r != nil {
		out.Performer = []*d.Reference{r}
	}
	for _, mem := range e.Members {
		if r := mp.refOfType(mem, "Observation"); r != nil && mem != e.ID {
			out.HasMember = append(out.HasMember, r)
		}
	}
	return out
}
