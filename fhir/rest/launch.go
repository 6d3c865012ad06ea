package rest

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/labstack/echo/v4"

	"mig"
	"mig/consent"
)

// LaunchAPI is the gateway's side of launching the Shared Record Viewer in
// context (the SMART App Launch pattern): a registered clinical system
// creates a launch naming a user and a patient (POST /smart/launch,
// authenticated with private_key_jwt, RFC 7523); the viewer redeems it once
// as that user (POST /smart/launch/redeem) and then names it on each FHIR
// call in the X-MIG-Launch header, under which the gateway answers only for
// the launch's patient.
type LaunchAPI struct {
	Store consent.LaunchStore
	// Clients are the registered clinical systems: client id -> the public
	// keys their client assertions are signed with.
	Clients map[string]*jose.JSONWebKeySet
	// Audience is the URL client assertions must name in aud: the public
	// URL of POST /smart/launch.
	Audience string
	// TTL is how long a launch id may be redeemed (default 5 minutes).
	TTL time.Duration
	// Scope is how long a redeemed launch scopes API calls (default: the
	// consent-to-view episode).
	Scope time.Duration
}

// LaunchHeader carries a redeemed launch id on FHIR calls.
const LaunchHeader = "X-MIG-Launch"

// Client assertion rules (RFC 7523 section 3, SMART Backend Services).
const (
	clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	maxAssertionLife    = 5 * time.Minute
	assertionSkew       = 30 * time.Second
)

var assertionAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.ES256, jose.ES384, jose.PS256}

func (s *Server) launchRoutes(e *echo.Echo) {
	if s.Launch == nil {
		return
	}
	e.POST("/smart/launch", s.createLaunch, s.limitBody)
	e.POST("/smart/launch/redeem", s.redeemLaunch, s.authenticate, s.limitBody)
}

func (s *Server) launchTTL() time.Duration {
	if s.Launch.TTL > 0 {
		return s.Launch.TTL
	}
	return 5 * time.Minute
}

// createLaunch serves POST /smart/launch: form fields client_assertion_type,
// client_assertion, user (SDS user id), patient (NHS number), and optional
// birthdate (YYYY-MM-DD) and org (ODS code). The answer is
// {"launch": id, "expires_in": seconds}.
func (s *Server) createLaunch(c echo.Context) error {
	r := s.newRequest(c, consent.OpLaunchCreate, "")
	f, err := c.FormParams()
	if err != nil {
		return s.refuse(c, r, consent.RuleLaunch, &mig.Error{Code: mig.EINVALID, Issue: mig.IssueBadRequest, Message: "the body must be an application/x-www-form-urlencoded form"})
	}
	client, err := s.verifyClientAssertion(c, f.Get("client_assertion_type"), f.Get("client_assertion"))
	if err != nil {
		return s.refuse(c, r, "client-authentication", err)
	}
	r.Principal = &consent.Principal{ClientID: client}
	user := strings.TrimSpace(f.Get("user"))
	nhs := strings.ReplaceAll(f.Get("patient"), " ", "")
	org := strings.ToUpper(strings.TrimSpace(f.Get("org")))
	bd := f.Get("birthdate")
	switch {
	case !mig.ValidNHSNumber(nhs):
		return s.refuse(c, r, "request", &mig.Error{Code: mig.EINVALID, Issue: mig.IssueInvalidNHSNumber, Message: "patient must be an NHS number: 10 digits with a valid modulus 11 check digit"})
	case !safeToken(user, 64):
		return s.refuse(c, r, "request", invalidParam("user must be the SDS user id: 1-64 letters, digits or . _ @ -"))
	case org != "" && !safeToken(org, 10):
		return s.refuse(c, r, "request", invalidParam("org must be an ODS code"))
	case bd != "" && !fullDate(bd):
		return s.refuse(c, r, "request", invalidParam("birthdate must be YYYY-MM-DD"))
	}
	r.NHSNumber = nhs
	now := s.now()
	id, key := consent.NewLaunchID()
	l := &consent.Launch{Key: key, Client: client, UserID: user, OrgODS: org, NHSNumber: nhs, BirthDate: bd,
		Created: now, Expires: now.Add(s.launchTTL())}
	r.Decision = consent.Decision{Verdict: consent.Authorized, Rule: consent.RuleLaunch}
	if err := s.commit(c, r); err != nil {
		return done(err)
	}
	if err := s.Launch.Store.Create(c.Request().Context(), l); err != nil {
		return s.refuse(c, r, consent.RuleLaunch, &mig.Error{Code: mig.EUNAVAILABLE, Message: "the launch could not be stored; try again", Err: err})
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, map[string]any{"launch": id, "expires_in": int(s.launchTTL().Seconds())})
}

// redeemLaunch serves POST /smart/launch/redeem (form field launch) for the
// signed-in user the launch names, once. It answers the launch's patient:
// {"patient": {"nhsNumber": .., "birthDate": ..}, "expires_in": seconds}.
func (s *Server) redeemLaunch(c echo.Context) error {
	r := s.newRequest(c, consent.OpLaunchRedeem, "")
	if r.Principal == nil {
		_, err := s.start(c, r) // answers the authentication refusal
		return done(err)
	}
	id := c.FormValue("launch")
	if !safeToken(id, 64) {
		return s.refuse(c, r, consent.RuleLaunch, consent.ErrLaunchInvalid)
	}
	now := s.now()
	scope := s.Launch.Scope
	if scope <= 0 {
		scope = s.Episode
	}
	l, err := s.Launch.Store.Redeem(c.Request().Context(), consent.LaunchKey(id), r.Principal.UserID, r.Principal.OrgODS, now, now.Add(scope))
	if err != nil {
		return s.refuse(c, r, consent.RuleLaunch, err)
	}
	r.NHSNumber = l.NHSNumber
	r.Decision = consent.Decision{Verdict: consent.Authorized, Rule: consent.RuleLaunch}
	if err := s.commit(c, r); err != nil {
		return done(err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	patient := map[string]string{"nhsNumber": l.NHSNumber}
	if l.BirthDate != "" {
		patient["birthDate"] = l.BirthDate
	}
	return c.JSON(http.StatusOK, map[string]any{"patient": patient, "expires_in": int(scope.Seconds())})
}

// launchContext puts the redeemed launch named in X-MIG-Launch on the
// request's context, for consent.LaunchScope; a launch that is unknown,
// not redeemed, past its scope or another user's is refused.
func (s *Server) launchContext(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(LaunchHeader)
		if id == "" || s.Launch == nil {
			if id != "" {
				return s.refuse(c, s.newRequest(c, "", ""), consent.RuleLaunch, consent.ErrLaunchInvalid)
			}
			return next(c)
		}
		p, _ := c.Get(keyPrincipal).(*consent.Principal)
		if p == nil {
			return next(c) // the handler refuses the missing or bad token
		}
		var l *consent.Launch
		var err error
		if safeToken(id, 64) {
			l, err = s.Launch.Store.Get(c.Request().Context(), consent.LaunchKey(id))
		}
		now := s.now()
		switch {
		case err != nil && mig.ErrorCode(err) != mig.ENOTFOUND:
			return s.refuse(c, s.newRequest(c, "", ""), consent.RuleLaunch, &mig.Error{Code: mig.EUNAVAILABLE, Message: "launches cannot be read", Err: err})
		case l == nil || l.Redeemed.IsZero() || !now.Before(l.Until):
			return s.refuse(c, s.newRequest(c, "", ""), consent.RuleLaunch, consent.ErrLaunchInvalid)
		case l.UserID != p.UserID || (l.OrgODS != "" && l.OrgODS != p.OrgODS):
			return s.refuse(c, s.newRequest(c, "", ""), consent.RuleLaunch, consent.ErrLaunchOtherUser)
		}
		c.SetRequest(c.Request().WithContext(consent.WithLaunch(c.Request().Context(), l)))
		return next(c)
	}
}

// verifyClientAssertion checks a private_key_jwt client assertion (RFC
// 7523): signed by a registered client's key, iss = sub = client id, aud
// naming the launch endpoint, short-lived, and its jti never seen before.
// It returns the client id.
func (s *Server) verifyClientAssertion(c echo.Context, typ, assertion string) (string, error) {
	unauth := func(msg string) error {
		return &mig.Error{Code: mig.EUNAUTHORIZED, Issue: mig.IssueAccessDenied, Message: msg}
	}
	if typ != clientAssertionType || assertion == "" {
		return "", unauth("client authentication required: client_assertion_type " + clientAssertionType + " and a client_assertion")
	}
	if len(assertion) > 8<<10 {
		return "", unauth("client assertion not valid")
	}
	jws, err := jose.ParseSigned(assertion, assertionAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return "", unauth("client assertion not valid")
	}
	var claims struct {
		Iss string           `json:"iss"`
		Sub string           `json:"sub"`
		Aud jsonStringOrList `json:"aud"`
		Exp int64            `json:"exp"`
		Iat int64            `json:"iat"`
		Nbf int64            `json:"nbf"`
		Jti string           `json:"jti"`
	}
	// The issuer names the key set; nothing is trusted until the signature
	// verifies against it.
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims); err != nil {
		return "", unauth("client assertion not valid")
	}
	keys, ok := s.Launch.Clients[claims.Iss]
	if !ok || keys == nil {
		return "", unauth("client assertion not valid: unknown client")
	}
	kid := jws.Signatures[0].Header.KeyID
	verified := false
	for _, k := range keys.Keys {
		if kid != "" && k.KeyID != "" && k.KeyID != kid {
			continue
		}
		if _, err := jws.Verify(k.Key); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return "", unauth("client assertion signature not valid")
	}
	now := s.now()
	exp := time.Unix(claims.Exp, 0)
	switch {
	case subtle.ConstantTimeCompare([]byte(claims.Sub), []byte(claims.Iss)) != 1:
		return "", unauth("client assertion not valid: sub must equal iss")
	case !slices.Contains(claims.Aud, s.Launch.Audience):
		return "", unauth("client assertion not valid: aud must be " + s.Launch.Audience)
	case claims.Exp == 0 || !now.Before(exp.Add(assertionSkew)):
		return "", unauth("client assertion expired")
	case exp.Sub(now) > maxAssertionLife:
		return "", unauth("client assertion lives too long: at most 5 minutes")
	case claims.Nbf != 0 && now.Add(assertionSkew).Before(time.Unix(claims.Nbf, 0)):
		return "", unauth("client assertion not yet valid")
	case claims.Jti == "" || len(claims.Jti) > 256:
		return "", unauth("client assertion not valid: jti required")
	}
	if err := s.Launch.Store.UseAssertion(c.Request().Context(), claims.Iss, claims.Jti, exp.Add(assertionSkew), now); err != nil {
		if mig.ErrorCode(err) == mig.EUNAUTHORIZED {
			return "", err
		}
		return "", &mig.Error{Code: mig.EUNAVAILABLE, Message: "client assertions cannot be checked", Err: err}
	}
	return claims.Iss, nil
}

// jsonStringOrList is a JWT aud: one string or a list.
type jsonStringOrList []string

func (a *jsonStringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = []string{one}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*a = list
	return nil
}

// safeToken reports whether s is 1..max characters of A-Z a-z 0-9 . _ @ -.
func safeToken(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._@-", c) >= 0) {
			return false
		}
	}
	return true
}

// fullDate reports whether s is a YYYY-MM-DD calendar date.
func fullDate(s string) bool {
	_, err := time.Parse("2006-01-02", s)
	return err == nil && len(s) == 10
}
