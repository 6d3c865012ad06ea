package fhir

import (
	"mig/adapters/record"

	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	condpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/condition_go_proto"
)

func (mp *mapping) condition(e *record.Entry, id string) *condpb.Condition {
	code := mp.concept(e.Code)
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
