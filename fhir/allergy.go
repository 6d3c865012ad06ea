package fhir

import (
	"mig/adapters/record"

	c "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	aipb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/allergy_intolerance_go_proto"
)

// No known allergy (SNOMED CT 716186003).
const snomedNoKnownAllergy = "716186003"

func (mp *mapping) allergy(e *record.Entry, id string) *aipb.AllergyIntolerance {
	ai := e.Allergy
	if ai == nil {
		ai = &record.AllergyInfo{}
	}
	code := concept(e.Code)
	if ai.Category == record.AllergyNoKnown {
		if code == nil {
			code = &d.CodeableConcept{}
		}
		if !hasCode(e.Code, record.SystemSNOMED, snomedNoKnownAllergy) {
			code.Coding = append(code.Coding, coding(record.SystemSNOMED, snomedNoKnownAllergy, "No known allergy"))
		}
	}
	if code == nil {
		return nil
	}
	status := "active"
	switch e.Status {
	case record.StatusInactive, record.StatusStopped, record.StatusCompleted:
		status = "inactive"
	case record.StatusResolved:
		status = "resolved"
	}
	out := &aipb.AllergyIntolerance{
		Id:                 &d.Id{Value: id},
		Meta:               meta(Profile("AllergyIntolerance")),
		ClinicalStatus:     fixedConcept(systemAllergyClinical, status, conditionStatusDisplay[status]),
		VerificationStatus: fixedConcept(systemAllergyVer, "confirmed", "Confirmed"),
		Code:               code,
		Patient:            mp.patient,
		RecordedDate:       dateTime(e.Recorded),
		Recorder:           personRef(e.Author),
	}
	switch ai.Category {
	case record.AllergyDrug:
		out.Category = []*aipb.AllergyIntolerance_CategoryCode{{Value: c.AllergyIntoleranceCategoryCode_MEDICATION}}
	case record.AllergyOther:
		out.Category = []*aipb.AllergyIntolerance_CategoryCode{{Value: c.AllergyIntoleranceCategoryCode_ENVIRONMENT}}
	}
	if dt := dateTime(e.Effective); dt != nil {
		out.Onset = &aipb.AllergyIntolerance_OnsetX{Choice: &aipb.AllergyIntolerance_OnsetX_DateTime{DateTime: dt}}
	}
	if r := mp.refOfType(e.Encounter, "Encounter"); r != nil {
		out.Encounter = r
	}
	substance, manifestation := concept(ai.Substance), concept(ai.Reaction)
	if substance != nil || manifestation != nil {
		if manifestation == nil {
			// reaction.manifestation is required: say it is not known.
			manifestation = dataAbsent()
		}
		out.Reaction = []*aipb.AllergyIntolerance_Reaction{{Substance: substance, Manifestation: []*d.CodeableConcept{manifestation}}}
	}
	return out
}

func hasCode(rc record.Concept, system, code string) bool {
	for _, cd := range rc.Codings {
		if cd.System == system && cd.Code == code {
			return true
		}
	}
	return false
}
