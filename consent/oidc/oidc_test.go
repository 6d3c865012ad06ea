package oidc_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"mig"
	"mig/consent"
	"mig/consent/devidp"
	"mig/consent/oidc"
)

const audience = "mig-api"

// startMock runs mockoidc on loopback with its default key pair.
func startMock(t *testing.T) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}

func newVerifier(t *testing.T, issuer string) *oidc.Verifier {
	t.Helper()
	v, err := oidc.NewVerifier(context.Background(), oidc.Config{IssuerURL: issuer, Audience: audience, DiscoveryTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// cis2Claims are CIS2-shaped claims with two roles, the second selected.
// claimsNow is the one clock reading every test token's iat and exp come
// from, so a token minted later in a test has the exp the test expects
// (reading the clock per token made the expected expiry one second off
// whenever a second ticked between the two reads).
var claimsNow = time.Now()

func cis2Claims(issuer string) jwt.MapClaims {
	now := claimsNow
	return jwt.MapClaims{
		"iss":           issuer,
		"sub":           "sub-1234",
		"aud":           audience,
		"azp":           "viewer-client",
		"exp":           now.Add(10 * time.Minute).Unix(),
		"iat":           now.Unix(),
		"nhsid_useruid": "910000000001",
		"name":          "Test Clinician",
		"nhsid_nrbac_roles": []map[string]any{
			{"person_orgid": "100000000001", "person_roleid": "200000000001", "org_code": "NX999",
				"role_name": `"Admin & Clerical":"Receptionist"`, "role_code": "S8000:G8001:R8009"},
			{"person_orgid": "100000000002", "person_roleid": "200000000002", "org_code": "RX999",
				"role_name": `"Clinical":"Clinical Provision":"Clinical Practitioner Access Role"`, "role_code": "S8000:G8000:R8000"},
		},
		"selected_roleid": "200000000002",
		"nhsid_user_orgs": []map[string]any{
			{"org_code": "NX999", "org_name": "OUT OF HOURS"},
			{"org_code": "RX999", "org_name": "EMERGENCY DEPT"},
		},
	}
}

func unsignedToken(claims map[string]any, alg string) string {
	h, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	p, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

var (
	otherKeyOnce sync.Once
	otherKey     *mockoidc.Keypair
)

// anotherKeypair is a key pair the provider does not publish.
func anotherKeypair(t *testing.T) *mockoidc.Keypair {
	otherKeyOnce.Do(func() {
		kp, err := mockoidc.RandomKeypair(2048)
		if err != nil {
			panic(err)
		}
		otherKey = kp
	})
	return otherKey
}

func TestVerifyMockOIDC(t *testing.T) {
	m := startMock(t)
	v := newVerifier(t, m.Issuer())
	iss := m.Issuer()
	sign := func(t *testing.T, c jwt.MapClaims) string {
		tok, err := m.Keypair.SignJWT(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	with := func(edit func(c jwt.MapClaims)) func(t *testing.T) string {
		return func(t *testing.T) string {
			c := cis2Claims(iss)
			edit(c)
			return sign(t, c)
		}
	}
	exp := time.Unix(cis2Claims(iss)["exp"].(int64), 0)

	tests := []struct {
		name    string
		token   func(t *testing.T) string
		want    *consent.Principal // nil when an error is expected
		wantMsg string
	}{
		{
			name:  "good token, second role selected",
			token: with(func(jwt.MapClaims) {}),
			want: &consent.Principal{Subject: "sub-1234", UserID: "910000000001", Name: "Test Clinician",
				RoleCode: "R8000", RoleProfileID: "200000000002",
				RoleName: `"Clinical":"Clinical Provision":"Clinical Practitioner Access Role"`,
				OrgODS:   "RX999", OrgName: "EMERGENCY DEPT", ClientID: "viewer-client", Issuer: iss, Expiry: exp},
		},
		{
			name:  "multiple roles, first selected",
			token: with(func(c jwt.MapClaims) { c["selected_roleid"] = "200000000001" }),
			want: &consent.Principal{Subject: "sub-1234", UserID: "910000000001", Name: "Test Clinician",
				RoleCode: "R8009", RoleProfileID: "200000000001", RoleName: `"Admin & Clerical":"Receptionist"`,
				OrgODS: "NX999", OrgName: "OUT OF HOURS", ClientID: "viewer-client", Issuer: iss, Expiry: exp},
		},
		{
			name: "fallbacks: sub as user, given+family name, client_id, aud array, numeric ids",
			token: with(func(c jwt.MapClaims) {
				delete(c, "nhsid_useruid")
				delete(c, "name")
				delete(c, "azp")
				c["given_name"], c["family_name"], c["client_id"] = "Ann", "Tester", "cli"
				c["aud"] = []string{"other", audience}
				c["selected_roleid"] = 200000000002
				c["nhsid_nrbac_roles"] = []map[string]any{{"person_roleid": 200000000002, "org_code": "RX999", "role_code": "R8001"}}
			}),
			want: &consent.Principal{Subject: "sub-1234", UserID: "sub-1234", Name: "Ann Tester",
				RoleCode: "R8001", RoleProfileID: "200000000002", OrgODS: "RX999", OrgName: "EMERGENCY DEPT",
				ClientID: "cli", Issuer: iss, Expiry: exp},
		},
		{
			name:  "missing selected role: no role, no organisation",
			token: with(func(c jwt.MapClaims) { delete(c, "selected_roleid") }),
			want: &consent.Principal{Subject: "sub-1234", UserID: "910000000001", Name: "Test Clinician",
				ClientID: "viewer-client", Issuer: iss, Expiry: exp},
		},
		{
			name:  "selected role not among roles",
			token: with(func(c jwt.MapClaims) { c["selected_roleid"] = "999999999999" }),
			want: &consent.Principal{Subject: "sub-1234", UserID: "910000000001", Name: "Test Clinician",
				ClientID: "viewer-client", Issuer: iss, Expiry: exp},
		},
		{
			name:  "no roles at all",
			token: with(func(c jwt.MapClaims) { delete(c, "nhsid_nrbac_roles") }),
			want: &consent.Principal{Subject: "sub-1234", UserID: "910000000001", Name: "Test Clinician",
				ClientID: "viewer-client", Issuer: iss, Expiry: exp},
		},
		{
			name: "expired within clock skew is accepted",
			token: with(func(c jwt.MapClaims) {
				c["exp"] = time.Now().Add(-20 * time.Second).Unix()
			}),
			want: nil, wantMsg: "",
		},
		{name: "expired", token: with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-2 * time.Hour).Unix() }), wantMsg: "token expired"},
		{name: "no exp", token: with(func(c jwt.MapClaims) { delete(c, "exp") }), wantMsg: "token malformed"},
		{name: "not yet valid", token: with(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() }), wantMsg: "token not yet valid"},
		{name: "issued in the future", token: with(func(c jwt.MapClaims) { c["iat"] = time.Now().Add(time.Hour).Unix() }), wantMsg: "token issued in the future"},
		{name: "issued just ahead, within clock skew", token: with(func(c jwt.MapClaims) { c["iat"] = time.Now().Add(20 * time.Second).Unix() }), want: nil, wantMsg: ""},
		{name: "wrong audience", token: with(func(c jwt.MapClaims) { c["aud"] = "someone-else" }), wantMsg: "token audience does not include " + audience},
		{name: "no audience", token: with(func(c jwt.MapClaims) { delete(c, "aud") }), wantMsg: "token audience does not include " + audience},
		{name: "wrong issuer", token: with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), wantMsg: "token issuer is not " + iss},
		{name: "no sub", token: with(func(c jwt.MapClaims) { delete(c, "sub") }), wantMsg: "token malformed"},
		{name: "claim of the wrong type", token: with(func(c jwt.MapClaims) { c["nhsid_nrbac_roles"] = "R8000" }), wantMsg: "token malformed"},
		{name: "unsigned, alg none", token: func(*testing.T) string { return unsignedToken(cis2Claims(iss), "none") }, wantMsg: "token signature not valid"},
		{name: "alg none with a fake signature", token: func(*testing.T) string { return unsignedToken(cis2Claims(iss), "none") + "c2ln" }, wantMsg: "token signature not valid"},
		{
			name: "HS256 with a shared secret",
			token: func(t *testing.T) string {
				tok := jwt.NewWithClaims(jwt.SigningMethodHS256, cis2Claims(iss))
				s, err := tok.SignedString([]byte("shared-secret-shared-secret-32by"))
				if err != nil {
					t.Fatal(err)
				}
				return s
			},
			wantMsg: "token signature not valid",
		},
		{
			name: "signed by another key, own kid",
			token: func(t *testing.T) string {
				tok, err := anotherKeypair(t).SignJWT(cis2Claims(iss))
				if err != nil {
					t.Fatal(err)
				}
				return tok
			},
			wantMsg: "token signature not valid",
		},
		{
			name: "signed by another key, provider's kid",
			token: func(t *testing.T) string {
				kid, _ := m.Keypair.KeyID()
				tok := jwt.NewWithClaims(jwt.SigningMethodRS256, cis2Claims(iss))
				tok.Header["kid"] = kid
				s, err := tok.SignedString(anotherKeypair(t).PrivateKey)
				if err != nil {
					t.Fatal(err)
				}
				return s
			},
			wantMsg: "token signature not valid",
		},
		{
			name: "payload altered after signing",
			token: func(t *testing.T) string {
				parts := strings.Split(sign(t, cis2Claims(iss)), ".")
				c := cis2Claims(iss)
				c["selected_roleid"] = "200000000001"
				p, _ := json.Marshal(c)
				return parts[0] + "." + base64.RawURLEncoding.EncodeToString(p) + "." + parts[2]
			},
			wantMsg: "token signature not valid",
		},
		{name: "empty", token: func(*testing.T) string { return "" }, wantMsg: "no bearer token"},
		{name: "malformed: one part", token: func(*testing.T) string { return "not-a-jwt" }, wantMsg: "token malformed"},
		{name: "malformed: two parts", token: func(*testing.T) string { return "eyJhbGciOiJSUzI1NiJ9.e30" }, wantMsg: "token malformed"},
		{name: "malformed: bad base64", token: func(*testing.T) string { return "!!!.???.***" }, wantMsg: "token malformed"},
		{name: "malformed: header not JSON", token: func(*testing.T) string { return "bm90LWpzb24.e30.c2ln" }, wantMsg: "token malformed"},
		{name: "malformed: too large", token: func(*testing.T) string { return strings.Repeat("a", oidc.MaxTokenSize+1) }, wantMsg: "token malformed"},
		{
			name: "malformed: payload not JSON, signed",
			token: func(t *testing.T) string {
				kid, _ := m.Keypair.KeyID()
				h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"` + kid + `"}`))
				p := base64.RawURLEncoding.EncodeToString([]byte("not json"))
				sig, err := jwt.SigningMethodRS256.Sign(h+"."+p, m.Keypair.PrivateKey)
				if err != nil {
					t.Fatal(err)
				}
				return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(sig)
			},
			wantMsg: "token malformed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.token(t)
			got, err := v.Verify(context.Background(), raw)
			if tt.wantMsg != "" {
				checkUnauthorized(t, err, tt.wantMsg, raw)
				if got != nil {
					t.Errorf("principal %+v returned with error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tt.want != nil && *got != *tt.want {
				t.Errorf("principal\n got %+v\nwant %+v", *got, *tt.want)
			}
		})
	}
}

// checkUnauthorized asserts err is EUNAUTHORIZED with exactly msg, and
// that neither message nor error text echo the token.
func checkUnauthorized(t *testing.T, err error, msg, raw string) {
	t.Helper()
	var e *mig.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not a *mig.Error", err)
	}
	if e.Code != mig.EUNAUTHORIZED || e.Message != msg {
		t.Errorf("error = %q %q, want %q %q", e.Code, e.Message, mig.EUNAUTHORIZED, msg)
	}
	for _, part := range strings.Split(raw, ".") {
		if len(part) >= 8 && (strings.Contains(err.Error(), part) || strings.Contains(oidc.WWWAuthenticate(err), part)) {
			t.Errorf("error echoes the token")
		}
	}
}

func TestVerifyDevIDP(t *testing.T) {
	ctx := context.Background()
	p, err := devidp.Start(ctx, devidp.Options{Audience: audience})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	other, err := devidp.Start(ctx, devidp.Options{Audience: "another-audience"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	v := newVerifier(t, p.Issuer())

	tests := []struct {
		name            string
		provider        *devidp.Provider
		user, role, org string
		wantRole        string
		wantOrgName     string
		wantMsg         string
	}{
		{name: "clinician in the emergency department", provider: p, user: "dev-1", role: "R8000", org: "RX999",
			wantRole: "R8000", wantOrgName: "Demo Emergency Department"},
		{name: "receptionist out of hours", provider: p, user: "dev-2", role: "R8009", org: "NX999",
			wantRole: "R8009", wantOrgName: "Demo Out-of-Hours Service"},
		{name: "caldicott guardian", provider: p, user: "dev-3", role: "R5105", org: "A99901",
			wantRole: "R5105", wantOrgName: "Demo GP Practice (GP2GP)"},
		{name: "another provider's token", provider: other, user: "dev-1", role: "R8000", org: "RX999",
			wantMsg: "token signature not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := tt.provider.MintToken(tt.user, tt.role, tt.org, "Dev Person")
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(ctx, raw)
			if tt.wantMsg != "" {
				checkUnauthorized(t, err, tt.wantMsg, raw)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.UserID != tt.user || got.Subject != tt.user || got.RoleCode != tt.wantRole || got.OrgODS != tt.org ||
				got.OrgName != tt.wantOrgName || got.Name != "Dev Person" || got.ClientID != p.ClientID() ||
				got.Issuer != p.Issuer() || got.RoleName != devidp.RoleName(tt.wantRole) || len(got.RoleProfileID) != 12 {
				t.Errorf("principal %+v", *got)
			}
			if d := time.Until(got.Expiry); d < 50*time.Minute || d > 61*time.Minute {
				t.Errorf("expiry in %v, want about an hour", d)
			}
			again, _ := tt.provider.MintToken(tt.user, tt.role, tt.org, "Dev Person")
			if raw == again {
				t.Errorf("two mints gave the same token (jti not unique)")
			}
			p2, err := v.Verify(ctx, again)
			if err != nil || p2.RoleProfileID != got.RoleProfileID {
				t.Errorf("role profile id not stable: %v %+v", err, p2)
			}
		})
	}

	// The other provider's verifier refuses p's tokens on audience too.
	vo := newVerifier(t, other.Issuer())
	raw, _ := other.MintToken("dev-1", "R8000", "RX999", "")
	_, err = vo.Verify(ctx, raw)
	checkUnauthorized(t, err, "token audience does not include "+audience, raw)
}

func TestNewVerifierDiscovery(t *testing.T) {
	// A free loopback port with nothing listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := ln.Addr().String()
	ln.Close()

	mismatch := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issuer":"https://elsewhere.example","jwks_uri":"https://elsewhere.example/jwks"}`))
	}))
	defer mismatch.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer failing.Close()

	tests := []struct {
		name       string
		cfg        oidc.Config
		wantCode   string
		minElapsed time.Duration
		maxElapsed time.Duration
	}{
		{name: "nothing listening: retries then fails", cfg: oidc.Config{IssuerURL: "http://" + deadAddr, Audience: audience, DiscoveryTimeout: 600 * time.Millisecond},
			wantCode: mig.EUNAVAILABLE, minElapsed: 550 * time.Millisecond, maxElapsed: 3 * time.Second},
		{name: "provider answering 503: retries then fails", cfg: oidc.Config{IssuerURL: failing.URL, Audience: audience, DiscoveryTimeout: 400 * time.Millisecond},
			wantCode: mig.EUNAVAILABLE, minElapsed: 350 * time.Millisecond, maxElapsed: 3 * time.Second},
		{name: "issuer mismatch fails at once", cfg: oidc.Config{IssuerURL: mismatch.URL, Audience: audience, DiscoveryTimeout: 10 * time.Second},
			wantCode: mig.EINVALID, maxElapsed: 2 * time.Second},
		{name: "no audience", cfg: oidc.Config{IssuerURL: mismatch.URL}, wantCode: mig.EINVALID, maxElapsed: time.Second},
		{name: "no issuer", cfg: oidc.Config{Audience: audience}, wantCode: mig.EINVALID, maxElapsed: time.Second},
		{name: "issuer not a URL", cfg: oidc.Config{IssuerURL: "idp.example", Audience: audience}, wantCode: mig.EINVALID, maxElapsed: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			v, err := oidc.NewVerifier(context.Background(), tt.cfg)
			elapsed := time.Since(start)
			if v != nil || mig.ErrorCode(err) != tt.wantCode {
				t.Fatalf("NewVerifier = %v, %v; want code %s", v, err, tt.wantCode)
			}
			if elapsed < tt.minElapsed || elapsed > tt.maxElapsed {
				t.Errorf("failed after %v, want between %v and %v", elapsed, tt.minElapsed, tt.maxElapsed)
			}
		})
	}

	t.Run("provider coming up late is waited for", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		started := make(chan *devidp.Provider, 1)
		go func() {
			time.Sleep(400 * time.Millisecond)
			p, err := devidp.Start(context.Background(), devidp.Options{Addr: addr, Audience: audience})
			if err != nil {
				t.Errorf("devidp.Start: %v", err)
			}
			started <- p
		}()
		v, err := oidc.NewVerifier(context.Background(), oidc.Config{IssuerURL: "http://" + addr, Audience: audience, DiscoveryTimeout: 10 * time.Second})
		p := <-started
		if p == nil {
			t.FailNow()
		}
		defer p.Close()
		if err != nil {
			t.Fatalf("NewVerifier: %v", err)
		}
		raw, _ := p.MintToken("late-user", "R8001", "RX999", "")
		if got, err := v.Verify(context.Background(), raw); err != nil || got.RoleCode != "R8001" {
			t.Errorf("Verify = %+v, %v", got, err)
		}
	})

	t.Run("cancelled context stops retrying", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := oidc.NewVerifier(ctx, oidc.Config{IssuerURL: "http://" + deadAddr, Audience: audience, DiscoveryTimeout: time.Minute})
		if mig.ErrorCode(err) != mig.EUNAVAILABLE || time.Since(start) > 3*time.Second {
			t.Errorf("err %v after %v", err, time.Since(start))
		}
	})
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header  string
		want    string
		wantMsg string
	}{
		{header: "Bearer abc.def.ghi", want: "abc.def.ghi"},
		{header: "bearer abc.def.ghi", want: "abc.def.ghi"},
		{header: "BEARER  abc-_~+/.x==", want: "abc-_~+/.x=="},
		{header: "", wantMsg: "no bearer token"},
		{header: "Bearer", wantMsg: "no bearer token"},
		{header: "Bearer   ", wantMsg: "no bearer token"},
		{header: "Basic dXNlcjpwYXNz", wantMsg: "no bearer token"},
		{header: "Bearerabc.def", wantMsg: "no bearer token"},
		{header: "Bearer abc def", wantMsg: "token malformed"},
		{header: "Bearer abc\"def", wantMsg: "token malformed"},
		{header: "Bearer ===", wantMsg: "token malformed"},
		{header: "Bearer " + strings.Repeat("a", oidc.MaxTokenSize+1), wantMsg: "token malformed"},
	}
	for _, tt := range tests {
		name := tt.header
		if len(name) > 30 {
			name = name[:30]
		}
		t.Run(name, func(t *testing.T) {
			got, err := oidc.BearerToken(tt.header)
			if tt.wantMsg != "" {
				checkUnauthorized(t, err, tt.wantMsg, strings.TrimPrefix(tt.header, "Bearer "))
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("BearerToken = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestBearerTokenOf: every Authorization field of a request counts; two
// are refused rather than the first believed.
func TestBearerTokenOf(t *testing.T) {
	tests := []struct {
		name    string
		values  []string
		want    string
		wantMsg string
	}{
		{"none", nil, "", "no bearer token"},
		{"one", []string{"Bearer abc.def.ghi"}, "abc.def.ghi", ""},
		{"two, same token", []string{"Bearer abc.def.ghi", "Bearer abc.def.ghi"}, "", "more than one Authorization header"},
		{"two, different", []string{"Bearer abc.def.ghi", "Bearer xyz.def.ghi"}, "", "more than one Authorization header"},
		{"a bearer and an empty one", []string{"Bearer abc.def.ghi", ""}, "", "more than one Authorization header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := oidc.BearerTokenOf(tt.values)
			if tt.wantMsg != "" {
				checkUnauthorized(t, err, tt.wantMsg, "abc.def.ghi")
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("BearerTokenOf = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestWWWAuthenticate(t *testing.T) {
	_, noToken := oidc.BearerToken("")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"no token", noToken, `Bearer realm="mig"`},
		{"expired", &mig.Error{Code: mig.EUNAUTHORIZED, Message: "token expired"},
			`Bearer realm="mig", error="invalid_token", error_description="token expired"`},
		{"quotes and controls stripped", &mig.Error{Code: mig.EUNAUTHORIZED, Message: "token \"odd\"\\\n issuer"},
			`Bearer realm="mig", error="invalid_token", error_description="token odd issuer"`},
		{"wrapped", errors.Join(errors.New("ctx"), &mig.Error{Code: mig.EUNAUTHORIZED, Message: "token malformed"}),
			`Bearer realm="mig", error="invalid_token", error_description="token malformed"`},
		{"not an auth error", &mig.Error{Code: mig.EFORBIDDEN, Message: "role"}, `Bearer realm="mig"`},
		{"plain error", errors.New("boom"), `Bearer realm="mig"`},
		{"nil", nil, `Bearer realm="mig"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := oidc.WWWAuthenticate(tt.err); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestRoleCode(t *testing.T) {
	for in, want := range map[string]string{
		"S8001:G8005:R8000": "R8000", "S0000:G0000:R5105": "R5105", "R8001": "R8001", "": "", " S1:G2:R8009 ": "R8009",
	} {
		if got := oidc.RoleCode(in); got != want {
			t.Errorf("RoleCode(%q) = %q, want %q", in, got, want)
		}
	}
}
