package viewer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// The viewer keeps no state in process memory: the session, the sign-in in
// progress and each tab's patient context are sealed (AES-256-GCM, so
// encrypted and authenticated) under the configured session key, which
// every viewer node shares. The session is a cookie; a tab's patient
// context travels in that tab's URLs, so that one tab can never change
// another's patient. The purpose of each sealed value is bound in as
// additional data, so none can be swapped for another.

// maxCookieBytes keeps a sealed cookie value within what every browser
// stores (4096 bytes for name, value and attributes).
const maxCookieBytes = 3900

const (
	cookieSession = "srv_session"
	cookieLogin   = "srv_login_" // + a short name per sign-in in progress
	cookiePre     = "srv_pre"    // CSRF token for forms shown before sign-in
	purposeSess   = "session"
	purposeLogin  = "login"
	purposeCtx    = "patient-context"
)

// sealer seals and opens values.
type sealer struct {
	aead    cipher.AEAD
	csrfKey []byte
}

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, errors.New("session key must be 32 bytes")
	}
	encKey := deriveKey(key, "srv cookie encryption")
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, csrfKey: deriveKey(key, "srv csrf")}, nil
}

func deriveKey(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

func (s *sealer) seal(purpose string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := s.aead.Seal(nonce, nonce, plain, []byte(purpose))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

func (s *sealer) open(purpose, sealed string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(b) < s.aead.NonceSize()+s.aead.Overhead() {
		return errors.New("not a sealed value")
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, b[:n], b[n:], []byte(purpose))
	if err != nil {
		return errors.New("not a sealed value")
	}
	return json.Unmarshal(plain, v)
}

// csrf is the CSRF token of a session (or of a pre-session cookie): an
// HMAC of its id, so it needs no storage and dies with the session.
func (s *sealer) csrf(id string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *sealer) csrfOK(id, token string) bool {
	return id != "" && token != "" && hmac.Equal([]byte(s.csrf(id)), []byte(token))
}

// session is the signed-in user: who, in which role and organisation, the
// access token (only ever sent to the gateway, never to the browser in
// clear), and activity times for the idle timeout.
type session struct {
	SID      string `json:"sid"`
	User     string `json:"user"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	RoleName string `json:"roleName"`
	Org      string `json:"org"`
	OrgName  string `json:"orgName"`
	Token    string `json:"token"`
	Expiry   int64  `json:"exp"`  // the access token's expiry (unix seconds)
	Seen     int64  `json:"seen"` // last activity (unix seconds)
}

// login is a sign-in in progress: OIDC state, nonce and PKCE verifier, and
// the launch it serves, if any.
type login struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	Launch   string `json:"launch,omitempty"`
	Expires  int64  `json:"exp"`
}

// patientCtx is one tab's patient: sealed into that tab's URLs, bound to
// the session that made it.
type patientCtx struct {
	SID       string `json:"sid"`
	NHS       string `json:"nhs"`
	BirthDate string `json:"dob,omitempty"` // YYYY-MM-DD
	PatientID string `json:"pid,omitempty"` // the gateway's Patient id, once access is allowed
	Launch    string `json:"launch,omitempty"`
	Emergency bool   `json:"em,omitempty"`
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// cookie builds a cookie with the viewer's attributes: HttpOnly always;
// over https, Secure with SameSite=None and Partitioned (CHIPS), so the
// viewer also works embedded in a clinical system's page, each embedding
// site getting its own cookie jar; over plain http (loopback development
// only) SameSite=Lax, as browsers refuse SameSite=None without Secure.
// CSRF tokens on every form, not SameSite, are what protect the forms.
func (v *Viewer) cookie(name, value string, maxAge int) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, MaxAge: maxAge}
	if v.secure {
		c.Secure = true
		c.SameSite = http.SameSiteNoneMode
		c.Partitioned = true
	} else {
		c.SameSite = http.SameSiteLaxMode
	}
	return c
}

func (v *Viewer) setSession(w http.ResponseWriter, s *session) error {
	sealed, err := v.seal.seal(purposeSess, s)
	if err != nil {
		return err
	}
	if len(sealed) > maxCookieBytes {
		// Browsers drop cookies over 4 KiB: refuse plainly rather than
		// seem to sign in and lose the session.
		return errors.New("viewer: the identity provider's access token is too large for the session cookie")
	}
	// A session cookie (no Max-Age): it dies with the browser too.
	http.SetCookie(w, v.cookie(cookieSession, sealed, 0))
	return nil
}

func (v *Viewer) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, v.cookie(cookieSession, "", -1))
}

// readSession returns the request's session, or nil.
func (v *Viewer) readSession(r *http.Request) *session {
	c, err := r.Cookie(cookieSession)
	if err != nil {
		return nil
	}
	var s session
	if v.seal.open(purposeSess, c.Value, &s) != nil || s.SID == "" {
		return nil
	}
	return &s
}

// idle reports whether s has been inactive longer than the idle timeout.
func (v *Viewer) idle(s *session, now time.Time) bool {
	return now.Sub(time.Unix(s.Seen, 0)) > v.cfg.IdleTimeout
}

func (v *Viewer) sealCtx(pc *patientCtx) string {
	s, _ := v.seal.seal(purposeCtx, pc)
	return s
}

func (v *Viewer) openCtx(sealed string, s *session) (*patientCtx, bool) {
	var pc patientCtx
	if v.seal.open(purposeCtx, sealed, &pc) != nil || s == nil || pc.SID != s.SID {
		return nil, false
	}
	return &pc, true
}

// loginCookieName names a sign-in in progress by a hash of its state, so
// that sign-ins in two tabs (two launches) do not overwrite each other.
func loginCookieName(state string) string {
	sum := sha256.Sum256([]byte(state))
	return cookieLogin + strings.TrimRight(base64.RawURLEncoding.EncodeToString(sum[:6]), "=")
}
