// Package rest is MIG's FHIR R4 REST API on echo v4: patient search,
// reads and searches of every clinical type, $everything and $mig-view,
// the one write (POST /fhir/Consent), agreements as Contract, AuditEvent
// search and export for auditors, and an admin API for agreements.
//
// Every request runs through the consent chain; every response is held
// until the chain's Complete hook (the audit recorder) has durably stored
// its AuditEvent. If that fails the client gets 503 and no data.
package rest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"

	"mig"
	"mig/adapters/record"
	"mig/audit"
	"mig/consent"
	"mig/fhir"
)

// Verifier checks a bearer token and says whom it speaks for.
type Verifier interface {
	Verify(ctx context.Context, raw string) (*consent.Principal, error)
}

// Records reads patients' records live from their GP systems.
type Records interface {
	Locate(ctx context.Context, nhs string) (practice string, err error)
	Read(ctx context.Context, practice, nhs string) (*record.Record, error)
}

// Server is the FHIR REST API. Every field but the optional ones must be set
// before Handler is called.
type Server struct {
	Verifier     Verifier
	Chain        consent.Chain // the audit recorder is its last service
	Records      Records
	Mapper       *fhir.Mapper
	IDs          *fhir.IDs
	Agreements   consent.AgreementStore
	ViewConsents consent.ViewConsentStore
	Audit        audit.Store
	Exports      Exporter // optional: asynchronous $export
	Log          zerolog.Logger
	AccessReport AccessReportOptions // the patient access report (accessreport.go)

	Base         string        // public URL of the FHIR base, e.g. http://127.0.0.1:8080/fhir
	Episode      time.Duration // how long a consent to view lasts
	AuditorWide  []string      // auditor organisations that may search every event
	PageKey      []byte        // signs paging cursors
	ViewContext  func(now time.Time) record.ViewContext
	Now          func() time.Time
	Version      string
	Issuer       string // the OIDC issuer, announced at /fhir/.well-known/smart-configuration
	TokenURL     string // for the CapabilityStatement's security section
	AuthorizeURL string
	DefaultCount int // default page size (50)
	MaxCount     int // largest _count accepted (500)
	MaxBodyBytes int64
	// TrustedProxies are the reverse proxies (CIDR ranges) whose
	// X-Forwarded-For is believed for the audit trail's source address.
	TrustedProxies []*net.IPNet
	WWWAuthHeader  func(err error) string // RFC 6750 WWW-Authenticate value for a 401
	Launch         *LaunchAPI             // optional: launching the Shared Record Viewer in context
	// Cache, if set (and Records is SharedRecords), reuses the parse and
	// mapping of an extract whose bytes are unchanged (cache.go).
	Cache *Cache
	// Admission, if set, bounds the requests in flight, fairly between
	// organisations (admission.go).
	Admission *Admission

	// MaxURIBytes caps the request line's target (path and query): longer
	// is 414 (default 8 KiB). MaxHeaderBytes caps the header fields, names
	// and values together: more is 431 (default 32 KiB). Both are answered
	// with an OperationOutcome and audited; the http.Server's own
	// MaxHeaderBytes should sit above their sum (see HardHeaderLimit).
	MaxURIBytes    int
	MaxHeaderBytes int
	// WriteTimeout is how long a response may take, from the moment its
	// route is known (default 60 s: above a GP fetch's timeout);
	// ExportWriteTimeout is the streaming AuditEvent $export's (default 30 min).
	WriteTimeout       time.Duration
	ExportWriteTimeout time.Duration

	// Observer, if set, is told of every request as it starts and as it
	// is answered (the node's metrics, wired in cmd/internal/app).
	Observer RequestObserver
}

// RequestObserver watches requests. It is given content-free values only:
// the method (a standard method or OTHER), the route template (never the
// path or query, which may hold NHS numbers; "" when no route matched), the
// status and the refusing rule ("" when none refused).
type RequestObserver interface {
	RequestStarted()
	RequestFinished(method, route string, status int, rule string, took time.Duration)
}

// Defaults of the request caps and write timeouts.
const (
	DefaultMaxURIBytes        = 8 << 10
	DefaultMaxHeaderBytes     = 32 << 10
	DefaultWriteTimeout       = 60 * time.Second
	DefaultExportWriteTimeout = 30 * time.Minute
)

// HardHeaderLimit is the http.Server MaxHeaderBytes for a Server with these
// caps: room for a request line and headers at their caps, so that the
// gateway (not net/http's bare 431) answers anything up to twice that.
func HardHeaderLimit(maxURI, maxHeader int) int {
	if maxURI <= 0 {
		maxURI = DefaultMaxURIBytes
	}
	if maxHeader <= 0 {
		maxHeader = DefaultMaxHeaderBytes
	}
	return 2 * (maxURI + maxHeader)
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Handler returns the HTTP handler serving /fhir and /admin.
func (s *Server) Handler() http.Handler {
	if s.DefaultCount <= 0 {
		s.DefaultCount = 50
	}
	if s.MaxCount <= 0 {
		s.MaxCount = 500
	}
	if s.MaxBodyBytes <= 0 {
		s.MaxBodyBytes = 64 << 10
	}
	if s.Episode <= 0 {
		s.Episode = 8 * time.Hour
	}
	if s.ViewContext == nil {
		s.ViewContext = record.DefaultViewContext
	}
	if s.MaxURIBytes <= 0 {
		s.MaxURIBytes = DefaultMaxURIBytes
	}
	if s.MaxHeaderBytes <= 0 {
		s.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if s.WriteTimeout <= 0 {
		s.WriteTimeout = DefaultWriteTimeout
	}
	if s.ExportWriteTimeout <= 0 {
		s.ExportWriteTimeout = DefaultExportWriteTimeout
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.echoError
	// The audit trail records the peer's address: X-Forwarded-For and
	// X-Real-IP are whatever a client wrote (a spoofed address, or free
	// text), and would otherwise reach AuditEvents unvetted. Behind a
	// reverse proxy, X-Forwarded-For is believed only from the configured
	// proxies (and echo keeps only well-formed addresses from it).
	e.IPExtractor = echo.ExtractIPDirect()
	if len(s.TrustedProxies) > 0 {
		opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, n := range s.TrustedProxies {
			opts = append(opts, echo.TrustIPRange(n))
		}
		e.IPExtractor = echo.ExtractIPFromXFFHeader(opts...)
	}
	e.Use(s.requestID, s.logRequests, s.recoverPanics, s.limitRequest, s.refuseOptions, s.negotiate)
	s.routes(e)
	return e
}

// ctxKey holds per-request values in echo's context.
const (
	keyRequestID = "mig.requestID"
	keyRule      = "mig.rule"
)

// requestID takes a safe client-supplied X-Request-ID or Ssp-TraceID, or
// makes one, and echoes it back.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := safeID(c.Request().Header.Get("X-Request-ID"))
		if id == "" {
			id = safeID(c.Request().Header.Get("Ssp-TraceID"))
		}
		if id == "" {
			var b [16]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Set(keyRequestID, id)
		c.Response().Header().Set("X-Request-ID", id)
		return next(c)
	}
}

func safeID(s string) string {
	if len(s) == 0 || len(s) > 64 {
		return ""
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return ""
		}
	}
	return s
}

// limitRequest refuses a request line over MaxURIBytes (414) and header
// fields over MaxHeaderBytes (431), before anything reads them (no token
// is verified, no parameter parsed), and sets the route's write deadline.
// The refusal is audited like any other: the request is unauthenticated,
// so its event is combined with its source's others, and its query is
// kept only as a bounded prefix with its hash (audit.MaxQueryBytes).
func (s *Server) limitRequest(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		wt := s.WriteTimeout
		if strings.HasPrefix(c.Path(), "/fhir/AuditEvent/$export") {
			wt = s.ExportWriteTimeout
		}
		// A writer that cannot take deadlines (a test recorder) just has none.
		_ = http.NewResponseController(c.Response()).SetWriteDeadline(time.Now().Add(wt))
		var refusal *mig.Error
		if len(req.RequestURI) > s.MaxURIBytes {
			refusal = &mig.Error{Code: mig.EURITOOLONG, Issue: mig.IssueBadRequest,
				Message: "request line longer than " + strconv.Itoa(s.MaxURIBytes) + " bytes; send long searches as POST .../_search with a form body"}
		} else if n := headerBytes(req); n > s.MaxHeaderBytes {
			refusal = &mig.Error{Code: mig.EHEADERS, Issue: mig.IssueBadRequest,
				Message: "request header fields larger than " + strconv.Itoa(s.MaxHeaderBytes) + " bytes"}
		}
		if refusal == nil {
			return next(c)
		}
		r := &consent.Request{ID: c.Get(keyRequestID).(string), Time: s.now(), SourceIP: c.RealIP(), Query: req.URL.Path}
		if len(req.RequestURI) > s.MaxURIBytes {
			r.Query = req.RequestURI // kept as a bounded prefix and its SHA-256
		}
		c.Set("mig.request", r)
		c.Response().Header().Set("Connection", "close")
		return s.refuse(c, r, "request", refusal)
	}
}

// recoverPanics turns a panic in a handler into a 500 OperationOutcome that
// is audited like any refusal, so the request is still recorded (rule 3),
// the process keeps serving and the client gets a clear answer (rule 5). A
// panic before the audit write means nothing was released; one after the
// response was committed is only logged. The panic value and stack are
// never logged: they may hold record content.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			id, _ := c.Get(keyRequestID).(string)
			s.Log.Error().Str("request_id", id).Bool("committed", c.Response().Committed).Msg("handler panicked: answered 500 and audited")
			if c.Response().Committed {
				err = nil
				return
			}
			err = s.refuse(c, s.newRequest(c, "", ""), "internal",
				&mig.Error{Code: mig.EINTERNAL, Message: "internal error: the request was recorded; please report its X-Request-ID"})
		}()
		return next(c)
	}
}

// headerBytes is the size of req's header fields as sent: names, values
// and the ": " and CRLF of each line.
func headerBytes(req *http.Request) int {
	n := len(req.Host) + len("Host: \r\n")
	for k, vs := range req.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// logRequests writes one JSON log line per request: id, method, route
// template (never the path or query, which may hold NHS numbers), status,
// duration and the refusing rule. Never names, NHS numbers or content.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if s.Observer != nil {
			s.Observer.RequestStarted()
			defer func() { // also when a handler's http.ErrAbortHandler unwinds
				rule, _ := c.Get(keyRule).(string)
				s.Observer.RequestFinished(logMethod(c.Request().Method), c.Path(), c.Response().Status, rule, time.Since(start))
			}()
		}
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		ev := s.Log.Info()
		status := c.Response().Status
		if status >= 500 {
			ev = s.Log.Error()
		} else if status >= 400 {
			ev = s.Log.Warn()
		}
		ev = ev.Str("request_id", c.Get(keyRequestID).(string)).
			Str("method", logMethod(c.Request().Method)).
			Str("route", c.Path()).
			Int("status", status).
			Dur("duration", time.Since(start))
		if rule, ok := c.Get(keyRule).(string); ok && rule != "" {
			ev = ev.Str("rule", rule)
		}
		ev.Msg("request")
		return nil
	}
}

// negotiate refuses XML and other formats with 406: MIG serves JSON only.
func (s *Server) negotiate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if f := c.QueryParam("_format"); f != "" {
			switch strings.ToLower(f) {
			case "json", "application/json", "application/fhir+json":
			default:
				return s.notAcceptable(c, "_format "+fmtName(f)+" is not supported: this server returns FHIR JSON only (_format=json)")
			}
		} else if a := c.Request().Header.Get("Accept"); a != "" && !acceptsJSON(a) {
			return s.notAcceptable(c, "Accept does not allow JSON: this server returns application/fhir+json only")
		}
		return next(c)
	}
}

// logMethod returns the request method when it is a standard HTTP method,
// else "OTHER": a method is any token the client chose, and could carry an
// NHS number or free text into the log.
func logMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

func fmtName(f string) string {
	if strings.Contains(strings.ToLower(f), "xml") {
		return "xml"
	}
	return "requested"
}

func acceptsJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, _ := strings.Cut(part, ";")
		if refusedByQ(params) {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case "*/*", "application/*", "application/json", "application/fhir+json", "application/json+fhir", "application/x-ndjson", "application/fhir+ndjson", "text/html":
			return true
		}
	}
	return false
}

// refusedByQ reports whether media-type parameters carry q=0 ("not
// acceptable", RFC 9110 section 12.4.2).
func refusedByQ(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && q <= 0 {
				return true
			}
		}
	}
	return false
}

func (s *Server) notAcceptable(c echo.Context, msg string) error {
	r := s.newRequest(c, "", "")
	return s.refuse(c, r, "request", &mig.Error{Code: mig.ENOTACCEPTABLE, Issue: mig.IssueNotImplemented, Message: msg})
}

// echoError turns echo's own errors (unknown route, wrong method, bad body)
// into OperationOutcomes.
func (s *Server) echoError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var me *mig.Error
	if he, ok := err.(*echo.HTTPError); ok {
		switch he.Code {
		case http.StatusNotFound:
			me = &mig.Error{Code: mig.ENOTFOUND, Issue: "UNKNOWN_RESOURCE", Message: "no such endpoint; see GET /fhir/metadata"}
		case http.StatusMethodNotAllowed:
			me = &mig.Error{Code: mig.ENOTALLOWED, Issue: mig.IssueNotImplemented, Message: "method not allowed on this endpoint"}
		case http.StatusRequestEntityTooLarge:
			me = &mig.Error{Code: mig.ETOOLARGE, Message: "request body too large"}
		case http.StatusUnsupportedMediaType:
			me = &mig.Error{Code: mig.EUNSUPPORTED, Issue: mig.IssueBadRequest, Message: "unsupported request content type"}
		default:
			me = &mig.Error{Code: mig.EINVALID, Issue: mig.IssueBadRequest, Message: http.StatusText(he.Code)}
		}
		if _, started := c.Get("mig.request").(*consent.Request); !started {
			// The router refused it (no such endpoint, a method it does not
			// take): no handler ran, so audit it here like any refusal.
			s.refuse(c, s.newRequest(c, "", ""), "request", me)
			return
		}
		s.writeError(c, me)
		return
	}
	s.writeError(c, err)
}

// writeError writes err as an OperationOutcome with its HTTP status.
func (s *Server) writeError(c echo.Context, err error) error {
	code := mig.ErrorCode(err)
	status := HTTPStatus(err)
	issue := mig.ErrorIssue(err)
	if issue == "" {
		issue = defaultIssue(code)
	}
	if status == http.StatusUnauthorized {
		v := `Bearer realm="mig"`
		if s.WWWAuthHeader != nil {
			v = s.WWWAuthHeader(err)
		}
		c.Response().Header().Set("WWW-Authenticate", v)
	}
	body := fhir.OperationOutcome("error", issueTypeOf[code], issue, mig.ErrorMessage(err))
	return c.Blob(status, contentType, body)
}

const contentType = "application/fhir+json; charset=utf-8"

// newRequest starts the chain's view of one request.
func (s *Server) newRequest(c echo.Context, op consent.Operation, typ string) *consent.Request {
	if r, ok := c.Get("mig.request").(*consent.Request); ok {
		if op != "" {
			r.Operation = op
		}
		if typ != "" {
			r.Type = typ
		}
		return r
	}
	req := c.Request()
	r := &consent.Request{
		ID:        c.Get(keyRequestID).(string),
		Time:      s.now(),
		SourceIP:  c.RealIP(),
		UserAgent: req.UserAgent(),
		Operation: op,
		Type:      typ,
		Query:     canonicalQuery(c),
	}
	r.Principal, _ = c.Get(keyPrincipal).(*consent.Principal)
	c.Set("mig.request", r)
	return r
}

// auditContext is the context an audit write runs on: the request's
// values without its cancellation, so a client that hangs up cannot stop
// the record of what it asked (the recorder bounds the write itself).
func auditContext(c echo.Context) context.Context {
	return context.WithoutCancel(c.Request().Context())
}

// refuse records a refusal or error (audit) and answers it. If the audit
// record cannot be written the answer is 503, never the refusal's data.
func (s *Server) refuse(c echo.Context, r *consent.Request, rule string, err error) error {
	err = gpSystemFault(rule, withIssue(err))
	if r.Decision.Verdict != consent.Reject || r.Decision.Err == nil {
		r.Decision = consent.Decision{Verdict: consent.Reject, Rule: rule, Err: err}
	} else {
		r.Decision.Err = withIssue(r.Decision.Err)
		err = r.Decision.Err
		rule = r.Decision.Rule
	}
	c.Set(keyRule, rule)
	if cerr := s.Chain.Complete(auditContext(c), r); cerr != nil {
		s.logAuditFailure(r, cerr, "audit record not written")
		return s.writeError(c, auditUnavailable(cerr))
	}
	return s.writeError(c, err)
}

// withIssue gives an error the GP Connect style issue code its reply will
// carry, so that the AuditEvent and the client's OperationOutcome say the
// same thing.
func withIssue(err error) error {
	var me *mig.Error
	if !errors.As(err, &me) {
		return &mig.Error{Code: mig.EINTERNAL, Issue: defaultIssue(mig.EINTERNAL), Message: "internal error", Err: err}
	}
	if me.Issue != "" {
		return err
	}
	cp := *me
	cp.Issue = defaultIssue(me.Code)
	return &cp
}

// gpSystemFault turns a size limit the GP system's extract ran into (rule
// gp-system: ETOOLARGE) into 503 GP_SYSTEM_UNAVAILABLE. 413 would tell the
// client its request was too large; the client asked for nothing wrong,
// the GP system sent more than this gateway accepts, exactly as when it
// sends nothing (README, "Errors").
func gpSystemFault(rule string, err error) error {
	var me *mig.Error
	if rule != "gp-system" || !errors.As(err, &me) || me.Code != mig.ETOOLARGE {
		return err
	}
	cp := *me
	cp.Code, cp.Issue = mig.EUNAVAILABLE, mig.IssueGPSystemUnavailable
	return &cp
}

// logAuditFailure logs a failed audit write, except a refusal under the
// data directory's hard free-space floor: that crossing was logged once,
// and a line per refused request would spend the space it protects (the
// request's own log line still says 503).
func (s *Server) logAuditFailure(r *consent.Request, err error, msg string) {
	if errors.Is(err, audit.ErrSpaceFloor) {
		return
	}
	s.Log.Error().Str("request_id", r.ID).Str("error_code", mig.ErrorCode(err)).Msg(msg)
}

func auditUnavailable(err error) error {
	return &mig.Error{Code: mig.EUNAVAILABLE, Issue: mig.IssueAuditUnavailable,
		Message: "the audit trail cannot be written, so no data is released; try again later", Err: err}
}

// commit checks that the chain authorised the request and durably stores
// its AuditEvent. Once it returns nil, data may leave; otherwise the
// refusal or 503 has been answered and errRefused comes back.
func (s *Server) commit(c echo.Context, r *consent.Request) error {
	if r.Decision.Verdict != consent.Authorized {
		return s.refuseOnce(c, r, "deny-by-default", &mig.Error{Code: mig.EFORBIDDEN, Issue: mig.IssueAccessDenied, Message: "no rule authorised this request"})
	}
	if cerr := s.Chain.Complete(auditContext(c), r); cerr != nil {
		s.logAuditFailure(r, cerr, "audit record not written: data withheld")
		c.Set(keyRule, "audit")
		if err := s.writeError(c, auditUnavailable(cerr)); err != nil {
			return err
		}
		return errRefused
	}
	return nil
}

// release stores the request's AuditEvent and only then writes body. A
// request that the chain has not authorised never releases data.
func (s *Server) release(c echo.Context, r *consent.Request, status int, ctype string, body []byte) error {
	if err := s.commit(c, r); err != nil {
		return done(err)
	}
	if r.Emergency {
		c.Response().Header().Set("X-MIG-Emergency-Access", "BTG")
	}
	return c.Blob(status, ctype, body)
}
