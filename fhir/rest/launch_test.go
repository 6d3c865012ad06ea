package rest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/rs/zerolog"

	"mig"
	"mig/adapters/record"
	"mig/consent"
	consentbolt "mig/consent/bolt"
)

// tokens maps bearer tokens to users for the launch tests.
type tokens map[string]string

func (tk tokens) Verify(_ context.Context, raw string) (*consent.Principal, error) {
	if u, ok := tk[raw]; ok {
		return &consent.Principal{UserID: u, RoleCode: "R8000", OrgODS: "RX999"}, nil
	}
	return nil, &mig.Error{Code: mig.EUNAUTHORIZED, Message: "token not valid"}
}

// auditLog records every request the chain completes.
type auditLog struct {
	consent.Base
	mu  sync.Mutex
	ops []string
}

func (a *auditLog) Complete(_ context.Context, r *consent.Request) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ops = append(a.ops, string(r.Operation)+" "+r.Decision.Rule)
	return nil
}

func (a *auditLog) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.ops)
}

type launchRig struct {
	t     *testing.T
	srv   *httptest.Server
	key   *ecdsa.PrivateKey
	now   time.Time
	audit *auditLog
	mu    sync.Mutex
}

func newLaunchRig(t *testing.T) *launchRig {
	db, err := consentbolt.Open(filepath.Join(t.TempDir(), "consent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rig := &launchRig{t: t, key: key, now: time.Now().UTC().Truncate(time.Second), audit: &auditLog{}}
	s := &Server{
		Verifier: tokens{"tok-clin1": "clin1", "tok-clin2": "clin2"},
		Chain:    consent.Chain{consent.LaunchScope{}, rig.audit},
		Log:      zerolog.Nop(),
		Base:     "http://gw.test/fhir",
		Now: func() time.Time {
			rig.mu.Lock()
			defer rig.mu.Unlock()
			return rig.now
		},
		ViewContext: record.DefaultViewContext,
		Launch: &LaunchAPI{Store: db.Launches(), Audience: "http://gw.test/smart/launch",
			Clients: map[string]*jose.JSONWebKeySet{"ehr": {Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1"}}}}},
	}
	rig.srv = httptest.NewServer(s.Handler())
	t.Cleanup(rig.srv.Close)
	return rig
}

func (rig *launchRig) advance(d time.Duration) {
	rig.mu.Lock()
	rig.now = rig.now.Add(d)
	rig.mu.Unlock()
}

// assertion signs a client assertion; edit changes its claims first.
func (rig *launchRig) assertion(key *ecdsa.PrivateKey, edit func(map[string]any)) string {
	rig.mu.Lock()
	now := rig.now
	rig.mu.Unlock()
	var jti [8]byte
	rand.Read(jti[:])
	c := map[string]any{"iss": "ehr", "sub": "ehr", "aud": "http://gw.test/smart/launch",
		"exp": now.Add(2 * time.Minute).Unix(), "iat": now.Unix(), "jti": url.QueryEscape(string(jti[:]))}
	if edit != nil {
		edit(c)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	if err != nil {
		rig.t.Fatal(err)
	}
	payload, _ := json.Marshal(c)
	jws, err := signer.Sign(payload)
	if err != nil {
		rig.t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

func (rig *launchRig) post(path, bearer string, form url.Values) (int, map[string]any, http.Header) {
	rig.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, rig.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		rig.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body, resp.Header
}

func (rig *launchRig) create(assertion, user, nhs string) (int, string) {
	rig.t.Helper()
	status, body, h := rig.post("/smart/launch", "", url.Values{
		"client_assertion_type": {clientAssertionType}, "client_assertion": {assertion},
		"user": {user}, "patient": {nhs}, "birthdate": {"1950-03-14"}})
	if status == http.StatusCreated && h.Get("Cache-Control") != "no-store" {
		rig.t.Errorf("launch answer without Cache-Control: no-store")
	}
	id, _ := body["launch"].(string)
	return status, id
}

func TestLaunchClientAuthentication(t *testing.T) {
	rig := newLaunchRig(t)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cases := map[string]string{
		"no assertion":      "",
		"other key":         rig.assertion(other, nil),
		"unknown client":    rig.assertion(rig.key, func(c map[string]any) { c["iss"], c["sub"] = "nobody", "nobody" }),
		"sub is not iss":    rig.assertion(rig.key, func(c map[string]any) { c["sub"] = "someone" }),
		"other audience":    rig.assertion(rig.key, func(c map[string]any) { c["aud"] = "http://gw.test/other" }),
		"expired":           rig.assertion(rig.key, func(c map[string]any) { c["exp"] = rig.now.Add(-time.Minute).Unix() }),
		"lives too long":    rig.assertion(rig.key, func(c map[string]any) { c["exp"] = rig.now.Add(time.Hour).Unix() }),
		"no jti":            rig.assertion(rig.key, func(c map[string]any) { delete(c, "jti") }),
		"not a JWT":         "not.a.jwt",
		"alg none (forged)": "eyJhbGciOiJub25lIn0.eyJpc3MiOiJlaHIiLCJzdWIiOiJlaHIifQ.",
	}
	for name, a := range cases {
		if status, id := rig.create(a, "clin1", "9990001006"); status != http.StatusUnauthorized || id != "" {
			t.Errorf("%s: HTTP %d, launch %q; want 401 and no launch", name, status, id)
		}
	}
	good := rig.assertion(rig.key, nil)
	if status, id := rig.create(good, "clin1", "9990001006"); status != http.StatusCreated || len(id) < 20 {
		t.Fatalf("good assertion: HTTP %d, launch %q", status, id)
	}
	if status, _ := rig.create(good, "clin1", "9990001006"); status != http.StatusUnauthorized {
		t.Errorf("replayed assertion: HTTP %d, want 401", status)
	}
	if status, _ := rig.create(rig.assertion(rig.key, nil), "clin1", "9990001007"); status != http.StatusBadRequest {
		t.Errorf("bad NHS number: HTTP %d, want 400", status)
	}
	if got, want := rig.audit.count(), len(cases)+3; got != want {
		t.Errorf("%d requests audited, want %d (every one, refused or not)", got, want)
	}
}

func TestLaunchRedeemOnceForItsUserBeforeExpiry(t *testing.T) {
	rig := newLaunchRig(t)
	redeem := func(bearer, id string) (int, map[string]any) {
		status, body, _ := rig.post("/smart/launch/redeem", bearer, url.Values{"launch": {id}})
		return status, body
	}
	_, id := rig.create(rig.assertion(rig.key, nil), "clin1", "999 000 1006")
	if status, _ := redeem("", id); status != http.StatusUnauthorized {
		t.Errorf("no token: HTTP %d", status)
	}
	status, body := redeem("tok-clin1", id)
	if status != http.StatusOK {
		t.Fatalf("redeem: HTTP %d %v", status, body)
	}
	if p, _ := body["patient"].(map[string]any); p["nhsNumber"] != "9990001006" || p["birthDate"] != "1950-03-14" {
		t.Errorf("redeemed patient = %v", body["patient"])
	}
	if status, _ := redeem("tok-clin1", id); status != http.StatusForbidden {
		t.Errorf("second redemption: HTTP %d, want 403 (single use)", status)
	}

	// Another user: refused, and the launch is spent.
	_, id2 := rig.create(rig.assertion(rig.key, nil), "clin1", "9990001006")
	if status, body := redeem("tok-clin2", id2); status != http.StatusForbidden || !strings.Contains(body["issue"].([]any)[0].(map[string]any)["diagnostics"].(string), "another user") {
		t.Errorf("other user: HTTP %d %v", status, body)
	}
	if status, _ := redeem("tok-clin1", id2); status != http.StatusForbidden {
		t.Errorf("after another user tried: HTTP %d, want 403", status)
	}

	// Expiry: five minutes by default.
	_, id3 := rig.create(rig.assertion(rig.key, nil), "clin1", "9990001006")
	rig.advance(5*time.Minute + time.Second)
	if status, _ := redeem("tok-clin1", id3); status != http.StatusForbidden {
		t.Errorf("expired launch: HTTP %d, want 403", status)
	}
	if status, _ := redeem("tok-clin1", "unknown-launch-id"); status != http.StatusForbidden {
		t.Errorf("unknown launch: HTTP %d, want 403", status)
	}
}

// A FHIR call naming a launch must name a redeemed launch of the same
// user, still in scope.
func TestLaunchHeaderChecked(t *testing.T) {
	rig := newLaunchRig(t)
	_, id := rig.create(rig.assertion(rig.key, nil), "clin1", "9990001006")
	get := func(bearer, launch string) int {
		req, _ := http.NewRequest(http.MethodGet, rig.srv.URL+"/fhir/Contract", nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		req.Header.Set(LaunchHeader, launch)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get("tok-clin1", id); got != http.StatusForbidden {
		t.Errorf("launch not yet redeemed: HTTP %d, want 403", got)
	}
	rig.post("/smart/launch/redeem", "tok-clin1", url.Values{"launch": {id}})
	if got := get("tok-clin2", id); got != http.StatusForbidden {
		t.Errorf("another user's launch: HTTP %d, want 403", got)
	}
	if got := get("tok-clin1", "bogus"); got != http.StatusForbidden {
		t.Errorf("unknown launch: HTTP %d, want 403", got)
	}
}

// Under a launch, the chain refuses any other patient before any rule
// could authorise it.
func TestLaunchScope(t *testing.T) {
	l := &consent.Launch{NHSNumber: "9990001006"}
	ctx := consent.WithLaunch(context.Background(), l)
	if d := (consent.LaunchScope{}).CanSee(ctx, &consent.Request{NHSNumber: "9990001014"}, nil); d.Verdict != consent.Reject || mig.ErrorIssue(d.Err) != mig.IssueAccessDenied {
		t.Errorf("other patient under a launch: %+v", d)
	}
	if d := (consent.LaunchScope{}).CanSee(ctx, &consent.Request{NHSNumber: "9990001006"}, nil); d.Verdict != consent.Proceed {
		t.Errorf("launch patient: %+v", d)
	}
	if d := (consent.LaunchScope{}).CanSee(context.Background(), &consent.Request{NHSNumber: "9990001014"}, nil); d.Verdict != consent.Proceed {
		t.Errorf("no launch: %+v", d)
	}
	if d := (consent.LaunchScope{}).Start(ctx, &consent.Request{NHSNumber: "9990001014"}); d.Verdict != consent.Reject {
		t.Errorf("a request naming another patient under a launch, at Start: %+v", d)
	}
	if d := (consent.LaunchScope{}).Start(ctx, &consent.Request{}); d.Verdict != consent.Proceed {
		t.Errorf("no patient named yet, at Start: %+v", d)
	}
}

func TestStatedBirthDate(t *testing.T) {
	for body, want := range map[string]string{
		`{"resourceType":"Consent"}`: "",
		`{"extension":[{"url":"` + ExtStatedBirthDate + `","valueDate":"1950-03-14"}]}`: "1950-03-14",
	} {
		if got, err := statedBirthDate([]byte(body)); err != nil || got != want {
			t.Errorf("%s: %q, %v", body, got, err)
		}
	}
	for _, body := range []string{
		`{"extension":[{"url":"` + ExtStatedBirthDate + `","valueDate":"1950-03"}]}`,
		`{"extension":[{"url":"` + ExtStatedBirthDate + `"}]}`,
		`{"extension":[{"url":"` + ExtStatedBirthDate + `","valueDate":"1950-03-14"},{"url":"` + ExtStatedBirthDate + `","valueDate":"1950-03-14"}]}`,
	} {
		if _, err := statedBirthDate([]byte(body)); mig.ErrorCode(err) != mig.EINVALID {
			t.Errorf("%s accepted", body)
		}
	}
}
