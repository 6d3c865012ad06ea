// Package consent decides who may see what: the principal from a verified
// token, Information Sharing Agreements, the patient's consent to share (as
// set in the GP system), the clinician's recorded consent to view, emergency
// access, and the ordered chain of services that applies them to every
// request (after HAPI FHIR's ConsentInterceptor: start / can-see / will-see /
// complete hooks, PROCEED / AUTHORIZED / REJECT, deny by default).
package consent

import (
	"context"
	"time"

	"mig/adapters/record"
)

// Principal is the user a verified token speaks for.
type Principal struct {
	Subject       string // token sub
	UserID        string // nhsid_useruid (SDS user id)
	Name          string // display name from the token, for audit only
	RoleCode      string // national RBAC role of the selected role, e.g. R8000
	RoleProfileID string // selected_roleid (person_roleid)
	RoleName      string
	OrgODS        string // ODS code of the selected role's organisation
	OrgName       string
	ClientID      string // the client system (azp, or aud)
	Issuer        string
	Expiry        time.Time
}

// Operation is what a request does.
type Operation string

const (
	OpRead           Operation = "read"
	OpSearch         Operation = "search"
	OpEverything     Operation = "everything"
	OpView           Operation = "mig-view"
	OpConsentRecord  Operation = "consent-record"
	OpConsentSearch  Operation = "consent-search"
	OpAgreementRead  Operation = "agreement-read"
	OpAgreementAdmin Operation = "agreement-admin"
	OpAuditSearch    Operation = "audit-search"
	OpAuditExport    Operation = "audit-export"
	OpCapabilities   Operation = "capabilities"
	// OpAccessReport reads who has accessed one patient's record (the
	// patient access report), for that patient's practice.
	OpAccessReport Operation = "access-report"
)

// Verdict is a service's answer at a hook.
type Verdict uint8

const (
	Proceed    Verdict = iota // no opinion: ask the next service
	Authorized                // allow without asking later services at this hook
	Reject                    // refuse
)

// Decision is a verdict with its reason. A Reject carries the refusing rule
// and an error (a *mig.Error with code and GP Connect issue) that says which
// rule refused, never what the record holds.
type Decision struct {
	Verdict Verdict
	Rule    string // e.g. "authentication", "role", "agreement", "share-consent", "view-consent"
	Err     error  // for Reject
}

// Emergency reasons: a fixed code list of ours (design), never free text.
const (
	EmergencyUnconscious      = "unconscious"
	EmergencyUnableToConsent  = "unable-to-communicate"
	EmergencyLackingCapacity  = "lacks-capacity"
	EmergencySafeguarding     = "safeguarding"
	EmergencyLifeThreatening  = "life-threatening"
	EmergencyReasonCodeSystem = "https://mig.example.nhs.uk/CodeSystem/emergency-access-reason"
)

// ShareStatus is the patient's consent to share as set in the GP system.
type ShareStatus uint8

const (
	ShareNone    ShareStatus = iota // nothing recorded: nothing is shared
	ShareConsent                    // consent to share recorded
	ShareDissent                    // dissent: nothing, ever
)

// Request is one request as the chain sees it. The REST layer fills the
// first block; the chain fills the rest as it goes, so the audit recorder
// (the last service's Complete hook) has every decision and reason.
type Request struct {
	ID        string // request id (also Ssp-TraceID when the client sent one)
	Time      time.Time
	SourceIP  string
	UserAgent string
	Principal *Principal // nil when authentication failed
	Operation Operation
	Type      string        // FHIR resource type asked for, if any
	Query     string        // canonical query string, for searches
	Views     []record.View // views the request reads; nil = all views
	NHSNumber string        // the patient, once resolved
	Practice  string        // the patient's registered practice ODS code, once resolved

	// Filled by the chain.
	AgreementID string
	// Agreements are the agreements the agreement rule found covering this
	// request, for the later rules and the per-entry filter. They live and
	// die with the request: no state outside it.
	Agreements []*Agreement
	// RecipientAgreements are the agreements in force naming the
	// requester's organisation as recipient (RecipientAgreementsOf), read
	// once per request and shared by the rules and patient resolution.
	RecipientAgreements []*Agreement
	Share               ShareStatus
	ViewConsent         *ViewConsent // the consent to view that allowed the request, if any
	Emergency           bool
	Withheld            bool           // something was withheld from the response
	Released            map[string]int // resource type -> count released
	Decision            Decision       // final
}

// Service is one link of the chain.
type Service interface {
	// Start runs before any patient lookup.
	Start(ctx context.Context, r *Request) Decision
	// CanSee runs once the patient's record is read, before mapping.
	CanSee(ctx context.Context, r *Request, rec *record.Record) Decision
	// WillSee runs per entry; returning false withholds the entry.
	WillSee(ctx context.Context, r *Request, e *record.Entry) bool
	// Complete runs for every request, allowed or refused, with the final
	// decision in r.Decision. An error here (the audit store failing) fails
	// the request: no data is released.
	Complete(ctx context.Context, r *Request) error
}
