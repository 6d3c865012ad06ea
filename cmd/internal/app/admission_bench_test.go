package app

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// BenchmarkAdmission sizes admission control: whole-record requests (the
// heaviest, uncached) from a number of clients against a node with
// admission off and at several maxInFlight. Each client sends its next
// request when the last is answered, or, refused, after the Retry-After
// (1 s) as a well-behaved client does.
// It reports admitted requests per second, the admitted requests' p50 and
// p99, and the share refused.
//
//	go test -run '^$' -bench BenchmarkAdmission -benchtime 300x ./cmd/internal/app/
func BenchmarkAdmission(b *testing.B) {
	for _, maxInFlight := range []int{0, 8, 16, 32} {
		g := startGateway(b, func(m *Main) {
			m.Log = zerolog.Nop()
			m.Config.Cache.MaxBytes = 0
			m.Config.Admission.MaxInFlight = maxInFlight
			m.Config.Refusals.CombineWindow, m.Config.Refusals.Separate = Duration(time.Minute), false
		})
		tok := g.token("bench", "R8000", "RX999")
		const nhs = "9990001030"
		if r := g.recordConsent(tok, nhs, consentGiven); r.Status != http.StatusCreated {
			b.Fatalf("consent: %d", r.Status)
		}
		url := g.m.URL + "/fhir/Patient/" + g.ids.Patient(nhs) + "/$everything?_count=500"
		for _, clients := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("max-in-flight-%d/clients-%d", maxInFlight, clients), func(b *testing.B) {
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
				var next atomic.Int64
				var mu sync.Mutex
				var took []time.Duration
				var refused int
				start := time.Now()
				var wg sync.WaitGroup
				for c := 0; c < clients; c++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for next.Add(1) <= int64(b.N) {
							t0 := time.Now()
							req, _ := http.NewRequest(http.MethodGet, url, nil)
							req.Header.Set("Authorization", "Bearer "+tok)
							resp, err := client.Do(req)
							if err != nil {
								b.Error(err)
								return
							}
							io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							d := time.Since(t0)
							mu.Lock()
							switch resp.StatusCode {
							case http.StatusOK:
								took = append(took, d)
							case http.StatusServiceUnavailable:
								refused++
							default:
								b.Errorf("status %d", resp.StatusCode)
							}
							mu.Unlock()
							if resp.StatusCode == http.StatusServiceUnavailable {
								time.Sleep(time.Second)
							}
						}
					}()
				}
				wg.Wait()
				elapsed := time.Since(start)
				sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
				q := func(p float64) float64 {
					if len(took) == 0 {
						return 0
					}
					return float64(took[min(len(took)-1, int(p*float64(len(took))))].Milliseconds())
				}
				b.ReportMetric(float64(len(took))/elapsed.Seconds(), "ok/s")
				b.ReportMetric(q(0.5), "p50-ms")
				b.ReportMetric(q(0.99), "p99-ms")
				b.ReportMetric(100*float64(refused)/float64(b.N), "refused-%")
			})
		}
		g.m.Close()
	}
}
