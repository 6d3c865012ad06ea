package viewer

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"
)

const loginTTL = 10 * time.Minute

// startLogin begins the authorisation code flow with PKCE (S256), state and
// nonce; the sign-in in progress is sealed in a short-lived cookie named
// after its state.
func (v *Viewer) startLogin(c echo.Context) error {
	return v.beginLogin(c, "")
}

func (v *Viewer) beginLogin(c echo.Context, launch string) error {
	l := login{State: randomID(24), Nonce: randomID(24), Verifier: oauth2.GenerateVerifier(), Launch: launch,
		Expires: v.cfg.Now().Add(loginTTL).Unix()}
	sealed, err := v.seal.seal(purposeLogin, &l)
	if err != nil {
		return err
	}
	http.SetCookie(c.Response(), v.cookie(loginCookieName(l.State), sealed, int(loginTTL.Seconds())))
	conf := v.oauth
	if launch != "" {
		conf.Scopes = append(slices.Clone(conf.Scopes), "launch")
	}
	return c.Redirect(http.StatusSeeOther, conf.AuthCodeURL(l.State, oauth2.S256ChallengeOption(l.Verifier), gooidc.Nonce(l.Nonce)))
}

// callback completes sign-in: state matched against its sealed cookie,
// the code exchanged with the PKCE verifier, the ID token verified (issuer,
// audience, expiry, signature) and its nonce checked. The access token is
// kept in the sealed session cookie only.
func (v *Viewer) callback(c echo.Context) error {
	q := c.Request().URL.Query()
	state := q.Get("state")
	ck, err := c.Cookie(loginCookieName(state))
	var l login
	if state == "" || err != nil || v.seal.open(purposeLogin, ck.Value, &l) != nil || l.State != state || v.cfg.Now().Unix() > l.Expires {
		return v.message(c, http.StatusBadRequest, "Sign-in did not complete", "The sign-in could not be matched to this browser, or took too long. Start again.", "/")
	}
	http.SetCookie(c.Response(), v.cookie(loginCookieName(state), "", -1))
	if e := q.Get("error"); e != "" {
		return v.message(c, http.StatusUnauthorized, "Sign-in did not complete", "The identity provider did not sign you in. Start again.", "/")
	}
	ctx := gooidc.ClientContext(c.Request().Context(), v.cfg.HTTPClient)
	tok, err := v.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(l.Verifier))
	if err != nil {
		return v.message(c, http.StatusUnauthorized, "Sign-in did not complete", "The sign-in could not be completed. Start again.", "/")
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := v.verifier.Verify(ctx, rawID)
	if err != nil || idt.Nonce != l.Nonce {
		return v.message(c, http.StatusUnauthorized, "Sign-in did not complete", "The identity provider's answer could not be verified. Start again.", "/")
	}
	var claims cis2Claims
	if err := idt.Claims(&claims); err != nil {
		return v.message(c, http.StatusUnauthorized, "Sign-in did not complete", "The identity provider's answer could not be read. Start again.", "/")
	}
	s := claims.session()
	s.Token = tok.AccessToken
	s.Expiry = tok.Expiry.Unix()
	if tok.Expiry.IsZero() {
		s.Expiry = idt.Expiry.Unix()
	}
	s.Seen = v.cfg.Now().Unix()
	// The same user signing in again (a launch in another tab) keeps the
	// session id, so the tabs already open keep their patients.
	if old := v.readSession(c.Request()); old != nil && old.User == s.User && old.Org == s.Org && old.Role == s.Role {
		s.SID = old.SID
	} else {
		s.SID = randomID(16)
	}
	if err := v.setSession(c.Response(), s); err != nil {
		return err
	}
	if l.Launch != "" {
		return v.redeem(c, s, l.Launch)
	}
	return c.Redirect(http.StatusSeeOther, "/")
}

// cis2Claims are the NHS CIS2 claims of the ID token: the user, and the
// role in use (the nhsid_nrbac_roles entry whose person_roleid is
// selected_roleid) with its organisation.
type cis2Claims struct {
	Sub      string `json:"sub"`
	UserID   string `json:"nhsid_useruid"`
	Name     string `json:"name"`
	Selected string `json:"selected_roleid"`
	Roles    []struct {
		PersonRoleID string `json:"person_roleid"`
		OrgCode      string `json:"org_code"`
		RoleName     string `json:"role_name"`
		RoleCode     string `json:"role_code"`
	} `json:"nhsid_nrbac_roles"`
	Orgs []struct {
		OrgCode string `json:"org_code"`
		OrgName string `json:"org_name"`
	} `json:"nhsid_user_orgs"`
}

func (cl cis2Claims) session() *session {
	s := &session{User: cl.UserID, Name: cl.Name}
	if s.User == "" {
		s.User = cl.Sub
	}
	for _, r := range cl.Roles {
		if r.PersonRoleID == cl.Selected {
			parts := strings.Split(r.RoleCode, ":")
			s.Role, s.RoleName, s.Org = parts[len(parts)-1], r.RoleName, r.OrgCode
		}
	}
	for _, o := range cl.Orgs {
		if o.OrgCode == s.Org {
			s.OrgName = o.OrgName
		}
	}
	return s
}

// requireSession lets a request through only with a live session, and
// marks activity. An idle session is signed out, here and at the identity
// provider.
func (v *Viewer) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		s := v.readSession(c.Request())
		now := v.cfg.Now()
		if s == nil {
			return v.message(c, http.StatusUnauthorized, "You are not signed in", "Sign in to use the Shared Record Viewer.", "/")
		}
		if v.idle(s, now) {
			return v.endSessionRedirect(c, "idle")
		}
		if s.Expiry > 0 && now.Unix() >= s.Expiry {
			return v.endSessionRedirect(c, "expired")
		}
		s.Seen = now.Unix()
		if err := v.setSession(c.Response(), s); err != nil {
			return err
		}
		c.Set("session", s)
		return next(c)
	}
}

// endSessionRedirect clears the session and sends the browser to the
// identity provider's end-session endpoint (RP-initiated logout), which
// comes back to /signed-out.
func (v *Viewer) endSessionRedirect(c echo.Context, reason string) error {
	v.clearSession(c.Response())
	back := v.cfg.PublicURL + "/signed-out?reason=" + url.QueryEscape(reason)
	if v.endSession == "" {
		return c.Redirect(http.StatusSeeOther, back)
	}
	q := url.Values{"client_id": {v.cfg.ClientID}, "post_logout_redirect_uri": {back}}
	return c.Redirect(http.StatusSeeOther, v.endSession+"?"+q.Encode())
}

// signOut is a form POST (with its CSRF token), never a link.
func (v *Viewer) signOut(c echo.Context) error {
	s := v.readSession(c.Request())
	if s != nil && !v.seal.csrfOK(s.SID, c.FormValue("csrf")) {
		return v.message(c, http.StatusForbidden, "Sign-out not confirmed", "The sign-out form had expired. Use the Sign out button again.", "/")
	}
	return v.endSessionRedirect(c, "signed-out")
}

func (v *Viewer) signedOut(c echo.Context) error {
	msg := "You have signed out of the Shared Record Viewer and of your identity provider."
	switch c.QueryParam("reason") {
	case "idle":
		msg = "You were signed out because the viewer was not used for " + durationText(v.cfg.IdleTimeout) + ". Nothing from the record is kept in this browser."
	case "expired":
		msg = "Your sign-in expired, so you were signed out."
	}
	return v.render(c, http.StatusOK, "message", &page{Title: "Signed out", Heading: "You are signed out", Message: msg, Link: "/", LinkText: "Sign in again"})
}

// idleCheck is where an open page goes (a meta refresh, no script) when
// the idle time has passed: if no other tab kept the session alive, sign
// out; otherwise back to the page.
func (v *Viewer) idleCheck(c echo.Context) error {
	s := v.readSession(c.Request())
	if s == nil {
		return c.Redirect(http.StatusSeeOther, "/signed-out?reason=idle")
	}
	if v.idle(s, v.cfg.Now()) {
		return v.endSessionRedirect(c, "idle")
	}
	back := c.QueryParam("back")
	if !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") || strings.Contains(back, "\\") {
		back = "/"
	}
	return c.Redirect(http.StatusSeeOther, back)
}

func durationText(d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		if n := int(d / time.Minute); n != 1 {
			return strconv.Itoa(n) + " minutes"
		}
		return "1 minute"
	}
	if n := int(d / time.Second); n != 1 {
		return strconv.Itoa(n) + " seconds"
	}
	return "1 second"
}
