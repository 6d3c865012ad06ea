package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// benchLine is one line of go test -bench -benchmem output.
type benchLine struct {
	Name     string // without the Benchmark prefix and the -GOMAXPROCS suffix
	N        int
	NsOp     float64
	MBs      float64
	BytesOp  float64
	AllocsOp float64
}

// goBench runs one benchmark of one package count times and keeps, for
// each of its lines, the fastest run (other jobs on a shared machine only
// ever slow a run down).
func goBench(ctx context.Context, name, benchtime string, count int, pkg string) ([]benchLine, error) {
	fmt.Fprintf(os.Stderr, "benchload: go test -bench %s -count %d %s\n", name, count, pkg)
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^Benchmark"+name+"$", "-benchmem", "-benchtime", benchtime,
		"-count", strconv.Itoa(count), pkg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go test -bench %s %s: %v\n%s%s", name, pkg, err, out, stderr.Bytes())
	}
	lines := fastest(parseBench(out))
	if len(lines) == 0 {
		return nil, fmt.Errorf("go test -bench %s %s: no benchmark ran (reference samples absent?)\n%s", name, pkg, out)
	}
	return lines, nil
}

// fastest keeps, of the lines with one name, the one with the least ns/op,
// in order of first appearance.
func fastest(ls []benchLine) []benchLine {
	var out []benchLine
	at := map[string]int{}
	for _, l := range ls {
		i, ok := at[l.Name]
		switch {
		case !ok:
			at[l.Name] = len(out)
			out = append(out, l)
		case l.NsOp < out[i].NsOp:
			out[i] = l
		}
	}
	return out
}

func parseBench(out []byte) []benchLine {
	var res []benchLine
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		l := benchLine{Name: strings.TrimPrefix(f[0], "Benchmark")}
		if i := strings.LastIndexByte(l.Name, '-'); i > 0 {
			if _, err := strconv.Atoi(l.Name[i+1:]); err == nil {
				l.Name = l.Name[:i]
			}
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		l.N = n
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				l.NsOp = v
			case "MB/s":
				l.MBs = v
			case "B/op":
				l.BytesOp = v
			case "allocs/op":
				l.AllocsOp = v
			}
		}
		res = append(res, l)
	}
	return res
}

// machine is what the results were measured on.
type machine struct {
	date, cpu, mem, kernel, goVersion, tree string
	cores                                   int
	loadStart, loadEnd                      string
}

func describeMachine() machine {
	m := machine{date: time.Now().UTC().Format("2 January 2006 15:04 UTC"), cores: runtime.NumCPU(),
		goVersion: runtime.Version(), loadStart: loadavg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if n, err := statusField(string(b), "MemTotal"); err == nil {
			m.mem = fmt.Sprintf("%.0f GiB", float64(n)/(1<<30))
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		m.goVersion = strings.TrimSpace(string(out))
	}
	m.tree = "unknown"
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.tree = "commit " + strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
			m.tree += " with uncommitted changes"
		}
	}
	return m
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func (m machine) String() string {
	return fmt.Sprintf("%s; %s, %d cores, %s; %s; %s; %s", m.date, m.cpu, m.cores, m.mem, m.kernel, m.goVersion, m.tree)
}

// replaceBlock puts md between <!-- NAME:begin --> and <!-- NAME:end --> in
// doc, or appends the marked block when doc has none.
func replaceBlock(doc []byte, name, md string) []byte {
	begin, end := "<!-- "+name+":begin -->", "<!-- "+name+":end -->"
	block := begin + "\n" + strings.TrimRight(md, "\n") + "\n" + end
	s := string(doc)
	i := strings.Index(s, begin)
	j := strings.Index(s, end)
	if i >= 0 && j > i {
		return []byte(s[:i] + block + s[j+len(end):])
	}
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	if s != "" {
		s += "\n"
	}
	return []byte(s + block + "\n")
}

func mb(b int64) string { return fmt.Sprintf("%d MB", (b+(1<<19))>>20) }

func pct(x float64) string {
	switch {
	case x >= 0.1:
		return fmt.Sprintf("%.0f%%", 100*x)
	case x >= 0.01:
		return fmt.Sprintf("%.1f%%", 100*x)
	}
	return fmt.Sprintf("%.2f%%", 100*x)
}

func times(x float64) string {
	if x >= 10 {
		return fmt.Sprintf("%.0fx", x)
	}
	return fmt.Sprintf("%.1fx", x)
}

func ratio(a, b *result) float64 {
	if a == nil || b == nil || b.Throughput == 0 {
		return 0
	}
	return a.Throughput / b.Throughput
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// Indexes into pipelines.
const (
	pPre = iota
	pCached
	pUncached
	pUsual
)

func renderBench(m machine, o options, tok, st []benchLine, points []point) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Side by side, from one `make bench` run (issue 14)\n\n")
	fmt.Fprintf(&b, "Measured %s. Load average %s at the start, %s at the end (other jobs sharing the machine lower every pipeline alike; the ratios come from runs back to back).\n\n", m, m.loadStart, m.loadEnd)
	fmt.Fprintf(&b, "Command: `make bench` (builds `bin/migd-bench` with `-tags migbench` and `bin/vegeta` v12.13.0, runs the benchmark build's own tests, then `bin/benchload -write BENCHMARKS.md -duration %s -warmup %s -rounds %d -clients %s -stage-benchtime %s -stage-count %d`).\n\n",
		o.duration, o.warmup, o.rounds, joinInts(o.clients), o.stageBenchtime, o.stageCount)
	if len(points) > 0 {
		b.WriteString("### End to end: ratios\n\n")
		b.WriteString("Each pipeline is a `migd -dev` subprocess (benchmark build) on loopback: every request verifies its token, runs the consent chain and fsyncs its AuditEvent before the answer. Load: vegeta, a closed loop of N clients (`-rate 0 -workers N -max-workers N`), " +
			o.warmup.String() + " warm-up (at up to 8 clients) then " + o.duration.String() + " timed per pipeline and point (requests in flight at the end are waited for and counted), " + strconv.Itoa(o.rounds) + " rounds in alternating order (the four pipelines, then the four backwards), each pipeline keeping its round with the most throughput. Patient 9990001030 (GP2GP, 26 years, 783 KB extract). Throughput counts answers of 200 only, and p50, p99 and max are theirs (a refusal by admission control, 503 at once, is counted in the share answered 200, not in the latencies). Peak RSS is VmHWM over the timed run, reset to the current RSS just before it, so it includes what the process still holds from earlier points, and the bbolt stores' memory maps (file-backed pages, which grow with the audit log); peak anonymous is the most RssAnon (heap and stacks) sampled every 100 ms over the run.\n\n")
		b.WriteString("| request | clients | pre-rendered req/s | ours cached / pre-rendered | ours uncached / pre-rendered | ours cached / usual | ours uncached / usual |\n|---|---|---|---|---|---|---|\n")
		for _, pt := range points {
			r := pt.res
			fmt.Fprintf(&b, "| %s | %d | %.1f | %s | %s | %s | %s |\n", pt.req.name, pt.clients, r[pPre].Throughput,
				pct(ratio(r[pCached], r[pPre])), pct(ratio(r[pUncached], r[pPre])), times(ratio(r[pCached], r[pUsual])), times(ratio(r[pUncached], r[pUsual])))
		}
		b.WriteString("\n### End to end: each pipeline\n\n")
		b.WriteString("| request | clients | pipeline | req/s (200) | p50 (200) | p99 (200) | max (200) | peak RSS | peak anonymous | answered 200 | body |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, pt := range points {
			for i, r := range pt.res {
				if r == nil {
					continue
				}
				fmt.Fprintf(&b, "| %s | %d | %s | %.1f | %s | %s | %s | %s | %s | %s%s | %.0f KB |\n", pt.req.name, pt.clients, pipelines[i].name, r.Throughput,
					ms(r.P50), ms(r.P99), ms(r.Max), mb(r.PeakRSS), mb(r.PeakAnon), pct(r.Success), others(r.Status), float64(r.Body)/1000)
			}
		}
		b.WriteString("\n")
	}
	if len(st) > 0 {
		b.WriteString("### Stages, per reference sample\n\n")
		b.WriteString("`go test -run '^$' -bench '^BenchmarkPipelineSamples$' -benchmem -benchtime " + o.stageBenchtime + " -count " + strconv.Itoa(o.stageCount) + " ./cmd/migctl/`, the fastest of the runs: parse (adapters/gp2gp through xmltok), map (record.Tag + fhir.Mapper), encode every resource and the Bundle with ours (`fhir.MarshalResource`) and with jsonformat (the reference), and all three with ours. MB/s: of extract for parse and all, of JSON for encode.\n\n")
		b.WriteString("| sample | parse | map | encode, ours | encode, jsonformat | ours / jsonformat | all |\n|---|---|---|---|---|---|---|\n")
		for _, s := range samples(st) {
			get := func(stage string) benchLine { return find(st, "PipelineSamples/"+s+"/"+stage) }
			ours, ref := get("encode/ours"), get("encode/jsonformat")
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", s, stage(get("parse")), stage(get("map")), stage(ours), stage(ref),
				times(div(ref.NsOp, ours.NsOp)), stage(get("all")))
		}
		b.WriteString("\n")
	}
	if len(tok) > 0 {
		b.WriteString("### Tokenizer\n\n")
		b.WriteString("`go test -run '^$' -bench '^BenchmarkTokenizers$' -benchmem -benchtime " + o.stageBenchtime + " -count " + strconv.Itoa(o.stageCount) + " ./adapters/xmltok/`, the fastest of the runs: every token through `Decoder.Next`, with every check, on the fast path and on encoding/xml.\n\n")
		b.WriteString("| input | fast | encoding/xml | fast / encoding/xml |\n|---|---|---|---|\n")
		for _, in := range inputs(tok) {
			f, x := find(tok, "Tokenizers/"+in+"/fast"), find(tok, "Tokenizers/"+in+"/encoding-xml")
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", in, stage(f), stage(x), times(div(x.NsOp, f.NsOp)))
		}
		b.WriteString("\n")
	}
	b.WriteString(targets(tok, st, points))
	return b.String()
}

// targets checks issue 14's targets against this run's numbers.
func targets(tok, st []benchLine, points []point) string {
	var b strings.Builder
	b.WriteString("### Issue 14's targets, judged on this run\n\n")
	at := func(name string, clients int) []*result {
		for _, pt := range points {
			if strings.HasPrefix(pt.req.name, name) && pt.clients == clients {
				return pt.res
			}
		}
		return nil
	}
	if r := at("whole record", 8); r != nil {
		u, c := ratio(r[pUncached], r[pPre]), ratio(r[pCached], r[pPre])
		fmt.Fprintf(&b, "- Whole record, 8 clients, uncached >= 10%% of pre-rendered: %s (%s).\n", pct(u), met(u >= 0.10))
		fmt.Fprintf(&b, "- Whole record, 8 clients, revalidated cache >= 40%% of pre-rendered: %s (%s).\n", pct(c), met(c >= 0.40))
		uu, cu := ratio(r[pUncached], r[pUsual]), ratio(r[pCached], r[pUsual])
		fmt.Fprintf(&b, "- >= 10x the usual toolchain end to end (whole record, 8 clients): cached (as shipped) %s (%s); uncached %s (%s).\n",
			times(cu), met(cu >= 10), times(uu), met(uu >= 10))
	}
	if len(tok) > 0 {
		lo := -1.0
		for _, in := range inputs(tok) {
			if v := find(tok, "Tokenizers/"+in+"/fast").MBs; lo < 0 || v < lo {
				lo = v
			}
		}
		fmt.Fprintf(&b, "- Tokenizer >= 300 MB/s with every check: %.0f MB/s on the slowest input (%s).\n", lo, met(lo >= 300))
	}
	if len(st) > 0 {
		lo := -1.0
		for _, s := range samples(st) {
			v := div(find(st, "PipelineSamples/"+s+"/encode/jsonformat").NsOp, find(st, "PipelineSamples/"+s+"/encode/ours").NsOp)
			if lo < 0 || v < lo {
				lo = v
			}
		}
		fmt.Fprintf(&b, "- Encoder >= 3x jsonformat: %s on the slowest sample (%s; identical output is proven by fhir's tests, not here).\n", times(lo), met(lo >= 3))
	}
	if r := at("whole record", 1); r != nil {
		fmt.Fprintf(&b, "- p99 < 25 ms at 1 client, whole record: cached (as shipped) %s (%s); uncached %s (%s).\n", ms(r[pCached].P99),
			met(r[pCached].P99 < 25*time.Millisecond), ms(r[pUncached].P99), met(r[pUncached].P99 < 25*time.Millisecond))
	}
	if len(points) > 0 {
		var worst time.Duration
		var rss, anon int64
		for _, pt := range points {
			for _, i := range []int{pCached, pUncached} {
				worst = max(worst, pt.res[i].P99)
				if pt.clients == 64 {
					rss = max(rss, pt.res[i].PeakRSS)
					anon = max(anon, pt.res[i].PeakAnon)
				}
			}
		}
		fmt.Fprintf(&b, "- p99 < 3 s for admitted requests (answered 200) at any load (ours): worst %s (%s).\n", ms(worst), met(worst < 3*time.Second))
		if rss > 0 {
			fmt.Fprintf(&b, "- Peak RSS < 300 MB at 64 clients (ours): %s (%s); anonymous alone %s (%s).\n", mb(rss), met(rss < 300<<20), mb(anon), met(anon < 300<<20))
		}
		for _, i := range []int{pCached, pUncached} {
			var parts []string
			ok := true
			for _, r := range requests {
				peak, last := 0.0, 0.0
				for _, pt := range points {
					if pt.req == r {
						peak = max(peak, pt.res[i].Throughput)
						last = pt.res[i].Throughput
					}
				}
				if peak > 0 {
					parts = append(parts, fmt.Sprintf("%s %s", strings.SplitN(r.name, " (", 2)[0], pct(last/peak)))
					ok = ok && last >= 0.9*peak
				}
			}
			if len(parts) > 0 {
				fmt.Fprintf(&b, "- Throughput at the most clients >= 90%% of peak (%s): %s (%s).\n", pipelines[i].name, strings.Join(parts, ", "), met(ok))
			}
		}
	}
	b.WriteString("\n")
	return b.String()
}

func others(status map[string]int) string {
	var keys []string
	for k := range status {
		if k != "200" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		if k == "0" {
			parts = append(parts, fmt.Sprintf("%d no answer", status[k]))
		} else {
			parts = append(parts, fmt.Sprintf("%d x %s", status[k], k))
		}
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func stage(l benchLine) string {
	if l.N == 0 {
		return "-"
	}
	s := fmt.Sprintf("%.2f ms", l.NsOp/1e6)
	if l.MBs > 0 {
		s += fmt.Sprintf(", %.0f MB/s", l.MBs)
	}
	return s + fmt.Sprintf(", %s allocs, %.1f MB", thousands(l.AllocsOp), l.BytesOp/1e6)
}

func thousands(v float64) string {
	n := int64(v + 0.5)
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func find(ls []benchLine, name string) benchLine {
	for _, l := range ls {
		if l.Name == name {
			return l
		}
	}
	return benchLine{}
}

// samples lists the samples of PipelineSamples lines, in order of first
// appearance; inputs does the same for Tokenizers.
func samples(ls []benchLine) []string { return seconds(ls, "PipelineSamples/") }
func inputs(ls []benchLine) []string  { return seconds(ls, "Tokenizers/") }

func seconds(ls []benchLine, prefix string) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range ls {
		rest, ok := strings.CutPrefix(l.Name, prefix)
		if !ok {
			continue
		}
		s, _, _ := strings.Cut(rest, "/")
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
