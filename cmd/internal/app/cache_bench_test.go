package app

import (
	"io"
	"net/http"
	"testing"

	"github.com/rs/zerolog"
)

// BenchmarkHTTPCache is BenchmarkHTTP's whole requests (token, chain, live
// read, fsync'd audit) with the cache of parsed and mapped extracts on and
// off, in one run, so the two can be compared as a ratio. Every request
// still reads the extract from the practice's directory and hashes it.
//
//	go test -run '^$' -bench BenchmarkHTTPCache -benchtime 200x -cpu 1,8 ./cmd/internal/app/
func BenchmarkHTTPCache(b *testing.B) {
	for _, mode := range []struct {
		name     string
		maxBytes int64
	}{{"uncached", 0}, {"cached", 64 << 20}} {
		g := startGateway(b, func(m *Main) {
			m.Log = zerolog.Nop()
			m.Config.Cache.MaxBytes = mode.maxBytes
		})
		tok := g.token("bench", "R8000", "RX999")
		const nhs = "9990001030"
		if r := g.recordConsent(tok, nhs, consentGiven); r.Status != http.StatusCreated {
			b.Fatalf("consent: %d", r.Status)
		}
		for _, tc := range []struct{ name, path string }{
			{"gp2gp-26-years/everything-500", "/$everything?_count=500"},
			{"gp2gp-26-years/everything-default-page", "/$everything"},
			{"gp2gp-26-years/summary", "/$mig-view?view=summary"},
		} {
			url := g.m.URL + "/fhir/Patient/" + g.ids.Patient(nhs) + tc.path
			b.Run(tc.name+"/"+mode.name, func(b *testing.B) {
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
				var n int64
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						req, _ := http.NewRequest(http.MethodGet, url, nil)
						req.Header.Set("Authorization", "Bearer "+tok)
						resp, err := client.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						n, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							b.Errorf("status %d", resp.StatusCode)
							return
						}
					}
				})
				b.SetBytes(n)
			})
		}
		g.m.Close()
	}
}
