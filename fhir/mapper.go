package fhir

import (
	"strconv"
	"time"

	"mig"
	"mig/adapters/record"

	c "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	aipb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/allergy_intolerance_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	condpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/condition_go_proto"
	encpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/encounter_go_proto"
	flagpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/flag_go_proto"
	immpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/immunization_go_proto"
	mrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/medication_request_go_proto"
	mspb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/medication_statement_go_proto"
	obspb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/observation_go_proto"
	patpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/patient_go_proto"
	procpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/procedure_go_proto"
	srpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/service_request_go_proto"
	vs "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/valuesets_go_proto"
)

// Terminology systems of the codes the mapper sets itself.
const (
	systemConditionCategory = "http://terminology.hl7.org/CodeSystem/condition-category"
	systemConditionClinical = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	systemConditionVer      = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
	systemAllergyClinical   = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
	systemAllergyVer        = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
	systemObsCategory       = "http://terminology.hl7.org/CodeSystem/observation-category"
	systemCourseOfTherapy   = "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy"
	systemFlagCategory      = "http://terminology.hl7.org/CodeSystem/flag-category"
)

// Resource is one mapped resource with what the REST layer needs to filter
// and serve it.
type Resource struct {
	Type  string        // FHIR resource type
	ID    string        // resource id (IDs.Resource)
	Views []record.View // views the resource belongs to (the Patient: all)
	Entry *record.Entry // the entry it was made from; nil for the Patient
	Proto *bcrpb.ContainedResource
}

// Result is a record mapped to FHIR.
type Result struct {
	Patient   Resource
	Resources []Resource // every other resource, in record order
	// Withheld is set when the record or the keep function left items out:
	// responses then carry WithheldWarning.
	Withheld bool
}

// Find returns the resource with the type and id, the Patient included.
func (r *Result) Find(resourceType, id string) (*Resource, bool) {
	if r.Patient.Type == resourceType && r.Patient.ID == id {
		return &r.Patient, true
	}
	for i := range r.Resources {
		if r.Resources[i].Type == resourceType && r.Resources[i].ID == id {
			return &r.Resources[i], true
		}
	}
	return nil, false
}

// Mapper maps records to FHIR R4. Base is the server's base URL (for
// fullUrl values); IDs makes the resource ids.
type Mapper struct {
	IDs  *IDs
	Base string
	// Now, when set, lets the mapper show an authorisation whose end date
	// has passed as completed even if the GP system still calls it active
	// (a stale status). Nil: statuses are shown as the source gave them.
	Now func() time.Time
	// Offline lets a record without an NHS number be mapped (migctl map
	// over a test-harness extract): its ids are derived from a placeholder
	// and its Patient carries no NHS number identifier. The gateway never
	// sets it: it serves only records whose NHS number is the one asked for.
	Offline bool
}

// offlineNHS is the placeholder ids are derived from in Offline mapping of
// a record without an NHS number. It is never shown.
const offlineNHS = "0000000000"

// TypesOf returns the resource types an entry of kind k maps to: the first
// is the one other resources reference.
func TypesOf(k record.Kind) []string {
	switch k {
	case record.KindProblem, record.KindDiagnosis:
		return []string{"Condition"}
	case record.KindMedicationAuthorisation:
		return []string{"MedicationRequest", "MedicationStatement"}
	case record.KindMedicationIssue:
		return []string{"MedicationRequest"}
	case record.KindAllergy:
		return []string{"AllergyIntolerance"}
	case record.KindBloodPressure, record.KindInvestigation:
		return []string{"Observation"}
	case record.KindProcedure:
		return []string{"Procedure"}
	case record.KindImmunisation:
		return []string{"Immunization"}
	case record.KindRisk:
		return []string{"Flag"}
	case record.KindEncounter, record.KindAdmission:
		return []string{"Encounter"}
	case record.KindReferral:
		return []string{"ServiceRequest"}
	}
	return nil
}

// mapping is the state of one Map call.
type mapping struct {
	now     time.Time // zero: no clock (statuses as the source gave them)
	m       *Mapper
	nhs     string
	patient *d.Reference
	// refs maps a mapped entry's ID to the type and id of its primary resource.
	refs map[string][2]string
}

// Map maps rec (already tagged with record.Tag) to FHIR. KindNone entries
// and entries keep rejects (keep nil keeps all) are not mapped; a rejection
// sets Result.Withheld, as does rec.Withheld. References point only at
// resources in the result.
func (m *Mapper) Map(rec *record.Record, keep func(*record.Entry) bool) (*Result, error) {
	if m == nil || m.IDs == nil {
		return nil, mig.Errorf(mig.EINTERNAL, "fhir mapper has no id key")
	}
	if rec == nil {
		return nil, mig.Errorf(mig.EINVALID, "no record to map")
	}
	nhs := rec.Patient.NHSNumber
	if nhs == "" && m.Offline {
		nhs = offlineNHS
	} else if !mig.ValidNHSNumber(nhs) {
		return nil, mig.Errorf(mig.EINVALID, "record: the patient's NHS number is not valid")
	}
	res := &Result{Withheld: rec.Withheld}
	mp := &mapping{m: m, nhs: nhs, refs: make(map[string][2]string, len(rec.Entries))}
	if m.Now != nil {
		mp.now = m.Now()
	}
	pid := m.IDs.Patient(nhs)
	mp.patient = literalRef("Patient", pid)

	// Select, and give every selected entry its id first, so references can
	// point forwards (a problem links to later entries).
	selected := make([]*record.Entry, 0, len(rec.Entries))
	srcIDs := make([]string, 0, len(rec.Entries))
	for i := range rec.Entries {
		e := &rec.Entries[i]
		if e.Kind == record.KindNone {
			continue
		}
		if keep != nil && !keep(e) {
			res.Withheld = true
			continue
		}
		src := e.ID
		if src == "" {
			// An entry without a source id still needs a distinct id; it
			// is stable only while the extract's order is.
			src = "#" + strconv.Itoa(i)
		}
		selected = append(selected, e)
		srcIDs = append(srcIDs, src)
		if types := TypesOf(e.Kind); len(types) > 0 && e.ID != "" {
			if _, dup := mp.refs[e.ID]; !dup {
				mp.refs[e.ID] = [2]string{types[0], m.IDs.Resource(nhs, types[0], src)}
			}
		}
	}

	res.Patient = Resource{Type: "Patient", ID: pid, Views: record.AllViews(),
		Proto: &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Patient{Patient: mp.patientResource(&rec.Patient, pid)}}}

	res.Resources = make([]Resource, 0, len(selected)+len(selected)/4)
	for i, e := range selected {
		for _, t := range TypesOf(e.Kind) {
			id := m.IDs.Resource(nhs, t, srcIDs[i])
			cr := mp.resource(e, t, id)
			if cr == nil {
				continue
			}
			res.Resources = append(res.Resources, Resource{Type: t, ID: id, Views: e.Views, Entry: e, Proto: cr})
		}
	}
	return res, nil
}

// ref returns a reference to the primary resource of the mapped entry with
// the source id, or nil when that entry is not in the result.
func (mp *mapping) ref(sourceID string) *d.Reference {
	if sourceID == "" {
		return nil
	}
	r, ok := mp.refs[sourceID]
	if !ok {
		return nil
	}
	return literalRef(r[0], r[1])
}

func (mp *mapping) refOfType(sourceID, resourceType string) *d.Reference {
	if r, ok := mp.refs[sourceID]; ok && r[0] == resourceType {
		return literalRef(r[0], r[1])
	}
	return nil
}

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

// resource builds the resource of type t for e, or nil when e cannot make
// a valid one (an entry with no code where the type requires one).
func (mp *mapping) resource(e *record.Entry, t, id string) *bcrpb.ContainedResource {
	switch t {
	case "Condition":
		if r := mp.condition(e, id); r != nil {
			return &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Condition{Condition: r}}
		}
	case "MedicationStatement":
		if r := mp.medicationStatement(e, id); r != nil {
			return &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_MedicationStatement{MedicationStatement: r}}
		}
	case "MedicationRequest":
		if r := mp.medicationRequest(e, id); r != nil {
			return &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_MedicationRequest{MedicationRequest: r}}
		}
	case "AllergyIntolerance":
		if r := mp.allergy(e, id); r != nil {
			return &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_AllergyIntolerance{AllergyIntolerance: r}}
		}
	case "Observation":
		var r *obspb.Observation
		if e.Kind == record.KindBloodPressure {
			r = mp.bloodPressure(e, id)
		} else {
			r = mp.investigation(e, id)
		}
		if r != nil {
			return &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Observation{Observation: r}}
		}
	case "Procedure":
		if r := mp.procedure(e, id); r != nil {
			return &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Procedure{Procedure: r}}
		}
	case "Immunization":
		if r := mp.immunization(e, id); r != nil {
			return &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Immunization{Immunization: r}}
		}
	case "Flag":
		if r := mp.flag(e, id); r != nil {
			return &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Flag{Flag: r}}
		}
	case "Encounter":
		return &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Encounter{Encounter: mp.encounter(e, id)}}
	case "ServiceRequest":
		return &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_ServiceRequest{ServiceRequest: mp.serviceRequest(e, id)}}
	}
	return nil
}

func (mp *mapping) condition(e *record.Entry, id string) *condpb.Condition {
	code := concept(e.Code)
	if code == nil {
		return nil
	}
	out := &condpb.Condition{
		Id:                 &d.Id{Value: id},
		Meta:               meta(Profile("Condition")),
		VerificationStatus: fixedConcept(systemConditionVer, "confirmed", "Confirmed"),
		Code:               code,
		Subject:            mp.patient,
		RecordedDate:       dateTime(e.Recorded),
		Asserter:           personRef(e.Author),
	}
	problem := e.Kind == record.KindProblem
	if e.Problem != nil && e.Problem.Provisional {
		out.VerificationStatus = fixedConcept(systemConditionVer, "provisional", "Provisional")
	}
	if problem {
		out.Category = []*d.CodeableConcept{fixedConcept(systemConditionCategory, "problem-list-item", "Problem List Item")}
	} else {
		out.Category = []*d.CodeableConcept{fixedConcept(systemConditionCategory, "encounter-diagnosis", "Encounter Diagnosis")}
	}
	// Clinical status. A problem must carry one (con-3); with an end date
	// it must not be active (con-4).
	status := ""
	switch e.Status {
	case record.StatusActive:
		status = "active"
	case record.StatusInactive, record.StatusStopped:
		status = "inactive"
	case record.StatusResolved, record.StatusCompleted:
		status = "resolved"
	default:
		if !e.End.IsZero() {
			status = "resolved"
		} else if problem {
			status = "active"
		}
	}
	if status == "active" && !e.End.IsZero() {
		status = "inactive"
	}
	if status != "" {
		out.ClinicalStatus = fixedConcept(systemConditionClinical, status, conditionStatusDisplay[status])
	}
	if dt := dateTime(e.Effective); dt != nil {
		out.Onset = &condpb.Condition_OnsetX{Choice: &condpb.Condition_OnsetX_DateTime{DateTime: dt}}
	}
	if dt := dateTime(e.End); dt != nil {
		out.Abatement = &condpb.Condition_AbatementX{Choice: &condpb.Condition_AbatementX_DateTime{DateTime: dt}}
	}
	if r := mp.refOfType(e.Encounter, "Encounter"); r != nil {
		out.Encounter = r
	}
	if e.Problem != nil {
		var detail []*d.Reference
		for _, l := range e.Problem.Links {
			if l == e.ID {
				continue
			}
			if r := mp.ref(l); r != nil {
				detail = append(detail, r)
			}
		}
		if len(detail) > 0 {
			out.Evidence = []*condpb.Condition_Evidence{{Detail: detail}}
		}
	}
	return out
}

var conditionStatusDisplay = map[string]string{"active": "Active", "inactive": "Inactive", "resolved": "Resolved"}

func dosage(mi *record.MedicationInfo) []*d.Dosage {
	if mi == nil || mi.Dosage.IsZero() {
		return nil
	}
	return []*d.Dosage{{Text: fstr(mi.Dosage.String())}}
}

func (mp *mapping) medicationStatement(e *record.Entry, id string) *mspb.MedicationStatement {
	code := concept(e.Code)
	if code == nil {
		return nil
	}
	st := c.MedicationStatementStatusCodes_UNKNOWN
	switch mp.authorisationStatus(e) {
	case record.StatusActive:
		st = c.MedicationStatementStatusCodes_ACTIVE
	case record.StatusCompleted, record.StatusInactive, record.StatusResolved:
		st = c.MedicationStatementStatusCodes_COMPLETED
	case record.StatusStopped:
		st = c.MedicationStatementStatusCodes_STOPPED
	}
	out := &mspb.MedicationStatement{
		Id:           &d.Id{Value: id},
		Meta:         meta(Profile("MedicationStatement")),
		Status:       &mspb.MedicationStatement_StatusCode{Value: st},
		Medication:   &mspb.MedicationStatement_MedicationX{Choice: &mspb.MedicationStatement_MedicationX_CodeableConcept{CodeableConcept: code}},
		Subject:      mp.patient,
		DateAsserted: dateTime(e.Recorded),
		Dosage:       dosage(e.Medication),
	}
	if p := period(e.Effective, e.End); p != nil {
		out.Effective = &mspb.MedicationStatement_EffectiveX{Choice: &mspb.MedicationStatement_EffectiveX_Period{Period: p}}
	}
	if r := mp.refOfType(e.ID, "MedicationRequest"); r != nil {
		out.BasedOn = []*d.Reference{r}
	}
	if r := mp.refOfType(e.Encounter, "Encounter"); r != nil {
		out.Context = r
	}
	return out
}

func (mp *mapping) medicationRequest(e *record.Entry, id string) *mrpb.MedicationRequest {
	code := concept(e.Code)
	if code == nil {
		return nil
	}
	mi := e.Medication
	if mi == nil {
		mi = &record.MedicationInfo{}
	}
	out := &mrpb.MedicationRequest{
		Id:                &d.Id{Value: id},
		Meta:              meta(Profile("MedicationRequest")),
		Medication:        &mrpb.MedicationRequest_MedicationX{Choice: &mrpb.MedicationRequest_MedicationX_CodeableConcept{CodeableConcept: code}},
		Subject:           mp.patient,
		AuthoredOn:        dateTime(e.Effective),
		Requester:         personRef(e.Author),
		DosageInstruction: dosage(mi),
	}
	if e.Kind == record.KindMedicationIssue {
		out.Intent = &mrpb.MedicationRequest_IntentCode{Value: c.MedicationRequestIntentCode_ORDER}
		out.Status = &mrpb.MedicationRequest_StatusCode{Value: c.MedicationrequestStatusCode_COMPLETED}
		if r := mp.refOfType(mi.Authorisation, "MedicationRequest"); r != nil {
			out.BasedOn = []*d.Reference{r}
		}
	} else {
		out.Intent = &mrpb.MedicationRequest_IntentCode{Value: c.MedicationRequestIntentCode_PLAN}
		st := c.MedicationrequestStatusCode_UNKNOWN
		switch mp.authorisationStatus(e) {
		case record.StatusActive:
			st = c.MedicationrequestStatusCode_ACTIVE
		case record.StatusCompleted, record.StatusInactive, record.StatusResolved:
			st = c.MedicationrequestStatusCode_COMPLETED
		case record.StatusStopped:
			st = c.MedicationrequestStatusCode_STOPPED
		}
		out.Status = &mrpb.MedicationRequest_StatusCode{Value: st}
	}
	if r := mp.refOfType(e.Encounter, "Encounter"); r != nil {
		out.Encounter = r
	}
	switch mi.Type {
	case record.PrescriptionAcute:
		out.CourseOfTherapyType = fixedConcept(systemCourseOfTherapy, "acute", "Short course (acute) therapy")
	case record.PrescriptionRepeat, record.PrescriptionRepeatDispensing:
		out.CourseOfTherapyType = fixedConcept(systemCourseOfTherapy, "continuous", "Continuous long term therapy")
	}
	dr := &mrpb.MedicationRequest_DispenseRequest{Quantity: simpleQuantity(mi.QuantityValue)}
	if !mi.Quantity.IsZero() {
		dr.Extension = []*d.Extension{{Url: furi(ExtMedicationQuantityText),
			Value: &d.Extension_ValueX{Choice: &d.Extension_ValueX_StringValue{StringValue: fstr(mi.Quantity.String())}}}}
	}
	if e.Kind == record.KindMedicationAuthorisation {
		if mi.RepeatsAllowed > 0 {
			dr.NumberOfRepeatsAllowed = &d.UnsignedInt{Value: uint32(mi.RepeatsAllowed)}
		}
		dr.ValidityPeriod = period(e.Effective, e.End)
	}
	if mi.DurationDays > 0 {
		dr.ExpectedSupplyDuration = &d.Duration{Value: &d.Decimal{Value: strconv.Itoa(mi.DurationDays)},
			Unit: fstr("day"), System: furi(SystemUCUM), Code: fcode("d")}
	}
	if dr.Quantity != nil || dr.Extension != nil || dr.NumberOfRepeatsAllowed != nil || dr.ValidityPeriod != nil || dr.ExpectedSupplyDuration != nil {
		out.DispenseRequest = dr
	}
	return out
}

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
	code := &d.CodeableConcept{Coding: append(codings(e.Code),
		coding(record.SystemLOINC, loincBPPanel, "Blood pressure panel with all children optional"))}
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
	}{{loincSystolic, "Systolic blood pressure", e.Systolic, e.SystolicCode},
		{loincDiastolic, "Diastolic blood pressure", e.Diastolic, e.DiastolicCode}} {
		// The profile's LOINC code first, then the half's codes as the GP
		// system recorded them (sitting, standing, lying...): as entered,
		// userSelected, then translations.
		cc := fixedConcept(record.SystemLOINC, part.code, part.display)
		cc.Coding = append(cc.Coding, codings(part.source)...)
		comp := &obspb.Observation_Component{Code: cc}
		if q := mmHg(part.q); q != nil {
			comp.Value = &obspb.Observation_Component_ValueX{Choice: &obspb.Observation_Component_ValueX_Quantity{Quantity: q}}
		} else {
			comp.DataAbsentReason = dataAbsent()
		}
		out.Component = append(out.Component, comp)
	}
	return out
}

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

func (mp *mapping) procedure(e *record.Entry, id string) *procpb.Procedure {
	code := concept(e.Code)
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

func (mp *mapping) immunization(e *record.Entry, id string) *immpb.Immunization {
	code := concept(e.Code)
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

func (mp *mapping) flag(e *record.Entry, id string) *flagpb.Flag {
	code := concept(e.Code)
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
	if t := concept(e.Code); t != nil {
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

func (mp *mapping) serviceRequest(e *record.Entry, id string) *srpb.ServiceRequest {
	st := c.RequestStatusCode_ACTIVE
	switch e.Status {
	case record.StatusCompleted, record.StatusResolved, record.StatusInactive, record.StatusStopped:
		st = c.RequestStatusCode_COMPLETED
	}
	out := &srpb.ServiceRequest{
		Id:         &d.Id{Value: id},
		Meta:       meta(Profile("ServiceRequest")),
		Status:     &srpb.ServiceRequest_StatusCode{Value: st},
		Intent:     &srpb.ServiceRequest_IntentCode{Value: c.RequestIntentCode_ORDER},
		Code:       concept(e.Code),
		Subject:    mp.patient,
		AuthoredOn: dateTime(e.Effective),
		Requester:  personRef(e.Author),
	}
	if ri := e.Referral; ri != nil {
		if p, ok := priorities[ri.Priority]; ok {
			out.Priority = &srpb.ServiceRequest_PriorityCode{Value: p}
		}
		if r := odsRef(ri.Recipient); r != nil {
			out.Performer = []*d.Reference{r}
		}
		out.PerformerType = concept(ri.Specialty)
	}
	if r := mp.refOfType(e.Encounter, "Encounter"); r != nil {
		out.Encounter = r
	}
	return out
}

var priorities = map[string]c.RequestPriorityCode_Value{
	"routine": c.RequestPriorityCode_ROUTINE, "urgent": c.RequestPriorityCode_URGENT,
	"asap": c.RequestPriorityCode_ASAP, "stat": c.RequestPriorityCode_STAT,
}

func comparator(s string) *d.Quantity_ComparatorCode {
	v := map[string]c.QuantityComparatorCode_Value{
		"<": c.QuantityComparatorCode_LESS_THAN, "<=": c.QuantityComparatorCode_LESS_THAN_OR_EQUAL_TO,
		">=": c.QuantityComparatorCode_GREATER_THAN_OR_EQUAL_TO, ">": c.QuantityComparatorCode_GREATER_THAN,
	}[s]
	return &d.Quantity_ComparatorCode{Value: v}
}

// authorisationStatus is an authorisation's status as shown: one the GP
// system still calls active (or gave no status) but whose end date has
// passed is completed, so a clinician never sees an ended course as
// current. Without a clock the source's status stands.
func (mp *mapping) authorisationStatus(e *record.Entry) record.Status {
	if mp.now.IsZero() || e.End.IsZero() || (e.Status != record.StatusActive && e.Status != record.StatusUnknown) {
		return e.Status
	}
	if e.End.Until().Before(mp.now) {
		return record.StatusCompleted
	}
	return e.Status
}
