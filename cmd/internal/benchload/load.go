package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// result is one timed run of one pipeline at one point.
type result struct {
	Requests   int
	Throughput float64       // successful requests per second
	P50, P99   time.Duration // of the answers of 200 only
	Max        time.Duration
	Success    float64        // share answered 200
	Status     map[string]int // answers by status code ("0": no answer)
	Body       int            // bytes of the answer (as the gateway answered it before the run)
	PeakRSS    int64          // bytes: VmHWM over the timed run
	PeakAnon   int64          // bytes: the most RssAnon sampled (every 100 ms) over it
}

// point is one request at one client count, with each pipeline's result
// (in pipelines order; nil when not run).
type point struct {
	req     request
	clients int
	res     []*result
}

// endToEnd starts one gateway per pipeline, then for each request and
// client count runs every pipeline back to back.
func endToEnd(ctx context.Context, o options) ([]point, error) {
	var gws []*gateway
	defer func() {
		for _, g := range gws {
			g.stop()
		}
	}()
	for i, p := range pipelines {
		fmt.Fprintf(os.Stderr, "benchload: starting %s\n", p.name)
		g, err := startGateway(ctx, o, p, i)
		if err != nil {
			return nil, err
		}
		gws = append(gws, g)
	}
	var out []point
	for _, r := range requests {
		if o.only != "" && !strings.Contains(r.name, o.only) {
			continue
		}
		for _, c := range o.clients {
			pt := point{req: r, clients: c, res: make([]*result, len(gws))}
			// Rounds in alternating order (ABCD, then DCBA, ...), so that
			// drift in the machine's load falls on every pipeline alike;
			// each pipeline keeps its run with the most throughput (other
			// jobs only ever slow a run down).
			for round := 0; round < o.rounds; round++ {
				for k := range gws {
					i := k
					if round%2 == 1 {
						i = len(gws) - 1 - k
					}
					g := gws[i]
					if err := ctx.Err(); err != nil {
						return nil, err
					}
					if o.warmup > 0 {
						// Warm (the cache filled, the heap grown) at up to 8
						// clients: 64 slow requests would take longer to
						// drain than the timed run.
						if _, err := attack(ctx, o, g, []request{r}, min(c, 8), o.warmup, fmt.Sprintf("warm-%d", i)); err != nil {
							return nil, err
						}
					}
					if err := resetPeak(g.cmd.Process.Pid); err != nil {
						return nil, fmt.Errorf("peak RSS reset: %v", err)
					}
					stop := sampleAnon(g.cmd.Process.Pid)
					res, err := attack(ctx, o, g, []request{r}, c, o.duration, fmt.Sprintf("run-%d", i))
					anon := stop()
					if err != nil {
						return nil, err
					}
					res.PeakAnon, res.Body = anon, g.body[r.path]
					if res.PeakRSS, err = procStatus(g.cmd.Process.Pid, "VmHWM"); err != nil {
						return nil, err
					}
					if pt.res[i] == nil || res.Throughput > pt.res[i].Throughput {
						pt.res[i] = res
					}
					fmt.Fprintf(os.Stderr, "benchload: %-38s %2d clients  %-16s %8.1f req/s  p50 %8s  p99 %8s  RSS %4d MB (anonymous %4d MB)  200s %.1f%%\n",
						r.name, c, g.p.name, res.Throughput, ms(res.P50), ms(res.P99), res.PeakRSS>>20, res.PeakAnon>>20, 100*res.Success)
				}
			}
			out = append(out, pt)
		}
	}
	return out, nil
}

// sampleAnon reads pid's anonymous resident memory every 100 ms until the
// returned function is called, which returns the most it saw.
func sampleAnon(pid int) func() int64 {
	done := make(chan struct{})
	peak := make(chan int64)
	go func() {
		var most int64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := procStatus(pid, "RssAnon"); err == nil {
				most = max(most, v)
			}
			select {
			case <-done:
				peak <- most
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 { close(done); return <-peak }
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) + "ms"
}

// attack runs vegeta against g: clients workers, each sending its next
// request when the last is answered (a closed loop: -rate=0 with as many
// workers as clients), for d, round-robin over reqs.
func attack(ctx context.Context, o options, g *gateway, reqs []request, clients int, d time.Duration, tag string) (*result, error) {
	dir := filepath.Join(o.work, "vegeta")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var targets bytes.Buffer
	for _, r := range reqs {
		fmt.Fprintf(&targets, "GET %s%s\nAuthorization: Bearer %s\n\n", g.url, g.target(r), g.token)
	}
	tf := filepath.Join(dir, tag+".targets")
	if err := os.WriteFile(tf, targets.Bytes(), 0o600); err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, tag+".bin")
	n := strconv.Itoa(clients)
	// -max-body 0: every answer is read whole, but none is kept in the
	// results file (546 KB a request would fill the disk).
	cmd := exec.CommandContext(ctx, o.vegeta, "attack", "-targets", tf, "-rate", "0", "-workers", n, "-max-workers", n,
		"-duration", d.String(), "-timeout", "60s", "-keepalive=true", "-max-body", "0", "-output", bin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("vegeta attack: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	out, err := exec.CommandContext(ctx, o.vegeta, "encode", "-to", "json", bin).Output()
	os.Remove(bin)
	if err != nil {
		return nil, fmt.Errorf("vegeta encode: %v", err)
	}
	return summarise(out)
}

// summarise reads vegeta's results (JSON, one a line): every answer by
// status, and the latencies of those answered 200 only (the admitted
// ones: a refusal by admission control is answered at once, and would
// flatter the percentiles). Throughput is answers of 200 per second from
// the first request sent to the last answer received.
func summarise(lines []byte) (*result, error) {
	res := &result{Status: map[string]int{}}
	var lat []time.Duration
	var first, last time.Time
	dec := json.NewDecoder(bytes.NewReader(lines))
	for {
		var v struct {
			Code      int           `json:"code"`
			Timestamp time.Time     `json:"timestamp"`
			Latency   time.Duration `json:"latency"`
		}
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("vegeta results: %v", err)
		}
		res.Requests++
		res.Status[strconv.Itoa(v.Code)]++
		if first.IsZero() || v.Timestamp.Before(first) {
			first = v.Timestamp
		}
		if end := v.Timestamp.Add(v.Latency); end.After(last) {
			last = end
		}
		if v.Code == 200 {
			lat = append(lat, v.Latency)
		}
	}
	if res.Requests == 0 {
		return nil, fmt.Errorf("vegeta results: no requests were made")
	}
	res.Success = float64(len(lat)) / float64(res.Requests)
	if len(lat) > 0 {
		slices.Sort(lat)
		rank := func(q float64) time.Duration { return lat[min(len(lat)-1, int(math.Ceil(q*float64(len(lat))))-1)] }
		res.P50, res.P99, res.Max = rank(0.50), rank(0.99), lat[len(lat)-1]
		if span := last.Sub(first); span > 0 {
			res.Throughput = float64(len(lat)) / span.Seconds()
		}
	}
	return res, nil
}
