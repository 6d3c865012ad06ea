package rest

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"mig"
	"mig/adapters"
	"mig/adapters/record"
	"mig/consent"
	"mig/consent/oidc"
	"mig/fhir"
)

const (
	keyPrincipal = "mig.principal"
	keyAuthError = "mig.authError"
)

// authenticate verifies the bearer token, if any, and keeps the principal or
// the reason it failed. Refusing is the chain's job (its first link), so
// that every refusal is audited the same way.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		raw, err := oidc.BearerTokenOf(c.Request().Header.Values("Authorization"))
		if err == nil {
			var p *consent.Principal
			p, err = s.Verifier.Verify(c.Request().Context(), raw)
			if err == nil {
				c.Set(keyPrincipal, p)
			}
		}
		if err != nil {
			c.Set(keyAuthError, err)
		}
		return next(c)
	}
}

// errRefused is returned by start and resolve once the refusal has been
// audited and answered.
var errRefused = errors.New("refused")

// start runs authentication and the chain's Start hook. It answers
// refusals itself (returning errRefused).
func (s *Server) start(c echo.Context, r *consent.Request) (consent.Decision, error) {
	if r.Principal == nil {
		err, _ := c.Get(keyAuthError).(error)
		if err == nil {
			err = &mig.Error{Code: mig.EUNAUTHORIZED, Message: "no bearer token"}
		}
		var me *mig.Error
		if !errors.As(err, &me) {
			err = &mig.Error{Code: mig.EUNAUTHORIZED, Message: "token not valid", Err: err}
		}
		return consent.Decision{}, s.refuseOnce(c, r, "authentication", err)
	}
	d := s.Chain.Start(c.Request().Context(), r)
	if d.Verdict == consent.Reject {
		return d, s.refuseOnce(c, r, d.Rule, d.Err)
	}
	return d, nil
}

// refuseOnce answers a refusal and returns errRefused so callers stop.
func (s *Server) refuseOnce(c echo.Context, r *consent.Request, rule string, err error) error {
	if herr := s.refuse(c, r, rule, err); herr != nil {
		return herr
	}
	return errRefused
}

// done turns errRefused into nil for handlers.
func done(err error) error {
	if errors.Is(err, errRefused) {
		return nil
	}
	return err
}

// notFound is the one answer for "no such patient" and "not allowed to
// know": same status, issue and message.
func notFound() error { return mig.PatientNotFound() }

// patientData runs the patient stage of the chain for nhs: patient
// resolution (a patient whose practice is outside every agreement of the
// requester's organisation answers exactly as not found), the live fetch,
// CanSee, view tagging, per-entry WillSee filtering and mapping. Refusals are
// answered (and audited) here and come back as errRefused.
// patientView is a patient's record as one request may see it.
type patientView struct {
	rec *record.Record
	*fhir.Result
	// shared, when set, is the cached mapping Result's resources belong
	// to: shared with other requests, so never changed; encode them with
	// encode.
	shared *variant
}

func (s *Server) patientData(c echo.Context, r *consent.Request, nhs string) (*patientView, error) {
	ctx := c.Request().Context()
	r.NHSNumber = nhs
	practice, err := s.Records.Locate(ctx, nhs)
	if err != nil {
		if mig.ErrorCode(err) == mig.ENOTFOUND {
			err = notFound()
		}
		return nil, s.refuseOnce(c, r, "patient-resolution", err)
	}
	r.Practice = practice
	visible, err := s.practiceVisible(ctx, r, practice)
	if err != nil {
		return nil, s.refuseOnce(c, r, "patient-resolution", err)
	}
	if !visible {
		return nil, s.refuseOnce(c, r, "patient-resolution", notFound())
	}
	if sr, ok := s.Records.(SharedRecords); ok && s.Cache != nil {
		return s.sharedPatientData(c, r, sr, practice, nhs)
	}
	rec, err := s.Records.Read(ctx, practice, nhs)
	if err != nil {
		return nil, s.refuseOnce(c, r, readRule(err), err)
	}
	if err := s.canSee(c, r, rec); err != nil {
		return nil, err
	}
	record.Tag(rec, s.ViewContext(s.now()))
	res, err := s.Mapper.Map(rec, func(e *record.Entry) bool { return s.Chain.WillSee(ctx, r, e) })
	if err != nil {
		return nil, s.refuseOnce(c, r, "mapping", &mig.Error{Code: mig.EINTERNAL, Message: "the record could not be mapped to FHIR", Err: err})
	}
	if res.Withheld {
		r.Withheld = true
	}
	return &patientView{rec: rec, Result: res}, nil
}

// readRule is the rule a failed read of the record is refused under.
func readRule(err error) string {
	switch {
	case errors.Is(err, adapters.ErrIdentityMismatch):
		// The client sees "not found"; the audit trail and the log say
		// the extract and the demographics disagreed, a safety event.
		return "identity-mismatch"
	case mig.ErrorCode(err) == mig.ENOTFOUND:
		return "patient-resolution"
	}
	return "gp-system"
}

// canSee runs the chain's CanSee on the record, answering a refusal.
func (s *Server) canSee(c echo.Context, r *consent.Request, rec *record.Record) error {
	if d := s.Chain.CanSee(c.Request().Context(), r, rec); d.Verdict != consent.Authorized {
		if d.Err == nil {
			d.Err = &mig.Error{Code: mig.EFORBIDDEN, Issue: mig.IssueAccessDenied, Message: "no rule authorised this request"}
		}
		r.Decision = consent.Decision{Verdict: consent.Reject, Rule: d.Rule, Err: d.Err}
		return s.refuseOnce(c, r, d.Rule, d.Err)
	}
	return nil
}

// practiceVisible reports whether an agreement in force names the
// requester's organisation as recipient and practice as provider: the
// agreements the recipient rule already read for this request.
func (s *Server) practiceVisible(ctx context.Context, r *consent.Request, practice string) (bool, error) {
	active, err := consent.RecipientAgreementsOf(ctx, s.Agreements, r)
	if err != nil {
		return false, &mig.Error{Code: mig.EUNAVAILABLE, Message: "agreements cannot be read", Err: err}
	}
	for _, a := range active {
		if contains(a.Providers, practice) {
			return true, nil
		}
	}
	return false, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// patientNHS resolves a patient reference ("Patient/<id>" or "<id>") to an
// NHS number.
func (s *Server) patientNHS(ref string) (string, error) {
	id := strings.TrimPrefix(ref, "Patient/")
	if id == "" || strings.Contains(id, "/") {
		return "", &mig.Error{Code: mig.EINVALID, Issue: mig.IssueInvalidParameter, Message: "patient must be a Patient id or Patient/<id>"}
	}
	nhs, typ, err := s.IDs.Decode(id)
	if err != nil || typ != "Patient" {
		return "", notFound()
	}
	return nhs, nil
}

// nhsFromIdentifier parses "https://fhir.nhs.uk/Id/nhs-number|N".
func nhsFromIdentifier(v string) (string, error) {
	sys, val, ok := strings.Cut(v, "|")
	if !ok || sys != nhsSystem {
		return "", &mig.Error{Code: mig.EINVALID, Issue: mig.IssueInvalidParameter,
			Message: "identifier must be " + nhsSystem + "|<NHS number>"}
	}
	if !mig.ValidNHSNumber(val) {
		return "", &mig.Error{Code: mig.EINVALID, Issue: mig.IssueInvalidNHSNumber,
			Message: "NHS number must be 10 digits with a valid modulus 11 check digit"}
	}
	return val, nil
}

const nhsSystem = "https://fhir.nhs.uk/Id/nhs-number"

// canonicalQuery is the request path and its parameters sorted: what the
// audit record keeps for searches, and what paging cursors are bound to.
func canonicalQuery(c echo.Context) string {
	params := c.QueryParams()
	if c.Request().Method == http.MethodPost && strings.HasSuffix(c.Request().URL.Path, "/_search") {
		if f, err := c.FormParams(); err == nil {
			params = f
		}
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(c.Request().URL.Path)
	sep := "?"
	for _, k := range keys {
		vs := append([]string(nil), params[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			b.WriteString(sep)
			b.WriteString(k)
			b.WriteString("=")
			b.WriteString(v)
			sep = "&"
		}
	}
	return b.String()
}
