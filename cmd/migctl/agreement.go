package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"mig/adapters/record"
	"mig/consent"
	consentbolt "mig/consent/bolt"
)

const agreementUsage = `usage:
  migctl agreement list     (-data DIR | -server URL [-token TOKEN])
  migctl agreement show     (-data DIR | -server URL [-token TOKEN]) ID
  migctl agreement history  (-data DIR | -server URL [-token TOKEN]) ID
  migctl agreement add      (-data DIR -by USER | -server URL [-token TOKEN]) -file AGREEMENT.json
  migctl agreement add      (-data DIR -by USER | -server URL [-token TOKEN]) -id ID [-title TITLE]
                            -providers A99901,A99902 -recipients RX999,NX999 -views summary,medication|all
                            [-emergency RX999] -from 2026-01-01 [-to 2027-01-01] [-status draft|active]
  migctl agreement suspend  (-data DIR -by USER | -server URL [-token TOKEN]) ID
  migctl agreement end      (-data DIR -by USER | -server URL [-token TOKEN]) ID
  migctl agreement activate (-data DIR -by USER | -server URL [-token TOKEN]) ID
  migctl agreement import   (-data DIR -by USER | -server URL [-token TOKEN]) -file AGREEMENTS.json
  migctl agreement export   (-data DIR | -server URL [-token TOKEN]) [-file AGREEMENTS.json]

-data works on DIR/consent.db directly and needs the gateway stopped (a running
migd locks the file); -server uses the running gateway's admin API with an
admin's token (-token or MIG_TOKEN). Every change is a new version.
`

// agreementBackend is where agreements live: the store file of a stopped
// gateway, or a running gateway's admin API.
type agreementBackend interface {
	List(ctx context.Context) ([]*consent.Agreement, error)
	Get(ctx context.Context, id string) (*consent.Agreement, error)
	History(ctx context.Context, id string) ([]*consent.Agreement, error)
	Add(ctx context.Context, a *consent.Agreement) (*consent.Agreement, error)
	SetStatus(ctx context.Context, id, status string) (*consent.Agreement, error)
	Import(ctx context.Context, r io.Reader) (int, error)
	Export(ctx context.Context, w io.Writer) error
	Close() error
}

// localAgreements works on a consent/bolt file; by names who makes changes.
type localAgreements struct {
	db  *consentbolt.DB
	by  string
	now func() time.Time
}

func (l *localAgreements) store() consent.AgreementStore { return l.db.Agreements() }

func (l *localAgreements) List(ctx context.Context) ([]*consent.Agreement, error) {
	return l.store().List(ctx)
}

func (l *localAgreements) Get(ctx context.Context, id string) (*consent.Agreement, error) {
	return l.store().Get(ctx, id)
}

func (l *localAgreements) History(ctx context.Context, id string) ([]*consent.Agreement, error) {
	return l.store().History(ctx, id)
}

func (l *localAgreements) Add(ctx context.Context, a *consent.Agreement) (*consent.Agreement, error) {
	if err := consent.AddAgreement(ctx, l.store(), a, l.by, l.now()); err != nil {
		return nil, err
	}
	return a, nil
}

func (l *localAgreements) SetStatus(ctx context.Context, id, status string) (*consent.Agreement, error) {
	return consent.SetStatus(ctx, l.store(), id, status, l.by, l.now())
}

func (l *localAgreements) Import(ctx context.Context, r io.Reader) (int, error) {
	return consent.ImportAgreements(ctx, l.store(), r, l.by, l.now())
}

func (l *localAgreements) Export(ctx context.Context, w io.Writer) error {
	return consent.ExportAgreements(ctx, l.store(), w)
}

func (l *localAgreements) Close() error { return l.db.Close() }

// remoteAgreements uses the gateway's admin API; the gateway records the
// token's user as the one making each change.
type remoteAgreements struct{ c *remote }

func agreementPath(id string, suffix string) string {
	return "/admin/agreements/" + url.PathEscape(id) + suffix
}

func (r remoteAgreements) List(ctx context.Context) ([]*consent.Agreement, error) {
	var out []*consent.Agreement
	return out, r.c.getJSON(ctx, "/admin/agreements", &out)
}

func (r remoteAgreements) Get(ctx context.Context, id string) (*consent.Agreement, error) {
	var out consent.Agreement
	return &out, r.c.getJSON(ctx, agreementPath(id, ""), &out)
}

func (r remoteAgreements) History(ctx context.Context, id string) ([]*consent.Agreement, error) {
	var out []*consent.Agreement
	return out, r.c.getJSON(ctx, agreementPath(id, "/_history"), &out)
}

func (r remoteAgreements) Add(ctx context.Context, a *consent.Agreement) (*consent.Agreement, error) {
	// Check here too: a clear message without a round trip.
	if err := consent.ValidateAgreement(a); err != nil {
		return nil, err
	}
	body, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	var out consent.Agreement
	return &out, r.c.sendJSON(ctx, http.MethodPost, "/admin/agreements", bytes.NewReader(body), "application/json", &out)
}

func (r remoteAgreements) SetStatus(ctx context.Context, id, status string) (*consent.Agreement, error) {
	op := map[string]string{consent.AgreementSuspended: "$suspend", consent.AgreementEnded: "$end", consent.AgreementActive: "$activate"}[status]
	var out consent.Agreement
	return &out, r.c.sendJSON(ctx, http.MethodPost, agreementPath(id, "/"+op), nil, "", &out)
}

func (r remoteAgreements) Import(ctx context.Context, body io.Reader) (int, error) {
	var out struct {
		Imported int `json:"imported"`
	}
	err := r.c.sendJSON(ctx, http.MethodPost, "/admin/agreements/$import", io.LimitReader(body, consent.MaxImportBytes+1), "application/json", &out)
	return out.Imported, err
}

func (r remoteAgreements) Export(ctx context.Context, w io.Writer) error {
	resp, err := r.c.do(ctx, http.MethodGet, "/admin/agreements/$export", nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("agreements export interrupted")
	}
	return nil
}

func (r remoteAgreements) Close() error { return nil }

// backendFlags are the flags every agreement subcommand takes.
type backendFlags struct {
	data, server, token, by *string
}

func addBackendFlags(fs *flag.FlagSet) backendFlags {
	return backendFlags{
		data:   fs.String("data", "", "the gateway's data directory (uses DIR/consent.db; the gateway must be stopped)"),
		server: fs.String("server", "", "a running gateway's base URL (admin API)"),
		token:  fs.String("token", "", "an admin's bearer token for -server (default: $MIG_TOKEN)"),
		by:     fs.String("by", "", "with -data: the user id recorded as making the change"),
	}
}

// open returns the backend the flags name; change tells whether the
// subcommand writes (then -data needs -by).
func (b backendFlags) open(change bool) (agreementBackend, error) {
	switch {
	case *b.data != "" && *b.server != "":
		return nil, usagef("give -data or -server, not both")
	case *b.server != "":
		if *b.by != "" {
			return nil, usagef("-by is for -data: the gateway records the token's user")
		}
		c, err := newRemote(*b.server, *b.token)
		if err != nil {
			return nil, err
		}
		return remoteAgreements{c}, nil
	case *b.data != "":
		if change && strings.TrimSpace(*b.by) == "" {
			return nil, usagef("-by USER is required for changes with -data (it is recorded in the agreement's history)")
		}
		if len(*b.by) > 64 || strings.ContainsFunc(*b.by, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return nil, usagef("-by must be a user id of at most 64 printable characters")
		}
		path, err := storeFile(*b.data, "consent.db", !change)
		if err != nil {
			return nil, err
		}
		db, err := consentbolt.Open(path)
		if err != nil {
			return nil, openError(path, err)
		}
		return &localAgreements{db: db, by: *b.by, now: time.Now}, nil
	}
	return nil, usagef("give -data DIR (gateway stopped) or -server URL")
}

// cmdAgreement manages Information Sharing Agreements.
func cmdAgreement(ctx context.Context, args []string, stdout, _ io.Writer) error {
	return dispatch(ctx, "agreement", agreementUsage, args, stdout, []subcommand{
		{"list", func(ctx context.Context, a []string, w io.Writer) error { return agreementList(ctx, a, w) }},
		{"show", func(ctx context.Context, a []string, w io.Writer) error { return agreementShow(ctx, "show", a, w) }},
		{"history", func(ctx context.Context, a []string, w io.Writer) error { return agreementShow(ctx, "history", a, w) }},
		{"add", agreementAdd},
		{"suspend", func(ctx context.Context, a []string, w io.Writer) error { return agreementStatus(ctx, "suspend", a, w) }},
		{"end", func(ctx context.Context, a []string, w io.Writer) error { return agreementStatus(ctx, "end", a, w) }},
		{"activate", func(ctx context.Context, a []string, w io.Writer) error {
			return agreementStatus(ctx, "activate", a, w)
		}},
		{"import", agreementImport},
		{"export", agreementExport},
	})
}

func agreementFlags(sub string) (*flag.FlagSet, backendFlags) {
	fs := newFlags("agreement " + sub)
	fs.SetOutput(diag)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), agreementUsage+"\nflags:\n")
		fs.PrintDefaults()
	}
	return fs, addBackendFlags(fs)
}

func agreementList(ctx context.Context, args []string, stdout io.Writer) error {
	fs, bf := agreementFlags("list")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("list takes no arguments")
	}
	be, err := bf.open(false)
	if err != nil {
		return err
	}
	defer be.Close()
	list, err := be.List(ctx)
	if err != nil {
		return err
	}
	return writeAgreementTable(stdout, list)
}

// writeAgreementTable prints one line per agreement: id, status, version,
// providers, recipients, number of views, valid period.
func writeAgreementTable(w io.Writer, list []*consent.Agreement) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tVERSION\tPROVIDERS\tRECIPIENTS\tVIEWS\tVALID")
	for _, a := range list {
		to := "open"
		if !a.ValidTo.IsZero() {
			to = day(a.ValidTo)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t%s to %s\n", a.ID, a.Status, a.Version,
			strings.Join(a.Providers, ","), strings.Join(a.Recipients, ","), len(a.Views), day(a.ValidFrom), to)
	}
	return tw.Flush()
}

// day prints a date, with the time only when it is not midnight UTC.
func day(t time.Time) string {
	t = t.UTC()
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}

// oneID reads the agreement id: one positional argument.
func oneID(sub string, pos []string) (string, error) {
	if len(pos) != 1 || pos[0] == "" {
		return "", usagef("%s takes one agreement ID", sub)
	}
	return pos[0], nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func agreementShow(ctx context.Context, sub string, args []string, stdout io.Writer) error {
	fs, bf := agreementFlags(sub)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := oneID(sub, pos)
	if err != nil {
		return err
	}
	be, err := bf.open(false)
	if err != nil {
		return err
	}
	defer be.Close()
	if sub == "history" {
		h, err := be.History(ctx, id)
		if err != nil {
			return err
		}
		return writeJSON(stdout, h)
	}
	a, err := be.Get(ctx, id)
	if err != nil {
		return err
	}
	return writeJSON(stdout, a)
}

// splitList reads a comma-separated flag value.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func agreementAdd(ctx context.Context, args []string, stdout io.Writer) error {
	fs, bf := agreementFlags("add")
	file := fs.String("file", "", "one agreement as JSON (see README: agreements), instead of the flags below")
	id := fs.String("id", "", "agreement id (letters, digits, '-', '.', '_')")
	title := fs.String("title", "", "administrative title")
	providers := fs.String("providers", "", "GP practice ODS codes, comma-separated")
	recipients := fs.String("recipients", "", "recipient organisation ODS codes, comma-separated")
	views := fs.String("views", "", "views shared, comma-separated, or all: "+joinViews(record.AllViews()))
	emergency := fs.String("emergency", "", "recipients allowed emergency access, comma-separated")
	from := fs.String("from", "", "in force from (2026-01-01 or an RFC 3339 instant)")
	to := fs.String("to", "", "in force until, exclusive (default: open-ended)")
	status := fs.String("status", consent.AgreementDraft, "draft or active")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("add takes flags only")
	}
	var a *consent.Agreement
	if *file != "" {
		set := false
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "id", "title", "providers", "recipients", "views", "emergency", "from", "to", "status":
				set = true
			}
		})
		if set {
			return usagef("give -file or the agreement flags, not both")
		}
		if a, err = readAgreementFile(*file); err != nil {
			return err
		}
	} else {
		if a, err = agreementFromFlags(*id, *title, *providers, *recipients, *views, *emergency, *from, *to, *status); err != nil {
			return err
		}
	}
	if a.Status != consent.AgreementDraft && a.Status != consent.AgreementActive {
		return usagef("a new agreement's status is draft or active")
	}
	be, err := bf.open(true)
	if err != nil {
		return err
	}
	defer be.Close()
	got, err := be.Add(ctx, a)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "agreement %s added: %s, version %d\n", got.ID, got.Status, got.Version)
	return err
}

func joinViews(vs []record.View) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ",")
}

func readAgreementFile(path string) (*consent.Agreement, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open %s: %v", path, errors.Unwrap(err))
	}
	defer f.Close()
	dec := json.NewDecoder(io.LimitReader(f, consent.MaxImportBytes))
	dec.DisallowUnknownFields()
	var a consent.Agreement
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("%s is not one agreement as JSON (an array is for import)", path)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s holds more than one JSON value", path)
	}
	return &a, nil
}

func agreementFromFlags(id, title, providers, recipients, views, emergency, from, to, status string) (*consent.Agreement, error) {
	if id == "" || providers == "" || recipients == "" || views == "" || from == "" {
		return nil, usagef("add needs -file, or -id, -providers, -recipients, -views and -from")
	}
	a := &consent.Agreement{ID: id, Title: title, Providers: splitList(providers), Recipients: splitList(recipients),
		EmergencyAccess: splitList(emergency), Status: status}
	if views == "all" {
		a.Views = record.AllViews()
	} else {
		for _, v := range splitList(views) {
			pv, ok := record.ParseView(v)
			if !ok {
				return nil, usagef("-views: %q is not a view (%s)", v, joinViews(record.AllViews()))
			}
			a.Views = append(a.Views, pv)
		}
	}
	var err error
	if a.ValidFrom, _, err = parseDay("from", from); err != nil {
		return nil, err
	}
	if to != "" {
		if a.ValidTo, _, err = parseDay("to", to); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func agreementStatus(ctx context.Context, sub string, args []string, stdout io.Writer) error {
	fs, bf := agreementFlags(sub)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := oneID(sub, pos)
	if err != nil {
		return err
	}
	status := map[string]string{"suspend": consent.AgreementSuspended, "end": consent.AgreementEnded, "activate": consent.AgreementActive}[sub]
	be, err := bf.open(true)
	if err != nil {
		return err
	}
	defer be.Close()
	a, err := be.SetStatus(ctx, id, status)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "agreement %s: %s, version %d\n", a.ID, a.Status, a.Version)
	return err
}

func agreementImport(ctx context.Context, args []string, stdout io.Writer) error {
	fs, bf := agreementFlags("import")
	file := fs.String("file", "", "a JSON array of agreements (as written by export)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *file == "" {
		return usagef("import needs -file AGREEMENTS.json")
	}
	f, err := os.Open(*file)
	if err != nil {
		return fmt.Errorf("cannot open %s: %v", *file, errors.Unwrap(err))
	}
	defer f.Close()
	be, err := bf.open(true)
	if err != nil {
		return err
	}
	defer be.Close()
	n, err := be.Import(ctx, f)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "imported %d agreements\n", n)
	return err
}

func agreementExport(ctx context.Context, args []string, stdout io.Writer) error {
	fs, bf := agreementFlags("export")
	file := fs.String("file", "", "write to this file (default: standard output)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("export takes no arguments")
	}
	be, err := bf.open(false)
	if err != nil {
		return err
	}
	defer be.Close()
	if *file == "" {
		return be.Export(ctx, stdout)
	}
	// Build the export in memory (agreements are few) so a failure leaves
	// no half-written file.
	var buf bytes.Buffer
	if err := be.Export(ctx, &buf); err != nil {
		return err
	}
	f, err := createFile(*file)
	if err != nil {
		return err
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("cannot write %s", *file)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot write %s", *file)
	}
	return nil
}
