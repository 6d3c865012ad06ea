package app

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	"mig"
	"mig/audit"
	"mig/fhir/rest"
)

// HTTPConfig caps requests and bounds the time a connection may hold the
// gateway. Zero values take the defaults (README, "Configuration").
type HTTPConfig struct {
	MaxURIBytes        int      `json:"maxUriBytes"`        // request line target: more is 414 (8 KiB)
	MaxHeaderBytes     int      `json:"maxHeaderBytes"`     // header fields: more is 431 (32 KiB)
	ReadHeaderTimeout  Duration `json:"readHeaderTimeout"`  // request line and headers (10s)
	ReadTimeout        Duration `json:"readTimeout"`        // the whole request, body included (30s)
	IdleTimeout        Duration `json:"idleTimeout"`        // a kept-alive connection between requests (2m)
	WriteTimeout       Duration `json:"writeTimeout"`       // one response, every route but $export (60s)
	ExportWriteTimeout Duration `json:"exportWriteTimeout"` // the streaming AuditEvent $export (30m)
}

// RefusalsConfig: how unauthenticated refusals are combined in the audit
// trail (audit.Recorder).
type RefusalsConfig struct {
	CombineWindow Duration `json:"combineWindow"` // one event per source per window, with a count (1m)
	MaxSources    int      `json:"maxSources"`    // sources combined one by one per window; more share one count (1000)
	// Separate, when true, writes every such refusal as its own event
	// (no combining; each costs an audit write).
	Separate bool `json:"separate"`
}

// window is the recorder's combining window: negative (off) when Separate.
func (r RefusalsConfig) window() time.Duration {
	if r.Separate {
		return -1
	}
	return time.Duration(r.CombineWindow)
}

// FreeSpaceConfig: the data directory's free-space floors, in bytes.
type FreeSpaceConfig struct {
	AnonymousFloor uint64 `json:"anonymousFloor"` // below: unauthenticated refusals only counted, all sources together (1 GiB)
	Floor          uint64 `json:"floor"`          // below: every request refused 503 AUDIT_UNAVAILABLE, nothing written (256 MiB)
}

// CacheConfig: the in-memory cache of parsed and mapped extracts
// (rest.Cache). Every request still fetches the extract live.
type CacheConfig struct {
	MaxBytes int64    `json:"maxBytes"` // estimated bytes held at most; 0: no cache (64 MiB)
	TTL      Duration `json:"ttl"`      // an entry's life from its parse (5m)
}

// AdmissionConfig: how many requests the node works on at once, fairly
// between organisations (rest.Admission).
type AdmissionConfig struct {
	MaxInFlight int      `json:"maxInFlight"` // requests in flight; 0: no admission control
	MaxOrgShare float64  `json:"maxOrgShare"` // the largest fraction of them one organisation may hold (1)
	MaxWait     Duration `json:"maxWait"`     // an organisation below its fair share waits this long for a slot (50ms)
	RetryAfter  Duration `json:"retryAfter"`  // Retry-After of a refusal (1s)
}

// RuntimeConfig: the Go runtime's soft memory limit and GC target, applied
// at start unless the environment sets GOMEMLIMIT or GOGC.
type RuntimeConfig struct {
	MemoryLimit int64 `json:"memoryLimit"` // bytes; 0: none
	GCPercent   int   `json:"gcPercent"`   // GOGC; 0: Go's default (100)
}

// Defaults of the blocks above.
const (
	DefaultAnonymousFloor = 1 << 30
	DefaultFloor          = 256 << 20
)

// validateLimits checks the cache, admission and runtime blocks.
func (c *Config) validateLimits() []string {
	var errs []string
	if c.Cache.MaxBytes < 0 || c.Cache.TTL < 0 {
		errs = append(errs, "cache.maxBytes and cache.ttl cannot be negative")
	}
	if a := c.Admission; a.MaxInFlight < 0 || a.MaxOrgShare < 0 || a.MaxOrgShare > 1 || a.RetryAfter < 0 {
		errs = append(errs, "admission: maxInFlight and retryAfter cannot be negative, maxOrgShare is a fraction from 0 to 1")
	}
	if c.Runtime.MemoryLimit < 0 || c.Runtime.GCPercent < -1 {
		errs = append(errs, "runtime.memoryLimit cannot be negative; runtime.gcPercent is -1 (off) or more")
	}
	return errs
}

// applyRuntime sets the soft memory limit and the GC target from the
// configuration, unless the environment already sets GOMEMLIMIT or GOGC
// (the runtime read those at start; the environment wins). They are the
// process's: a test binary, which runs many gateways at once, keeps its own.
func (m *Main) applyRuntime() {
	if testing.Testing() {
		return
	}
	limit, gc := runtimeSettings(m.Config.Runtime, os.Getenv)
	ev := m.Log.Info()
	if limit > 0 {
		debug.SetMemoryLimit(limit)
		ev = ev.Int64("memory_limit", limit)
	}
	if gc != 0 {
		debug.SetGCPercent(gc)
		ev = ev.Int("gc_percent", gc)
	}
	ev.Msg("runtime memory settings")
}

// runtimeSettings is what applyRuntime sets: the configured memory limit
// and GC percent (0: leave as is), each unless getenv names its
// environment variable.
func runtimeSettings(rc RuntimeConfig, getenv func(string) string) (limit int64, gcPercent int) {
	if getenv("GOMEMLIMIT") == "" {
		limit = rc.MemoryLimit
	}
	if getenv("GOGC") == "" {
		gcPercent = rc.GCPercent
	}
	return limit, gcPercent
}

// Defaults of the admission and runtime blocks, from BenchmarkAdmission
// on the project's 2-core machine (BENCHMARKS.md): 32 requests in flight
// kept whole-record throughput at 86-118% of an unlimited node's at 64
// clients with p99 1.4-2.5 s (unlimited: 2.4-5.7 s); a 256 MiB soft limit
// kept peak RSS under 300 MB there at no measurable cost, and GOGC 200 or
// 400 gained nothing beyond run-to-run noise for 30-50% more memory.
const (
	DefaultMaxInFlight = 32
	DefaultMemoryLimit = 256 << 20
	DefaultGCPercent   = 100
)

// pipelineGen numbers the pipelines this process builds.
var pipelineGen atomic.Uint64

// pipelineVersion names the configuration that turns an extract into
// FHIR: the cache keys every record by it, so nothing parsed or mapped
// under one configuration is served under another. It hashes what shapes
// parsing and mapping (risk set, terminology files, term mode, extract
// limits, public URL) and adds a number unique to each call in this
// process, so re-reading the same files (whose contents may have changed)
// also makes a new version.
func pipelineVersion(cfg *Config) string {
	b, _ := json.Marshal(struct {
		Risks       []Code
		Terminology any
		Terms       string
		Limits      any
		PublicURL   string
	}{cfg.Risks, cfg.Terminology, cfg.Terms, cfg.Limits, cfg.PublicURL})
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%s-%d", hex.EncodeToString(sum[:8]), pipelineGen.Add(1))
}

// newCache is the node's cache of parsed and mapped extracts, keyed by
// the pipeline version of the configuration in force.
func (m *Main) newCache() *rest.Cache {
	return rest.NewCache(rest.CacheOptions{MaxBytes: m.Config.Cache.MaxBytes, TTL: time.Duration(m.Config.Cache.TTL),
		Version: pipelineVersion(&m.Config)})
}

// newAdmission is the node's admission control.
func (m *Main) newAdmission() *rest.Admission {
	a := m.Config.Admission
	return rest.NewAdmission(rest.AdmissionOptions{MaxInFlight: a.MaxInFlight, MaxOrgShare: a.MaxOrgShare,
		MaxWait: time.Duration(a.MaxWait), RetryAfter: time.Duration(a.RetryAfter)})
}

// clock is the time requests are judged by: Main.Now, or time.Now.
func (m *Main) clock() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func orDuration(d Duration, def time.Duration) time.Duration {
	if d > 0 {
		return time.Duration(d)
	}
	return def
}

// httpServer is the gateway's http.Server: every timeout set, and a hard
// header limit above the caps the REST server answers itself.
func (m *Main) httpServer(h http.Handler) *http.Server {
	c := m.Config.HTTP
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: orDuration(c.ReadHeaderTimeout, 10*time.Second),
		ReadTimeout:       orDuration(c.ReadTimeout, 30*time.Second),
		IdleTimeout:       orDuration(c.IdleTimeout, 2*time.Minute),
		// No server-wide WriteTimeout: each route sets its own deadline
		// (rest.Server.WriteTimeout, ExportWriteTimeout).
		MaxHeaderBytes: rest.HardHeaderLimit(c.MaxURIBytes, c.MaxHeaderBytes),
	}
}

// limitServer gives the REST server its caps and write timeouts.
func (m *Main) limitServer(s *rest.Server) {
	c := m.Config.HTTP
	s.MaxURIBytes, s.MaxHeaderBytes = c.MaxURIBytes, c.MaxHeaderBytes
	s.WriteTimeout, s.ExportWriteTimeout = time.Duration(c.WriteTimeout), time.Duration(c.ExportWriteTimeout)
	s.Now = m.Now
	m.cache, m.admission = m.newCache(), m.newAdmission()
	s.Cache, s.Admission = m.cache, m.admission
}

// newRecorder is the chain's audit recorder: combining unauthenticated
// refusals, under the data directory's free-space floors, logging each
// floor crossed.
func (m *Main) newRecorder(store audit.Store) *audit.Recorder {
	fs := m.Config.FreeSpace
	if fs.AnonymousFloor == 0 {
		fs.AnonymousFloor = DefaultAnonymousFloor
	}
	if fs.Floor == 0 {
		fs.Floor = DefaultFloor
	}
	space := &audit.Space{Dir: m.Config.DataDir, AnonymousFloor: fs.AnonymousFloor, Floor: fs.Floor,
		OnChange: func(level audit.SpaceLevel, free uint64) {
			ev := m.Log.Warn()
			if level == audit.SpaceOK {
				ev = m.Log.Info()
			} else if level == audit.SpaceExhausted {
				ev = m.Log.Error()
			}
			ev.Str("level", level.String()).Uint64("free_bytes", free).Uint64("anonymous_floor", fs.AnonymousFloor).
				Uint64("floor", fs.Floor).Msg("data directory free-space floor crossed")
		}}
	return audit.NewRecorder(store, audit.RecorderOptions{
		Window:     m.Config.Refusals.window(),
		MaxSources: m.Config.Refusals.MaxSources,
		Space:      space,
		OnFlushError: func(err error) {
			m.Log.Error().Str("error_code", mig.ErrorCode(err)).Msg("combined refusal event not written; will retry")
		},
	})
}

// storeError says why a store in dir could not be opened, telling a file
// locked by another process (a running migd; the stores mark it
// mig.ErrStoreLocked) apart from other failures.
func storeError(what, dir string, err error) error {
	if errors.Is(err, mig.ErrStoreLocked) {
		return fmt.Errorf("%s: data directory %s is in use by another process (another migd, or a migctl command with -data): stop it, or give this gateway another -data", what, dir)
	}
	return fmt.Errorf("%s: %v", what, err)
}
