package consent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"mig"
)

// EmergencyReasons is the fixed list of emergency access reasons.
var EmergencyReasons = []string{
	EmergencyUnconscious,
	EmergencyUnableToConsent,
	EmergencyLackingCapacity,
	EmergencySafeguarding,
	EmergencyLifeThreatening,
}

// ValidEmergencyReason reports whether s is one of EmergencyReasons.
func ValidEmergencyReason(s string) bool { return contains(EmergencyReasons, s) }

// NewID returns a random identifier (128 bits, hex).
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("consent: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// RecordViewConsent stores a clinician's decision about viewing one
// patient's record: the patient's consent (given), refusal (!given), or
// emergency access with a reason from EmergencyReasons. It lasts one
// episode from now, and supersedes earlier decisions by being later.
// Whether emergency access is permitted is decided at read time, from the
// sharing agreement.
func RecordViewConsent(ctx context.Context, store ViewConsentStore, p *Principal, nhs string,
	given, emergency bool, reason string, now time.Time, episode time.Duration) (*ViewConsent, error) {
	c, err := NewViewConsent(p, nhs, given, emergency, reason, now, episode)
	if err != nil {
		return nil, err
	}
	if err := store.Put(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// NewViewConsent checks and builds a decision about viewing one patient's
// record without storing it, so a caller can audit the decision before it
// takes effect (store it with ViewConsentStore.Put).
func NewViewConsent(p *Principal, nhs string, given, emergency bool, reason string, now time.Time, episode time.Duration) (*ViewConsent, error) {
	if p == nil || p.UserID == "" || p.OrgODS == "" {
		return nil, mig.Errorf(mig.EUNAUTHORIZED, "recording consent needs a user and an organisation")
	}
	if !mig.ValidNHSNumber(nhs) {
		return nil, &mig.Error{Code: mig.EINVALID, Issue: mig.IssueInvalidNHSNumber, Message: "invalid NHS number"}
	}
	if emergency {
		if !ValidEmergencyReason(reason) {
			return nil, &mig.Error{Code: mig.EINVALID, Issue: mig.IssueInvalidParameter,
				Message: "emergency access needs a reason from the emergency-access-reason code system"}
		}
	} else if reason != "" {
		return nil, &mig.Error{Code: mig.EINVALID, Issue: mig.IssueInvalidParameter,
			Message: "a reason is given only for emergency access"}
	}
	if episode <= 0 {
		episode = 8 * time.Hour
	}
	now = now.UTC()
	c := &ViewConsent{
		ID:              NewID(),
		NHSNumber:       nhs,
		UserID:          p.UserID,
		RoleProfileID:   p.RoleProfileID,
		OrgODS:          p.OrgODS,
		Given:           given && !emergency,
		Emergency:       emergency,
		EmergencyReason: reason,
		Recorded:        now,
		Start:           now,
		End:             now.Add(episode),
	}
	return c, nil
}
