package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"mig/consent/devidp"
	"mig/fhir"
	"mig/internal/testenv"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mig.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigErrors(t *testing.T) {
	base := `"auth": {"issuer": "https://idp.example", "audience": "mig"}`
	for _, tc := range []struct{ name, body, want string }{
		{"unknown field", `{` + base + `, "adress": "x"}`, `unknown field "adress"`},
		{"bad duration", `{` + base + `, "fetchTimeout": "soon"}`, `bad duration "soon"`},
		{"no issuer", `{"auth": {"audience": "mig"}}`, "auth.issuer is empty"},
		{"bad ODS code", `{` + base + `, "practices": [{"ods": "a 1", "format": "gp2gp", "dir": {"path": "x"}}]}`, "practices[0].ods is not an ODS code"},
		{"unknown format", `{` + base + `, "practices": [{"ods": "A81001", "format": "vision", "dir": {"path": "x"}}]}`, "practices[0].format must be one of emis, gp2gp, tpp"},
		{"two sources", `{` + base + `, "practices": [{"ods": "A81001", "format": "emis", "dir": {"path": "x"}, "http": {"base": "https://gp"}}]}`, "needs exactly one of dir or http"},
		{"duplicate practice", `{` + base + `, "practices": [{"ods": "A81001", "format": "emis", "dir": {"path": "x"}}, {"ods": "A81001", "format": "tpp", "dir": {"path": "y"}}]}`, "listed twice"},
		{"http base", `{` + base + `, "practices": [{"ods": "A81001", "format": "emis", "http": {"base": "gp.example"}}]}`, "http.base must be an http(s) URL"},
		{"pds without base", `{` + base + `, "demographics": {"source": "pds"}}`, "demographics.pdsBase is needed"},
		{"bad proxy", `{` + base + `, "trustedProxies": ["10.0.0.1"]}`, "trustedProxies[0] is not a CIDR range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(writeConfig(t, tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
	if _, err := LoadConfig(writeConfig(t, `{`+base+`}`)); err != nil {
		t.Fatalf("a minimal configuration is refused: %v", err)
	}
}

// TestDeploymentConfig runs the gateway as a deployment would (no -dev):
// its own configuration file, an external OIDC issuer, practices from
// configuration and no agreement until an administrator adds one.
func TestDeploymentConfig(t *testing.T) {
	idp, err := devidp.Start(context.Background(), devidp.Options{Audience: "mig-prod"})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	data := t.TempDir()
	td := testenv.Testdata(t)
	cfg, err := json.Marshal(map[string]any{
		"addr":    "127.0.0.1:0",
		"dataDir": data,
		"auth":    map[string]string{"issuer": idp.Issuer(), "audience": "mig-prod"},
		"access":  map[string]any{"adminUsers": []string{"ops1"}, "episode": "1h"},
		"practices": []map[string]any{
			{"ods": "A99903", "name": "TPP practice", "format": "tpp", "dir": map[string]string{"path": filepath.Join(td, "A99903"), "accessLog": filepath.Join(data, "tpp-access.ndjson")}},
		},
		"fetchTimeout": "3s",
		"audit":        map[string]any{"checkpoint": checkpointConfig(t)},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(writeConfig(t, string(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain()
	m.Config = c
	m.Log = zerolog.Nop()
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.IdP != nil || m.Issuer != idp.Issuer() {
		t.Fatalf("deployment started a development identity provider, or trusts %q", m.Issuer)
	}

	client := &http.Client{Timeout: 10 * time.Second}
	do := func(method, path, token string, body any) *response {
		t.Helper()
		return doURL(t, client, method, m.URL+path, token, body)
	}
	mint := func(user, role, org string) string {
		tok, err := idp.MintToken(user, role, org, "")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	clin := mint("c1", "R8000", "RX999")
	search := func() *response {
		return do(http.MethodGet, "/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|"+tppConsent, clin, nil)
	}
	if r := search(); r.Status != http.StatusForbidden || !strings.Contains(string(r.Body), "NO_ORGANISATION_CONSENT") {
		t.Fatalf("no agreement yet: %d %s", r.Status, truncate(r.Body))
	}
	// The configured admin adds and activates an agreement.
	admin := mint("ops1", "R8000", "X26")
	agreement := fmt.Sprintf(`{"id":"isa-1","title":"Urgent care","providers":["A99903"],"recipients":["RX999"],
		"views":["summary","medication"],"validFrom":%q,"status":"active"}`, time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	if r := do(http.MethodPost, "/admin/agreements", admin, json.RawMessage(agreement)); r.Status != http.StatusCreated {
		t.Fatalf("add agreement: %d %s", r.Status, truncate(r.Body))
	}
	if r := do(http.MethodPost, "/fhir/Consent", clin, consentBody(tppConsent, consentGiven)); r.Status != http.StatusCreated {
		t.Fatalf("record consent: %d %s", r.Status, truncate(r.Body))
	}
	r := search()
	if r.Status != http.StatusOK {
		t.Fatalf("read under the new agreement: %d %s", r.Status, truncate(r.Body))
	}
	key, err := loadKey("", filepath.Join(data, "gateway.key"))
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := fhir.NewIDs(key[:32])
	// Only the agreement's views: no procedures.
	if r := do(http.MethodGet, "/fhir/Patient/"+ids.Patient(tppConsent)+"/$mig-view?view=procedures", clin, nil); r.Status != http.StatusForbidden {
		t.Fatalf("a view outside the agreement: %d", r.Status)
	}
	// A token for the development audience is not accepted.
	other, err := devidp.Start(context.Background(), devidp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	foreign, _ := other.MintToken("c1", "R8000", "RX999", "")
	if r := do(http.MethodGet, "/fhir/Contract", foreign, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("a token from another issuer: %d", r.Status)
	}
}

// TestRefusalsSeparate: the documented way to write every unauthenticated
// refusal on its own loads and turns the recorder's combining off.
func TestRefusalsSeparate(t *testing.T) {
	var r RefusalsConfig
	if err := json.Unmarshal([]byte(`{"combineWindow": "5m", "separate": true}`), &r); err != nil {
		t.Fatal(err)
	}
	if w := r.window(); w >= 0 {
		t.Fatalf("separate: window %s, want negative (off)", w)
	}
	r.Separate = false
	if w := r.window(); w != 5*time.Minute {
		t.Fatalf("window %s, want 5m", w)
	}
}
