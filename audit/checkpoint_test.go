package audit_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mig"
	"mig/audit"
)

// fakeChain is a ChainHead whose record i has hash sha256(i).
type fakeChain struct {
	mu     sync.Mutex
	seq    uint64
	anchor uint64
	forged map[uint64]bool // records whose hash was changed
}

func hashOf(seq uint64, forged bool) [32]byte {
	b := []byte{byte(seq), byte(seq >> 8)}
	if forged {
		b = append(b, 'x')
	}
	return sha256.Sum256(b)
}

func (f *fakeChain) Head(context.Context) (uint64, [32]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seq, hashOf(f.seq, f.forged[f.seq]), nil
}

func (f *fakeChain) HashAt(_ context.Context, seq uint64) ([32]byte, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if seq > f.seq || seq < f.anchor {
		return [32]byte{}, false, nil
	}
	return hashOf(seq, f.forged[seq]), true, nil
}

func (f *fakeChain) set(seq uint64) {
	f.mu.Lock()
	f.seq = seq
	f.mu.Unlock()
}

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCheckpointSignature(t *testing.T) {
	k := newKey(t)
	pub := k.Public().(ed25519.PublicKey)
	cp := audit.SignCheckpoint(k, 42, hashOf(42, false), time.Now())
	if err := cp.Verify(pub); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(c *audit.Checkpoint){
		"seq":  func(c *audit.Checkpoint) { c.Seq++ },
		"head": func(c *audit.Checkpoint) { h := hashOf(41, false); c.Head = string(mustHex(h)) },
		"time": func(c *audit.Checkpoint) { c.Time = c.Time.Add(time.Second) },
	} {
		c := *cp
		edit(&c)
		if err := c.Verify(pub); err == nil {
			t.Errorf("checkpoint with edited %s verifies", name)
		}
	}
	if err := cp.Verify(newKey(t).Public().(ed25519.PublicKey)); err == nil {
		t.Error("checkpoint verifies with another key")
	}
}

func mustHex(h [32]byte) []byte {
	const digits = "0123456789abcdef"
	out := make([]byte, 64)
	for i, b := range h {
		out[2*i], out[2*i+1] = digits[b>>4], digits[b&15]
	}
	return out
}

func TestCheckChain(t *testing.T) {
	ctx := context.Background()
	k := newKey(t)
	cp := audit.SignCheckpoint(k, 10, hashOf(10, false), time.Now())
	for _, tc := range []struct {
		name  string
		chain *fakeChain
		want  error
	}{
		{"equal", &fakeChain{seq: 10}, nil},
		{"extends (crash after a checkpoint)", &fakeChain{seq: 15}, nil},
		{"shorter (truncated or rolled back)", &fakeChain{seq: 9}, audit.ErrBehindCheckpoint},
		{"diverges (rewritten and rechained)", &fakeChain{seq: 15, forged: map[uint64]bool{10: true}}, audit.ErrDiverged},
		{"archived past the checkpoint", &fakeChain{seq: 15, anchor: 12}, audit.ErrCheckpointUnchecked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := audit.CheckChain(ctx, tc.chain, cp)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err != nil && (mig.ErrorCode(err) != mig.EUNAVAILABLE || mig.ErrorIssue(err) != mig.IssueAuditUnavailable) {
				t.Fatalf("error %v is not coded AUDIT_UNAVAILABLE", err)
			}
		})
	}
}

func writeKey(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := audit.CreateCheckpointKey(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestLoadCheckpointKeyRefusals(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	keys := filepath.Join(root, "etc")
	witness := filepath.Join(root, "witness")
	for _, d := range []string{data, keys, witness, filepath.Join(data, "sub")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	rules := audit.KeyRules{NotUnder: []string{data}, NotIn: []string{keys}}
	for _, tc := range []struct {
		name, path string
		mode       os.FileMode
		want       string // "" = loads
	}{
		{"owner-only outside", filepath.Join(witness, "ok.key"), 0o600, ""},
		{"group-readable", filepath.Join(witness, "g.key"), 0o640, "may be read by group or others"},
		{"other-readable", filepath.Join(witness, "o.key"), 0o604, "may be read by group or others"},
		{"inside the data directory", filepath.Join(data, "c.key"), 0o600, "inside the data directory"},
		{"below the data directory", filepath.Join(data, "sub", "c.key"), 0o600, "inside the data directory"},
		{"beside gateway.key", filepath.Join(keys, "c.key"), 0o600, "same folder as gateway.key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writeKey(t, tc.path, tc.mode)
			k, err := audit.LoadCheckpointKey(tc.path, rules)
			if tc.want == "" {
				if err != nil || len(k) != ed25519.PrivateKeySize {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if mig.ErrorCode(err) != mig.EINVALID {
				t.Fatalf("error code %q", mig.ErrorCode(err))
			}
		})
	}
	t.Run("not a key", func(t *testing.T) {
		p := filepath.Join(witness, "junk.key")
		os.WriteFile(p, []byte("not a key"), 0o600)
		if _, err := audit.LoadCheckpointKey(p, rules); err == nil || !strings.Contains(err.Error(), "PEM PRIVATE KEY") {
			t.Fatalf("error %v", err)
		}
	})
}

func TestReadCheckpointsFindsForgedLines(t *testing.T) {
	k := newKey(t)
	pub := k.Public().(ed25519.PublicKey)
	dir := t.TempDir()
	good := func(seq uint64) *audit.Checkpoint {
		return audit.SignCheckpoint(k, seq, hashOf(seq, false), time.Now())
	}
	line := func(c *audit.Checkpoint) string { b, _ := json.Marshal(c); return string(b) + "\n" }
	forged := good(30)
	forged.Seq = 31 // signature no longer covers it
	other := audit.SignCheckpoint(k, 20, hashOf(20, true), time.Now())
	for _, tc := range []struct {
		name, body string
		latest     uint64
		problem    string
	}{
		{"clean", line(good(10)) + line(good(20)), 20, ""},
		{"torn last line is not a problem", line(good(10)) + line(good(20))[:40], 10, ""},
		{"forged line", line(good(10)) + line(forged), 10, "signature does not verify"},
		{"another key's line", line(good(10)) + line(audit.SignCheckpoint(newKey(t), 40, hashOf(40, false), time.Now())), 10, "signature does not verify"},
		{"seq goes back", line(good(20)) + line(good(10)), 20, "goes back"},
		{"two hashes for one seq", line(good(20)) + line(other), 20, "different hashes"},
		{"garbage line", line(good(10)) + "hello\n" + line(good(20)), 20, "not a checkpoint"},
		{"torn line, then appends after a restart", line(good(10)) + line(good(15))[:30] + "\n" + line(good(20)), 20, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			os.WriteFile(p, []byte(tc.body), 0o600)
			r, err := audit.ReadCheckpoints(p, pub)
			if err != nil {
				t.Fatal(err)
			}
			if r.Latest == nil || r.Latest.Seq != tc.latest {
				t.Fatalf("latest %+v, want seq %d", r.Latest, tc.latest)
			}
			if tc.problem == "" && len(r.Problems) > 0 || tc.problem != "" && (len(r.Problems) == 0 || !strings.Contains(r.Problems[0], tc.problem)) {
				t.Fatalf("problems %v, want %q", r.Problems, tc.problem)
			}
		})
	}
}

// TestCheckpointerWritesWhileNewAndTellsWitness: a checkpoint each interval
// only while the head moves, one at the end of Run, each also POSTed to the
// witness; a failing witness is reported, not fatal.
func TestCheckpointerWritesWhileNewAndTellsWitness(t *testing.T) {
	k := newKey(t)
	pub := k.Public().(ed25519.PublicKey)
	var mu sync.Mutex
	var got []audit.Checkpoint
	fail := false
	wit := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var c audit.Checkpoint
		if r.Method != http.MethodPost || json.Unmarshal(b, &c) != nil || r.Header.Get("Idempotency-Key") == "" {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		got = append(got, c)
	}))
	defer wit.Close()
	log := filepath.Join(t.TempDir(), "checkpoints.log")
	chain := &fakeChain{seq: 5}
	var errs []string
	var errMu sync.Mutex
	c := audit.NewCheckpointer(chain, k, log, nil, audit.CheckpointerOptions{
		Interval: 20 * time.Millisecond, WitnessURL: wit.URL,
		OnError: func(what string, err error) { errMu.Lock(); errs = append(errs, what+": "+err.Error()); errMu.Unlock() },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	waitFor := func(seq uint64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for c.Last() == nil || c.Last().Seq != seq {
			if time.Now().After(deadline) {
				t.Fatalf("no checkpoint of seq %d", seq)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(5)
	time.Sleep(100 * time.Millisecond) // idle: nothing new, nothing written
	chain.set(9)
	waitFor(9)
	mu.Lock()
	fail = true
	mu.Unlock()
	chain.set(12)
	waitFor(12)
	mu.Lock()
	fail = false
	mu.Unlock()
	chain.set(14) // appended just before shutdown
	cancel()
	<-done

	r, err := audit.ReadCheckpoints(log, pub)
	if err != nil || len(r.Problems) > 0 {
		t.Fatalf("%v %v", err, r)
	}
	if r.Lines != 4 || r.Latest.Seq != 14 {
		t.Fatalf("%d checkpoints, latest %d; want 4 (5, 9, 12, 14 at shutdown)", r.Lines, r.Latest.Seq)
	}
	mu.Lock()
	defer mu.Unlock()
	var seqs []uint64
	for _, c := range got {
		if err := c.Verify(pub); err != nil {
			t.Fatalf("witness got a checkpoint that does not verify: %v", err)
		}
		seqs = append(seqs, c.Seq)
	}
	if len(seqs) != 3 || seqs[0] != 5 || seqs[1] != 9 || seqs[2] != 14 {
		t.Fatalf("witness got seqs %v, want [5 9 14] (12 failed)", seqs)
	}
	errMu.Lock()
	defer errMu.Unlock()
	if len(errs) != 1 || !strings.HasPrefix(errs[0], "witness: ") || !strings.Contains(errs[0], "503") {
		t.Fatalf("errors reported: %v", errs)
	}
}

// TestCheckpointerWitnessTimeout: a witness that never answers costs one
// timeout, and the log is still written.
func TestCheckpointerWitnessTimeout(t *testing.T) {
	block := make(chan struct{})
	wit := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer wit.Close()
	defer close(block)
	k := newKey(t)
	log := filepath.Join(t.TempDir(), "checkpoints.log")
	var reported error
	c := audit.NewCheckpointer(&fakeChain{seq: 3}, k, log, nil, audit.CheckpointerOptions{
		WitnessURL: wit.URL, WitnessTimeout: 100 * time.Millisecond,
		OnError: func(_ string, err error) { reported = err },
	})
	start := time.Now()
	cp, err := c.Checkpoint(context.Background())
	if err != nil || cp == nil || cp.Seq != 3 {
		t.Fatalf("%v %v", cp, err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("checkpoint waited %v for the witness", el)
	}
	if reported == nil {
		t.Fatal("witness timeout not reported")
	}
	r, err := audit.ReadCheckpoints(log, k.Public().(ed25519.PublicKey))
	if err != nil || r.Lines != 1 {
		t.Fatalf("%v %+v", err, r)
	}
}

func TestPublicKeyOneKeyPerLog(t *testing.T) {
	p := filepath.Join(t.TempDir(), "checkpoints.log.pub")
	k1, k2 := newKey(t), newKey(t)
	if err := audit.WritePublicKey(p, k1.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	if err := audit.WritePublicKey(p, k1.Public().(ed25519.PublicKey)); err != nil {
		t.Fatalf("same key again: %v", err)
	}
	if err := audit.WritePublicKey(p, k2.Public().(ed25519.PublicKey)); err == nil || !strings.Contains(err.Error(), "new checkpoint log") {
		t.Fatalf("another key: %v", err)
	}
	got, err := audit.ReadPublicKey(p)
	if err != nil || !got.Equal(k1.Public()) {
		t.Fatalf("%v", err)
	}
}

// TestAppendAfterTornLine: a crash in the middle of an append leaves a
// prefix; the next append starts a new line and the log still reads clean.
func TestAppendAfterTornLine(t *testing.T) {
	k := newKey(t)
	log := filepath.Join(t.TempDir(), "checkpoints.log")
	if err := audit.AppendCheckpoint(log, audit.SignCheckpoint(k, 10, hashOf(10, false), time.Now())); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(audit.SignCheckpoint(k, 15, hashOf(15, false), time.Now()))
	f, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(b[:25]) // the crash
	f.Close()
	if err := audit.AppendCheckpoint(log, audit.SignCheckpoint(k, 20, hashOf(20, false), time.Now())); err != nil {
		t.Fatal(err)
	}
	r, err := audit.ReadCheckpoints(log, k.Public().(ed25519.PublicKey))
	if err != nil || len(r.Problems) > 0 || r.Lines != 2 || r.Latest.Seq != 20 {
		t.Fatalf("%v %+v", err, r)
	}
}

// TestCheckpointerShutdownRetellsCutWitness: a witness call that the
// gateway's own shutdown cuts short is no witness failure; the shutdown
// checkpoint tells the witness again, so the witness ends with the latest.
func TestCheckpointerShutdownRetellsCutWitness(t *testing.T) {
	k := newKey(t)
	var mu sync.Mutex
	var got []uint64
	calls := 0
	inFirst := make(chan struct{})
	wit := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		body, _ := io.ReadAll(r.Body) // read whole: the server then sees the client hang up
		if first {                    // hold the first call until the client gives up
			close(inFirst)
			<-r.Context().Done()
			return
		}
		var c audit.Checkpoint
		if err := json.Unmarshal(body, &c); err != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, c.Seq)
		mu.Unlock()
	}))
	defer wit.Close()
	var errs []string
	var errMu sync.Mutex
	c := audit.NewCheckpointer(&fakeChain{seq: 7}, k, filepath.Join(t.TempDir(), "checkpoints.log"), nil, audit.CheckpointerOptions{
		Interval: 10 * time.Millisecond, WitnessURL: wit.URL, WitnessTimeout: 5 * time.Second,
		OnError: func(what string, err error) { errMu.Lock(); errs = append(errs, what+": "+err.Error()); errMu.Unlock() },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	<-inFirst
	cancel() // shutdown while the witness call for 7 is in flight
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != 7 {
		t.Fatalf("witness got %v, want [7] told again at shutdown", got)
	}
	errMu.Lock()
	defer errMu.Unlock()
	if len(errs) != 0 {
		t.Fatalf("a call our own shutdown cut was reported: %v", errs)
	}
}
