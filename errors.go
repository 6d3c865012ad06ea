// Package mig holds the domain types shared by every part of the Medical
// Interoperability Gateway: error codes (mapped to HTTP status in one place,
// fhir/rest) and the deployment configuration. It imports nothing of ours.
package mig

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to exactly one HTTP status in fhir/rest.
const (
	EINVALID       = "invalid"        // 400: bad parameter or malformed input
	EUNAUTHORIZED  = "unauthorized"   // 401: no or bad token
	EFORBIDDEN     = "forbidden"      // 403: a rule refused
	ENOTFOUND      = "not_found"      // 404
	ENOTALLOWED    = "not_allowed"    // 405: writes on read-only types
	ENOTACCEPTABLE = "not_acceptable" // 406: XML or another format asked for
	ECONFLICT      = "conflict"       // 409: e.g. two practices claim one NHS number
	ETOOLARGE      = "too_large"      // 413: document or body over the limit
	EUNSUPPORTED   = "unsupported"    // 415: a body in a media type the endpoint does not take
	EURITOOLONG    = "uri_too_long"   // 414: request line over the limit
	EHEADERS       = "headers_large"  // 431: request header fields over the limit
	EUNAVAILABLE   = "unavailable"    // 503: GP system down, audit store failing
	ETIMEOUT       = "timeout"        // 504: GP system too slow
	EOVERLOADED    = "overloaded"     // 503: this node is at its limit of requests in flight; retry after Retry-After
	EINTERNAL      = "internal"       // 500
)

// Error is an error the gateway can explain to its caller. Message must never
// hold free text from a record, a name or an NHS number: it is shown to
// clients and written to logs.
type Error struct {
	Code    string // one of the E* codes
	Issue   string // GP Connect style detail code, e.g. NO_PATIENT_CONSENT (optional)
	Message string // precise, content-free diagnostic
	Err     error  // wrapped cause, never shown to clients
}

func (e *Error) Error() string {
	if e.Issue != "" {
		return fmt.Sprintf("%s (%s): %s", e.Code, e.Issue, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrStoreLocked marks a store that could not be opened because another
// process holds its file (a running migd, a migctl command). The store
// backends wrap their lock timeout in it (StoreOpenError), so callers tell
// a lock apart from other failures without knowing the backend.
var ErrStoreLocked = errors.New("store file is locked by another process")

// StoreOpenError returns err, marked ErrStoreLocked when it is the
// backend's lock timeout (lockTimeout, e.g. bbolt's ErrTimeout).
func StoreOpenError(err, lockTimeout error) error {
	if err != nil && errors.Is(err, lockTimeout) {
		return fmt.Errorf("%w: %w", ErrStoreLocked, err)
	}
	return err
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Refusal returns a 403-class error carrying a GP Connect issue code.
func Refusal(issue, format string, args ...any) *Error {
	return &Error{Code: EFORBIDDEN, Issue: issue, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: the code of an *Error in its chain, or
// EINTERNAL for any other non-nil error.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err. Errors that are not
// *Error give a generic message, so that nothing unvetted reaches a client.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorIssue returns the GP Connect style issue code of err, if any.
func ErrorIssue(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Issue
	}
	return ""
}

// GP Connect style issue codes used in OperationOutcome details.
const (
	IssueNoPatientConsent      = "NO_PATIENT_CONSENT"
	IssueNoOrganisationConsent = "NO_ORGANISATION_CONSENT"
	IssueAccessDenied          = "ACCESS_DENIED"
	IssuePatientNotFound       = "PATIENT_NOT_FOUND"
	IssueNoViewConsent         = "NO_VIEW_CONSENT"
	IssueInvalidParameter      = "INVALID_PARAMETER"
	IssueInvalidNHSNumber      = "INVALID_NHS_NUMBER"
	IssueBadRequest            = "BAD_REQUEST"
	IssueNotImplemented        = "NOT_IMPLEMENTED"
	IssueInvalidResource       = "INVALID_RESOURCE"
	IssueGPSystemUnavailable   = "GP_SYSTEM_UNAVAILABLE"
	IssueAuditUnavailable      = "AUDIT_UNAVAILABLE"
	IssueDuplicatePatient      = "DUPLICATE_PATIENT"
	IssueIdentityMismatch      = "IDENTITY_MISMATCH"
	IssueMalformedExtract      = "MALFORMED_EXTRACT"
	IssueOverloaded            = "OVERLOADED" // MIG's own: refused by admission control, nothing done
)

// PatientNotFound is the one answer for "no such patient" and "not allowed
// to know": the same status, issue and message wherever it is given, so
// that nobody can probe which NHS numbers exist.
func PatientNotFound() *Error {
	return &Error{Code: ENOTFOUND, Issue: IssuePatientNotFound, Message: "no such patient"}
}
