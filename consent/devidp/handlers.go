package devidp

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"mig"
)

// OAuth 2.0 error codes used by the endpoints (RFC 6749 sections 4.1.2.1
// and 5.2).
const (
	errInvalidRequest          = "invalid_request"
	errInvalidClient           = "invalid_client"
	errInvalidGrant            = "invalid_grant"
	errUnsupportedGrantType    = "unsupported_grant_type"
	errUnsupportedResponseType = "unsupported_response_type"
)

const maxFormBytes = 64 << 10

func (p *Provider) routes() http.Handler {
	mux := http.NewServeMux()
	// No CORS: the Shared Record Viewer is a server-side app, so no
	// browser script ever calls these endpoints across origins.
	mux.HandleFunc("/.well-known/openid-configuration", p.handleDiscovery)
	mux.HandleFunc("/jwks", p.handleJWKS)
	mux.HandleFunc("/token", p.handleToken)
	mux.HandleFunc("/authorize", p.handleAuthorize)
	mux.HandleFunc("/end_session", p.handleEndSession)
	return mux
}

// discovery is the OpenID Provider metadata document.
type discovery struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
}

func (p *Provider) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET")
		return
	}
	writeJSON(w, http.StatusOK, discovery{
		Issuer:                            p.issuer,
		AuthorizationEndpoint:             p.issuer + "/authorize",
		TokenEndpoint:                     p.issuer + "/token",
		JWKSURI:                           p.issuer + "/jwks",
		EndSessionEndpoint:                p.issuer + "/end_session",
		ResponseTypesSupported:            []string{"code"},
		GrantTypesSupported:               []string{"authorization_code", DevGrantType},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		ScopesSupported:                   []string{"openid", "profile", "nationalrbacaccess", "launch"},
		TokenEndpointAuthMethodsSupported: []string{"none"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		ClaimsSupported: []string{"iss", "sub", "aud", "azp", "exp", "iat", "jti", "name",
			"nhsid_useruid", "nhsid_nrbac_roles", "selected_roleid", "nhsid_user_orgs"},
	})
}

func (p *Provider) handleJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET")
		return
	}
	writeJSON(w, http.StatusOK, p.jwks())
}

// handleAuthorize runs the authorisation-code flow. The identity comes
// from the login form (POST) or directly from the query (user or
// login_hint, role, org, name) for automation.
func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		methodNotAllowed(w, "GET, POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		errorPage(w, http.StatusBadRequest, "request parameters could not be read")
		return
	}
	f := r.Form
	clientID, redirectURI, state := f.Get("client_id"), f.Get("redirect_uri"), f.Get("state")
	// Until client and redirect URI are known good, errors are shown here
	// rather than redirected (RFC 6749 section 4.1.2.1).
	if clientID != p.opts.ClientID {
		errorPage(w, http.StatusBadRequest, "client_id is not the registered client")
		return
	}
	if !redirectAllowed(p.opts.RedirectURIs, redirectURI) {
		errorPage(w, http.StatusBadRequest, "redirect_uri is not registered")
		return
	}
	fail := func(code, description string) {
		q := url.Values{"error": {code}, "error_description": {description}}
		if state != "" {
			q.Set("state", state)
		}
		http.Redirect(w, r, withQuery(redirectURI, q), http.StatusFound)
	}
	if f.Get("response_type") != "code" {
		fail(errUnsupportedResponseType, "response_type must be code")
		return
	}
	if f.Get("code_challenge_method") != "S256" {
		fail(errInvalidRequest, "PKCE with code_challenge_method S256 is required")
		return
	}
	challenge := f.Get("code_challenge")
	if !validChallenge(challenge) {
		fail(errInvalidRequest, "code_challenge must be a base64url SHA-256 digest")
		return
	}
	user := f.Get("user")
	if user == "" {
		user = f.Get("login_hint")
	}
	role, org, name := f.Get("role"), f.Get("org"), f.Get("name")
	var id Identity
	switch demo, ok := demoUser(f.Get("demo")); {
	case r.Method == http.MethodPost && ok:
		// A one-click demo user from the form.
		id = demo
		p.startSession(w, id)
	case user == "" && role == "" && org == "":
		// Signed in already (and not asked to sign in again): no form.
		sid, signedIn := p.sessionIdentity(r)
		if !signedIn || f.Get("prompt") == "login" {
			p.loginForm(w, http.StatusOK, f, "")
			return
		}
		id = sid
	default:
		var err error
		id, err = NewIdentity(user, role, org, name)
		if err != nil {
			if r.Method == http.MethodPost {
				p.loginForm(w, http.StatusBadRequest, f, mig.ErrorMessage(err))
			} else {
				fail(errInvalidRequest, mig.ErrorMessage(err))
			}
			return
		}
		if r.Method == http.MethodPost {
			p.startSession(w, id)
		}
	}
	code := randomString(32)
	p.storeCode(code, authCode{
		clientID: clientID, redirectURI: redirectURI, challenge: challenge,
		nonce: f.Get("nonce"), id: id, expires: p.now().Add(p.opts.CodeTTL),
	})
	q := url.Values{"code": {code}}
	if state != "" {
		q.Set("state", state)
	}
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	http.Redirect(w, r, withQuery(redirectURI, q), status)
}

// storeCode records an authorisation code, dropping expired ones and, at
// the bound, the oldest.
func (p *Provider) storeCode(code string, c authCode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	for k, v := range p.codes {
		if now.After(v.expires) {
			delete(p.codes, k)
		}
	}
	for len(p.codes) >= maxCodes {
		oldest := ""
		for k, v := range p.codes {
			if oldest == "" || v.expires.Before(p.codes[oldest].expires) {
				oldest = k
			}
		}
		delete(p.codes, oldest)
	}
	p.codes[code] = c
}

// takeCode removes and returns a code: a code is usable once, whatever the
// outcome of the exchange.
func (p *Provider) takeCode(code string) (authCode, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.codes[code]
	delete(p.codes, code)
	return c, ok
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	IDToken     string `json:"id_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, errInvalidRequest, "form body could not be read")
		return
	}
	f := r.PostForm
	var (
		id    Identity
		nonce string
	)
	switch f.Get("grant_type") {
	case "authorization_code":
		c, ok := p.takeCode(f.Get("code"))
		switch {
		case !ok:
			oauthError(w, http.StatusBadRequest, errInvalidGrant, "code is not valid or was already used")
			return
		case p.now().After(c.expires):
			oauthError(w, http.StatusBadRequest, errInvalidGrant, "code expired")
			return
		case f.Get("redirect_uri") != c.redirectURI:
			oauthError(w, http.StatusBadRequest, errInvalidGrant, "redirect_uri does not match the authorization request")
			return
		case f.Has("client_id") && f.Get("client_id") != c.clientID:
			oauthError(w, http.StatusUnauthorized, errInvalidClient, "client_id does not match the authorization request")
			return
		case !verifierMatches(f.Get("code_verifier"), c.challenge):
			oauthError(w, http.StatusBadRequest, errInvalidGrant, "code_verifier does not match the code_challenge")
			return
		}
		id, nonce = c.id, c.nonce
	case DevGrantType:
		var err error
		if id, err = NewIdentity(f.Get("user"), f.Get("role"), f.Get("org"), f.Get("name")); err != nil {
			oauthError(w, http.StatusBadRequest, errInvalidRequest, mig.ErrorMessage(err))
			return
		}
	case "":
		oauthError(w, http.StatusBadRequest, errInvalidRequest, "grant_type is required")
		return
	default:
		oauthError(w, http.StatusBadRequest, errUnsupportedGrantType, "grant_type must be authorization_code or "+DevGrantType)
		return
	}
	access, idToken, err := p.issue(id, nonce)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "token could not be signed")
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: access, IDToken: idToken, TokenType: "Bearer",
		ExpiresIn: int64(p.opts.TokenTTL.Seconds()),
	})
}

// validChallenge reports whether s looks like base64url(SHA-256(...)).
func validChallenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

// verifierMatches checks a PKCE code_verifier (RFC 7636: 43-128 characters
// of [A-Z a-z 0-9 - . _ ~]) against an S256 challenge.
func verifierMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	for _, c := range []byte(verifier) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0) {
			return false
		}
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// withQuery adds q to the query of u (a redirect URI already validated).
func withQuery(u string, q url.Values) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return u
	}
	existing := parsed.Query()
	for k, vs := range q {
		existing[k] = vs
	}
	parsed.RawQuery = existing.Encode()
	return parsed.String()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
}

var errorTemplate = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MIG development sign-in</title></head>
<body><h1>MIG development sign-in</h1><p role="alert">{{.}}</p></body></html>
`))

func errorPage(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = errorTemplate.Execute(w, message)
}

// option is one choice in the login form.
type option struct {
	Code, Name string
	Selected   bool
}

var formTemplate = template.Must(template.New("form").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MIG development sign-in</title>
<style>body{font-family:sans-serif;max-width:32em;margin:2em auto}label{display:block;margin:.8em 0 .2em}
input,select{width:100%;padding:.3em}button{margin-top:1.2em;padding:.4em 1.2em}.err{color:#a00}form.demo button{margin-top:.4em;width:100%;text-align:left}</style></head>
<body><h1>MIG development sign-in</h1>
<p>Development identity provider: choose who to sign in as. Not for real patients or users.</p>
{{if .Error}}<p class="err" role="alert">{{.Error}}</p>{{end}}
{{if .Demo}}<h2>Demo users</h2>
{{range .Demo}}<form method="post" action="/authorize" class="demo">
{{range $k, $v := $.Hidden}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<input type="hidden" name="demo" value="{{.User}}"><button type="submit" id="demo-{{.User}}">Sign in as {{.Label}}</button>
</form>
{{end}}<h2>Any user</h2>{{end}}
<form method="post" action="/authorize">
{{range $k, $v := .Hidden}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<label for="user">User id</label><input id="user" name="user" value="{{.User}}" required maxlength="64">
<label for="name">Display name</label><input id="name" name="name" value="{{.Name}}" maxlength="100">
<label for="role">Role</label><select id="role" name="role">{{range .Roles}}<option value="{{.Code}}"{{if .Selected}} selected{{end}}>{{.Code}} {{.Name}}</option>{{end}}</select>
<label for="org">Organisation (ODS code)</label><input id="org" name="org" list="orgs" value="{{.Org}}" required maxlength="10">
<datalist id="orgs">{{range .Orgs}}<option value="{{.Code}}">{{.Name}}</option>{{end}}</datalist>
<button type="submit">Sign in</button>
</form></body></html>
`))

// loginForm renders the sign-in form, carrying the authorisation request
// in hidden fields.
func (p *Provider) loginForm(w http.ResponseWriter, status int, f url.Values, errMsg string) {
	hidden := map[string]string{}
	for _, k := range []string{"response_type", "client_id", "redirect_uri", "state", "nonce", "scope",
		"code_challenge", "code_challenge_method"} {
		if v := f.Get(k); v != "" {
			hidden[k] = v
		}
	}
	user := f.Get("user")
	if user == "" {
		user = "dev-clinician"
	}
	name := f.Get("name")
	if name == "" {
		name = "Development Clinician"
	}
	org := f.Get("org")
	if org == "" {
		org = orgCodes[0]
	}
	role := f.Get("role")
	if role == "" {
		role = roleCodes[0]
	}
	roles := make([]option, 0, len(roleCodes))
	for _, c := range roleCodes {
		roles = append(roles, option{Code: c, Name: RoleName(c), Selected: c == role})
	}
	orgs := make([]option, 0, len(orgCodes))
	for _, c := range orgCodes {
		orgs = append(orgs, option{Code: c, Name: OrgName(c)})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// form-action also governs the redirect that answers the form (to the
	// client's redirect URI, already checked against the registered ones).
	formAction := "'self'"
	if u, err := url.Parse(f.Get("redirect_uri")); err == nil && u.Scheme == "http" && u.Host != "" {
		formAction += " http://" + u.Host
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action "+formAction)
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_ = formTemplate.Execute(w, map[string]any{
		"Hidden": hidden, "User": user, "Name": name, "Org": org, "Roles": roles, "Orgs": orgs, "Error": errMsg,
		"Demo": DemoUsers,
	})
}

// checkRedirectPattern refuses registered redirect URIs that are not
// plain http on loopback.
func checkRedirectPattern(pattern string) error {
	bad := mig.Errorf(mig.EINVALID, "development identity provider: redirect URIs must be http URLs on loopback")
	if !strings.HasPrefix(pattern, "http://") {
		return bad
	}
	if i := strings.Index(pattern, ":*"); i >= 0 {
		host := strings.Trim(strings.TrimPrefix(pattern[:i], "http://"), "[]")
		if !isLoopbackHost(host) || !strings.HasPrefix(pattern[i+2:], "/") {
			return bad
		}
		return nil
	}
	u, err := url.Parse(pattern)
	if err != nil || u.Fragment != "" || u.User != nil || !isLoopbackHost(u.Hostname()) {
		return bad
	}
	return nil
}

// redirectAllowed reports whether uri matches a registered pattern: an
// exact match, or for "http://<loopback>:*/prefix" the same host, any
// numeric port and a path under /prefix.
func redirectAllowed(patterns []string, uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || u.Fragment != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	path := u.EscapedPath()
	if strings.Contains(path, "/../") || strings.HasSuffix(path, "/..") || strings.Contains(path, "%2e") || strings.Contains(path, "%2E") {
		return false
	}
	for _, pat := range patterns {
		i := strings.Index(pat, ":*")
		if i < 0 {
			if uri == pat {
				return true
			}
			continue
		}
		host := strings.Trim(strings.TrimPrefix(pat[:i], "http://"), "[]")
		if !strings.EqualFold(u.Hostname(), host) || !numeric(u.Port()) {
			continue
		}
		prefix := pat[i+2:]
		if path == "" {
			path = "/"
		}
		if strings.HasSuffix(prefix, "/") && strings.HasPrefix(path, prefix) || path == prefix {
			return true
		}
	}
	return false
}

func numeric(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
