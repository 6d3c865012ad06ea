// Command srv is the Shared Record Viewer: a server-side web app that shows
// the ten MIG views of a patient's GP record, through the gateway's public
// FHIR API, with the signed-in user's token.
//
//	srv -dev [-addr 127.0.0.1:8082] [-gateway http://127.0.0.1:8080] [-data var/dev]
//	srv -gateway URL -issuer URL -client-id ID -public-url URL -session-key FILE [-frame-ancestors ORIGINS] ...
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"mig/consent/devidp"
	"mig/viewer"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "srv:", err)
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	dev            bool
	addr           string
	publicURL      string
	gateway        string
	issuer         string
	clientID       string
	sessionKey     string
	idle           time.Duration
	frameAncestors string
	launchIssuers  string
	assets         string
	data           string
	logLevel       string
}

func parse(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("srv", flag.ContinueOnError)
	fs.BoolVar(&o.dev, "dev", false, "development: the gateway's -dev identity provider, an EHR simulator page, a session key in -data")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8082", "listen address")
	fs.StringVar(&o.publicURL, "public-url", "", "URL browsers reach the viewer at (default http://<addr>)")
	fs.StringVar(&o.gateway, "gateway", "http://127.0.0.1:8080", "the gateway's base URL (its FHIR base is <gateway>/fhir)")
	fs.StringVar(&o.issuer, "issuer", "", "OpenID Connect issuer (with -dev: read from the gateway's SMART configuration)")
	fs.StringVar(&o.clientID, "client-id", "", "OpenID Connect client id (with -dev: mig-dev)")
	fs.StringVar(&o.sessionKey, "session-key", "", "file holding the 32-byte session key as hex, shared by every viewer node (with -dev: created in -data)")
	fs.DurationVar(&o.idle, "idle-timeout", 15*time.Minute, "sign out after this much inactivity")
	fs.StringVar(&o.frameAncestors, "frame-ancestors", "", "comma-separated clinical-system origins allowed to embed the viewer")
	fs.StringVar(&o.launchIssuers, "launch-issuers", "", "comma-separated FHIR bases a launch's iss may name (default: the gateway's)")
	fs.StringVar(&o.assets, "assets", "viewer/node_modules/nhsuk-frontend/dist", "NHS.UK frontend's dist folder (npm install in viewer/)")
	fs.StringVar(&o.data, "data", "var/dev", "with -dev: the gateway's data directory (EHR simulator key, session key)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if !o.dev && (o.issuer == "" || o.clientID == "" || o.sessionKey == "" || o.publicURL == "") {
		return nil, errors.New("give -issuer, -client-id, -session-key and -public-url, or -dev")
	}
	return o, nil
}

func run(args []string) error {
	o, err := parse(args)
	if err != nil {
		return err
	}
	lvl, err := zerolog.ParseLevel(o.logLevel)
	if err != nil {
		return fmt.Errorf("log level %q: use debug, info, warn or error", o.logLevel)
	}
	log := zerolog.New(os.Stderr).Level(lvl).With().Timestamp().Str("app", "srv").Logger()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %v", o.addr, err)
	}
	if o.publicURL == "" {
		o.publicURL = "http://" + ln.Addr().String()
	}
	cfg, err := Configure(ctx, o)
	if err != nil {
		ln.Close()
		return err
	}
	cfg.Log = log
	v, err := viewer.New(ctx, *cfg)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: v.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	fmt.Printf("Shared Record Viewer on %s\n", o.publicURL)
	if cfg.EHRSim != nil {
		fmt.Printf("EHR simulator (launch in context) on %s/ehr\n", o.publicURL)
	}
	log.Info().Str("url", o.publicURL).Bool("dev", o.dev).Msg("viewer serving")
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Configure turns the options into a viewer configuration. With -dev it
// reads the issuer from the gateway's SMART configuration (retrying while
// the gateway starts), uses the development client, keeps a session key in
// the data directory and serves the EHR simulator with the key the gateway
// registered.
func Configure(ctx context.Context, o *options) (*viewer.Config, error) {
	gw := strings.TrimSuffix(o.gateway, "/")
	cfg := &viewer.Config{PublicURL: o.publicURL, FHIRBase: gw + "/fhir", Issuer: o.issuer, ClientID: o.clientID,
		IdleTimeout: o.idle, AssetsDir: o.assets}
	if o.frameAncestors != "" {
		cfg.FrameAncestors = splitList(o.frameAncestors)
	}
	if o.launchIssuers != "" {
		cfg.LaunchIssuers = splitList(o.launchIssuers)
	}
	if st, err := os.Stat(o.assets); err != nil || !st.IsDir() {
		fmt.Fprintf(os.Stderr, "srv: note: NHS.UK frontend not found at %s (run npm install in viewer/); pages use the viewer's own styles only\n", o.assets)
		cfg.AssetsDir = ""
	}
	keyFile := o.sessionKey
	if o.dev {
		if cfg.ClientID == "" {
			cfg.ClientID = devidp.DefaultClientID
		}
		if cfg.Issuer == "" {
			iss, err := devIssuer(ctx, gw)
			if err != nil {
				return nil, err
			}
			cfg.Issuer = iss
		}
		if keyFile == "" {
			keyFile = filepath.Join(o.data, "srv-session.key")
		}
		key, err := devidp.ReadClientKey(filepath.Join(o.data, "ehrsim-client.key"))
		if err != nil {
			return nil, fmt.Errorf("EHR simulator: %v (start migd -dev with the same -data first)", err)
		}
		cfg.EHRSim = &viewer.EHRSim{ClientID: devidp.EHRSimClientID, Key: key, Patients: DevPatients}
	}
	key, err := loadOrCreateKey(keyFile, o.dev)
	if err != nil {
		return nil, err
	}
	cfg.SessionKey = key
	return cfg, nil
}

// DevPatients are the synthetic patients the EHR simulator offers.
var DevPatients = []viewer.SimPatient{
	{NHS: "9990001006", BirthDate: "1950-03-14", Label: "Ann Gpgp, 999 000 1006 (GP2GP practice A99901)"},
	{NHS: "9990002002", BirthDate: "1950-03-14", Label: "Ann Emis, 999 000 2002 (EMIS practice A99902)"},
	{NHS: "9990003009", BirthDate: "1950-03-14", Label: "Ann Tpp, 999 000 3009 (TPP practice A99903)"},
}

// devIssuer reads the identity provider's issuer from the gateway's SMART
// configuration, waiting up to 30 s for the gateway to start.
func devIssuer(ctx context.Context, gw string) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		iss, err := smartIssuer(ctx, gw+"/fhir/.well-known/smart-configuration")
		if err == nil {
			return iss, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("gateway at %s: %v (is migd -dev running?)", gw, err)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func loadOrCreateKey(file string, create bool) ([]byte, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) && create {
		key := make([]byte, 32)
		rand.Read(key)
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(file, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("session key: %v", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("session key: %v", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("session key file %s must hold 32 bytes as hex", file)
	}
	return key, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
