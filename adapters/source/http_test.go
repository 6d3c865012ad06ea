package source_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mig"
	"mig/adapters/source"
	"mig/adapters/source/gpsim"
)

// sim is a gpsim server on 127.0.0.1:0, with a front that can fail the
// next few requests with 500 and counts the requests that reach it.
type sim struct {
	*gpsim.Server
	url      string
	notes    string
	requests atomic.Int64
	fail500  atomic.Int64
}

func newSim(t *testing.T) *sim {
	t.Helper()
	notes := filepath.Join(t.TempDir(), "notifications.jsonl")
	g, err := gpsim.New(gpsim.Config{Dir: practiceDir(t), Notifications: notes})
	if err != nil {
		t.Fatal(err)
	}
	s := &sim{Server: g, notes: notes}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if s.fail500.Add(-1) >= 0 {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		g.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func newHTTP(t *testing.T, s *sim, mod func(*source.HTTPOptions)) *source.HTTP {
	t.Helper()
	o := source.HTTPOptions{ODS: "A99902", Base: s.url + "/", Timeout: 2 * time.Second, Retries: 2,
		Backoff: 5 * time.Millisecond, BreakerFailures: -1}
	if mod != nil {
		mod(&o)
	}
	h, err := source.NewHTTP(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHTTPProtocol(t *testing.T) {
	s := newSim(t)
	s.SetFaults(gpsim.Faults{LatencyMs: 30, JitterMs: 20}) // within the timeout
	h := newHTTP(t, s, nil)
	ctx := context.Background()

	rc, err := h.Fetch(ctx, nhsA)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, rc); got != "<extract>A FREETEXT-a</extract>" {
		t.Fatalf("got %q", got)
	}
	_, err = h.Fetch(ctx, nhsC)
	wantErr(t, err, mig.ENOTFOUND, mig.IssuePatientNotFound, "A99902", nhsC)
	_, err = h.Fetch(ctx, "../../etc")
	wantErr(t, err, mig.EINVALID, mig.IssueInvalidNHSNumber, "")

	var got []string
	if err := h.Patients(ctx, func(n string) error { got = append(got, n); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{nhsA, nhsB}) {
		t.Fatalf("patients %v", got)
	}

	p, err := h.Demographics(ctx, nhsA)
	if err != nil {
		t.Fatal(err)
	}
	checkAnn(t, p, "A99902")
	_, err = h.Demographics(ctx, nhsC)
	wantErr(t, err, mig.ENOTFOUND, "", "A99902", nhsC)
}

func TestHTTPRetriesThenSucceeds(t *testing.T) {
	s := newSim(t)
	h := newHTTP(t, s, nil) // 2 retries
	s.fail500.Store(2)
	rc, err := h.Fetch(context.Background(), nhsA)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if n := s.requests.Load(); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
	// One more failure than retries: unavailable after 1+2 attempts.
	s.requests.Store(0)
	s.fail500.Store(3)
	_, err = h.Fetch(context.Background(), nhsA)
	wantErr(t, err, mig.EUNAVAILABLE, mig.IssueGPSystemUnavailable, "A99902", nhsA)
	if n := s.requests.Load(); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
}

func TestHTTPTimeout(t *testing.T) {
	s := newSim(t)
	s.SetFaults(gpsim.Faults{LatencyMs: 500})
	h := newHTTP(t, s, func(o *source.HTTPOptions) { o.Timeout = 40 * time.Millisecond; o.Retries = 1 })
	start := time.Now()
	_, err := h.Fetch(context.Background(), nhsA)
	wantErr(t, err, mig.ETIMEOUT, mig.IssueGPSystemUnavailable, "A99902", nhsA)
	if el := time.Since(start); el > 400*time.Millisecond {
		t.Errorf("took %v: timeout not applied", el)
	}
	if n := s.requests.Load(); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	// The caller's own deadline is reported as a timeout too.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = h.Demographics(ctx, nhsA)
	wantErr(t, err, mig.ETIMEOUT, "", "A99902", nhsA)
}

func TestHTTPOutage(t *testing.T) {
	s := newSim(t)
	s.SetFaults(gpsim.Faults{Down: true})
	h := newHTTP(t, s, nil)
	_, err := h.Fetch(context.Background(), nhsA)
	wantErr(t, err, mig.EUNAVAILABLE, mig.IssueGPSystemUnavailable, "A99902", nhsA)
	err = h.Patients(context.Background(), func(string) error { return nil })
	wantErr(t, err, mig.EUNAVAILABLE, mig.IssueGPSystemUnavailable, "A99902")
	err = h.Notify(context.Background(), source.Notification{ID: "n1", Body: []byte(`{}`)})
	wantErr(t, err, mig.EUNAVAILABLE, mig.IssueGPSystemUnavailable, "A99902")
	// Nothing listening at all.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	h2, _ := source.NewHTTP(source.HTTPOptions{ODS: "A99909", Base: dead.URL, Retries: 1, Backoff: time.Millisecond})
	_, err = h2.Fetch(context.Background(), nhsA)
	wantErr(t, err, mig.EUNAVAILABLE, mig.IssueGPSystemUnavailable, "A99909", nhsA)
}

func TestHTTPBreaker(t *testing.T) {
	s := newSim(t)
	h := newHTTP(t, s, func(o *source.HTTPOptions) {
		o.Retries = 0
		o.BreakerFailures = 2
		o.BreakerCooldown = 80 * time.Millisecond
	})
	ctx := context.Background()
	fetch := func() error {
		rc, err := h.Fetch(ctx, nhsA)
		if err == nil {
			rc.Close()
		}
		return err
	}
	s.SetFaults(gpsim.Faults{Down: true})
	for i := 0; i < 2; i++ {
		if err := fetch(); mig.ErrorCode(err) != mig.EUNAVAILABLE {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if st := h.BreakerState(); st != source.BreakerOpen {
		t.Fatalf("state %v, want open", st)
	}
	s.SetFaults(gpsim.Faults{}) // system back, but the breaker is open
	before := s.requests.Load()
	err := fetch()
	wantErr(t, err, mig.EUNAVAILABLE, mig.IssueGPSystemUnavailable, "A99902", nhsA)
	if s.requests.Load() != before {
		t.Fatal("open breaker let a request through")
	}

	// After the cooldown, a failed probe opens it again.
	s.SetFaults(gpsim.Faults{Down: true})
	time.Sleep(100 * time.Millisecond)
	if st := h.BreakerState(); st != source.BreakerHalfOpen {
		t.Fatalf("state %v, want half-open", st)
	}
	if err := fetch(); mig.ErrorCode(err) != mig.EUNAVAILABLE {
		t.Fatal(err)
	}
	if st := h.BreakerState(); st != source.BreakerOpen {
		t.Fatalf("after failed probe: %v", st)
	}

	// A successful probe closes it; only one probe goes through at a time.
	s.SetFaults(gpsim.Faults{LatencyMs: 60})
	time.Sleep(100 * time.Millisecond)
	before = s.requests.Load()
	var wg sync.WaitGroup
	var okN, refused atomic.Int64
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fetch(); err == nil {
				okN.Add(1)
			} else {
				refused.Add(1)
			}
		}()
	}
	wg.Wait()
	if okN.Load() != 1 || refused.Load() != 4 || s.requests.Load()-before != 1 {
		t.Fatalf("half-open: %d ok, %d refused, %d requests", okN.Load(), refused.Load(), s.requests.Load()-before)
	}
	if st := h.BreakerState(); st != source.BreakerClosed {
		t.Fatalf("after probe: %v", st)
	}
	if err := fetch(); err != nil {
		t.Fatal(err)
	}
}

func TestHTTPConcurrent(t *testing.T) {
	s := newSim(t)
	s.SetFaults(gpsim.Faults{LatencyMs: 2, JitterMs: 5, ErrorRate: 0.2})
	h := newHTTP(t, s, func(o *source.HTTPOptions) { o.Retries = 8; o.Backoff = time.Millisecond })
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			switch i % 3 {
			case 0:
				rc, err := h.Fetch(ctx, nhsB)
				if err != nil {
					t.Error(err)
					return
				}
				if got := readAll(t, rc); got != "<extract>B</extract>" {
					t.Errorf("got %q", got)
				}
			case 1:
				if _, err := h.Demographics(ctx, nhsA); err != nil {
					t.Error(err)
				}
			case 2:
				if err := h.Notify(ctx, source.Notification{ID: fmt.Sprintf("c-%d", i%4), Body: []byte(`{"resourceType":"AuditEvent"}`)}); err != nil {
					t.Error(err)
				}
			}
		}(i)
	}
	wg.Wait()
	if n := s.Notified(); n != 4 {
		t.Errorf("%d notifications recorded, want 4", n)
	}
}

func TestHTTPNotifyIdempotent(t *testing.T) {
	s := newSim(t)
	var keys []string
	var mu sync.Mutex
	inner := s.url
	// Record the headers the source sends.
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key")+" "+r.Header.Get("Content-Type"))
		mu.Unlock()
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, inner+r.URL.Path, r.Body)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
	}))
	defer front.Close()
	h, err := source.NewHTTP(source.HTTPOptions{ODS: "A99902", Base: front.URL})
	if err != nil {
		t.Fatal(err)
	}
	n := source.Notification{ID: "audit-1", Body: []byte(`{"resourceType":"AuditEvent","id":"audit-1"}`)}
	for i := 0; i < 2; i++ {
		if err := h.Notify(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	if s.Notified() != 1 {
		t.Fatalf("%d notifications recorded, want 1", s.Notified())
	}
	if ids := countLines(t, s.notes); len(ids) != 1 || ids["audit-1"] != 1 {
		t.Fatalf("file: %v", ids)
	}
	if keys[0] != "audit-1 application/fhir+json" {
		t.Fatalf("headers %q", keys[0])
	}
	// A restarted simulator still knows the id.
	g2, err := gpsim.New(gpsim.Config{Dir: t.TempDir(), Notifications: s.notes})
	if err != nil {
		t.Fatal(err)
	}
	if g2.Notified() != 1 {
		t.Fatal("restart lost the notification ids")
	}
}

func TestHTTPMaxBytes(t *testing.T) {
	s := newSim(t)
	h := newHTTP(t, s, func(o *source.HTTPOptions) { o.MaxBytes = 10 })
	_, err := h.Fetch(context.Background(), nhsA) // Content-Length known: refused at once
	wantErr(t, err, mig.ETOOLARGE, "", "A99902", nhsA)

	// Streamed (no Content-Length): refused while reading.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 100; i++ {
			w.Write([]byte(`"9990001006",`))
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	h2, _ := source.NewHTTP(source.HTTPOptions{ODS: "A99903", Base: srv.URL, MaxBytes: 200})
	rc, err := h2.Fetch(context.Background(), nhsA)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var buf strings.Builder
	_, err = bufCopy(&buf, rc)
	wantErr(t, err, mig.ETOOLARGE, "", "A99903")
	if buf.Len() > 200 {
		t.Errorf("read %d bytes past the limit", buf.Len())
	}
}

func bufCopy(w *strings.Builder, rc interface{ Read([]byte) (int, error) }) (int64, error) {
	var n int64
	p := make([]byte, 7)
	for {
		k, err := rc.Read(p)
		w.Write(p[:k])
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
}

func TestHTTPBadPatientList(t *testing.T) {
	for name, body := range map[string]string{
		"object":    `{"a":1}`,
		"numbers":   `[1,2]`,
		"truncated": `["9990001006",`,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
		h, _ := source.NewHTTP(source.HTTPOptions{ODS: "A99903", Base: srv.URL})
		err := h.Patients(context.Background(), func(string) error { return nil })
		srv.Close()
		if mig.ErrorCode(err) != mig.EUNAVAILABLE {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestNewHTTPOptions(t *testing.T) {
	for _, o := range []source.HTTPOptions{
		{Base: "http://x"},
		{ODS: "A1", Base: "ftp://x"},
		{ODS: "A1", Base: "http://x", TLS: source.TLSOptions{CertFile: "c.pem"}},
		{ODS: "A1", Base: "http://x", TLS: source.TLSOptions{CAFile: "/nonexistent"}},
	} {
		if _, err := source.NewHTTP(o); mig.ErrorCode(err) != mig.EINVALID {
			t.Errorf("%+v: %v", o, err)
		}
	}
}
