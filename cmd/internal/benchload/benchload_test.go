package main

import (
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mig/internal/testenv"
)

func TestParseBench(t *testing.T) {
	out := []byte(`goos: linux
BenchmarkTokenizers/GP2GP-9990001030/fast-2         	     100	   2531000 ns/op	 309.45 MB/s	 2080000 B/op	   32826 allocs/op
BenchmarkPipelineSamples/PWTP4/map-2   	      50	   2600000 ns/op	 1810000 B/op	   20820 allocs/op
BenchmarkBroken/x-2 	 notanumber
PASS
`)
	got := parseBench(out)
	want := []benchLine{
		{Name: "Tokenizers/GP2GP-9990001030/fast", N: 100, NsOp: 2531000, MBs: 309.45, BytesOp: 2080000, AllocsOp: 32826},
		{Name: "PipelineSamples/PWTP4/map", N: 50, NsOp: 2600000, BytesOp: 1810000, AllocsOp: 20820},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines: %+v", len(got), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestFastest(t *testing.T) {
	got := fastest([]benchLine{{Name: "a", NsOp: 5}, {Name: "b", NsOp: 3}, {Name: "a", NsOp: 4}, {Name: "a", NsOp: 6}, {Name: "b", NsOp: 2}})
	want := []benchLine{{Name: "a", NsOp: 4}, {Name: "b", NsOp: 2}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("fastest = %+v, want %+v", got, want)
	}
}

// TestSummarise: percentiles of the answers of 200 only, every status
// counted, throughput over the span from the first request to the last
// answer.
func TestSummarise(t *testing.T) {
	var lines strings.Builder
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	// 100 answers of 200 taking 1..100 ms, one every 10 ms, and 50 refusals
	// of 503 taking 1 µs.
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&lines, `{"attack":"","seq":%d,"code":200,"timestamp":%q,"latency":%d,"bytes_out":0,"bytes_in":0,"error":"","body":null}`+"\n",
			i, t0.Add(time.Duration(i-1)*10*time.Millisecond).Format(time.RFC3339Nano), int64(i)*int64(time.Millisecond))
	}
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&lines, `{"code":503,"timestamp":%q,"latency":1000,"error":"503 Service Unavailable"}`+"\n", t0.Format(time.RFC3339Nano))
	}
	r, err := summarise([]byte(lines.String()))
	if err != nil {
		t.Fatal(err)
	}
	// The last answer: sent at 990 ms, took 100 ms.
	if r.Requests != 150 || r.Status["200"] != 100 || r.Status["503"] != 50 || r.Success != 100.0/150 ||
		r.P50 != 50*time.Millisecond || r.P99 != 99*time.Millisecond || r.Max != 100*time.Millisecond || math.Abs(r.Throughput-100/1.09) > 1e-9 {
		t.Errorf("summarised %+v", r)
	}
	if _, err := summarise(nil); err == nil {
		t.Error("a run with no requests was accepted")
	}
}

func TestStatusField(t *testing.T) {
	status := "Name:\tmigd\nVmPeak:\t 2000 kB\nVmHWM:\t  449000 kB\nVmRSS:\t  120000 kB\n"
	for field, want := range map[string]int64{"VmHWM": 449000 * 1024, "VmRSS": 120000 * 1024} {
		if got, err := statusField(status, field); err != nil || got != want {
			t.Errorf("%s: %d %v, want %d", field, got, err, want)
		}
	}
	if _, err := statusField(status, "VmSwap"); err == nil {
		t.Error("a missing field was read")
	}
}

func TestReplaceBlock(t *testing.T) {
	tests := []struct{ doc, want string }{
		{"", "<!-- bench:begin -->\nnew\n<!-- bench:end -->\n"},
		{"# M\n\nkept", "# M\n\nkept\n\n<!-- bench:begin -->\nnew\n<!-- bench:end -->\n"},
		{"a\n<!-- bench:begin -->\nold\nold\n<!-- bench:end -->\nb\n", "a\n<!-- bench:begin -->\nnew\n<!-- bench:end -->\nb\n"},
		// Another block is left alone.
		{"<!-- soak:begin -->\ns\n<!-- soak:end -->\n", "<!-- soak:begin -->\ns\n<!-- soak:end -->\n\n<!-- bench:begin -->\nnew\n<!-- bench:end -->\n"},
	}
	for _, tc := range tests {
		if got := string(replaceBlock([]byte(tc.doc), "bench", "new\n")); got != tc.want {
			t.Errorf("replaceBlock(%q) = %q, want %q", tc.doc, got, tc.want)
		}
	}
}

// TestRenderBench: the ratios and target verdicts come from the results
// given, not from anything fixed.
func TestRenderBench(t *testing.T) {
	res := func(tput float64, p99 time.Duration, rss int64) *result {
		return &result{Requests: 100, Throughput: tput, P50: p99 / 2, P99: p99, Max: p99, Success: 1, Status: map[string]int{"200": 100}, PeakRSS: rss, PeakAnon: rss / 2}
	}
	var points []point
	for _, r := range requests {
		for _, c := range []int{1, 8, 64} {
			// pre-rendered 200, cached 100, uncached 25, usual 2 req/s.
			points = append(points, point{req: r, clients: c, res: []*result{
				res(200, 5*time.Millisecond, 80<<20), res(100, 20*time.Millisecond, 200<<20),
				res(25, 30*time.Millisecond, 350<<20), res(2, 4*time.Second, 400<<20)}})
		}
	}
	st := []benchLine{
		{Name: "PipelineSamples/PWTP4/parse", N: 1, NsOp: 4e6, MBs: 300},
		{Name: "PipelineSamples/PWTP4/encode/ours", N: 1, NsOp: 1e6},
		{Name: "PipelineSamples/PWTP4/encode/jsonformat", N: 1, NsOp: 3.5e6},
	}
	tok := []benchLine{{Name: "Tokenizers/PWTP4/fast", N: 1, NsOp: 1e6, MBs: 320}, {Name: "Tokenizers/PWTP4/encoding-xml", N: 1, NsOp: 6e6, MBs: 53}}
	md := renderBench(machine{date: "today"}, options{duration: time.Second, clients: []int{1, 8, 64}}, tok, st, points)
	for _, want := range []string{
		"| whole record ($everything?_count=500) | 8 | 200.0 | 50% | 12% | 50x | 12x |",
		"uncached >= 10% of pre-rendered: 12% (met)",
		"revalidated cache >= 40% of pre-rendered: 50% (met)",
		"cached (as shipped) 50x (met); uncached 12x (met)",
		"320 MB/s on the slowest input (met)",
		"3.5x on the slowest sample (met;",
		"| 6.00 ms, 53 MB/s, 0 allocs, 0.0 MB | 6.0x |",
		"cached (as shipped) 20.0ms (met); uncached 30.0ms (**not met**)",
		"Peak RSS < 300 MB at 64 clients (ours): 350 MB (**not met**); anonymous alone 175 MB (met)",
		"| usual toolchain | 2.0 | 2000.0ms | 4000.0ms |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestSoakGrowth(t *testing.T) {
	s := &soakResult{warmup: time.Minute}
	for i := 1; i <= 60; i++ { // 10 minutes, 10 s apart, growing 1 MB a minute
		at := time.Duration(i) * 10 * time.Second
		s.samples = append(s.samples, rssSample{at: at, rss: 100<<20 + int64(at.Minutes()*(1<<20)), anon: 50 << 20})
	}
	early, late, slope := s.growth(func(x rssSample) int64 { return x.rss })
	if early >= late || slope < 0.99*(1<<20) || slope > 1.01*(1<<20) {
		t.Errorf("growth: early %d, late %d, slope %.0f B/min", early, late, slope)
	}
	if early, late, slope := s.growth(func(x rssSample) int64 { return x.anon }); early != late || slope != 0 {
		t.Errorf("flat anonymous memory: early %d, late %d, slope %.0f B/min", early, late, slope)
	}
	s.load = &result{Requests: 1, Status: map[string]int{"200": 1}, Success: 1}
	md := renderSoak(machine{}, options{soak: 10 * time.Minute, soakClients: 8, soakInterval: 10 * time.Second}, s)
	for _, want := range []string{"| RSS (VmRSS) | ", "| anonymous (RssAnon) | 50 MB | 50 MB | +0.0% | +0.00 MB per minute |", "(anonymous RSS in the last minute within 10% of the first): met."} {
		if !strings.Contains(md, want) {
			t.Errorf("soak markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestBenchBuildCompiles vets the benchmark build (-tags migbench: its
// files and tests in these packages), which go vet ./... does not see, and
// builds its migd.
func TestBenchBuildCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds migd")
	}
	for _, args := range [][]string{
		{"vet", "-tags", "migbench", "./cmd/internal/app/", "./fhir/", "./adapters/xmltok/"},
		{"build", "-tags", "migbench", "-o", filepath.Join(t.TempDir(), "migd-bench"), "./cmd/migd"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = testenv.ModuleRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
