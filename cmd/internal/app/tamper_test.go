package app

// Tampering a stopped gateway's store, end to end: the gateway writes
// records and signed checkpoints, stops, an insider edits audit.db on disk
// (bytes only: this package does not import bbolt; audit/bolt's own tests
// make the structural edits), and then `migctl audit verify` must say what
// differs, and migd must refuse to start where the checkpoint shows it.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"mig/audit"
	auditbolt "mig/audit/bolt"
	"mig/internal/testenv"
)

// checkpointConfig is an audit.checkpoint block for a deployment test: a
// new key (0600) and log in a folder of their own, outside any data
// directory.
func checkpointConfig(t testing.TB) map[string]any {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "checkpoint.key")
	if err := audit.CreateCheckpointKey(key); err != nil {
		t.Fatal(err)
	}
	return map[string]any{"log": filepath.Join(dir, "checkpoints.log"), "key": key, "interval": "100ms"}
}

var (
	binOnce sync.Map // name -> *builtBin
)

type builtBin struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// buildBin builds ./cmd/<name> once per test process.
func buildBin(t *testing.T, name string) string {
	t.Helper()
	v, _ := binOnce.LoadOrStore(name, &builtBin{})
	b := v.(*builtBin)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "mig-"+name)
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", b.path, "./cmd/"+name)
		cmd.Dir = testenv.ModuleRoot(t)
		b.out, b.err = cmd.CombinedOutput()
	})
	if b.err != nil {
		t.Fatalf("go build ./cmd/%s: %v\n%s", name, b.err, b.out)
	}
	return b.path
}

// devMain is the demo gateway on data, not yet started.
func devMain(t *testing.T, data string, log *syncBuffer) *Main {
	m := NewMain()
	m.Dev = true
	m.Config.Addr = "127.0.0.1:0"
	m.Config.DataDir = data
	m.Testdata = filepath.Join(testenv.ModuleRoot(t), "testdata")
	m.DevIdPAddr = "127.0.0.1:0"
	m.Log = zerolog.New(log).With().Timestamp().Logger()
	return m
}

// session runs the demo gateway on data for n audited requests (request
// ids tamper-<tag>-<i>, user tamperuser) and stops it, which writes the
// shutdown checkpoint.
func session(t *testing.T, data, tag string, n int) {
	t.Helper()
	m := devMain(t, data, &syncBuffer{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("gateway did not start: %v", err)
	}
	tok, err := m.IdP.MintToken("tamperuser", "R8000", "RX999", "")
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	for i := 0; i < n; i++ {
		r := doURL(t, client, http.MethodGet, m.URL+"/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|"+tppConsent, tok, nil,
			"X-Request-ID", fmt.Sprintf("tamper-%s-%d", tag, i))
		if r.Status != http.StatusOK && r.Status != http.StatusForbidden {
			t.Fatalf("request %d: HTTP %d %s", i, r.Status, truncate(r.Body))
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// startErr starts the demo gateway on data and returns why it refused (nil
// if it started; it is then stopped).
func startErr(t *testing.T, data string) error {
	t.Helper()
	m := devMain(t, data, &syncBuffer{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := m.Run(ctx)
	if err == nil {
		m.Close()
	}
	return err
}

func migctlVerify(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(buildBin(t, "migctl"), append([]string{"audit", "verify"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String()
}

func copyTo(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTamperedStoppedGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("builds migctl and runs the gateway several times")
	}
	tests := []struct {
		name string
		// tamper edits data/audit.db; older is a copy taken after the
		// first session.
		tamper func(t *testing.T, db, older string)
		verify []string // migctl audit verify exits 1 saying these ("" intact)
		start  string   // migd refuses to start saying this ("" starts)
	}{
		{"intact", nil, nil, ""},
		{"bit flip in a record page", func(t *testing.T, db, _ string) {
			testenv.FlipEvery(t, db, []byte("tamper-b-1"), 7) // a request id in a record body
		}, []string{"hash at seq", "hash does not match the record"}, "first hash at seq"},
		{"bit flip in an index page", func(t *testing.T, db, _ string) {
			testenv.FlipEvery(t, db, []byte("tamperuser\x00\x00\x00\x00\x00\x00\x00"), 0) // ix_user keys
		}, []string{`ix_user: entry "tamperuser" for seq`, "missing", "ix_user: extra entry"}, ""},
		{"bit flip in the meta page", func(t *testing.T, db, _ string) {
			testenv.FlipEvery(t, db, []byte("head\x00\x00\x00\x00\x00\x00"), 4+8+5) // a byte of the head hash
		}, []string{"meta head hash differs"}, "first head at seq"},
		{"patient's events moved out of the patient index", func(t *testing.T, db, _ string) {
			raw, _ := os.ReadFile(db)
			os.WriteFile(db, bytes.ReplaceAll(raw, []byte(tppConsent+"\x00"), []byte(tppConsent2+"\x00")), 0o600)
		}, []string{"ix_patient: entry for seq", "(patient not shown) missing"}, ""},
		{"newest records gone: an older copy put back", func(t *testing.T, db, older string) {
			copyTo(t, older, db)
		}, []string{"checkpoint at seq", "records were removed or an older copy was put back"}, "behind|ends at seq"},
		{"rewrite and rechain", func(t *testing.T, db, older string) {
			// From the first session's copy, a different history as long as
			// the real one: every hash after the fork recomputed.
			real, err := auditbolt.VerifyFile(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			copyTo(t, older, db)
			s, err := auditbolt.Open(db, auditbolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for {
				seq, _, err := s.Head(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if seq >= real.LastSeq {
					break
				}
				if _, err := s.Append(context.Background(), &audit.Event{Time: time.Now(), Type: audit.TypeRest, Subtype: "read", UserID: "someone-else", OrgODS: "RX999"}); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
		}, []string{"checkpoint at seq", "differs from the signed checkpoint"}, "differs from the latest signed checkpoint"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			db := filepath.Join(data, "audit.db")
			older := filepath.Join(t.TempDir(), "older.db")
			session(t, data, "a", 3)
			copyTo(t, db, older)
			session(t, data, "b", 3)
			if tc.tamper != nil {
				tc.tamper(t, db, older)
			}

			code, out := migctlVerify(t, "-data", data)
			if len(tc.verify) == 0 {
				if code != 0 || !strings.Contains(out, "checkpoint: the chain holds the signed hash") {
					t.Fatalf("intact store: exit %d\n%s", code, out)
				}
			} else {
				if code != 1 {
					t.Fatalf("migctl audit verify exit %d, want 1:\n%s", code, out)
				}
				for _, w := range tc.verify {
					if !strings.Contains(out, w) {
						t.Fatalf("migctl audit verify does not say %q:\n%s", w, out)
					}
				}
			}
			if strings.Contains(out, tppConsent) || strings.Contains(out, tppConsent2) {
				t.Fatalf("migctl audit verify printed an NHS number:\n%s", out)
			}

			err := startErr(t, data)
			if tc.start == "" {
				if err != nil {
					t.Fatalf("gateway refused a store the checkpoint cannot fault: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("gateway started on a tampered store")
			}
			ok := false
			for _, w := range strings.Split(tc.start, "|") {
				ok = ok || strings.Contains(err.Error(), w)
			}
			if !ok || !strings.Contains(err.Error(), "refusing to serve") {
				t.Fatalf("start error %q, want one saying %q and refusing to serve", err, tc.start)
			}
			t.Logf("refused: %v", err)
		})
	}
}

// TestCrashAfterCheckpointStarts: migd killed (SIGKILL) after a checkpoint,
// with records appended since, starts again, and the store verifies.
func TestCrashAfterCheckpointStarts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs migd")
	}
	bin := buildBin(t, "migd")
	data := t.TempDir()
	td := filepath.Join(testenv.ModuleRoot(t), "testdata")
	client := &http.Client{Timeout: 10 * time.Second}
	log := filepath.Join(data, DevWitnessDir, "checkpoints.log")
	latest := func() uint64 {
		pub, err := audit.ReadPublicKey(audit.PublicKeyPath(log))
		if err != nil {
			return 0
		}
		r, err := audit.ReadCheckpoints(log, pub)
		if err != nil || r.Latest == nil {
			return 0
		}
		return r.Latest.Seq
	}
	// A checkpoint can land between the last reads and the kill; then the
	// crash left nothing after it, so try again (each restart is itself a
	// start after a crash).
	var lastSeq, cp uint64
	for attempt := 1; ; attempt++ {
		p := startMigd(t, bin, data, td) // fails the test if migd does not start
		tok := p.token(t, "clin-ckpt", "R8000", "RX999")
		read := func(n int) {
			for i := 0; i < n; i++ {
				doURL(t, client, http.MethodGet, p.url+"/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|"+tppConsent, tok, nil)
			}
		}
		before := latest()
		read(3)
		deadline := time.Now().Add(10 * time.Second)
		for latest() <= before {
			if time.Now().After(deadline) {
				t.Fatal("no checkpoint within 10 s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		read(3) // then killed before the next checkpoint (1 s)
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		p.cmd.Wait()
		cp = latest()
		rep, err := auditbolt.VerifyFile(context.Background(), filepath.Join(data, "audit.db"))
		if err != nil || !rep.OK() {
			t.Fatalf("%v %v", err, rep.Problems)
		}
		lastSeq = rep.LastSeq
		if lastSeq > cp {
			break
		}
		if attempt == 5 {
			t.Fatalf("in 5 attempts the kill never came before the next checkpoint (chain at %d, checkpoint at %d)", lastSeq, cp)
		}
	}
	t.Logf("killed with the chain at seq %d, latest checkpoint at seq %d", lastSeq, cp)

	p2 := startMigd(t, bin, data, td) // fails the test if migd does not start
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p2.cmd.Wait(); err != nil {
		t.Fatalf("migd after SIGTERM: %v; stderr: %.2000s", err, p2.stderr.String())
	}
	if code, out := migctlVerify(t, "-data", data); code != 0 {
		t.Fatalf("migctl audit verify after restart: exit %d\n%s", code, out)
	}
	if latest() < lastSeq {
		t.Fatalf("no shutdown checkpoint covering seq %d", lastSeq)
	}
}

// TestDeploymentCheckpointRules: a -config gateway refuses to start
// without a checkpoint log and key, with a key others may read, or with
// the key or log inside the data directory.
func TestDeploymentCheckpointRules(t *testing.T) {
	data := t.TempDir()
	good := checkpointConfig(t)
	readable := checkpointConfig(t)
	os.Chmod(readable["key"].(string), 0o644)
	inData := filepath.Join(data, "checkpoint.key")
	if err := audit.CreateCheckpointKey(inData); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cc   CheckpointConfig
		want string
	}{
		{"no checkpoint block", CheckpointConfig{}, "audit.checkpoint.log and audit.checkpoint.key are required"},
		{"key others may read", CheckpointConfig{Log: good["log"].(string), Key: readable["key"].(string)}, "may be read by group or others"},
		{"key in the data directory", CheckpointConfig{Log: good["log"].(string), Key: inData}, "inside the data directory"},
		{"log in the data directory", CheckpointConfig{Log: filepath.Join(data, "checkpoints.log"), Key: good["key"].(string)}, "inside the data directory"},
		{"log on a missing volume", CheckpointConfig{Log: "/nonexistent-volume/checkpoints.log", Key: good["key"].(string)}, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMain()
			m.Config.Addr = "127.0.0.1:0"
			m.Config.DataDir = data
			m.Config.Auth.Issuer = "https://idp.invalid"
			m.Config.Audit.Checkpoint = tc.cc
			m.Log = zerolog.Nop()
			err := m.Run(context.Background())
			if err == nil {
				m.Close()
				t.Fatal("gateway started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want %q", err, tc.want)
			}
		})
	}
}

// TestDevCheckpointKeyOwnerOnly: -dev makes its key owner-only under
// <data>/witness, never in the data directory itself, and records where
// the log and public key are in the store.
func TestDevCheckpointKeyOwnerOnly(t *testing.T) {
	data := t.TempDir()
	session(t, data, "k", 1)
	key := filepath.Join(data, DevWitnessDir, "checkpoint.key")
	fi, err := os.Stat(key)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("dev key mode %04o", fi.Mode().Perm())
	}
	place, err := auditbolt.ReadCheckpointPlace(filepath.Join(data, "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(place.Log) != "checkpoints.log" || place.PublicKey != audit.PublicKeyPath(place.Log) {
		t.Fatalf("recorded place %+v", place)
	}
	pub, err := audit.ReadPublicKey(place.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	k, err := audit.LoadCheckpointKey(key, audit.KeyRules{})
	if err != nil || !pub.Equal(k.Public().(ed25519.PublicKey)) {
		t.Fatalf("public key does not match the dev key: %v", err)
	}
}
