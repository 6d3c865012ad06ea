package fhir

import (
	"mig/adapters/record"

	c "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	obspb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/observation_go_proto"
)

// LOINC codes of the blood pressure profile.
const (
	loincBPPanel   = "85354-9"
	loincSystolic  = "8480-6"
	loincDiastolic = "8462-4"
)

func mmHg(q *record.Quantity) *d.Quantity {
	out := quantity(q)
	if out == nil {
		return nil
	}
	out.Unit = fstr("mmHg")
	out.System = furi(SystemUCUM)
	out.Code = fcode("mm[Hg]")
	return out
}

func (mp *mapping) bloodPressure(e *record.Entry, id string) *obspb.Observation {
	// The code of the reading as a whole, as the GP system recorded it (the
	// adapters keep the halves' codes apart), then the profile's LOINC code.
	code := mp.concept(Codes(e))
	for _, cd := range code.Coding {
		if cd.System.GetValue() == record.SystemLOINC && cd.Code.GetValue() == loincBPPanel && len(e.Code.Codings) == 0 ||
			cd.System.GetValue() == record.SystemLOINC && cd.Code.GetValue() == loincBPPanel && !hasCode(e.Code, record.SystemLOINC, loincBPPanel) {
			cd.Display = fstr("Blood pressure panel with all children optional")
			cd.UserSelected = nil // ours, not what the clinician chose
		}
	}
	out := &obspb.Observation{
		Id:       &d.Id{Value: id},
		Meta:     meta(ProfileBP),
		Status:   &obspb.Observation_StatusCode{Value: c.ObservationStatusCode_FINAL},
		Category: []*d.CodeableConcept{fixedConcept(systemObsCategory, "vital-signs", "Vital Signs")},
		Code:     code,
		Subject:  mp.patient,
	}
	if dt := dateTime(e.Effective); dt != nil {
		out.Effective = &obspb.Observation_EffectiveX{Choice: &obspb.Observation_EffectiveX_DateTime{DateTime: dt}}
	}
	if r := mp.refOfType(e.Encounter, "Encounter"); r != nil {
		out.Encounter = r
	}
	if r := personRef(e.Author); r != nil {
		out.Performer = []*d.Reference{r}
	}
	for _, part := range []struct {
		code, display string
		q             *record.Quantity
		source        record.Concept
		rng           *record.Range
	}{{loincSystolic, "Systolic blood pressure", e.Systolic, e.SystolicCode, e.SystolicRange},
		{loincDiastolic, "Diastolic blood pressure", e.Diastolic, e.DiastolicCode, e.DiastolicRange}} {
		// The profile's LOINC code first, then the half's codes as the GP
		// system recorded them (sitting, standing, lying...): as entered,
		// userSelected, then translations.
		cc := fixedConcept(record.SystemLOINC, part.code, part.display)
		cc.Coding = append(cc.Coding, mp.codings(part.source)...)
		comp := &obspb.Observation_Component{Code: cc}
		if q := mmHg(part.q); q != nil {
			comp.Value = &obspb.Observation_Component_ValueX{Choice: &obspb.Observation_Component_ValueX_Quantity{Quantity: q}}
		} else {
			comp.DataAbsentReason = dataAbsent()
		}
		if rr := referenceRange(part.rng); rr != nil {
			comp.ReferenceRange = []*obspb.Observation_ReferenceRange{rr}
		}
		out.Component = append(out.Component, comp)
	}
	return out
}
