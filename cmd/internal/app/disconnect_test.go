package app

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// setGPLatency sets the in-process gpsim's latency (ms) through its
// control endpoint.
func setGPLatency(t *testing.T, g *gateway, ms int) {
	t.Helper()
	r := doURL(t, g.http, http.MethodPost, g.m.GPSimURL+"/control", "", []byte(fmt.Sprintf(`{"latencyMs":%d}`, ms)))
	if r.Status != 200 && r.Status != 204 {
		t.Fatalf("gpsim control: HTTP %d %s", r.Status, r.Body)
	}
}

// TestDisconnects: with a slow GP system (gpsim latency), clients that
// give up and hang up while the gateway is fetching do not escape the
// audit. Every request that reached the gateway has exactly one
// AuditEvent, whatever became of its answer; the gateway keeps serving.
// (Before the fix, the audit write ran on the request's context, which the
// disconnect had cancelled: the record was fetched and no event written.)
func TestDisconnects(t *testing.T) {
	g := startGateway(t, nil)
	clin := g.token("hangup-clin", "R8000", "RX999")
	g.call(t, want{status: 201}, func() *response { return g.recordConsent(clin, emisConsent, consentGiven) })
	pid := g.ids.Patient(emisConsent)
	form := url.Values{"identifier": {"https://fhir.nhs.uk/Id/nhs-number|" + emisConsent}}.Encode()
	cases := []struct {
		name, method, path, ctype string
		body                      []byte
	}{
		{"$mig-view", http.MethodGet, "/fhir/Patient/" + pid + "/$mig-view?view=summary", "", nil},
		{"$everything", http.MethodGet, "/fhir/Patient/" + pid + "/$everything", "", nil},
		{"search", http.MethodGet, "/fhir/Condition?patient=" + pid, "", nil},
		{"read", http.MethodGet, "/fhir/Patient/" + pid, "", nil},
		{"patient search by NHS number", http.MethodPost, "/fhir/Patient/_search", "application/x-www-form-urlencoded", []byte(form)},
		{"record a consent", http.MethodPost, "/fhir/Consent", "application/fhir+json", consentBody(emisConsent, consentGiven)},
	}
	const repeats = 3
	setGPLatency(t, g, 1500)
	defer setGPLatency(t, g, 0)
	seq := g.auditSeq()
	impatient := &http.Client{Timeout: 150 * time.Millisecond}
	var wg sync.WaitGroup
	var mu sync.Mutex
	sent := map[string]string{} // request id -> case
	gaveUp := 0
	for _, c := range cases {
		for i := 0; i < repeats; i++ {
			id := fmt.Sprintf("hangup-%s-%d", strings.NewReplacer("$", "", " ", "-").Replace(c.name), i)
			sent[id] = c.name
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, err := http.NewRequest(c.method, g.m.URL+c.path, bytes.NewReader(c.body))
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Authorization", "Bearer "+clin)
				req.Header.Set("X-Request-ID", id)
				if c.ctype != "" {
					req.Header.Set("Content-Type", c.ctype)
				}
				resp, err := impatient.Do(req)
				if err != nil {
					mu.Lock()
					gaveUp++
					mu.Unlock()
					return
				}
				resp.Body.Close()
			}()
		}
	}
	wg.Wait()
	if gaveUp == 0 {
		t.Fatal("no client gave up: the GP system was not slow enough to test anything")
	}
	// The gateway finishes each request after its client has gone; wait
	// for the trail to hold them all (a bound, not a timing assertion).
	count := map[string]int{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		count = map[string]int{}
		for _, e := range g.eventsSince(seq) {
			count[e.RequestID]++
		}
		all := true
		for id := range sent {
			if count[id] == 0 {
				all = false
			}
		}
		if all || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var missing, doubled []string
	for id := range sent {
		switch {
		case count[id] == 0:
			missing = append(missing, id)
		case count[id] > 1:
			doubled = append(doubled, id)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 || len(doubled) > 0 {
		t.Fatalf("%d requests (%d clients gave up): not audited %v, audited more than once %v", len(sent), gaveUp, missing, doubled)
	}
	t.Logf("%d requests, %d clients gave up, %d AuditEvents", len(sent), gaveUp, len(sent))

	// The gateway keeps serving once the GP system is quick again.
	setGPLatency(t, g, 0)
	g.call(t, want{status: 200}, func() *response { return g.view(clin, emisConsent, "summary") })
}
