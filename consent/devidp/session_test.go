package devidp_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"mig/consent/devidp"
)

// A demo user signs in with one click; a second authorisation request in
// the same browser gets a code without the form; end_session ends that,
// and returns only to a registered URI.
func TestSessionDemoUserAndEndSession(t *testing.T) {
	p := start(t, devidp.Options{})
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := authParams(p)
	for _, k := range []string{"user", "role", "org", "name"} {
		q.Del(k)
	}

	get := func() *http.Response {
		t.Helper()
		resp, err := browser.Get(p.Issuer() + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := get(); resp.StatusCode != http.StatusOK {
		t.Fatalf("before sign-in: %d, want the form", resp.StatusCode)
	}
	f := url.Values{}
	for k, v := range q {
		f[k] = v
	}
	f.Set("demo", devidp.DemoUsers[2].User)
	resp, err := browser.PostForm(p.Issuer()+"/authorize", f)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Query().Get("code") == "" {
		t.Fatalf("demo sign-in: %d %v", resp.StatusCode, loc)
	}
	// The code is for the demo user.
	status, tok := token(t, p, url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {callback}, "code_verifier": {verifier}, "client_id": {p.ClientID()}})
	if status != http.StatusOK || !strings.Contains(claimsOf(t, tok.AccessToken), `"nhsid_useruid":"nx-doctor"`) {
		t.Fatalf("token for demo user: %d", status)
	}
	if p.ActiveSessions() != 1 {
		t.Fatalf("sessions = %d", p.ActiveSessions())
	}
	// Signed in: no form, straight back with a code.
	if resp := get(); resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "code=") {
		t.Fatalf("signed in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// prompt=login asks again.
	q.Set("prompt", "login")
	if resp := get(); resp.StatusCode != http.StatusOK {
		t.Fatalf("prompt=login: %d", resp.StatusCode)
	}
	q.Del("prompt")

	// An unregistered post-logout URI is not followed.
	resp, err = browser.Get(p.Issuer() + "/end_session?post_logout_redirect_uri=" + url.QueryEscape("https://evil.example/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
		t.Fatalf("foreign post-logout URI: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if p.ActiveSessions() != 0 {
		t.Fatal("end_session left the session open")
	}
	if resp := get(); resp.StatusCode != http.StatusOK {
		t.Fatalf("after end_session: %d, want the form", resp.StatusCode)
	}
	resp, err = browser.Get(p.Issuer() + "/end_session?state=s1&post_logout_redirect_uri=" + url.QueryEscape(callback))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != callback+"?state=s1" {
		t.Fatalf("registered post-logout URI: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}

	// Discovery announces logout and the launch scope.
	dr, err := http.Get(p.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer dr.Body.Close()
	var d struct {
		EndSession string   `json:"end_session_endpoint"`
		Scopes     []string `json:"scopes_supported"`
	}
	json.NewDecoder(dr.Body).Decode(&d)
	if d.EndSession != p.Issuer()+"/end_session" || !strings.Contains(strings.Join(d.Scopes, " "), "launch") {
		t.Errorf("discovery: %+v", d)
	}
}

// claimsOf returns a JWT's payload as JSON text (signature unchecked: the
// test only reads which user it names).
func claimsOf(t *testing.T, jwt string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
