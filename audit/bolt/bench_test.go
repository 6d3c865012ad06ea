package bolt_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mig/audit"
	"mig/audit/bolt"
)

// BenchmarkAppend measures fsync'd appends of one event per call, from 1
// goroutine and from many (group commit).
func BenchmarkAppend(b *testing.B) {
	for _, par := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("goroutines=%d", par), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "audit.db")
			s, err := bolt.Open(path, bolt.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var n atomic.Int64
			b.SetParallelism(max(1, par/max(1, testingProcs())))
			b.ResetTimer()
			start := time.Now()
			if par == 1 {
				rng := rand.New(rand.NewPCG(1, 1))
				for i := 0; i < b.N; i++ {
					if _, err := s.Append(context.Background(), genEvent(rng, i, 1000, 100)); err != nil {
						b.Fatal(err)
					}
				}
				n.Add(int64(b.N))
			} else {
				b.RunParallel(func(pb *testing.PB) {
					rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
					i := 0
					for pb.Next() {
						if _, err := s.Append(context.Background(), genEvent(rng, i, 1000, 100)); err != nil {
							b.Error(err)
							return
						}
						i++
					}
					n.Add(int64(i))
				})
			}
			b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "events/s")
			b.StopTimer()
			if fi, err := os.Stat(path); err == nil && n.Load() > 1000 {
				b.ReportMetric(float64(fi.Size())/float64(n.Load()), "file-bytes/event")
			}
		})
	}
}

func testingProcs() int { return runtime.GOMAXPROCS(0) }

// fixture is a store of n events built once per process, in a directory
// kept for the run (AUDIT_BENCH_DIR, or a temp dir).
type fixture struct {
	path         string
	n            int
	nhs, user    string
	buildSeconds float64
	bytesPer     float64
}

var (
	tempDirs   []string // removed when BenchmarkSearch ends
	fixtures   = map[int]*fixture{}
	fixturesMu sync.Mutex
)

// benchSizes reads AUDIT_BENCH_EVENTS (comma-separated, default 100000).
func benchSizes() []int {
	v := os.Getenv("AUDIT_BENCH_EVENTS")
	if v == "" {
		return []int{100000}
	}
	var out []int
	for _, p := range strings.Split(v, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(p)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// getFixture builds n events: patients = n/10 (about 10 events each),
// users = n/500 (about 500 each), 5 organisations, 4 practices.
func getFixture(b *testing.B, n int) *fixture {
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	if f := fixtures[n]; f != nil {
		return f
	}
	dir := os.Getenv("AUDIT_BENCH_DIR")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "auditbench"); err != nil {
			b.Fatal(err)
		}
		tempDirs = append(tempDirs, dir)
	}
	path := filepath.Join(dir, fmt.Sprintf("audit-%d.db", n))
	os.Remove(path)
	s, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(42, 42))
	patients, users := max(1, n/10), max(1, n/500)
	start := time.Now()
	batch := make([]*audit.Event, 0, 2000)
	var first *audit.Event
	for i := 0; i < n; i++ {
		e := genEvent(rng, i, patients, users)
		if first == nil && e.NHSNumber != "" {
			first = e
		}
		batch = append(batch, e)
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := s.Append(context.Background(), batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	s.Close()
	fi, _ := os.Stat(path)
	f := &fixture{path: path, n: n, nhs: first.NHSNumber, user: first.UserID,
		buildSeconds: time.Since(start).Seconds(), bytesPer: float64(fi.Size()) / float64(n)}
	fixtures[n] = f
	b.Logf("built %d events in %.1fs: %d bytes, %.0f bytes/event", n, f.buildSeconds, fi.Size(), f.bytesPer)
	return f
}

// BenchmarkSearch measures a Search for one patient (about 10 events) and
// one user (first 100 of about 500 events) at each AUDIT_BENCH_EVENTS size.
func BenchmarkSearch(b *testing.B) {
	defer func() {
		fixturesMu.Lock()
		defer fixturesMu.Unlock()
		for _, d := range tempDirs {
			os.RemoveAll(d)
		}
		tempDirs, fixtures = nil, map[int]*fixture{}
	}()
	for _, n := range benchSizes() {
		f := getFixture(b, n)
		s, err := bolt.Open(f.path, bolt.Options{})
		if err != nil {
			b.Fatal(err)
		}
		for _, q := range []struct {
			name string
			q    audit.Query
		}{
			{"patient", audit.Query{NHSNumber: f.nhs, Limit: 100}},
			{"user", audit.Query{Agent: f.user, Limit: 100}},
			{"user+org", audit.Query{Agent: f.user, OrgODS: []string{"RX999"}, Limit: 100}},
		} {
			b.Run(fmt.Sprintf("events=%d/%s", n, q.name), func(b *testing.B) {
				var got int
				for i := 0; i < b.N; i++ {
					res, err := s.Search(context.Background(), q.q)
					if err != nil {
						b.Fatal(err)
					}
					got = len(res)
				}
				if got == 0 {
					b.Fatal("no results")
				}
				b.ReportMetric(float64(got), "results")
				b.ReportMetric(f.bytesPer, "file-bytes/event")
			})
		}
		s.Close()
	}
}
