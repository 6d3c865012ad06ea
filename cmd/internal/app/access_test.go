package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"mig/adapters/record"
	"mig/audit"
	"mig/consent"
	"mig/consent/devidp"
)

// call runs one request and checks its status, OperationOutcome details
// code (when want.code is set) and that it produced exactly one new
// AuditEvent, for its request id, with the outcome its status implies.
type want struct {
	status int
	code   string // OperationOutcome details code; "" for a success
}

func (g *gateway) call(t *testing.T, w want, fn func() *response) *response {
	t.Helper()
	before := g.auditSeq()
	r := fn()
	if r.Status != w.status {
		t.Fatalf("HTTP %d, want %d: %s", r.Status, w.status, truncate(r.Body))
	}
	if w.code != "" {
		if code, diag := r.outcome(t); code != w.code {
			t.Fatalf("details code %q (%s), want %q", code, diag, w.code)
		}
	}
	g.checkAudited(t, before, r)
	return r
}

// checkAudited checks that exactly one AuditEvent was stored since seq, for
// the response's request id, with the outcome the status implies.
func (g *gateway) checkAudited(t *testing.T, seq uint64, r *response) {
	t.Helper()
	evs := g.eventsSince(seq)
	if len(evs) != 1 {
		t.Fatalf("%d new AuditEvents, want exactly 1", len(evs))
	}
	ev := evs[0]
	if id := r.requestID(); id == "" || ev.RequestID != id {
		t.Fatalf("AuditEvent for request %q, response has X-Request-ID %q", ev.RequestID, id)
	}
	var outcome string
	switch {
	case r.Status < 300:
		outcome = audit.OutcomeSuccess
	case r.Status == 401 || r.Status == 403 || r.Status >= 500:
		outcome = audit.OutcomeSeriousFail
	default:
		outcome = audit.OutcomeMinorFailure
	}
	if ev.Outcome != outcome {
		t.Fatalf("AuditEvent outcome %q (%s), want %q for HTTP %d", ev.Outcome, ev.OutcomeDesc, outcome, r.Status)
	}
	if r.Status >= 400 {
		if ev.OutcomeDesc == "" {
			t.Fatal("refusal's AuditEvent has no outcomeDesc")
		}
		if code, _ := r.outcome(t); ruleCodes[code] && !strings.Contains(ev.OutcomeDesc, code) {
			t.Fatalf("AuditEvent outcomeDesc %q does not name %s", ev.OutcomeDesc, code)
		}
		if len(ev.Released) > 0 {
			t.Fatalf("refused request's AuditEvent records released resources %v", ev.Released)
		}
	}
}

// ruleCodes are the details codes an access rule or a failing dependency
// gives; the AuditEvent's outcomeDesc must name them.
var ruleCodes = map[string]bool{"NO_PATIENT_CONSENT": true, "NO_ORGANISATION_CONSENT": true, "NO_VIEW_CONSENT": true,
	"PATIENT_NOT_FOUND": true, "AUDIT_UNAVAILABLE": true, "GP_SYSTEM_UNAVAILABLE": true}

// Patients of the synthetic practices, by share status (testdata READMEs).
const (
	emisConsent  = "9990002002"
	emisNone     = "9990002029"
	emisDissent  = "9990002037"
	tppConsent   = "9990003009"
	tppConsent2  = "9990003017"
	tppNoneSMS   = "9990003025"
	tppDissent   = "9990003033"
	gp2gpConsent = "9990001006"
	gp2gpDissent = "9990001049"
	gp2gpNone    = "9990001057"
)

// TestAccessControl is the access-control decision table, run through real
// HTTP with real tokens against the demo gateway: principal x agreement x
// share status x view consent -> HTTP status and OperationOutcome code.
// Every row also checks that exactly one AuditEvent with the right outcome
// was stored for it.
func TestAccessControl(t *testing.T) {
	g := startGateway(t, nil)
	unknown := unknownNHS(t)
	sig := g.idpSigner()

	type row struct {
		name      string
		role, org string // "" role: a token with no selected role
		nhs       string
		consent   *consentKind
		consentOK want   // answer to recording the consent, when consent is set
		read      string // "" Patient search, else a $mig-view view
		want      want
	}
	ck := func(k consentKind) *consentKind { return &k }
	ok := want{status: 200}
	created := want{status: 201}
	noView := want{403, "NO_VIEW_CONSENT"}
	noShare := want{403, "NO_PATIENT_CONSENT"}
	noOrg := want{403, "NO_ORGANISATION_CONSENT"}
	denied := want{403, "ACCESS_DENIED"}
	notFound := want{404, "PATIENT_NOT_FOUND"}

	// Phase 1: the demo agreement is active.
	rows := []row{
		{name: "receptionist", role: "R8009", org: "RX999", nhs: tppConsent, want: denied},
		{name: "no role selected", role: "", org: "RX999", nhs: tppConsent, want: denied},
		{name: "auditor role reads a record", role: "R0001", org: "RX999", nhs: tppConsent, want: denied},
		{name: "org in no agreement", role: "R8000", org: "ZZ999", nhs: tppConsent, want: noOrg},
		{name: "org in no agreement records consent", role: "R8000", org: "ZZ999", nhs: tppConsent, consent: ck(consentGiven), consentOK: noOrg, want: noOrg},
		{name: "no view consent", role: "R8000", org: "RX999", nhs: tppConsent, want: noView},
		{name: "given TPP", role: "R8000", org: "RX999", nhs: tppConsent, consent: ck(consentGiven), consentOK: created, want: ok},
		{name: "given EMIS over HTTP", role: "R8001", org: "RX999", nhs: emisConsent, consent: ck(consentGiven), consentOK: created, want: ok},
		{name: "given GP2GP", role: "R8000", org: "RX999", nhs: gp2gpConsent, consent: ck(consentGiven), consentOK: created, want: ok},
		{name: "given, out of hours", role: "R8000", org: "NX999", nhs: emisConsent, consent: ck(consentGiven), consentOK: created, want: ok},
		{name: "given, view", role: "R8000", org: "RX999", nhs: tppConsent, consent: ck(consentGiven), consentOK: created, read: "problems", want: ok},
		{name: "refused", role: "R8000", org: "RX999", nhs: tppConsent, consent: ck(consentRefused), consentOK: created, want: noView},
		{name: "emergency with reason, permitted", role: "R8000", org: "RX999", nhs: tppConsent2, consent: ck(consentEmergency), consentOK: created, want: ok},
		{name: "emergency with reason, not permitted", role: "R8000", org: "NX999", nhs: tppConsent2, consent: ck(consentEmergency), consentOK: denied, want: noView},
		{name: "emergency without reason", role: "R8000", org: "RX999", nhs: tppConsent2, consent: ck(consentEmergencyNoReason), consentOK: want{400, "INVALID_RESOURCE"}, want: noView},
		{name: "dissent EMIS", role: "R8000", org: "RX999", nhs: emisDissent, consent: ck(consentGiven), consentOK: noShare, want: noShare},
		{name: "dissent TPP", role: "R8000", org: "RX999", nhs: tppDissent, consent: ck(consentGiven), consentOK: noShare, want: noShare},
		{name: "dissent GP2GP", role: "R8000", org: "RX999", nhs: gp2gpDissent, consent: ck(consentGiven), consentOK: noShare, want: noShare},
		{name: "dissent, emergency", role: "R8000", org: "RX999", nhs: tppDissent, consent: ck(consentEmergency), consentOK: noShare, want: noShare},
		{name: "no share consent EMIS", role: "R8000", org: "RX999", nhs: emisNone, consent: ck(consentGiven), consentOK: noShare, want: noShare},
		{name: "no share consent, SMS consent only", role: "R8000", org: "RX999", nhs: tppNoneSMS, consent: ck(consentGiven), consentOK: noShare, want: noShare},
		{name: "no share consent GP2GP", role: "R8000", org: "RX999", nhs: gp2gpNone, consent: ck(consentGiven), consentOK: noShare, want: noShare},
		{name: "no such patient", role: "R8000", org: "RX999", nhs: unknown, consent: ck(consentGiven), consentOK: notFound, want: notFound},
		{name: "no such patient, view", role: "R8000", org: "RX999", nhs: unknown, read: "summary", want: notFound},
		{name: "deceased", role: "R8000", org: "RX999", nhs: "9990001073", consent: ck(consentGiven), consentOK: notFound, want: notFound},
		{name: "deducted", role: "R8000", org: "RX999", nhs: "9990001081", consent: ck(consentGiven), consentOK: notFound, want: notFound},
	}
	// The NX999 clinician whose consent for tppConsent outlives phase 1.
	rows = append(rows, row{name: "out of hours, TPP", role: "R8000", org: "NX999", nhs: tppConsent, consent: ck(consentGiven), consentOK: created, read: "medication", want: ok})

	tokenFor := func(i int, r row) string {
		user := fmt.Sprintf("clin%d", i)
		if r.role == "" {
			return sig.sign(t, claims(g.m.Issuer, "mig", user, "", r.org, time.Now().Add(time.Hour)))
		}
		return g.token(user, r.role, r.org)
	}
	read := func(tok string, r row) *response {
		if r.read == "" {
			return g.searchPatient(tok, r.nhs)
		}
		return g.view(tok, r.nhs, r.read)
	}
	users := map[string]string{}
	for i, r := range rows {
		t.Run("active/"+r.name, func(t *testing.T) {
			tok := tokenFor(i, r)
			users[r.name] = tok
			if r.consent != nil {
				g.call(t, r.consentOK, func() *response { return g.recordConsent(tok, r.nhs, *r.consent) })
			}
			resp := g.call(t, r.want, func() *response { return read(tok, r) })
			if r.want.status == 200 {
				checkBundleFor(t, resp, r.nhs)
				emergency := r.consent != nil && *r.consent == consentEmergency
				if got := resp.Header.Get("X-MIG-Emergency-Access") == "BTG"; got != emergency {
					t.Errorf("X-MIG-Emergency-Access BTG = %v, want %v", got, emergency)
				}
				if got := strings.Contains(string(resp.Body), `"BTG"`); got != emergency {
					t.Errorf("meta.security BTG in body = %v, want %v", got, emergency)
				}
			}
		})
	}

	admin := g.adminToken()
	clinRX := users["given TPP"]
	clinNX := users["out of hours, TPP"]
	if clinRX == "" || clinNX == "" {
		t.Fatal("phase 1 rows did not run")
	}

	// Phase 2: agreements change through the admin API.
	t.Run("admin/non-admin cannot suspend", func(t *testing.T) {
		g.call(t, denied, func() *response {
			return g.do(http.MethodPost, "/admin/agreements/"+consent.DemoAgreementID+"/$suspend", clinRX, nil)
		})
	})
	t.Run("admin/add medication-only agreement", func(t *testing.T) {
		a := consent.Agreement{ID: "nx-medication", Title: "out of hours medication", Providers: []string{"A99903"},
			Recipients: []string{"NX999"}, Views: []record.View{record.ViewMedication}, ValidFrom: time.Now().Add(-time.Hour).UTC(), Status: consent.AgreementActive}
		g.call(t, want{status: 201}, func() *response { return g.do(http.MethodPost, "/admin/agreements", admin, a) })
	})
	t.Run("admin/suspend demo", func(t *testing.T) {
		g.call(t, ok, func() *response {
			return g.do(http.MethodPost, "/admin/agreements/"+consent.DemoAgreementID+"/$suspend", admin, nil)
		})
	})
	suspended := []struct {
		name string
		fn   func() *response
		want want
	}{
		{"recipient only in suspended agreement", func() *response { return g.searchPatient(clinRX, tppConsent) }, noOrg},
		{"view outside the remaining agreement", func() *response { return g.view(clinNX, tppConsent, "problems") }, noOrg},
		{"whole record beyond the remaining agreement's view", func() *response {
			return g.do(http.MethodGet, "/fhir/Patient/"+g.ids.Patient(tppConsent)+"/$everything", clinNX, nil)
		}, ok},
		{"view inside the remaining agreement", func() *response { return g.view(clinNX, tppConsent, "medication") }, ok},
		{"practice outside the remaining agreement", func() *response { return g.view(clinNX, emisConsent, "medication") }, notFound},
	}
	for _, s := range suspended {
		t.Run("suspended/"+s.name, func(t *testing.T) { g.call(t, s.want, s.fn) })
	}
	t.Run("suspended/everything withholds other views", func(t *testing.T) {
		r := g.do(http.MethodGet, "/fhir/Patient/"+g.ids.Patient(tppConsent)+"/$everything", clinNX, nil)
		for _, typ := range []string{`"Condition"`, `"Observation"`, `"AllergyIntolerance"`} {
			if strings.Contains(string(r.Body), `"resourceType":`+typ) {
				t.Errorf("medication-only agreement released a %s", typ)
			}
		}
		if !strings.Contains(string(r.Body), `"MedicationStatement"`) && !strings.Contains(string(r.Body), `"MedicationRequest"`) {
			t.Errorf("medication view released no medication: %s", truncate(r.Body))
		}
	})
	t.Run("reactivated", func(t *testing.T) {
		g.call(t, ok, func() *response {
			return g.do(http.MethodPost, "/admin/agreements/"+consent.DemoAgreementID+"/$activate", admin, nil)
		})
		g.call(t, ok, func() *response { return g.searchPatient(clinRX, tppConsent) })
	})
	t.Run("ended", func(t *testing.T) {
		g.call(t, ok, func() *response {
			return g.do(http.MethodPost, "/admin/agreements/"+consent.DemoAgreementID+"/$end", admin, nil)
		})
		g.call(t, noOrg, func() *response { return g.searchPatient(clinRX, tppConsent) })
		g.call(t, want{409, ""}, func() *response {
			return g.do(http.MethodPost, "/admin/agreements/"+consent.DemoAgreementID+"/$activate", admin, nil)
		})
		g.call(t, noOrg, func() *response { return g.searchPatient(clinRX, tppConsent) })
	})
}

// checkBundleFor checks that a successful answer is about nhs.
func checkBundleFor(t *testing.T, r *response, nhs string) {
	t.Helper()
	if !strings.Contains(string(r.Body), `"value":"`+nhs+`"`) {
		t.Errorf("answer does not carry the patient's NHS number identifier: %s", truncate(r.Body))
	}
}

// TestViewConsentExpires: a consent to view lasts one episode.
func TestViewConsentExpires(t *testing.T) {
	const episode = 1500 * time.Millisecond
	g := startGateway(t, func(m *Main) { m.Config.Access.Episode = Duration(episode) })
	tok := g.token("clin-expiry", "R8000", "RX999")
	g.call(t, want{status: 201}, func() *response { return g.recordConsent(tok, tppConsent, consentGiven) })
	start := time.Now()
	g.call(t, want{status: 200}, func() *response { return g.searchPatient(tok, tppConsent) })
	time.Sleep(episode - time.Since(start) + 200*time.Millisecond)
	r := g.call(t, want{403, "NO_VIEW_CONSENT"}, func() *response { return g.searchPatient(tok, tppConsent) })
	if _, diag := r.outcome(t); !strings.Contains(diag, "expired") {
		t.Errorf("diagnostics %q do not say the consent expired", diag)
	}
	// Recording again opens a new episode.
	g.call(t, want{status: 201}, func() *response { return g.recordConsent(tok, tppConsent, consentGiven) })
	g.call(t, want{status: 200}, func() *response { return g.searchPatient(tok, tppConsent) })
}

// TestBadTokens: expired, wrong audience, wrong issuer, unsigned, tampered
// and malformed tokens get 401 with a WWW-Authenticate challenge, and are
// audited.
func TestBadTokens(t *testing.T) {
	g := startGateway(t, nil)
	sig := g.idpSigner()
	good := func(c map[string]any) map[string]any { return c }
	base := func() map[string]any {
		return claims(g.m.Issuer, "mig", "clin1", "R8000", "RX999", time.Now().Add(time.Hour))
	}
	other, err := devidp.Start(context.Background(), devidp.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	otherTok, err := other.MintToken("clin1", "R8000", "RX999", "")
	if err != nil {
		t.Fatal(err)
	}
	valid := sig.sign(t, good(base()))
	tampered := valid[:len(valid)-4] + "AAAA"
	if tampered == valid {
		tampered = valid[:len(valid)-4] + "BBBB"
	}
	cases := []struct {
		name  string
		token string
		bare  bool // no token at all: a bare challenge
	}{
		{"no token", "", true},
		{"expired", sig.sign(t, func() map[string]any {
			c := base()
			c["exp"] = time.Now().Add(-10 * time.Minute).Unix()
			c["iat"] = time.Now().Add(-70 * time.Minute).Unix()
			return c
		}()), false},
		{"wrong audience", sig.sign(t, func() map[string]any { c := base(); c["aud"] = "someone-else"; return c }()), false},
		{"wrong issuer claim", sig.sign(t, func() map[string]any { c := base(); c["iss"] = "http://127.0.0.1:1"; return c }()), false},
		{"another provider's token", otherTok, false},
		{"unsigned", unsigned(base()), false},
		{"tampered signature", tampered, false},
		{"not a JWT", "abc.def", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := g.call(t, want{status: 401}, func() *response { return g.searchPatient(c.token, tppConsent) })
			h := r.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(h, `Bearer realm="mig"`) {
				t.Fatalf("WWW-Authenticate %q", h)
			}
			if c.bare != !strings.Contains(h, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate %q (bare challenge expected: %v)", h, c.bare)
			}
			if strings.Contains(string(r.Body), tppConsent) {
				t.Errorf("401 answer holds the NHS number")
			}
		})
	}
	// The valid forged token proves the signer matches the provider, so
	// the refusals above are about the claim each case changed.
	t.Run("control: same key, right claims", func(t *testing.T) {
		g.call(t, want{403, "NO_VIEW_CONSENT"}, func() *response { return g.searchPatient(valid, tppConsent) })
	})
}
