package record

import (
	"errors"
	"time"

	"mig"
	"mig/adapters/xmltok"
)

// ParseOptions is what every adapter's Parse takes.
type ParseOptions struct {
	Limits     xmltok.Limits // zero fields: xmltok.DefaultLimits
	Classifier *Classifier   // nil: default rules and risk set
	// NHSNumber, when set, is the NHS number the extract was asked for: an
	// extract about anyone else fails safe with IDENTITY_MISMATCH.
	NHSNumber string
	// Now is the clock a status judged against the present (an end date
	// still to come means current) is read from; nil means time.Now.
	Now func() time.Time
}

// Clock returns opt.Now, or time.Now when it is nil.
func (opt ParseOptions) Clock() func() time.Time {
	if opt.Now != nil {
		return opt.Now
	}
	return time.Now
}

// MalformedError turns an error from xmltok into the gateway error adapters
// return: ETOOLARGE for a limit, EINVALID MALFORMED_EXTRACT otherwise. The
// message names the format, line and element path, never content.
func MalformedError(format string, err error) error {
	var xe *xmltok.Error
	if errors.As(err, &xe) {
		code := mig.EINVALID
		if xe.TooLarge {
			code = mig.ETOOLARGE
		}
		return &mig.Error{Code: code, Issue: mig.IssueMalformedExtract, Message: format + " extract: " + xe.Error(), Err: err}
	}
	var me *mig.Error
	if errors.As(err, &me) {
		return err
	}
	return &mig.Error{Code: mig.EINVALID, Issue: mig.IssueMalformedExtract, Message: format + " extract: unreadable document", Err: err}
}

// IdentityMismatch is the error for an extract about another patient than
// the one asked for.
func IdentityMismatch(format string) error {
	return &mig.Error{Code: mig.ECONFLICT, Issue: mig.IssueIdentityMismatch,
		Message: format + " extract: the record's NHS number is not the one requested"}
}
