// Package devidp is a development OpenID Connect provider that migd starts
// with -dev, on loopback only. It issues RS256 JSON Web Tokens carrying the
// NHS CIS2 claims MIG reads (nhsid_useruid, nhsid_nrbac_roles,
// selected_roleid, nhsid_user_orgs) for a user, role and organisation
// chosen in a small HTML form, through query parameters, or through the
// dev-only token grant urn:mig:dev (used by migctl through
// RequestDevToken).
//
// Endpoints: /.well-known/openid-configuration, /jwks, /authorize
// (authorisation-code flow, PKCE S256 required) and /token. It is never a
// production component: anyone who can reach it can mint any identity,
// which is why Start refuses non-loopback addresses.
package devidp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"mig"
)

// Defaults for Options.
const (
	DefaultAddr     = "127.0.0.1:0"
	DefaultAudience = "mig"
	DefaultClientID = "mig-dev"
	DefaultTokenTTL = time.Hour
	DefaultCodeTTL  = time.Minute
	// DevGrantType is the dev-only token grant: form fields user, role,
	// org, name give the identity directly.
	DevGrantType = "urn:mig:dev"
	// maxCodes bounds the number of outstanding authorisation codes.
	maxCodes = 1024
	rsaBits  = 2048
)

// DefaultRedirectURIs are the redirect URI patterns used when
// Options.RedirectURIs is empty: any port and path on loopback.
var DefaultRedirectURIs = []string{"http://127.0.0.1:*/", "http://localhost:*/"}

// Options configures a Provider.
type Options struct {
	// Addr is the listen address; its host must be loopback
	// (default 127.0.0.1:0, a free port).
	Addr string
	// Audience is the aud of access tokens: the gateway's configured
	// audience (default "mig").
	Audience string
	// ClientID is the one registered client (default "mig-dev"); it is
	// the azp of access tokens and the aud of ID tokens.
	ClientID string
	// RedirectURIs are the registered redirect URIs, all on loopback. An
	// entry matches exactly, or, written as http://127.0.0.1:*/path/ or
	// http://localhost:*/path/, matches any port and any path under
	// /path/. Empty: DefaultRedirectURIs.
	RedirectURIs []string
	// TokenTTL is the lifetime of issued tokens (default one hour).
	TokenTTL time.Duration
	// CodeTTL is the lifetime of authorisation codes (default one minute).
	CodeTTL time.Duration
	// KeyFile, when set, persists the RSA signing key (PEM, PKCS #8, mode
	// 0600) so that tokens survive a restart: loaded when present,
	// generated and written when absent.
	KeyFile string
}

// Provider is a running development OpenID Connect provider.
type Provider struct {
	opts   Options
	issuer string
	key    *rsa.PrivateKey
	kid    string
	signer jose.Signer
	ln     net.Listener
	srv    *http.Server
	now    func() time.Time

	mu       sync.Mutex
	codes    map[string]authCode
	sessions map[string]idpSession

	closeOnce sync.Once
	closeErr  error
	done      chan struct{}
}

// authCode is an outstanding authorisation code.
type authCode struct {
	clientID    string
	redirectURI string
	challenge   string
	nonce       string
	id          Identity
	expires     time.Time
}

// Start validates opts, loads or generates the signing key, listens on
// loopback and serves until Close is called or ctx is done.
func Start(ctx context.Context, opts Options) (*Provider, error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.Audience == "" {
		opts.Audience = DefaultAudience
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if len(opts.RedirectURIs) == 0 {
		opts.RedirectURIs = slices.Clone(DefaultRedirectURIs)
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.CodeTTL <= 0 {
		opts.CodeTTL = DefaultCodeTTL
	}
	if err := checkLoopbackAddr(opts.Addr); err != nil {
		return nil, err
	}
	for _, u := range opts.RedirectURIs {
		if err := checkRedirectPattern(u); err != nil {
			return nil, err
		}
	}
	key, err := loadOrCreateKey(opts.KeyFile)
	if err != nil {
		return nil, err
	}
	kid, err := keyID(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: string(jose.RS256)}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, &mig.Error{Code: mig.EINTERNAL, Message: "development identity provider: cannot create signer", Err: err}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return nil, &mig.Error{Code: mig.EUNAVAILABLE, Message: fmt.Sprintf("development identity provider: cannot listen on %s", opts.Addr), Err: err}
	}
	p := &Provider{
		opts:     opts,
		issuer:   "http://" + ln.Addr().String(),
		key:      key,
		kid:      kid,
		signer:   signer,
		ln:       ln,
		now:      time.Now,
		codes:    make(map[string]authCode),
		sessions: make(map[string]idpSession),
		done:     make(chan struct{}),
	}
	p.srv = &http.Server{
		Handler:           p.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
	go func() { _ = p.srv.Serve(ln) }()
	go func() {
		select {
		case <-ctx.Done():
			_ = p.Close()
		case <-p.done:
		}
	}()
	return p, nil
}

// Issuer returns the issuer URL (http://127.0.0.1:<port>).
func (p *Provider) Issuer() string { return p.issuer }

// Audience returns the aud of the access tokens it issues.
func (p *Provider) Audience() string { return p.opts.Audience }

// ClientID returns the registered client id.
func (p *Provider) ClientID() string { return p.opts.ClientID }

// Close stops the server. It is safe to call more than once.
func (p *Provider) Close() error {
	p.closeOnce.Do(func() {
		close(p.done)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.closeErr = err
		}
	})
	return p.closeErr
}

// MintToken returns a signed access token for the identity, as the token
// endpoint would issue it. For tests and tooling.
func (p *Provider) MintToken(user, role, org, name string) (string, error) {
	id, err := NewIdentity(user, role, org, name)
	if err != nil {
		return "", err
	}
	access, _, err := p.issue(id, "")
	return access, err
}

// issue signs an access token and an ID token for id.
func (p *Provider) issue(id Identity, nonce string) (access, idToken string, err error) {
	now := p.now().Truncate(time.Second)
	exp := now.Add(p.opts.TokenTTL)
	c := id.claims()
	c["iss"] = p.issuer
	c["sub"] = id.User
	c["azp"] = p.opts.ClientID
	c["iat"] = now.Unix()
	c["exp"] = exp.Unix()

	c["aud"] = p.opts.Audience
	c["jti"] = randomString(16)
	if access, err = p.sign(c); err != nil {
		return "", "", err
	}

	c["aud"] = p.opts.ClientID
	c["jti"] = randomString(16)
	if nonce != "" {
		c["nonce"] = nonce
	}
	if idToken, err = p.sign(c); err != nil {
		return "", "", err
	}
	return access, idToken, nil
}

func (p *Provider) sign(claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", &mig.Error{Code: mig.EINTERNAL, Message: "development identity provider: cannot encode claims", Err: err}
	}
	jws, err := p.signer.Sign(payload)
	if err != nil {
		return "", &mig.Error{Code: mig.EINTERNAL, Message: "development identity provider: cannot sign token", Err: err}
	}
	return jws.CompactSerialize()
}

// jwks returns the public key set.
func (p *Provider) jwks() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: &p.key.PublicKey, KeyID: p.kid, Algorithm: string(jose.RS256), Use: "sig",
	}}}
}

// checkLoopbackAddr refuses listen addresses whose host is not loopback.
func checkLoopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return mig.Errorf(mig.EINVALID, "development identity provider: listen address must be host:port")
	}
	if !isLoopbackHost(host) {
		return mig.Errorf(mig.EINVALID, "development identity provider: listen address must be on loopback")
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loadOrCreateKey reads the RSA key from file, or generates one (and
// writes it to file when file is set).
func loadOrCreateKey(file string) (*rsa.PrivateKey, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err == nil {
			return parseKey(b)
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, &mig.Error{Code: mig.EINVALID, Message: "development identity provider: cannot read key file", Err: err}
		}
	}
	key, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return nil, &mig.Error{Code: mig.EINTERNAL, Message: "development identity provider: cannot generate key", Err: err}
	}
	if file == "" {
		return key, nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, &mig.Error{Code: mig.EINTERNAL, Message: "development identity provider: cannot encode key", Err: err}
	}
	if err := writeFileAtomic(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return nil, &mig.Error{Code: mig.EINVALID, Message: "development identity provider: cannot write key file", Err: err}
	}
	return key, nil
}

func parseKey(b []byte) (*rsa.PrivateKey, error) {
	bad := func(err error) error {
		return &mig.Error{Code: mig.EINVALID, Message: "development identity provider: key file does not hold an RSA private key of 2048 bits or more", Err: err}
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, bad(errors.New("no PEM block"))
	}
	var key *rsa.PrivateKey
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, bad(err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, bad(errors.New("not an RSA key"))
		}
		key = rk
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, bad(err)
		}
		key = k
	default:
		return nil, bad(errors.New("unexpected PEM block type"))
	}
	if key.N.BitLen() < rsaBits {
		return nil, bad(errors.New("key too small"))
	}
	return key, nil
}

func writeFileAtomic(file string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(file), ".devidp-key-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// keyID is the base64url SHA-256 of the public key's DER encoding, so that
// a persisted key keeps its kid.
func keyID(pub *rsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", &mig.Error{Code: mig.EINTERNAL, Message: "development identity provider: cannot encode public key", Err: err}
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:16]), nil
}

// randomString returns n random bytes, base64url encoded.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// stableDigits derives a 12-digit identifier from parts, stable across
// runs (CIS2 person_roleid and person_orgid are numeric strings).
func stableDigits(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return fmt.Sprintf("%012d", binary.BigEndian.Uint64(sum[:8])%1_000_000_000_000)
}
