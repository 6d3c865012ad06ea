package gpsim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mig/adapters/source/gpsim"
)

func setup(t *testing.T, c gpsim.Config) (*gpsim.Server, *httptest.Server) {
	t.Helper()
	if c.Dir == "" {
		c.Dir = t.TempDir()
		os.WriteFile(filepath.Join(c.Dir, "9990001006.xml"), []byte("<a/>"), 0o600)
		os.WriteFile(filepath.Join(c.Dir, "9990001014.xml"), []byte("<b/>"), 0o600)
		os.WriteFile(filepath.Join(c.Dir, "1234567890.xml"), []byte("<bad/>"), 0o600)
		os.WriteFile(filepath.Join(c.Dir, "patients.json"), []byte(`[{"nhsNumber":"9990001006","sex":"female"}]`), 0o600)
	}
	s, err := gpsim.New(c)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func do(t *testing.T, method, url, body string, hdr map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRoutes(t *testing.T) {
	notes := filepath.Join(t.TempDir(), "n.jsonl")
	_, srv := setup(t, gpsim.Config{Notifications: notes})
	tests := []struct {
		method, path, body string
		hdr                map[string]string
		status             int
		want               string
	}{
		{"GET", "/records/9990001006", "", nil, 200, "<a/>"},
		{"GET", "/records/9990001022", "", nil, 404, ""},
		{"GET", "/records/1234567890", "", nil, 400, ""},
		{"GET", "/records/..%2Fpatients.json", "", nil, 400, ""},
		{"GET", "/patients", "", nil, 200, `["9990001006","9990001014"]` + "\n"},
		{"GET", "/patients/9990001006", "", nil, 200, `{"nhsNumber":"9990001006","sex":"female"}`},
		{"GET", "/patients/9990001014", "", nil, 404, ""},
		{"POST", "/access-notifications", `{"resourceType":"AuditEvent"}`, nil, 400, ""},
		{"POST", "/access-notifications", `not json`, map[string]string{"Idempotency-Key": "k"}, 400, ""},
		{"POST", "/access-notifications", `{"resourceType":"AuditEvent"}`, map[string]string{"Idempotency-Key": "k"}, 201, ""},
		{"POST", "/access-notifications", `{"resourceType":"AuditEvent"}`, map[string]string{"Idempotency-Key": "k"}, 200, ""},
		{"POST", "/control", `{"errorRate":2}`, nil, 400, ""},
		{"POST", "/control", `{"bogus":1}`, nil, 400, ""},
	}
	for _, tc := range tests {
		st, body := do(t, tc.method, srv.URL+tc.path, tc.body, tc.hdr)
		if st != tc.status || (tc.want != "" && body != tc.want) {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, st, body, tc.status, tc.want)
		}
	}
	b, _ := os.ReadFile(notes)
	if strings.Count(string(b), "\n") != 1 || !strings.Contains(string(b), `"id":"k"`) {
		t.Errorf("notifications file %q", b)
	}
}

func TestControl(t *testing.T) {
	s, srv := setup(t, gpsim.Config{Down: true})
	if st, _ := do(t, "GET", srv.URL+"/records/9990001006", "", nil); st != 0 {
		t.Fatalf("outage answered %d", st)
	}
	st, body := do(t, "POST", srv.URL+"/control", `{"latencyMs":50,"errorRate":0.5}`, nil)
	var f gpsim.Faults
	if st != 200 || json.Unmarshal([]byte(body), &f) != nil || f.LatencyMs != 50 || f.ErrorRate != 0.5 || !f.Down {
		t.Fatalf("control: %d %s", st, body)
	}
	// Fields left out keep their values.
	st, body = do(t, "POST", srv.URL+"/control", `{"down":false,"errorRate":0}`, nil)
	if st != 200 || json.Unmarshal([]byte(body), &f) != nil || f.LatencyMs != 50 || f.ErrorRate != 0 || f.Down {
		t.Fatalf("control: %d %s", st, body)
	}
	start := time.Now()
	if st, _ := do(t, "GET", srv.URL+"/records/9990001006", "", nil); st != 200 {
		t.Fatalf("after recovery: %d", st)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Error("latency not applied")
	}
	s.SetFaults(gpsim.Faults{ErrorRate: 1})
	if st, _ := do(t, "GET", srv.URL+"/patients", "", nil); st != 500 {
		t.Fatalf("error rate 1 answered %d", st)
	}
	// /control itself is never faulted.
	if st, _ := do(t, "GET", srv.URL+"/control", "", nil); st != 200 {
		t.Fatalf("control faulted: %d", st)
	}
}

func TestNewChecks(t *testing.T) {
	if _, err := gpsim.New(gpsim.Config{Dir: filepath.Join(t.TempDir(), "none")}); err == nil {
		t.Error("missing dir accepted")
	}
	if _, err := gpsim.New(gpsim.Config{Dir: t.TempDir(), ErrorRate: 1.5}); err == nil {
		t.Error("error rate 1.5 accepted")
	}
}
