package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/rs/zerolog"

	"mig/cmd/internal/app"
	"mig/consent/devidp"
	"mig/internal/testenv"
)

// startGateway starts the demo gateway on loopback, as the app suites do.
func startGateway(t *testing.T) *app.Main {
	t.Helper()
	m := app.NewMain()
	m.Dev = true
	m.Config.Addr = "127.0.0.1:0"
	m.Config.DataDir = t.TempDir()
	m.Testdata = filepath.Join(testenv.ModuleRoot(t), "testdata")
	m.DevIdPAddr = "127.0.0.1:0"
	m.Log = zerolog.Nop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("gateway did not start: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func post(t *testing.T, u, token, launch, ctype, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if launch != "" {
		req.Header.Set("X-MIG-Launch", launch)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const consentTemplate = `{"resourceType":"Consent","status":"active",
"scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],
"extension":[{"url":"https://mig.example.nhs.uk/StructureDefinition/Extension-StatedBirthDate","valueDate":"DOB"}],
"patient":{"identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"NHS"}},
"provision":{"type":"permit","purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"TREAT"}]}}`

func consentBody(nhs, dob string) string {
	return strings.NewReplacer("NHS", nhs, "DOB", dob).Replace(consentTemplate)
}

// The gateway side of the viewer, end to end on a real gateway: a
// consent whose stated date of birth is not the NHS number's is refused
// and not recorded; a launch created by the registered EHR simulator
// client, redeemed once by its user, scopes every call made under it to
// its patient.
func TestGatewayBirthDateAndLaunchScope(t *testing.T) {
	m := startGateway(t)
	fhirBase := m.URL + "/fhir"
	token, err := m.IdP.MintToken("clin-launch", "R8000", "RX999", "Dr Launch")
	if err != nil {
		t.Fatal(err)
	}
	search := func(nhs, launch string) (int, string) {
		return post(t, fhirBase+"/Patient/_search", token, launch, "application/x-www-form-urlencoded",
			url.Values{"identifier": {"https://fhir.nhs.uk/Id/nhs-number|" + nhs}}.Encode())
	}

	// Date of birth.
	if status, body := post(t, fhirBase+"/Consent", token, "", "application/fhir+json", consentBody("9990001006", "1990-01-01")); status != http.StatusNotFound || !strings.Contains(body, "PATIENT_NOT_FOUND") {
		t.Fatalf("consent with another date of birth: %d %s", status, body)
	}
	if status, body := search("9990001006", ""); status != http.StatusForbidden || !strings.Contains(body, "NO_VIEW_CONSENT") {
		t.Fatalf("after the refused consent, nothing is recorded: %d %s", status, body)
	}
	for _, nhs := range []string{"9990001006", "9990001014"} {
		dob := map[string]string{"9990001006": "1950-03-14", "9990001014": "1962-07-02"}[nhs]
		if status, body := post(t, fhirBase+"/Consent", token, "", "application/fhir+json", consentBody(nhs, dob)); status != http.StatusCreated {
			t.Fatalf("consent for %s with its date of birth: %d %s", nhs, status, body)
		}
	}

	// A launch for 9990001006, created as the registered client.
	key, err := devidp.ReadClientKey(filepath.Join(m.Config.DataDir, app.DevEHRKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, nil)
	claims, _ := json.Marshal(map[string]any{"iss": devidp.EHRSimClientID, "sub": devidp.EHRSimClientID,
		"aud": m.URL + "/smart/launch", "jti": "jti-1", "exp": time.Now().Add(time.Minute).Unix()})
	jws, _ := signer.Sign(claims)
	assertion, _ := jws.CompactSerialize()
	status, body := post(t, m.URL+"/smart/launch", "", "", "application/x-www-form-urlencoded", url.Values{
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion},
		"user": {"clin-launch"}, "patient": {"9990001006"}, "birthdate": {"1950-03-14"}}.Encode())
	var created struct {
		Launch string `json:"launch"`
	}
	if status != http.StatusCreated || json.Unmarshal([]byte(body), &created) != nil || created.Launch == "" {
		t.Fatalf("create launch: %d %s", status, body)
	}
	redeem := func() (int, string) {
		return post(t, m.URL+"/smart/launch/redeem", token, "", "application/x-www-form-urlencoded", url.Values{"launch": {created.Launch}}.Encode())
	}
	if status, body := redeem(); status != http.StatusOK || !strings.Contains(body, `"nhsNumber":"9990001006"`) {
		t.Fatalf("redeem: %d %s", status, body)
	}
	if status, _ := redeem(); status != http.StatusForbidden {
		t.Fatalf("replayed launch: %d, want 403", status)
	}
	if status, _ := search("9990001006", created.Launch); status != http.StatusOK {
		t.Errorf("the launch's patient under the launch: %d", status)
	}
	if status, body := search("9990001014", created.Launch); status != http.StatusForbidden || !strings.Contains(body, "other than the launch's patient") {
		t.Errorf("another patient under the launch: %d %s", status, body)
	}
	if status, _ := search("9990001014", ""); status != http.StatusOK {
		t.Errorf("the same patient without the launch (stand-alone): %d", status)
	}
	// A record read by resource id is scoped too.
	_, pb := search("9990001014", "")
	var bundle struct {
		Entry []struct {
			Resource struct {
				ID string `json:"id"`
			} `json:"resource"`
		} `json:"entry"`
	}
	json.Unmarshal([]byte(pb), &bundle)
	if len(bundle.Entry) == 0 {
		t.Fatal("no patient")
	}
	req, _ := http.NewRequest(http.MethodGet, fhirBase+"/Patient/"+bundle.Entry[0].Resource.ID+"/$mig-view?view=summary", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-MIG-Launch", created.Launch)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("another patient's view under the launch: %d", resp.StatusCode)
	}
}
