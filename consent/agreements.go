package consent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"mig"
	"mig/adapters/record"
)

// MaxImportBytes bounds an agreements import file.
const MaxImportBytes = 4 << 20

func invalid(format string, args ...any) *mig.Error {
	return &mig.Error{Code: mig.EINVALID, Issue: mig.IssueInvalidResource, Message: fmt.Sprintf(format, args...)}
}

// validODS reports whether s looks like an ODS organisation code: 3 to 10
// upper-case letters and digits.
func validODS(s string) bool {
	if len(s) < 3 || len(s) > 10 {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// validPracticeODS reports whether s is a GP practice ODS code: a letter
// and five digits (e.g. A99901).
func validPracticeODS(s string) bool {
	if len(s) != 6 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < 6; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// ValidateAgreement checks an agreement before it is stored: id format,
// title length, status, ODS codes (providers are GP practices), no
// duplicates, views from record.AllViews, dates in order, emergency-access
// recipients a subset of the recipients.
func ValidateAgreement(a *Agreement) error {
	if a == nil {
		return invalid("agreement: missing")
	}
	if !validID(a.ID) {
		return invalid("agreement id: 1 to 64 letters, digits, '-', '.' or '_'")
	}
	if len(a.Title) > 200 {
		return invalid("agreement title: at most 200 characters")
	}
	switch a.Status {
	case AgreementDraft, AgreementActive, AgreementSuspended, AgreementEnded:
	default:
		return invalid("agreement status: one of draft, active, suspended, ended")
	}
	if len(a.Providers) == 0 {
		return invalid("agreement providers: at least one GP practice")
	}
	if err := checkCodes("providers", a.Providers, validPracticeODS); err != nil {
		return err
	}
	if len(a.Recipients) == 0 {
		return invalid("agreement recipients: at least one organisation")
	}
	if err := checkCodes("recipients", a.Recipients, validODS); err != nil {
		return err
	}
	if err := checkCodes("emergencyAccess", a.EmergencyAccess, validODS); err != nil {
		return err
	}
	for i, e := range a.EmergencyAccess {
		if !contains(a.Recipients, e) {
			return invalid("agreement emergencyAccess[%d]: not one of the recipients", i)
		}
	}
	if len(a.Views) == 0 {
		return invalid("agreement views: at least one view")
	}
	seen := map[record.View]bool{}
	for i, v := range a.Views {
		if _, ok := record.ParseView(string(v)); !ok {
			return invalid("agreement views[%d]: not a MIG view", i)
		}
		if seen[v] {
			return invalid("agreement views[%d]: duplicate", i)
		}
		seen[v] = true
	}
	if a.ValidFrom.IsZero() {
		return invalid("agreement validFrom: required")
	}
	if !a.ValidTo.IsZero() && !a.ValidTo.After(a.ValidFrom) {
		return invalid("agreement validTo: must be after validFrom")
	}
	return nil
}

func checkCodes(field string, codes []string, ok func(string) bool) error {
	seen := map[string]bool{}
	for i, c := range codes {
		if !ok(c) {
			return invalid("agreement %s[%d]: not a valid ODS code", field, i)
		}
		if seen[c] {
			return invalid("agreement %s[%d]: duplicate", field, i)
		}
		seen[c] = true
	}
	return nil
}

// AddAgreement validates and stores a new agreement (version 1). An id
// already in the store is a conflict.
func AddAgreement(ctx context.Context, store AgreementStore, a *Agreement, by string, now time.Time) error {
	if err := ValidateAgreement(a); err != nil {
		return err
	}
	if _, err := store.Get(ctx, a.ID); err == nil {
		return &mig.Error{Code: mig.ECONFLICT, Message: "agreement id already exists"}
	} else if mig.ErrorCode(err) != mig.ENOTFOUND {
		return err
	}
	a.ChangedBy, a.ChangedAt = by, now.UTC()
	return store.Put(ctx, a)
}

// SetStatus stores a new version of agreement id with the status changed
// (activate, suspend, end). Ended agreements stay ended.
func SetStatus(ctx context.Context, store AgreementStore, id, status, by string, now time.Time) (*Agreement, error) {
	cur, err := store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	switch status {
	case AgreementActive, AgreementSuspended, AgreementEnded:
	default:
		return nil, invalid("agreement status: one of active, suspended, ended")
	}
	if cur.Status == AgreementEnded {
		return nil, &mig.Error{Code: mig.ECONFLICT, Message: "agreement has ended and cannot change status"}
	}
	if cur.Status == status {
		return cur, nil
	}
	next := cloneAgreement(cur)
	next.Status = status
	next.ChangedBy, next.ChangedAt = by, now.UTC()
	if err := ValidateAgreement(next); err != nil {
		return nil, err
	}
	if err := store.Put(ctx, next); err != nil {
		return nil, err
	}
	return next, nil
}

func cloneAgreement(a *Agreement) *Agreement {
	c := *a
	c.Providers = append([]string(nil), a.Providers...)
	c.Recipients = append([]string(nil), a.Recipients...)
	c.Views = append([]record.View(nil), a.Views...)
	c.EmergencyAccess = append([]string(nil), a.EmergencyAccess...)
	return &c
}

// ImportAgreements reads a JSON array of agreements, validates all of them
// first, then stores each as a new version (new ids start at version 1,
// known ids get a new version). It returns how many were stored.
func ImportAgreements(ctx context.Context, store AgreementStore, r io.Reader, by string, now time.Time) (int, error) {
	dec := json.NewDecoder(io.LimitReader(r, MaxImportBytes+1))
	dec.DisallowUnknownFields()
	var list []*Agreement
	if err := dec.Decode(&list); err != nil {
		return 0, &mig.Error{Code: mig.EINVALID, Issue: mig.IssueInvalidResource,
			Message: "agreements import: not a JSON array of agreements", Err: err}
	}
	if dec.More() {
		return 0, invalid("agreements import: trailing data after the array")
	}
	ids := map[string]bool{}
	for i, a := range list {
		if err := ValidateAgreement(a); err != nil {
			var me *mig.Error
			if errors.As(err, &me) {
				return 0, invalid("agreements import [%d]: %s", i, me.Message)
			}
			return 0, err
		}
		if ids[a.ID] {
			return 0, invalid("agreements import [%d]: duplicate id", i)
		}
		ids[a.ID] = true
	}
	for i, a := range list {
		a.ChangedBy, a.ChangedAt = by, now.UTC()
		if err := store.Put(ctx, a); err != nil {
			return i, err
		}
	}
	return len(list), nil
}

// ExportAgreements writes the current version of every agreement as a JSON
// array (readable by ImportAgreements).
func ExportAgreements(ctx context.Context, store AgreementStore, w io.Writer) error {
	list, err := store.List(ctx)
	if err != nil {
		return err
	}
	if list == nil {
		list = []*Agreement{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(list)
}

// InForce reports whether a is active and in date at now.
func (a *Agreement) InForce(now time.Time) bool {
	if a.Status != AgreementActive || now.Before(a.ValidFrom) {
		return false
	}
	return a.ValidTo.IsZero() || now.Before(a.ValidTo)
}

// RecipientAgreementsOf returns the agreements in force naming the
// requester's organisation as recipient, reading the store once per
// request: the result is kept on r.RecipientAgreements.
func RecipientAgreementsOf(ctx context.Context, store AgreementStore, r *Request) ([]*Agreement, error) {
	if r.RecipientAgreements != nil {
		return r.RecipientAgreements, nil
	}
	if r.Principal == nil {
		return nil, nil
	}
	active, err := ActiveFor(ctx, store, r.Principal.OrgODS, requestTime(r))
	if err != nil {
		return nil, err
	}
	if active == nil {
		active = []*Agreement{}
	}
	r.RecipientAgreements = active
	return active, nil
}

// ActiveFor returns the agreements in force at now that name org as a
// recipient.
func ActiveFor(ctx context.Context, store AgreementStore, org string, now time.Time) ([]*Agreement, error) {
	if store == nil {
		return nil, nil
	}
	all, err := store.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Agreement
	for _, a := range all {
		if a.InForce(now) && contains(a.Recipients, org) {
			out = append(out, a)
		}
	}
	return out, nil
}

// DemoAgreementID is the id of the demonstration agreement.
const DemoAgreementID = "demo-isa"

// DemoAgreement returns the demonstration agreement: the three test
// practices share all ten views with an emergency department (RX999,
// emergency access permitted) and an out-of-hours service (NX999, not
// permitted), in force from the start of now's day.
func DemoAgreement(now time.Time) *Agreement {
	t := now.UTC()
	return &Agreement{
		ID:              DemoAgreementID,
		Title:           "MIG demonstration sharing agreement",
		Providers:       []string{"A99901", "A99902", "A99903"},
		Recipients:      []string{"RX999", "NX999"},
		Views:           record.AllViews(),
		EmergencyAccess: []string{"RX999"},
		ValidFrom:       time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC),
		Status:          AgreementActive,
	}
}
