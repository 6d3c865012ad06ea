package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"mig/adapters"
	"mig/adapters/record"
	"mig/adapters/source"
	"mig/audit"
	"mig/consent"
)

const consentReportUsage = `usage:
  migctl consent-report -practice DIR_OR_URL -format gp2gp|emis|tpp -ods ODS -user ADMIN_USER -data DIR
                        [-csv FILE] [-ca FILE] [-cert FILE -key FILE]

Lists the practice's patients in the groups practices were asked to set to
share (under 16; 75 and over with a care plan; long-term condition
registers) who have no consent to share recorded. It reads every record of
the practice, so it is for the practice's own administrator: the run is
recorded in the gateway's audit trail (DIR/audit.db, gateway stopped) and
the practice is notified before any row is written. Rows (NHS numbers) go to
-csv FILE (mode 0600) or standard output; counts go to standard error.
`

// practiceODS reports whether s is a GP practice ODS code (A99901).
func practiceODS(s string) bool {
	if len(s) != 6 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < 6; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// cmdConsentReport runs the RIG consent report over one practice.
func cmdConsentReport(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlags("consent-report")
	fs.SetOutput(diag)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), consentReportUsage+"\nflags:\n")
		fs.PrintDefaults()
	}
	practice := fs.String("practice", "", "the practice's extract directory, or its GP system's base URL (MIG HTTP source protocol)")
	format := fs.String("format", "", "extract format: "+strings.Join(adapters.Formats(), ", "))
	ods := fs.String("ods", "", "the practice's ODS code (the administrator's own practice)")
	user := fs.String("user", "", "the practice administrator's user id (recorded in the audit trail)")
	data := fs.String("data", "", "the gateway's data directory (DIR/audit.db; the gateway must be stopped)")
	csvFile := fs.String("csv", "", "write the rows to this file, mode 0600 (default: standard output)")
	caFile := fs.String("ca", "", "with a URL: PEM CAs trusted for the GP system")
	certFile := fs.String("cert", "", "with a URL: client certificate (mutual TLS)")
	keyFile := fs.String("key", "", "with a URL: client key")
	timeout := fs.Duration("timeout", 10*time.Second, "per-record fetch timeout")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 0:
		return usagef("consent-report takes flags only")
	case *practice == "" || *format == "" || *ods == "" || *user == "" || *data == "":
		return usagef("give -practice, -format, -ods, -user and -data")
	case !adapters.Supported(*format):
		return usagef("unknown format %q (supported: %s)", *format, strings.Join(adapters.Formats(), ", "))
	case !practiceODS(*ods):
		return usagef("-ods must be a GP practice ODS code such as A99901")
	case len(*user) > 64 || strings.ContainsFunc(*user, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return usagef("-user must be a user id of at most 64 printable characters without spaces")
	case *timeout <= 0:
		return usagef("-timeout must be positive")
	}

	var src source.Source
	if strings.HasPrefix(*practice, "http://") || strings.HasPrefix(*practice, "https://") {
		src, err = source.NewHTTP(source.HTTPOptions{ODS: *ods, Base: *practice, Timeout: *timeout,
			TLS: source.TLSOptions{CAFile: *caFile, CertFile: *certFile, KeyFile: *keyFile}})
	} else {
		if *caFile != "" || *certFile != "" || *keyFile != "" {
			return usagef("-ca, -cert and -key are for a practice URL")
		}
		// Nothing here notifies through the source (the audit store's
		// outbox does, via the gateway), so the access log stays untouched.
		src, err = source.NewDir(source.DirOptions{ODS: *ods, Path: *practice,
			AccessLog: filepath.Join(*data, "access-"+*ods+".ndjson")})
	}
	if err != nil {
		return err
	}
	// Open the audit store first: without it nothing may be read.
	store, err := openAudit(*data, false)
	if err != nil {
		return err
	}
	defer store.Close()

	reader := &adapters.Reader{
		Practices:    map[string]*source.Practice{*ods: {ODS: *ods, Format: *format, Source: src}},
		FetchTimeout: *timeout,
	}
	now := time.Now()
	res, err := consent.ConsentReport(ctx, func(fn func(string) error) error { return src.Patients(ctx, fn) },
		func(ctx context.Context, nhs string) (*record.Record, error) { return reader.Read(ctx, *ods, nhs) },
		consent.DefaultReportConfig(), now)
	if err != nil {
		return err
	}
	// Build the output before the audit write, print it only after.
	var rows bytes.Buffer
	if err := res.WriteCSV(&rows); err != nil {
		return err
	}
	ev := consentReportEvent(now, *user, *ods, res)
	if _, err := store.Append(ctx, ev); err != nil {
		return fmt.Errorf("the audit record could not be written, so no report is given: %s", oneLine(err))
	}
	if *csvFile != "" {
		f, err := createFile(*csvFile)
		if err != nil {
			return err
		}
		if _, err := f.Write(rows.Bytes()); err != nil {
			f.Close()
			return fmt.Errorf("cannot write %s", *csvFile)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("cannot write %s", *csvFile)
		}
	} else if _, err := stdout.Write(rows.Bytes()); err != nil {
		return err
	}
	return res.WriteSummary(diag)
}

// consentReportEvent is the audit record of one report run: the practice
// administrator read the practice's records in bulk (an operation), and the
// practice is told (Practice set).
func consentReportEvent(now time.Time, user, ods string, res *consent.ConsentReportResult) *audit.Event {
	return &audit.Event{
		Time:      now.UTC(),
		Type:      audit.TypeRest,
		Subtype:   "operation",
		Action:    "E",
		Outcome:   audit.OutcomeSuccess,
		UserID:    user,
		OrgODS:    ods,
		Practice:  ods,
		ClientID:  "migctl",
		RequestID: audit.NewID(),
		Operation: "consent-report",
		Resource:  "Patient",
		Query:     "consent-report practice=" + ods + " patients=" + strconv.Itoa(res.Checked),
		Released:  map[string]int{"Patient": len(res.Rows)},
	}
}
