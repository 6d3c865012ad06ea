package rest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"mig/adapters/record"
	"mig/consent"

	"github.com/rs/zerolog"
)

// panicky is a token verifier with a bug: it panics on one token.
type panicky struct{}

func (panicky) Verify(_ context.Context, raw string) (*consent.Principal, error) {
	if raw == "boom" {
		var m map[string]int
		m["x"]++ // a nil-map write: a real bug's shape
	}
	return &consent.Principal{UserID: "u1", RoleCode: "R8000", OrgODS: "RX999"}, nil
}

// TestPanicIsAuditedAndAnswered: a handler that panics gives the client a
// 500 OperationOutcome, the request is audited, and the server goes on
// serving (it once dropped the connection and wrote no AuditEvent).
func TestPanicIsAuditedAndAnswered(t *testing.T) {
	log := &auditLog{}
	s := &Server{Verifier: panicky{}, Chain: consent.Chain{log}, Log: zerolog.Nop(),
		Base: "http://gw.test/fhir", Now: time.Now, ViewContext: record.DefaultViewContext}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	get := func(path, tok string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("the connection was dropped: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get("/fhir/Contract", "boom")
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, `"OperationOutcome"`) || resp.Header.Get("X-Request-ID") == "" {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
	if log.count() != 1 || !strings.HasSuffix(log.ops[0], " internal") {
		t.Errorf("audited %v, want one event with rule internal", log.ops)
	}
	// Still serving.
	if resp, _ := get("/fhir/metadata", ""); resp.StatusCode != http.StatusOK {
		t.Error("the server stopped serving after a panic")
	}
}
