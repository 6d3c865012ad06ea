package app

import (
	"io"
	"net/http"
	"testing"

	"github.com/rs/zerolog"
)

// BenchmarkHTTP measures whole requests through real HTTP on loopback:
// token verification, the consent chain, the live read from the practice's
// source, parsing, mapping, encoding, and the fsync'd AuditEvent before the
// answer. b.RunParallel runs GOMAXPROCS x -cpu clients; use
// `-cpu 1,4,16` to see concurrency (group commit shares fsyncs).
//
//	go test -run '^$' -bench BenchmarkHTTP -benchtime 200x -cpu 1,4,16 ./cmd/internal/app/
func BenchmarkHTTP(b *testing.B) {
	g := startGateway(b, func(m *Main) { m.Log = zerolog.Nop() })
	tok := g.token("bench", "R8000", "RX999")
	for _, tc := range []struct{ name, nhs, path string }{
		{"summary/tpp-directory", tppConsent, "/$mig-view?view=summary"},
		{"everything/tpp-directory", tppConsent, "/$everything?_count=500"},
		{"everything/emis-http", emisConsent, "/$everything?_count=500"},
		{"everything/gp2gp-26-years", "9990001030", "/$everything?_count=500"},
	} {
		if r := g.recordConsent(tok, tc.nhs, consentGiven); r.Status != http.StatusCreated {
			b.Fatalf("consent for %s: %d", tc.name, r.Status)
		}
		url := g.m.URL + "/fhir/Patient/" + g.ids.Patient(tc.nhs) + tc.path
		b.Run(tc.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			var bytes int64
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
					n, _ := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
					bytes = n
				}
			})
			b.SetBytes(bytes)
		})
	}
}
