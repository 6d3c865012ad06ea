package ips

import (
	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// Canonical URLs of the IPS 2.0 (STU2) profiles a summary claims.
const (
	igBase = "http://hl7.org/fhir/uv/ips/StructureDefinition/"

	ProfileBundle             = igBase + "Bundle-uv-ips"
	ProfileComposition        = igBase + "Composition-uv-ips"
	ProfilePatient            = igBase + "Patient-uv-ips"
	ProfileAllergyIntolerance = igBase + "AllergyIntolerance-uv-ips"
	ProfileCondition          = igBase + "Condition-uv-ips"
	ProfileMedicationStmt     = igBase + "MedicationStatement-uv-ips"
	ProfileMedicationRequest  = igBase + "MedicationRequest-uv-ips"
	ProfileImmunization       = igBase + "Immunization-uv-ips"
	ProfileResultsLab         = igBase + "Observation-results-laboratory-pathology-uv-ips"
	ProfileResultsRadiology   = igBase + "Observation-results-radiology-uv-ips"
	// ProfileVitalSigns is FHIR's vital signs profile, which the IPS vital
	// signs section takes; the blood pressure the mapper writes claims its
	// child, fhir.ProfileBP.
	ProfileVitalSigns = "http://hl7.org/fhir/StructureDefinition/vitalsigns"

	// OperationSummary is the IPS $summary operation.
	OperationSummary = "http://hl7.org/fhir/uv/ips/OperationDefinition/summary"
)

// SupportedProfiles lists, per resource type, the IPS profiles the
// resources of a summary may claim (the CapabilityStatement's
// supportedProfile).
var SupportedProfiles = map[string][]string{
	"Patient":             {ProfilePatient},
	"AllergyIntolerance":  {ProfileAllergyIntolerance},
	"Condition":           {ProfileCondition},
	"MedicationStatement": {ProfileMedicationStmt},
	"MedicationRequest":   {ProfileMedicationRequest},
	"Immunization":        {ProfileImmunization},
	"Observation":         {ProfileResultsLab, ProfileResultsRadiology, ProfileVitalSigns},
}

// ipsProfile returns the IPS profile a resource of the summary claims, or
// "" when it claims none: a resource claims a profile only when it holds
// what that profile requires and the mapper cannot always give (a medication
// statement's period, a result's date and performer, a patient's name and
// birth date). A resource that falls short is still sent, under the
// profiles it meets.
func ipsProfile(cr *bcrpb.ContainedResource) string {
	switch {
	case cr.GetPatient() != nil:
		p := cr.GetPatient()
		named := false
		for _, n := range p.GetName() {
			if n.GetFamily().GetValue() != "" || len(n.GetGiven()) > 0 {
				named = true
			}
		}
		if named && p.GetBirthDate() != nil {
			return ProfilePatient
		}
	case cr.GetCondition() != nil:
		return ProfileCondition
	case cr.GetAllergyIntolerance() != nil:
		return ProfileAllergyIntolerance
	case cr.GetMedicationStatement() != nil:
		if cr.GetMedicationStatement().GetEffective() != nil {
			return ProfileMedicationStmt
		}
	case cr.GetMedicationRequest() != nil:
		return ProfileMedicationRequest
	case cr.GetImmunization() != nil:
		return ProfileImmunization
	case cr.GetObservation() != nil:
		o := cr.GetObservation()
		if o.GetEffective() == nil || len(o.GetPerformer()) == 0 {
			return ""
		}
		for _, cat := range o.GetCategory() {
			for _, cd := range cat.GetCoding() {
				switch cd.GetCode().GetValue() {
				case "laboratory":
					return ProfileResultsLab
				case "imaging":
					return ProfileResultsRadiology
				}
			}
		}
	}
	return ""
}

// claim adds profile to the resource's meta.profile (once).
func claim(cr *bcrpb.ContainedResource, profile string) {
	if profile == "" {
		return
	}
	res := resourceOf(cr)
	if res == nil {
		return
	}
	fd := res.Descriptor().Fields().ByName("meta")
	if fd == nil {
		return
	}
	meta, ok := res.Mutable(fd).Message().Interface().(*d.Meta)
	if !ok {
		return
	}
	for _, p := range meta.Profile {
		if p.GetValue() == profile {
			return
		}
	}
	meta.Profile = append(meta.Profile, &d.Canonical{Value: profile})
}
