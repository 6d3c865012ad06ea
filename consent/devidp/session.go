package devidp

import (
	"net/http"
	"net/url"
	"time"
)

// The provider keeps a sign-in session (a cookie naming an entry in
// memory: this is a single-process development server) so that, like a
// real identity provider, a second authorisation request signs in without
// the form, and RP-initiated logout (end_session_endpoint) has something to
// end: the Shared Record Viewer signs out there, for shared terminals.
const (
	sessionCookie = "mig_devidp_session"
	sessionTTL    = 8 * time.Hour
	maxSessions   = 1024
)

type idpSession struct {
	id      Identity
	expires time.Time
}

// DemoUser is one of the development provider's ready-made users.
type DemoUser struct {
	Identity
	Label string // what the sign-in button says
}

// DemoUsers are offered as one-click sign-ins: clinicians of the demo
// emergency department RX999 (emergency access permitted) and the demo
// out-of-hours service NX999 (not permitted), and a receptionist, whose
// role may not see records.
var DemoUsers = []DemoUser{
	{Identity{User: "rx-doctor", Role: "R8000", Org: "RX999", Name: "Dr Amira Khan"}, "Dr Amira Khan, Clinical Practitioner, Demo Emergency Department (RX999)"},
	{Identity{User: "rx-nurse", Role: "R8001", Org: "RX999", Name: "Ben Clarke"}, "Ben Clarke, Nurse, Demo Emergency Department (RX999)"},
	{Identity{User: "nx-doctor", Role: "R8000", Org: "NX999", Name: "Dr Owen Hughes"}, "Dr Owen Hughes, Clinical Practitioner, Demo Out-of-Hours Service (NX999)"},
	{Identity{User: "rx-reception", Role: "R8009", Org: "RX999", Name: "Rita Patel"}, "Rita Patel, Receptionist, Demo Emergency Department (RX999)"},
}

func demoUser(user string) (Identity, bool) {
	for _, d := range DemoUsers {
		if d.User == user {
			return d.Identity, true
		}
	}
	return Identity{}, false
}

// startSession records a sign-in and sets its cookie.
func (p *Provider) startSession(w http.ResponseWriter, id Identity) {
	sid := randomString(32)
	now := p.now()
	p.mu.Lock()
	for k, s := range p.sessions {
		if now.After(s.expires) {
			delete(p.sessions, k)
		}
	}
	for len(p.sessions) >= maxSessions {
		for k := range p.sessions {
			delete(p.sessions, k)
			break
		}
	}
	p.sessions[sid] = idpSession{id: id, expires: now.Add(sessionTTL)}
	p.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sid, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: int(sessionTTL.Seconds())})
}

// sessionIdentity returns the signed-in identity of the request's session.
func (p *Provider) sessionIdentity(r *http.Request) (Identity, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return Identity{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.sessions[c.Value]
	if !ok || p.now().After(s.expires) {
		return Identity{}, false
	}
	return s.id, true
}

// endSession forgets the request's session and clears its cookie.
func (p *Provider) endSession(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		p.mu.Lock()
		delete(p.sessions, c.Value)
		p.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// ActiveSessions reports how many sign-in sessions are open (for tests).
func (p *Provider) ActiveSessions() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.sessions {
		if !p.now().After(s.expires) {
			n++
		}
	}
	return n
}

// handleEndSession is OpenID Connect RP-Initiated Logout 1.0: it ends the
// provider's session, then returns to post_logout_redirect_uri (a
// registered redirect URI) with state, or shows that the user signed out.
func (p *Provider) handleEndSession(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		methodNotAllowed(w, "GET, POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		errorPage(w, http.StatusBadRequest, "request parameters could not be read")
		return
	}
	p.endSession(w, r)
	back := r.Form.Get("post_logout_redirect_uri")
	if back != "" && redirectAllowed(p.opts.RedirectURIs, back) {
		q := url.Values{}
		if st := r.Form.Get("state"); st != "" {
			q.Set("state", st)
		}
		http.Redirect(w, r, withQuery(back, q), http.StatusSeeOther)
		return
	}
	errorPage(w, http.StatusOK, "You have signed out of the development identity provider.")
}
