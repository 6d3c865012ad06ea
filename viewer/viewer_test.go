package viewer

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"mig/consent/devidp"
)

// fakeGateway answers the FHIR calls the viewer makes, from canned
// bodies, and records what it was sent.
type fakeGateway struct {
	mu      sync.Mutex
	srv     *httptest.Server
	routes  map[string]func(w http.ResponseWriter, r *http.Request)
	headers []http.Header
	bodies  []string
}

func newFakeGateway(t *testing.T) *fakeGateway {
	g := &fakeGateway{routes: map[string]func(http.ResponseWriter, *http.Request){}}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		g.headers = append(g.headers, r.Header.Clone())
		g.bodies = append(g.bodies, string(b))
		h := g.routes[r.Method+" "+r.URL.Path]
		g.mu.Unlock()
		if h == nil {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, outcome("PATIENT_NOT_FOUND", "no such patient"))
			return
		}
		h(w, r)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGateway) on(route string, h func(w http.ResponseWriter, r *http.Request)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.routes[route] = h
}

func (g *fakeGateway) lastHeader() http.Header {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.headers[len(g.headers)-1]
}

func (g *fakeGateway) lastBody() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.bodies[len(g.bodies)-1]
}

func outcome(issue, diag string) string {
	b, _ := json.Marshal(map[string]any{"resourceType": "OperationOutcome", "issue": []any{map[string]any{
		"severity": "error", "code": "forbidden", "diagnostics": diag,
		"details": map[string]any{"coding": []any{map[string]string{"code": issue}}}}}})
	return string(b)
}

func refuse(status int, issue, diag string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		io.WriteString(w, outcome(issue, diag))
	}
}

func answer(body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) }
}

const patientJSON = `{"resourceType":"Patient","id":"pid1","name":[{"family":"Example","given":["Ann"],"prefix":["Mrs"]}],
"gender":"female","birthDate":"1950-03-14","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9990001006"}],
"generalPractitioner":[{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"A99901"}}]}`

func bundleOf(next string, resources ...string) string {
	var entries []string
	for _, r := range resources {
		mode := "match"
		if strings.Contains(r, `"OperationOutcome"`) {
			mode = "outcome"
		}
		entries = append(entries, `{"resource":`+r+`,"search":{"mode":"`+mode+`"}}`)
	}
	link := ""
	if next != "" {
		link = `,"link":[{"relation":"next","url":"` + next + `"}]`
	}
	return `{"resourceType":"Bundle","type":"searchset"` + link + `,"entry":[` + strings.Join(entries, ",") + `]}`
}

// rig is a viewer with a real development identity provider and a fake
// gateway.
type rig struct {
	t   *testing.T
	v   *Viewer
	srv *httptest.Server
	gw  *fakeGateway
	idp *devidp.Provider
	now time.Time
	mu  sync.Mutex
}

func newRig(t *testing.T, edit func(*Config)) *rig {
	t.Helper()
	idp, err := devidp.Start(context.Background(), devidp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Close() })
	r := &rig{t: t, gw: newFakeGateway(t), idp: idp, now: time.Now()}
	r.srv = httptest.NewUnstartedServer(nil)
	cfg := Config{PublicURL: "http://" + r.srv.Listener.Addr().String(), FHIRBase: r.gw.srv.URL + "/fhir",
		Issuer: idp.Issuer(), ClientID: idp.ClientID(), SessionKey: []byte("0123456789abcdef0123456789abcdef"),
		Now: func() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now }}
	if edit != nil {
		edit(&cfg)
	}
	if r.v, err = New(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	r.srv.Config.Handler = r.v.Handler()
	r.srv.Start()
	t.Cleanup(r.srv.Close)
	return r
}

func (r *rig) advance(d time.Duration) {
	r.mu.Lock()
	r.now = r.now.Add(d)
	r.mu.Unlock()
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects.
func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type reply struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, c *http.Client, method, u string, form url.Values) reply {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// signIn runs the real authorisation code flow against the development
// provider (identity given in the authorisation request, as automation
// may) and returns the signed-in browser.
func (r *rig) signIn(user, role, org string) *http.Client {
	r.t.Helper()
	c := browser()
	res := do(r.t, c, http.MethodGet, r.srv.URL+"/login", nil)
	auth, err := url.Parse(res.header.Get("Location"))
	if res.status != http.StatusSeeOther || err != nil {
		r.t.Fatalf("login: %d %v", res.status, err)
	}
	q := auth.Query()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("state") == "" || q.Get("nonce") == "" {
		r.t.Fatalf("authorisation request lacks PKCE S256, state or nonce: %v", q)
	}
	q.Set("user", user)
	q.Set("role", role)
	q.Set("org", org)
	q.Set("name", "Dr <b>Test</b>")
	auth.RawQuery = q.Encode()
	res = do(r.t, c, http.MethodGet, auth.String(), nil)
	cb := res.header.Get("Location")
	if !strings.HasPrefix(cb, r.srv.URL+"/auth/callback?") {
		r.t.Fatalf("authorize answered %d %s", res.status, cb)
	}
	res = do(r.t, c, http.MethodGet, cb, nil)
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/" {
		r.t.Fatalf("callback: %d %s %s", res.status, res.header.Get("Location"), res.body)
	}
	return c
}

var csrfRE = `name="csrf" value="`

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	i := strings.Index(body, csrfRE)
	if i < 0 {
		t.Fatalf("page has no CSRF token")
	}
	rest := body[i+len(csrfRE):]
	return rest[:strings.IndexByte(rest, '"')]
}

func TestSecurityHeadersOnEveryPage(t *testing.T) {
	r := newRig(t, nil)
	c := r.signIn("clin1", "R8000", "RX999")
	for _, path := range []string{"/", "/signed-out", "/nowhere", "/assets/viewer/viewer.css", "/launch?iss=x&launch=y"} {
		res := do(t, c, http.MethodGet, r.srv.URL+path, nil)
		h := res.header
		if h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: Cache-Control %q, Referrer-Policy %q", path, h.Get("Cache-Control"), h.Get("Referrer-Policy"))
		}
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline script or eval: %q", path, csp)
		}
		if strings.Count(res.body, "<script") != strings.Count(res.body, `<script src="/assets/viewer/`) || strings.Contains(res.body, " onclick=") || strings.Contains(res.body, " style=") {
			t.Errorf("%s: page has inline script or style", path)
		}
	}
	// Embedding is limited to the configured clinical systems.
	r2 := newRig(t, func(c *Config) { c.FrameAncestors = []string{"https://ehr.example.nhs.uk"} })
	res := do(t, browser(), http.MethodGet, r2.srv.URL+"/", nil)
	if csp := res.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self' https://ehr.example.nhs.uk;") || res.header.Get("X-Frame-Options") != "" {
		t.Errorf("frame-ancestors with configured origins: %q, X-Frame-Options %q", csp, res.header.Get("X-Frame-Options"))
	}
}

func TestSignInShowsRoleAndOrganisationAndKeepsTokenSealed(t *testing.T) {
	r := newRig(t, nil)
	c := r.signIn("clin1", "R8000", "RX999")
	res := do(t, c, http.MethodGet, r.srv.URL+"/", nil)
	for _, want := range []string{"Find a patient", "Clinical Practitioner Access Role (R8000)", "(RX999)", "Dr &lt;b&gt;Test&lt;/b&gt;"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("search page lacks %q", want)
		}
	}
	if strings.Contains(res.body, "Dr <b>Test</b>") {
		t.Error("a name from the token reached the page unescaped")
	}
	u, _ := url.Parse(r.srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if strings.Count(ck.Value, ".") >= 2 || strings.Contains(ck.Value, "eyJ") {
			t.Errorf("cookie %s looks like it holds a token in clear", ck.Name)
		}
	}
	// A tampered session cookie is no session.
	var sess *http.Cookie
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == cookieSession {
			sess = ck
		}
	}
	if sess == nil {
		t.Fatal("no session cookie")
	}
	b := []byte(sess.Value)
	b[len(b)/2] ^= 1
	c2 := browser()
	c2.Jar.SetCookies(u, []*http.Cookie{{Name: cookieSession, Value: string(b)}})
	if res := do(t, c2, http.MethodGet, r.srv.URL+"/", nil); !strings.Contains(res.body, `id="signin"`) {
		t.Error("a tampered session cookie was accepted")
	}
}

func TestCallbackRefusesForeignState(t *testing.T) {
	r := newRig(t, nil)
	c := browser()
	res := do(t, c, http.MethodGet, r.srv.URL+"/auth/callback?code=abc&state=forged", nil)
	if res.status != http.StatusBadRequest || !strings.Contains(res.body, "could not be matched") {
		t.Errorf("forged state: %d", res.status)
	}
}

func TestEveryFormNeedsItsCSRFToken(t *testing.T) {
	r := newRig(t, nil)
	r.gw.on("POST /fhir/Patient/_search", refuse(403, "NO_VIEW_CONSENT", "no consent to view"))
	c := r.signIn("clin1", "R8000", "RX999")
	page := do(t, c, http.MethodGet, r.srv.URL+"/", nil)
	token := csrfOf(t, page.body)
	form := url.Values{"nhs": {"999 000 1006"}, "dob-day": {"14"}, "dob-month": {"3"}, "dob-year": {"1950"}}
	for name, tok := range map[string]string{"none": "", "wrong": "AAAA", "another session's": r.v.seal.csrf("other-sid")} {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		if tok != "" {
			f.Set("csrf", tok)
		}
		if res := do(t, c, http.MethodPost, r.srv.URL+"/search", f); res.status != http.StatusForbidden {
			t.Errorf("search with %s CSRF token: %d, want 403", name, res.status)
		}
	}
	if res := do(t, c, http.MethodPost, r.srv.URL+"/signout", url.Values{"csrf": {"bad"}}); res.status != http.StatusForbidden {
		t.Errorf("sign-out with a bad CSRF token: %d", res.status)
	}
	form.Set("csrf", token)
	res := do(t, c, http.MethodPost, r.srv.URL+"/search", form)
	if res.status != http.StatusSeeOther || !strings.HasSuffix(res.header.Get("Location"), "/consent") {
		t.Fatalf("search with its token: %d %s", res.status, res.header.Get("Location"))
	}
	// The NHS number travelled in a form body, never a URL.
	if !strings.Contains(r.gw.lastBody(), "9990001006") || strings.Contains(res.header.Get("Location"), "9990001006") {
		t.Error("NHS number not in the gateway body, or leaked into a URL")
	}
	if r.gw.lastHeader().Get("Authorization") == "" {
		t.Error("the gateway call lacked the user's token")
	}
	consent := do(t, c, http.MethodGet, r.srv.URL+res.header.Get("Location"), nil)
	if !strings.Contains(consent.body, "999 000 1006") || !strings.Contains(consent.body, "14 Mar 1950") {
		t.Error("the consent screen does not repeat NHS number and date of birth")
	}
	if res := do(t, c, http.MethodPost, r.srv.URL+res.header.Get("Location"), url.Values{"choice": {"given"}}); res.status != http.StatusForbidden {
		t.Errorf("consent without CSRF token: %d", res.status)
	}
}

func TestSearchValidation(t *testing.T) {
	r := newRig(t, nil)
	c := r.signIn("clin1", "R8000", "RX999")
	token := csrfOf(t, do(t, c, http.MethodGet, r.srv.URL+"/", nil).body)
	for nhs, want := range map[string]string{
		"":                     "Enter the patient",
		"999 000 1007":         "not a valid NHS number",
		"12345":                "must be 10 digits",
		`"><script>x</script>`: "must be 10 digits",
	} {
		res := do(t, c, http.MethodPost, r.srv.URL+"/search", url.Values{"csrf": {token}, "nhs": {nhs}, "dob-day": {"31"}, "dob-month": {"2"}, "dob-year": {"1950"}})
		if res.status != http.StatusBadRequest || !strings.Contains(res.body, want) || !strings.Contains(res.body, "must be a real date") {
			t.Errorf("nhs %q: %d, want 400 with %q and the date error", nhs, res.status, want)
		}
		if strings.Contains(res.body, "<script>x") {
			t.Error("input echoed unescaped")
		}
	}
}

func TestIdleTimeoutSignsOutAtTheIdP(t *testing.T) {
	r := newRig(t, func(c *Config) { c.IdleTimeout = time.Minute })
	r.gw.on("POST /fhir/Patient/_search", refuse(403, "NO_VIEW_CONSENT", "x"))
	c := r.signIn("clin1", "R8000", "RX999")
	page := do(t, c, http.MethodGet, r.srv.URL+"/", nil)
	if !strings.Contains(page.body, `data-idle-seconds="62" data-idle-back="/"`) || !strings.Contains(page.body, `<script src="/assets/viewer/idle.js" defer></script>`) {
		t.Errorf("no idle sign-out on the page")
	}
	r.advance(61 * time.Second)
	res := do(t, c, http.MethodPost, r.srv.URL+"/search", url.Values{"csrf": {csrfOf(t, page.body)}, "nhs": {"9990001006"},
		"dob-day": {"14"}, "dob-month": {"3"}, "dob-year": {"1950"}})
	loc := res.header.Get("Location")
	if res.status != http.StatusSeeOther || !strings.HasPrefix(loc, r.idp.Issuer()+"/end_session?") || !strings.Contains(loc, url.QueryEscape("/signed-out?reason=idle")) {
		t.Fatalf("idle request: %d %s", res.status, loc)
	}
	if res := do(t, c, http.MethodGet, r.srv.URL+"/", nil); !strings.Contains(res.body, `id="signin"`) {
		t.Error("still signed in after the idle timeout")
	}
}

func TestRecordTabsSayWhatIsNotShown(t *testing.T) {
	r := newRig(t, nil)
	c := r.signIn("clin1", "R8000", "RX999")
	r.gw.on("POST /fhir/Patient/_search", answer(bundleOf("", patientJSON)))
	withheld := `{"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"suppressed","diagnostics":"withheld"}]}`
	r.gw.on("GET /fhir/Patient/pid1/$mig-view", func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Query().Get("view") {
		case "summary":
			io.WriteString(w, bundleOf("", patientJSON, withheld,
				`{"resourceType":"Condition","id":"c1","category":[{"coding":[{"code":"problem-list-item"}]}],"clinicalStatus":{"coding":[{"code":"active"}]},"code":{"coding":[{"system":"http://read.info/readv2","code":"C10F.","display":"<script>alert(1)</script>","userSelected":true}]},"onsetDateTime":"2012-05-01"}`,
				`{"resourceType":"AllergyIntolerance","id":"a1","extension":[{"url":"`+extAllergenNotCoded+`","valueBoolean":true}],"clinicalStatus":{"coding":[{"code":"active"}]},"code":{"coding":[{"system":"http://snomed.info/sct","code":"91936005"}]},"recordedDate":"2001-05-02"}`))
		case "investigations":
			next := r.gw.srv.URL + "/fhir/Patient/pid1/$mig-view?view=investigations&_page=2"
			if req.URL.Query().Get("_page") == "2" {
				w.WriteHeader(503)
				io.WriteString(w, outcome("GP_SYSTEM_UNAVAILABLE", "down"))
				return
			}
			io.WriteString(w, bundleOf(next, patientJSON,
				`{"resourceType":"Observation","id":"o2","category":[{"coding":[{"code":"laboratory"}]}],"code":{"coding":[{"system":"http://read.info/readv2","code":"42N..","userSelected":true}]},"effectiveDateTime":"2026-09-16","valueRange":{"low":{"value":2,"unit":"mg/L"},"high":{"value":4,"unit":"mg/L"}}}`,
				`{"resourceType":"Observation","id":"o1","category":[{"coding":[{"code":"laboratory"}]}],"code":{"coding":[{"system":"http://read.info/readv2","code":"44J3.","userSelected":true}]},"effectiveDateTime":"2026-09-15","valueQuantity":{"value":7.5,"comparator":">","_unit":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"masked"}]}},"referenceRange":[{"low":{"value":3,"unit":"mmol/L"},"high":{"value":5.5,"unit":"mmol/L"}}],"interpretation":[{"coding":[{"code":"H"}]}]}`))
		case "medication":
			io.WriteString(w, bundleOf("", patientJSON))
		case "examination":
			io.WriteString(w, bundleOf("", patientJSON,
				`{"resourceType":"Observation","id":"b1","category":[{"coding":[{"code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"effectiveDateTime":"2026-09-15T09:35:00Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":142,"unit":"mmHg"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":88,"unit":"mmHg"}}]}`,
				`{"resourceType":"Observation","id":"b2","category":[{"coding":[{"code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"effectiveDateTime":"2026-10-15T09:35:00Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":132,"unit":"mmHg"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":84,"unit":"mmHg"}}]}`))
		default:
			w.WriteHeader(403)
			io.WriteString(w, outcome("NO_ORGANISATION_CONSENT", "the sharing agreement does not cover the requested view"))
		}
	})
	token := csrfOf(t, do(t, c, http.MethodGet, r.srv.URL+"/", nil).body)
	res := do(t, c, http.MethodPost, r.srv.URL+"/search", url.Values{"csrf": {token}, "nhs": {"9990001006"}, "dob-day": {"14"}, "dob-month": {"3"}, "dob-year": {"1950"}})
	summary := res.header.Get("Location")
	if !strings.HasSuffix(summary, "/summary") {
		t.Fatalf("search with consent recorded: %d %s", res.status, summary)
	}
	base := r.srv.URL + strings.TrimSuffix(summary, "summary")
	page := do(t, c, http.MethodGet, base+"summary", nil)
	for _, want := range []string{"Ann EXAMPLE (Mrs)", "999 000 1006", "14 Mar 1950", "A99901", msgWithheld, msgAllergenNC,
		"&lt;script&gt;alert(1)&lt;/script&gt;", "Read v2 C10F.", "No current medication recorded"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if strings.Contains(page.body, "<script>alert") {
		t.Error("a term from the gateway reached the page unescaped")
	}
	if strings.Contains(page.body, msgNoAllergies) {
		t.Error("said no allergies")
	}
	inv := do(t, c, http.MethodGet, base+"investigations", nil)
	for _, want := range []string{"could not be read completely", "&gt;7.5", "unit withheld", "3 to 5.5 mmol/L", "High", "term not available", "2 to 4</td><td class=\"nhsuk-table__cell\">mg/L"} {
		if !strings.Contains(inv.body, want) {
			t.Errorf("investigations lack %q", want)
		}
	}
	ex := do(t, c, http.MethodGet, base+"examination", nil)
	if !strings.Contains(ex.body, "<svg") || !strings.Contains(ex.body, "2 readings from") || strings.Count(ex.body, "<circle") != 2 {
		t.Error("examination lacks the blood pressure chart")
	}
	med := do(t, c, http.MethodGet, base+"medication", nil)
	if !strings.Contains(med.body, "No past medication recorded") || !strings.Contains(med.body, "No issues recorded") {
		t.Error("medication lacks its empty states")
	}
	risks := do(t, c, http.MethodGet, base+"risks", nil)
	if risks.status != http.StatusForbidden || !strings.Contains(risks.body, "The Risks and warnings view is not covered by your organisation&#39;s (RX999) Information Sharing Agreement") || !strings.Contains(risks.body, `class="srv-tabs__link"`) {
		t.Errorf("refused view: %d", risks.status)
	}
	// Another session cannot use this tab's patient context.
	c2 := r.signIn("clin1", "R8000", "RX999")
	if res := do(t, c2, http.MethodGet, base+"summary", nil); res.status != http.StatusBadRequest {
		t.Errorf("another session's patient context: %d, want 400", res.status)
	}
}

func TestRefusalsInPlainWords(t *testing.T) {
	r := newRig(t, nil)
	c := r.signIn("clin1", "R8000", "RX999")
	token := csrfOf(t, do(t, c, http.MethodGet, r.srv.URL+"/", nil).body)
	for issue, want := range map[string]string{
		"NO_PATIENT_CONSENT":      "The patient's GP record does not allow sharing: no consent to share is recorded, or the patient has opted out.",
		"NO_ORGANISATION_CONSENT": "Your organisation (RX999) is not in any active Information Sharing Agreement",
	} {
		r.gw.on("POST /fhir/Patient/_search", refuse(403, issue, "the requesting organisation is not in any active sharing agreement"))
		res := do(t, c, http.MethodPost, r.srv.URL+"/search", url.Values{"csrf": {token}, "nhs": {"9990001006"}, "dob-day": {"14"}, "dob-month": {"3"}, "dob-year": {"1950"}})
		if res.status != http.StatusForbidden || !strings.Contains(res.body, html.EscapeString(want)) {
			t.Errorf("%s: %d, want %q", issue, res.status, want)
		}
	}
}

func TestConsentSendsStatedBirthDateAndExplainsMismatch(t *testing.T) {
	r := newRig(t, nil)
	c := r.signIn("clin1", "R8000", "RX999")
	r.gw.on("POST /fhir/Patient/_search", refuse(403, "NO_VIEW_CONSENT", "x"))
	r.gw.on("POST /fhir/Consent", refuse(404, "PATIENT_NOT_FOUND", "no such patient"))
	token := csrfOf(t, do(t, c, http.MethodGet, r.srv.URL+"/", nil).body)
	res := do(t, c, http.MethodPost, r.srv.URL+"/search", url.Values{"csrf": {token}, "nhs": {"9990001006"}, "dob-day": {"1"}, "dob-month": {"1"}, "dob-year": {"1990"}})
	consentURL := r.srv.URL + res.header.Get("Location")
	if res := do(t, c, http.MethodPost, consentURL, url.Values{"csrf": {token}, "choice": {"emergency"}}); res.status != http.StatusBadRequest || !strings.Contains(res.body, "Choose the reason") {
		t.Errorf("emergency without a reason: %d", res.status)
	}
	res = do(t, c, http.MethodPost, consentURL, url.Values{"csrf": {token}, "choice": {"emergency"}, "reason": {"unconscious"}})
	if res.status != http.StatusNotFound || !strings.Contains(res.body, "no consent was recorded") {
		t.Errorf("mismatch: %d", res.status)
	}
	body := r.gw.lastBody()
	for _, want := range []string{`"valueDate":"1990-01-01"`, extStatedBirthDate, `"code":"ETREAT"`, `"code":"unconscious"`} {
		if !strings.Contains(body, want) {
			t.Errorf("Consent sent lacks %s: %s", want, body)
		}
	}
}

func TestLaunchIssuerAllowList(t *testing.T) {
	r := newRig(t, nil)
	res := do(t, browser(), http.MethodGet, r.srv.URL+"/launch?iss="+url.QueryEscape("https://evil.example/fhir")+"&launch=abc", nil)
	if res.status != http.StatusBadRequest || !strings.Contains(res.body, "does not trust") {
		t.Errorf("foreign iss: %d", res.status)
	}
	res = do(t, browser(), http.MethodGet, r.srv.URL+"/launch?iss="+url.QueryEscape(r.gw.srv.URL+"/fhir")+"&launch=abc", nil)
	loc, _ := url.Parse(res.header.Get("Location"))
	if res.status != http.StatusSeeOther || loc == nil || !strings.Contains(loc.Query().Get("scope"), "launch") {
		t.Errorf("allowed iss: %d %v, want sign-in with the launch scope", res.status, loc)
	}
	if strings.Contains(res.header.Get("Location"), "abc") {
		t.Error("the launch id went to the identity provider")
	}
}

func TestSealedValuesAreBoundToTheirPurpose(t *testing.T) {
	s, err := newSealer([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := s.seal(purposeCtx, &patientCtx{SID: "s1", NHS: "9990001006"})
	var sess session
	if s.open(purposeSess, sealed, &sess) == nil {
		t.Error("a patient context opened as a session")
	}
	var pc patientCtx
	if err := s.open(purposeCtx, sealed, &pc); err != nil || pc.NHS != "9990001006" {
		t.Errorf("own purpose: %v %+v", err, pc)
	}
	if strings.Contains(sealed, "9990001006") {
		t.Error("NHS number readable in a sealed context")
	}
	other, _ := newSealer([]byte("another key, 32 bytes long......"))
	if other.open(purposeCtx, sealed, &pc) == nil {
		t.Error("opened under another key")
	}
	if _, err := newSealer([]byte("short")); err == nil {
		t.Error("a short key was accepted")
	}
}

// syncBuf collects log lines from several goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Log lines carry the request id, method, route template, status and
// duration: never a token, an NHS number, a path or a query (which hold
// sealed patient contexts, launch ids and authorisation codes). The same
// id goes to the gateway, for its audit trail.
func TestLogsHoldNoTokenNoPatient(t *testing.T) {
	logs := &syncBuf{}
	r := newRig(t, func(c *Config) { c.Log = zerolog.New(logs) })
	r.gw.on("POST /fhir/Patient/_search", refuse(403, "NO_VIEW_CONSENT", "x"))
	c := r.signIn("clin1", "R8000", "RX999")
	token := csrfOf(t, do(t, c, http.MethodGet, r.srv.URL+"/", nil).body)
	res := do(t, c, http.MethodPost, r.srv.URL+"/search", url.Values{"csrf": {token}, "nhs": {"999 000 1006"}, "dob-day": {"14"}, "dob-month": {"3"}, "dob-year": {"1950"}})
	ctxPath := res.header.Get("Location")
	do(t, c, http.MethodGet, r.srv.URL+ctxPath, nil)
	do(t, c, http.MethodGet, r.srv.URL+"/launch?iss="+url.QueryEscape(r.gw.srv.URL+"/fhir")+"&launch=secret-launch-id", nil)
	out := logs.String()
	bearer := strings.TrimPrefix(r.gw.lastHeader().Get("Authorization"), "Bearer ")
	for name, bad := range map[string]string{"access token": bearer, "NHS number": "9990001006", "NHS number as typed": "999 000 1006",
		"sealed patient context": strings.Split(ctxPath, "/")[2], "launch id": "secret-launch-id", "authorisation code": "code="} {
		if bad == "" {
			t.Fatalf("%s: nothing to look for", name)
		}
		if strings.Contains(out, bad) {
			t.Errorf("a log line holds the %s", name)
		}
	}
	if !strings.Contains(out, `"route":"/p/:ctx/consent"`) {
		t.Errorf("no route template in the logs: %s", out)
	}
	if id := r.gw.lastHeader().Get("X-Request-ID"); id == "" || !strings.Contains(out, `"request_id":"`+id+`"`) {
		t.Errorf("the gateway call's X-Request-ID %q is not in the viewer's log", id)
	}
}
