// Package gpsim simulates a GP system that speaks MIG's HTTP source protocol
// (see source.HTTP), serving a directory of extracts of any format:
//
//	GET  /records/{nhs}          <dir>/<nhs>.xml
//	GET  /patients               JSON array of the *.xml names that are NHS numbers
//	GET  /patients/{nhs}         the patient's entry of <dir>/patients.json
//	POST /access-notifications   appends {"id":..., "event":...} to the notifications
//	                             file, idempotent by the Idempotency-Key header
//	GET  /control                the current fault settings
//	POST /control                {"latencyMs": n, "jitterMs": n, "errorRate": 0..1, "down": bool}
//	                             (fields left out keep their values)
//
// Faults (latency, jitter, a share of 500 answers, an outage in which
// connections are dropped unanswered) apply to every path except /control.
// cmd/gpsim is its main.
package gpsim

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"mig"
)

// Config is the simulator's start-up configuration.
type Config struct {
	Dir           string        // directory of <nhs>.xml extracts and patients.json
	Notifications string        // JSON-lines file access notifications are appended to
	Latency       time.Duration // added before every answer
	Jitter        time.Duration // up to this much more, at random
	ErrorRate     float64       // share of requests answered 500, 0..1
	Down          bool          // start in an outage
}

// Faults are the fault settings that can be changed at run time.
type Faults struct {
	LatencyMs int64   `json:"latencyMs"`
	JitterMs  int64   `json:"jitterMs"`
	ErrorRate float64 `json:"errorRate"`
	Down      bool    `json:"down"`
}

// Server is the simulator's http.Handler.
type Server struct {
	dir, notifications string
	mux                *http.ServeMux

	mu     sync.Mutex
	faults Faults

	nmu  sync.Mutex
	seen map[string]struct{}
}

// New checks the configuration and reads the ids already in the
// notifications file.
func New(c Config) (*Server, error) {
	if fi, err := os.Stat(c.Dir); err != nil || !fi.IsDir() {
		return nil, errors.New("gpsim: -dir must be a directory")
	}
	if c.ErrorRate < 0 || c.ErrorRate > 1 {
		return nil, errors.New("gpsim: error rate must be between 0 and 1")
	}
	s := &Server{dir: c.Dir, notifications: c.Notifications, seen: map[string]struct{}{},
		faults: Faults{LatencyMs: c.Latency.Milliseconds(), JitterMs: c.Jitter.Milliseconds(), ErrorRate: c.ErrorRate, Down: c.Down}}
	if c.Notifications != "" {
		if err := s.loadSeen(); err != nil {
			return nil, err
		}
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /records/{nhs}", s.faulty(s.record))
	s.mux.HandleFunc("GET /patients", s.faulty(s.patients))
	s.mux.HandleFunc("GET /patients/{nhs}", s.faulty(s.patient))
	s.mux.HandleFunc("POST /access-notifications", s.faulty(s.notify))
	s.mux.HandleFunc("GET /control", s.getControl)
	s.mux.HandleFunc("POST /control", s.postControl)
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Faults returns the current fault settings.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// SetFaults replaces the fault settings.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// Notified returns how many distinct access notifications are recorded.
func (s *Server) Notified() int {
	s.nmu.Lock()
	defer s.nmu.Unlock()
	return len(s.seen)
}

// faulty applies the fault settings before h.
func (s *Server) faulty(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f := s.Faults()
		if f.Down {
			// An outage: drop the connection without an answer.
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		d := time.Duration(f.LatencyMs) * time.Millisecond
		if f.JitterMs > 0 {
			d += time.Duration(rand.Int64N(f.JitterMs*int64(time.Millisecond) + 1))
		}
		if d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if f.ErrorRate > 0 && rand.Float64() < f.ErrorRate {
			http.Error(w, "injected error", http.StatusInternalServerError)
			return
		}
		h(w, r)
	}
}

func (s *Server) record(w http.ResponseWriter, r *http.Request) {
	nhs := r.PathValue("nhs")
	if !mig.ValidNHSNumber(nhs) {
		http.Error(w, "not a valid NHS number", http.StatusBadRequest)
		return
	}
	f, err := os.Open(filepath.Join(s.dir, nhs+".xml"))
	if errors.Is(err, fs.ErrNotExist) {
		http.NotFound(w, r)
		return
	} else if err != nil {
		http.Error(w, "cannot read extract", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/xml")
	if fi, err := f.Stat(); err == nil {
		http.ServeContent(w, r, "", fi.ModTime(), f)
		return
	}
	io.Copy(w, f)
}

func (s *Server) patients(w http.ResponseWriter, r *http.Request) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		http.Error(w, "cannot list extracts", http.StatusInternalServerError)
		return
	}
	list := []string{}
	for _, e := range entries {
		if nhs, ok := strings.CutSuffix(e.Name(), ".xml"); ok && mig.ValidNHSNumber(nhs) {
			list = append(list, nhs)
		}
	}
	sort.Strings(list)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(list)
}

func (s *Server) patient(w http.ResponseWriter, r *http.Request) {
	nhs := r.PathValue("nhs")
	if !mig.ValidNHSNumber(nhs) {
		http.Error(w, "not a valid NHS number", http.StatusBadRequest)
		return
	}
	b, err := os.ReadFile(filepath.Join(s.dir, "patients.json"))
	if errors.Is(err, fs.ErrNotExist) {
		http.NotFound(w, r)
		return
	} else if err != nil {
		http.Error(w, "cannot read registration list", http.StatusInternalServerError)
		return
	}
	var list []json.RawMessage
	if err := json.Unmarshal(b, &list); err != nil {
		http.Error(w, "registration list is not a JSON array", http.StatusInternalServerError)
		return
	}
	for _, raw := range list {
		var p struct {
			NHSNumber string `json:"nhsNumber"`
		}
		if json.Unmarshal(raw, &p) == nil && p.NHSNumber == nhs {
			w.Header().Set("Content-Type", "application/json")
			w.Write(raw)
			return
		}
	}
	http.NotFound(w, r)
}

const maxNotification = 1 << 20

func (s *Server) notify(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("Idempotency-Key")
	if id == "" {
		http.Error(w, "Idempotency-Key header required", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxNotification))
	if err != nil {
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	if !json.Valid(body) {
		http.Error(w, "body is not JSON", http.StatusBadRequest)
		return
	}
	s.nmu.Lock()
	defer s.nmu.Unlock()
	if _, dup := s.seen[id]; dup {
		w.WriteHeader(http.StatusOK)
		return
	}
	if s.notifications != "" {
		line, _ := json.Marshal(struct {
			ID    string          `json:"id"`
			Event json.RawMessage `json:"event"`
		}{id, body})
		f, err := os.OpenFile(s.notifications, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err == nil {
			_, err = f.Write(append(line, '\n'))
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			http.Error(w, "cannot record notification", http.StatusInternalServerError)
			return
		}
	}
	s.seen[id] = struct{}{}
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) loadSeen() error {
	f, err := os.Open(s.notifications)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return errors.New("gpsim: cannot read the notifications file")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 2*maxNotification)
	for sc.Scan() {
		var l struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.ID != "" {
			s.seen[l.ID] = struct{}{}
		}
	}
	if sc.Err() != nil {
		return errors.New("gpsim: cannot read the notifications file")
	}
	return nil
}

func (s *Server) getControl(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(s.Faults())
}

// postControl changes the fields the body names; the others keep their
// values.
func (s *Server) postControl(w http.ResponseWriter, r *http.Request) {
	var c struct {
		LatencyMs *int64   `json:"latencyMs"`
		JitterMs  *int64   `json:"jitterMs"`
		ErrorRate *float64 `json:"errorRate"`
		Down      *bool    `json:"down"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		http.Error(w, "body must be {latencyMs, jitterMs, errorRate, down}", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	f := s.faults
	if c.LatencyMs != nil {
		f.LatencyMs = *c.LatencyMs
	}
	if c.JitterMs != nil {
		f.JitterMs = *c.JitterMs
	}
	if c.ErrorRate != nil {
		f.ErrorRate = *c.ErrorRate
	}
	if c.Down != nil {
		f.Down = *c.Down
	}
	ok := f.ErrorRate >= 0 && f.ErrorRate <= 1 && f.LatencyMs >= 0 && f.JitterMs >= 0
	if ok {
		s.faults = f
	}
	s.mu.Unlock()
	if !ok {
		http.Error(w, "errorRate must be 0..1, latencies not negative", http.StatusBadRequest)
		return
	}
	s.getControl(w, r)
}
