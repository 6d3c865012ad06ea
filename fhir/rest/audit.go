package rest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"mig"
	"mig/audit"
	"mig/consent"
	"mig/fhir"
)

// Exporter runs asynchronous AuditEvent exports (FHIR Bulk Data pattern).
// Its jobs live in the audit store, not in this process.
//
// Asynchronous export is for auditors of the wide (operator) organisations:
// it writes every event since a time, unscoped.
type Exporter interface {
	Kickoff(ctx context.Context, since time.Time, afterSeq uint64) (jobID string, err error)
	Status(ctx context.Context, jobID string) (*ExportStatus, error)
	Open(ctx context.Context, jobID string) (io.ReadCloser, error)
}

// ExportStatus is an export job's state.
type ExportStatus struct {
	Done    bool
	Error   string // content-free reason, when the job failed
	Count   uint64
	Started time.Time
}

// auditQuery reads the AuditEvent search parameters into a store query,
// scoped to what the auditor may see: events by its own organisation's
// staff and about its own organisation's patients, unless its
// organisation is configured as wide.
func (s *Server) auditQuery(ctx context.Context, r *consent.Request, p url.Values, allowed map[string]bool) (audit.Query, error) {
	q := audit.Query{Limit: s.DefaultCount}
	for k, vals := range p {
		if !allowed[k] {
			return q, invalidParam("search parameter %q is not supported for AuditEvent; see GET /fhir/metadata", safeParam(k))
		}
		if k != "date" { // date takes a lower and an upper bound
			if err := onlyOnce(k, vals); err != nil {
				return q, err
			}
		}
	}
	if !contains(s.AuditorWide, r.Principal.OrgODS) {
		q.OrgODS = []string{r.Principal.OrgODS}
	}
	var err error
	if v := p.Get("patient"); v != "" {
		if q.NHSNumber, err = s.patientNHS(v); err != nil {
			return q, invalidParam("patient: no such Patient id")
		}
	}
	if v := p.Get("patient:identifier"); v != "" {
		if q.NHSNumber, err = nhsFromIdentifier(v); err != nil {
			return q, err
		}
	}
	r.NHSNumber = q.NHSNumber
	if q.Agent, err = s.agentParam(p); err != nil {
		return q, err
	}
	for _, v := range p["date"] {
		prefix, lo, hi, err := parseDate(v)
		if err != nil {
			return q, invalidParam("date: %s", mig.ErrorMessage(err))
		}
		// An AuditEvent's recorded time is an instant: each prefix is a
		// lower bound, an upper bound or both, and several date
		// parameters narrow the search together.
		var since, until time.Time
		switch prefix {
		case "eq":
			since, until = lo, hi
		case "ge":
			since = lo
		case "gt", "sa":
			since = hi
		case "le":
			until = hi
		case "lt", "eb":
			until = lo
		default:
			return q, invalidParam("date takes eq, gt, lt, ge, le, sa or eb on AuditEvent (ne would be two ranges: search each side)")
		}
		if !since.IsZero() && since.After(q.Since) {
			q.Since = since
		}
		if !until.IsZero() && (q.Until.IsZero() || until.Before(q.Until)) {
			q.Until = until
		}
	}
	if v := p.Get("_since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return q, invalidParam("_since must be an instant such as 2026-11-01T00:00:00Z")
		}
		q.Since = t
	}
	if v := p.Get("outcome"); v != "" {
		switch v {
		case audit.OutcomeSuccess, audit.OutcomeMinorFailure, audit.OutcomeSeriousFail, audit.OutcomeMajorFailure:
			q.Outcome = v
		default:
			return q, invalidParam("outcome must be 0, 4, 8 or 12")
		}
	}
	if v := p.Get("subtype"); v != "" {
		_, q.Subtype = splitToken(v)
	}
	if _, given := p["_count"]; given {
		n, err := strconv.Atoi(p.Get("_count")) // an empty _count= is refused too
		if err != nil || n < 1 || n > s.MaxCount {
			return q, invalidParam("_count must be a whole number from 1 to %d", s.MaxCount)
		}
		q.Limit = n
	}
	if v := p.Get("_page"); v != "" {
		if q.AfterSeq, err = s.readCursor64(v, cursorScope("/fhir/AuditEvent", r.Principal), p); err != nil {
			return q, err
		}
	}
	if v := p.Get("_after"); v != "" {
		if q.AfterSeq, err = strconv.ParseUint(v, 10, 64); err != nil {
			// Or the id of the last AuditEvent an interrupted export wrote.
			st, gerr := s.Audit.Get(ctx, v)
			if gerr != nil || st == nil {
				return q, invalidParam("_after must be an audit sequence number or the id of an AuditEvent")
			}
			q.AfterSeq = st.Seq
		}
	}
	return q, nil
}

// agentParam reads the user an AuditEvent search asks about: agent is a
// reference (Practitioner/<SDS user id>, its absolute URL, or the bare
// id), agent:identifier a token in the SDS user id system. Events name
// their user by identifier, so the Practitioner id is the SDS user id.
func (s *Server) agentParam(p url.Values) (string, error) {
	ref, tok := p.Get("agent"), p.Get("agent:identifier")
	switch {
	case ref != "" && tok != "":
		return "", invalidParam("give agent or agent:identifier, not both")
	case ref != "":
		id := strings.TrimPrefix(ref, s.Base+"/")
		if strings.Contains(id, "|") {
			return "", invalidParam("agent is a reference (Practitioner/<SDS user id>); for an identifier use agent:identifier=%s|<SDS user id>", audit.SystemSDSUser)
		}
		if typ, rest, ok := strings.Cut(id, "/"); ok {
			if typ != "Practitioner" || rest == "" || strings.Contains(rest, "/") {
				return "", invalidParam("agent must be Practitioner/<SDS user id> or the SDS user id")
			}
			id = rest
		}
		return id, nil
	case tok != "":
		sys, id := splitToken(tok)
		if strings.Contains(tok, "|") && sys != audit.SystemSDSUser || id == "" {
			return "", invalidParam("agent:identifier must be %s|<SDS user id>", audit.SystemSDSUser)
		}
		return id, nil
	}
	for _, k := range []string{"agent", "agent:identifier"} {
		if _, given := p[k]; given {
			return "", invalidParam("%s needs a value", k)
		}
	}
	return "", nil
}

var auditSearchParams = map[string]bool{"patient": true, "patient:identifier": true, "agent": true, "agent:identifier": true, "date": true,
	"outcome": true, "subtype": true, "_count": true, "_page": true, "_format": true}

// searchAudit serves GET /fhir/AuditEvent for auditors. The auditor's own
// search is audited too.
func (s *Server) searchAudit(c echo.Context) error {
	r := s.newRequest(c, consent.OpAuditSearch, "AuditEvent")
	if _, err := s.start(c, r); err != nil {
		return done(err)
	}
	p := c.QueryParams()
	q, err := s.auditQuery(c.Request().Context(), r, p, auditSearchParams)
	if err != nil {
		return s.refuse(c, r, "request", err)
	}
	q.Limit++ // one more tells whether there is a next page
	found, err := s.Audit.Search(c.Request().Context(), q)
	if err != nil {
		return s.refuse(c, r, "audit", &mig.Error{Code: mig.EUNAVAILABLE, Message: "the audit store cannot be searched", Err: err})
	}
	more := len(found) == q.Limit
	if more {
		found = found[:q.Limit-1]
	}
	entries := make([]fhir.BundleEntry, 0, len(found))
	for _, st := range found {
		entries = append(entries, fhir.BundleEntry{FullURL: s.Base + "/AuditEvent/" + st.ID, Resource: st.Body, Mode: "match"})
	}
	links := []fhir.Link{{Relation: "self", URL: s.Base + "/AuditEvent?" + p.Encode()}}
	if more {
		v := withoutPage(p)
		v.Set("_page", s.cursor64(found[len(found)-1].Seq, cursorScope("/fhir/AuditEvent", r.Principal), withoutPage(p)))
		links = append(links, fhir.Link{Relation: "next", URL: s.Base + "/AuditEvent?" + v.Encode()})
	}
	r.Released = map[string]int{"AuditEvent": len(entries)}
	// A searchset of a cursor-paged log has no cheap total: -1 leaves it out.
	return s.release(c, r, http.StatusOK, contentType, fhir.SearchSet(-1, links, entries))
}

// readAudit serves GET /fhir/AuditEvent/{id}, inside the auditor's scope.
func (s *Server) readAudit(c echo.Context, id string) error {
	r := s.newRequest(c, consent.OpAuditSearch, "AuditEvent")
	if _, err := s.start(c, r); err != nil {
		return done(err)
	}
	st, err := s.Audit.Get(c.Request().Context(), id)
	if err != nil || st == nil {
		return s.refuse(c, r, "request", resourceNotFound("AuditEvent"))
	}
	if !contains(s.AuditorWide, r.Principal.OrgODS) {
		// Re-run the scoped search for exactly this record.
		q := audit.Query{OrgODS: []string{r.Principal.OrgODS}, AfterSeq: st.Seq - 1, Limit: 1}
		got, err := s.Audit.Search(c.Request().Context(), q)
		if err != nil || len(got) == 0 || got[0].Seq != st.Seq {
			return s.refuse(c, r, "request", resourceNotFound("AuditEvent"))
		}
	}
	r.Released = map[string]int{"AuditEvent": 1}
	return s.release(c, r, http.StatusOK, contentType, st.Body)
}

var auditExportParams = map[string]bool{"_since": true, "_after": true, "_format": true, "_type": true,
	"patient": true, "patient:identifier": true, "agent": true, "agent:identifier": true, "outcome": true, "subtype": true}

// auditExport serves GET /fhir/AuditEvent/$export. With "Prefer:
// respond-async" it follows the FHIR Bulk Data kick-off / status / file
// pattern; without it, it streams NDJSON directly, one AuditEvent per line,
// in constant memory. _after=<seq> resumes an interrupted export.
func (s *Server) auditExport(c echo.Context) error {
	r := s.newRequest(c, consent.OpAuditExport, "AuditEvent")
	if _, err := s.start(c, r); err != nil {
		return done(err)
	}
	p := c.QueryParams()
	if t := p.Get("_type"); t != "" && t != "AuditEvent" {
		return s.refuse(c, r, "request", invalidParam("_type must be AuditEvent"))
	}
	q, err := s.auditQuery(c.Request().Context(), r, p, auditExportParams)
	if err != nil {
		return s.refuse(c, r, "request", err)
	}
	ctx := c.Request().Context()
	if c.Request().Header.Get("Prefer") == "respond-async" {
		if s.Exports == nil {
			return s.refuse(c, r, "request", &mig.Error{Code: mig.ENOTALLOWED, Issue: mig.IssueNotImplemented, Message: "asynchronous export is not configured"})
		}
		if !contains(s.AuditorWide, r.Principal.OrgODS) {
			return s.refuse(c, r, "role", mig.Refusal(mig.IssueAccessDenied,
				"asynchronous export covers every organisation's events: it is for auditors of the operator organisations; use the streaming export (no Prefer header)"))
		}
		job, err := s.Exports.Kickoff(ctx, q.Since, q.AfterSeq)
		if err != nil {
			return s.refuse(c, r, "audit", &mig.Error{Code: mig.EUNAVAILABLE, Message: "the export could not be started", Err: err})
		}
		r.Released = map[string]int{}
		c.Response().Header().Set("Content-Location", s.Base+"/AuditEvent/$export-status/"+job)
		return s.release(c, r, http.StatusAccepted, contentType, fhir.OperationOutcome("information", "informational", "", "export started; poll the Content-Location URL"))
	}
	// Audit first (the export is the release), then stream.
	r.Released = map[string]int{}
	if err := s.commit(c, r); err != nil {
		return done(err)
	}
	w := c.Response()
	w.Header().Set("Content-Type", "application/fhir+ndjson")
	w.WriteHeader(http.StatusOK)
	q.Limit = 1000
	for {
		batch, err := s.Audit.Search(ctx, q)
		if err != nil {
			// Headers are gone: end the stream. The client resumes with _after.
			s.Log.Error().Str("request_id", r.ID).Msg("audit export interrupted")
			return nil
		}
		for _, st := range batch {
			w.Write(st.Body)
			w.Write([]byte("\n"))
		}
		w.Flush()
		if len(batch) < q.Limit {
			return nil
		}
		q.AfterSeq = batch[len(batch)-1].Seq
	}
}

// auditExportStatus serves the Bulk Data status endpoint.
func (s *Server) auditExportStatus(c echo.Context) error {
	r := s.newRequest(c, consent.OpAuditExport, "AuditEvent")
	if _, err := s.start(c, r); err != nil {
		return done(err)
	}
	if s.Exports == nil {
		return s.refuse(c, r, "request", resourceNotFound("export job"))
	}
	st, err := s.Exports.Status(c.Request().Context(), c.Param("job"))
	if err != nil || st == nil || !contains(s.AuditorWide, r.Principal.OrgODS) {
		return s.refuse(c, r, "request", resourceNotFound("export job"))
	}
	r.Released = map[string]int{}
	if st.Error != "" {
		return s.release(c, r, http.StatusInternalServerError, contentType, fhir.OperationOutcome("error", "exception", "", "export failed: "+st.Error))
	}
	if !st.Done {
		c.Response().Header().Set("X-Progress", strconv.FormatUint(st.Count, 10)+" events written")
		c.Response().Header().Set("Retry-After", "2")
		return s.release(c, r, http.StatusAccepted, contentType, fhir.OperationOutcome("information", "informational", "", "export in progress"))
	}
	manifest, _ := json.Marshal(map[string]any{
		"transactionTime":     st.Started.UTC().Format(time.RFC3339),
		"request":             s.Base + "/AuditEvent/$export",
		"requiresAccessToken": true,
		"output":              []map[string]any{{"type": "AuditEvent", "url": s.Base + "/AuditEvent/$export-file/" + c.Param("job"), "count": st.Count}},
		"error":               []any{},
	})
	return s.release(c, r, http.StatusOK, "application/json", manifest)
}

// auditExportFile serves a finished job's NDJSON file to its requester.
func (s *Server) auditExportFile(c echo.Context) error {
	r := s.newRequest(c, consent.OpAuditExport, "AuditEvent")
	if _, err := s.start(c, r); err != nil {
		return done(err)
	}
	if s.Exports == nil {
		return s.refuse(c, r, "request", resourceNotFound("export file"))
	}
	ctx := c.Request().Context()
	st, err := s.Exports.Status(ctx, c.Param("job"))
	if err != nil || st == nil || !st.Done || !contains(s.AuditorWide, r.Principal.OrgODS) {
		return s.refuse(c, r, "request", resourceNotFound("export file"))
	}
	f, err := s.Exports.Open(ctx, c.Param("job"))
	if err != nil {
		return s.refuse(c, r, "request", resourceNotFound("export file"))
	}
	defer f.Close()
	r.Released = map[string]int{"AuditEvent": int(st.Count)}
	if err := s.commit(c, r); err != nil {
		return done(err)
	}
	return c.Stream(http.StatusOK, "application/fhir+ndjson", f)
}
