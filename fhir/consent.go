package fhir

import (
	"strconv"
	"strings"
	"time"

	"mig"
	"mig/consent"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	c "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	conpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/consent_go_proto"
	ctpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/contract_go_proto"
)

const (
	systemConsentScope = "http://terminology.hl7.org/CodeSystem/consentscope"
	// SystemAgreement identifies Information Sharing Agreements (design: ours).
	SystemAgreement = "https://mig.example.nhs.uk/Id/sharing-agreement"
	// SystemView is the code system of the ten MIG views (design: ours).
	SystemView = "https://mig.example.nhs.uk/CodeSystem/mig-view"
	// SystemAgreementTerm codes agreement terms other than views.
	SystemAgreementTerm = "https://mig.example.nhs.uk/CodeSystem/agreement-term"
	// SystemAgreementRole codes the parties of an agreement.
	SystemAgreementRole = "https://mig.example.nhs.uk/CodeSystem/agreement-party-role"
)

// EmergencyReasons is the fixed list of emergency access reasons.
var EmergencyReasons = []string{consent.EmergencyUnconscious, consent.EmergencyUnableToConsent,
	consent.EmergencyLackingCapacity, consent.EmergencySafeguarding, consent.EmergencyLifeThreatening}

func validEmergencyReason(s string) bool {
	for _, r := range EmergencyReasons {
		if r == s {
			return true
		}
	}
	return false
}

func instant(t time.Time) *d.DateTime {
	if t.IsZero() {
		return nil
	}
	return &d.DateTime{ValueUs: t.UTC().Truncate(time.Second).UnixMicro(), Timezone: "Z", Precision: d.DateTime_SECOND}
}

func timePeriod(start, end time.Time) *d.Period {
	if start.IsZero() && end.IsZero() {
		return nil
	}
	return &d.Period{Start: instant(start), End: instant(end)}
}

// ConsentResource returns a recorded consent to view (or refusal, or
// emergency access) as an R4 Consent.
func ConsentResource(v *consent.ViewConsent, ids *IDs) (*bcrpb.ContainedResource, error) {
	if v == nil || ids == nil {
		return nil, mig.Errorf(mig.EINTERNAL, "consent resource: nothing to write")
	}
	if !mig.ValidNHSNumber(v.NHSNumber) {
		return nil, mig.Errorf(mig.EINVALID, "consent resource: the NHS number is not valid")
	}
	if v.ID == "" {
		return nil, mig.Errorf(mig.EINVALID, "consent resource: the consent has no id")
	}
	permit := v.Given || v.Emergency
	prov := &conpb.Consent_Provision{Period: timePeriod(v.Start, v.End)}
	if permit {
		prov.Type = &conpb.Consent_Provision_TypeCode{Value: c.ConsentProvisionTypeCode_PERMIT}
	} else {
		prov.Type = &conpb.Consent_Provision_TypeCode{Value: c.ConsentProvisionTypeCode_DENY}
	}
	if v.UserID != "" {
		prov.Actor = append(prov.Actor, &conpb.Consent_Provision_ProvisionActor{
			Role:      fixedConcept(SystemV3ParticipantType, "PRCP", "primary information recipient"),
			Reference: identRef("Practitioner", SystemSDSUser, v.UserID)})
	}
	if v.OrgODS != "" {
		prov.Actor = append(prov.Actor, &conpb.Consent_Provision_ProvisionActor{
			Role:      fixedConcept(SystemV3ParticipantType, "IRCP", "information recipient"),
			Reference: odsRef(v.OrgODS)})
	}
	if v.Emergency {
		prov.Purpose = []*d.Coding{coding(SystemV3ActReason, "ETREAT", "Emergency Treatment")}
		if v.EmergencyReason != "" {
			if !validEmergencyReason(v.EmergencyReason) {
				return nil, mig.Errorf(mig.EINVALID, "consent resource: the emergency reason is not a permitted code")
			}
			prov.Code = []*d.CodeableConcept{fixedConcept(consent.EmergencyReasonCodeSystem, v.EmergencyReason, "")}
		}
	} else {
		prov.Purpose = []*d.Coding{coding(SystemV3ActReason, "TREAT", "treatment")}
	}
	pid := ids.Patient(v.NHSNumber)
	out := &conpb.Consent{
		Id:       &d.Id{Value: ids.Resource(v.NHSNumber, "Consent", v.ID)},
		Meta:     meta(Profile("Consent")),
		Status:   &conpb.Consent_StatusCode{Value: c.ConsentStateCode_ACTIVE},
		Scope:    fixedConcept(systemConsentScope, "patient-privacy", "Privacy Consent"),
		Category: []*d.CodeableConcept{fixedConcept(systemLOINC, "59284-0", "Patient Consent")},
		Patient:  literalRef("Patient", pid),
		DateTime: instant(v.Recorded),
		// policyRule (or policy or source) is required (ppc-1..4): the
		// implied-consent basis of direct care.
		PolicyRule: fixedConcept(SystemV3ActCode, "IMPLIED", "implied consent"),
		Provision:  prov,
	}
	if r := odsRef(v.OrgODS); r != nil {
		out.Organization = []*d.Reference{r}
	}
	return &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Consent{Consent: out}}, nil
}

const systemLOINC = "http://loinc.org"

// ConsentRequest is what a client's POSTed Consent asks for. Any free text
// the body carried is dropped.
type ConsentRequest struct {
	// PatientID is the Patient resource id of a Patient/<id> reference
	// (decode it with IDs.Decode); NHSNumber is set instead when the body
	// named the patient by an NHS number identifier.
	PatientID       string
	NHSNumber       string
	Permit          bool   // provision.type permit; false: deny (the patient refused)
	Emergency       bool   // provision.purpose ETREAT
	EmergencyReason string // one of EmergencyReasons when Emergency
	Start, End      time.Time
}

// Patient returns the NHS number the request is about, decoding PatientID
// with ids when the body used a reference.
func (r *ConsentRequest) Patient(ids *IDs) (string, error) {
	if r.NHSNumber != "" {
		return r.NHSNumber, nil
	}
	nhs, t, err := ids.Decode(r.PatientID)
	if err != nil || t != "Patient" {
		return "", &mig.Error{Code: mig.EINVALID, Issue: mig.IssueInvalidResource,
			Message: "Consent.patient: the reference is not a patient of this server"}
	}
	return nhs, nil
}

// pathReporter keeps the first element path the validator complained of.
type pathReporter struct{ path string }

func (p *pathReporter) ReportValidationError(path string, _ error) error {
	if p.path == "" {
		p.path = path
	}
	return nil
}
func (p *pathReporter) ReportValidationWarning(string, error) error { return nil }

// safePath returns path when it is a plain element path (letters, digits,
// dots, brackets), else "": a client's unknown keys must not be echoed.
func safePath(path string) string {
	if len(path) > 100 {
		return ""
	}
	for _, r := range path {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '[' || r == ']') {
			return ""
		}
	}
	return path
}

func invalid(format string, args ...any) error {
	e := mig.Errorf(mig.EINVALID, format, args...)
	e.Issue = mig.IssueInvalidResource
	return e
}

// ParseConsent reads a client's FHIR R4 Consent JSON with the validating
// unmarshaller. It needs status active, patient (a Patient/<id> reference
// or an NHS number identifier), provision.type (permit or deny), and for
// emergency access provision.purpose ETREAT with a reason from
// EmergencyReasons in provision.code; provision.period is optional. Errors
// are EINVALID INVALID_RESOURCE naming the element at fault, never quoting
// the body.
func ParseConsent(body []byte) (*ConsentRequest, error) {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		return nil, &mig.Error{Code: mig.EINTERNAL, Message: "fhir json unmarshaller unavailable", Err: err}
	}
	rep := &pathReporter{}
	msg, err := u.UnmarshalWithErrorReporter(body, rep)
	if err != nil {
		return nil, &mig.Error{Code: mig.EINVALID, Issue: mig.IssueInvalidResource,
			Message: "body is not a valid FHIR R4 resource", Err: err}
	}
	if rep.path != "" {
		if p := safePath(rep.path); p != "" {
			return nil, invalid("%s: element is missing or invalid", p)
		}
		return nil, invalid("body is not a valid FHIR R4 Consent")
	}
	cr, ok := msg.(*bcrpb.ContainedResource)
	if !ok || cr.GetConsent() == nil {
		return nil, invalid("resourceType must be Consent")
	}
	cn := cr.GetConsent()
	if cn.GetStatus().GetValue() != c.ConsentStateCode_ACTIVE {
		return nil, invalid("Consent.status must be active")
	}
	out := &ConsentRequest{}
	pat := cn.GetPatient()
	switch {
	case pat.GetPatientId() != nil:
		out.PatientID = pat.GetPatientId().GetValue()
	case pat.GetIdentifier() != nil:
		id := pat.GetIdentifier()
		if id.GetSystem().GetValue() != SystemNHSNumber {
			return nil, invalid("Consent.patient.identifier.system must be %s", SystemNHSNumber)
		}
		nhs := strings.ReplaceAll(id.GetValue().GetValue(), " ", "")
		if !mig.ValidNHSNumber(nhs) {
			return nil, &mig.Error{Code: mig.EINVALID, Issue: mig.IssueInvalidNHSNumber,
				Message: "Consent.patient.identifier.value is not a valid NHS number"}
		}
		out.NHSNumber = nhs
	default:
		return nil, invalid("Consent.patient must be a Patient/<id> reference or an NHS number identifier")
	}
	prov := cn.GetProvision()
	if prov == nil {
		return nil, invalid("Consent.provision is required")
	}
	switch prov.GetType().GetValue() {
	case c.ConsentProvisionTypeCode_PERMIT:
		out.Permit = true
	case c.ConsentProvisionTypeCode_DENY:
	default:
		return nil, invalid("Consent.provision.type must be permit or deny")
	}
	for i, p := range prov.GetPurpose() {
		if p.GetSystem().GetValue() != SystemV3ActReason {
			return nil, invalid("Consent.provision.purpose[%d].system must be %s", i, SystemV3ActReason)
		}
		switch p.GetCode().GetValue() {
		case "ETREAT":
			out.Emergency = true
		case "TREAT":
		default:
			return nil, invalid("Consent.provision.purpose[%d].code must be TREAT or ETREAT", i)
		}
	}
	for i, cc := range prov.GetCode() {
		for j, cd := range cc.GetCoding() {
			if cd.GetSystem().GetValue() != consent.EmergencyReasonCodeSystem {
				continue
			}
			if !out.Emergency {
				return nil, invalid("Consent.provision.code[%d]: an emergency reason needs provision.purpose ETREAT", i)
			}
			if !validEmergencyReason(cd.GetCode().GetValue()) {
				return nil, invalid("Consent.provision.code[%d].coding[%d].code is not a permitted emergency reason", i, j)
			}
			if out.EmergencyReason != "" {
				return nil, invalid("Consent.provision.code: only one emergency reason is allowed")
			}
			out.EmergencyReason = cd.GetCode().GetValue()
		}
	}
	if out.Emergency {
		if !out.Permit {
			return nil, invalid("Consent.provision.type must be permit for emergency access")
		}
		if out.EmergencyReason == "" {
			return nil, invalid("Consent.provision.code: emergency access needs a reason coded in %s", consent.EmergencyReasonCodeSystem)
		}
	}
	if p := prov.GetPeriod(); p != nil {
		if s := p.GetStart(); s != nil {
			out.Start = time.UnixMicro(s.GetValueUs()).UTC()
		}
		if e := p.GetEnd(); e != nil {
			out.End = time.UnixMicro(e.GetValueUs()).UTC()
		}
		if !out.Start.IsZero() && !out.End.IsZero() && out.End.Before(out.Start) {
			return nil, invalid("Consent.provision.period.end is before its start")
		}
	}
	return out, nil
}

// contractStatus maps an agreement's status to Contract.status.
var contractStatus = map[string]c.ContractResourceStatusCode_Value{
	consent.AgreementDraft:     c.ContractResourceStatusCode_NEGOTIABLE,
	consent.AgreementActive:    c.ContractResourceStatusCode_EXECUTED,
	consent.AgreementSuspended: c.ContractResourceStatusCode_REVOKED,
	consent.AgreementEnded:     c.ContractResourceStatusCode_TERMINATED,
}

func validFHIRID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// ContractResource returns an Information Sharing Agreement as an R4
// Contract: one term per view shared (offer parties: the providers as
// disclosing, the recipients as receiving), and a term for emergency access
// naming the recipients allowed it.
func ContractResource(a *consent.Agreement) (*bcrpb.ContainedResource, error) {
	if a == nil {
		return nil, mig.Errorf(mig.EINTERNAL, "contract resource: nothing to write")
	}
	if !validFHIRID(a.ID) {
		return nil, mig.Errorf(mig.EINVALID, "agreement id must be 1-64 letters, digits, '-' or '.'")
	}
	st, ok := contractStatus[a.Status]
	if !ok {
		return nil, mig.Errorf(mig.EINVALID, "agreement status must be draft, active, suspended or ended")
	}
	if len(a.Providers) == 0 || len(a.Recipients) == 0 {
		return nil, mig.Errorf(mig.EINVALID, "agreement needs at least one provider and one recipient")
	}
	out := &ctpb.Contract{
		Id:         &d.Id{Value: a.ID},
		Meta:       meta(Profile("Contract")),
		Identifier: []*d.Identifier{{System: furi(SystemAgreement), Value: fstr(a.ID)}},
		Status:     &ctpb.Contract_StatusCode{Value: st},
		Issued:     instant(a.ChangedAt),
		Applies:    timePeriod(a.ValidFrom, a.ValidTo),
	}
	if a.Version > 0 {
		out.Version = fstr(strconv.Itoa(a.Version))
	}
	if a.Title != "" {
		out.Title = fstr(a.Title)
	}
	var providers, recipients []*d.Reference
	for _, p := range a.Providers {
		providers = append(providers, odsRef(p))
	}
	for _, r := range a.Recipients {
		recipients = append(recipients, odsRef(r))
	}
	out.Authority = append(append([]*d.Reference(nil), providers...), recipients...)
	party := func(refs []*d.Reference, role, display string) *ctpb.Contract_Term_ContractOffer_ContractParty {
		return &ctpb.Contract_Term_ContractOffer_ContractParty{Reference: refs, Role: fixedConcept(SystemAgreementRole, role, display)}
	}
	for _, v := range a.Views {
		out.Term = append(out.Term, &ctpb.Contract_Term{
			Type: fixedConcept(SystemView, string(v), ""),
			Offer: &ctpb.Contract_Term_ContractOffer{Party: []*ctpb.Contract_Term_ContractOffer_ContractParty{
				party(providers, "disclosing", "Discloses"), party(recipients, "receiving", "Receives")}},
		})
	}
	if len(a.EmergencyAccess) > 0 {
		var em []*d.Reference
		for _, r := range a.EmergencyAccess {
			em = append(em, odsRef(r))
		}
		out.Term = append(out.Term, &ctpb.Contract_Term{
			Type: fixedConcept(SystemAgreementTerm, "emergency-access", "Emergency access permitted"),
			Offer: &ctpb.Contract_Term_ContractOffer{Party: []*ctpb.Contract_Term_ContractOffer_ContractParty{
				party(providers, "disclosing", "Discloses"), party(em, "receiving", "Receives")}},
		})
	}
	return &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Contract{Contract: out}}, nil
}
