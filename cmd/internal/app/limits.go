package app

import (
	"errors"
	"fmt"
	"net/http"
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
	CombineWindow Duration `json:"combineWindow"` // one event per source per window, with a count (1m); "-1s" turns combining off
	MaxSources    int      `json:"maxSources"`    // sources combined one by one per window; more share one count (1000)
}

// FreeSpaceConfig: the data directory's free-space floors, in bytes.
type FreeSpaceConfig struct {
	AnonymousFloor uint64 `json:"anonymousFloor"` // below: unauthenticated refusals only counted, all sources together (1 GiB)
	Floor          uint64 `json:"floor"`          // below: every request refused 503 AUDIT_UNAVAILABLE, nothing written (256 MiB)
}

// Defaults of the blocks above.
const (
	DefaultAnonymousFloor = 1 << 30
	DefaultFloor          = 256 << 20
)

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
		Window:     time.Duration(m.Config.Refusals.CombineWindow),
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
