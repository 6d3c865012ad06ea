package fhir

import (
	"mig/adapters/record"

	c "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	patpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/patient_go_proto"
)

func (mp *mapping) patientResource(p *record.Patient, id string) *patpb.Patient {
	out := &patpb.Patient{
		Id:        &d.Id{Value: id},
		Meta:      meta(Profile("Patient")),
		BirthDate: date(p.BirthDate),
	}
	if p.NHSNumber != "" {
		out.Identifier = []*d.Identifier{{
			System: furi(SystemNHSNumber),
			Value:  fstr(p.NHSNumber),
			Extension: []*d.Extension{{
				Url: furi(ExtNHSNumberVerification),
				Value: &d.Extension_ValueX{Choice: &d.Extension_ValueX_CodeableConcept{
					CodeableConcept: fixedConcept(SystemNHSNumberVerification, "01", "Number present and verified")}},
			}},
		}}
	}
	if !p.Name.IsZero() {
		n := &d.HumanName{Use: &d.HumanName_UseCode{Value: c.NameUseCode_OFFICIAL}}
		if f := p.Name.Family(); f != "" {
			n.Family = fstr(f)
		}
		for _, g := range p.Name.Given() {
			n.Given = append(n.Given, fstr(g))
		}
		if pr := p.Name.Prefix(); pr != "" {
			n.Prefix = []*d.String{fstr(pr)}
		}
		out.Name = []*d.HumanName{n}
	}
	switch p.Sex {
	case record.SexMale:
		out.Gender = &patpb.Patient_GenderCode{Value: c.AdministrativeGenderCode_MALE}
	case record.SexFemale:
		out.Gender = &patpb.Patient_GenderCode{Value: c.AdministrativeGenderCode_FEMALE}
	case record.SexOther:
		out.Gender = &patpb.Patient_GenderCode{Value: c.AdministrativeGenderCode_OTHER}
	default:
		out.Gender = &patpb.Patient_GenderCode{Value: c.AdministrativeGenderCode_UNKNOWN}
	}
	if !p.Sensitive && !p.Address.IsZero() {
		a := &d.Address{Use: &d.Address_UseCode{Value: c.AddressUseCode_HOME}}
		for _, l := range p.Address.Lines() {
			a.Line = append(a.Line, fstr(l))
		}
		if s := p.Address.City(); s != "" {
			a.City = fstr(s)
		}
		if s := p.Address.District(); s != "" {
			a.District = fstr(s)
		}
		if s := p.Address.PostalCode(); s != "" {
			a.PostalCode = fstr(s)
		}
		out.Address = []*d.Address{a}
	}
	if r := odsRef(p.PracticeODS); r != nil {
		out.GeneralPractitioner = []*d.Reference{r}
	}
	if p.Deceased {
		if dt := dateTime(p.DeceasedDate); dt != nil {
			out.Deceased = &patpb.Patient_DeceasedX{Choice: &patpb.Patient_DeceasedX_DateTime{DateTime: dt}}
		} else {
			out.Deceased = &patpb.Patient_DeceasedX{Choice: &patpb.Patient_DeceasedX_Boolean{Boolean: &d.Boolean{Value: true}}}
		}
	}
	return out
}
