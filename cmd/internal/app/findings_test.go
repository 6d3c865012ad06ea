package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"mig/internal/testenv"
)

// The smaller findings of issue 12, each through real HTTP against the
// demo gateway (or, for start-up errors, a second Main).

// rawDo sends req as is (several values of one header, odd sizes) and
// reads the whole answer; a transport error is returned, not fatal.
func rawDo(client *http.Client, req *http.Request) (*response, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// TestServerLimits: the http.Server sets every timeout and a header cap
// (it had none: headers could be 1 MB); request lines and header fields
// over the gateway's caps get 414 and 431 OperationOutcomes, audited.
func TestServerLimits(t *testing.T) {
	g := startGateway(t, nil)
	srv := g.m.server
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.IdleTimeout <= 0 || srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes >= 1<<20 {
		t.Fatalf("http.Server ReadHeaderTimeout %v ReadTimeout %v IdleTimeout %v MaxHeaderBytes %d: each must be set, headers well under 1 MB",
			srv.ReadHeaderTimeout, srv.ReadTimeout, srv.IdleTimeout, srv.MaxHeaderBytes)
	}
	clin := g.token("limits-clin", "R8000", "RX999")
	pid := g.ids.Patient(tppConsent)
	cases := []struct {
		name   string
		path   string
		header []string
		want   want
	}{
		{"request line just under the cap", "/fhir/Condition?patient=" + pid + "&code=" + strings.Repeat("A", 7000), nil, want{200, ""}},
		{"request line over the cap", "/fhir/Condition?patient=" + pid + "&code=" + strings.Repeat("A", 9000), nil, want{414, "BAD_REQUEST"}},
		{"header fields over the cap", "/fhir/Condition?patient=" + pid, []string{"X-Padding", strings.Repeat("B", 40<<10)}, want{431, "BAD_REQUEST"}},
	}
	g.call(t, want{status: 201}, func() *response { return g.recordConsent(clin, tppConsent, consentGiven) })
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g.call(t, c.want, func() *response { return g.do(http.MethodGet, c.path, clin, nil, c.header...) })
		})
	}
	t.Run("1 MB of headers never reach the gateway", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, g.m.URL+"/fhir/metadata", nil)
		req.Header.Set("X-Padding", strings.Repeat("C", 1<<20-100))
		seq := g.auditSeq()
		r, err := rawDo(g.http, req)
		if err == nil && r.Status != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("HTTP %d, want 431", r.Status)
		}
		if n := len(g.eventsSince(seq)); n != 0 {
			t.Fatalf("%d AuditEvents for a request net/http refused", n)
		}
	})
}

// TestWriteTimeoutPerRoute: each route's response has a write deadline;
// the streaming $export has its own, so a deadline short enough to cut
// every other answer leaves an export whole.
func TestWriteTimeoutPerRoute(t *testing.T) {
	g := startGateway(t, func(m *Main) {
		m.Config.HTTP.WriteTimeout = Duration(time.Microsecond) // past before any answer is written
		m.Config.HTTP.ExportWriteTimeout = Duration(time.Hour)
	})
	aud := g.auditorToken()
	req, _ := http.NewRequest(http.MethodGet, g.m.URL+"/fhir/AuditEvent?_count=1", nil)
	req.Header.Set("Authorization", "Bearer "+aud)
	if r, err := rawDo(g.http, req); err == nil {
		t.Fatalf("a search answered HTTP %d past its write deadline", r.Status)
	}
	req, _ = http.NewRequest(http.MethodGet, g.m.URL+"/fhir/AuditEvent/$export", nil)
	req.Header.Set("Authorization", "Bearer "+aud)
	r, err := rawDo(g.http, req)
	if err != nil || r.Status != 200 || !strings.Contains(string(r.Body), `"AuditEvent"`) {
		t.Fatalf("$export under its own deadline: %v %+v", err, r)
	}
}

// TestOversizeExtractIsTheGPSystems: an extract over the configured limits,
// over HTTP (EMIS via gpsim) or from a directory (TPP), is the GP system's
// failure: 503 GP_SYSTEM_UNAVAILABLE naming the practice, never 413.
func TestOversizeExtractIsTheGPSystems(t *testing.T) {
	g := startGateway(t, func(m *Main) { m.Config.Limits.MaxElements = 20 })
	clin := g.token("big-clin", "R8000", "RX999")
	for _, c := range []struct{ name, nhs, practice string }{
		{"over HTTP", emisConsent, "A99902"},
		{"from a directory", tppConsent, "A99903"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := g.call(t, want{503, "GP_SYSTEM_UNAVAILABLE"}, func() *response { return g.searchPatient(clin, c.nhs) })
			if _, diag := r.outcome(t); !strings.Contains(diag, c.practice) && !strings.Contains(diag, "extract") {
				t.Errorf("diagnostics %q say neither the practice nor the extract", diag)
			}
		})
	}
}

// TestSearchParameterFindings: birthdate prefixes are honoured; an empty
// _count is refused.
func TestSearchParameterFindings(t *testing.T) {
	g := startGateway(t, nil)
	clin := g.token("param-clin", "R8000", "RX999")
	g.call(t, want{status: 201}, func() *response { return g.recordConsent(clin, tppConsent, consentGiven) })
	ident := "/fhir/Patient?identifier=" + url.QueryEscape("https://fhir.nhs.uk/Id/nhs-number|"+tppConsent)
	// The patient was born 1950-03-14.
	for _, c := range []struct {
		birthdate string
		matches   int
	}{
		{"1950", 1}, {"eq1950-03-14", 1}, {"ge1900", 1}, {"gt1949", 1}, {"le1950-03", 1}, {"lt1951", 1},
		{"le1900", 0}, {"gt1950", 0}, {"lt1950-03-14", 0}, {"ge1950-03-15", 0}, {"1951", 0},
	} {
		t.Run("birthdate="+c.birthdate, func(t *testing.T) {
			r := g.call(t, want{status: 200}, func() *response { return g.do(http.MethodGet, ident+"&birthdate="+c.birthdate, clin, nil) })
			if n := len(parseBundle(t, r).matches(t)); n != c.matches {
				t.Fatalf("birthdate=%s matched %d, want %d", c.birthdate, n, c.matches)
			}
		})
	}
	pid := g.ids.Patient(tppConsent)
	aud := g.auditorToken()
	for _, c := range []struct{ name, path, token string }{
		{"empty _count=", "/fhir/Condition?patient=" + pid + "&_count=", clin},
		{"bare _count", "/fhir/Condition?_count&patient=" + pid, clin},
		{"empty _count= on AuditEvent", "/fhir/AuditEvent?_count=", aud},
	} {
		t.Run(c.name, func(t *testing.T) {
			g.callRule(t, want{400, "INVALID_PARAMETER"}, "request", func() *response { return g.do(http.MethodGet, c.path, c.token, nil) })
		})
	}
}

// TestTokenFindings: two Authorization headers are refused (401), even
// when both carry the same valid token; a token issued in the future is
// refused beyond the clock skew.
func TestTokenFindings(t *testing.T) {
	g := startGateway(t, nil)
	clin := g.token("tok-clin", "R8000", "RX999")
	other := g.token("tok-other", "R8000", "NX999")
	sig := g.idpSigner()
	future := claims(g.m.Issuer, "mig", "tok-clin", "R8000", "RX999", time.Now().Add(3*time.Hour))
	future["iat"] = time.Now().Add(2 * time.Hour).Unix()
	cases := []struct {
		name  string
		auths []string
		want  int
	}{
		{"one token (control)", []string{"Bearer " + clin}, 403}, // NO_VIEW_CONSENT: authenticated
		{"two Authorization headers, one token", []string{"Bearer " + clin, "Bearer " + clin}, 401},
		{"two Authorization headers, two users", []string{"Bearer " + clin, "Bearer " + other}, 401},
		{"a token and an empty header", []string{"Bearer " + clin, ""}, 401},
		{"issued two hours ahead", []string{"Bearer " + sig.sign(t, future)}, 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g.call(t, want{c.want, map[int]string{401: "ACCESS_DENIED", 403: "NO_VIEW_CONSENT"}[c.want]}, func() *response {
				form := url.Values{"identifier": {"https://fhir.nhs.uk/Id/nhs-number|" + tppConsent}}
				req, _ := http.NewRequest(http.MethodPost, g.m.URL+"/fhir/Patient/_search", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				for _, a := range c.auths {
					req.Header.Add("Authorization", a)
				}
				r, err := rawDo(g.http, req)
				if err != nil {
					t.Fatal(err)
				}
				return r
			})
		})
	}
}

// TestConsentMediaType: a Consent in any media type but JSON is 415.
func TestConsentMediaType(t *testing.T) {
	g := startGateway(t, nil)
	clin := g.token("mt-clin", "R8000", "RX999")
	for _, ct := range []string{"text/plain", "application/xml", "application/fhir+xml", "application/x-www-form-urlencoded"} {
		t.Run(ct, func(t *testing.T) {
			g.callRule(t, want{415, "BAD_REQUEST"}, "request", func() *response {
				return g.do(http.MethodPost, "/fhir/Consent", clin, consentBody(gp2gpConsent, consentGiven), "Content-Type", ct)
			})
		})
	}
}

// TestStartErrors: a data folder another gateway holds, and a taken
// identity provider port, are each named in the error.
func TestStartErrors(t *testing.T) {
	first := startGateway(t, nil)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cases := []struct {
		name string
		edit func(m *Main)
		want string
	}{
		{"data folder in use", func(m *Main) { m.Config.DataDir = first.m.Config.DataDir }, "in use by another process"},
		{"identity provider port taken", func(m *Main) { m.DevIdPAddr = taken.Addr().String() }, "-dev-idp-addr"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := NewMain()
			m.Dev = true
			m.Config.Addr = "127.0.0.1:0"
			m.Config.DataDir = t.TempDir()
			m.Testdata = filepath.Join(testenv.ModuleRoot(t), "testdata")
			m.DevIdPAddr = "127.0.0.1:0"
			m.Log = zerolog.Nop()
			c.edit(m)
			err := m.Run(context.Background())
			if err == nil {
				m.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}
