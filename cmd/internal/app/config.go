// Package app turns MIG's configuration into a running gateway: the Main
// struct that cmd/migd runs and that end-to-end tests start on 127.0.0.1:0
// with a temporary data directory.
package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"mig/adapters"
	"mig/adapters/terminology"
	"mig/consent"
	"mig/fhir/rest"
)

// Duration is a time.Duration written in configuration as "30s", "8h".
type Duration = consent.Duration

// Config is the gateway's configuration file (JSON). Every field is
// documented in README.md, "Configuration".
type Config struct {
	Addr      string `json:"addr"`      // listen address, default 127.0.0.1:8080
	PublicURL string `json:"publicUrl"` // URL clients reach the gateway at; default http://<addr>
	DataDir   string `json:"dataDir"`   // bbolt files and keys
	KeyFile   string `json:"keyFile"`   // 64 random bytes (hex) for resource ids and cursors; default <dataDir>/gateway.key
	LogLevel  string `json:"logLevel"`  // debug, info, warn, error

	// OpsAddr is the ops listener (/metrics, /healthz, /readyz); empty:
	// none. Store, StoreTLS, StoreMaxConns and NodeID: where the stores
	// live and who this node is (store.go).
	OpsAddr       string         `json:"opsAddr"`
	Store         string         `json:"store"`
	StoreTLS      StoreTLSConfig `json:"storeTls"`
	StoreMaxConns int            `json:"storeMaxConns"`
	NodeID        string         `json:"nodeId"`

	// TrustedProxies are CIDR ranges of reverse proxies in front of the
	// gateway; only their X-Forwarded-For is believed for the source
	// address the audit trail records.
	TrustedProxies []string `json:"trustedProxies"`

	Auth struct {
		Issuer   string `json:"issuer"`   // OIDC issuer URL (CIS2 or another provider)
		Audience string `json:"audience"` // the audience tokens must carry
	} `json:"auth"`

	Access consent.Config `json:"access"` // roles, admins, episode, code sets

	// AuditorWideOrgs are auditor organisations (the gateway operator's) that
	// may search every event rather than their own organisation's.
	AuditorWideOrgs []string `json:"auditorWideOrgs"`

	Practices []PracticeConfig `json:"practices"`

	Demographics struct {
		Source  string `json:"source"`  // "practice" (registration list, default) or "pds"
		PDSBase string `json:"pdsBase"` // PDS FHIR R4 base URL when source is "pds"
	} `json:"demographics"`

	Locator struct {
		Refresh             Duration `json:"refresh"`             // full re-index period, default 15m
		MissRefreshInterval Duration `json:"missRefreshInterval"` // per practice, default 1m
	} `json:"locator"`

	Views struct {
		RecentTestsDays int `json:"recentTestsDays"` // Summary "recent tests", default 365
		RecentAcuteDays int `json:"recentAcuteDays"` // Summary acute issues, default 28
	} `json:"views"`

	// Risks replaces the default risks-and-warnings code set when set.
	Risks []Code `json:"risks"`

	Limits struct {
		MaxBytes    int64 `json:"maxBytes"`    // extract size, default 64 MiB
		MaxDepth    int   `json:"maxDepth"`    // element nesting, default 256
		MaxElements int   `json:"maxElements"` // elements per extract, default 2,000,000
	} `json:"limits"`

	// Terminology: Read v2 / CTV3 -> SNOMED CT maps, rubrics, a SNOMED CT
	// release (RF2) and dm+d names (README.md, "Terminology").
	Terminology terminology.Config `json:"terminology"`
	// Terms: "strict" (the default) shows no term from an extract, only
	// displays from a loaded terminology; "filter" shows, without one, an
	// extract's term that passes fhir.TermLooksCoded (-dev's default).
	Terms string `json:"terms"`

	FetchTimeout Duration `json:"fetchTimeout"` // one fetch + parse, default 10s

	Notifications struct {
		MaxBackoff Duration `json:"maxBackoff"` // retry cap for GP access notifications, default 10m
		Lease      Duration `json:"lease"`      // PostgreSQL: how long a node holds a claimed notification, default 5m
	} `json:"notifications"`

	HTTP      HTTPConfig      `json:"http"`      // request caps and timeouts (limits.go)
	Refusals  RefusalsConfig  `json:"refusals"`  // combining unauthenticated refusals in the audit trail
	FreeSpace FreeSpaceConfig `json:"freeSpace"` // the data directory's free-space floors
	Audit     AuditConfig     `json:"audit"`     // signed checkpoints of the audit chain (checkpoint.go)
	Cache     CacheConfig     `json:"cache"`     // parsed and mapped extracts kept in memory (limits.go)
	Admission AdmissionConfig `json:"admission"` // requests in flight, fair between organisations (limits.go)
	Runtime   RuntimeConfig   `json:"runtime"`   // soft memory limit and GC target (limits.go)
	// PatientReport is what the patient access report shows
	// (GET /fhir/Patient/$mig-access-report; accessreport.go).
	PatientReport PatientReportConfig `json:"patientReport"`

	// Launch registers the clinical systems that may launch the Shared
	// Record Viewer in context (POST /smart/launch, private_key_jwt).
	Launch struct {
		Clients []LaunchClient `json:"clients"`
		TTL     Duration       `json:"ttl"` // how long a launch id may be redeemed, default 5m
	} `json:"launch"`
}

// LaunchClient is one registered clinical system: its client id and the
// JSON Web Key Set (public keys) its client assertions are signed with.
type LaunchClient struct {
	ID       string `json:"id"`
	JWKSFile string `json:"jwksFile"`
}

// Code is one code in a configured code set.
type Code struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

// PracticeConfig is one GP practice and how to reach its system.
type PracticeConfig struct {
	ODS    string `json:"ods"`
	Name   string `json:"name"`
	Format string `json:"format"` // gp2gp, emis, tpp
	Dir    *struct {
		Path      string `json:"path"`      // <NHS number>.xml extracts and patients.json
		AccessLog string `json:"accessLog"` // where access notifications are appended (outside path)
	} `json:"dir,omitempty"`
	HTTP *HTTPSourceConfig `json:"http,omitempty"`
}

// HTTPSourceConfig reaches a GP system's HTTP endpoint.
type HTTPSourceConfig struct {
	Base            string   `json:"base"`
	Timeout         Duration `json:"timeout"`         // per attempt, default 5s
	Retries         int      `json:"retries"`         // extra attempts on 5xx/timeouts, default 2
	Backoff         Duration `json:"backoff"`         // first retry delay, default 200ms
	BreakerFailures int      `json:"breakerFailures"` // consecutive failures that open the breaker, default 5
	BreakerCooldown Duration `json:"breakerCooldown"` // open time before one probe, default 30s
	MaxBytes        int64    `json:"maxBytes"`        // response cap, default limits.maxBytes
	TLS             struct {
		CAFile     string `json:"caFile"`
		CertFile   string `json:"certFile"` // client certificate for mutual TLS
		KeyFile    string `json:"keyFile"`
		ServerName string `json:"serverName"`
	} `json:"tls"`
}

// DefaultConfig returns the configuration every file starts from.
func DefaultConfig() Config {
	var c Config
	c.Addr = "127.0.0.1:8080"
	c.DataDir = "var/mig"
	c.LogLevel = "info"
	c.Auth.Audience = "mig"
	c.Access = consent.DefaultConfig()
	c.Demographics.Source = "practice"
	c.Locator.Refresh = Duration(15 * time.Minute)
	c.Locator.MissRefreshInterval = Duration(time.Minute)
	c.Views.RecentTestsDays = 365
	c.Views.RecentAcuteDays = 28
	c.FetchTimeout = Duration(10 * time.Second)
	c.Notifications.MaxBackoff = Duration(10 * time.Minute)
	c.Cache.MaxBytes, c.Cache.TTL = rest.DefaultCacheMaxBytes, Duration(rest.DefaultCacheTTL)
	c.Admission.MaxInFlight = DefaultMaxInFlight
	c.Runtime.MemoryLimit, c.Runtime.GCPercent = DefaultMemoryLimit, DefaultGCPercent
	return c
}

// LoadConfig reads a configuration file over the defaults. Unknown fields
// are errors, so a misspelt setting is caught at start.
func LoadConfig(path string) (Config, error) {
	c := DefaultConfig()
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("config: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("config %s: %v", path, err)
	}
	return c, c.Validate()
}

// Validate checks the configuration before anything starts.
func (c *Config) Validate() error {
	var errs []string
	if c.Addr == "" {
		errs = append(errs, "addr is empty")
	}
	if c.DataDir == "" {
		errs = append(errs, "dataDir is empty")
	}
	if c.Auth.Issuer == "" {
		errs = append(errs, "auth.issuer is empty")
	}
	if c.Auth.Audience == "" {
		errs = append(errs, "auth.audience is empty")
	}
	for i, p := range c.TrustedProxies {
		if _, _, err := net.ParseCIDR(p); err != nil {
			errs = append(errs, fmt.Sprintf("trustedProxies[%d] is not a CIDR range such as 10.0.0.0/8", i))
		}
	}
	seen := map[string]bool{}
	for i, p := range c.Practices {
		where := fmt.Sprintf("practices[%d]", i)
		if !odsCode(p.ODS) {
			errs = append(errs, where+".ods is not an ODS code")
		}
		if seen[p.ODS] {
			errs = append(errs, where+".ods "+p.ODS+" is listed twice")
		}
		seen[p.ODS] = true
		if !adapters.Supported(p.Format) {
			errs = append(errs, where+".format must be one of "+strings.Join(adapters.Formats(), ", "))
		}
		if (p.Dir == nil) == (p.HTTP == nil) {
			errs = append(errs, where+" needs exactly one of dir or http")
		}
		if p.Dir != nil && p.Dir.Path == "" {
			errs = append(errs, where+".dir.path is empty")
		}
		if p.HTTP != nil && !strings.HasPrefix(p.HTTP.Base, "http://") && !strings.HasPrefix(p.HTTP.Base, "https://") {
			errs = append(errs, where+".http.base must be an http(s) URL")
		}
	}
	errs = append(errs, c.PatientReport.validate()...)
	for i, lc := range c.Launch.Clients {
		if lc.ID == "" || lc.JWKSFile == "" {
			errs = append(errs, fmt.Sprintf("launch.clients[%d] needs id and jwksFile", i))
		}
	}
	errs = append(errs, c.validateStore()...)
	errs = append(errs, c.validateLimits()...)
	switch c.Demographics.Source {
	case "practice":
	case "pds":
		if c.Demographics.PDSBase == "" {
			errs = append(errs, "demographics.pdsBase is needed when demographics.source is pds")
		}
	default:
		errs = append(errs, "demographics.source must be practice or pds")
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %s", strings.Join(errs, "; "))
	}
	return nil
}

func odsCode(s string) bool {
	if len(s) < 3 || len(s) > 10 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
