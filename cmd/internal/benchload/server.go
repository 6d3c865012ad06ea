package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"mig/consent/devidp"
)

// pipeline is one way of answering the same requests.
type pipeline struct {
	name   string   // as the tables name it
	env    []string // the benchmark build's selection (cmd/internal/app/bench_prerendered.go)
	prefix string   // path prefix of its route ("" for the real routes)
}

var pipelines = []pipeline{
	{name: "pre-rendered", env: []string{"MIG_BENCH_TOOLCHAIN=ours", "MIG_BENCH_CACHE=on"}, prefix: "/bench/prerendered"},
	{name: "ours, cached", env: []string{"MIG_BENCH_TOOLCHAIN=ours", "MIG_BENCH_CACHE=on"}},
	{name: "ours, uncached", env: []string{"MIG_BENCH_TOOLCHAIN=ours", "MIG_BENCH_CACHE=off"}},
	{name: "usual toolchain", env: []string{"MIG_BENCH_TOOLCHAIN=usual", "MIG_BENCH_CACHE=off"}},
}

// request is one of the measured requests, for benchNHS.
type request struct {
	name, path string // path after /fhir/Patient/{id}
}

// benchNHS is the 26-year GP2GP record (testdata/A99901/9990001030.xml).
const benchNHS = "9990001030"

var requests = []request{
	{"whole record ($everything?_count=500)", "/$everything?_count=500"},
	{"default page ($everything)", "/$everything"},
	{"Summary ($mig-view?view=summary)", "/$mig-view?view=summary"},
}

// gateway is one migd subprocess.
type gateway struct {
	p     pipeline
	cmd   *exec.Cmd
	url   string
	token string
	pid   string // the patient's FHIR id on this gateway (each has its own key)
	done  chan error
	log   string
	data  string         // its data directory, removed when it stops
	body  map[string]int // each request's answer, bytes (by path)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startGateway runs migd -dev with a fresh data directory under work, waits
// for it to serve, gets a token for an A&E clinician (R8000, RX999, inside
// the demo agreement), records the patient's consent to view and finds the
// patient's id.
func startGateway(ctx context.Context, o options, p pipeline, slot int) (*gateway, error) {
	dir := filepath.Join(o.work, fmt.Sprintf("gw%d", slot))
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	idp, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "migd.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.migd, "-dev", "-addr", addr, "-dev-idp-addr", idp, "-data", filepath.Join(dir, "data"), "-testdata", o.testdata)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	g := &gateway{p: p, cmd: cmd, url: "http://" + addr, done: make(chan error, 1), log: logf.Name(),
		data: filepath.Join(dir, "data"), body: map[string]int{}}
	go func() { g.done <- cmd.Wait(); logf.Close() }()
	if err := g.ready(ctx); err != nil {
		g.stop()
		return nil, err
	}
	return g, nil
}

func (g *gateway) ready(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-g.done:
			return fmt.Errorf("%s: migd exited (%v); see %s", g.p.name, err, g.log)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		resp, err := http.Get(g.url + "/fhir/.well-known/smart-configuration")
		if err == nil {
			var doc struct {
				Issuer string `json:"issuer"`
			}
			derr := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && derr == nil && doc.Issuer != "" {
				return g.setUp(ctx, doc.Issuer)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: migd did not serve within a minute; see %s", g.p.name, g.log)
		}
	}
}

func (g *gateway) setUp(ctx context.Context, issuer string) error {
	tok, err := devidp.RequestDevToken(ctx, issuer, devidp.DevTokenParams{User: "bench1", Role: "R8000", Org: "RX999", Name: "Bench Clinician"})
	if err != nil {
		return fmt.Errorf("%s: token: %v", g.p.name, err)
	}
	g.token = tok
	consentBody := `{"resourceType":"Consent","status":"active",
  "scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
  "category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],
  "patient":{"identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"` + benchNHS + `"}},
  "provision":{"type":"permit","purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"TREAT"}]}}`
	status, _, err := g.do(ctx, http.MethodPost, "/fhir/Consent", "application/fhir+json", strings.NewReader(consentBody))
	if err != nil || status != http.StatusCreated {
		return fmt.Errorf("%s: consent to view: status %d, %v", g.p.name, status, err)
	}
	form := url.Values{"identifier": {"https://fhir.nhs.uk/Id/nhs-number|" + benchNHS}}.Encode()
	status, body, err := g.do(ctx, http.MethodPost, "/fhir/Patient/_search", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("%s: patient search: status %d, %v", g.p.name, status, err)
	}
	var b struct {
		Entry []struct {
			Resource struct {
				ID string `json:"id"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil || len(b.Entry) == 0 || b.Entry[0].Resource.ID == "" {
		return fmt.Errorf("%s: patient search found no patient", g.p.name)
	}
	g.pid = b.Entry[0].Resource.ID
	// Every request must answer 200 before it is measured.
	for _, r := range requests {
		status, body, err := g.do(ctx, http.MethodGet, g.target(r), "", nil)
		if err != nil || status != http.StatusOK {
			return fmt.Errorf("%s: %s: status %d, %v; see %s", g.p.name, r.name, status, err, g.log)
		}
		g.body[r.path] = len(body)
	}
	return nil
}

// target is the path and query of r on this gateway.
func (g *gateway) target(r request) string {
	return g.p.prefix + "/fhir/Patient/" + g.pid + r.path
}

func (g *gateway) do(ctx context.Context, method, path, ctype string, body io.Reader) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, g.url+path, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+g.token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// stop ends the subprocess (SIGTERM, then SIGKILL after 10 s) and
// removes its data directory (a run's audit log is hundreds of MB); its
// log stays.
func (g *gateway) stop() {
	if g.cmd.Process == nil {
		return
	}
	g.cmd.Process.Signal(os.Interrupt)
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		g.cmd.Process.Kill()
		<-g.done
	}
	os.RemoveAll(g.data)
}

// procStatus reads one kB field (VmHWM, VmRSS) of /proc/PID/status.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	return statusField(string(b), field)
}

func statusField(status, field string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != field {
			continue
		}
		v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q", field, v)
		}
		return n * 1024, nil
	}
	return 0, fmt.Errorf("no %s in /proc status", field)
}

// resetPeak starts a new peak resident set (Linux: "5" to clear_refs
// resets VmHWM to the current RSS).
func resetPeak(pid int) error {
	return os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0)
}
