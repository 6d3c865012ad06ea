package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"mig/cmd/internal/app"
	"mig/consent/devidp"
	"mig/internal/testenv"
	"mig/viewer"
)

// TestBrowser runs the Shared Record Viewer's end-to-end browser tests
// (viewer/e2e, Playwright driving Debian's Chromium, axe-core on every
// page) against a real gateway and development identity provider on
// loopback, started as cmd/internal/app's end-to-end suites start them,
// and two viewers (one with a short idle timeout).
//
// It runs when MIG_BROWSER_TESTS=1 (make test and .ci/run set it) and then
// fails, never skips, when the browser or the npm packages are missing.
func TestBrowser(t *testing.T) {
	if os.Getenv("MIG_BROWSER_TESTS") != "1" {
		t.Skip("browser tests run with MIG_BROWSER_TESTS=1 (make test, .ci/run)")
	}
	root := testenv.ModuleRoot(t)
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("browser tests cannot run: no Chromium at %s (apt-get install chromium)", chromium)
	}
	for _, pkg := range []string{"playwright-core", "axe-core", "nhsuk-frontend"} {
		if _, err := os.Stat(filepath.Join(root, "viewer", "node_modules", pkg)); err != nil {
			t.Fatalf("browser tests cannot run: viewer/node_modules/%s is missing (npm install in viewer/)", pkg)
		}
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("browser tests cannot run: node is not installed")
	}

	// The gateway, as the end-to-end suites start it.
	m := app.NewMain()
	m.Dev = true
	m.Config.Addr = "127.0.0.1:0"
	m.Config.DataDir = t.TempDir()
	m.Testdata = filepath.Join(root, "testdata")
	m.DevIdPAddr = "127.0.0.1:0"
	m.Log = zerolog.Nop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("gateway did not start: %v", err)
	}
	t.Cleanup(func() { m.Close() })

	// An organisation whose agreement covers only some views, through the
	// admin API as an administrator would add it.
	admin, err := m.IdP.MintToken("admin", "R8000", app.DevOperatorOrg, "Admin")
	if err != nil {
		t.Fatal(err)
	}
	agreement := `{"id":"E2E-PARTIAL","title":"Problems and medication only","providers":["A99901","A99902","A99903"],
		"recipients":["QX999"],"views":["problems","medication"],"validFrom":"2020-01-01T00:00:00Z","status":"active"}`
	req, _ := http.NewRequest(http.MethodPost, m.URL+"/admin/agreements", strings.NewReader(agreement))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("adding the partial agreement: HTTP %d", resp.StatusCode)
	}

	key, err := devidp.ReadClientKey(filepath.Join(m.Config.DataDir, app.DevEHRKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	start := func(idle time.Duration) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		pub := "http://" + ln.Addr().String()
		v, err := viewer.New(ctx, viewer.Config{PublicURL: pub, FHIRBase: m.URL + "/fhir", Issuer: m.Issuer,
			ClientID: devidp.DefaultClientID, SessionKey: []byte("e2e-session-key-32-bytes-long..."),
			IdleTimeout: idle, AssetsDir: viewer.AssetsPath(filepath.Join(root, "viewer")), Log: zerolog.Nop(),
			EHRSim: &viewer.EHRSim{ClientID: devidp.EHRSimClientID, Key: key, Patients: DevPatients}})
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: v.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		return pub
	}
	main := start(15 * time.Minute)
	idle := start(4 * time.Second)

	artefacts := os.Getenv("MIG_ARTEFACTS")
	if artefacts == "" {
		artefacts = filepath.Join(root, "viewer", "test-results")
	}
	if err := os.MkdirAll(artefacts, 0o755); err != nil {
		t.Fatal(err)
	}
	// This run's screenshots only.
	old, _ := filepath.Glob(filepath.Join(artefacts, "*.png"))
	for _, f := range append(old, filepath.Join(artefacts, "axe-report.json")) {
		os.Remove(f)
	}
	cmd := exec.Command(node, "--test", "--test-concurrency=1", filepath.Join(root, "viewer", "e2e", "viewer.e2e.mjs"))
	cmd.Dir = filepath.Join(root, "viewer")
	cmd.Env = append(os.Environ(), "SRV_URL="+main, "SRV_IDLE_URL="+idle, "SRV_IDLE_SECONDS=4",
		"GATEWAY_FHIR="+m.URL+"/fhir", "CHROMIUM="+chromium, "ARTEFACTS="+artefacts)
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	started := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("browser tests failed (%v) after %v; screenshots in %s", err, time.Since(started).Round(time.Second), artefacts)
	}
	t.Logf("browser tests passed in %v; screenshots in %s", time.Since(started).Round(time.Second), artefacts)
}
