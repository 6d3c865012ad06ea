package rest

import (
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"mig"
	"mig/consent"
	"mig/fhir"
)

func tooLarge(n int64) error {
	return mig.Errorf(mig.ETOOLARGE, "request body larger than %d bytes", n)
}

// recordConsent serves POST /fhir/Consent: the clinician records the
// patient's consent to view (or refusal), or emergency access with a reason.
// Recording passes the role, agreement and share-consent rules first.
func (s *Server) recordConsent(c echo.Context) error {
	r := s.newRequest(c, consent.OpConsentRecord, "Consent")
	if _, err := s.start(c, r); err != nil {
		return done(err)
	}
	if !jsonContent(c.Request().Header.Get("Content-Type")) {
		return s.refuse(c, r, "request", &mig.Error{Code: mig.EUNSUPPORTED, Issue: mig.IssueBadRequest,
			Message: "a Consent must be sent as application/fhir+json"})
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return s.refuse(c, r, "request", tooLarge(s.MaxBodyBytes))
	}
	cr, err := fhir.ParseConsent(body)
	if err != nil {
		return s.refuse(c, r, "request", err)
	}
	statedDOB, err := statedBirthDate(body)
	if err != nil {
		return s.refuse(c, r, "request", err)
	}
	nhs := cr.NHSNumber
	if nhs == "" {
		if nhs, err = s.patientNHS(cr.PatientID); err != nil {
			return s.refuse(c, r, "request", err)
		}
	}
	if !mig.ValidNHSNumber(nhs) {
		return s.refuse(c, r, "request", &mig.Error{Code: mig.EINVALID, Issue: mig.IssueInvalidNHSNumber,
			Message: "Consent.patient: NHS number must be 10 digits with a valid modulus 11 check digit"})
	}
	pv, err := s.patientData(c, r, nhs)
	if err != nil {
		return done(err)
	}
	if statedDOB != "" && !birthDateMatches(pv, statedDOB) {
		r.Decision = consent.Decision{}
		return s.refuse(c, r, "birth-date", birthDateMismatch())
	}
	if cr.Emergency {
		ok, err := s.emergencyPermitted(c, r)
		if err != nil {
			return s.refuse(c, r, "emergency", err)
		}
		if !ok {
			r.Decision = consent.Decision{}
			return s.refuse(c, r, "emergency", mig.Refusal(mig.IssueAccessDenied,
				"the sharing agreement does not permit emergency access for your organisation"))
		}
	}
	// Build the decision, audit it, and only then store it: a consent to
	// view never takes effect without its AuditEvent.
	vc, err := consent.NewViewConsent(r.Principal, nhs, cr.Permit, cr.Emergency, cr.EmergencyReason, s.now(), s.Episode)
	if err != nil {
		return s.refuse(c, r, "view-consent", err)
	}
	r.ViewConsent = vc
	r.Emergency = vc.Emergency
	res, err := fhir.ConsentResource(vc, s.IDs)
	if err != nil {
		return s.refuse(c, r, "mapping", &mig.Error{Code: mig.EINTERNAL, Message: "the consent could not be encoded", Err: err})
	}
	out, err := fhir.MarshalResource(res)
	if err != nil {
		return s.refuse(c, r, "mapping", &mig.Error{Code: mig.EINTERNAL, Message: "the consent could not be encoded", Err: err})
	}
	r.Released = map[string]int{"Consent": 1}
	// Location names the new resource: set only once its AuditEvent is
	// stored, so a 503 AUDIT_UNAVAILABLE carries nothing of it.
	if err := s.commit(c, r); err != nil {
		return done(err)
	}
	if err := s.ViewConsents.Put(c.Request().Context(), vc); err != nil {
		// Audited as recorded, but not stored: a second AuditEvent says so.
		return s.refuse(c, r, "view-consent", &mig.Error{Code: mig.EUNAVAILABLE,
			Message: "the consent could not be stored; nothing was recorded, try again", Err: err})
	}
	c.Response().Header().Set("Location", s.Base+"/Consent/"+s.IDs.Resource(nhs, "Consent", vc.ID))
	if r.Emergency {
		c.Response().Header().Set("X-MIG-Emergency-Access", "BTG")
	}
	return c.Blob(http.StatusCreated, contentType, out)
}

// jsonContent reports whether a request Content-Type is FHIR JSON (or
// plain JSON), whatever its parameters.
func jsonContent(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	switch strings.ToLower(strings.TrimSpace(mt)) {
	case "application/fhir+json", "application/json", "application/json+fhir":
		return true
	}
	return false
}

// emergencyPermitted reports whether an agreement that allowed the request
// (any agreement the agreement rule found covering it, as the view-consent
// rule asks at read time) lets the requester's organisation use emergency
// access.
func (s *Server) emergencyPermitted(c echo.Context, r *consent.Request) (bool, error) {
	list := r.Agreements
	if len(list) == 0 {
		if r.AgreementID == "" {
			return false, nil
		}
		a, err := s.Agreements.Get(c.Request().Context(), r.AgreementID)
		if err != nil {
			return false, err
		}
		list = []*consent.Agreement{a}
	}
	now := s.now()
	for _, a := range list {
		if a.InForce(now) && contains(a.EmergencyAccess, r.Principal.OrgODS) {
			return true, nil
		}
	}
	return false, nil
}

// otherSearch serves searches of the gateway's own types.
func (s *Server) otherSearch(c echo.Context, typ string) error {
	switch typ {
	case "Consent":
		return s.searchConsents(c, "")
	case "Contract":
		return s.searchContracts(c, "")
	case "AuditEvent":
		return s.searchAudit(c)
	}
	return s.unknownType(c, typ)
}

// otherRead serves reads of the gateway's own types.
func (s *Server) otherRead(c echo.Context, typ, id string) error {
	switch typ {
	case "Consent":
		return s.searchConsents(c, id)
	case "Contract":
		return s.searchContracts(c, id)
	case "AuditEvent":
		return s.readAudit(c, id)
	}
	return s.unknownType(c, typ)
}

// searchConsents lists the requester's own consents for one patient
// (GET /fhir/Consent?patient=), or reads one (GET /fhir/Consent/{id}).
func (s *Server) searchConsents(c echo.Context, id string) error {
	op := consent.OpConsentSearch
	r := s.newRequest(c, op, "Consent")
	if _, err := s.start(c, r); err != nil {
		return done(err)
	}
	var nhs string
	var err error
	if id != "" {
		var typ string
		if nhs, typ, err = s.IDs.Decode(id); err != nil || typ != "Consent" {
			return s.refuse(c, r, "request", resourceNotFound("Consent"))
		}
	} else {
		p := c.QueryParams()
		for k, vals := range p {
			if !commonParams[k] && k != "patient:identifier" {
				return s.refuse(c, r, "request", invalidParam("search parameter %q is not supported for Consent", safeParam(k)))
			}
			if err := onlyOnce(k, vals); err != nil {
				return s.refuse(c, r, "request", err)
			}
		}
		switch {
		case p.Get("patient") != "":
			nhs, err = s.patientNHS(p.Get("patient"))
		case p.Get("patient:identifier") != "":
			nhs, err = nhsFromIdentifier(p.Get("patient:identifier"))
		default:
			err = invalidParam("Consent searches need patient=<Patient id> or patient:identifier=%s|<NHS number>", nhsSystem)
		}
		if err != nil {
			return s.refuse(c, r, "request", err)
		}
	}
	r.NHSNumber = nhs
	list, err := s.ViewConsents.ListByUser(c.Request().Context(), r.Principal.UserID, r.Principal.OrgODS, nhs)
	if err != nil {
		return s.refuse(c, r, "view-consent", &mig.Error{Code: mig.EUNAVAILABLE, Message: "consents cannot be read", Err: err})
	}
	var entries []fhir.BundleEntry
	for _, vc := range list {
		rid := s.IDs.Resource(nhs, "Consent", vc.ID)
		if id != "" && rid != id {
			continue
		}
		res, err := fhir.ConsentResource(vc, s.IDs)
		if err != nil {
			return s.refuse(c, r, "mapping", &mig.Error{Code: mig.EINTERNAL, Message: "a consent could not be encoded", Err: err})
		}
		body, err := fhir.MarshalResource(res)
		if err != nil {
			return s.refuse(c, r, "mapping", &mig.Error{Code: mig.EINTERNAL, Message: "a consent could not be encoded", Err: err})
		}
		if id != "" {
			r.Released = map[string]int{"Consent": 1}
			return s.release(c, r, http.StatusOK, contentType, body)
		}
		entries = append(entries, fhir.BundleEntry{FullURL: s.Base + "/Consent/" + rid, Resource: body, Mode: "match"})
	}
	if id != "" {
		return s.refuse(c, r, "request", resourceNotFound("Consent"))
	}
	return s.releaseList(c, r, "Consent", entries)
}

// searchContracts exposes the active agreements that name the requester's
// organisation, read-only, as FHIR Contract resources.
func (s *Server) searchContracts(c echo.Context, id string) error {
	r := s.newRequest(c, consent.OpAgreementRead, "Contract")
	if _, err := s.start(c, r); err != nil {
		return done(err)
	}
	for k := range c.QueryParams() {
		if k != "_format" && k != "_count" && k != "_page" && !shapeParams[k] {
			return s.refuse(c, r, "request", invalidParam("search parameter %q is not supported for Contract", safeParam(k)))
		}
	}
	list, err := s.Agreements.List(c.Request().Context())
	if err != nil {
		return s.refuse(c, r, "agreement", &mig.Error{Code: mig.EUNAVAILABLE, Message: "agreements cannot be read", Err: err})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	org := r.Principal.OrgODS
	now := s.now()
	var entries []fhir.BundleEntry
	for _, a := range list {
		// In force only: an agreement not yet started or already expired
		// gives no access, and is not shown as if it did.
		if !a.InForce(now) || !(contains(a.Recipients, org) || contains(a.Providers, org)) {
			continue
		}
		if id != "" && a.ID != id {
			continue
		}
		res, err := fhir.ContractResource(a)
		if err != nil {
			return s.refuse(c, r, "mapping", &mig.Error{Code: mig.EINTERNAL, Message: "an agreement could not be encoded", Err: err})
		}
		body, err := fhir.MarshalResource(res)
		if err != nil {
			return s.refuse(c, r, "mapping", &mig.Error{Code: mig.EINTERNAL, Message: "an agreement could not be encoded", Err: err})
		}
		if id != "" {
			r.Released = map[string]int{"Contract": 1}
			return s.release(c, r, http.StatusOK, contentType, body)
		}
		entries = append(entries, fhir.BundleEntry{FullURL: s.Base + "/Contract/" + a.ID, Resource: body, Mode: "match"})
	}
	if id != "" {
		return s.refuse(c, r, "request", resourceNotFound("Contract"))
	}
	return s.releaseList(c, r, "Contract", entries)
}

// releaseList pages a searchset of the gateway's own short lists (Consent,
// Contract) with _count and _page as every search takes them, and releases
// the page. The caller has refused every parameter typ does not take.
func (s *Server) releaseList(c echo.Context, r *consent.Request, typ string, entries []fhir.BundleEntry) error {
	p := c.QueryParams()
	q, err := s.parseQuery(typ, p, map[string]bool{"patient:identifier": true}, cursorScope(c.Request().URL.Path, r.Principal))
	if err != nil {
		return s.refuse(c, r, "request", err)
	}
	total := len(entries)
	if q.shape.countOnly {
		entries = nil
	}
	from := min(q.offset, len(entries))
	to := min(from+q.count, len(entries))
	page := entries[from:to]
	if q.shape.elements != nil {
		page = append([]fhir.BundleEntry(nil), page...)
		for i := range page {
			if page[i].Resource, err = subset(page[i].Resource, q.shape.elements); err != nil {
				return s.refuse(c, r, "mapping", err)
			}
		}
	}
	r.Released = map[string]int{typ: len(page)}
	return s.release(c, r, http.StatusOK, contentType, fhir.SearchSet(total, s.pageLinks(c, r, p, from, q.count, len(entries)), page))
}
