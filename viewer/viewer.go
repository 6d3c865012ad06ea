// Package viewer is the Shared Record Viewer: a server-side web app
// (backend-for-frontend) that shows the ten MIG views of a patient's GP
// record in a browser, for staff whose own clinical system embeds no
// record, stand-alone or launched in context by a clinical system (the
// SMART App Launch pattern).
//
// It signs users in with OpenID Connect (authorisation code, PKCE S256,
// state, nonce); tokens stay on the server side (sealed in an encrypted,
// authenticated cookie: see session.go) and it talks to the gateway only
// through its public FHIR API with the signed-in user's token. Pages are
// server-rendered html/template and work without JavaScript.
package viewer

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
	"golang.org/x/oauth2"
)

//go:embed templates/*.html static/*
var embedded embed.FS

// Config configures a Viewer.
type Config struct {
	PublicURL string // where browsers reach the viewer, e.g. http://127.0.0.1:8082
	FHIRBase  string // the gateway's FHIR base, e.g. http://127.0.0.1:8080/fhir
	Issuer    string // the OpenID Connect issuer
	ClientID  string
	// Scopes asked for at sign-in (default openid profile
	// nationalrbacaccess); a launch adds "launch".
	Scopes []string
	// SessionKey (32 bytes) seals the session cookie and patient contexts;
	// every viewer node shares it.
	SessionKey []byte
	// IdleTimeout signs the user out after this much inactivity (15m).
	IdleTimeout time.Duration
	// FrameAncestors are the clinical-system origins allowed to embed the
	// viewer (CSP frame-ancestors); none: it cannot be framed.
	FrameAncestors []string
	// LaunchIssuers are the FHIR servers a launch's iss may name (default:
	// FHIRBase only).
	LaunchIssuers []string
	// AssetsDir holds NHS.UK frontend's dist folder (installed from npm at
	// run time, never committed); "" serves the viewer's own styles only.
	AssetsDir string
	// EHRSim, when set (-dev only), serves an "EHR simulator" page that
	// creates launches as a registered clinical system.
	EHRSim     *EHRSim
	HTTPClient *http.Client
	Now        func() time.Time
	Log        zerolog.Logger
}

// Viewer is a running Shared Record Viewer.
type Viewer struct {
	cfg        Config
	seal       *sealer
	gw         *gateway
	oauth      oauth2.Config
	verifier   *gooidc.IDTokenVerifier
	endSession string
	secure     bool
	csp        string
	pages      map[string]*template.Template
}

// New discovers the issuer and prepares the viewer.
func New(ctx context.Context, cfg Config) (*Viewer, error) {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 15 * time.Minute
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{gooidc.ScopeOpenID, "profile", "nationalrbacaccess"}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	cfg.FHIRBase = strings.TrimSuffix(cfg.FHIRBase, "/")
	if len(cfg.LaunchIssuers) == 0 {
		cfg.LaunchIssuers = []string{cfg.FHIRBase}
	}
	pub, err := url.Parse(cfg.PublicURL)
	if err != nil || pub.Host == "" || (pub.Scheme != "http" && pub.Scheme != "https") {
		return nil, errors.New("viewer: public URL must be an http(s) URL")
	}
	if !strings.HasSuffix(cfg.FHIRBase, "/fhir") {
		return nil, errors.New("viewer: the gateway's FHIR base must end in /fhir")
	}
	seal, err := newSealer(cfg.SessionKey)
	if err != nil {
		return nil, fmt.Errorf("viewer: %v", err)
	}
	pctx := gooidc.ClientContext(ctx, cfg.HTTPClient)
	provider, err := gooidc.NewProvider(pctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("viewer: identity provider discovery: %v", err)
	}
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = provider.Claims(&extra)
	v := &Viewer{
		cfg:  cfg,
		seal: seal,
		gw:   &gateway{base: cfg.FHIRBase, root: strings.TrimSuffix(cfg.FHIRBase, "/fhir"), client: cfg.HTTPClient},
		oauth: oauth2.Config{ClientID: cfg.ClientID, Endpoint: provider.Endpoint(),
			RedirectURL: cfg.PublicURL + "/auth/callback", Scopes: cfg.Scopes},
		verifier:   provider.Verifier(&gooidc.Config{ClientID: cfg.ClientID, Now: cfg.Now}),
		endSession: extra.EndSession,
		secure:     pub.Scheme == "https",
	}
	v.csp = v.contentSecurityPolicy()
	if v.pages, err = parsePages(); err != nil {
		return nil, err
	}
	return v, nil
}

// contentSecurityPolicy: no inline script (no script at all is needed),
// styles and images from the viewer only, forms to the viewer and the
// identity provider (sign-out redirects there), framing only by the
// configured clinical systems.
func (v *Viewer) contentSecurityPolicy() string {
	formAction := "'self'"
	seen := map[string]bool{}
	for _, raw := range []string{v.cfg.Issuer, v.oauth.Endpoint.AuthURL, v.endSession} {
		if u, err := url.Parse(raw); err == nil && u.Host != "" && !seen[u.Host] {
			seen[u.Host] = true
			formAction += " " + u.Scheme + "://" + u.Host
		}
	}
	frame := "'none'"
	if len(v.cfg.FrameAncestors) > 0 {
		frame = "'self' " + strings.Join(v.cfg.FrameAncestors, " ")
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
		"connect-src 'self'; form-action " + formAction + "; frame-ancestors " + frame + "; base-uri 'none'"
}

// Handler returns the viewer's HTTP handler.
func (v *Viewer) Handler() http.Handler {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = v.echoError
	e.Use(v.headers, v.logRequests)
	e.GET("/", v.home)
	e.GET("/login", v.startLogin)
	e.GET("/auth/callback", v.callback)
	e.GET("/signed-out", v.signedOut)
	e.GET("/idle", v.idleCheck)
	e.POST("/signout", v.signOut)
	e.GET("/launch", v.launch)
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	a := e.Group("", v.requireSession)
	a.POST("/search", v.search)
	a.GET("/p/:ctx/consent", v.consentForm)
	a.POST("/p/:ctx/consent", v.recordConsent)
	a.GET("/p/:ctx/:view", v.showView)
	if v.cfg.EHRSim != nil {
		e.GET("/ehr", v.ehrForm)
		e.POST("/ehr", v.ehrLaunch)
	}
	static, _ := fs.Sub(embedded, "static")
	e.GET("/assets/viewer/*", echo.WrapHandler(http.StripPrefix("/assets/viewer/", http.FileServer(http.FS(static)))))
	if v.cfg.AssetsDir != "" {
		e.GET("/assets/nhsuk/*", echo.WrapHandler(http.StripPrefix("/assets/nhsuk/", http.FileServer(noDirs{http.Dir(v.cfg.AssetsDir)}))))
	}
	return e
}

// noDirs serves files only, never directory listings.
type noDirs struct{ fs http.FileSystem }

func (n noDirs) Open(name string) (http.File, error) {
	f, err := n.fs.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || st.IsDir() {
		f.Close()
		return nil, os.ErrNotExist
	}
	return f, nil
}

// headers sets the security headers on every answer: nothing is cached,
// no Referer is ever sent (URLs carry a tab's sealed patient context), the
// CSP.
func (v *Viewer) headers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", v.csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if len(v.cfg.FrameAncestors) == 0 {
			h.Set("X-Frame-Options", "DENY")
		}
		if v.secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		return next(c)
	}
}

// logRequests logs method, route template, status and duration: never a
// path or query (they carry launch ids and sealed patient contexts),
// never a token, name or NHS number.
//
// Each request gets an id, sent to the gateway as X-Request-ID on every
// API call it makes, so a log line here and the gateway's AuditEvents for
// that page share one id.
func (v *Viewer) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		id := randomHex(16)
		c.Response().Header().Set("X-Request-ID", id)
		c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), requestIDKey{}, id)))
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		method := c.Request().Method
		if method != http.MethodGet && method != http.MethodPost && method != http.MethodHead {
			method = "OTHER"
		}
		v.cfg.Log.Info().Str("request_id", id).Str("method", method).Str("route", c.Path()).
			Int("status", c.Response().Status).Dur("duration", time.Since(start)).Msg("request")
		return nil
	}
}

type requestIDKey struct{}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

func (v *Viewer) echoError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status := http.StatusInternalServerError
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status = he.Code
	}
	msg := "Something went wrong. Try again."
	switch status {
	case http.StatusNotFound:
		msg = "Page not found."
	case http.StatusMethodNotAllowed:
		msg = "That page cannot be used this way."
	}
	v.render(c, status, "message", &page{Title: http.StatusText(status), Heading: http.StatusText(status), Message: msg})
}

// assetsPath is where NHS.UK frontend's dist folder is under a folder
// holding node_modules (viewer/).
func AssetsPath(dir string) string {
	return filepath.Join(dir, "node_modules", "nhsuk-frontend", "dist")
}
