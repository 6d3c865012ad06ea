package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/rs/zerolog"

	"mig"
	"mig/adapters"
	"mig/adapters/locator"
	"mig/adapters/record"
	"mig/adapters/source"
	"mig/adapters/source/gpsim"
	"mig/audit"
	"mig/consent"
	"mig/consent/devidp"
	"mig/consent/oidc"
	"mig/fhir"
	"mig/fhir/rest"
	"mig/internal/metrics"
)

// Version is the gateway's version, set at build time with -ldflags.
var Version = "0.1.0-dev"

// Main is a runnable gateway: what cmd/migd runs, and what end-to-end tests
// start on 127.0.0.1:0 with a temporary data directory.
type Main struct {
	Config Config
	Log    zerolog.Logger

	// Dev runs the embedded demo: a loopback identity provider, the
	// synthetic practices in Testdata, a demo agreement.
	Dev         bool
	Testdata    string // folder holding A99901..A99903 (default "testdata")
	DevIdPAddr  string // identity provider listen address (default: the gateway port + 1)
	DevGPSimURL string // an external gpsim serving A99902; "" starts one in-process

	// Now, if set, is the clock requests are judged by (tests move it
	// across midnight); nil: time.Now.
	Now func() time.Time

	// Set by Run.
	URL      string // http://host:port of the gateway
	Issuer   string // the OIDC issuer tokens must come from
	IdP      *devidp.Provider
	GPSimURL string

	OpsURL string // http://host:port of the ops listener ("" without opsAddr)

	server     *http.Server
	ops        *http.Server
	gpsim      *http.Server
	stores     *stores
	audit      auditStore
	ckpt       *audit.Checkpointer
	recorder   *audit.Recorder
	consents   consentStores
	index      locatorIndex
	practices  map[string]*source.Practice
	metrics    *metrics.Metrics
	health     *readiness
	agreements consent.AgreementStore
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	cache      *rest.Cache     // parsed and mapped extracts (limits.go)
	admission  *rest.Admission // requests in flight (limits.go)
}

// NewMain returns a Main with the default configuration and a JSON logger
// on stderr.
func NewMain() *Main {
	return &Main{Config: DefaultConfig(), Log: zerolog.New(os.Stderr).With().Timestamp().Logger(), Testdata: "testdata"}
}

// benchSetUp and benchRoutes are set only in the benchmark build (-tags
// migbench: bench_prerendered.go, make bench); nil in every other build.
var (
	benchSetUp  func(m *Main) error
	benchRoutes func(m *Main, srv *rest.Server, h http.Handler) (http.Handler, error)
)

// Run starts the gateway and returns once it is serving.
func (m *Main) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	ctx, m.cancel = context.WithCancel(context.Background())
	cfg := &m.Config
	if benchSetUp != nil { // benchmark builds only (-tags migbench): refused without -dev
		if err := benchSetUp(m); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %v", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %v", cfg.Addr, err)
	}
	m.URL = "http://" + ln.Addr().String()
	public := strings.TrimSuffix(cfg.PublicURL, "/")
	if public == "" {
		public = m.URL
	}

	if m.Dev {
		if err := m.setUpDev(ctx, ln.Addr().(*net.TCPAddr)); err != nil {
			ln.Close()
			return err
		}
	}
	if err := cfg.Validate(); err != nil {
		ln.Close()
		return err
	}
	m.applyRuntime() // GOMEMLIMIT and GOGC, unless the environment sets them

	// The ops listener answers /healthz and /readyz ("starting") from now
	// on, while the audit chain is verified.
	if err := m.startOps(); err != nil {
		ln.Close()
		return err
	}

	key, err := m.gatewayKey()
	if err != nil {
		ln.Close()
		return err
	}
	ids, err := fhir.NewIDs(key[:32])
	if err != nil {
		ln.Close()
		return err
	}
	m.health.set(checkKey, nil)

	// Stores: bbolt files in the data directory, or PostgreSQL.
	if m.stores, err = m.openStores(ctx); err != nil {
		ln.Close()
		return err
	}
	m.audit, m.consents, m.index = m.stores.audit, m.stores.consents, m.stores.index
	if m.stores.pool != nil {
		m.health.setDatabase(pingDatabase(m.stores.pool)) // reported by /readyz and mig_store_up, never gating
	}
	if err := m.startCheckpoints(ctx); err != nil { // signed checkpoints: refuse a cut or rewritten chain
		ln.Close()
		return err
	}
	m.health.set(checkStores, nil)
	m.agreements = m.consents.Agreements()
	if m.Dev {
		if err := m.seedDev(ctx); err != nil {
			ln.Close()
			return err
		}
	}

	// Practices and their live sources.
	if m.practices, err = buildPractices(cfg); err != nil {
		ln.Close()
		return err
	}
	m.instrument()
	sources := map[string]source.Source{}
	for ods, p := range m.practices {
		sources[ods] = p.Source
	}
	loc := locator.New(m.index, sources, locator.Options{
		Refresh:             time.Duration(cfg.Locator.Refresh),
		MissRefreshInterval: time.Duration(cfg.Locator.MissRefreshInterval),
		Lease:               m.stores.lease, // several nodes: one refreshes at a time
		Holder:              cfg.nodeName(),
		OnRefresh: func(practice string, n int, took time.Duration, err error) {
			m.metrics.Refreshed(practice, n, took, err)
			ev := m.Log.Info()
			if err != nil {
				ev = m.Log.Warn().Str("error_code", mig.ErrorCode(err))
			}
			ev.Str("practice", practice).Int("patients", n).Dur("took", took).Msg("patient index refreshed")
		},
	})
	pipe, err := ParsePipeline(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	if pipe.NoDisplays {
		m.Log.Warn().Msg("terms: strict mode and no terminology with displays loaded (terminology.snomed, rubrics or dmd): codes are shown without terms")
	}
	reader := &adapters.Reader{
		Practices:    m.practices,
		Locator:      loc,
		FetchTimeout: time.Duration(cfg.FetchTimeout),
		Translator:   pipe.Translator,
		Options: record.ParseOptions{
			Classifier: pipe.Classifier,
			Now:        m.Now,
		},
	}
	reader.Options.Limits.MaxBytes = cfg.Limits.MaxBytes
	reader.Options.Limits.MaxDepth = cfg.Limits.MaxDepth
	reader.Options.Limits.MaxElements = cfg.Limits.MaxElements
	if cfg.Demographics.Source == "pds" {
		reader.Demographics = source.NewPDS(cfg.Demographics.PDSBase, nil)
	}

	// Identity.
	verifier, err := oidc.NewVerifier(ctx, oidc.Config{IssuerURL: cfg.Auth.Issuer, Audience: cfg.Auth.Audience})
	if err != nil {
		ln.Close()
		return fmt.Errorf("identity provider: %v", err)
	}
	m.Issuer = verifier.Issuer()
	m.goRun(func() { m.fetchIdPKeys(ctx) }) // readiness: the provider's signing keys, once

	// The chain: access rules, then the audit recorder, last, so every
	// decision is recorded and a failed write fails the request.
	// LaunchScope comes first: under a launch, no rule can authorise
	// another patient.
	m.recorder = m.newRecorder(observedAudit{m.audit, m.metrics})
	chain := append(append(consent.Chain{consent.LaunchScope{}}, consent.NewChain(cfg.Access, m.agreements, m.consents.ViewConsents())...),
		m.recorder)
	launchClients, err := m.launchClients()
	if err != nil {
		ln.Close()
		return err
	}

	exportDir := filepath.Join(cfg.DataDir, "exports")
	if err := os.MkdirAll(exportDir, 0o700); err != nil {
		ln.Close()
		return err
	}
	var files audit.ExportFiles = audit.ExportDir(exportDir)
	if f, ok := any(m.audit).(audit.ExportFiles); ok {
		files = f // kept in the database (audit/pg): any node serves any job
	}
	jobs := audit.NewExportJobs(m.audit, m.audit, files)

	srv := &rest.Server{
		Verifier:      verifier,
		Chain:         chain,
		Records:       reader,
		Mapper:        &fhir.Mapper{IDs: ids, Base: public + "/fhir", Now: m.clock, Terms: pipe.Terms},
		IDs:           ids,
		Agreements:    m.agreements,
		ViewConsents:  m.consents.ViewConsents(),
		Audit:         m.audit,
		Exports:       exporter{jobs},
		Log:           m.Log,
		Base:          public + "/fhir",
		Episode:       cfg.Access.EpisodeLength(),
		AuditorWide:   cfg.AuditorWideOrgs,
		PageKey:       key[32:],
		Version:       Version,
		Issuer:        verifier.Issuer(),
		WWWAuthHeader: oidc.WWWAuthenticate,
		ViewContext: func(now time.Time) record.ViewContext {
			vc := record.DefaultViewContext(now)
			if cfg.Views.RecentTestsDays > 0 {
				vc.RecentTests = time.Duration(cfg.Views.RecentTestsDays) * 24 * time.Hour
			}
			if cfg.Views.RecentAcuteDays > 0 {
				vc.RecentAcute = time.Duration(cfg.Views.RecentAcuteDays) * 24 * time.Hour
			}
			return vc
		},
	}
	srv.Launch = &rest.LaunchAPI{Store: m.consents.Launches(), Clients: launchClients,
		Audience: public + "/smart/launch", TTL: time.Duration(cfg.Launch.TTL)}
	for _, p := range cfg.TrustedProxies {
		_, n, _ := net.ParseCIDR(p) // checked by Validate
		srv.TrustedProxies = append(srv.TrustedProxies, n)
	}
	m.limitServer(srv)
	if srv.AccessReport, err = m.accessReportOptions(ctx); err != nil {
		ln.Close()
		return err
	}
	srv.Observer = m.metrics
	m.instrumentLimits()
	if m.IdP != nil {
		srv.TokenURL = m.IdP.Issuer() + "/token"
		srv.AuthorizeURL = m.IdP.Issuer() + "/authorize"
	}

	// Background work: index refresh, GP notifications, export jobs.
	deliverer := audit.NewDeliverer(m.audit, m.notify, audit.DelivererOptions{
		Max: time.Duration(cfg.Notifications.MaxBackoff),
		OnError: func(practice string, attempts int, err error) {
			m.Log.Warn().Str("practice", practice).Int("attempts", attempts).Str("error_code", mig.ErrorCode(err)).Msg("access notification not delivered; will retry")
		},
	})
	m.goRun(func() { loc.Run(ctx) })
	m.goRun(func() { deliverer.Run(ctx) })
	m.goRun(func() { jobs.Work(ctx, time.Second) })
	m.goRun(func() { m.ckpt.Run(ctx) })
	m.goRun(func() { m.recorder.Run(ctx) }) // combined refusal events; the last flush at Close
	m.goRun(func() { m.cache.Run(ctx) })    // drops cached extracts at their TTL

	handler := srv.Handler()
	if benchRoutes != nil { // benchmark builds only (-tags migbench)
		if handler, err = benchRoutes(m, srv, handler); err != nil {
			ln.Close()
			return err
		}
	}
	m.server = m.httpServer(m.health.wrap(handler))
	m.goRun(func() {
		if err := m.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Log.Error().Err(err).Msg("server stopped")
		}
	})
	m.health.set(checkServing, nil)
	m.Log.Info().Str("url", m.URL).Str("ops_url", m.OpsURL).Str("issuer", m.Issuer).Int("practices", len(m.practices)).Bool("dev", m.Dev).
		Str("node", m.Config.nodeName()).Str("store", m.stores.describe).Msg("gateway serving")
	return nil
}

func (m *Main) goRun(fn func()) {
	m.wg.Add(1)
	go func() { defer m.wg.Done(); fn() }()
}

// notify tells a practice's GP system of one access.
func (m *Main) notify(ctx context.Context, practice string, n source.Notification) error {
	p, ok := m.practices[practice]
	if !ok {
		return mig.Errorf(mig.ENOTFOUND, "practice %s is no longer configured", practice)
	}
	err := p.Source.Notify(ctx, n)
	m.metrics.Notified(practice, err)
	return err
}

// Close stops serving and closes every store.
func (m *Main) Close() error {
	m.health.stopping() // the load balancer drains this node first
	if m.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m.server.Shutdown(ctx)
		cancel()
	}
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	m.finalCheckpoint() // after every appender has stopped, before the store closes
	if m.gpsim != nil {
		m.gpsim.Close()
	}
	if m.IdP != nil {
		m.IdP.Close()
	}
	if m.ops != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		m.ops.Shutdown(ctx)
		cancel()
	}
	if m.stores != nil {
		return m.stores.close()
	}
	return nil
}

// buildPractices makes each configured practice's live source.
func buildPractices(cfg *Config) (map[string]*source.Practice, error) {
	out := map[string]*source.Practice{}
	for _, pc := range cfg.Practices {
		var src source.Source
		var err error
		switch {
		case pc.Dir != nil:
			accessLog := pc.Dir.AccessLog
			if accessLog == "" {
				accessLog = filepath.Join(cfg.DataDir, "access-"+pc.ODS+".ndjson")
			}
			src, err = source.NewDir(source.DirOptions{ODS: pc.ODS, Path: pc.Dir.Path, AccessLog: accessLog})
		case pc.HTTP != nil:
			h := pc.HTTP
			maxBytes := h.MaxBytes
			if maxBytes == 0 {
				maxBytes = cfg.Limits.MaxBytes
			}
			src, err = source.NewHTTP(source.HTTPOptions{
				ODS: pc.ODS, Base: h.Base, Timeout: time.Duration(h.Timeout), Retries: h.Retries,
				Backoff: time.Duration(h.Backoff), BreakerFailures: h.BreakerFailures,
				BreakerCooldown: time.Duration(h.BreakerCooldown), MaxBytes: maxBytes,
				TLS: source.TLSOptions{CAFile: h.TLS.CAFile, CertFile: h.TLS.CertFile, KeyFile: h.TLS.KeyFile, ServerName: h.TLS.ServerName},
			})
		}
		if err != nil {
			return nil, fmt.Errorf("practice %s: %v", pc.ODS, err)
		}
		out[pc.ODS] = &source.Practice{ODS: pc.ODS, Name: pc.Name, Format: pc.Format, Source: src}
	}
	return out, nil
}

func classifier(cfg *Config) *record.Classifier {
	if len(cfg.Risks) == 0 {
		return &record.Classifier{}
	}
	set := record.CodeSet{}
	for _, c := range cfg.Risks {
		set[record.CodeKey(c.System, c.Code)] = true
	}
	return &record.Classifier{Risks: set}
}

// exporter adapts audit.ExportJobs to the REST layer.
type exporter struct{ jobs *audit.ExportJobs }

func (x exporter) Kickoff(ctx context.Context, since time.Time, after uint64) (string, error) {
	j, err := x.jobs.Kickoff(ctx, since, after)
	if err != nil {
		return "", err
	}
	return j.ID, nil
}

func (x exporter) Status(ctx context.Context, id string) (*rest.ExportStatus, error) {
	j, err := x.jobs.Status(ctx, id)
	if err != nil {
		return nil, err
	}
	st := &rest.ExportStatus{Count: j.Count, Started: j.Created, Done: j.Status == audit.JobComplete}
	if j.Status == audit.JobFailed {
		st.Error = j.Error
		if st.Error == "" {
			st.Error = "export failed"
		}
	}
	return st, nil
}

func (x exporter) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	return x.jobs.Open(ctx, id)
}

// setUpDev starts what the embedded demo needs before validation: the
// loopback identity provider and (unless an external one is given) a
// GP-system simulator serving the EMIS practice over HTTP.
func (m *Main) setUpDev(ctx context.Context, addr *net.TCPAddr) error {
	cfg := &m.Config
	idpAddr := m.DevIdPAddr
	if idpAddr == "" {
		idpAddr = "127.0.0.1:0"
		if addr.Port != 0 && cfg.Addr != "" && !strings.HasSuffix(cfg.Addr, ":0") {
			idpAddr = fmt.Sprintf("127.0.0.1:%d", addr.Port+1)
		}
	}
	idp, err := devidp.Start(ctx, devidp.Options{Addr: idpAddr, Audience: cfg.Auth.Audience,
		KeyFile: filepath.Join(cfg.DataDir, "devidp.key")})
	if err != nil {
		return fmt.Errorf("development identity provider on %s: %v (choose another address with -dev-idp-addr)", idpAddr, err)
	}
	m.IdP = idp
	cfg.Auth.Issuer = idp.Issuer()
	if len(cfg.Access.AdminUsers) == 0 {
		cfg.Access.AdminUsers = []string{"admin"}
	}
	if len(cfg.AuditorWideOrgs) == 0 {
		cfg.AuditorWideOrgs = []string{DevOperatorOrg}
	}
	if cfg.Terms == "" {
		cfg.Terms = TermsFilter // the demo has no terminology: show terms that pass the filter
	}

	td := m.Testdata
	if td == "" {
		td = "testdata"
	}
	gpsimURL := m.DevGPSimURL
	if gpsimURL == "" {
		sim, err := gpsim.New(gpsim.Config{Dir: filepath.Join(td, "A99902"), Notifications: filepath.Join(cfg.DataDir, "gpsim-notifications.ndjson")})
		if err != nil {
			return fmt.Errorf("gpsim: %v", err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		m.gpsim = &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
		go m.gpsim.Serve(ln)
		gpsimURL = "http://" + ln.Addr().String()
	}
	m.GPSimURL = gpsimURL
	if len(cfg.Practices) == 0 {
		cfg.Practices = DevPractices(td, gpsimURL)
	}
	return nil
}

// launchClients reads the registered launch clients' key sets; with -dev,
// the EHR simulator's key (created on first start as DevEHRKeyFile in the
// data directory, which cmd/srv -dev reads) is registered too.
func (m *Main) launchClients() (map[string]*jose.JSONWebKeySet, error) {
	out := map[string]*jose.JSONWebKeySet{}
	for _, lc := range m.Config.Launch.Clients {
		b, err := os.ReadFile(lc.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("launch client %s: %v", lc.ID, err)
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(b, &set); err != nil || len(set.Keys) == 0 {
			return nil, fmt.Errorf("launch client %s: %s does not hold a JSON Web Key Set", lc.ID, lc.JWKSFile)
		}
		out[lc.ID] = &set
	}
	if m.Dev {
		key, err := devidp.LoadOrCreateClientKey(filepath.Join(m.Config.DataDir, DevEHRKeyFile))
		if err != nil {
			return nil, err
		}
		out[devidp.EHRSimClientID] = devidp.PublicKeySet(key.Public())
	}
	return out, nil
}

// DevEHRKeyFile is the EHR simulator's launch client key in a -dev data
// directory.
const DevEHRKeyFile = "ehrsim-client.key"

// DevOperatorOrg is the demo gateway operator's organisation, whose
// auditors may search every event.
const DevOperatorOrg = "X99999"

// DevPractices are the three synthetic practices of the embedded demo:
// GP2GP and TPP read from directories, EMIS over HTTP through gpsim.
func DevPractices(testdata, gpsimURL string) []PracticeConfig {
	dir := func(p string) *struct {
		Path      string `json:"path"`
		AccessLog string `json:"accessLog"`
	} {
		return &struct {
			Path      string `json:"path"`
			AccessLog string `json:"accessLog"`
		}{Path: filepath.Join(testdata, p)}
	}
	return []PracticeConfig{
		{ODS: "A99901", Name: "Demo GP2GP practice", Format: "gp2gp", Dir: dir("A99901")},
		{ODS: "A99902", Name: "Demo EMIS practice", Format: "emis", HTTP: &HTTPSourceConfig{
			Base: gpsimURL, Timeout: Duration(3 * time.Second), Retries: 1,
			BreakerFailures: 3, BreakerCooldown: Duration(10 * time.Second)}},
		{ODS: "A99903", Name: "Demo TPP practice", Format: "tpp", Dir: dir("A99903")},
	}
}

// seedDev stores the demo agreement once.
func (m *Main) seedDev(ctx context.Context) error {
	list, err := m.agreements.List(ctx)
	if err != nil {
		return err
	}
	if len(list) > 0 {
		return nil
	}
	return consent.AddAgreement(ctx, m.agreements, consent.DemoAgreement(time.Now().UTC()), "migd-dev", time.Now().UTC())
}
