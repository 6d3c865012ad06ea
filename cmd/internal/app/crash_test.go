package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mig/internal/testenv"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mig/audit"
	"mig/consent/devidp"
)

// migdProcess is a migd -dev subprocess.
type migdProcess struct {
	cmd    *exec.Cmd
	url    string
	issuer string
	stderr *syncBuffer
}

// startMigd runs migd -dev on loopback with data as its data directory and
// waits for its banner.
func startMigd(t *testing.T, bin, data, testdata string) *migdProcess {
	t.Helper()
	cmd := exec.Command(bin, "-dev", "-addr", "127.0.0.1:0", "-dev-idp-addr", "127.0.0.1:0",
		"-data", data, "-testdata", testdata)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &migdProcess{cmd: cmd, stderr: &syncBuffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		done := false
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) >= 3 && f[0] == "FHIR" && f[1] == "base":
				p.url = strings.TrimSuffix(f[2], "/fhir")
			case len(f) >= 3 && f[0] == "Identity" && f[1] == "provider":
				p.issuer = f[2]
			}
			if !done && p.url != "" && p.issuer != "" {
				done = true
				close(found)
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case <-found:
	case <-time.After(60 * time.Second):
		t.Fatalf("migd printed no banner within 60 s; stderr: %s", p.stderr.String())
	}
	return p
}

func (p *migdProcess) token(t *testing.T, user, role, org string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := devidp.RequestDevToken(ctx, p.issuer, devidp.DevTokenParams{User: user, Role: role, Org: org})
	if err != nil {
		t.Fatalf("dev token: %v", err)
	}
	return tok
}

// TestCrashRecovery builds migd, drives concurrent reads, SIGKILLs it
// mid-way and restarts it on the same data directory: every request that
// received data has its AuditEvent, the hash chain verifies, and access
// notifications still owed to the GP system are delivered after restart.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs migd")
	}
	root := testenv.ModuleRoot(t)
	tmp := t.TempDir()
	bin := buildBin(t, "migd")
	data := filepath.Join(tmp, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	// A99903's access log cannot be written (a directory squats its
	// name), so its notifications stay pending in the outbox until after
	// the restart.
	accessLog := filepath.Join(data, "access-A99903.ndjson")
	if err := os.Mkdir(accessLog, 0o700); err != nil {
		t.Fatal(err)
	}
	testdata := filepath.Join(root, "testdata")

	p := startMigd(t, bin, data, testdata)
	client := &http.Client{Timeout: 10 * time.Second}
	tok := p.token(t, "clin-crash", "R8000", "RX999")
	for _, nhs := range []string{tppConsent, tppConsent2} {
		r := doURL(t, client, http.MethodPost, p.url+"/fhir/Consent", tok, consentBody(nhs, consentGiven))
		if r.Status != 201 {
			t.Fatalf("consent: HTTP %d %s", r.Status, truncate(r.Body))
		}
	}

	var (
		mu      sync.Mutex
		gotData []string // X-Request-ID of every answer that carried data
		wg      sync.WaitGroup
	)
	stop := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				nhs := []string{tppConsent, tppConsent2}[i%2]
				id := fmt.Sprintf("crash-%d-%d", w, i)
				form := url.Values{"identifier": {"https://fhir.nhs.uk/Id/nhs-number|" + nhs}}
				req, _ := http.NewRequest(http.MethodPost, p.url+"/fhir/Patient/_search", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("X-Request-ID", id)
				resp, err := client.Do(req)
				if err != nil {
					return // the server died
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode == 200 && bytes.Contains(body, []byte(nhs)) {
					mu.Lock()
					gotData = append(gotData, resp.Header.Get("X-Request-ID"))
					mu.Unlock()
				}
			}
		}(w)
	}
	time.Sleep(700 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	close(stop)
	wg.Wait()
	if len(gotData) < 4 {
		t.Fatalf("only %d reads returned data before the kill; stderr: %.2000s", len(gotData), p.stderr.String())
	}
	t.Logf("%d reads returned data before SIGKILL", len(gotData))

	// Restart on the same data directory, with the access log writable.
	if err := os.Remove(accessLog); err != nil {
		t.Fatal(err)
	}
	p2 := startMigd(t, bin, data, testdata)
	auditor := p2.token(t, "auditor-crash", "R0001", DevOperatorOrg)
	events := map[string]*audit.Decoded{} // request id -> event
	next := p2.url + "/fhir/AuditEvent?_count=500"
	for next != "" {
		r := doURL(t, client, http.MethodGet, next, auditor, nil)
		if r.Status != 200 {
			t.Fatalf("audit search: HTTP %d %s", r.Status, truncate(r.Body))
		}
		var b struct {
			Link []struct {
				Relation string `json:"relation"`
				URL      string `json:"url"`
			} `json:"link"`
			Entry []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Entry {
			d, err := audit.Decode(e.Resource)
			if err != nil {
				t.Fatal(err)
			}
			events[d.RequestID] = d
		}
		next = ""
		for _, l := range b.Link {
			if l.Relation == "next" {
				next = l.URL
			}
		}
	}
	var owed []string // AuditEvent ids whose notification A99903 is owed
	for _, id := range gotData {
		d := events[id]
		if d == nil {
			t.Errorf("request %s received data but has no AuditEvent", id)
			continue
		}
		if d.Outcome != audit.OutcomeSuccess {
			t.Errorf("request %s received data but its AuditEvent has outcome %q", id, d.Outcome)
		}
		owed = append(owed, d.ID)
	}

	// The outbox survives the crash: every owed notification arrives.
	deadline := time.Now().Add(20 * time.Second)
	var missing []string
	for {
		b, _ := os.ReadFile(accessLog)
		missing = missing[:0]
		for _, id := range owed {
			if !bytes.Contains(b, []byte(`"id":"`+id+`"`)) {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d access notifications not delivered to A99903 after restart (first %s)", len(missing), len(owed), missing[0])
	}

	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p2.cmd.Wait(); err != nil {
		t.Errorf("migd after SIGTERM: %v; stderr: %.2000s", err, p2.stderr.String())
	}
	rep := verifyAuditFile(t, filepath.Join(data, "audit.db"))
	if rep.Records < uint64(len(gotData)) {
		t.Errorf("verified %d records, fewer than the %d data-carrying reads", rep.Records, len(gotData))
	}
}
