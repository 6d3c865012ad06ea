package fhir

import (
	"strconv"
	"time"

	"mig"
	"mig/adapters/record"

	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	obspb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/observation_go_proto"
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
	// Unclassified is set when the record holds coded items no dataset
	// rule could place (record.RuleUnclassifiable): responses then carry
	// UnclassifiedWarning, distinct from "withheld".
	Unclassified bool
	// Rejected counts the entries keep rejected; Uncoded holds the entries
	// of a shown kind left out because they carry no code that can be shown
	// (Report accounts for both).
	Rejected int
	Uncoded  []*record.Entry
	// EmptyReports counts batteries and reports not sent because nothing
	// in them is.
	EmptyReports int
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
	// Terms decides which term each coding shows (terms.go); the zero
	// value shows no term from an extract.
	Terms TermPolicy
}

// offlineNHS is the placeholder ids are derived from in Offline mapping of
// a record without an NHS number. It is never shown.
const offlineNHS = "0000000000"

// TypesOf returns the resource types an entry maps to: the first is the
// one other resources reference. A planned entry (a recall, a vaccination
// due, a planned operation) is a ServiceRequest with intent plan whatever
// its kind: never a Procedure, Immunization or Condition that happened.
func TypesOf(e *record.Entry) []string {
	if e.Planned && e.Kind != record.KindNone {
		return []string{"ServiceRequest"}
	}
	switch e.Kind {
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

// Codes returns the concept the resource made from e carries as its code:
// the entry's code as the GP system recorded it, plus the codes the mapper
// adds (the blood pressure profile's LOINC panel code, SNOMED CT "no known
// allergy"). Searches match on it, so a client finds a resource by any code
// it shows.
func Codes(e *record.Entry) record.Concept {
	switch {
	case e.Kind == record.KindBloodPressure && !e.Planned:
		return record.Concept{Codings: append(append([]record.Coding(nil), e.Code.Codings...),
			record.Coding{System: record.SystemLOINC, Code: loincBPPanel})}
	case e.Kind == record.KindAllergy && e.Allergy != nil && e.Allergy.Category == record.AllergyNoKnown &&
		!hasCode(e.Code, record.SystemSNOMED, snomedNoKnownAllergy):
		return record.Concept{Codings: append(append([]record.Coding(nil), e.Code.Codings...),
			record.Coding{System: record.SystemSNOMED, Code: snomedNoKnownAllergy})}
	}
	return e.Code
}

// emits reports whether e makes a resource: every type but Encounter
// needs a code that can be shown, and a battery or report needs a value or
// a member that is shown (members is the set of mapped entry ids).
func emits(e *record.Entry, members map[string][2]string) bool {
	if e.Kind == record.KindEncounter || e.Kind == record.KindAdmission {
		return true
	}
	if !hasShowable(Codes(e)) {
		return false
	}
	if e.Kind == record.KindInvestigation && e.Battery && e.Value == nil && e.ValueRange == nil {
		for _, m := range e.Members {
			if _, ok := members[m]; ok && m != e.ID {
				return true
			}
		}
		return false
	}
	return true
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

// Map maps rec (already tagged with record.Tag) to FHIR. KindNone entries,
// entries a view rule set aside (NotShown: a contradicted "no known
// allergy") and entries keep rejects (keep nil keeps all) are not mapped; a
// rejection by keep sets Result.Withheld, as does rec.Withheld. References
// point only at resources in the result, and no two resources share a type
// and id (FHIR bdl-7: one fullUrl, one entry).
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
			if e.NotShown == record.RuleUnclassifiable {
				res.Unclassified = true
			}
			continue
		}
		if !e.NotShown.Shown() {
			continue // set aside by a rule, not withheld
		}
		if keep != nil && !keep(e) {
			res.Withheld = true
			res.Rejected++
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
		if types := TypesOf(e); len(types) > 0 && e.ID != "" {
			if _, dup := mp.refs[e.ID]; !dup {
				mp.refs[e.ID] = [2]string{types[0], m.IDs.Resource(nhs, types[0], src)}
			}
		}
	}
	// Drop what makes no resource (no code to show, a battery left with no
	// member) before anything references it. Batteries hold batteries, so
	// repeat until nothing changes.
	for changed := true; changed; {
		changed = false
		keptE, keptS := selected[:0], srcIDs[:0]
		for i, e := range selected {
			if !emits(e, mp.refs) {
				if e.Battery {
					res.EmptyReports++
				} else {
					// Coded in the extract but with no code we can show.
					res.Unclassified = true
					res.Uncoded = append(res.Uncoded, e)
				}
				if e.ID != "" {
					delete(mp.refs, e.ID)
				}
				changed = true
				continue
			}
			keptE, keptS = append(keptE, e), append(keptS, srcIDs[i])
		}
		selected, srcIDs = keptE, keptS
	}

	res.Patient = Resource{Type: "Patient", ID: pid, Views: record.AllViews(),
		Proto: &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Patient{Patient: mp.patientResource(&rec.Patient, pid)}}}

	res.Resources = make([]Resource, 0, len(selected)+len(selected)/4)
	emitted := make(map[string]bool, len(selected))
	for i, e := range selected {
		for _, t := range TypesOf(e) {
			id := m.IDs.Resource(nhs, t, srcIDs[i])
			if emitted[t+"/"+id] {
				// The same source id twice: record.Finish keeps one entry
				// per act, so this is a second copy of one already sent.
				continue
			}
			cr := mp.resource(e, t, id)
			if cr == nil {
				continue
			}
			emitted[t+"/"+id] = true
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
