package fhir

import (
	"strconv"

	"mig/adapters/record"

	c "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	mrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/medication_request_go_proto"
	mspb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/medication_statement_go_proto"
)

func dosage(mi *record.MedicationInfo) []*d.Dosage {
	if mi == nil || mi.Dosage.IsZero() {
		return nil
	}
	return []*d.Dosage{{Text: fstr(mi.Dosage.String())}}
}

func (mp *mapping) medicationStatement(e *record.Entry, id string) *mspb.MedicationStatement {
	code := mp.concept(e.Code)
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
	code := mp.concept(e.Code)
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
