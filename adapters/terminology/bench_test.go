package terminology

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"mig/adapters/record"
)

// A synthetic release of real size, for measuring the loader: 350,000
// concepts (MIG_RF2_CONCEPTS overrides; one in 50 inactive) in a random
// IS-A DAG of about the shape of SNOMED CT (every concept under a random
// earlier one, one in four with a second parent), three descriptions each
// (an FSN and two synonyms) and a language reference set marking the FSN
// and one synonym preferred.
//
//	go test -run XXX -bench 'Release|IsA' -benchtime 1x ./adapters/terminology/
var (
	synthOnce  sync.Once
	synthFiles RF2Files
	synthIDs   []string
	synthErr   error
)

func sctid(item uint64, partition string) string {
	base := strconv.FormatUint(item, 10) + partition
	for d := byte('0'); d <= '9'; d++ {
		if s := base + string(d); record.ValidSCTID(s) {
			return s
		}
	}
	panic("no check digit")
}

func synthetic(b *testing.B) RF2Files {
	synthOnce.Do(func() {
		n := 350_000
		if s := os.Getenv("MIG_RF2_CONCEPTS"); s != "" {
			n, _ = strconv.Atoi(s)
		}
		dir, err := os.MkdirTemp("", "mig-synthetic-rf2-")
		if err != nil {
			synthErr = err
			return
		}
		rng := rand.New(rand.NewPCG(1, 2))
		ids := make([]string, n)
		for i := range ids {
			ids[i] = sctid(uint64(100000+i), "00")
		}
		synthIDs = ids
		write := func(name, header string, rows func(w *bufio.Writer)) string {
			p := filepath.Join(dir, name)
			f, err := os.Create(p)
			if err != nil {
				synthErr = err
				return p
			}
			w := bufio.NewWriterSize(f, 1<<20)
			w.WriteString(header + "\r\n")
			rows(w)
			w.Flush()
			f.Close()
			return p
		}
		const mod, prim = "900000000000207008", "900000000000074008"
		synthFiles.Concepts = []string{write("c.txt", "id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId", func(w *bufio.Writer) {
			for i, id := range ids {
				act := "1"
				if i%50 == 49 {
					act = "0"
				}
				fmt.Fprintf(w, "%s\t20240401\t%s\t%s\t%s\r\n", id, act, mod, prim)
			}
		})}
		rel := uint64(1000000)
		synthFiles.Relationships = []string{write("r.txt", "id\teffectiveTime\tactive\tmoduleId\tsourceId\tdestinationId\trelationshipGroup\ttypeId\tcharacteristicTypeId\tmodifierId", func(w *bufio.Writer) {
			for i := 1; i < n; i++ {
				if i%50 == 49 {
					continue // inactive concepts have no IS-A
				}
				// A uniformly chosen earlier concept gives a random
				// recursive tree (depth about ln n, 13 here); a second
				// parent for one concept in four widens the ancestor sets
				// to about the UK Monolith's closure per concept (18.4
				// million pairs for ~500,000 active concepts: ~37).
				parents := 1
				if rng.IntN(4) == 0 {
					parents = 2
				}
				seen := -1
				for k := 0; k < parents; k++ {
					p := rng.IntN(i)
					if p%50 == 49 {
						p--
					}
					if p == seen {
						continue
					}
					seen = p
					rel++
					fmt.Fprintf(w, "%s\t20240401\t1\t%s\t%s\t%s\t0\t116680003\t900000000000011006\t900000000000451002\r\n",
						sctid(rel, "02"), mod, ids[i], ids[p])
				}
			}
		})}
		desc := uint64(5000000)
		var descIDs []string
		synthFiles.Descriptions = []string{write("d.txt", "id\teffectiveTime\tactive\tmoduleId\tconceptId\tlanguageCode\ttypeId\tterm\tcaseSignificanceId", func(w *bufio.Writer) {
			for i, id := range ids {
				for k, typ := range []string{"900000000000003001", "900000000000013009", "900000000000013009"} {
					desc++
					d := sctid(desc, "01")
					descIDs = append(descIDs, d)
					fmt.Fprintf(w, "%s\t20240401\t1\t%s\t%s\ten\t%s\tSynthetic concept number %d term %d (test)\t900000000000448009\r\n",
						d, mod, id, typ, i, k)
				}
			}
		})}
		synthFiles.LanguageRefsets = []string{write("l.txt", "id\teffectiveTime\tactive\tmoduleId\trefsetId\treferencedComponentId\tacceptabilityId", func(w *bufio.Writer) {
			for j, d := range descIDs {
				acc := "900000000000548007"
				if j%3 == 2 {
					acc = "900000000000549004"
				}
				fmt.Fprintf(w, "%08x-0000-4000-8000-%012x\t20240401\t1\t%s\t%s\t%s\t%s\r\n", j, j, mod, RefsetUKClinical, d, acc)
			}
		})}
	})
	if synthErr != nil {
		b.Fatal(synthErr)
	}
	return synthFiles
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// samplePeak samples the live heap every 5 ms until stop is called; *peak
// is the most seen.
func samplePeak() (stop func(), peak *uint64) {
	peak = new(uint64)
	done := make(chan struct{})
	finished := make(chan struct{})
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(finished)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > *peak {
				*peak = v
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }, peak
}

// BenchmarkLoadRelease loads the synthetic release and reports the heap the
// loaded Release keeps (retained-MB), the most heap in use while loading
// (peak-MB, above what was in use before), what loading allocated in all
// (alloc-MB), and the closure's size.
func BenchmarkLoadRelease(b *testing.B) {
	files := synthetic(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		before := heapInUse()
		var ms0 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		stop, peak := samplePeak()
		start := time.Now()
		r, err := LoadRelease(files)
		if err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		stop()
		var ms1 runtime.MemStats
		runtime.ReadMemStats(&ms1)
		after := heapInUse()
		c, d := r.Len()
		b.ReportMetric(float64(after-before)/(1<<20), "retained-MB")
		b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/(1<<20), "alloc-MB")
		b.ReportMetric(float64(r.AncestorPairs())/float64(c), "ancestors/concept")
		b.ReportMetric(took.Seconds(), "load-s")
		b.ReportMetric(float64(*peak-before)/(1<<20), "peak-MB")
		b.Logf("%d concepts, %d descriptions, %d ancestor pairs", c, d, r.AncestorPairs())
		runtime.KeepAlive(r)
	}
}

// BenchmarkIsA asks random subsumption questions of the synthetic release.
func BenchmarkIsA(b *testing.B) {
	files := synthetic(b)
	r, err := LoadRelease(files)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	ids := synthIDs
	q := make([][2]string, 4096)
	for i := range q {
		q[i] = [2]string{ids[rng.IntN(len(ids))], ids[rng.IntN(1000)]}
	}
	b.ResetTimer()
	yes := 0
	for i := 0; i < b.N; i++ {
		if r.IsA(q[i%len(q)][0], q[i%len(q)][1]) {
			yes++
		}
	}
	b.ReportMetric(float64(yes)/float64(b.N), "true-ratio")
}
