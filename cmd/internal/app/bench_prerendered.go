//go:build migbench

// The gateway's benchmark build: compiled only with -tags migbench (make
// bench builds bin/migd-bench with it; make build, make run, CI and every
// released migd never do), and even then refused outside -dev. It adds what
// issue 14's side-by-side measurement needs and a serving gateway must not
// have:
//
//   - /bench/prerendered/fhir/Patient/{id}/{$everything|$mig-view}: the same
//     bytes the real route answered once, served again from memory behind
//     the same server (echo's middleware: request id, request log, limits),
//     the same token verification, the same consent chain (Start, patient
//     resolution, the agreement, CanSee on the record read once) and the same
//     durable audit (Complete fsyncs the AuditEvent before the answer), but no
//     live read, parse, map or encode: the limit the live pipeline is
//     compared against. It is a data-serving path that skips the mapping
//     rules on each request, which is why it exists only in this build.
//   - MIG_BENCH_TOOLCHAIN=usual: the usual toolchain behind the same seams
//     (encoding/xml under adapters/xmltok, jsonformat under fhir's writer).
//   - MIG_BENCH_CACHE=off: the live pipeline without the mapping cache.

package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"mig"
	"mig/adapters/record"
	"mig/adapters/xmltok"
	"mig/consent"
	"mig/consent/oidc"
	"mig/fhir"
	"mig/fhir/rest"
)

// Environment of a benchmark build (cmd/internal/benchload sets them).
const (
	BenchToolchainEnv = "MIG_BENCH_TOOLCHAIN" // "ours" (default) or "usual"
	BenchCacheEnv     = "MIG_BENCH_CACHE"     // "on" (default) or "off"
	benchPrefix       = "/bench/prerendered"
)

func init() {
	benchSetUp = setUpBench
	benchRoutes = prerenderedRoutes
}

// setUpBench refuses to run a benchmark build on anything but the embedded
// demo, and selects the toolchain and cache the benchmark asked for.
func setUpBench(m *Main) error {
	if !m.Dev {
		return errors.New("this migd is a benchmark build (-tags migbench): it runs only with -dev, never on a deployment's configuration")
	}
	toolchain := os.Getenv(BenchToolchainEnv)
	switch toolchain {
	case "", "ours":
		toolchain = "ours"
	case "usual":
		xmltok.UseEncodingXML()
		if err := useJSONFormat(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s must be ours or usual", BenchToolchainEnv)
	}
	cache := os.Getenv(BenchCacheEnv)
	if toolchain == "usual" && cache != "off" {
		// jsonformat writes to the protos it is given: never on shared ones.
		return fmt.Errorf("%s=usual runs only with %s=off", BenchToolchainEnv, BenchCacheEnv)
	}
	switch cache {
	case "", "on":
		cache = "on"
	case "off":
		if err := disableCache(m); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s must be on or off", BenchCacheEnv)
	}
	m.Log.Warn().Str("toolchain", toolchain).Str("cache", cache).
		Msg("benchmark build (-tags migbench): serves " + benchPrefix + ", a pre-rendered path for measurement only")
	return nil
}

// prerenderedRoutes registers the pre-rendered route on the REST server's
// echo instance, under its middleware.
func prerenderedRoutes(m *Main, srv *rest.Server, h http.Handler) (http.Handler, error) {
	e, ok := h.(*echo.Echo)
	if !ok {
		return nil, fmt.Errorf("benchmark build: the REST handler is a %T, not echo", h)
	}
	p := &prerendered{srv: srv, inner: e, pages: map[string]*page{}}
	e.GET(benchPrefix+"/fhir/Patient/:id/:op", p.serve)
	return e, nil
}

type prerendered struct {
	srv   *rest.Server
	inner http.Handler
	mu    sync.Mutex
	pages map[string]*page // by the real route's path and query
}

// page is one answer rendered once by the real route, and what its
// requests need again: the record CanSee reads, what the AuditEvent says
// was released.
type page struct {
	once     sync.Once
	err      error
	body     []byte
	rec      *record.Record
	released map[string]int
	withheld bool
}

func (p *prerendered) serve(c echo.Context) error {
	req := c.Request()
	target := strings.TrimPrefix(req.URL.RequestURI(), benchPrefix)
	ctx := req.Context()
	r := &consent.Request{
		ID:        c.Response().Header().Get("X-Request-ID"),
		Time:      time.Now().UTC(),
		SourceIP:  c.RealIP(),
		UserAgent: req.UserAgent(),
		Type:      "Patient",
		Query:     canonical(strings.TrimPrefix(req.URL.Path, benchPrefix), req.URL.Query()),
	}
	op, views, nhs, err := p.parse(target)
	if err != nil {
		return p.refuse(c, r, "request", err)
	}
	r.Operation, r.Views, r.NHSNumber = op, views, nhs
	raw, err := oidc.BearerTokenOf(req.Header.Values("Authorization"))
	if err == nil {
		r.Principal, err = p.srv.Verifier.Verify(ctx, raw)
	}
	if err != nil {
		return p.refuse(c, r, "authentication", &mig.Error{Code: mig.EUNAUTHORIZED, Message: "token not valid", Err: err})
	}
	if d := p.srv.Chain.Start(ctx, r); d.Verdict == consent.Reject {
		return p.refuse(c, r, d.Rule, d.Err)
	}
	practice, err := p.srv.Records.Locate(ctx, nhs)
	if err != nil {
		return p.refuse(c, r, "patient-resolution", err)
	}
	r.Practice = practice
	active, err := consent.RecipientAgreementsOf(ctx, p.srv.Agreements, r)
	if err != nil {
		return p.refuse(c, r, "patient-resolution", err)
	}
	visible := false
	for _, a := range active {
		for _, pr := range a.Providers {
			visible = visible || pr == practice
		}
	}
	if !visible {
		return p.refuse(c, r, "patient-resolution", mig.PatientNotFound())
	}
	pg := p.page(target)
	pg.once.Do(func() { pg.err = p.render(ctx, pg, target, practice, nhs, req.Header.Values("Authorization")) })
	if pg.err != nil {
		return p.refuse(c, r, "request", pg.err)
	}
	if d := p.srv.Chain.CanSee(ctx, r, pg.rec); d.Verdict != consent.Authorized {
		return p.refuse(c, r, d.Rule, d.Err)
	}
	r.Released, r.Withheld = pg.released, pg.withheld
	if err := p.srv.Chain.Complete(context.WithoutCancel(ctx), r); err != nil {
		return c.Blob(http.StatusServiceUnavailable, benchContentType, fhir.OperationOutcome("error", "transient", mig.IssueAuditUnavailable, "the audit trail cannot be written, so no data is released"))
	}
	if r.Emergency {
		c.Response().Header().Set("X-MIG-Emergency-Access", "BTG")
	}
	return c.Blob(http.StatusOK, benchContentType, pg.body)
}

// parse reads the operation, its views and the patient from a target.
func (p *prerendered) parse(target string) (consent.Operation, []record.View, string, error) {
	bad := &mig.Error{Code: mig.EINVALID, Issue: mig.IssueBadRequest, Message: "the pre-rendered route serves /fhir/Patient/{id}/$everything and $mig-view"}
	u, err := url.Parse(target)
	if err != nil {
		return "", nil, "", bad
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/fhir/Patient/"), "/")
	if len(parts) != 2 {
		return "", nil, "", bad
	}
	var op consent.Operation
	var views []record.View
	switch parts[1] {
	case "$everything":
		op = consent.OpEverything
	case "$mig-view":
		v, ok := record.ParseView(u.Query().Get("view"))
		if !ok {
			return "", nil, "", bad
		}
		op, views = consent.OpView, []record.View{v}
	default:
		return "", nil, "", bad
	}
	nhs, typ, err := p.srv.IDs.Decode(parts[0])
	if err != nil || typ != "Patient" {
		return "", nil, "", mig.PatientNotFound()
	}
	return op, views, nhs, nil
}

const benchContentType = "application/fhir+json; charset=utf-8"

func (p *prerendered) page(target string) *page {
	p.mu.Lock()
	defer p.mu.Unlock()
	pg := p.pages[target]
	if pg == nil {
		pg = &page{}
		p.pages[target] = pg
	}
	return pg
}

// render asks the real route once, with the caller's token, and reads the
// patient's record once for CanSee.
func (p *prerendered) render(ctx context.Context, pg *page, target, practice, nhs string, auth []string) error {
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	req.Header["Authorization"] = auth
	rec := httptest.NewRecorder()
	p.inner.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return &mig.Error{Code: mig.EUNAVAILABLE, Message: fmt.Sprintf("the real route answered %d", rec.Code)}
	}
	var err error
	if pg.rec, err = p.srv.Records.Read(ctx, practice, nhs); err != nil {
		return err
	}
	var b struct {
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
			} `json:"resource"`
			Search struct {
				Mode string `json:"mode"`
			} `json:"search"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		return &mig.Error{Code: mig.EINTERNAL, Message: "the real route's answer is not JSON"}
	}
	pg.released = map[string]int{}
	for _, e := range b.Entry {
		if e.Search.Mode == fhir.ModeMatch {
			pg.released[e.Resource.ResourceType]++
		}
	}
	pg.withheld = strings.Contains(rec.Body.String(), fhir.WithheldMessage)
	pg.body = rec.Body.Bytes()
	return nil
}

// refuse audits a refusal and answers it, as the real routes do.
func (p *prerendered) refuse(c echo.Context, r *consent.Request, rule string, err error) error {
	if rule == "" {
		rule = "request"
	}
	if err == nil {
		err = &mig.Error{Code: mig.EFORBIDDEN, Issue: mig.IssueAccessDenied, Message: "no rule authorised this request"}
	}
	r.Decision = consent.Decision{Verdict: consent.Reject, Rule: rule, Err: err}
	if cerr := p.srv.Chain.Complete(context.WithoutCancel(c.Request().Context()), r); cerr != nil {
		return c.Blob(http.StatusServiceUnavailable, benchContentType, fhir.OperationOutcome("error", "transient", mig.IssueAuditUnavailable, "the audit trail cannot be written"))
	}
	return c.Blob(rest.HTTPStatus(err), benchContentType, fhir.OperationOutcome("error", "forbidden", mig.ErrorIssue(err), mig.ErrorMessage(err)))
}

// canonical is the path and its parameters sorted, as the real routes
// record a query.
func canonical(path string, q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(path)
	sep := "?"
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			b.WriteString(sep + k + "=" + v)
			sep = "&"
		}
	}
	return b.String()
}

// useJSONFormat puts google/fhir/go's jsonformat under fhir's writer.
func useJSONFormat() error {
	fhir.UseJSONFormat()
	return nil
}

// disableCache turns the mapping cache off (cache.maxBytes 0: no cache).
func disableCache(m *Main) error {
	m.Config.Cache.MaxBytes = 0
	return nil
}
