package consent

import (
	"context"
	"time"

	"mig/adapters/record"
)

// Agreement statuses.
const (
	AgreementDraft     = "draft"
	AgreementActive    = "active"
	AgreementSuspended = "suspended"
	AgreementEnded     = "ended"
)

// Agreement is an Information Sharing Agreement: which GP practices
// (providers) share which views with which organisations (recipients).
type Agreement struct {
	ID              string        `json:"id"`
	Title           string        `json:"title"`      // administrative title, set by admins; not clinical
	Providers       []string      `json:"providers"`  // GP practice ODS codes
	Recipients      []string      `json:"recipients"` // recipient organisation ODS codes
	Views           []record.View `json:"views"`
	EmergencyAccess []string      `json:"emergencyAccess,omitempty"` // recipients allowed emergency access
	ValidFrom       time.Time     `json:"validFrom"`
	ValidTo         time.Time     `json:"validTo,omitempty"` // zero: open-ended
	Status          string        `json:"status"`
	Version         int           `json:"version"`
	ChangedBy       string        `json:"changedBy"`
	ChangedAt       time.Time     `json:"changedAt"`
}

// AgreementStore keeps agreements with their full history: every change is
// a new version, nothing is overwritten.
type AgreementStore interface {
	// Put stores a new version of a (a.Version is set by the store).
	Put(ctx context.Context, a *Agreement) error
	// Get returns the current version.
	Get(ctx context.Context, id string) (*Agreement, error)
	// List returns the current version of every agreement.
	List(ctx context.Context) ([]*Agreement, error)
	// History returns every version of one agreement, oldest first.
	History(ctx context.Context, id string) ([]*Agreement, error)
}

// ViewConsent is a clinician's recorded consent to view (or the patient's
// refusal), for one patient and one episode.
type ViewConsent struct {
	ID              string    `json:"id"`
	NHSNumber       string    `json:"nhsNumber"`
	UserID          string    `json:"userId"`
	RoleProfileID   string    `json:"roleProfileId,omitempty"`
	OrgODS          string    `json:"org"`
	Given           bool      `json:"given"`                     // false: the patient refused
	Emergency       bool      `json:"emergency"`                 // emergency access instead of consent
	EmergencyReason string    `json:"emergencyReason,omitempty"` // one of the Emergency* codes
	Recorded        time.Time `json:"recorded"`
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
}

// ViewConsentStore keeps consents to view. A later decision for the same
// user, organisation and patient supersedes an earlier one.
type ViewConsentStore interface {
	Put(ctx context.Context, c *ViewConsent) error
	Get(ctx context.Context, id string) (*ViewConsent, error)
	// Latest returns the most recent decision for user, org and patient, or
	// nil when there is none.
	Latest(ctx context.Context, userID, org, nhs string) (*ViewConsent, error)
	// ListByUser returns the user's consents for one patient, newest first.
	ListByUser(ctx context.Context, userID, org, nhs string) ([]*ViewConsent, error)
}
