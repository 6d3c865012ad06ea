package locator_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"mig"
	"mig/adapters/locator"
	"mig/adapters/locator/bolt"
	locpg "mig/adapters/locator/pg"
	"mig/adapters/source"
	"mig/internal/pgstore"
	"mig/internal/pgtest"
)

// population is a synthetic set of patients spread over practices: only
// NHS numbers, generated at test time.
type population struct {
	practices []string
	bySource  map[string]*fakeSource
	owner     map[string]string // NHS number -> practice
	outside   []string          // valid numbers nobody holds
}

// nhsNumbers returns n valid NHS numbers from the 999 test range, skipping
// bases whose check digit would be 10.
func nhsNumbers(n int) []string {
	out := make([]string, 0, n)
	for base := 999000000; len(out) < n; base++ {
		s := strconv.Itoa(base)
		sum := 0
		for i := 0; i < 9; i++ {
			sum += int(s[i]-'0') * (10 - i)
		}
		check := (11 - sum%11) % 11
		if check == 10 {
			continue
		}
		out = append(out, s+strconv.Itoa(check))
	}
	return out
}

func newPopulation(patients, practices int) *population {
	p := &population{bySource: map[string]*fakeSource{}, owner: make(map[string]string, patients)}
	nums := nhsNumbers(patients + 100)
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(nums), func(i, j int) { nums[i], nums[j] = nums[j], nums[i] })
	p.outside = nums[patients:]
	lists := make([][]string, practices)
	for i, n := range nums[:patients] {
		lists[i%practices] = append(lists[i%practices], n)
	}
	for i := range practices {
		ods := fmt.Sprintf("P%05d", i)
		p.practices = append(p.practices, ods)
		f := &fakeSource{}
		f.set(lists[i]...)
		p.bySource[ods] = f
		for _, n := range lists[i] {
			p.owner[n] = ods
		}
	}
	return p
}

func (p *population) sources() map[string]source.Source {
	m := make(map[string]source.Source, len(p.bySource))
	for k, v := range p.bySource {
		m[k] = v
	}
	return m
}

// TestPopulation builds an index of 20,000 patients over 100 practices and
// checks a sample of lookups.
func TestPopulation(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	ctx := context.Background()
	pop := newPopulation(20000, 100)
	l := locator.New(openIndex(t), pop.sources(), locator.Options{})
	if err := l.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := l.Stats(ctx)
	if st.Numbers != 20000 || len(st.Practices) != 100 {
		t.Fatalf("stats: %d numbers, %d practices", st.Numbers, len(st.Practices))
	}
	i := 0
	for nhs, want := range pop.owner {
		if i++; i > 2000 {
			break
		}
		if got, err := l.Locate(ctx, nhs); got != want || err != nil {
			t.Fatalf("%s: got %q %v, want %s", nhs, got, err, want)
		}
	}
	for _, nhs := range pop.outside[:5] {
		if _, err := l.Locate(ctx, nhs); mig.ErrorCode(err) != mig.ENOTFOUND {
			t.Fatalf("outside number: %v", err)
		}
	}
}

// BenchmarkBuild builds the index for a synthetic population: by default
// 20,000 patients over 100 practices; MIG_LOCATOR_PATIENTS=500000 for the
// scale target. It runs on bbolt and, when MIG_TEST_POSTGRES_URL names a
// server, on PostgreSQL, one sub-benchmark each in the same run, and
// reports build time, unchanged-refresh time, lookup latency, index size
// and heap.
func BenchmarkBuild(b *testing.B) {
	patients := 20000
	if s := os.Getenv("MIG_LOCATOR_PATIENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("MIG_LOCATOR_PATIENTS=%q", s)
		}
		patients = n
	}
	pop := newPopulation(patients, 100)
	b.Run("bolt", func(b *testing.B) {
		benchBuild(b, pop, func(b *testing.B) locator.Index {
			idx, err := bolt.Open(filepath.Join(b.TempDir(), "index.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { idx.Close() })
			return idx
		})
	})
	b.Run("pg", func(b *testing.B) {
		benchBuild(b, pop, func(b *testing.B) locator.Index {
			ctx := context.Background()
			pool, err := pgstore.Connect(ctx, pgstore.Options{URL: pgtest.URL(b), MaxConns: 8})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(pool.Close)
			idx, err := locpg.Open(ctx, pool)
			if err != nil {
				b.Fatal(err)
			}
			return idx
		})
	})
}

func benchBuild(b *testing.B, pop *population, open func(*testing.B) locator.Index) {
	ctx := context.Background()
	patients := len(pop.owner)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		idx := open(b)
		l := locator.New(idx, pop.sources(), locator.Options{})
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		start := time.Now()
		if err := l.Refresh(ctx); err != nil {
			b.Fatal(err)
		}
		build := time.Since(start)
		b.StopTimer()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		st, _ := l.Stats(ctx)
		if st.Numbers != patients {
			b.Fatalf("indexed %d of %d", st.Numbers, patients)
		}
		// Lookup latency over a sample.
		n := 0
		ls := time.Now()
		for nhs, want := range pop.owner {
			if n++; n > 10000 {
				break
			}
			if got, err := l.Locate(ctx, nhs); got != want || err != nil {
				b.Fatalf("lookup %q %v", got, err)
			}
		}
		lookup := time.Since(ls) / time.Duration(n-1)
		// A second full refresh (replacing every generation).
		rs := time.Now()
		if err := l.Refresh(ctx); err != nil {
			b.Fatal(err)
		}
		refresh := time.Since(rs)
		st2, _ := l.Stats(ctx)
		b.ReportMetric(build.Seconds(), "build-s")
		b.ReportMetric(refresh.Seconds(), "refresh-s")
		b.ReportMetric(float64(lookup.Nanoseconds()), "lookup-ns")
		b.ReportMetric(float64(st.Bytes)/(1<<20), "size-MiB")
		b.ReportMetric(float64(st2.Bytes)/(1<<20), "size-after-refresh-MiB")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/(1<<20), "alloc-MiB")
		b.ReportMetric(float64(after.HeapInuse)/(1<<20), "heap-inuse-MiB")
		b.StartTimer()
	}
}
