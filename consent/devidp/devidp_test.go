package devidp_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mig"
	"mig/consent/devidp"
	"mig/consent/oidc"
)

const (
	audience = "mig-api"
	verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXkdBjftJeZ4CVP" // 55 chars
	callback = "http://127.0.0.1:8765/callback"
)

func challenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func start(t *testing.T, opts devidp.Options) *devidp.Provider {
	t.Helper()
	if opts.Audience == "" {
		opts.Audience = audience
	}
	p, err := devidp.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func authParams(p *devidp.Provider) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {p.ClientID()}, "redirect_uri": {callback},
		"state": {"st-1"}, "nonce": {"n-1"}, "scope": {"openid"},
		"code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"},
		"user": {"dev-7"}, "role": {"R8001"}, "org": {"rx999"}, "name": {"Nurse Dev"},
	}
}

// authorize runs GET /authorize and returns the status and the redirect.
func authorize(t *testing.T, p *devidp.Provider, q url.Values) (int, *url.URL, string) {
	t.Helper()
	resp, err := noRedirect.Get(p.Issuer() + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var loc *url.URL
	if l := resp.Header.Get("Location"); l != "" {
		if loc, err = url.Parse(l); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, loc, string(body)
}

type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	IDToken     string `json:"id_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func token(t *testing.T, p *devidp.Provider, form url.Values) (int, tokenAnswer) {
	t.Helper()
	resp, err := http.PostForm(p.Issuer()+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a tokenAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("token answer not JSON: %v", err)
	}
	return resp.StatusCode, a
}

func codeFrom(t *testing.T, p *devidp.Provider) string {
	t.Helper()
	status, loc, _ := authorize(t, p, authParams(p))
	if status != http.StatusFound || loc == nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "st-1" {
		t.Fatalf("authorize: %d %v", status, loc)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != callback {
		t.Fatalf("redirected to %s", got)
	}
	return loc.Query().Get("code")
}

func exchangeForm(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback},
		"code_verifier": {verifier}, "client_id": {devidp.DefaultClientID}}
}

func TestPKCEFlow(t *testing.T) {
	p := start(t, devidp.Options{})
	short := start(t, devidp.Options{CodeTTL: 100 * time.Millisecond})
	v, err := oidc.NewVerifier(context.Background(), oidc.Config{IssuerURL: p.Issuer(), Audience: audience})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		provider  *devidp.Provider
		edit      func(f url.Values)
		before    func(t *testing.T, p *devidp.Provider, code string) // runs between authorize and exchange
		wantError string                                              // OAuth error code; "" = success
		wantDesc  string
	}{
		{name: "S256 verifier accepted", provider: p},
		{name: "without client_id (public client)", provider: p, edit: func(f url.Values) { f.Del("client_id") }},
		{name: "wrong verifier refused", provider: p, wantError: "invalid_grant", wantDesc: "code_verifier does not match the code_challenge",
			edit: func(f url.Values) { f.Set("code_verifier", strings.Repeat("x", 50)) }},
		{name: "verifier too short refused", provider: p, wantError: "invalid_grant", wantDesc: "code_verifier does not match the code_challenge",
			edit: func(f url.Values) { f.Set("code_verifier", "abc") }},
		{name: "challenge sent as verifier refused", provider: p, wantError: "invalid_grant", wantDesc: "code_verifier does not match the code_challenge",
			edit: func(f url.Values) { f.Set("code_verifier", challenge(verifier)) }},
		{name: "missing verifier refused", provider: p, wantError: "invalid_grant",
			edit: func(f url.Values) { f.Del("code_verifier") }},
		{name: "redirect URI mismatch refused", provider: p, wantError: "invalid_grant", wantDesc: "redirect_uri does not match the authorization request",
			edit: func(f url.Values) { f.Set("redirect_uri", "http://127.0.0.1:8765/other") }},
		{name: "client mismatch refused", provider: p, wantError: "invalid_client",
			edit: func(f url.Values) { f.Set("client_id", "someone-else") }},
		{name: "unknown code refused", provider: p, wantError: "invalid_grant", wantDesc: "code is not valid or was already used",
			edit: func(f url.Values) { f.Set("code", "made-up") }},
		{name: "code reuse refused", provider: p, wantError: "invalid_grant", wantDesc: "code is not valid or was already used",
			before: func(t *testing.T, p *devidp.Provider, code string) {
				if status, a := token(t, p, exchangeForm(code)); status != http.StatusOK || a.AccessToken == "" {
					t.Fatalf("first use: %d %+v", status, a)
				}
			}},
		{name: "code burnt by a failed attempt", provider: p, wantError: "invalid_grant", wantDesc: "code is not valid or was already used",
			before: func(t *testing.T, p *devidp.Provider, code string) {
				f := exchangeForm(code)
				f.Set("code_verifier", strings.Repeat("y", 43))
				if status, _ := token(t, p, f); status != http.StatusBadRequest {
					t.Fatalf("wrong verifier: %d", status)
				}
			}},
		{name: "expired code refused", provider: short, wantError: "invalid_grant", wantDesc: "code expired",
			before: func(*testing.T, *devidp.Provider, string) { time.Sleep(250 * time.Millisecond) }},
		{name: "unsupported grant", provider: p, wantError: "unsupported_grant_type",
			edit: func(f url.Values) { f.Set("grant_type", "password") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := codeFrom(t, tt.provider)
			if tt.before != nil {
				tt.before(t, tt.provider, code)
			}
			f := exchangeForm(code)
			if tt.edit != nil {
				tt.edit(f)
			}
			status, a := token(t, tt.provider, f)
			if tt.wantError != "" {
				if status == http.StatusOK || a.Error != tt.wantError || a.AccessToken != "" ||
					(tt.wantDesc != "" && a.Description != tt.wantDesc) {
					t.Errorf("token = %d %+v; want %s %q", status, a, tt.wantError, tt.wantDesc)
				}
				return
			}
			if status != http.StatusOK || a.TokenType != "Bearer" || a.ExpiresIn != 3600 || a.IDToken == "" {
				t.Fatalf("token = %d %+v", status, a)
			}
			got, err := v.Verify(context.Background(), a.AccessToken)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.UserID != "dev-7" || got.RoleCode != "R8001" || got.OrgODS != "RX999" || got.Name != "Nurse Dev" ||
				got.RoleName != "Nurse Access Role" || got.ClientID != devidp.DefaultClientID {
				t.Errorf("principal %+v", *got)
			}
			idc := payload(t, a.IDToken)
			if idc["aud"] != devidp.DefaultClientID || idc["nonce"] != "n-1" || idc["iss"] != p.Issuer() {
				t.Errorf("id token claims %v", idc)
			}
			ac := payload(t, a.AccessToken)
			for _, k := range []string{"iss", "sub", "aud", "azp", "exp", "iat", "jti", "nhsid_useruid", "name",
				"nhsid_nrbac_roles", "selected_roleid", "nhsid_user_orgs"} {
				if _, ok := ac[k]; !ok {
					t.Errorf("access token lacks %s", k)
				}
			}
			roles := ac["nhsid_nrbac_roles"].([]any)
			r0 := roles[0].(map[string]any)
			if len(roles) != 1 || r0["role_code"] != "S0000:G0000:R8001" || r0["person_roleid"] != ac["selected_roleid"] {
				t.Errorf("roles claim %v", roles)
			}
		})
	}
}

// payload decodes a JWT's claims without verifying it.
func payload(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAuthorizeRefusals(t *testing.T) {
	p := start(t, devidp.Options{})
	strict := start(t, devidp.Options{ClientID: "viewer", RedirectURIs: []string{"http://localhost:9000/cb"}})

	tests := []struct {
		name     string
		provider *devidp.Provider
		edit     func(q url.Values)
		// wantPage: refused on the page (400, no redirect); otherwise
		// redirected with error wantError ("" = with a code).
		wantPage  bool
		wantError string
	}{
		{name: "plain method refused", provider: p, wantError: "invalid_request",
			edit: func(q url.Values) { q.Set("code_challenge_method", "plain") }},
		{name: "plain method with the verifier as challenge refused", provider: p, wantError: "invalid_request",
			edit: func(q url.Values) { q.Set("code_challenge_method", "plain"); q.Set("code_challenge", verifier) }},
		{name: "missing method refused (defaults to plain)", provider: p, wantError: "invalid_request",
			edit: func(q url.Values) { q.Del("code_challenge_method") }},
		{name: "missing challenge refused", provider: p, wantError: "invalid_request",
			edit: func(q url.Values) { q.Del("code_challenge") }},
		{name: "challenge not a digest refused", provider: p, wantError: "invalid_request",
			edit: func(q url.Values) { q.Set("code_challenge", strings.Repeat("*", 43)) }},
		{name: "response type token refused", provider: p, wantError: "unsupported_response_type",
			edit: func(q url.Values) { q.Set("response_type", "token") }},
		{name: "bad role refused", provider: p, wantError: "invalid_request",
			edit: func(q url.Values) { q.Set("role", "admin") }},
		{name: "bad org refused", provider: p, wantError: "invalid_request",
			edit: func(q url.Values) { q.Set("org", "RX 999") }},
		{name: "login_hint as user", provider: p,
			edit: func(q url.Values) { q.Del("user"); q.Set("login_hint", "hinted") }},
		{name: "localhost any port", provider: p, edit: func(q url.Values) { q.Set("redirect_uri", "http://localhost:1/x/y?keep=1") }},
		{name: "unknown client", provider: p, wantPage: true, edit: func(q url.Values) { q.Set("client_id", "other") }},
		{name: "https redirect", provider: p, wantPage: true, edit: func(q url.Values) { q.Set("redirect_uri", "https://127.0.0.1:8765/cb") }},
		{name: "remote redirect", provider: p, wantPage: true, edit: func(q url.Values) { q.Set("redirect_uri", "http://evil.example/cb") }},
		{name: "lookalike host", provider: p, wantPage: true, edit: func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1.evil.example:80/cb") }},
		{name: "userinfo in redirect", provider: p, wantPage: true, edit: func(q url.Values) { q.Set("redirect_uri", "http://x@127.0.0.1:80/cb") }},
		{name: "fragment in redirect", provider: p, wantPage: true, edit: func(q url.Values) { q.Set("redirect_uri", callback+"#f") }},
		{name: "no port", provider: p, wantPage: true, edit: func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1/cb") }},
		{name: "no redirect", provider: p, wantPage: true, edit: func(q url.Values) { q.Del("redirect_uri") }},
		{name: "registered exact", provider: strict,
			edit: func(q url.Values) { q.Set("client_id", "viewer"); q.Set("redirect_uri", "http://localhost:9000/cb") }},
		{name: "not the registered URI", provider: strict, wantPage: true,
			edit: func(q url.Values) { q.Set("client_id", "viewer"); q.Set("redirect_uri", "http://localhost:9000/cb2") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := authParams(tt.provider)
			tt.edit(q)
			status, loc, body := authorize(t, tt.provider, q)
			if tt.wantPage {
				if status != http.StatusBadRequest || loc != nil || !strings.Contains(body, "<html") {
					t.Errorf("got %d %v, want a 400 page", status, loc)
				}
				return
			}
			if status != http.StatusFound || loc == nil {
				t.Fatalf("got %d, want a redirect", status)
			}
			if loc.Query().Get("state") != "st-1" {
				t.Errorf("state not returned: %v", loc)
			}
			if got := loc.Query().Get("error"); got != tt.wantError {
				t.Errorf("error = %q, want %q (%v)", got, tt.wantError, loc)
			}
			if (loc.Query().Get("code") != "") != (tt.wantError == "") {
				t.Errorf("code presence wrong: %v", loc)
			}
		})
	}
}

func TestLoginForm(t *testing.T) {
	p := start(t, devidp.Options{})
	q := authParams(p)
	for _, k := range []string{"user", "role", "org", "name"} {
		q.Del(k)
	}
	q.Set("state", `"><script>alert(1)</script>`)
	status, _, body := authorize(t, p, q)
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	for _, want := range []string{`<form method="post" action="/authorize">`, `name="code_challenge"`, "R8000", "R5105", "RX999", "A99901"} {
		if !strings.Contains(body, want) {
			t.Errorf("form lacks %s", want)
		}
	}
	for _, bad := range []string{"<script>", "src=", "href=", "https://", "@import"} {
		if strings.Contains(body, bad) {
			t.Errorf("form holds %q (unescaped input or external asset)", bad)
		}
	}

	// Submitting the form gives a code for the chosen identity.
	f := authParams(p)
	resp, err := noRedirect.PostForm(p.Issuer()+"/authorize", f)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("form post: %d %v", resp.StatusCode, loc)
	}
	// A bad field re-renders the form with the reason.
	f.Set("org", "?")
	resp, err = noRedirect.PostForm(p.Issuer()+"/authorize", f)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "org must be an ODS code") {
		t.Errorf("bad form post: %d", resp.StatusCode)
	}
}

func TestDevGrantAndClient(t *testing.T) {
	p := start(t, devidp.Options{})
	v, err := oidc.NewVerifier(context.Background(), oidc.Config{IssuerURL: p.Issuer(), Audience: audience})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()

	tests := []struct {
		name     string
		issuer   string
		params   devidp.DevTokenParams
		wantCode string
		wantMsg  string
	}{
		{name: "clinician", issuer: p.Issuer(), params: devidp.DevTokenParams{User: "cli-1", Role: "R8000", Org: "RX999", Name: "CLI User"}},
		{name: "trailing slash", issuer: p.Issuer() + "/", params: devidp.DevTokenParams{User: "cli-2", Role: "R0001", Org: "A99902"}},
		{name: "bad role", issuer: p.Issuer(), params: devidp.DevTokenParams{User: "cli-1", Role: "nurse", Org: "RX999"},
			wantCode: mig.EINVALID, wantMsg: "role must be a national RBAC role code such as R8000"},
		{name: "missing user", issuer: p.Issuer(), params: devidp.DevTokenParams{Role: "R8000", Org: "RX999"},
			wantCode: mig.EINVALID},
		{name: "server not running", issuer: dead, params: devidp.DevTokenParams{User: "u", Role: "R8000", Org: "RX999"},
			wantCode: mig.EUNAVAILABLE, wantMsg: "development identity provider at " + dead + " not reachable (is migd running with -dev?)"},
		{name: "not a URL", issuer: "localhost", params: devidp.DevTokenParams{User: "u", Role: "R8000", Org: "RX999"},
			wantCode: mig.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := devidp.RequestDevToken(context.Background(), tt.issuer, tt.params)
			if tt.wantCode != "" {
				if mig.ErrorCode(err) != tt.wantCode || (tt.wantMsg != "" && mig.ErrorMessage(err) != tt.wantMsg) || raw != "" {
					t.Errorf("got %q, %v; want %s %q", raw, err, tt.wantCode, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("RequestDevToken: %v", err)
			}
			got, err := v.Verify(context.Background(), raw)
			if err != nil || got.UserID != tt.params.User || got.RoleCode != tt.params.Role || got.OrgODS != tt.params.Org {
				t.Errorf("Verify = %+v, %v", got, err)
			}
		})
	}

	// The token endpoint itself refuses a bad dev grant with an OAuth error.
	status, a := token(t, p, url.Values{"grant_type": {devidp.DevGrantType}, "user": {"u"}, "role": {"R8000"}, "org": {"x"}})
	if status != http.StatusBadRequest || a.Error != "invalid_request" {
		t.Errorf("bad dev grant: %d %+v", status, a)
	}
}

func TestNoCORSAndDiscovery(t *testing.T) {
	p := start(t, devidp.Options{})
	// The viewer is server-side: no endpoint answers cross-origin script.
	for _, path := range []string{"/.well-known/openid-configuration", "/jwks", "/token"} {
		req, _ := http.NewRequest(http.MethodOptions, p.Issuer()+path, nil)
		req.Header.Set("Origin", "http://127.0.0.1:5173")
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight %s: answered with CORS headers %v", path, resp.Header)
		}
	}
	resp, err := http.Get(p.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d["issuer"] != p.Issuer() || d["jwks_uri"] != p.Issuer()+"/jwks" || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("discovery %v", d)
	}
	if m, _ := json.Marshal(d["code_challenge_methods_supported"]); string(m) != `["S256"]` {
		t.Errorf("code_challenge_methods_supported = %s", m)
	}
	if resp, err := http.Get(p.Issuer() + "/token"); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /token: %v %v", resp.StatusCode, err)
	}
}

func TestStartOptions(t *testing.T) {
	tests := []struct {
		name string
		opts devidp.Options
	}{
		{"all interfaces", devidp.Options{Addr: "0.0.0.0:0"}},
		{"remote host", devidp.Options{Addr: "192.0.2.1:0"}},
		{"no port", devidp.Options{Addr: "127.0.0.1"}},
		{"remote redirect", devidp.Options{RedirectURIs: []string{"http://app.example/cb"}}},
		{"https redirect pattern", devidp.Options{RedirectURIs: []string{"https://127.0.0.1:*/"}}},
		{"key file not a key", devidp.Options{KeyFile: writeTemp(t, "not a key")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := devidp.Start(context.Background(), tt.opts)
			if err == nil {
				p.Close()
				t.Fatal("started")
			}
			if mig.ErrorCode(err) != mig.EINVALID {
				t.Errorf("error %v, want EINVALID", err)
			}
		})
	}
}

func writeTemp(t *testing.T, content string) string {
	f := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestKeyFileSurvivesRestart(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "devidp-key.pem")
	first, err := devidp.Start(context.Background(), devidp.Options{Audience: audience, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(first.Issuer(), "http://")
	raw, err := first.MintToken("persist", "R8000", "RX999", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}

	// The tokens name the issuer by address, so the restart must reuse it;
	// on a busy machine the port can be briefly unavailable, so retry.
	var second *devidp.Provider
	for i := 0; ; i++ {
		second, err = devidp.Start(context.Background(), devidp.Options{Addr: addr, Audience: audience, KeyFile: keyFile})
		if err == nil {
			break
		}
		if i == 50 {
			t.Fatalf("restart on %s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() { second.Close() })
	v, err := oidc.NewVerifier(context.Background(), oidc.Config{IssuerURL: second.Issuer(), Audience: audience})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := v.Verify(context.Background(), raw); err != nil || got.UserID != "persist" {
		t.Errorf("token from before the restart: %+v, %v", got, err)
	}

	// Without the key file a restart means a new key: the old token fails.
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	third := start(t, devidp.Options{Addr: addr})
	v3, err := oidc.NewVerifier(context.Background(), oidc.Config{IssuerURL: third.Issuer(), Audience: audience})
	if err != nil {
		t.Fatal(err)
	}
	var e *mig.Error
	if _, err := v3.Verify(context.Background(), raw); !errors.As(err, &e) || e.Message != "token signature not valid" {
		t.Errorf("old token with a new key: %v", err)
	}
}

func TestCloseOnContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p, err := devidp.Start(ctx, devidp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := http.Get(p.Issuer() + "/jwks"); err != nil {
			if err := p.Close(); err != nil {
				t.Errorf("Close after ctx: %v", err)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Error("still serving after the context was cancelled")
}
