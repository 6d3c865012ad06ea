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
	code := mp.concept(Codes(e))
	if code == nil {
		return nil // never an allergy with no code (emits drops it first)
	}
	for _, cd := range code.Coding {
		if cd.System.GetValue() == record.SystemSNOMED && cd.Code.GetValue() == snomedNoKnownAllergy && !hasCode(e.Code, record.SystemSNOMED, snomedNoKnownAllergy) {
			cd.Display = fstr("No known allergy")
			cd.UserSelected = nil // ours, not what the clinician chose
		}
	}
	status := "active"
	switch e.Status {
	case record.StatusInactive, record.StatusStopped, record.StatusCompleted:
		status = "inactive"
	case record.StatusResolved:
		status = "resolved"
	}
	out := &aipb.AllergyIntolerance{
		Id:             &d.Id{Value: id},
		Meta:           meta(Profile("AllergyIntolerance")),
		ClinicalStatus: fixedConcept(systemAllergyClinical, status, conditionStatusDisplay[status]),
		Code:           code,
		Patient:        mp.patient,
		RecordedDate:   dateTime(e.Recorded),
		Recorder:       personRef(e.Author),
	}
	// Confirmed only where the GP system says so; otherwise the status is
	// left unstated rather than invented.
	if ai.Confirmed {
		out.VerificationStatus = fixedConcept(systemAllergyVer, "confirmed", "Confirmed")
	}
	if ai.AllergenUncoded {
		out.Extension = append(out.Extension, allergenNotCoded())
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
	substance, manifestation := mp.concept(ai.Substance), mp.concept(ai.Reaction)
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

// ExtAllergenNotCoded marks an allergy recorded under a national allergy
// heading whose allergen the GP system holds only locally, uncoded or as
// narrative: the allergy is real, the allergen is not shown. Clients show
// "Allergen not coded: check with the GP practice" (design: ours).
const ExtAllergenNotCoded = "https://mig.example.nhs.uk/StructureDefinition/Extension-AllergenNotCoded"

func allergenNotCoded() *d.Extension {
	return &d.Extension{Url: furi(ExtAllergenNotCoded),
		Value: &d.Extension_ValueX{Choice: &d.Extension_ValueX_Boolean{Boolean: &d.Boolean{Value: true}}}}
}
