package rest

import (
	"net/http"

	"mig"
)

// statusOf is the one place where gateway error codes become HTTP statuses.
var statusOf = map[string]int{
	mig.EINVALID:       http.StatusBadRequest,
	mig.EUNAUTHORIZED:  http.StatusUnauthorized,
	mig.EFORBIDDEN:     http.StatusForbidden,
	mig.ENOTFOUND:      http.StatusNotFound,
	mig.ENOTALLOWED:    http.StatusMethodNotAllowed,
	mig.ENOTACCEPTABLE: http.StatusNotAcceptable,
	mig.ECONFLICT:      http.StatusConflict,
	mig.ETOOLARGE:      http.StatusRequestEntityTooLarge,
	mig.EURITOOLONG:    http.StatusRequestURITooLong,
	mig.EUNSUPPORTED:   http.StatusUnsupportedMediaType,
	mig.EHEADERS:       http.StatusRequestHeaderFieldsTooLarge,
	mig.EUNAVAILABLE:   http.StatusServiceUnavailable,
	mig.ETIMEOUT:       http.StatusGatewayTimeout,
	mig.EOVERLOADED:    http.StatusServiceUnavailable,
	mig.EINTERNAL:      http.StatusInternalServerError,
}

// issueTypeOf is the FHIR OperationOutcome issue.code for each error code.
var issueTypeOf = map[string]string{
	mig.EINVALID:       "invalid",
	mig.EUNAUTHORIZED:  "login",
	mig.EFORBIDDEN:     "forbidden",
	mig.ENOTFOUND:      "not-found",
	mig.ENOTALLOWED:    "not-supported",
	mig.ENOTACCEPTABLE: "not-supported",
	mig.ECONFLICT:      "conflict",
	mig.ETOOLARGE:      "too-costly",
	mig.EURITOOLONG:    "too-long",
	mig.EUNSUPPORTED:   "not-supported",
	mig.EHEADERS:       "too-long",
	mig.EUNAVAILABLE:   "transient",
	mig.ETIMEOUT:       "timeout",
	mig.EOVERLOADED:    "throttled",
	mig.EINTERNAL:      "exception",
}

// HTTPStatus returns the HTTP status for err.
func HTTPStatus(err error) int {
	if s, ok := statusOf[mig.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// defaultIssue gives a GP Connect style detail code when the error has none.
func defaultIssue(code string) string {
	switch code {
	case mig.EINVALID, mig.ETOOLARGE, mig.EURITOOLONG, mig.EUNSUPPORTED, mig.EHEADERS:
		return mig.IssueBadRequest
	case mig.EFORBIDDEN, mig.EUNAUTHORIZED:
		return mig.IssueAccessDenied
	case mig.ENOTFOUND:
		return "NO_RECORD_FOUND"
	case mig.ENOTALLOWED, mig.ENOTACCEPTABLE:
		return mig.IssueNotImplemented
	case mig.EUNAVAILABLE, mig.ETIMEOUT:
		return "INTERNAL_SERVER_ERROR"
	case mig.EOVERLOADED:
		return mig.IssueOverloaded
	}
	return "INTERNAL_SERVER_ERROR"
}
