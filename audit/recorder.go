package audit

import (
	"context"
	"maps"
	"time"

	"mig"
	"mig/adapters/record"
	"mig/consent"
)

// RecorderOptions tune the Recorder.
type RecorderOptions struct {
	// Now stamps requests that carry no time (default time.Now).
	Now func() time.Time
}

// Recorder is the last link of the consent chain: its Complete hook turns
// every request, allowed or refused, into AuditEvents and appends them
// durably. If the append fails, Complete fails and no data is released.
type Recorder struct {
	store Store
	now   func() time.Time
}

var _ consent.Service = (*Recorder)(nil)

// NewRecorder returns a Recorder appending to store.
func NewRecorder(store Store, opts RecorderOptions) *Recorder {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Recorder{store: store, now: opts.Now}
}

// Start has no opinion.
func (*Recorder) Start(context.Context, *consent.Request) consent.Decision {
	return consent.Decision{Verdict: consent.Proceed}
}

// CanSee has no opinion.
func (*Recorder) CanSee(context.Context, *consent.Request, *record.Record) consent.Decision {
	return consent.Decision{Verdict: consent.Proceed}
}

// WillSee withholds nothing.
func (*Recorder) WillSee(context.Context, *consent.Request, *record.Entry) bool { return true }

// Complete appends the request's AuditEvent. Its error is a *mig.Error
// EUNAVAILABLE (AUDIT_UNAVAILABLE).
func (rc *Recorder) Complete(ctx context.Context, r *consent.Request) error {
	if _, err := rc.store.Append(ctx, Events(r, rc.now)...); err != nil {
		return &mig.Error{Code: mig.EUNAVAILABLE, Issue: mig.IssueAuditUnavailable,
			Message: "audit record could not be written", Err: err}
	}
	return nil
}

// interaction maps an operation to its restful-interaction subtype and action.
func interaction(op consent.Operation) (subtype, action string) {
	switch op {
	case consent.OpRead, consent.OpAgreementRead:
		return "read", "R"
	case consent.OpSearch, consent.OpConsentSearch, consent.OpAuditSearch:
		return "search-type", "E"
	case consent.OpEverything, consent.OpView, consent.OpAuditExport:
		return "operation", "E"
	case consent.OpConsentRecord:
		return "create", "C"
	case consent.OpAgreementAdmin:
		return "update", "U"
	case consent.OpCapabilities:
		return "capabilities", "R"
	}
	return "operation", "E"
}

// Events builds the AuditEvents for one request: one per patient touched
// (a request names at most one patient), or one without a patient.
func Events(r *consent.Request, now func() time.Time) []*Event {
	e := &Event{
		Time:         r.Time,
		Type:         TypeRest,
		Outcome:      OutcomeSuccess,
		SourceIP:     r.SourceIP,
		RequestID:    r.ID,
		PurposeOfUse: "TREAT",
		NHSNumber:    r.NHSNumber,
		Practice:     r.Practice,
		AgreementID:  r.AgreementID,
		Query:        r.Query,
		Operation:    string(r.Operation),
		Resource:     r.Type,
	}
	if e.Time.IsZero() {
		e.Time = now()
	}
	e.Subtype, e.Action = interaction(r.Operation)
	if p := r.Principal; p != nil {
		e.UserID, e.UserName, e.RoleCode, e.RoleProfileID = p.UserID, p.Name, p.RoleCode, p.RoleProfileID
		e.OrgODS, e.ClientID = p.OrgODS, p.ClientID
	}
	switch {
	case r.Emergency || (r.ViewConsent != nil && r.ViewConsent.Emergency):
		e.Consent = "emergency"
		e.PurposeOfUse = "ETREAT"
		e.Emergency = "unspecified"
		if r.ViewConsent != nil && r.ViewConsent.EmergencyReason != "" {
			e.Emergency = r.ViewConsent.EmergencyReason
		}
	case r.ViewConsent != nil && r.ViewConsent.Given:
		e.Consent = "given"
	case r.ViewConsent != nil:
		e.Consent = "refused"
	}
	if r.Operation == consent.OpConsentRecord {
		e.Type = TypeSecurity // a consent decision
	}
	if r.Decision.Verdict == consent.Reject || r.Decision.Err != nil {
		code, issue := mig.ErrorCode(r.Decision.Err), mig.ErrorIssue(r.Decision.Err)
		if code == "" {
			code = mig.EFORBIDDEN
		}
		desc := r.Decision.Rule
		if issue == "" {
			issue = code
		}
		if desc != "" {
			desc += " "
		}
		e.OutcomeDesc = desc + issue
		switch code {
		case mig.EFORBIDDEN, mig.EUNAUTHORIZED:
			e.Type, e.Outcome = TypeSecurity, OutcomeSeriousFail
			if r.Decision.Rule == "view-consent" && e.Consent == "" {
				e.Consent = "none"
			}
		case mig.EUNAVAILABLE, mig.ETIMEOUT, mig.EINTERNAL:
			e.Outcome = OutcomeSeriousFail
		default:
			e.Outcome = OutcomeMinorFailure
		}
		e.Released = nil
	} else {
		e.Released = maps.Clone(r.Released)
	}
	if r.Principal == nil && e.Outcome == OutcomeSuccess {
		e.Outcome = OutcomeMinorFailure
		if e.OutcomeDesc == "" {
			e.OutcomeDesc = "authentication " + mig.EUNAUTHORIZED
		}
	}
	return []*Event{e}
}
