package app

import (
	"bytes"
	"io/fs"
	"mig/internal/testenv"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// copyTree copies the synthetic practices to a temporary folder the test
// may edit.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// editFile replaces old by new in a file, once, failing when old is absent.
func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not hold %q: the test data changed", filepath.Base(path), old)
	}
	b = bytes.Replace(b, []byte(old), []byte(new), 1)
	// Write beside and rename, as a GP system's export would.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestLiveSources: records are read live, so an edited extract changes
// the next answer (directory and HTTP sources), a consent-to-share change
// at the practice applies at once, and a GP system outage gives a clear
// 503 naming the practice while the other practices keep working.
func TestLiveSources(t *testing.T) {
	td := copyTree(t, filepath.Join(testenv.ModuleRoot(t), "testdata"))
	g := startGateway(t, func(m *Main) { m.Testdata = td })
	tok := g.token("clin-live", "R8000", "RX999")
	for _, nhs := range []string{tppConsent, emisConsent, gp2gpConsent} {
		g.call(t, want{status: 201}, func() *response { return g.recordConsent(tok, nhs, consentGiven) })
	}
	bp := func(nhs string) string {
		r := g.call(t, want{status: 200}, func() *response { return g.view(tok, nhs, "examination") })
		return string(r.Body)
	}

	t.Run("edited extract changes the next answer", func(t *testing.T) {
		for _, c := range []struct {
			nhs, file, old, new string
		}{
			{tppConsent, "A99903/9990003009.xml", "<Value>142</Value>", "<Value>151</Value>"},
			{emisConsent, "A99902/9990002002.xml", "<NumericValue><Value>142</Value>", "<NumericValue><Value>151</Value>"},
		} {
			if body := bp(c.nhs); !strings.Contains(body, `"value":142`) || strings.Contains(body, `"value":151`) {
				t.Fatalf("%s: systolic 142 not in the answer before the edit", c.file)
			}
			editFile(t, filepath.Join(td, c.file), c.old, c.new)
			if body := bp(c.nhs); !strings.Contains(body, `"value":151`) || strings.Contains(body, `"value":142`) {
				t.Errorf("%s: the answer after the edit does not show the new systolic value 151", c.file)
			}
		}
	})

	t.Run("consent to share withdrawn at the practice", func(t *testing.T) {
		// TPP codes consent 9Nd7. and dissent 9Nd1. (CTV3).
		b, err := os.ReadFile(filepath.Join(td, "A99903", tppConsent+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		n := bytes.Count(b, []byte("9Nd7."))
		if n == 0 {
			t.Fatal("9990003009.xml holds no 9Nd7. consent code: the test data changed")
		}
		editFile(t, filepath.Join(td, "A99903", tppConsent+".xml"), "9Nd7.", "9Nd1.")
		g.call(t, want{403, "NO_PATIENT_CONSENT"}, func() *response { return g.searchPatient(tok, tppConsent) })
	})

	t.Run("GP system down", func(t *testing.T) {
		control := func(down bool) {
			body := []byte(`{"down":false}`)
			if down {
				body = []byte(`{"down":true}`)
			}
			r := doURL(t, g.http, http.MethodPost, g.m.GPSimURL+"/control", "", body)
			if r.Status != 200 && r.Status != 204 {
				t.Fatalf("gpsim control: HTTP %d %s", r.Status, r.Body)
			}
		}
		control(true)
		defer control(false)
		r := g.call(t, want{503, "GP_SYSTEM_UNAVAILABLE"}, func() *response { return g.searchPatient(tok, emisConsent) })
		if _, diag := r.outcome(t); !strings.Contains(diag, "A99902") {
			t.Errorf("503 diagnostics %q do not name practice A99902", diag)
		}
		if strings.Contains(string(r.Body), emisConsent) || strings.Contains(string(r.Body), "Emis") {
			t.Errorf("503 answer holds patient details: %s", r.Body)
		}
		// The other practices are unaffected.
		g.call(t, want{status: 200}, func() *response { return g.searchPatient(tok, gp2gpConsent) })
		g.call(t, want{status: 201}, func() *response { return g.recordConsent(tok, tppConsent2, consentGiven) })
		g.call(t, want{status: 200}, func() *response { return g.view(tok, tppConsent2, "summary") })

		control(false)
		deadline := time.Now().Add(15 * time.Second)
		for {
			r := g.searchPatient(tok, emisConsent)
			if r.Status == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("A99902 not back 15 s after gpsim recovered: HTTP %d %s", r.Status, truncate(r.Body))
			}
			time.Sleep(250 * time.Millisecond)
		}
	})
}
