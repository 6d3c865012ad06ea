// Package metrics is the gateway's Prometheus instrumentation: one registry
// per node, served on the ops listener (never the public one). It sits at
// the edge: the domain packages know nothing of Prometheus; they offer small
// observer hooks (rest.Server.Observer, audit/source callbacks) that
// cmd/internal/app connects to a *Metrics.
//
// No NHS number, name or clinical code ever becomes a label. Every label
// value is one of: a route template, an HTTP method, a status code, a rule
// name, an error code, an ODS code from the configuration, or a fixed word.
// Values are also vetted here (Safe), so a caller's mistake turns into
// "other" rather than a patient identifier in a time series.
package metrics

import (
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"mig"
)

// Namespace prefixes every metric name.
const Namespace = "mig"

// Latency buckets, in seconds: requests and GP fetches (a fetch may take
// the whole FetchTimeout), and audit appends (an fsync or a commit).
var (
	requestBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	appendBuckets  = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}
)

// Build describes the running binary (mig_build_info).
type Build struct {
	Version, Revision, GoVersion string
}

// Metrics is one node's metrics.
type Metrics struct {
	reg *prometheus.Registry

	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	inFlight  prometheus.Gauge
	appends   *prometheus.HistogramVec
	appending prometheus.Gauge
	fetches   *prometheus.HistogramVec
	fetchErrs *prometheus.CounterVec
	notified  *prometheus.CounterVec
	refreshes *prometheus.HistogramVec
	indexed   *prometheus.GaugeVec
}

// New returns a node's metrics, with the Go runtime and process collectors
// and mig_build_info registered.
func New(b Build) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg}
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	info := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "build_info",
		Help:        "The running binary: always 1, with its version, VCS revision and Go version as labels.",
		ConstLabels: prometheus.Labels{"version": Safe(b.Version), "revision": safeRevision(b.Revision), "goversion": Safe(b.GoVersion)}})
	info.Set(1)
	f(info)

	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "http_requests_total",
		Help: "Requests answered, by method, route template (never the path), status and refusing rule (empty when none refused)."},
		[]string{"method", "route", "status", "rule"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "http_request_duration_seconds",
		Help: "Time from a request's arrival to its answer, by method and route template.", Buckets: requestBuckets},
		[]string{"method", "route"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "http_requests_in_flight",
		Help: "Requests being served now."})
	m.appends = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "audit_append_duration_seconds",
		Help: "Time to durably store one request's AuditEvents (fsync or database commit), by outcome (ok, error).", Buckets: appendBuckets},
		[]string{"outcome"})
	m.appending = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "audit_append_queue",
		Help: "Audit appends waiting to be committed now (the group-commit queue depth as this node sees it)."})
	m.fetches = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "gp_fetch_duration_seconds",
		Help: "Time to open one extract from a practice's GP system, by practice (ODS code) and outcome (ok, not-found, error).", Buckets: requestBuckets},
		[]string{"practice", "outcome"})
	m.fetchErrs = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "gp_fetch_errors_total",
		Help: "Failed extract fetches, by practice (ODS code) and gateway error code (unavailable, timeout, ...)."},
		[]string{"practice", "code"})
	m.notified = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "gp_notifications_total",
		Help: "Access notifications sent to GP systems, by practice (ODS code) and outcome (ok, error: retried later)."},
		[]string{"practice", "outcome"})
	m.refreshes = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "locator_refresh_duration_seconds",
		Help: "Time to refresh one practice's part of the patient index, by practice and outcome.", Buckets: requestBuckets},
		[]string{"practice", "outcome"})
	m.indexed = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "locator_patients",
		Help: "Patients the last successful refresh found at each practice."}, []string{"practice"})
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.inFlight, m.appends, m.appending,
		m.fetches, m.fetchErrs, m.notified, m.refreshes, m.indexed} {
		f(c)
	}
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// Registry is the node's registry, for collectors added by the wiring.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// RequestStarted counts a request in flight (rest.RequestObserver).
func (m *Metrics) RequestStarted() { m.inFlight.Inc() }

// RequestFinished records one answered request (rest.RequestObserver).
func (m *Metrics) RequestFinished(method, route string, status int, rule string, took time.Duration) {
	m.inFlight.Dec()
	method, route = Safe(method), Route(route)
	m.requests.WithLabelValues(method, route, strconv.Itoa(status), Safe(rule)).Inc()
	m.latency.WithLabelValues(method, route).Observe(took.Seconds())
}

// AppendStarted and AppendFinished bracket one audit append.
func (m *Metrics) AppendStarted() { m.appending.Inc() }

// AppendFinished records an audit append's latency and outcome.
func (m *Metrics) AppendFinished(took time.Duration, err error) {
	m.appending.Dec()
	m.appends.WithLabelValues(outcome(err)).Observe(took.Seconds())
}

// Fetch records one extract fetch from practice.
func (m *Metrics) Fetch(practice string, took time.Duration, err error) {
	practice = Safe(practice)
	o := outcome(err)
	if mig.ErrorCode(err) == mig.ENOTFOUND {
		o = "not-found" // the practice answered: no record for that patient
	}
	m.fetches.WithLabelValues(practice, o).Observe(took.Seconds())
	if o == "error" {
		m.fetchErrs.WithLabelValues(practice, Safe(mig.ErrorCode(err))).Inc()
	}
}

// Notified records one access-notification attempt to practice.
func (m *Metrics) Notified(practice string, err error) {
	m.notified.WithLabelValues(Safe(practice), outcome(err)).Inc()
}

// Refreshed records one practice's patient-index refresh.
func (m *Metrics) Refreshed(practice string, patients int, took time.Duration, err error) {
	practice = Safe(practice)
	m.refreshes.WithLabelValues(practice, outcome(err)).Observe(took.Seconds())
	if err == nil {
		m.indexed.WithLabelValues(practice).Set(float64(patients))
	}
}

// GaugeFunc registers a gauge read at each scrape (free space, checkpoint
// age, queue lengths). fn must be quick and must not block on a database
// without a timeout.
func (m *Metrics) GaugeFunc(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, fn))
}

// CounterFunc registers a counter read at each scrape from a count kept
// elsewhere (admission control, caches).
func (m *Metrics) CounterFunc(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, fn))
}

// CountersFunc registers a counter with one label read at each scrape
// from counts kept elsewhere: read returns the count per label value
// (fixed words: "admitted", "hit").
func (m *Metrics) CountersFunc(name, help, label string, read func() map[string]float64) {
	m.reg.MustRegister(&funcCollector{
		desc: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, []string{label}, nil),
		typ:  prometheus.CounterValue, read: read})
}

type funcCollector struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
	read func() map[string]float64
}

func (c *funcCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *funcCollector) Collect(ch chan<- prometheus.Metric) {
	for k, v := range c.read() {
		ch <- prometheus.MustNewConstMetric(c.desc, c.typ, v, Safe(k))
	}
}

// States registers an enumeration read at each scrape: for each key (an
// ODS code), one series per state, 1 for the current state and 0 for the
// others (mig_gp_breaker_state{practice,state}).
func (m *Metrics) States(name, help, keyLabel string, states []string, read func() map[string]string) {
	m.reg.MustRegister(&stateCollector{
		desc:   prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, []string{keyLabel, "state"}, nil),
		states: states, read: read})
}

type stateCollector struct {
	desc   *prometheus.Desc
	states []string
	read   func() map[string]string
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	for key, cur := range c.read() {
		key = Safe(key)
		for _, s := range c.states {
			v := 0.0
			if s == cur {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, key, s)
		}
	}
}

func outcome(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

// safeValue is what a label value may look like: a word, code, version or
// route template; at most 80 characters.
var safeValue = regexp.MustCompile(`^[A-Za-z0-9_.+\-]{0,80}$`)

// safeRoute is a route template: path segments, :params, $operations.
var safeRoute = regexp.MustCompile(`^/[A-Za-z0-9_.:$*/\-]{0,120}$`)

// longDigits finds a run of six or more digits: no route, rule or code of
// ours has one, and every NHS number (ten digits) and SNOMED CT code (six
// or more) does.
var longDigits = regexp.MustCompile(`[0-9]{6,}`)

// Safe returns v when it is a plain word, code or version with no run of
// six digits, else "other". Every label value but routes goes through it.
func Safe(v string) string {
	if !safeValue.MatchString(v) || longDigits.MatchString(v) {
		return "other"
	}
	return v
}

// Route returns a route template as its label: "unmatched" for none (no
// route matched, so the path may be anything a client typed) and "other"
// for anything that does not look like a template.
func Route(r string) string {
	if r == "" {
		return "unmatched"
	}
	if !safeRoute.MatchString(r) || longDigits.MatchString(r) {
		return "other"
	}
	return r
}

// revision keeps a VCS revision (hex) whole: it is ours, not a patient's,
// though it may hold six digits in a row.
var revision = regexp.MustCompile(`^[0-9a-f]{0,64}$`)

func safeRevision(v string) string {
	if !revision.MatchString(v) {
		return "other"
	}
	return v
}
