package fhirjson_test

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"mig/adapters"
	"mig/adapters/record"
	"mig/fhir"
	"mig/fhir/fhirjson"
	"mig/internal/testenv"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	"google.golang.org/protobuf/proto"
)

// benchInputs are the records the writer benchmarks write: the largest
// reference sample (PWTP4.xml, 1.2 MB of GP2GP; skipped when
// ../shared/reference is absent) and our largest synthetic extract (the
// 26-year GP2GP record 9990001030).
func benchInputs(b *testing.B) []struct {
	name string
	res  []*bcrpb.ContainedResource
} {
	root := testenv.ModuleRoot(b)
	var out []struct {
		name string
		res  []*bcrpb.ContainedResource
	}
	for _, in := range []struct{ name, path string }{
		{"PWTP4", filepath.Join(root, "..", "shared", "reference", "gp2gp", "samples", "input", "PWTP4.xml")},
		{"9990001030", filepath.Join(root, "testdata", "A99901", "9990001030.xml")},
	} {
		doc, err := os.ReadFile(in.path)
		if err != nil {
			continue
		}
		now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		rec, err := adapters.Parse("gp2gp", bytes.NewReader(doc), record.ParseOptions{Now: func() time.Time { return now }})
		if err != nil {
			b.Fatal(err)
		}
		record.Tag(rec, record.DefaultViewContext(now))
		ids, err := fhir.NewIDs(bytes.Repeat([]byte{5}, 32))
		if err != nil {
			b.Fatal(err)
		}
		m := &fhir.Mapper{IDs: ids, Base: "https://mig.invalid/fhir", Offline: true, Now: func() time.Time { return now }}
		res, err := m.Map(rec, nil)
		if err != nil {
			b.Fatal(err)
		}
		var prs []*bcrpb.ContainedResource
		for _, r := range append([]fhir.Resource{res.Patient}, res.Resources...) {
			prs = append(prs, r.Proto)
		}
		out = append(out, struct {
			name string
			res  []*bcrpb.ContainedResource
		}{in.name, prs})
	}
	if len(out) == 0 {
		b.Fatal("no input")
	}
	return out
}

func jsonSize(b *testing.B, rs []*bcrpb.ContainedResource) int64 {
	n := 0
	for _, r := range rs {
		j, err := fhirjson.Marshal(r)
		if err != nil {
			b.Fatal(err)
		}
		n += len(j)
	}
	return int64(n)
}

// BenchmarkWriter writes every resource of each input with fhirjson and
// with jsonformat (compact R4, as the gateway configured it). jsonformat
// rewrites the protos it writes, so it writes fresh copies, made outside
// the timer.
//
//	go test -run '^$' -bench 'Writer$' -benchmem ./fhir/fhirjson/
func BenchmarkWriter(b *testing.B) {
	for _, in := range benchInputs(b) {
		size := jsonSize(b, in.res)
		b.Run(in.name+"/fhirjson", func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				for _, r := range in.res {
					if _, err := fhirjson.Marshal(r); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run(in.name+"/jsonformat", func(b *testing.B) {
			m, err := jsonformat.NewMarshaller(false, "", "", fhirversion.R4)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				cs := clones(in.res)
				b.StartTimer()
				for _, r := range cs {
					if _, err := m.Marshal(r); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

func clones(rs []*bcrpb.ContainedResource) []*bcrpb.ContainedResource {
	out := make([]*bcrpb.ContainedResource, len(rs))
	for i, r := range rs {
		out[i] = proto.Clone(r).(*bcrpb.ContainedResource)
	}
	return out
}

// BenchmarkWriterRatio writes each input with both writers in turn, in
// the same iterations, and reports the ratios of one run: speed
// (jsonformat's time / fhirjson's), allocations and bytes allocated
// (jsonformat's / fhirjson's), with each writer's MB/s.
//
//	go test -run '^$' -bench WriterRatio -benchtime 50x ./fhir/fhirjson/
func BenchmarkWriterRatio(b *testing.B) {
	for _, in := range benchInputs(b) {
		size := jsonSize(b, in.res)
		b.Run(in.name, func(b *testing.B) {
			m, err := jsonformat.NewMarshaller(false, "", "", fhirversion.R4)
			if err != nil {
				b.Fatal(err)
			}
			var ours, theirs time.Duration
			var oursAllocs, theirsAllocs, oursBytes, theirsBytes uint64
			var ms runtime.MemStats
			mem := func() (uint64, uint64) { runtime.ReadMemStats(&ms); return ms.Mallocs, ms.TotalAlloc }
			n := 0
			for b.Loop() {
				b.StopTimer()
				cs := clones(in.res)
				a0, y0 := mem()
				b.StartTimer()
				t0 := time.Now()
				for _, r := range in.res {
					if _, err := fhirjson.Marshal(r); err != nil {
						b.Fatal(err)
					}
				}
				t1 := time.Now()
				b.StopTimer()
				a1, y1 := mem()
				b.StartTimer()
				t2 := time.Now()
				for _, r := range cs {
					if _, err := m.Marshal(r); err != nil {
						b.Fatal(err)
					}
				}
				t3 := time.Now()
				b.StopTimer()
				a2, y2 := mem()
				b.StartTimer()
				ours += t1.Sub(t0)
				theirs += t3.Sub(t2)
				oursAllocs += a1 - a0
				oursBytes += y1 - y0
				theirsAllocs += a2 - a1
				theirsBytes += y2 - y1
				n++
			}
			mb := func(d time.Duration) float64 { return float64(size) * float64(n) / d.Seconds() / 1e6 }
			b.ReportMetric(mb(ours), "fhirjson-MB/s")
			b.ReportMetric(mb(theirs), "jsonformat-MB/s")
			b.ReportMetric(float64(theirs)/float64(ours), "speed-x")
			b.ReportMetric(float64(theirsAllocs)/float64(oursAllocs), "allocs-x")
			b.ReportMetric(float64(theirsBytes)/float64(oursBytes), "bytes-x")
			b.ReportMetric(float64(oursAllocs)/float64(n), "fhirjson-allocs/op")
			b.ReportMetric(float64(theirsAllocs)/float64(n), "jsonformat-allocs/op")
		})
	}
}
