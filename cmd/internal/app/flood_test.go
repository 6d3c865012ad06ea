//go:build unix

package app

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mig/audit"
)

// floodRequest is one kind of oversized anonymous request.
type floodRequest struct {
	name    string
	reaches bool // reaches the gateway (net/http refuses the largest itself)
	status  int  // the answer, when it reaches the gateway
	send    func(g *gateway, client *http.Client) (int, error)
}

func floodRequests() []floodRequest {
	get := func(path string, header ...string) func(g *gateway, client *http.Client) (int, error) {
		return func(g *gateway, client *http.Client) (int, error) {
			req, err := http.NewRequest(http.MethodGet, g.m.URL+path, nil)
			if err != nil {
				return 0, err
			}
			for i := 0; i+1 < len(header); i += 2 {
				req.Header.Set(header[i], header[i+1])
			}
			r, err := rawDo(client, req)
			if err != nil {
				return 0, err
			}
			return r.Status, nil
		}
	}
	ident := "identifier=" + url.QueryEscape("https://fhir.nhs.uk/Id/nhs-number|"+tppConsent)
	return []floodRequest{
		{"880 KB query (the issue's)", false, 431, get("/fhir/Patient?" + ident + "&x=" + strings.Repeat("A", 880<<10))},
		{"7 KB query, under the line cap", true, 401, get("/fhir/Patient?" + ident + "&x=" + strings.Repeat("A", 7<<10))},
		{"12 KB query, over the line cap", true, 414, get("/fhir/Patient?" + ident + "&x=" + strings.Repeat("A", 12<<10))},
		{"40 KB of headers", true, 431, get("/fhir/Patient?"+ident, "X-Padding", strings.Repeat("B", 40<<10))},
		{"60 KB search form", true, 401, func(g *gateway, client *http.Client) (int, error) {
			form := url.Values{"identifier": {"https://fhir.nhs.uk/Id/nhs-number|" + tppConsent}, "x": {strings.Repeat("C", 60<<10)}}
			req, _ := http.NewRequest(http.MethodPost, g.m.URL+"/fhir/Patient/_search", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r, err := rawDo(client, req)
			if err != nil {
				return 0, err
			}
			return r.Status, nil
		}},
		{"unknown endpoint, long path", true, 404, get("/fhir/" + strings.Repeat("D", 6<<10))},
	}
}

// flood sends each kind of request rounds times from a few concurrent
// clients, while a clinician keeps reading; it returns how many requests
// reached the gateway and the clinician's request ids.
func flood(t *testing.T, g *gateway, rounds int, clin string) (reached int, clinIDs []string) {
	t.Helper()
	kinds := floodRequests()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			for i := w; i < rounds; i += 3 {
				for _, k := range kinds {
					status, err := k.send(g, client)
					switch {
					case !k.reaches && (err != nil || status == k.status):
						// net/http refused it before the gateway saw it
					case err != nil:
						t.Errorf("%s: %v", k.name, err)
					case status != k.status:
						t.Errorf("%s: HTTP %d, want %d", k.name, status, k.status)
					default:
						mu.Lock()
						reached++
						mu.Unlock()
					}
				}
			}
		}(w)
	}
	for i := 0; i < 5; i++ {
		r := g.view(clin, tppConsent, "summary")
		if r.Status != 200 {
			t.Errorf("clinician during the flood: HTTP %d %s", r.Status, truncate(r.Body))
		}
		clinIDs = append(clinIDs, r.requestID())
	}
	wg.Wait()
	return reached, clinIDs
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestFloods: oversized anonymous requests are refused, each kind with its
// own status; the audit store grows by a bounded amount (one event per
// source per window written at once, one combined count at the window's
// close, every query cut to a 2 KiB prefix and its hash); every refusal
// that reached the gateway is counted; authenticated clinicians are served
// throughout, each read with its own event. Under the anonymous free-space
// floor, anonymous refusals are only counted; under the hard floor nothing
// is written and nothing is released.
func TestFloods(t *testing.T) {
	const rounds = 30
	combining := func(m *Main) {
		m.Config.Refusals.CombineWindow, m.Config.Refusals.Separate = Duration(time.Hour), false
	}
	cases := []struct {
		name         string
		edit         func(m *Main)
		maxBodyBytes int // bytes of event bodies the flood may add
		maxFileBytes int64
		clinStatus   int
		crossed      string // the floor-crossed log line's level, if any
	}{
		{"plenty of space", combining, 2 * (audit.MaxQueryBytes + 4096), 256 << 10, 200, ""},
		{"under the anonymous floor", func(m *Main) {
			combining(m)
			m.Config.FreeSpace.AnonymousFloor = math.MaxUint64 / 2 // always under it
			m.Config.FreeSpace.Floor = 1
		}, 4096, 256 << 10, 200, `"level":"low"`},
		{"under the hard floor", func(m *Main) {
			combining(m)
			m.Config.FreeSpace.AnonymousFloor = math.MaxUint64 / 2
			m.Config.FreeSpace.Floor = math.MaxUint64 / 4 * 3
		}, 0, 0, 503, `"level":"exhausted"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, tc.edit)
			clin := g.token("flood-clin", "R8000", "RX999")
			if tc.clinStatus == 200 {
				g.call(t, want{status: 201}, func() *response { return g.recordConsent(clin, tppConsent, consentGiven) })
			}
			dbPath := filepath.Join(g.m.Config.DataDir, "audit.db")
			seq, size := g.auditSeq(), fileSize(t, dbPath)

			var reached int
			var clinIDs []string
			sent := rounds
			if tc.clinStatus == 200 {
				reached, clinIDs = flood(t, g, rounds, clin)
				sent = rounds * len(floodRequests())
			} else {
				for i := 0; i < rounds; i++ {
					for _, k := range floodRequests()[1:2] {
						if status, err := k.send(g, g.http); err != nil || status != 503 {
							t.Fatalf("%s under the hard floor: HTTP %d %v, want 503", k.name, status, err)
						}
					}
				}
				r := g.view(clin, tppConsent, "summary")
				if code, _ := r.outcome(t); r.Status != 503 || code != "AUDIT_UNAVAILABLE" {
					t.Fatalf("clinician under the hard floor: HTTP %d %s, want 503 AUDIT_UNAVAILABLE", r.Status, code)
				}
			}
			written := g.eventsSince(seq)
			if err := g.m.recorder.Flush(context.Background(), time.Now().Add(2*time.Hour), true); err != nil && tc.clinStatus == 200 {
				t.Fatal(err)
			}
			all := g.eventsSince(seq)
			grown := fileSize(t, dbPath) - size

			// Every refusal that reached the gateway is in the trail: on
			// its own or in a combined count.
			counted, bodies, anonymousEvents := 0, 0, 0
			clinSeen := map[string]int{}
			for _, e := range all {
				bodies += len(e.Body)
				if e.UserID == "flood-clin" {
					clinSeen[e.RequestID]++
					continue
				}
				anonymousEvents++
				counted++
				if e.Refusals > 0 {
					counted += e.Refusals - 1
				}
			}
			for _, id := range clinIDs {
				if clinSeen[id] != 1 {
					t.Errorf("clinician's read %s has %d AuditEvents, want 1", id, clinSeen[id])
				}
			}
			if counted != reached {
				t.Errorf("%d refusals counted in the trail, %d reached the gateway", counted, reached)
			}
			anonBodies := bodies
			for _, e := range all {
				if e.UserID == "flood-clin" {
					anonBodies -= len(e.Body)
				}
			}
			t.Logf("%d oversized anonymous requests, %d reached the gateway (net/http refused the 880 KB ones; under the hard floor the gateway refused all with 503, writing nothing): %d anonymous events (%d written before the flush), %d bytes of their bodies; audit.db grew %d bytes (%d events in all)",
				sent, reached, anonymousEvents, len(written)-len(clinSeen), anonBodies, grown, len(all))
			if anonBodies > tc.maxBodyBytes {
				t.Errorf("anonymous events hold %d bytes, want at most %d", anonBodies, tc.maxBodyBytes)
			}
			if grown > tc.maxFileBytes {
				t.Errorf("audit.db grew %d bytes, want at most %d", grown, tc.maxFileBytes)
			}
			if tc.crossed != "" && !strings.Contains(g.log.String(), tc.crossed) {
				t.Errorf("no log line says the floor was crossed (%s)", tc.crossed)
			}
			for _, e := range all {
				if strings.Contains(string(e.Body), strings.Repeat("A", audit.MaxQueryBytes+1)) {
					t.Error("an AuditEvent holds more than the bounded query")
				}
			}
			if strings.Contains(g.log.String(), strings.Repeat("A", 64)) {
				t.Error("the log holds a query")
			}
			assertCleanLog(t, g)
		})
	}
}

// TestNotificationBounded: a clinician's search with a long query (under
// the line cap) is answered; its AuditEvent keeps a 2 KiB prefix and the
// query's hash, and the access notification the GP system receives is
// that same bounded event.
func TestNotificationBounded(t *testing.T) {
	g := startGateway(t, nil)
	clin := g.token("notify-clin", "R8000", "RX999")
	g.call(t, want{status: 201}, func() *response { return g.recordConsent(clin, tppConsent, consentGiven) })
	seq := g.auditSeq()
	long := "/fhir/Condition?patient=" + g.ids.Patient(tppConsent) + "&code=" + strings.Repeat("A", 7000)
	r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, long, clin, nil) })
	evs := byRequest(g.eventsSince(seq), r.requestID())
	if len(evs) != 1 || evs[0].QuerySHA256 == "" || len(evs[0].Body) > audit.MaxQueryBytes*2+4096 {
		t.Fatalf("the search's AuditEvent is not bounded with a hash (%d events)", len(evs))
	}
	logPath := filepath.Join(g.m.Config.DataDir, "access-A99903.ndjson")
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(logPath)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, evs[0].ID) {
				if !strings.Contains(line, string(evs[0].Body)) || len(line) > len(evs[0].Body)+256 {
					t.Fatalf("the GP system was told %d bytes, not the stored %d-byte event", len(line), len(evs[0].Body))
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the access notification never reached the practice's access log")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
