package app

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"mig/internal/testenv"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/rs/zerolog"

	"mig"
	"mig/audit"
	"mig/fhir"
)

// syncBuffer collects the gateway's log lines from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// gateway is a running Main with its log captured, plus helpers to talk to
// it as clinicians, auditors and admins.
type gateway struct {
	t    testing.TB
	m    *Main
	log  *syncBuffer
	ids  *fhir.IDs
	http *http.Client
}

// startGateway starts the demo gateway on loopback with a temporary data
// directory. edit, if not nil, changes the Main before Run.
func startGateway(t testing.TB, edit func(m *Main)) *gateway {
	t.Helper()
	m := NewMain()
	m.Dev = true
	m.Config.Addr = "127.0.0.1:0"
	m.Config.DataDir = t.TempDir()
	m.Testdata = filepath.Join(testenv.ModuleRoot(t), "testdata")
	m.DevIdPAddr = "127.0.0.1:0"
	// Suites that count one AuditEvent per request see every refusal on
	// its own; flood_test.go turns combining back on.
	m.Config.Refusals.Separate = true
	buf := &syncBuffer{}
	m.Log = zerolog.New(buf).With().Timestamp().Logger()
	if edit != nil {
		edit(m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("gateway did not start: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	g := &gateway{t: t, m: m, log: buf, http: &http.Client{Timeout: 30 * time.Second}}
	key, err := loadKey("", filepath.Join(m.Config.DataDir, "gateway.key"))
	if err != nil {
		t.Fatal(err)
	}
	if g.ids, err = fhir.NewIDs(key[:32]); err != nil {
		t.Fatal(err)
	}
	return g
}

// token mints a token from the gateway's development identity provider.
func (g *gateway) token(user, role, org string) string {
	g.t.Helper()
	tok, err := g.m.IdP.MintToken(user, role, org, "Test User "+user)
	if err != nil {
		g.t.Fatalf("mint token: %v", err)
	}
	return tok
}

// response is one HTTP answer, read in full.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) requestID() string { return r.Header.Get("X-Request-ID") }

// outcome reads an OperationOutcome's first issue: details code and
// diagnostics.
func (r *response) outcome(t testing.TB) (code, diagnostics string) {
	t.Helper()
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Code    string `json:"code"`
			Details struct {
				Coding []struct {
					Code string `json:"code"`
				} `json:"coding"`
			} `json:"details"`
			Diagnostics string `json:"diagnostics"`
		} `json:"issue"`
	}
	if err := json.Unmarshal(r.Body, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		t.Fatalf("want an OperationOutcome, got HTTP %d %s", r.Status, truncate(r.Body))
	}
	if len(oo.Issue[0].Details.Coding) > 0 {
		code = oo.Issue[0].Details.Coding[0].Code
	}
	return code, oo.Issue[0].Diagnostics
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}

// do sends a request to the gateway. body may be nil, a string (form),
// []byte (JSON) or any value (marshalled as JSON).
func (g *gateway) do(method, path, token string, body any, header ...string) *response {
	g.t.Helper()
	return doURL(g.t, g.http, method, g.m.URL+path, token, body, header...)
}

func doURL(t testing.TB, client *http.Client, method, u, token string, body any, header ...string) *response {
	t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case []byte:
		rd, ctype = bytes.NewReader(b), "application/fhir+json"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, u, err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// consentKind is a view-consent decision the clinician records.
type consentKind int

const (
	consentGiven consentKind = iota
	consentRefused
	consentEmergency         // ETREAT with a permitted reason
	consentEmergencyNoReason // ETREAT without a reason
)

// consentBody is a FHIR R4 Consent as a client POSTs it.
func consentBody(nhs string, kind consentKind) []byte {
	typ, purpose, code := "permit", "TREAT", ""
	switch kind {
	case consentRefused:
		typ = "deny"
	case consentEmergency:
		purpose = "ETREAT"
		code = `,"code":[{"coding":[{"system":"https://mig.example.nhs.uk/CodeSystem/emergency-access-reason","code":"unconscious"}]}]`
	case consentEmergencyNoReason:
		purpose = "ETREAT"
	}
	return []byte(fmt.Sprintf(`{"resourceType":"Consent","status":"active",
"scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],
"patient":{"identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":%q}},
"policyRule":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMPLIED"}]},
"provision":{"type":%q,"purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":%q}]%s}}`,
		nhs, typ, purpose, code))
}

// recordConsent POSTs a view-consent decision.
func (g *gateway) recordConsent(token, nhs string, kind consentKind) *response {
	g.t.Helper()
	return g.do(http.MethodPost, "/fhir/Consent", token, consentBody(nhs, kind))
}

// searchPatient runs POST /fhir/Patient/_search for an NHS number.
func (g *gateway) searchPatient(token, nhs string) *response {
	g.t.Helper()
	return g.do(http.MethodPost, "/fhir/Patient/_search", token, url.Values{"identifier": {"https://fhir.nhs.uk/Id/nhs-number|" + nhs}})
}

// view runs $mig-view for one patient.
func (g *gateway) view(token, nhs, view string) *response {
	g.t.Helper()
	return g.do(http.MethodGet, "/fhir/Patient/"+g.ids.Patient(nhs)+"/$mig-view?view="+view, token, nil)
}

// adminToken is a token for the demo administrator.
func (g *gateway) adminToken() string { return g.token("admin", "R8000", "X99999") }

// auditorToken is a token for a wide auditor of the operator organisation.
func (g *gateway) auditorToken() string { return g.token("auditor1", "R0001", DevOperatorOrg) }

// auditSeq returns the audit log's last sequence number.
func (g *gateway) auditSeq() uint64 {
	g.t.Helper()
	seq, _, err := g.m.audit.Last(context.Background())
	if err != nil {
		g.t.Fatalf("audit store: %v", err)
	}
	return seq
}

// eventsSince reads every AuditEvent stored after seq, decoded, with its
// raw body.
func (g *gateway) eventsSince(seq uint64) []decodedEvent {
	g.t.Helper()
	var out []decodedEvent
	err := g.m.audit.Scan(context.Background(), seq, func(st *audit.Stored) error {
		d, err := audit.Decode(st.Body)
		if err != nil {
			return err
		}
		out = append(out, decodedEvent{Decoded: d, Body: append([]byte(nil), st.Body...)})
		return nil
	})
	if err != nil {
		g.t.Fatalf("audit scan: %v", err)
	}
	return out
}

type decodedEvent struct {
	*audit.Decoded
	Body []byte
}

// byRequest selects the events of one request id.
func byRequest(evs []decodedEvent, id string) []decodedEvent {
	var out []decodedEvent
	for _, e := range evs {
		if e.RequestID == id {
			out = append(out, e)
		}
	}
	return out
}

// signer signs tokens with the development identity provider's key (read
// from its key file), so tests can forge expired, wrong-audience or
// wrong-issuer tokens the provider itself would never issue.
type signer struct {
	key *rsa.PrivateKey
	kid string
}

func (g *gateway) idpSigner() *signer {
	g.t.Helper()
	b, err := os.ReadFile(filepath.Join(g.m.Config.DataDir, "devidp.key"))
	if err != nil {
		g.t.Fatalf("development identity provider key: %v", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		g.t.Fatal("devidp.key holds no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		g.t.Fatal(err)
	}
	key := k.(*rsa.PrivateKey)
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		g.t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return &signer{key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:16])}
}

// claims returns CIS2 claims for a user with role and org (role "" gives
// no selected role), issued now by iss for aud.
func claims(iss, aud, user, role, org string, exp time.Time) map[string]any {
	c := map[string]any{
		"iss": iss, "sub": user, "aud": aud, "azp": "mig-dev",
		"iat": time.Now().Add(-time.Minute).Unix(), "exp": exp.Unix(),
		"nhsid_useruid": user, "name": "Test User",
	}
	if role != "" {
		c["nhsid_nrbac_roles"] = []map[string]any{{"person_orgid": "100000000001", "person_roleid": "200000000001",
			"org_code": org, "role_name": "Test", "role_code": "S0000:G0000:" + role}}
		c["selected_roleid"] = "200000000001"
		c["nhsid_user_orgs"] = []map[string]any{{"org_code": org, "org_name": "Test"}}
	} else {
		c["nhsid_user_orgs"] = []map[string]any{{"org_code": org, "org_name": "Test"}}
	}
	return c
}

func (s *signer) sign(t testing.TB, c map[string]any) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: s.key, KeyID: s.kid, Algorithm: string(jose.RS256)}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(c)
	jws, err := sig.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// unsigned returns an alg "none" token with the claims.
func unsigned(c map[string]any) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	p, _ := json.Marshal(c)
	return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

// patientsJSON reads a practice's registration list.
type regEntry struct {
	NHSNumber string `json:"nhsNumber"`
	Name      struct {
		Prefix string   `json:"prefix"`
		Given  []string `json:"given"`
		Family string   `json:"family"`
	} `json:"name"`
	Address struct {
		Lines      []string `json:"lines"`
		PostalCode string   `json:"postalCode"`
	} `json:"address"`
}

// patientNames returns every given and family name in the test practices'
// registration lists, and their NHS numbers.
func patientNames(t testing.TB, testdata string) (names, nhs []string) {
	t.Helper()
	for _, p := range []string{"A99901", "A99902", "A99903"} {
		b, err := os.ReadFile(filepath.Join(testdata, p, "patients.json"))
		if err != nil {
			t.Errorf("%s/patients.json: %v (the practice's registration list is missing)", p, err)
			continue
		}
		var list []regEntry
		if err := json.Unmarshal(b, &list); err != nil {
			t.Fatalf("%s/patients.json: %v", p, err)
		}
		for _, e := range list {
			nhs = append(nhs, e.NHSNumber)
			names = append(names, e.Name.Family)
			names = append(names, e.Name.Given...)
		}
	}
	return names, nhs
}

// unknownNHS returns a valid NHS number in the 999 test range that no test
// practice holds.
func unknownNHS(t testing.TB) string {
	for n := 9990009990; n < 9990010000; n++ {
		s := fmt.Sprint(n)
		if mig.ValidNHSNumber(s) {
			return s
		}
	}
	t.Fatal("no valid unused NHS number")
	return ""
}
