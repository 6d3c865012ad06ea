package viewer

import (
	"crypto"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/labstack/echo/v4"

	"mig"
)

// launch is the SMART-style EHR launch: viewer/launch?iss=..&launch=..
// The iss must be an allowed FHIR server; the user signs in (with the
// launch scope); the launch id is then redeemed at the gateway as that
// user (the gateway refuses it for anyone else, twice, or late), and the
// launch's patient opens in this tab alone: its sealed context carries the
// launch id, which goes with every API call.
func (v *Viewer) launch(c echo.Context) error {
	iss := strings.TrimSuffix(c.QueryParam("iss"), "/")
	id := c.QueryParam("launch")
	allowed := false
	for _, a := range v.cfg.LaunchIssuers {
		if iss == strings.TrimSuffix(a, "/") {
			allowed = true
		}
	}
	if !allowed {
		return v.message(c, http.StatusBadRequest, "Launch not accepted", "This launch names a record server the viewer does not trust, so it was not used.", "/")
	}
	if id == "" || len(id) > 64 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		return v.message(c, http.StatusBadRequest, "Launch not accepted", "The launch is missing or malformed.", "/")
	}
	return v.beginLogin(c, id)
}

// redeem spends the launch as the signed-in user and opens its patient.
func (v *Viewer) redeem(c echo.Context, s *session, id string) error {
	nhs, dob, err := v.gw.redeemLaunch(c.Request().Context(), s.Token, id)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			msg := "The launch could not be used: it is unknown, has expired or was already used. Open the record again from your clinical system."
			if strings.Contains(ae.Diagnostics, "another user") {
				msg = "This launch was made for another user, so it cannot be used by you. Open the record again from your own clinical system session."
			}
			c.Set("session", s)
			return v.render(c, http.StatusForbidden, "message", &page{Title: "Launch not accepted", Heading: "Launch not accepted", Message: msg, Session: s, Link: "/", LinkText: "Go to the start"})
		}
		return err
	}
	c.Set("session", s)
	return v.openPatient(c, s, &patientCtx{SID: s.SID, NHS: nhs, BirthDate: dob, Launch: id})
}

// EHRSim stands in for a clinical system in -dev: it creates launches at
// the gateway as a registered client, authenticated with private_key_jwt.
type EHRSim struct {
	ClientID string
	Key      *ecdsa.PrivateKey
	// Patients offered (NHS number, date of birth, label).
	Patients []SimPatient
}

// SimPatient is a demo patient the EHR simulator offers.
type SimPatient struct{ NHS, BirthDate, Label string }

type simPatient = SimPatient

type simUser struct{ ID, Label string }

// simUsers are the development identity provider's demo users.
var simUsers = []simUser{
	{"rx-doctor", "Dr Amira Khan (RX999)"}, {"rx-nurse", "Ben Clarke (RX999)"}, {"nx-doctor", "Dr Owen Hughes (NX999)"},
}

func (v *Viewer) ehrForm(c echo.Context) error {
	pre := v.preSession(c)
	return v.render(c, http.StatusOK, "ehr", &page{Title: "EHR simulator", CSRF: v.seal.csrf(pre), Patients: v.cfg.EHRSim.Patients, Users: simUsers})
}

// preSession returns the browser's pre-sign-in CSRF id (a random cookie),
// setting one when absent: the double-submit pattern for forms shown to
// someone not signed in.
func (v *Viewer) preSession(c echo.Context) string {
	if ck, err := c.Cookie(cookiePre); err == nil && len(ck.Value) >= 20 {
		return ck.Value
	}
	id := randomID(18)
	http.SetCookie(c.Response(), v.cookie(cookiePre, id, 0))
	return id
}

func (v *Viewer) ehrLaunch(c echo.Context) error {
	ck, err := c.Cookie(cookiePre)
	if err != nil || !v.seal.csrfOK(ck.Value, c.FormValue("csrf")) {
		return v.csrfRefused(c)
	}
	var pat *SimPatient
	for i, p := range v.cfg.EHRSim.Patients {
		if p.NHS == c.FormValue("patient") {
			pat = &v.cfg.EHRSim.Patients[i]
		}
	}
	user := c.FormValue("user")
	if pat == nil || user == "" || len(user) > 64 {
		return v.message(c, http.StatusBadRequest, "Choose a patient and a user", "The simulator needs both.", "/ehr")
	}
	id, err := v.createLaunch(c, user, pat.NHS, pat.BirthDate)
	if err != nil {
		return v.message(c, http.StatusBadGateway, "Launch not created", "The gateway did not create the launch: "+safeDiag(err)+".", "/ehr")
	}
	q := url.Values{"iss": {v.cfg.FHIRBase}, "launch": {id}}
	return c.Redirect(http.StatusSeeOther, "/launch?"+q.Encode())
}

// createLaunch asks the gateway for a launch, as the registered client.
func (v *Viewer) createLaunch(c echo.Context, user, nhs, dob string) (string, error) {
	sim := v.cfg.EHRSim
	aud := v.gw.root + "/smart/launch"
	now := v.cfg.Now()
	claims, _ := json.Marshal(map[string]any{"iss": sim.ClientID, "sub": sim.ClientID, "aud": aud,
		"jti": randomID(16), "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix()})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: crypto.Signer(sim.Key)}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(claims)
	if err != nil {
		return "", err
	}
	assertion, _ := jws.CompactSerialize()
	form := url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion": {assertion}, "user": {user}, "patient": {nhs}, "birthdate": {dob}}
	req, _ := http.NewRequestWithContext(c.Request().Context(), http.MethodPost, aud, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", &apiError{Status: http.StatusBadGateway, Issue: "UNREACHABLE", Diagnostics: "the gateway could not be reached"}
	}
	defer resp.Body.Close()
	var out struct {
		Launch string `json:"launch"`
	}
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&out) != nil || out.Launch == "" {
		return "", &apiError{Status: resp.StatusCode, Issue: mig.IssueAccessDenied, Diagnostics: "HTTP " + resp.Status}
	}
	return out.Launch, nil
}
