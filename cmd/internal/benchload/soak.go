package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// soakResult is the soak's load and its resident-memory samples.
type soakResult struct {
	load    *result
	samples []rssSample
	warmup  time.Duration
}

// rssSample is one reading of /proc/PID/status: the resident set, and its
// anonymous part (the heap and stacks: what a leak grows) apart from its
// file-backed part (chiefly the bbolt stores' memory maps, which grow with
// the audit log by design and which the kernel can drop).
type rssSample struct {
	at             time.Duration // since the load started
	rss, anon, fil int64
}

// soak runs ours (as shipped: the cache on) under o.soakClients clients,
// round-robin over the three requests, for o.soak, sampling VmRSS every
// o.soakInterval.
func soak(ctx context.Context, o options) (*soakResult, error) {
	p := pipelines[pCached]
	if o.soakUncached {
		p = pipelines[pUncached]
	}
	g, err := startGateway(ctx, o, p, 0)
	if err != nil {
		return nil, err
	}
	defer g.stop()
	res := &soakResult{warmup: min(time.Minute, o.soak/5)}
	pid := g.cmd.Process.Pid
	stop := make(chan struct{})
	sampled := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(sampled)
		t := time.NewTicker(o.soakInterval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				rss, err1 := procStatus(pid, "VmRSS")
				anon, err2 := procStatus(pid, "RssAnon")
				fil, err3 := procStatus(pid, "RssFile")
				if err1 == nil && err2 == nil && err3 == nil {
					at := time.Since(start).Round(time.Second)
					res.samples = append(res.samples, rssSample{at, rss, anon, fil})
					fmt.Fprintf(os.Stderr, "benchload: soak %7s RSS %d MB (anonymous %d MB, file-backed %d MB)\n", at, rss>>20, anon>>20, fil>>20)
				}
			}
		}
	}()
	fmt.Fprintf(os.Stderr, "benchload: soak of %s, %d clients\n", o.soak, o.soakClients)
	res.load, err = attack(ctx, o, g, requests, o.soakClients, o.soak, "soak")
	close(stop)
	<-sampled
	if err != nil {
		return nil, err
	}
	return res, nil
}

// growth compares the median of one measure (of) in the first minute
// after the warm-up with its median in the last minute, and fits a line to
// every sample after the warm-up (bytes per minute).
func (s *soakResult) growth(of func(rssSample) int64) (early, late int64, perMinute float64) {
	var after []rssSample
	for _, x := range s.samples {
		if x.at > s.warmup {
			after = append(after, x)
		}
	}
	if len(after) < 2 {
		return 0, 0, 0
	}
	window := max(time.Minute, s.samples[len(s.samples)-1].at/10)
	first, last := after[0].at, after[len(after)-1].at
	var e, l []int64
	for _, x := range after {
		if x.at <= first+window {
			e = append(e, of(x))
		}
		if x.at >= last-window {
			l = append(l, of(x))
		}
	}
	var sx, sy, sxx, sxy float64
	for _, x := range after {
		t := x.at.Minutes()
		v := float64(of(x))
		sx += t
		sy += v
		sxx += t * t
		sxy += t * v
	}
	n := float64(len(after))
	if d := n*sxx - sx*sx; d != 0 {
		perMinute = (n*sxy - sx*sy) / d
	}
	return median(e), median(l), perMinute
}

func median(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	v = append([]int64(nil), v...)
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return v[len(v)/2]
}

func renderSoak(m machine, o options, s *soakResult) string {
	var b strings.Builder
	b.WriteString("## Soak, from `make soak` (issue 14)\n\n")
	fmt.Fprintf(&b, "Measured %s. Load average %s at the start, %s at the end.\n\n", m, m.loadStart, loadavg())
	flag, what := "", "ours as shipped (the cache on)"
	if o.soakUncached {
		flag, what = " -soak-uncached", "ours with the mapping cache off"
	}
	fmt.Fprintf(&b, "Command: `make soak` (`bin/benchload -soak %s -soak-clients %d -soak-interval %s%s -write BENCHMARKS.md`): %s, "+
		"%d clients round-robin over the whole record, the default `$everything` page and the Summary of 9990001030, for %s; resident memory (VmRSS) sampled every %s.\n\n",
		o.soak, o.soakClients, o.soakInterval, flag, what, o.soakClients, o.soak, o.soakInterval)
	l := s.load
	fmt.Fprintf(&b, "Load: %d requests, %.1f req/s answered 200 (%s%s), p50 %s, p99 %s, max %s.\n\n", l.Requests, l.Throughput, pct(l.Success), others(l.Status), ms(l.P50), ms(l.P99), ms(l.Max))
	b.WriteString("Resident memory after the " + s.warmup.String() + " warm-up: the median of the samples in its first minute against the median in the last, and a line fitted to every sample. " +
		"Anonymous memory is the process's own (heap, stacks): what a leak grows. File-backed is chiefly the bbolt stores' memory maps, which grow with the audit log by design (about 5 KB per request) and which the kernel reclaims under pressure.\n\n")
	b.WriteString("| measure | first minute | last minute | change | fitted slope |\n|---|---|---|---|---|\n")
	var anonGrowth float64
	for _, m := range []struct {
		name string
		of   func(rssSample) int64
	}{{"RSS (VmRSS)", func(x rssSample) int64 { return x.rss }}, {"anonymous (RssAnon)", func(x rssSample) int64 { return x.anon }}, {"file-backed (RssFile)", func(x rssSample) int64 { return x.fil }}} {
		early, late, slope := s.growth(m.of)
		if early <= 0 {
			continue
		}
		g := float64(late-early) / float64(early)
		if m.name == "anonymous (RssAnon)" {
			anonGrowth = g
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %+.1f%% | %+.2f MB per minute |\n", m.name, mb(early), mb(late), 100*g, slope/(1<<20))
	}
	fmt.Fprintf(&b, "\nNo growth of the process's own memory (anonymous RSS in the last minute within 10%% of the first): %s.\n\n", met(anonGrowth < 0.10))
	b.WriteString("| time | RSS | anonymous | file-backed |\n|---|---|---|---|\n")
	step := max(1, len(s.samples)/20)
	for i, x := range s.samples {
		if i%step == 0 || i == len(s.samples)-1 {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", x.at, mb(x.rss), mb(x.anon), mb(x.fil))
		}
	}
	b.WriteString("\n")
	return b.String()
}
