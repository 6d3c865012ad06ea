// Command gpsim simulates a GP system speaking MIG's HTTP source protocol
// over a directory of extracts, with injectable latency, errors and
// outages (package mig/adapters/source/gpsim). It prints its listening
// address on stdout and shuts down gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"mig/adapters/source/gpsim"
)

func main() { os.Exit(exitCode(run(os.Args[1:]))) }

// exitCode is 0 for success and for -h (the usage was asked for, and
// printed), else the error on stderr and 1.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	}
	fmt.Fprintln(os.Stderr, "gpsim:", strings.TrimPrefix(err.Error(), "gpsim: "))
	return 1
}

func run(args []string) error {
	fs := flag.NewFlagSet("gpsim", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8091", "listen address")
	var c gpsim.Config
	fs.StringVar(&c.Dir, "dir", "", "directory of <NHS number>.xml extracts and patients.json (required)")
	fs.StringVar(&c.Notifications, "notifications", "", "file access notifications are appended to (JSON lines)")
	fs.DurationVar(&c.Latency, "latency", 0, "latency added to every answer")
	fs.DurationVar(&c.Jitter, "jitter", 0, "up to this much extra latency, at random")
	fs.Float64Var(&c.ErrorRate, "error-rate", 0, "share of requests answered 500 (0..1)")
	fs.BoolVar(&c.Down, "down", false, "start in an outage (connections dropped)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.Dir == "" {
		return errors.New("-dir is required")
	}
	h, err := gpsim.New(c)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
