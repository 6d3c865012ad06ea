package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"mig"
	"mig/adapters/source"
	"mig/audit"
	"mig/internal/metrics"
)

// Operability: /healthz, /readyz and /metrics.
//
// /healthz says the process is alive (it answers: that is all). /readyz
// says this node can serve: its gateway key is loaded, its stores are open
// and the audit chain matched its latest signed checkpoint, the identity
// provider's signing keys have been fetched once, and it is serving. Only
// those start-up conditions gate readiness. A database outage after start
// does not: every node shares the database, so a readiness that followed it
// would take every node out of the load balancer at once, and clients
// would get the balancer's bare 502/503 instead of the gateway's own 503
// AUDIT_UNAVAILABLE OperationOutcome (no data, a clear reason, and an
// audited refusal once the database is back). The database's state is
// reported in the body ("database": "unavailable") and in
// mig_store_up, for alerts. Once Close starts, /readyz answers 503
// "stopping", so the balancer drains the node before it goes.
//
// Both answer on the main listener (outside /fhir: not audited, not logged
// per probe) and on the ops listener, which also serves /metrics and starts
// first, so a node verifying a large audit chain at start already says
// "starting".

// Start-up checks, in the order they pass.
const (
	checkKey     = "gatewayKey"
	checkStores  = "stores"
	checkIdP     = "identityProviderKeys"
	checkServing = "serving"
)

var startChecks = []string{checkKey, checkStores, checkIdP, checkServing}

// readiness is one node's start-up checks, and how to probe its database.
type readiness struct {
	mu     sync.Mutex
	passed map[string]bool
	failed map[string]string // check -> content-free reason while it has not passed
	stop   bool

	// database, if set, probes the shared database (reported, not
	// gating); set once the stores are open, under mu.
	database func(ctx context.Context) error
	dbMu     sync.Mutex
	dbAt     time.Time
	dbErr    error
}

// setDatabase gives readiness the shared database's probe.
func (r *readiness) setDatabase(probe func(ctx context.Context) error) {
	r.mu.Lock()
	r.database = probe
	r.mu.Unlock()
}

// hasDatabase reports whether there is a shared database to probe.
func (r *readiness) hasDatabase() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.database != nil
}

func newReadiness() *readiness {
	return &readiness{passed: map[string]bool{}, failed: map[string]string{}}
}

// set marks a check passed (err nil) or not yet passed, with why.
func (r *readiness) set(check string, err error) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.passed[check] = true
		delete(r.failed, check)
		return
	}
	r.failed[check] = mig.ErrorMessage(err)
}

func (r *readiness) stopping() {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.stop = true
	r.mu.Unlock()
}

// ready reports whether every start-up check passed and the node is not
// stopping.
func (r *readiness) ready() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stop {
		return false
	}
	for _, c := range startChecks {
		if !r.passed[c] {
			return false
		}
	}
	return true
}

// databaseUp probes the database at most once a second (probes from a
// balancer and a scraper share one reading), with a one-second timeout.
func (r *readiness) databaseUp(ctx context.Context) error {
	r.dbMu.Lock()
	defer r.dbMu.Unlock()
	if time.Since(r.dbAt) < time.Second {
		return r.dbErr
	}
	r.mu.Lock()
	probe := r.database
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	r.dbErr = probe(ctx)
	r.dbAt = time.Now()
	return r.dbErr
}

// readyBody is /readyz's JSON answer.
type readyBody struct {
	Status   string            `json:"status"`             // ready, starting, stopping
	Checks   map[string]string `json:"checks"`             // each start-up check: ok, pending, or why not
	Database string            `json:"database,omitempty"` // ok or unavailable (PostgreSQL only; never gates)
}

func (r *readiness) body(ctx context.Context) (int, readyBody) {
	b := readyBody{Checks: map[string]string{}}
	r.mu.Lock()
	for _, c := range startChecks {
		switch {
		case r.passed[c]:
			b.Checks[c] = "ok"
		case r.failed[c] != "":
			b.Checks[c] = r.failed[c]
		default:
			b.Checks[c] = "pending"
		}
	}
	stop, db := r.stop, r.database != nil
	r.mu.Unlock()
	if db {
		b.Database = "ok"
		if r.databaseUp(ctx) != nil {
			b.Database = "unavailable"
		}
	}
	switch {
	case stop:
		b.Status = "stopping"
	case r.ready():
		b.Status = "ready"
	default:
		b.Status = "starting"
	}
	if b.Status != "ready" {
		return http.StatusServiceUnavailable, b
	}
	return http.StatusOK, b
}

// serveHealth answers /healthz and /readyz; it reports whether it did.
func (r *readiness) serveHealth(w http.ResponseWriter, req *http.Request) bool {
	switch req.URL.Path {
	case "/healthz", "/readyz":
	default:
		return false
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if req.URL.Path == "/healthz" {
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"status":"alive"}`+"\n")
		return true
	}
	status, b := r.body(req.Context())
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(b)
	return true
}

// wrap serves /healthz and /readyz before next (the FHIR server): probes
// are not FHIR interactions, hold no patient data, and are neither
// audited nor logged one by one.
func (r *readiness) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !r.serveHealth(w, req) {
			next.ServeHTTP(w, req)
		}
	})
}

// startOps makes the node's metrics and readiness, and starts the ops
// listener when opsAddr is set.
func (m *Main) startOps() error {
	b := ReadBuildInfo()
	m.metrics = metrics.New(metrics.Build{Version: b.Version, Revision: b.Revision, GoVersion: b.GoVersion})
	m.health = newReadiness()
	m.metrics.GaugeFunc("ready", "1 when /readyz answers ready: every start-up check passed and the node is not stopping.", func() float64 {
		if m.health.ready() {
			return 1
		}
		return 0
	})
	if m.Config.OpsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", m.Config.OpsAddr)
	if err != nil {
		return fmt.Errorf("ops listener on %s: %v (opsAddr, -ops-addr)", m.Config.OpsAddr, err)
	}
	m.OpsURL = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.metrics.Handler())
	m.ops = &http.Server{Handler: m.health.wrap(mux), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute}
	ops := m.ops
	go func() {
		if err := ops.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Log.Error().Err(err).Msg("ops listener stopped")
		}
	}()
	return nil
}

// fetchIdPKeys fetches the identity provider's signing keys (its JWKS,
// found through discovery) until it holds at least one, so that /readyz
// says ready only once tokens can be verified. It retries with backoff
// while the provider cannot be reached; the verifier keeps its own cache.
func (m *Main) fetchIdPKeys(ctx context.Context) {
	client := &http.Client{Timeout: 10 * time.Second}
	backoff := 100 * time.Millisecond
	for {
		err := idpKeys(ctx, client, m.Issuer)
		m.health.set(checkIdP, err)
		if err == nil {
			return
		}
		m.Log.Warn().Str("error", mig.ErrorMessage(err)).Msg("identity provider keys not fetched yet; not ready")
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
}

// idpKeys reads issuer's discovery document and its key set.
func idpKeys(ctx context.Context, client *http.Client, issuer string) error {
	get := func(u string, v any) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return mig.Errorf(mig.EUNAVAILABLE, "identity provider unreachable")
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return mig.Errorf(mig.EUNAVAILABLE, "identity provider answered HTTP %d", resp.StatusCode)
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
			return mig.Errorf(mig.EUNAVAILABLE, "identity provider sent an unreadable document")
		}
		return nil
	}
	var disc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := get(strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", &disc); err != nil {
		return err
	}
	if disc.JWKSURI == "" {
		return mig.Errorf(mig.EUNAVAILABLE, "identity provider announces no jwks_uri")
	}
	var set jose.JSONWebKeySet
	if err := get(disc.JWKSURI, &set); err != nil {
		return err
	}
	if len(set.Keys) == 0 {
		return mig.Errorf(mig.EUNAVAILABLE, "identity provider publishes no signing keys")
	}
	return nil
}

// observedAudit times the recorder's appends for the metrics.
type observedAudit struct {
	audit.Store
	m *metrics.Metrics
}

func (o observedAudit) Append(ctx context.Context, events ...*audit.Event) ([]*audit.Stored, error) {
	o.m.AppendStarted()
	start := time.Now()
	st, err := o.Store.Append(ctx, events...)
	o.m.AppendFinished(time.Since(start), err)
	return st, err
}

// observedSource times a practice's extract fetches for the metrics.
type observedSource struct {
	source.Source
	ods string
	m   *metrics.Metrics
}

func (o observedSource) Fetch(ctx context.Context, nhs string) (io.ReadCloser, error) {
	start := time.Now()
	rc, err := o.Source.Fetch(ctx, nhs)
	o.m.Fetch(o.ods, time.Since(start), err)
	return rc, err
}

// instrument wraps every practice's source for the metrics, and registers
// the HTTP sources' circuit-breaker states and the node's gauges read at
// scrape time. It runs once the stores and checkpointer are set.
func (m *Main) instrument() {
	ckpt, store := m.ckpt, m.audit
	breakers := map[string]*source.HTTP{}
	for ods, p := range m.practices {
		if h, ok := p.Source.(*source.HTTP); ok {
			breakers[ods] = h
		}
		p.Source = observedSource{Source: p.Source, ods: ods, m: m.metrics}
	}
	m.metrics.States("gp_breaker_state",
		"Circuit-breaker state of each HTTP practice's GP system on this node: 1 for the current state (closed, half-open, open).",
		"practice", []string{source.BreakerClosed.String(), source.BreakerHalfOpen.String(), source.BreakerOpen.String()},
		func() map[string]string {
			out := make(map[string]string, len(breakers))
			for ods, h := range breakers {
				out[ods] = h.BreakerState().String()
			}
			return out
		})
	m.metrics.GaugeFunc("data_dir_free_bytes", "Free bytes on the data directory's file system (the audit store's free-space floors apply to it on bbolt).", func() float64 {
		free, err := audit.FreeBytes(m.Config.DataDir)
		if err != nil {
			return -1
		}
		return float64(free)
	})
	m.metrics.GaugeFunc("audit_checkpoint_age_seconds", "Seconds since this node's last signed checkpoint of the audit chain (-1: none yet).", func() float64 {
		cp := ckpt.Last()
		if cp == nil {
			return -1
		}
		return time.Since(cp.Time).Seconds()
	})
	m.metrics.GaugeFunc("audit_checkpoint_lag_records", "Audit records appended since this node's last signed checkpoint (-1: head unreadable).", func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		seq, _, err := store.Head(ctx)
		if err != nil {
			return -1
		}
		var at uint64
		if cp := ckpt.Last(); cp != nil {
			at = cp.Seq
		}
		if seq < at {
			return 0
		}
		return float64(seq - at)
	})
	if m.health.hasDatabase() {
		m.metrics.GaugeFunc("store_up", "1 when the shared database answered its last probe (at most one a second), else 0.", func() float64 {
			if m.health.databaseUp(context.Background()) != nil {
				return 0
			}
			return 1
		})
	}
}
