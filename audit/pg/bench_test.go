package auditpg_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mig/audit"
	"mig/audit/bolt"
	auditpg "mig/audit/pg"
	"mig/audit/storetest"
	"mig/internal/pgtest"
)

// BenchmarkAppend measures durable appends of one event per call (what a
// request makes) on bbolt (one node: the file lock) and on PostgreSQL from
// one and from three nodes (Store instances on pools of their own), each
// node with the same number of concurrent clients. Run together, so the
// rows compare as ratios on one machine (BENCHMARKS.md).
func BenchmarkAppend(b *testing.B) {
	for _, clients := range []int{1, 16} {
		b.Run(fmt.Sprintf("bbolt/nodes=1/clients=%d", clients), func(b *testing.B) {
			s, err := bolt.Open(filepath.Join(b.TempDir(), "audit.db"), bolt.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			appendBench(b, []audit.Store{s}, clients, nil)
		})
		for _, nodes := range []int{1, 3} {
			b.Run(fmt.Sprintf("postgres/nodes=%d/clients=%d", nodes, clients), func(b *testing.B) {
				url := pgtest.URL(b)
				var stores []audit.Store
				var pgs []*auditpg.Store
				for range nodes {
					s := open(b, connect(b, url), auditpg.Options{})
					stores, pgs = append(stores, s), append(pgs, s)
				}
				appendBench(b, stores, clients, pgs)
			})
		}
	}
}

// appendBench runs b.N appends from clients goroutines per store.
func appendBench(b *testing.B, stores []audit.Store, clients int, pgs []*auditpg.Store) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for n, s := range stores {
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(n), uint64(c)))
				for {
					i := next.Add(1)
					if i > int64(b.N) {
						return
					}
					if _, err := s.Append(context.Background(), storetest.Event(rng, int(i), 10000, 200)); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	if len(pgs) > 0 {
		var batches, events uint64
		for _, s := range pgs {
			st := s.Stats()
			batches, events = batches+st.Batches, events+st.Events
		}
		if batches > 0 {
			b.ReportMetric(float64(events)/float64(batches), "events/commit")
		}
	}
}
