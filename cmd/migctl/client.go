package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mig"
)

// diag is where summaries and progress go (standard error); tests replace it.
var diag io.Writer = os.Stderr

// lockTimeout bounds the wait for a store file's lock: a running migd holds
// it for as long as it runs, so waiting longer only delays the message.
const lockTimeout = time.Second

// lockedHint is the reason given when a store file is held by another process.
const lockedHint = "is locked by another process (a running migd holds its stores: stop it, or use -server against the running gateway)"

// storeFile returns DIR/name after checking DIR is a directory and, when
// mustExist, that the file is there. It never creates anything.
func storeFile(dir, name string, mustExist bool) (string, error) {
	if dir == "" {
		return "", usagef("-data DIR is required")
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return "", fmt.Errorf("-data %s is not a directory", dir)
	}
	p := filepath.Join(dir, name)
	if mustExist {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("no %s in %s (is -data the gateway's data directory?)", name, dir)
		}
	}
	return p, nil
}

// openError turns a store's open failure into one line, telling a lock held
// by a running gateway (the stores mark it mig.ErrStoreLocked) apart from
// other failures.
func openError(path string, err error) error {
	if errors.Is(err, mig.ErrStoreLocked) {
		return fmt.Errorf("%s %s", path, lockedHint)
	}
	return fmt.Errorf("cannot open %s: %s", path, mig.ErrorMessage(err))
}

// remote is a client of the gateway's HTTP API, authenticated by a bearer
// token.
type remote struct {
	base   string
	token  string
	client *http.Client
}

// newRemote checks the server URL and finds the token (-token, else the
// MIG_TOKEN environment variable).
func newRemote(server, token string) (*remote, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("-server must be an http or https URL")
	}
	if token == "" {
		token = os.Getenv("MIG_TOKEN")
	}
	if token == "" {
		return nil, usagef("a token is required with -server: give -token or set MIG_TOKEN (migctl token prints one from a -dev gateway)")
	}
	return &remote{base: strings.TrimRight(server, "/"), token: token, client: &http.Client{}}, nil
}

// do sends a request and returns the response when its status is 2xx; any
// other status becomes an error carrying the OperationOutcome's diagnostics.
// The caller closes the body.
func (c *remote) do(ctx context.Context, method, path string, body io.Reader, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, usagef("bad request URL")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json, application/fhir+json, application/fhir+ndjson")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("request to the gateway at %s interrupted", c.base)
		}
		return nil, fmt.Errorf("the gateway at %s is not reachable", c.base)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, outcomeError(resp)
}

// outcomeError reads an error answer: the OperationOutcome's first
// diagnostics (content-free by the gateway's rules), else the HTTP status.
func outcomeError(resp *http.Response) error {
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Code        string `json:"code"`
			Diagnostics string `json:"diagnostics"`
		} `json:"issue"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &oo) == nil && oo.ResourceType == "OperationOutcome" && len(oo.Issue) > 0 {
		msg := oo.Issue[0].Diagnostics
		if msg == "" {
			msg = oo.Issue[0].Code
		}
		return fmt.Errorf("gateway refused (HTTP %d): %s", resp.StatusCode, oneLine(errors.New(msg)))
	}
	return fmt.Errorf("gateway answered HTTP %d", resp.StatusCode)
}

// getJSON GETs path and decodes the JSON answer into v.
func (c *remote) getJSON(ctx context.Context, path string, v any) error {
	return c.sendJSON(ctx, http.MethodGet, path, nil, "", v)
}

// sendJSON sends body (nil: none) and decodes the JSON answer into v.
func (c *remote) sendJSON(ctx context.Context, method, path string, body io.Reader, contentType string, v any) error {
	resp, err := c.do(ctx, method, path, body, contentType)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(v); err != nil {
		return fmt.Errorf("the gateway's answer is not the JSON expected")
	}
	return nil
}

// createFile creates (or truncates) an output file readable by its owner
// only: exports and reports can hold NHS numbers.
func createFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot create %s: %v", path, errors.Unwrap(err))
	}
	return f, nil
}

// stderrIsTerminal reports whether standard error is a terminal.
func stderrIsTerminal() bool {
	fi, err := os.Stderr.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// parseDay reads YYYY-MM-DD (midnight UTC) or an RFC 3339 instant; dateOnly
// tells which it was.
func parseDay(flagName, s string) (t time.Time, dateOnly bool, err error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), false, nil
	}
	return time.Time{}, false, usagef("-%s must be a date (2026-01-01) or an instant (2026-01-01T09:00:00Z)", flagName)
}
