// Package audit records every request, allowed or refused, as a FHIR R4
// AuditEvent shaped by IHE Basic Audit Log Patterns, in an append-only,
// hash-chained store, durably before any data leaves (HashiCorp Vault's
// rule: if the record cannot be written, the request fails). It also keeps
// the outbox of access notifications owed to GP systems.
package audit

import (
	"context"
	"time"
)

// Outcome codes (FHIR AuditEvent.outcome).
const (
	OutcomeSuccess      = "0"
	OutcomeMinorFailure = "4" // request refused or invalid (client side)
	OutcomeSeriousFail  = "8" // refused by an access rule, or server failure
	OutcomeMajorFailure = "12"
)

// Event is what happened, before it is stored. It holds no clinical
// content: identifiers, codes of our own, counts and types.
type Event struct {
	Time        time.Time
	Type        string // "rest" (a FHIR interaction) or "security" (DCM 110113 Security Alert)
	Subtype     string // read, search-type, operation, create; or emergency-override-started
	Action      string // C R U D E
	Outcome     string // Outcome* code
	OutcomeDesc string // refusing rule and GP Connect issue code, e.g. "share-consent NO_PATIENT_CONSENT"

	UserID        string // SDS user id
	UserName      string // from the token, if present
	RoleCode      string // R8000...
	RoleProfileID string
	OrgODS        string
	ClientID      string
	SourceIP      string
	RequestID     string
	PurposeOfUse  string // TREAT or ETREAT

	NHSNumber   string // the patient (one event per patient touched)
	Practice    string // the patient's registered practice ODS code
	AgreementID string
	Consent     string         // given, refused, emergency, none
	Emergency   string         // emergency reason code, if any
	Query       string         // canonical query of a search (stored base64 in the AuditEvent)
	Released    map[string]int // resource type -> count released
	Operation   string         // the chain's operation name
	Resource    string         // resource type asked for

	// Refusals > 0 makes this a combined event: that many unauthenticated
	// refusals from SourceIP between Since and Time, beyond the first one
	// (which has its own event). See Recorder.
	Refusals int
	Since    time.Time
}

// Stored is an Event as the store keeps it.
type Stored struct {
	Seq  uint64   // 1, 2, 3 ... without gaps
	ID   string   // AuditEvent.id
	Prev [32]byte // Hash of record Seq-1 (zero for Seq 1)
	Hash [32]byte // SHA-256(Prev || Body)
	Body []byte   // the AuditEvent as canonical FHIR JSON
}

// Query selects events for auditors.
type Query struct {
	NHSNumber string
	Agent     string   // user id
	OrgODS    []string // events by these organisations' staff or about their patients; nil = all
	Since     time.Time
	Until     time.Time
	Outcome   string
	Subtype   string
	AfterSeq  uint64 // cursor: return events with Seq > AfterSeq
	Limit     int    // at most this many; <= 0: the store's default page (1000)
}

// Store is the append-only audit log.
type Store interface {
	// Append stores events durably (fsync) and returns them numbered and
	// chained. It returns only once they are on disk; an error means none
	// was stored and the request must fail.
	Append(ctx context.Context, events ...*Event) ([]*Stored, error)
	// Get returns the event with the AuditEvent id.
	Get(ctx context.Context, id string) (*Stored, error)
	// Search returns matching events in Seq order, at most q.Limit.
	// Append also queues, in the same transaction, a notification to the
	// patient's practice for each event that names one (the outbox).
	Search(ctx context.Context, q Query) ([]*Stored, error)
	// Scan calls fn for every event with Seq > after, in order, in constant memory.
	Scan(ctx context.Context, after uint64, fn func(*Stored) error) error
	Close() error
}
