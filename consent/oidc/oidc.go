// Package oidc verifies the bearer tokens MIG accepts: JSON Web Tokens issued
// by an OpenID Connect provider (NHS CIS2 in production, consent/devidp with
// -dev), found through discovery. A verified token becomes a
// consent.Principal built from the CIS2 claims (nhsid_nrbac_roles,
// selected_roleid, nhsid_useruid, nhsid_user_orgs).
//
// Every error Verify returns is a *mig.Error with code EUNAUTHORIZED (or
// EUNAVAILABLE when the provider's keys cannot be fetched) and a fixed,
// content-free message; no part of a token is ever echoed.
package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"mig"
	"mig/consent"
)

// Defaults.
const (
	// DefaultDiscoveryTimeout bounds the start-up retries of discovery.
	DefaultDiscoveryTimeout = 30 * time.Second
	// ClockSkew is the leeway allowed on exp, nbf and iat.
	ClockSkew = 60 * time.Second
	// MaxTokenSize refuses absurdly large tokens before any parsing.
	MaxTokenSize = 16 << 10
)

// Messages of the EUNAUTHORIZED errors Verify and BearerToken return
// (MsgKeysUnavailable is EUNAVAILABLE: the provider's key set could not be
// fetched).
const (
	MsgNoToken          = "no bearer token"
	MsgMalformed        = "token malformed"
	MsgSignature        = "token signature not valid"
	MsgExpired          = "token expired"
	MsgNotYetValid      = "token not yet valid"
	MsgIssuedInFuture   = "token issued in the future"
	MsgTwoHeaders       = "more than one Authorization header"
	MsgKeysUnavailable  = "token signing keys unavailable"
	msgAudienceTemplate = "token audience does not include %s"
	msgIssuerTemplate   = "token issuer is not %s"
)

// SigningAlgorithms are the only JWS algorithms accepted. "none" and the
// HMAC algorithms are always refused.
var SigningAlgorithms = []string{gooidc.RS256, gooidc.ES256}

// Config configures a Verifier.
type Config struct {
	// IssuerURL is the provider's issuer; discovery is read from
	// IssuerURL + "/.well-known/openid-configuration" and the issuer it
	// announces must equal IssuerURL exactly.
	IssuerURL string
	// Audience must be among a token's aud values.
	Audience string
	// HTTPClient is used for discovery and key fetches (nil: a client with
	// a 10 s timeout).
	HTTPClient *http.Client
	// DiscoveryTimeout bounds how long NewVerifier retries discovery
	// (0: DefaultDiscoveryTimeout).
	DiscoveryTimeout time.Duration
}

// Verifier checks bearer tokens against one provider. It is safe for
// concurrent use; signing keys are fetched on demand and cached (and
// re-fetched when a token names a key not yet seen).
type Verifier struct {
	issuer   string
	audience string
	verifier *gooidc.IDTokenVerifier
	now      func() time.Time
}

// NewVerifier runs discovery against cfg.IssuerURL, retrying with backoff
// for up to cfg.DiscoveryTimeout while the provider cannot be reached, and
// returns a Verifier bound to the provider's keys. A discovery document
// announcing a different issuer fails at once. Errors are *mig.Error:
// EINVALID for bad configuration, EUNAVAILABLE when discovery never
// succeeded.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.IssuerURL == "" {
		return nil, mig.Errorf(mig.EINVALID, "OpenID Connect issuer URL not configured")
	}
	if !strings.HasPrefix(cfg.IssuerURL, "https://") && !strings.HasPrefix(cfg.IssuerURL, "http://") {
		return nil, mig.Errorf(mig.EINVALID, "OpenID Connect issuer URL must be an http(s) URL")
	}
	if cfg.Audience == "" {
		return nil, mig.Errorf(mig.EINVALID, "OpenID Connect audience not configured")
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	timeout := cfg.DiscoveryTimeout
	if timeout <= 0 {
		timeout = DefaultDiscoveryTimeout
	}

	provider, err := discover(gooidc.ClientContext(ctx, client), cfg.IssuerURL, timeout)
	if err != nil {
		return nil, err
	}
	// Checks of issuer, audience and expiry are done by Verify itself, so
	// that each failure gets its own precise message; go-oidc verifies the
	// signature with the provider's keys and restricts the algorithms.
	v := provider.VerifierContext(gooidc.ClientContext(context.WithoutCancel(ctx), client), &gooidc.Config{
		SupportedSigningAlgs: SigningAlgorithms,
		SkipClientIDCheck:    true,
		SkipExpiryCheck:      true,
		SkipIssuerCheck:      true,
	})
	return &Verifier{issuer: cfg.IssuerURL, audience: cfg.Audience, verifier: v, now: time.Now}, nil
}

// discover fetches the discovery document, retrying with exponential
// backoff (100 ms doubling to 2 s) until timeout has passed.
func discover(ctx context.Context, issuer string, timeout time.Duration) (*gooidc.Provider, error) {
	deadline := time.Now().Add(timeout)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		attemptCtx, attemptCancel := context.WithTimeout(ctx, 5*time.Second)
		p, err := gooidc.NewProvider(attemptCtx, issuer)
		attemptCancel()
		if err == nil {
			return p, nil
		}
		var mismatch *gooidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			return nil, &mig.Error{Code: mig.EINVALID,
				Message: fmt.Sprintf("OpenID Connect discovery at %s announces a different issuer", issuer), Err: err}
		}
		wait := min(backoff, time.Until(deadline))
		if wait <= 0 || ctx.Err() != nil {
			return nil, &mig.Error{Code: mig.EUNAVAILABLE,
				Message: fmt.Sprintf("OpenID Connect discovery at %s failed after %d attempts in %s",
					issuer, attempt, timeout.Round(time.Millisecond)), Err: err}
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// Issuer returns the issuer tokens must carry.
func (v *Verifier) Issuer() string { return v.issuer }

// Audience returns the audience tokens must carry.
func (v *Verifier) Audience() string { return v.audience }

// Verify checks rawToken (signature with the provider's keys, algorithm,
// issuer, audience, expiry with ClockSkew leeway) and returns the principal
// it speaks for. A token without a usable selected role still verifies: the
// principal then has empty RoleCode and OrgODS, and the role rule refuses
// it with its own reason.
func (v *Verifier) Verify(ctx context.Context, rawToken string) (*consent.Principal, error) {
	if rawToken == "" {
		return nil, unauthorized(MsgNoToken, errNoToken)
	}
	if err := checkShape(rawToken); err != nil {
		return nil, err
	}
	tok, err := v.verifier.Verify(ctx, rawToken)
	if err != nil {
		return nil, classify(err)
	}
	var c claims
	if err := tok.Claims(&c); err != nil {
		return nil, unauthorized(MsgMalformed, err)
	}
	if c.Issuer != v.issuer {
		return nil, unauthorized(fmt.Sprintf(msgIssuerTemplate, v.issuer), nil)
	}
	if !slices.Contains(c.Audience, v.audience) {
		return nil, unauthorized(fmt.Sprintf(msgAudienceTemplate, v.audience), nil)
	}
	now := v.now()
	if c.Expiry == nil {
		return nil, unauthorized(MsgMalformed, errors.New("no exp claim"))
	}
	if now.After(c.Expiry.Time().Add(ClockSkew)) {
		return nil, unauthorized(MsgExpired, nil)
	}
	if c.NotBefore != nil && now.Add(ClockSkew).Before(c.NotBefore.Time()) {
		return nil, unauthorized(MsgNotYetValid, nil)
	}
	// A token minted in the future (beyond the leeway for clocks that
	// disagree) is not believed: its issuer's clock is wrong, or someone
	// minted it to outlive its stated lifetime.
	if c.IssuedAt != nil && now.Add(ClockSkew).Before(c.IssuedAt.Time()) {
		return nil, unauthorized(MsgIssuedInFuture, nil)
	}
	if c.Subject == "" {
		return nil, unauthorized(MsgMalformed, errors.New("no sub claim"))
	}
	return c.principal(), nil
}

// checkShape refuses, before any cryptography, what is not a compact JWS
// with an accepted algorithm: wrong number of parts, bad base64url, a
// header that is not JSON (token malformed), or alg none / HS* / anything
// outside SigningAlgorithms (signature not valid).
func checkShape(raw string) error {
	if len(raw) > MaxTokenSize {
		return unauthorized(MsgMalformed, errors.New("token too large"))
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return unauthorized(MsgMalformed, errors.New("not a compact JWS"))
	}
	for _, p := range parts {
		if _, err := base64.RawURLEncoding.DecodeString(p); err != nil {
			return unauthorized(MsgMalformed, errors.New("bad base64url"))
		}
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hdr, &h); err != nil {
		return unauthorized(MsgMalformed, errors.New("header not JSON"))
	}
	if !slices.Contains(SigningAlgorithms, h.Alg) || parts[2] == "" {
		return unauthorized(MsgSignature, errors.New("signing algorithm not accepted"))
	}
	return nil
}

// classify maps a go-oidc verification error to a precise message. go-oidc
// reports these as formatted errors; its key-fetch failure is the only one
// recognised by text (the prefix "fetching keys").
func classify(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "malformed jwt"):
		return unauthorized(MsgMalformed, err)
	case strings.Contains(msg, "fetching keys"):
		return &mig.Error{Code: mig.EUNAVAILABLE, Message: MsgKeysUnavailable, Err: err}
	case strings.Contains(msg, "failed to unmarshal claims"):
		return unauthorized(MsgMalformed, err)
	default:
		return unauthorized(MsgSignature, err)
	}
}

func unauthorized(msg string, cause error) *mig.Error {
	return &mig.Error{Code: mig.EUNAUTHORIZED, Message: msg, Err: cause}
}
