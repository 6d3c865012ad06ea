package consent

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"time"

	"mig"
	"mig/adapters/record"
)

// A Launch is a clinical system's request, made before the user opens the
// Shared Record Viewer, that the viewer open one patient for one user (the
// SMART App Launch pattern's "launch" parameter). The clinical system
// creates it as a registered client; the viewer redeems it once, as the
// signed-in user, and from then on names it on every API call, so that the
// gateway answers only for that patient under it.
type Launch struct {
	Key       string    `json:"key"`    // LaunchKey(id): the store never holds the id itself
	Client    string    `json:"client"` // the registered client that created it
	UserID    string    `json:"user"`   // SDS user id the launch is for
	OrgODS    string    `json:"org,omitempty"`
	NHSNumber string    `json:"nhs"`
	BirthDate string    `json:"birthDate,omitempty"` // YYYY-MM-DD, when the clinical system gave it
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"` // redeem before this
	Redeemed  time.Time `json:"redeemed,omitzero"`
	// Until is how long a redeemed launch scopes API calls.
	Until time.Time `json:"until,omitzero"`
}

// LaunchStore keeps launches (a store, not process memory: two gateway
// nodes share them) and the client assertions already used.
type LaunchStore interface {
	// Create stores a new launch.
	Create(ctx context.Context, l *Launch) error
	// Redeem marks the launch with key used, once: it fails with
	// ErrLaunchInvalid when the launch is unknown, expired or already
	// redeemed, and with ErrLaunchOtherUser when it names another user, or
	// an organisation other than org (the launch is then spent too). until
	// is how long it then scopes API calls.
	Redeem(ctx context.Context, key, userID, org string, now, until time.Time) (*Launch, error)
	// Get returns the launch with key, or an ENOTFOUND error.
	Get(ctx context.Context, key string) (*Launch, error)
	// UseAssertion records a client assertion's jti until exp; it fails if
	// that client already used the jti (a replayed assertion).
	UseAssertion(ctx context.Context, client, jti string, exp, now time.Time) error
}

// Launch errors: one answer for unknown, expired and used launches, so that
// nobody learns which launch ids exist.
var (
	ErrLaunchInvalid   = mig.Refusal(mig.IssueAccessDenied, "the launch is not valid: it is unknown, has expired or was already used")
	ErrLaunchOtherUser = mig.Refusal(mig.IssueAccessDenied, "the launch was made for another user or organisation")
	ErrLaunchPatient   = mig.Refusal(mig.IssueAccessDenied, "this request names a patient other than the launch's patient")
	ErrAssertionReused = &mig.Error{Code: mig.EUNAUTHORIZED, Issue: mig.IssueAccessDenied, Message: "client assertion already used"}
)

// NewLaunchID returns a new launch id (128 random bits, base64url) and the
// key it is stored under.
func NewLaunchID() (id, key string) {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (Go 1.24+)
	id = base64.RawURLEncoding.EncodeToString(b[:])
	return id, LaunchKey(id)
}

// LaunchKey is the store key of a launch id: its SHA-256, so that reading
// the store gives no usable launch id.
func LaunchKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

type launchCtxKey struct{}

// WithLaunch returns ctx carrying the redeemed launch a request is made
// under.
func WithLaunch(ctx context.Context, l *Launch) context.Context {
	return context.WithValue(ctx, launchCtxKey{}, l)
}

// LaunchFrom returns the launch a request is made under, if any.
func LaunchFrom(ctx context.Context) *Launch {
	l, _ := ctx.Value(launchCtxKey{}).(*Launch)
	return l
}

// LaunchScope is the chain's first link: a request made under a launch may
// read only the launch's patient. It runs before any rule that can
// authorise, so nothing else can let another patient through.
type LaunchScope struct{ Base }

// Start implements Service: a request that already names another patient
// is refused before any lookup.
func (LaunchScope) Start(ctx context.Context, r *Request) Decision {
	if l := LaunchFrom(ctx); l != nil && r.NHSNumber != "" && r.NHSNumber != l.NHSNumber {
		return reject(RuleLaunch, ErrLaunchPatient)
	}
	return proceed
}

// CanSee implements Service.
func (LaunchScope) CanSee(ctx context.Context, r *Request, _ *record.Record) Decision {
	l := LaunchFrom(ctx)
	if l == nil {
		return proceed
	}
	if r.NHSNumber != l.NHSNumber {
		return reject(RuleLaunch, ErrLaunchPatient)
	}
	return proceed
}

// RuleLaunch names the launch rule in decisions and the audit trail.
const RuleLaunch = "launch"

// Launch operations, for the audit trail.
const (
	OpLaunchCreate Operation = "launch-create"
	OpLaunchRedeem Operation = "launch-redeem"
)
