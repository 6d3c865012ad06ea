package rest

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"mig"
	"mig/adapters/record"
	"mig/consent"
	"mig/fhir"
)

// params returns the search parameters of a GET (query) or POST _search
// (form body, so NHS numbers can stay out of URLs).
func params(c echo.Context) (url.Values, error) {
	if c.Request().Method == http.MethodPost {
		ct := c.Request().Header.Get("Content-Type")
		if !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			return nil, invalidParam("POST _search takes an application/x-www-form-urlencoded body")
		}
		f, err := c.FormParams()
		if err != nil {
			return nil, invalidParam("the form body could not be read")
		}
		// _format may still be in the URL.
		for k, v := range c.QueryParams() {
			if _, ok := f[k]; !ok {
				f[k] = v
			}
		}
		return f, nil
	}
	return c.QueryParams(), nil
}

// unknownType answers a request for a type this server does not serve.
func (s *Server) unknownType(c echo.Context, typ string) error {
	r := s.newRequest(c, consent.OpRead, "")
	return s.refuse(c, r, "request", &mig.Error{Code: mig.ENOTFOUND, Issue: "UNKNOWN_RESOURCE",
		Message: "resource type " + safeParam(typ) + " is not supported; see GET /fhir/metadata"})
}

// search serves GET /fhir/{type}?... and POST /fhir/{type}/_search.
func (s *Server) search(c echo.Context) error {
	typ := c.Param("type")
	if _, ok := clinicalTypes[typ]; !ok {
		return s.otherSearch(c, typ)
	}
	r := s.newRequest(c, consent.OpSearch, typ)
	s.notePatient(c, r, typ)
	if _, err := s.start(c, r); err != nil {
		return done(err)
	}
	p, err := params(c)
	if err != nil {
		return s.refuse(c, r, "request", err)
	}
	var nhs string
	extra := map[string]bool{}
	if typ == "Patient" {
		extra["identifier"], extra["birthdate"] = true, true
		if p.Get("patient") != "" {
			return s.refuse(c, r, "request", invalidParam("Patient searches take identifier, not patient"))
		}
		if nhs, err = nhsFromIdentifier(p.Get("identifier")); err != nil {
			return s.refuse(c, r, "request", err)
		}
	} else {
		ref := p.Get("patient")
		if ref == "" {
			return s.refuse(c, r, "request", invalidParam("%s searches need patient=<Patient id>", typ))
		}
		if nhs, err = s.patientNHS(ref); err != nil {
			return s.refuse(c, r, "request", err)
		}
	}
	q, err := s.parseQuery(typ, p, extra, cursorScope(c.Request().URL.Path, r.Principal))
	if err != nil {
		return s.refuse(c, r, "request", err)
	}
	if typ == "Patient" && p.Get("birthdate") != "" {
		if _, _, _, err := parseDate(p.Get("birthdate")); err != nil {
			return s.refuse(c, r, "request", invalidParam("birthdate: %s", mig.ErrorMessage(err)))
		}
	}
	res, err := s.patientData(c, r, nhs)
	if err != nil {
		return done(err)
	}
	var matches []fhir.Resource
	if typ == "Patient" {
		if bd := p.Get("birthdate"); bd == "" || birthDateMatches(res, bd) {
			matches = append(matches, res.Patient)
		}
	} else {
		for _, rs := range res.Resources {
			if rs.Type == typ && q.matches(rs.Entry, typ) {
				matches = append(matches, rs)
			}
		}
	}
	return s.respondBundle(c, r, p, q, matches, res.Withheld || r.Withheld, res.Unclassified)
}

func birthDateMatches(res *patientView, bd string) bool {
	prefix, lo, hi, err := parseDate(bd)
	if err != nil || res.rec.Patient.BirthDate.IsZero() {
		return false
	}
	rlo, rhi := dateRange(res.rec.Patient.BirthDate)
	return dateMatches(prefix, lo, hi, rlo, rhi)
}

// notePatient records, before any rule runs, which patient a search asks
// about (when the parameters name one validly), so that a refusal at the
// first rules is still audited against the patient. Nothing is looked up.
func (s *Server) notePatient(c echo.Context, r *consent.Request, typ string) {
	p, err := params(c)
	if err != nil {
		return
	}
	if typ == "Patient" {
		if nhs, err := nhsFromIdentifier(p.Get("identifier")); err == nil {
			r.NHSNumber = nhs
		}
	} else if ref := p.Get("patient"); ref != "" {
		if nhs, err := s.patientNHS(ref); err == nil {
			r.NHSNumber = nhs
		}
	}
}

// read serves GET /fhir/{type}/{id}.
func (s *Server) read(c echo.Context) error {
	typ, id := c.Param("type"), c.Param("id")
	if _, ok := clinicalTypes[typ]; !ok {
		return s.otherRead(c, typ, id)
	}
	r := s.newRequest(c, consent.OpRead, typ)
	nhs, rtype, err := s.IDs.Decode(id)
	if err == nil && rtype == typ {
		r.NHSNumber = nhs // so auditors see who asked about the patient, even if refused
	}
	if _, err := s.start(c, r); err != nil {
		return done(err)
	}
	if err != nil || rtype != typ {
		return s.refuse(c, r, "request", resourceNotFound(typ))
	}
	res, err := s.patientData(c, r, nhs)
	if err != nil {
		return done(err)
	}
	var found *fhir.Resource
	if typ == "Patient" {
		found = &res.Patient
	} else {
		for i := range res.Resources {
			if res.Resources[i].Type == typ && res.Resources[i].ID == id {
				found = &res.Resources[i]
				break
			}
		}
	}
	if found == nil {
		// Gone from the record since the id was issued, or withheld.
		return s.refuse(c, r, "request", resourceNotFound(typ))
	}
	body, err := s.encodeResource(c, *found, r.Emergency)
	if err != nil {
		return s.refuse(c, r, "mapping", &mig.Error{Code: mig.EINTERNAL, Message: "the resource could not be encoded", Err: err})
	}
	r.Released = map[string]int{typ: 1}
	return s.release(c, r, http.StatusOK, contentType, body)
}

func resourceNotFound(typ string) error {
	return &mig.Error{Code: mig.ENOTFOUND, Issue: "NO_RECORD_FOUND", Message: typ + " not found"}
}

// everything serves GET /fhir/Patient/{id}/$everything and $mig-view.
func (s *Server) operation(c echo.Context) error {
	id, op := c.Param("id"), c.Param("op")
	var r *consent.Request
	var view record.View
	switch op {
	case "$everything":
		r = s.newRequest(c, consent.OpEverything, "Patient")
	case "$mig-view":
		r = s.newRequest(c, consent.OpView, "Patient")
		v, ok := record.ParseView(c.QueryParam("view"))
		if !ok {
			if _, err := s.start(c, r); err != nil {
				return done(err)
			}
			return s.refuse(c, r, "request", invalidParam("view must be one of summary, problems, diagnoses, medication, risks, procedures, investigations, examination, events, demographics"))
		}
		view = v
		r.Views = []record.View{v}
	default:
		r = s.newRequest(c, consent.OpRead, "Patient")
		return s.refuse(c, r, "request", &mig.Error{Code: mig.ENOTFOUND, Issue: mig.IssueNotImplemented,
			Message: "operation " + safeParam(op) + " is not supported; see GET /fhir/metadata"})
	}
	if nhs, err := s.patientNHS(id); err == nil {
		r.NHSNumber = nhs
	}
	if _, err := s.start(c, r); err != nil {
		return done(err)
	}
	p := c.QueryParams()
	extra := map[string]bool{}
	if op == "$mig-view" {
		extra["view"] = true
	} else {
		if _, ok := p["_since"]; ok {
			return s.refuse(c, r, "request", errSince)
		}
		extra = everythingParams
	}
	q, err := s.parseQuery("Patient", p, extra, cursorScope(c.Request().URL.Path, r.Principal))
	if err != nil {
		return s.refuse(c, r, "request", err)
	}
	filter := &everythingFilter{}
	if op == "$everything" {
		if filter, err = parseEverything(p); err != nil {
			return s.refuse(c, r, "request", err)
		}
	}
	nhs, err := s.patientNHS(id)
	if err != nil {
		return s.refuse(c, r, "request", err)
	}
	res, err := s.patientData(c, r, nhs)
	if err != nil {
		return done(err)
	}
	var matches []fhir.Resource
	for _, rs := range append([]fhir.Resource{res.Patient}, res.Resources...) {
		if (view == "" || rs.Entry == nil || inView(rs, view)) && filter.keep(rs) {
			matches = append(matches, rs)
		}
	}
	return s.respondBundle(c, r, p, q, matches, res.Withheld || r.Withheld, res.Unclassified)
}

func inView(rs fhir.Resource, v record.View) bool {
	for _, w := range rs.Views {
		if w == v {
			return true
		}
	}
	return false
}

// respondBundle pages matches into a searchset Bundle and releases it.
func (s *Server) respondBundle(c echo.Context, r *consent.Request, p url.Values, q *query, matches []fhir.Resource, withheld, unclassified bool) error {
	total := len(matches)
	if q.shape.countOnly {
		// The total, no matches: a withheld or unclassified warning is
		// still said, as it is not a match.
		matches = nil
	}
	from := min(q.offset, len(matches))
	to := min(from+q.count, len(matches))
	page := matches[from:to]
	entries := make([]fhir.BundleEntry, 0, len(page)+1)
	counts := map[string]int{}
	for _, rs := range page {
		body, err := s.encodeResource(c, rs, r.Emergency)
		if err == nil && q.shape.elements != nil {
			body, err = subset(body, q.shape.elements)
		}
		if err != nil {
			return s.refuse(c, r, "mapping", &mig.Error{Code: mig.EINTERNAL, Message: "a resource could not be encoded", Err: err})
		}
		entries = append(entries, fhir.BundleEntry{FullURL: s.Base + "/" + rs.Type + "/" + rs.ID, Resource: body, Mode: "match"})
		counts[rs.Type]++
	}
	if withheld {
		entries = append(entries, fhir.BundleEntry{Resource: fhir.WithheldWarning(), Mode: "outcome"})
	}
	if unclassified {
		entries = append(entries, fhir.BundleEntry{Resource: fhir.UnclassifiedWarning(), Mode: "outcome"})
	}
	links := s.pageLinks(c, r, p, from, q.count, len(matches))
	body := fhir.SearchSet(total, links, entries)
	r.Released = counts
	return s.release(c, r, http.StatusOK, contentType, body)
}

// pageLinks builds self, next and previous links for a page.
func (s *Server) pageLinks(c echo.Context, r *consent.Request, p url.Values, from, count, total int) []fhir.Link {
	scope := cursorScope(c.Request().URL.Path, r.Principal)
	path := strings.TrimPrefix(c.Request().URL.Path, "/fhir")
	path = strings.TrimSuffix(path, "/_search")
	link := func(off int) string {
		v := url.Values{}
		for k, vs := range p {
			if k == "_page" {
				continue
			}
			// Keep NHS numbers out of URLs: POSTed identifiers stay out of links.
			if c.Request().Method == http.MethodPost && k == "identifier" {
				continue
			}
			v[k] = vs
		}
		if off > 0 {
			v.Set("_page", s.cursor(off, scope, withoutPage(p)))
		}
		u := s.Base + path
		if enc := v.Encode(); enc != "" {
			u += "?" + enc
		}
		return u
	}
	links := []fhir.Link{{Relation: "self", URL: link(from)}}
	if c.Request().Method == http.MethodPost {
		// A POSTed search cannot be replayed by GET without its body: give
		// only self, as FHIR allows.
		return links
	}
	if from+count < total {
		links = append(links, fhir.Link{Relation: "next", URL: link(from + count)})
	}
	if from > 0 {
		prev := from - count
		if prev < 0 {
			prev = 0
		}
		links = append(links, fhir.Link{Relation: "previous", URL: link(prev)})
	}
	return links
}

func withoutPage(p url.Values) url.Values {
	v := url.Values{}
	for k, vs := range p {
		if k != "_page" {
			v[k] = vs
		}
	}
	return v
}

// refuseWrite answers POST/PUT/PATCH/DELETE on read-only types.
func (s *Server) refuseWrite(c echo.Context) error {
	r := s.newRequest(c, consent.OpRead, c.Param("type"))
	return s.refuse(c, r, "request", &mig.Error{Code: mig.ENOTALLOWED, Issue: mig.IssueNotImplemented,
		Message: "MIG is read-only: " + c.Request().Method + " is not allowed (the one write is POST /fhir/Consent)"})
}
