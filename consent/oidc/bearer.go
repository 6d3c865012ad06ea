package oidc

import (
	"errors"
	"strings"

	"mig"
)

// Realm is the realm named in WWW-Authenticate challenges.
const Realm = "mig"

// errNoToken marks the "no bearer token" case, which RFC 6750 section 3.1
// answers with a bare challenge (no error code).
var errNoToken = errors.New("no credentials")

// BearerToken extracts the token from an Authorization header value
// ("Bearer <token>", scheme case-insensitive). A missing header, another
// scheme or an empty token gives EUNAUTHORIZED "no bearer token"; a token
// with characters outside RFC 6750's b64token syntax gives "token
// malformed". The token itself never appears in an error.
func BearerToken(authorization string) (string, error) {
	authorization = strings.TrimSpace(authorization)
	scheme, token, _ := strings.Cut(authorization, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", unauthorized(MsgNoToken, errNoToken)
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", unauthorized(MsgNoToken, errNoToken)
	}
	if len(token) > MaxTokenSize || !isB64Token(token) {
		return "", unauthorized(MsgMalformed, nil)
	}
	return token, nil
}

// BearerTokenOf is BearerToken over every Authorization header field of a
// request. More than one is refused (401, "more than one Authorization
// header"): RFC 9110 allows the field once, and a gateway reading the
// first while a proxy or log reads another would authenticate one party
// and audit another.
func BearerTokenOf(values []string) (string, error) {
	switch len(values) {
	case 0:
		return BearerToken("")
	case 1:
		return BearerToken(values[0])
	}
	return "", unauthorized(MsgTwoHeaders, nil)
}

// isB64Token reports whether s matches b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	s = strings.TrimRight(s, "=")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}

// WWWAuthenticate returns the WWW-Authenticate header value (RFC 6750) for
// a 401 answer to err: a bare `Bearer realm="mig"` when no token was sent,
// otherwise with error="invalid_token" and the error's message as
// error_description.
func WWWAuthenticate(err error) string {
	const bare = `Bearer realm="` + Realm + `"`
	var e *mig.Error
	if err == nil || errors.Is(err, errNoToken) || !errors.As(err, &e) || e.Code != mig.EUNAUTHORIZED {
		return bare
	}
	return bare + `, error="invalid_token", error_description="` + quoteSafe(e.Message) + `"`
}

// quoteSafe keeps only the characters RFC 6750 allows in error_description
// (%x20-21 / %x23-5B / %x5D-7E): no quote, no backslash, no control or
// non-ASCII character.
func quoteSafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		}
	}
	return b.String()
}
