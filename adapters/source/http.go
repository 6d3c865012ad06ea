package source

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"mig"
	"mig/adapters/record"
)

// Defaults for HTTPOptions fields left zero.
const (
	DefaultTimeout         = 5 * time.Second
	DefaultBackoff         = 100 * time.Millisecond
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 30 * time.Second
	DefaultMaxBytes        = 64 << 20
)

// TLSOptions configures TLS to a GP system: a private CA, a client
// certificate for mutual TLS, and the expected server name.
type TLSOptions struct {
	CAFile     string // PEM bundle of CAs trusted for the server; "" = system roots
	CertFile   string // PEM client certificate (mutual TLS); needs KeyFile
	KeyFile    string
	ServerName string // overrides the host name checked in the server certificate
}

// HTTPOptions configures an HTTP source.
type HTTPOptions struct {
	ODS             string        // the practice's ODS code
	Base            string        // base URL, e.g. https://gp.example/mig
	Timeout         time.Duration // per attempt, including reading the body; 0 = DefaultTimeout
	Retries         int           // extra attempts after a 5xx, connection error or timeout
	Backoff         time.Duration // wait before the first retry, doubled each time; 0 = DefaultBackoff
	BreakerFailures int           // consecutive failed calls that open the breaker; 0 = default, < 0 = no breaker
	BreakerCooldown time.Duration // how long the breaker stays open before one probe; 0 = default
	TLS             TLSOptions
	MaxBytes        int64        // response size limit; 0 = DefaultMaxBytes
	Client          *http.Client // replaces the client built from TLS (tests)
}

// HTTP is a practice whose GP system speaks MIG's HTTP source protocol:
//
//	GET  {base}/records/{nhs}          the extract (404: no record)
//	GET  {base}/patients               JSON array of NHS numbers
//	GET  {base}/patients/{nhs}         registration details, a patients.json entry
//	POST {base}/access-notifications   AuditEvent (application/fhir+json), header Idempotency-Key
//
// 5xx answers, connection errors and timeouts are retried with backoff a
// bounded number of times; a circuit breaker in the value fails fast while
// the system is down. Errors name the practice, never the patient.
type HTTP struct {
	ods     string
	base    string
	o       HTTPOptions
	client  *http.Client
	breaker *breaker
	sleep   func(ctx context.Context, d time.Duration) error
}

var _ Source = (*HTTP)(nil)

// NewHTTP checks the options, loads TLS material and returns the source.
func NewHTTP(o HTTPOptions) (*HTTP, error) {
	if o.ODS == "" {
		return nil, mig.Errorf(mig.EINVALID, "HTTP source: ODS code required")
	}
	u, err := url.Parse(o.Base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, mig.Errorf(mig.EINVALID, "HTTP source %s: base must be an http or https URL", o.ODS)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.BreakerFailures == 0 {
		o.BreakerFailures = DefaultBreakerFailures
	}
	if o.BreakerCooldown <= 0 {
		o.BreakerCooldown = DefaultBreakerCooldown
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	client := o.Client
	if client == nil {
		cfg, err := o.TLS.config()
		if err != nil {
			return nil, &mig.Error{Code: mig.EINVALID, Message: "HTTP source " + o.ODS + ": " + mig.ErrorMessage(err), Err: err}
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = cfg
		tr.MaxIdleConnsPerHost = 16
		client = &http.Client{Transport: tr}
	}
	return &HTTP{
		ods:     o.ODS,
		base:    strings.TrimRight(o.Base, "/"),
		o:       o,
		client:  client,
		breaker: &breaker{limit: o.BreakerFailures, cooldown: o.BreakerCooldown, now: time.Now},
		sleep:   sleepCtx,
	}, nil
}

func (t TLSOptions) config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, &mig.Error{Code: mig.EINVALID, Message: "cannot read CA file", Err: err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, mig.Errorf(mig.EINVALID, "CA file holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, mig.Errorf(mig.EINVALID, "client certificate and key must be given together")
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, &mig.Error{Code: mig.EINVALID, Message: "cannot load client certificate and key", Err: err}
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// ODS returns the practice's ODS code.
func (h *HTTP) ODS() string { return h.ods }

// BreakerState returns the state of the practice's circuit breaker.
func (h *HTTP) BreakerState() BreakerState { return h.breaker.State() }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *HTTP) unavailable(format string, args ...any) *mig.Error {
	return &mig.Error{Code: mig.EUNAVAILABLE, Issue: mig.IssueGPSystemUnavailable,
		Message: "GP system of practice " + h.ods + " " + fmt.Sprintf(format, args...)}
}

func (h *HTTP) timeout(err error) *mig.Error {
	return &mig.Error{Code: mig.ETIMEOUT, Issue: mig.IssueGPSystemUnavailable,
		Message: "GP system of practice " + h.ods + " did not answer within " + h.o.Timeout.String(), Err: err}
}

// response is an answered request: the caller reads Body and must call
// close, which also ends the attempt's timeout.
type response struct {
	*http.Response
	body  *limitedBody
	close func()
}

// do runs one call with retries, per-attempt timeouts and the breaker. Any
// answer below 500 ends it; the caller interprets the status.
func (h *HTTP) do(ctx context.Context, method, path string, body []byte, header http.Header) (*response, error) {
	ok, probe := h.breaker.allow()
	if !ok {
		return nil, h.unavailable("unavailable (circuit open after repeated failures)")
	}
	attempts := 1 + h.o.Retries
	if probe {
		attempts = 1
	}
	var last *mig.Error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			if err := h.sleep(ctx, h.o.Backoff<<(i-1)); err != nil {
				h.breaker.done(probe, false, false)
				return nil, ctxError(h.ods, err)
			}
		}
		actx, cancel := context.WithTimeout(ctx, h.o.Timeout)
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(actx, method, h.base+path, rd)
		if err != nil {
			cancel()
			h.breaker.done(probe, false, false)
			return nil, &mig.Error{Code: mig.EINTERNAL, Message: "HTTP source " + h.ods + ": cannot build request", Err: err}
		}
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := h.client.Do(req)
		switch {
		case err != nil && ctx.Err() != nil:
			cancel()
			h.breaker.done(probe, false, false)
			return nil, ctxError(h.ods, ctx.Err())
		case err != nil && actx.Err() != nil:
			cancel()
			last = h.timeout(err)
		case err != nil:
			cancel()
			e := h.unavailable("unreachable")
			e.Err = err
			last = e
		case resp.StatusCode >= 500:
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			cancel()
			last = h.unavailable("answered status %d", resp.StatusCode)
		default:
			h.breaker.done(probe, true, true)
			if resp.ContentLength > h.o.MaxBytes {
				resp.Body.Close()
				cancel()
				return nil, h.tooLarge()
			}
			lb := &limitedBody{h: h, ctx: actx, r: resp.Body, left: h.o.MaxBytes}
			return &response{Response: resp, body: lb, close: func() { resp.Body.Close(); cancel() }}, nil
		}
	}
	h.breaker.done(probe, false, true)
	return nil, last
}

func (h *HTTP) tooLarge() error {
	return &mig.Error{Code: mig.ETOOLARGE, Issue: mig.IssueGPSystemUnavailable,
		Message: fmt.Sprintf("GP system of practice %s sent a response over the %d byte limit", h.ods, h.o.MaxBytes)}
}

// limitedBody caps a response body at MaxBytes and turns read failures
// into gateway errors naming the practice.
type limitedBody struct {
	h    *HTTP
	ctx  context.Context
	r    io.Reader
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, b.h.tooLarge()
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n - 1, b.h.tooLarge()
	}
	if err != nil && err != io.EOF {
		if b.ctx.Err() == context.DeadlineExceeded {
			return n, b.h.timeout(err)
		}
		e := b.h.unavailable("broke off the response")
		e.Err = err
		return n, e
	}
	return n, err
}

// readCloser hands a response body to the caller of Fetch.
type readCloser struct {
	io.Reader
	close func()
}

func (r readCloser) Close() error { r.close(); return nil }

func (h *HTTP) statusError(resp *response, what string) error {
	if resp.StatusCode == http.StatusNotFound {
		return notFound(h.ods, what)
	}
	return h.unavailable("answered status %d", resp.StatusCode)
}

// Fetch GETs {base}/records/{nhs}.
func (h *HTTP) Fetch(ctx context.Context, nhs string) (io.ReadCloser, error) {
	if err := checkNHS(nhs); err != nil {
		return nil, err
	}
	resp, err := h.do(ctx, http.MethodGet, "/records/"+nhs, nil, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.close()
		return nil, h.statusError(resp, "record")
	}
	return readCloser{Reader: resp.body, close: resp.close}, nil
}

// Patients GETs {base}/patients and calls fn with each valid NHS number of
// the array as it is decoded.
func (h *HTTP) Patients(ctx context.Context, fn func(nhs string) error) error {
	resp, err := h.do(ctx, http.MethodGet, "/patients", nil, http.Header{"Accept": {"application/json"}})
	if err != nil {
		return err
	}
	defer resp.close()
	if resp.StatusCode != http.StatusOK {
		return h.unavailable("answered status %d to the patient list", resp.StatusCode)
	}
	dec := json.NewDecoder(resp.body)
	bad := func(err error) error {
		var me *mig.Error
		if errors.As(err, &me) {
			return err
		}
		e := h.unavailable("sent a patient list that is not a JSON array of NHS numbers")
		e.Err = err
		return e
	}
	if tok, err := dec.Token(); err != nil {
		return bad(err)
	} else if d, ok := tok.(json.Delim); !ok || d != '[' {
		return bad(nil)
	}
	for dec.More() {
		var nhs string
		if err := dec.Decode(&nhs); err != nil {
			return bad(err)
		}
		if !mig.ValidNHSNumber(nhs) {
			continue
		}
		if err := fn(nhs); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return bad(err)
	}
	return nil
}

// Demographics GETs {base}/patients/{nhs}.
func (h *HTTP) Demographics(ctx context.Context, nhs string) (*record.Patient, error) {
	if err := checkNHS(nhs); err != nil {
		return nil, err
	}
	resp, err := h.do(ctx, http.MethodGet, "/patients/"+nhs, nil, http.Header{"Accept": {"application/json"}})
	if err != nil {
		return nil, err
	}
	defer resp.close()
	if resp.StatusCode != http.StatusOK {
		return nil, h.statusError(resp, "registration")
	}
	var p PatientJSON
	if err := json.NewDecoder(resp.body).Decode(&p); err != nil {
		var me *mig.Error
		if errors.As(err, &me) {
			return nil, err
		}
		e := h.unavailable("sent registration details that are not valid JSON")
		e.Err = err
		return nil, e
	}
	if p.NHSNumber != nhs {
		return nil, &mig.Error{Code: mig.ECONFLICT, Issue: mig.IssueIdentityMismatch,
			Message: "practice " + h.ods + " registration details are not for the NHS number requested"}
	}
	out, err := p.Patient(h.ods)
	if err != nil {
		e := h.unavailable("sent bad registration details: %s", mig.ErrorMessage(err))
		e.Err = err
		return nil, e
	}
	return out, nil
}

// Notify POSTs the AuditEvent to {base}/access-notifications with header
// Idempotency-Key: n.ID; any 2xx acknowledges it.
func (h *HTTP) Notify(ctx context.Context, n Notification) error {
	if n.ID == "" {
		return mig.Errorf(mig.EINVALID, "access notification: id required")
	}
	resp, err := h.do(ctx, http.MethodPost, "/access-notifications", n.Body, http.Header{
		"Content-Type":    {"application/fhir+json"},
		"Idempotency-Key": {n.ID},
	})
	if err != nil {
		return err
	}
	defer resp.close()
	io.Copy(io.Discard, io.LimitReader(resp.body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return h.unavailable("answered status %d to an access notification", resp.StatusCode)
	}
	return nil
}
