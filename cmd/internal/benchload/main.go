// Command benchload runs issue 14's side-by-side measurement (make bench)
// and the soak (make soak). It is a benchmark tool, never part of a
// deployment, and is not run by make test.
//
// make bench: the stage benchmarks (go test: the tokenizer, and parse, map
// and encode per reference sample), then the three pipelines end to end on
// loopback, each a migd -dev subprocess of the benchmark build
// (bin/migd-bench, -tags migbench) with its own data directory, driven by
// vegeta (a real load generator, run as a subprocess) at each client count:
//
//   - pre-rendered: the same bytes served from memory behind the same
//     server, token check, consent chain and fsync'd audit (the limit);
//   - ours, with the mapping cache and without it;
//   - the usual toolchain (encoding/xml + jsonformat) behind the same seams.
//
// Each point runs the pipelines back to back (warm-up, then a timed run),
// so that the ratios come from one run on one machine state. It writes the
// results as markdown between <!-- bench:begin --> and <!-- bench:end -->
// in BENCHMARKS.md (-write) and to -out.
//
// make soak: one gateway (ours, as shipped) under 8 clients for 10 minutes,
// its resident memory sampled every 10 s; the growth is written between
// <!-- soak:begin --> and <!-- soak:end -->.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchload:", err)
		os.Exit(1)
	}
}

type options struct {
	migd, vegeta, testdata, work, write, out string
	duration, warmup                         time.Duration
	rounds                                   int
	clients                                  []int
	stages                                   bool
	stageBenchtime                           string
	stageCount                               int
	soak, soakInterval                       time.Duration
	soakClients                              int
	soakUncached                             bool
	only                                     string
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("benchload", flag.ContinueOnError)
	var o options
	var clients string
	fs.StringVar(&o.migd, "migd", "bin/migd-bench", "the benchmark build of migd (go build -tags migbench ./cmd/migd)")
	fs.StringVar(&o.vegeta, "vegeta", "bin/vegeta", "the vegeta load generator")
	fs.StringVar(&o.testdata, "testdata", "testdata", "the synthetic practices migd -dev serves")
	fs.StringVar(&o.work, "work", "var/bench", "working folder: each gateway's data directory and log, vegeta's results")
	fs.StringVar(&o.write, "write", "", "markdown file whose marked block to rewrite (BENCHMARKS.md)")
	fs.StringVar(&o.out, "out", "", "also write the markdown section to this file")
	fs.DurationVar(&o.duration, "duration", 4*time.Second, "timed run per pipeline and point")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up per pipeline and point, not measured")
	fs.IntVar(&o.rounds, "rounds", 2, "timed runs per pipeline and point, in alternating order; the one with the most throughput is kept")
	fs.StringVar(&clients, "clients", "1,8,64", "concurrent clients per point, comma separated")
	fs.BoolVar(&o.stages, "stages", true, "run the stage benchmarks (go test) first")
	fs.StringVar(&o.stageBenchtime, "stage-benchtime", "400ms", "-benchtime of each stage benchmark")
	fs.IntVar(&o.stageCount, "stage-count", 3, "runs of each stage benchmark; the fastest is kept")
	fs.DurationVar(&o.soak, "soak", 0, "run the soak for this long instead of the benchmark (make soak: 10m)")
	fs.DurationVar(&o.soakInterval, "soak-interval", 10*time.Second, "resident memory sampling interval of the soak")
	fs.IntVar(&o.soakClients, "soak-clients", 8, "concurrent clients of the soak")
	fs.BoolVar(&o.soakUncached, "soak-uncached", false, "soak ours with the mapping cache off (to tell the cache's fill from growth)")
	fs.StringVar(&o.only, "only", "", "run only the requests whose name contains this (whole, page, summary)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.rounds < 1 {
		return fmt.Errorf("-rounds must be at least 1")
	}
	for _, c := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			return fmt.Errorf("-clients: %q is not a client count", c)
		}
		o.clients = append(o.clients, n)
	}
	for _, f := range []string{o.migd, o.vegeta} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%s: %v (make bench builds it)", f, err)
		}
	}
	if err := os.MkdirAll(o.work, 0o700); err != nil {
		return err
	}
	machine := describeMachine()
	var md, block string
	if o.soak > 0 {
		res, err := soak(ctx, o)
		if err != nil {
			return err
		}
		md, block = renderSoak(machine, o, res), "soak"
	} else {
		var st []benchLine
		var tok []benchLine
		if o.stages {
			var err error
			if tok, err = goBench(ctx, "Tokenizers", o.stageBenchtime, o.stageCount, "./adapters/xmltok/"); err != nil {
				return err
			}
			if st, err = goBench(ctx, "PipelineSamples", o.stageBenchtime, o.stageCount, "./cmd/migctl/"); err != nil {
				return err
			}
		}
		points, err := endToEnd(ctx, o)
		if err != nil {
			return err
		}
		machine.loadEnd = loadavg()
		md, block = renderBench(machine, o, tok, st, points), "bench"
	}
	fmt.Print(md)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(md), 0o644); err != nil {
			return err
		}
	}
	if o.write != "" {
		old, err := os.ReadFile(o.write)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.WriteFile(o.write, replaceBlock(old, block, md), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "benchload: wrote the %s block of %s\n", block, filepath.Clean(o.write))
	}
	return nil
}
