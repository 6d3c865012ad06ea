package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"mig"
	"mig/audit"
	auditbolt "mig/audit/bolt"
	"mig/consent"
	consentbolt "mig/consent/bolt"
	"mig/fhir/rest"
)

// runCLI runs migctl with args and returns the exit status, standard
// output, and standard error (the one-line reason plus summaries).
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	old := diag
	diag = &errb
	defer func() { diag = old }()
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// tokens maps bearer tokens to principals for the test gateway.
type tokens map[string]*consent.Principal

func (v tokens) Verify(_ context.Context, raw string) (*consent.Principal, error) {
	if p, ok := v[raw]; ok {
		return p, nil
	}
	return nil, &mig.Error{Code: mig.EUNAUTHORIZED, Message: "token not valid"}
}

const (
	adminToken   = "admin-token"
	auditorToken = "auditor-token"
	clinToken    = "clinician-token"
)

// gateway is the real fhir/rest server over bolt stores in a temp dir.
type gateway struct {
	URL    string
	audit  *auditbolt.Store
	agrees consent.AgreementStore
}

func newGateway(t *testing.T) *gateway {
	t.Helper()
	dir := t.TempDir()
	as, err := auditbolt.Open(filepath.Join(dir, "audit.db"), auditbolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { as.Close() })
	cs, err := consentbolt.Open(filepath.Join(dir, "consent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	cfg := consent.DefaultConfig()
	cfg.AdminUsers = []string{"admin1"}
	chain := append(consent.NewChain(cfg, cs.Agreements(), cs.ViewConsents()), audit.NewRecorder(as, audit.RecorderOptions{}))
	srv := &rest.Server{
		Verifier: tokens{
			adminToken:   {UserID: "admin1", RoleCode: "R8000", OrgODS: "RX999", ClientID: "test"},
			auditorToken: {UserID: "auditor1", RoleCode: "R0001", OrgODS: "RX999", ClientID: "test"},
			clinToken:    {UserID: "clin1", RoleCode: "R8000", OrgODS: "RX999", ClientID: "test"},
		},
		Chain:        chain,
		Agreements:   cs.Agreements(),
		ViewConsents: cs.ViewConsents(),
		Audit:        as,
		Log:          zerolog.Nop(),
		AuditorWide:  []string{"RX999"},
		PageKey:      bytes.Repeat([]byte{7}, 32),
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	srv.Base = hs.URL + "/fhir"
	return &gateway{URL: hs.URL, audit: as, agrees: cs.Agreements()}
}

const agreementJSON = `{"id":"isa-1","title":"Test agreement","providers":["A99901","A99902"],"recipients":["RX999","NX999"],
 "views":["summary","medication"],"emergencyAccess":["RX999"],"validFrom":"2026-01-01T00:00:00Z","validTo":"2027-01-01T00:00:00Z","status":"active"}`

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAgreementLifecycle runs the same sequence against a stopped
// gateway's store (-data) and a running gateway (-server).
func TestAgreementLifecycle(t *testing.T) {
	for _, mode := range []string{"local", "remote"} {
		t.Run(mode, func(t *testing.T) {
			tmp := t.TempDir()
			var be, change []string
			var withStore func(fn func(consent.AgreementStore))
			if mode == "local" {
				data := t.TempDir()
				be = []string{"-data", data}
				change = append(be, "-by", "admin7")
				withStore = func(fn func(consent.AgreementStore)) {
					db, err := consentbolt.Open(filepath.Join(data, "consent.db"))
					if err != nil {
						t.Fatal(err)
					}
					defer db.Close()
					fn(db.Agreements())
				}
			} else {
				g := newGateway(t)
				be = []string{"-server", g.URL, "-token", adminToken}
				change = be
				withStore = func(fn func(consent.AgreementStore)) { fn(g.agrees) }
			}
			file := writeFile(t, tmp, "a.json", agreementJSON)
			steps := []struct {
				args []string
				code int
				out  []string // substrings of stdout
				err  string   // substring of stderr
			}{
				{append([]string{"agreement", "add", "-file", file}, change...), 0, []string{"agreement isa-1 added: active, version 1"}, ""},
				{append([]string{"agreement", "add", "-file", file}, change...), 1, nil, "already exists"},
				{append([]string{"agreement", "add", "-id", "isa-2", "-providers", "A99903", "-recipients", "RX999",
					"-views", "all", "-from", "2026-02-01"}, change...), 0, []string{"agreement isa-2 added: draft, version 1"}, ""},
				{append([]string{"agreement", "add", "-id", "isa-3", "-providers", "A99903", "-recipients", "RX999",
					"-views", "summary", "-from", "2026-02-01", "-emergency", "NX999"}, change...), 1, nil, "emergencyAccess[0]: not one of the recipients"},
				{append([]string{"agreement", "list"}, be...), 0, []string{
					"ID     STATUS  VERSION  PROVIDERS      RECIPIENTS   VIEWS  VALID",
					"isa-1  active  1        A99901,A99902  RX999,NX999  2      2026-01-01 to 2027-01-01",
					"isa-2  draft   1        A99903         RX999        10     2026-02-01 to open"}, ""},
				{append([]string{"agreement", "suspend", "isa-1"}, change...), 0, []string{"agreement isa-1: suspended, version 2"}, ""},
				{append([]string{"agreement", "activate", "isa-1"}, change...), 0, []string{"agreement isa-1: active, version 3"}, ""},
				{append([]string{"agreement", "end", "isa-1"}, change...), 0, []string{"agreement isa-1: ended, version 4"}, ""},
				{append([]string{"agreement", "activate", "isa-1"}, change...), 1, nil, "agreement has ended and cannot change status"},
				{append([]string{"agreement", "show", "isa-1"}, be...), 0, []string{`"status": "ended"`, `"version": 4`}, ""},
				{append([]string{"agreement", "show", "nope"}, be...), 1, nil, "agreement not found"},
				{append([]string{"agreement", "history", "isa-1"}, be...), 0, []string{`"version": 1`, `"version": 4`, `"status": "suspended"`}, ""},
			}
			for i, s := range steps {
				code, out, errs := runCLI(t, s.args...)
				if code != s.code {
					t.Fatalf("step %d %v: exit %d, want %d (stderr %q)", i, s.args[:2], code, s.code, errs)
				}
				for _, want := range s.out {
					if !strings.Contains(out, want) {
						t.Fatalf("step %d %v: stdout lacks %q:\n%s", i, s.args[:3], want, out)
					}
				}
				if !strings.Contains(errs, s.err) {
					t.Fatalf("step %d: stderr %q lacks %q", i, errs, s.err)
				}
			}
			// Who made the changes: -by locally, the token's user remotely.
			by := map[string]string{"local": "admin7", "remote": "admin1"}[mode]
			withStore(func(st consent.AgreementStore) {
				h, err := st.History(context.Background(), "isa-1")
				if err != nil || len(h) != 4 {
					t.Fatalf("history %d versions, %v", len(h), err)
				}
				for _, a := range h {
					if a.ChangedBy != by {
						t.Fatalf("changed by %q, want %q", a.ChangedBy, by)
					}
				}
			})

			// Export (stdout and -file), then import into a fresh store.
			code, out, errs := runCLI(t, append([]string{"agreement", "export"}, be...)...)
			if code != 0 {
				t.Fatalf("export: %d %s", code, errs)
			}
			var list []*consent.Agreement
			if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 2 {
				t.Fatalf("export: %d agreements, %v", len(list), err)
			}
			exp := filepath.Join(tmp, "export.json")
			if code, _, errs := runCLI(t, append([]string{"agreement", "export", "-file", exp}, be...)...); code != 0 {
				t.Fatalf("export -file: %d %s", code, errs)
			}
			if fi, err := os.Stat(exp); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("export file: %v %v", fi, err)
			}
			other := t.TempDir()
			code, out, errs = runCLI(t, "agreement", "import", "-file", exp, "-data", other, "-by", "admin8")
			if code != 0 || !strings.Contains(out, "imported 2 agreements") {
				t.Fatalf("import: %d %q %q", code, out, errs)
			}
			code, out, _ = runCLI(t, "agreement", "list", "-data", other)
			if code != 0 || !strings.Contains(out, "isa-1  ended") || !strings.Contains(out, "isa-2  draft") {
				t.Fatalf("list after import: %d\n%s", code, out)
			}
			// Importing into the source again: each id gets a new version.
			code, out, errs = runCLI(t, append([]string{"agreement", "import", "-file", exp}, change...)...)
			if code != 0 || !strings.Contains(out, "imported 2 agreements") {
				t.Fatalf("re-import: %d %q %q", code, out, errs)
			}
			withStore(func(st consent.AgreementStore) {
				if a, err := st.Get(context.Background(), "isa-2"); err != nil || a.Version != 2 {
					t.Fatalf("isa-2 after re-import: %+v %v", a, err)
				}
			})
		})
	}
}

func TestAgreementErrors(t *testing.T) {
	data := t.TempDir()
	g := newGateway(t)
	tmp := t.TempDir()
	bad := writeFile(t, tmp, "bad.json", `[`+agreementJSON+`]`)
	badImport := writeFile(t, tmp, "badimport.json", `[{"id":"x","providers":["nope"]}]`)
	t.Setenv("MIG_TOKEN", "")
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no subcommand", []string{"agreement"}, 2, "give a subcommand"},
		{"unknown subcommand", []string{"agreement", "frob"}, 2, `unknown agreement subcommand "frob"`},
		{"bad flag", []string{"agreement", "list", "-nope"}, 2, "flag provided but not defined"},
		{"no backend", []string{"agreement", "list"}, 2, "give -data DIR"},
		{"both backends", []string{"agreement", "list", "-data", data, "-server", g.URL}, 2, "not both"},
		{"change without -by", []string{"agreement", "suspend", "x", "-data", data}, 2, "-by USER is required"},
		{"-by with -server", []string{"agreement", "suspend", "x", "-server", g.URL, "-token", adminToken, "-by", "u"}, 2, "-by is for -data"},
		{"no token", []string{"agreement", "list", "-server", g.URL}, 2, "MIG_TOKEN"},
		{"bad server URL", []string{"agreement", "list", "-server", "ftp://x", "-token", "t"}, 2, "-server must be an http"},
		{"show without id", []string{"agreement", "show", "-data", data}, 2, "one agreement ID"},
		{"bad view", []string{"agreement", "add", "-data", data, "-by", "u", "-id", "a", "-providers", "A99901",
			"-recipients", "RX999", "-views", "gossip", "-from", "2026-01-01"}, 2, `"gossip" is not a view`},
		{"bad date", []string{"agreement", "add", "-data", data, "-by", "u", "-id", "a", "-providers", "A99901",
			"-recipients", "RX999", "-views", "summary", "-from", "yesterday"}, 2, "-from must be a date"},
		{"missing fields", []string{"agreement", "add", "-data", data, "-by", "u", "-id", "a"}, 2, "add needs -file"},
		{"file and flags", []string{"agreement", "add", "-data", data, "-by", "u", "-file", bad, "-id", "a"}, 2, "not both"},
		{"missing file", []string{"agreement", "add", "-data", data, "-by", "u", "-file", filepath.Join(tmp, "none.json")}, 1, "cannot open"},
		{"array for add", []string{"agreement", "add", "-data", data, "-by", "u", "-file", bad}, 1, "not one agreement as JSON"},
		{"invalid import", []string{"agreement", "import", "-data", data, "-by", "u", "-file", badImport}, 1, "agreements import [0]: agreement status"},
		{"import without file", []string{"agreement", "import", "-data", data, "-by", "u"}, 2, "needs -file"},
		{"list without store", []string{"agreement", "list", "-data", t.TempDir()}, 1, "no consent.db in"},
		{"data not a dir", []string{"agreement", "list", "-data", bad}, 1, "is not a directory"},
		{"remote bad token", []string{"agreement", "list", "-server", g.URL, "-token", "forged"}, 1, "gateway refused (HTTP 401): token not valid"},
		{"remote not admin", []string{"agreement", "list", "-server", g.URL, "-token", clinToken}, 1, "gateway refused (HTTP 403)"},
		{"remote unknown id", []string{"agreement", "end", "nope", "-server", g.URL, "-token", adminToken}, 1, "gateway refused (HTTP 404): agreement not found"},
		{"remote invalid import", []string{"agreement", "import", "-file", badImport, "-server", g.URL, "-token", adminToken}, 1, "gateway refused (HTTP 400): agreements import [0]"},
		{"remote unreachable", []string{"agreement", "list", "-server", "http://127.0.0.1:1", "-token", "t"}, 1, "not reachable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.err) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errs, tc.code, tc.err)
			}
			if code != 0 && out != "" {
				t.Fatalf("stdout on failure: %q", out)
			}
		})
	}
}

// TestAgreementLockedStore: a running gateway holds consent.db; local
// commands fail fast with a clear reason.
func TestAgreementLockedStore(t *testing.T) {
	data := t.TempDir()
	db, err := consentbolt.Open(filepath.Join(data, "consent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	code, _, errs := runCLI(t, "agreement", "list", "-data", data)
	if code != 1 || !strings.Contains(errs, "is locked by another process (a running migd") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("reason is not one line: %q", errs)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v", d)
	}
}
