package consent

import (
	"context"
	"time"

	"mig"
	"mig/adapters/record"
)

// Rule names, as they appear in Decision.Rule and in audit.
const (
	RuleAuthentication = "authentication"
	RuleRole           = "role"
	RuleRecipient      = "recipient"
	RuleAgreement      = "agreement"
	RulePatientStatus  = "patient-status"
	RuleShareConsent   = "share-consent"
	RuleViewConsent    = "view-consent"
	RuleAgreementViews = "agreement-views"
	RuleSensitive      = "sensitive"
)

// PatientNotFound is the one error for a patient the requester may not
// know about: no such NHS number, a practice outside every agreement of the
// requester's organisation, a deceased or deducted patient. Every path
// returns exactly this shape, so nobody can probe which NHS numbers exist.
func PatientNotFound() *mig.Error {
	return mig.PatientNotFound()
}

// IsPatientOperation reports whether op reads or acts on one patient's
// record and so needs the patient stage (CanSee).
func IsPatientOperation(op Operation) bool {
	switch op {
	case OpRead, OpSearch, OpEverything, OpView, OpConsentRecord:
		return true
	}
	return false
}

// isRead reports whether op releases record data.
func isRead(op Operation) bool {
	switch op {
	case OpRead, OpSearch, OpEverything, OpView:
		return true
	}
	return false
}

func reject(rule string, err error) Decision { return Decision{Verdict: Reject, Rule: rule, Err: err} }

func authorized(rule string) Decision { return Decision{Verdict: Authorized, Rule: rule} }

var proceed = Decision{Verdict: Proceed}

func unavailable(what string, err error) *mig.Error {
	return &mig.Error{Code: mig.EUNAVAILABLE, Message: what + " unavailable", Err: err}
}

func requestTime(r *Request) time.Time {
	if !r.Time.IsZero() {
		return r.Time
	}
	return time.Now()
}

// NewChain returns the access rules in order: authentication, role,
// recipient, agreement, patient status, share consent, view consent, then
// the entry filters (agreement views, sensitive codes). The caller appends
// the audit recorder as the last service.
func NewChain(cfg Config, agreements AgreementStore, views ViewConsentStore) Chain {
	st := &requestAgreements{store: agreements}
	return Chain{
		Authentication{},
		Role{ClinicalRoles: cfg.ClinicalRoles, AuditorRoles: cfg.AuditorRoles, AdminUsers: cfg.AdminUsers,
			AccessReportRoles: cfg.AccessReportRoles},
		Recipient{Agreements: agreements},
		&AgreementRule{state: st},
		PatientStatus{},
		ShareConsentRule{Codes: cfg.ShareCodes},
		&ViewConsentRule{Store: views, state: st},
		&AgreementViews{state: st},
		NewSensitive(cfg.SensitiveCodes),
	}
}

// Authentication refuses requests without a verified principal. The
// CapabilityStatement is public (FHIR servers publish it unauthenticated).
type Authentication struct{ Base }

// Start implements Service.
func (Authentication) Start(_ context.Context, r *Request) Decision {
	if r.Operation == OpCapabilities {
		return authorized(RuleAuthentication)
	}
	return checkPrincipal(r)
}

// CanSee implements Service.
func (Authentication) CanSee(_ context.Context, r *Request, _ *record.Record) Decision {
	return checkPrincipal(r)
}

func checkPrincipal(r *Request) Decision {
	p := r.Principal
	if p == nil {
		return reject(RuleAuthentication, mig.Errorf(mig.EUNAUTHORIZED, "a valid access token is required"))
	}
	if !p.Expiry.IsZero() && !requestTime(r).Before(p.Expiry) {
		return reject(RuleAuthentication, mig.Errorf(mig.EUNAUTHORIZED, "the access token has expired"))
	}
	return proceed
}

// Role checks the principal's role against the operation: clinical roles
// for patient data and consent records, auditor roles for the audit log,
// the administrator list for agreement changes.
type Role struct {
	Base
	ClinicalRoles []string
	AuditorRoles  []string
	AdminUsers    []string
	// AccessReportRoles may read a patient's access report besides the
	// auditor roles; whether the patient is registered at the requester's
	// organisation is checked where the patient is located (fhir/rest).
	AccessReportRoles []string
}

func accessDenied(format string, args ...any) *mig.Error {
	return mig.Refusal(mig.IssueAccessDenied, format, args...)
}

// Start implements Service.
func (ro Role) Start(_ context.Context, r *Request) Decision {
	p := r.Principal
	if p == nil {
		return reject(RuleRole, accessDenied("no role selected"))
	}
	clinical := contains(ro.ClinicalRoles, p.RoleCode)
	switch r.Operation {
	case OpRead, OpSearch, OpEverything, OpView, OpConsentRecord, OpConsentSearch:
		if !clinical {
			return reject(RuleRole, ro.notClinical(p))
		}
		if contains(ro.AdminUsers, p.UserID) {
			// Separation of duties: whoever can change who may see what
			// sees no clinical data, whatever role the token selects.
			return reject(RuleRole, accessDenied("administrator accounts see no clinical data"))
		}
		return proceed // recipient rule decides next
	case OpAuditSearch, OpAuditExport:
		if !contains(ro.AuditorRoles, p.RoleCode) {
			return reject(RuleRole, accessDenied("audit access needs an auditor role (privacy officer or Caldicott guardian)"))
		}
		return authorized(RuleRole)
	case OpAccessReport:
		if !contains(ro.AuditorRoles, p.RoleCode) && !contains(ro.AccessReportRoles, p.RoleCode) {
			return reject(RuleRole, accessDenied("the patient access report needs an auditor role or an access-report role of the patient's practice"))
		}
		return authorized(RuleRole)
	case OpAgreementAdmin:
		if !contains(ro.AdminUsers, p.UserID) {
			return reject(RuleRole, accessDenied("changing sharing agreements needs an administrator account"))
		}
		return authorized(RuleRole)
	case OpAgreementRead:
		if clinical || contains(ro.AuditorRoles, p.RoleCode) || contains(ro.AdminUsers, p.UserID) {
			return authorized(RuleRole)
		}
		return reject(RuleRole, accessDenied("reading sharing agreements needs a clinical, auditor or administrator role"))
	case OpCapabilities:
		return authorized(RuleRole)
	}
	return reject(RuleRole, accessDenied("operation not permitted"))
}

// CanSee implements Service: the patient stage is for clinical roles only.
func (ro Role) CanSee(_ context.Context, r *Request, _ *record.Record) Decision {
	if r.Principal == nil || !IsPatientOperation(r.Operation) || !contains(ro.ClinicalRoles, r.Principal.RoleCode) {
		return reject(RuleRole, accessDenied("patient records need a clinical role"))
	}
	if contains(ro.AdminUsers, r.Principal.UserID) {
		return reject(RuleRole, accessDenied("administrator accounts see no clinical data"))
	}
	return proceed
}

func (ro Role) notClinical(p *Principal) *mig.Error {
	if p.RoleCode == "" {
		return accessDenied("no role selected: patient records need a clinical role")
	}
	return accessDenied("role %s is not a clinical role permitted to view patient records", safeCode(p.RoleCode))
}

// safeCode returns s when it looks like a role code (letters and digits,
// at most 8), so that nothing odd from a token reaches a message.
func safeCode(s string) string {
	if len(s) == 0 || len(s) > 8 {
		return "(unrecognised)"
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return "(unrecognised)"
		}
	}
	return s
}

// Recipient refuses clinical operations from organisations that are not a
// recipient in any active, in-date agreement, before any patient lookup.
type Recipient struct {
	Base
	Agreements AgreementStore
}

func noOrgConsent(msg string) *mig.Error {
	return mig.Refusal(mig.IssueNoOrganisationConsent, "%s", msg)
}

// Start implements Service.
func (rc Recipient) Start(ctx context.Context, r *Request) Decision {
	if !IsPatientOperation(r.Operation) && r.Operation != OpConsentSearch {
		return proceed
	}
	if r.Principal == nil || r.Principal.OrgODS == "" {
		return reject(RuleRecipient, noOrgConsent("the requesting organisation is not in any active sharing agreement"))
	}
	active, err := RecipientAgreementsOf(ctx, rc.Agreements, r)
	if err != nil {
		return reject(RuleRecipient, unavailable("agreement store", err))
	}
	if len(active) == 0 {
		return reject(RuleRecipient, noOrgConsent("the requesting organisation is not in any active sharing agreement"))
	}
	if r.Operation == OpConsentSearch {
		return authorized(RuleRecipient)
	}
	return proceed
}

// AgreedViews returns the views of the agreement the request proceeds
// under (r.AgreementID among r.Agreements), or nil.
func (r *Request) AgreedViews() []record.View {
	for _, a := range r.Agreements {
		if a.ID == r.AgreementID {
			return a.Views
		}
	}
	return nil
}

// requestAgreements gives the later rules the agreements the Agreement rule
// found (kept on the request itself, r.Agreements), reading the store by
// r.AgreementID only when a request arrives without them.
type requestAgreements struct {
	store AgreementStore
}

func (s *requestAgreements) get(ctx context.Context, r *Request) []*Agreement {
	if r.Agreements != nil {
		return r.Agreements
	}
	if r.AgreementID == "" || s.store == nil {
		return nil
	}
	a, err := s.store.Get(ctx, r.AgreementID)
	if err != nil || a == nil {
		return nil
	}
	r.Agreements = []*Agreement{a}
	return r.Agreements
}

// AgreementRule finds the agreement under which the requester's
// organisation may see the patient's practice: active, in date, the
// organisation a recipient, the practice a provider, covering the views
// asked for. It sets r.AgreementID (and r.Practice when empty).
type AgreementRule struct {
	Base
	state *requestAgreements
}

// CanSee implements Service.
func (ar *AgreementRule) CanSee(ctx context.Context, r *Request, rec *record.Record) Decision {
	if !IsPatientOperation(r.Operation) {
		return proceed
	}
	if r.Principal == nil {
		return reject(RuleAgreement, PatientNotFound())
	}
	practice := r.Practice
	if practice == "" && rec != nil {
		practice = rec.Patient.PracticeODS
		r.Practice = practice
	}
	if practice == "" {
		return reject(RuleAgreement, PatientNotFound())
	}
	active, err := RecipientAgreementsOf(ctx, ar.state.store, r)
	if err != nil {
		return reject(RuleAgreement, unavailable("agreement store", err))
	}
	var forPractice, covering []*Agreement
	for _, a := range active {
		if contains(a.Providers, practice) {
			forPractice = append(forPractice, a)
			if coversViews(a, r.Views) {
				covering = append(covering, a)
			}
		}
	}
	if len(forPractice) == 0 {
		// Exactly the not-found error: the requester must not learn that
		// the NHS number exists at a practice outside its agreements.
		return reject(RuleAgreement, PatientNotFound())
	}
	if len(covering) == 0 {
		return reject(RuleAgreement, noOrgConsent("the sharing agreement does not cover the requested view"))
	}
	r.AgreementID = covering[0].ID
	r.Agreements = covering
	return proceed
}

// coversViews reports whether a covers every view in views; nil views (all
// views) are covered by any agreement that covers at least one view.
func coversViews(a *Agreement, views []record.View) bool {
	if len(views) == 0 {
		return len(a.Views) > 0
	}
	for _, v := range views {
		if !hasView(a.Views, v) {
			return false
		}
	}
	return true
}

func hasView(list []record.View, v record.View) bool {
	for _, w := range list {
		if w == v {
			return true
		}
	}
	return false
}

// PatientStatus hides deceased and deducted patients exactly as if they
// did not exist.
type PatientStatus struct{ Base }

// CanSee implements Service.
func (PatientStatus) CanSee(_ context.Context, r *Request, rec *record.Record) Decision {
	if !IsPatientOperation(r.Operation) {
		return proceed
	}
	if rec == nil || rec.Patient.Deceased || rec.Patient.Deducted {
		return reject(RulePatientStatus, PatientNotFound())
	}
	return proceed
}

// ShareConsentRule refuses unless the GP record holds the patient's consent
// to share. Emergency access never overrides it. It sets r.Share.
type ShareConsentRule struct {
	Base
	Codes ShareCodes
}

// CanSee implements Service.
func (sc ShareConsentRule) CanSee(_ context.Context, r *Request, rec *record.Record) Decision {
	if !IsPatientOperation(r.Operation) {
		return proceed
	}
	r.Share = ShareStatusOf(rec, sc.Codes)
	if r.Share != ShareConsent {
		return reject(RuleShareConsent, mig.Refusal(mig.IssueNoPatientConsent,
			"the patient's record is not shared: no consent to share is recorded at the practice"))
	}
	return proceed
}

// ViewConsentRule authorises reads with the clinician's recorded consent to
// view for this episode, or emergency access where the agreement permits
// it for the organisation; recording a consent is authorised once the
// earlier rules passed. It sets r.ViewConsent and r.Emergency.
type ViewConsentRule struct {
	Base
	Store ViewConsentStore
	state *requestAgreements
}

func noViewConsent(msg string) *mig.Error {
	return mig.Refusal(mig.IssueNoViewConsent, "%s", msg)
}

// CanSee implements Service.
func (vc *ViewConsentRule) CanSee(ctx context.Context, r *Request, rec *record.Record) Decision {
	if r.Operation == OpConsentRecord {
		return authorized(RuleViewConsent)
	}
	if !isRead(r.Operation) {
		return proceed
	}
	p := r.Principal
	if p == nil {
		return reject(RuleViewConsent, noViewConsent("no consent to view"))
	}
	nhs := r.NHSNumber
	if nhs == "" && rec != nil {
		nhs = rec.Patient.NHSNumber
	}
	c, err := vc.Store.Latest(ctx, p.UserID, p.OrgODS, nhs)
	if err != nil {
		return reject(RuleViewConsent, unavailable("consent store", err))
	}
	if c == nil || c.UserID != p.UserID || c.OrgODS != p.OrgODS || c.NHSNumber != nhs {
		return reject(RuleViewConsent, noViewConsent(
			"no consent to view is recorded for this patient in this episode: record it first (POST /fhir/Consent)"))
	}
	r.ViewConsent = c
	now := requestTime(r)
	if now.Before(c.Start) || !now.Before(c.End) {
		return reject(RuleViewConsent, noViewConsent(
			"the consent to view has expired: record it again for this episode (POST /fhir/Consent)"))
	}
	if c.Emergency {
		if !ValidEmergencyReason(c.EmergencyReason) {
			return reject(RuleViewConsent, noViewConsent(
				"the emergency access reason is not one of the permitted codes: record consent again (POST /fhir/Consent)"))
		}
		for _, a := range vc.state.get(ctx, r) {
			if contains(a.EmergencyAccess, p.OrgODS) {
				r.AgreementID = a.ID
				r.Emergency = true
				return authorized(RuleViewConsent)
			}
		}
		return reject(RuleViewConsent, noViewConsent(
			"emergency access is not permitted for this organisation by the sharing agreement: record the patient's consent to view (POST /fhir/Consent)"))
	}
	if !c.Given {
		return reject(RuleViewConsent, noViewConsent(
			"the patient refused consent to view in this episode: a new decision can be recorded (POST /fhir/Consent)"))
	}
	return authorized(RuleViewConsent)
}

// AgreementViews withholds entries in no view the request's agreement
// covers. An entry is kept when any of its views is covered. Entries with
// no view at all (never shown) are dropped without marking the response.
type AgreementViews struct {
	Base
	state *requestAgreements
}

// WillSee implements Service. It assumes one goroutine per request.
func (av *AgreementViews) WillSee(ctx context.Context, r *Request, e *record.Entry) bool {
	if !IsPatientOperation(r.Operation) {
		return true
	}
	if len(e.Views) == 0 {
		return false
	}
	av.state.get(ctx, r) // loads r.Agreements when the request came without them
	agreed := r.AgreedViews()
	for _, v := range e.Views {
		if hasView(agreed, v) {
			return true
		}
	}
	r.Withheld = true
	return false
}

// Sensitive withholds entries coded with a sensitive code.
type Sensitive struct {
	Base
	m *Matcher
}

// NewSensitive compiles the sensitive code list.
func NewSensitive(codes CodeList) *Sensitive { return &Sensitive{m: codes.Compile()} }

// WillSee implements Service. It assumes one goroutine per request.
func (s *Sensitive) WillSee(_ context.Context, r *Request, e *record.Entry) bool {
	if IsSensitive(s.m, e) {
		r.Withheld = true
		return false
	}
	return true
}
