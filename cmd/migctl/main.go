// Command migctl is MIG's admin and integration command line.
//
//	migctl token -dev [-server URL] -role R8000 -org RX999 -user ID [-name NAME]
//	migctl map --format gp2gp|emis|tpp FILE
//	migctl agreement add|list|show|history|suspend|end|activate|import|export ...
//	migctl audit verify|export|report ...
//	migctl consent-report --practice DIR_OR_URL ...
//	migctl store copy -from DIR -to postgres://...
//	migctl version
//
// Every command prints its result on standard output and a one-line reason
// on standard error with a non-zero exit status when it fails.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"mig"
	"mig/adapters"
	"mig/adapters/record"
	"mig/cmd/internal/app"
	"mig/consent"
	"mig/consent/devidp"
	"mig/fhir"
)

const usage = `usage: migctl COMMAND [flags]

commands:
  token           print a token from the development identity provider (migd -dev)
  map             map one extract offline and print the FHIR R4 Bundle (collection)
  agreement       manage Information Sharing Agreements
  audit           verify, export and summarise the audit trail
  consent-report  list a practice's patients RIG asked to be set to share who have no consent recorded
  store           copy a single gateway's bbolt stores into PostgreSQL
  version         print the version, VCS revision and Go version

Run 'migctl COMMAND -h' for a command's flags.
`

// commands maps names to their entry points; each returns an error whose
// text is one line for the user.
var commands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
	"token":          cmdToken,
	"map":            cmdMap,
	"agreement":      cmdAgreement,
	"audit":          cmdAudit,
	"consent-report": cmdConsentReport,
	"store":          cmdStore,
	"version":        cmdVersion,
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "migctl: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if err := cmd(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "migctl "+args[0]+": "+oneLine(err))
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

type usageError struct{ msg string }

func (e usageError) Error() string   { return e.msg }
func (e usageError) Is(t error) bool { return t == errUsage }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// oneLine gives the user-facing reason: a gateway error's content-free
// message, or the error's first line.
func oneLine(err error) string {
	var me *mig.Error
	if errors.As(err, &me) {
		return me.Message
	}
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// subcommand is one verb of a command with verbs (agreement, audit).
type subcommand struct {
	name string
	run  func(ctx context.Context, args []string, stdout io.Writer) error
}

// dispatch runs the subcommand args[0] names, printing the command's usage
// for help or an unknown verb.
func dispatch(ctx context.Context, command, usageText string, args []string, stdout io.Writer, subs []subcommand) error {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.name
	}
	list := strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(diag, usageText)
		if len(args) == 0 {
			return usagef("give a subcommand: %s", list)
		}
		return flag.ErrHelp
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(ctx, args[1:], stdout)
		}
	}
	fmt.Fprint(diag, usageText)
	return usagef("unknown %s subcommand %q", command, args[0])
}

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("migctl "+name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	return fs
}

// parse parses flags, allowing them before and after positional arguments
// (migctl map FILE --format gp2gp works as well as the other order).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// cmdToken prints an access token from the development identity provider
// of a migd -dev server, alone on standard output.
func cmdToken(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlags("token")
	dev := fs.Bool("dev", false, "get the token from the development identity provider (required: production tokens come from NHS CIS2)")
	server := fs.String("server", "http://127.0.0.1:8080", "the migd -dev server")
	role := fs.String("role", "R8000", "national RBAC role code, e.g. R8000 (clinical), R8009 (receptionist), R0001 (privacy officer)")
	org := fs.String("org", "RX999", "ODS code of the user's organisation")
	user := fs.String("user", "", "the user's id (SDS user id)")
	name := fs.String("name", "", "display name (optional)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if !*dev {
		return usagef("only -dev tokens can be issued here; real tokens come from the identity provider (NHS CIS2)")
	}
	if *user == "" {
		return usagef("-user is required")
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	issuer, err := discoverIssuer(ctx, *server)
	if err != nil {
		return err
	}
	tok, err := devidp.RequestDevToken(ctx, issuer, devidp.DevTokenParams{User: *user, Role: *role, Org: *org, Name: *name})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

// discoverIssuer reads the gateway's SMART configuration for its issuer.
func discoverIssuer(ctx context.Context, server string) (string, error) {
	u := strings.TrimSuffix(server, "/") + "/fhir/.well-known/smart-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", usagef("bad -server URL")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("the gateway at %s is not reachable (is migd -dev running?)", server)
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc) != nil || doc.Issuer == "" {
		return "", fmt.Errorf("the server at %s did not give its identity provider (is it migd?)", server)
	}
	return doc.Issuer, nil
}

// offlineKey gives migctl map stable, opaque ids. They are not the ids a
// gateway serves (each gateway has its own secret key).
var offlineKey = []byte("mig offline mapping key: not a secret")[:32]

// cmdMap maps one extract offline and prints the R4 Bundle (collection).
// What it prints is what the gateway would send for the whole record under
// an agreement covering every view: confidential items withheld by the
// adapter, sensitive codes withheld by the default access rules, entries a
// view rule sets aside left out, the same warnings, no free text. With
// --report it also prints to standard error what was not shown and why.
func cmdMap(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("map")
	format := fs.String("format", "", "extract format: "+strings.Join(adapters.Formats(), ", "))
	nhs := fs.String("nhs", "", "fail unless the extract is about this NHS number (as the gateway does)")
	report := fs.Bool("report", false, "print to standard error what the extract held and what was not shown, and why")
	config := fs.String("config", "", "migd's configuration file: map with its risk set and terminology, as that gateway would")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *format == "" || len(pos) != 1 {
		return usagef("give --format and one extract FILE (or - for standard input)")
	}
	if !adapters.Supported(*format) {
		return usagef("unknown format %q (supported: %s)", *format, strings.Join(adapters.Formats(), ", "))
	}
	in := io.Reader(os.Stdin)
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return fmt.Errorf("cannot open %s: %v", pos[0], errors.Unwrap(err))
		}
		defer f.Close()
		in = f
	}
	opt := record.ParseOptions{NHSNumber: *nhs}
	var translator adapters.Translator
	// Without --config: the default risk set, no terminology, and terms
	// that pass the filter (as migd -dev); with it, what that gateway does.
	terms := fhir.TermPolicy{Filter: true}
	if *config != "" {
		cfg, err := app.LoadConfig(*config)
		if err != nil {
			return err
		}
		pipe, err := app.ParsePipeline(&cfg)
		if err != nil {
			return err
		}
		opt.Classifier, translator, terms = pipe.Classifier, pipe.Translator, pipe.Terms
	}
	rec, err := adapters.Parse(*format, in, opt)
	if err != nil {
		return err
	}
	if translator != nil {
		translator.Fill(rec)
	}
	record.Tag(rec, record.DefaultViewContext(time.Now().UTC()))
	ids, err := fhir.NewIDs(offlineKey)
	if err != nil {
		return err
	}
	sensitive := consent.DefaultConfig().SensitiveCodes.Compile()
	// .invalid is reserved (RFC 2606): fullUrls let the Bundle's relative
	// references resolve without pretending to be a real server.
	// Offline: reference and test-harness extracts may carry no NHS number.
	mapper := &fhir.Mapper{IDs: ids, Base: offlineBase, Offline: true, Now: time.Now, Terms: terms}
	res, err := mapper.Map(rec, func(e *record.Entry) bool { return !consent.IsSensitive(sensitive, e) })
	if err != nil {
		return err
	}
	all := append([]fhir.Resource{res.Patient}, res.Resources...)
	entries := make([]fhir.BundleEntry, 0, len(all)+1)
	for _, r := range all {
		if r.Proto == nil {
			continue
		}
		b, err := fhir.MarshalResource(r.Proto)
		if err != nil {
			return err
		}
		entries = append(entries, fhir.BundleEntry{FullURL: offlineBase + "/" + r.Type + "/" + r.ID, Resource: b})
	}
	if res.Withheld {
		entries = append(entries, fhir.BundleEntry{FullURL: "urn:uuid:00000000-0000-4000-8000-000000000001", Resource: fhir.WithheldWarning()})
	}
	if res.Unclassified {
		entries = append(entries, fhir.BundleEntry{FullURL: "urn:uuid:00000000-0000-4000-8000-000000000002", Resource: fhir.UnclassifiedWarning()})
	}
	if _, err = stdout.Write(append(fhir.Collection(nil, entries), '\n')); err != nil {
		return err
	}
	if *report {
		return fhir.Account(rec, res).Write(stderr, pos[0])
	}
	return nil
}

const offlineBase = "https://migctl.invalid/fhir"

// cmdVersion prints migctl's build: version, VCS revision, Go version.
func cmdVersion(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlags("version")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("version takes no arguments")
	}
	_, err = fmt.Fprintln(stdout, "migctl", app.ReadBuildInfo())
	return err
}
