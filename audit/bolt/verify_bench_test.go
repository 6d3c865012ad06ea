package bolt_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"mig/audit"
	"mig/audit/bolt"
)

// BenchmarkVerify measures a full verification (hash chain, every
// attribute and index entry rebuilt from the bodies, the reverse walk of
// every index) and the start-up one (records after the latest checkpoint
// only) at each AUDIT_BENCH_EVENTS size.
//
//	AUDIT_BENCH_EVENTS=100000,1000000 go test -run XXX -bench Verify -benchtime 1x ./audit/bolt/
func BenchmarkVerify(b *testing.B) {
	defer func() {
		fixturesMu.Lock()
		defer fixturesMu.Unlock()
		for _, d := range tempDirs {
			os.RemoveAll(d)
		}
		tempDirs, fixtures = nil, map[int]*fixture{}
	}()
	ctx := context.Background()
	for _, n := range benchSizes() {
		f := getFixture(b, n)
		b.Run(fmt.Sprintf("events=%d/full", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				start := time.Now()
				rep, err := bolt.VerifyFile(ctx, f.path)
				if err != nil || !rep.OK() {
					b.Fatalf("%v %v", err, rep.Problems)
				}
				b.ReportMetric(float64(time.Since(start).Microseconds())/float64(n), "us/event")
			}
		})
		s, err := bolt.Open(f.path, bolt.Options{})
		if err != nil {
			b.Fatal(err)
		}
		seq, h, err := s.Head(ctx)
		if err != nil {
			b.Fatal(err)
		}
		// A checkpoint 1,000 records before the head.
		back := min(seq-1, 1000)
		hb, _, err := s.HashAt(ctx, seq-back)
		if err != nil {
			b.Fatal(err)
		}
		_ = h
		cp := audit.SignCheckpoint(benchKey, seq-back, hb, time.Now())
		b.Run(fmt.Sprintf("events=%d/after-checkpoint-1000", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				rep, err := s.Verify(ctx, bolt.VerifyOptions{Checkpoint: cp, AfterCheckpoint: true})
				if err != nil || !rep.OK() {
					b.Fatalf("%v %v", err, rep.Problems)
				}
			}
		})
		s.Close()
	}
}
