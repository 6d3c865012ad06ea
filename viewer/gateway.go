package viewer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// gateway talks to MIG only through its public FHIR API (and the launch
// redemption endpoint beside it), always with the signed-in user's token.
type gateway struct {
	base   string // FHIR base, e.g. http://127.0.0.1:8080/fhir
	root   string // the gateway's root (base without /fhir)
	client *http.Client
}

// launchHeader names the redeemed launch a call is made under.
const launchHeader = "X-MIG-Launch"

const maxBody = 16 << 20

// apiError is a gateway refusal: its HTTP status and OperationOutcome.
type apiError struct {
	Status      int
	Issue       string // GP Connect style details code, e.g. NO_PATIENT_CONSENT
	Diagnostics string
}

func (e *apiError) Error() string { return fmt.Sprintf("gateway answered %d %s", e.Status, e.Issue) }

// call makes one request. It returns the body of a 2xx answer, or an
// *apiError.
func (g *gateway) call(ctx context.Context, method, u, token, launch, ctype string, body []byte) ([]byte, http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/fhir+json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if launch != "" {
		req.Header.Set(launchHeader, launch)
	}
	if id := requestID(ctx); id != "" {
		req.Header.Set("X-Request-ID", id)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, nil, &apiError{Status: http.StatusServiceUnavailable, Issue: "UNREACHABLE"}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, nil, &apiError{Status: http.StatusServiceUnavailable, Issue: "UNREACHABLE"}
	}
	if resp.StatusCode/100 != 2 {
		return nil, resp.Header, outcomeError(resp.StatusCode, b)
	}
	return b, resp.Header, nil
}

func outcomeError(status int, b []byte) *apiError {
	e := &apiError{Status: status}
	var oo struct {
		Issue []struct {
			Details struct {
				Coding []struct {
					Code string `json:"code"`
				} `json:"coding"`
			} `json:"details"`
			Diagnostics string `json:"diagnostics"`
		} `json:"issue"`
	}
	if json.Unmarshal(b, &oo) == nil && len(oo.Issue) > 0 {
		if len(oo.Issue[0].Details.Coding) > 0 {
			e.Issue = oo.Issue[0].Details.Coding[0].Code
		}
		e.Diagnostics = oo.Issue[0].Diagnostics
	}
	return e
}

// searchPatient finds a patient by NHS number and date of birth (a form
// POST, so that the NHS number stays out of URLs and logs).
func (g *gateway) searchPatient(ctx context.Context, token, launch, nhs, dob string) (*bundle, error) {
	f := url.Values{"identifier": {"https://fhir.nhs.uk/Id/nhs-number|" + nhs}, "birthdate": {dob}}
	b, h, err := g.call(ctx, http.MethodPost, g.base+"/Patient/_search", token, launch, "application/x-www-form-urlencoded", []byte(f.Encode()))
	if err != nil {
		return nil, err
	}
	return parseBundle(b, h)
}

// Consent choices the screen offers.
const (
	choiceGiven     = "given"
	choiceRefused   = "refused"
	choiceEmergency = "emergency"
)

// extStatedBirthDate carries the date of birth the clinician was given, so
// that the gateway refuses a consent for a mistyped NHS number.
const extStatedBirthDate = "https://mig.example.nhs.uk/StructureDefinition/Extension-StatedBirthDate"

// recordConsent records the patient's consent to view, refusal, or
// emergency access with a reason.
func (g *gateway) recordConsent(ctx context.Context, token, launch, nhs, dob, choice, reason string) (emergency bool, err error) {
	provision := map[string]any{"type": "permit",
		"purpose": []any{map[string]string{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT"}}}
	switch choice {
	case choiceRefused:
		provision["type"] = "deny"
	case choiceEmergency:
		provision["purpose"] = []any{map[string]string{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "ETREAT"}}
		provision["code"] = []any{map[string]any{"coding": []any{map[string]string{
			"system": "https://mig.example.nhs.uk/CodeSystem/emergency-access-reason", "code": reason}}}}
	}
	c := map[string]any{
		"resourceType": "Consent", "status": "active",
		"scope":     map[string]any{"coding": []any{map[string]string{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}}},
		"category":  []any{map[string]any{"coding": []any{map[string]string{"system": "http://loinc.org", "code": "59284-0"}}}},
		"patient":   map[string]any{"identifier": map[string]string{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}},
		"provision": provision,
	}
	if dob != "" {
		c["extension"] = []any{map[string]string{"url": extStatedBirthDate, "valueDate": dob}}
	}
	body, _ := json.Marshal(c)
	_, h, err := g.call(ctx, http.MethodPost, g.base+"/Consent", token, launch, "application/fhir+json", body)
	if err != nil {
		return false, err
	}
	return h.Get("X-MIG-Emergency-Access") == "BTG", nil
}

// view reads one of the ten views, following the Bundle's next links so
// that paging is invisible. If any page fails, the result says the record
// could not be read completely (Incomplete) and keeps the error.
func (g *gateway) view(ctx context.Context, token, launch, patientID, view string) (*bundle, error) {
	u := g.base + "/Patient/" + url.PathEscape(patientID) + "/$mig-view?view=" + url.QueryEscape(view)
	var all *bundle
	for pages := 0; u != "" && pages < 200; pages++ {
		b, h, err := g.call(ctx, http.MethodGet, u, token, launch, "", nil)
		if err != nil {
			if all == nil {
				return nil, err
			}
			all.Incomplete = true
			return all, nil
		}
		page, err := parseBundle(b, h)
		if err != nil {
			if all == nil {
				return nil, &apiError{Status: http.StatusBadGateway, Issue: "UNREADABLE"}
			}
			all.Incomplete = true
			return all, nil
		}
		if all == nil {
			all = page
		} else {
			all.merge(page)
		}
		u = page.Next
		// The token goes only to the gateway: a next link elsewhere is
		// not followed, and the record is said to be incomplete.
		if u != "" && !strings.HasPrefix(u, g.base+"/") {
			all.Incomplete = true
			u = ""
		}
	}
	if u != "" {
		all.Incomplete = true
	}
	return all, nil
}

// redeemLaunch spends a launch id as the signed-in user and returns its
// patient.
func (g *gateway) redeemLaunch(ctx context.Context, token, launch string) (nhs, dob string, err error) {
	b, _, err := g.call(ctx, http.MethodPost, g.root+"/smart/launch/redeem", token, "", "application/x-www-form-urlencoded",
		[]byte(url.Values{"launch": {launch}}.Encode()))
	if err != nil {
		return "", "", err
	}
	var out struct {
		Patient struct {
			NHSNumber string `json:"nhsNumber"`
			BirthDate string `json:"birthDate"`
		} `json:"patient"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Patient.NHSNumber == "" {
		return "", "", &apiError{Status: http.StatusBadGateway, Issue: "UNREADABLE"}
	}
	return out.Patient.NHSNumber, out.Patient.BirthDate, nil
}
