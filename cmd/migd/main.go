// Command migd is the MIG gateway server.
//
//	migd -config FILE            run a deployment described by FILE (JSON; see README)
//	migd -dev                    run the embedded demo (bbolt under ./var/dev, synthetic
//	                             practices from testdata/, a loopback identity provider)
//	migd -version                print the version, VCS revision and Go version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/rs/zerolog"

	"mig/cmd/internal/app"
)

func main() { os.Exit(exitCode(run(os.Args[1:]))) }

// stdout is where -version prints (a test's buffer).
var stdout io.Writer = os.Stdout

// exitCode is 0 for success and for -h (the usage was asked for, and
// printed), else the error on stderr and 1.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	}
	fmt.Fprintln(os.Stderr, "migd:", err)
	return 1
}

func run(args []string) error {
	fs := flag.NewFlagSet("migd", flag.ContinueOnError)
	configPath := fs.String("config", "", "configuration file (JSON) for a real deployment")
	dev := fs.Bool("dev", false, "run the embedded demo: synthetic practices, loopback identity provider, demo agreement")
	addr := fs.String("addr", "", "listen address (default 127.0.0.1:8080, or the config's addr)")
	data := fs.String("data", "", "data directory for the bbolt files and keys (default ./var/dev with -dev, or the config's dataDir)")
	testdata := fs.String("testdata", "testdata", "with -dev: folder holding the synthetic practices A99901..A99903")
	idpAddr := fs.String("dev-idp-addr", "", "with -dev: identity provider address (default: the gateway's port + 1 on 127.0.0.1)")
	gpsimURL := fs.String("dev-gpsim", "", "with -dev: URL of a running gpsim serving A99902 (default: start one in-process)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (default info)")
	opsAddr := fs.String("ops-addr", "", "ops listen address for /metrics, /healthz and /readyz (default: the config's opsAddr; none without it)")
	version := fs.Bool("version", false, "print the version, VCS revision and Go version, and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *version {
		_, err := fmt.Fprintln(stdout, "migd", app.ReadBuildInfo())
		return err
	}
	if !*dev && *configPath == "" {
		return fmt.Errorf("give -config FILE for a deployment, or -dev for the embedded demo")
	}
	if *dev && *configPath != "" {
		return fmt.Errorf("-dev and -config are exclusive: -dev builds its own configuration")
	}

	m := app.NewMain()
	if *configPath != "" {
		cfg, err := app.LoadConfig(*configPath)
		if err != nil {
			return err
		}
		m.Config = cfg
	} else {
		m.Config.DataDir = "var/dev"
	}
	m.Dev = *dev
	m.Testdata = *testdata
	m.DevIdPAddr = *idpAddr
	m.DevGPSimURL = *gpsimURL
	if *addr != "" {
		m.Config.Addr = *addr
	}
	if *data != "" {
		m.Config.DataDir = *data
	}
	if *logLevel != "" {
		m.Config.LogLevel = *logLevel
	}
	if *opsAddr != "" {
		m.Config.OpsAddr = *opsAddr
	}
	lvl, err := zerolog.ParseLevel(strings.ToLower(m.Config.LogLevel))
	if err != nil {
		return fmt.Errorf("log level %q: use debug, info, warn or error", m.Config.LogLevel)
	}
	m.Log = m.Log.Level(lvl)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		return err
	}
	if m.Dev {
		printDevBanner(m)
	}
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "migd: shutting down")
	return m.Close()
}

func printDevBanner(m *app.Main) {
	fmt.Printf(`
MIG gateway (development mode) is serving.

  FHIR base         %[1]s/fhir
  Capabilities      curl -s %[1]s/fhir/metadata
  Identity provider %[2]s  (development only: loopback, demo users)
  EMIS practice     A99902 over HTTP via gpsim at %[3]s
  Data              %[4]s
  Ops (metrics)     %[5]s

Get a token (an A&E clinician, organisation RX999, inside the demo agreement):

  TOKEN=$(bin/migctl token -dev -server %[1]s -role R8000 -org RX999 -user clin1)

Then record the patient's consent to view and read the record: README.md, "Quick start".
Press Ctrl-C to stop.
`, m.URL, m.Issuer, m.GPSimURL, m.Config.DataDir, opsLine(m))
}

func opsLine(m *app.Main) string {
	if m.OpsURL == "" {
		return "off (-ops-addr 127.0.0.1:9090 serves /metrics, /healthz, /readyz)"
	}
	return m.OpsURL + "/metrics  (and /healthz, /readyz)"
}
