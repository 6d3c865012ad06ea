package devidp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"mig"
)

// DevTokenParams is the identity RequestDevToken asks for.
type DevTokenParams struct {
	User string // user id
	Role string // national RBAC role code, e.g. R8000
	Org  string // ODS code, e.g. RX999
	Name string // display name (optional)
}

// RequestDevToken asks the development provider at issuerURL for an access
// token through the dev grant: discovery first (the document must announce
// issuerURL and the urn:mig:dev grant), then a POST to its token endpoint.
// Errors are *mig.Error: EUNAVAILABLE when the provider cannot be reached
// (migd not running with -dev), EINVALID when it is not a MIG development
// provider or refuses the identity.
func RequestDevToken(ctx context.Context, issuerURL string, p DevTokenParams) (string, error) {
	issuerURL = strings.TrimSuffix(strings.TrimSpace(issuerURL), "/")
	u, err := url.Parse(issuerURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", mig.Errorf(mig.EINVALID, "development identity provider URL must be an http(s) URL")
	}
	if _, err := NewIdentity(p.User, p.Role, p.Org, p.Name); err != nil {
		return "", err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	unreachable := func(err error) error {
		return &mig.Error{Code: mig.EUNAVAILABLE,
			Message: fmt.Sprintf("development identity provider at %s not reachable (is migd running with -dev?)", issuerURL), Err: err}
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, issuerURL+"/.well-known/openid-configuration", nil)
	if err != nil {
		return "", mig.Errorf(mig.EINVALID, "development identity provider URL must be an http(s) URL")
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", unreachable(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return "", &mig.Error{Code: mig.EUNAVAILABLE,
			Message: fmt.Sprintf("development identity provider at %s: discovery answered HTTP %d", issuerURL, resp.StatusCode)}
	}
	var d discovery
	if err := decodeJSON(resp, &d); err != nil {
		return "", mig.Errorf(mig.EINVALID, "provider at %s is not a MIG development identity provider", issuerURL)
	}
	if d.Issuer != issuerURL {
		return "", mig.Errorf(mig.EINVALID, "provider at %s announces a different issuer", issuerURL)
	}
	if !slices.Contains(d.GrantTypesSupported, DevGrantType) || d.TokenEndpoint == "" {
		return "", mig.Errorf(mig.EINVALID, "provider at %s is not a MIG development identity provider", issuerURL)
	}

	form := url.Values{"grant_type": {DevGrantType}, "user": {p.User}, "role": {p.Role}, "org": {p.Org}, "name": {p.Name}}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, d.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", mig.Errorf(mig.EINVALID, "provider at %s announces an unusable token endpoint", issuerURL)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = client.Do(req)
	if err != nil {
		return "", unreachable(err)
	}
	var tr struct {
		tokenResponse
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := decodeJSON(resp, &tr); err != nil {
		return "", &mig.Error{Code: mig.EUNAVAILABLE,
			Message: fmt.Sprintf("development identity provider at %s answered HTTP %d without a token", issuerURL, resp.StatusCode), Err: err}
	}
	if resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		msg := "development token refused"
		if tr.Error != "" {
			msg += ": " + printable(tr.Error, 40)
		}
		if tr.Description != "" {
			msg += ": " + printable(tr.Description, 200)
		}
		return "", mig.Errorf(mig.EINVALID, "%s", msg)
	}
	return tr.AccessToken, nil
}

// decodeJSON reads at most 1 MiB of a JSON body and closes it.
func decodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return errors.New("empty body")
	}
	return json.Unmarshal(body, v)
}

// printable keeps printable ASCII only, at most n bytes.
func printable(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		if s[i] >= 0x20 && s[i] < 0x7f {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
