package audit

// Signed checkpoints of the chain head: the tamper evidence against anyone
// who can write the data directory (or a database) but does not hold the
// audit signing key.
//
// At a fixed interval while there are new records, and at shutdown, the
// gateway signs (Ed25519) the head of the chain (sequence number and hash)
// and appends the checkpoint to a log kept outside the data directory,
// optionally also POSTing it to a witness. Since each record's hash covers
// the one before, a checkpoint commits to every record up to its seq: an
// insider who edits a record and recomputes every hash after it, deletes
// the newest records or puts back an older copy of the store, changes the
// hash at (or the presence of) the checkpoint's seq, and cannot sign a new
// checkpoint. What was appended after the last checkpoint is covered only
// by the unkeyed hash chain (the window: one interval).
//
// This file is backend-neutral: a store offers Head and HashAt (ChainHead)
// and everything else lives here.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"mig"
)

// ChainHead is what a store offers checkpointing: its head, and the hash of
// the record at a seq it still holds (the anchor's hash at the anchor's
// seq). ok is false for a seq the store does not hold (beyond the head, or
// archived away).
type ChainHead interface {
	Head(ctx context.Context) (seq uint64, hash [32]byte, err error)
	HashAt(ctx context.Context, seq uint64) (hash [32]byte, ok bool, err error)
}

// Checkpoint is one signed statement "the chain's record seq has hash Head".
type Checkpoint struct {
	Seq  uint64    `json:"seq"`
	Head string    `json:"head"` // hex SHA-256 chain hash of record Seq
	Time time.Time `json:"time"`
	// Root, when set, is the RFC 6962 Merkle root of the first Seq
	// records (checkpoint_merkle.go), signed with the rest.
	Root string `json:"root,omitempty"`
	Key  string `json:"key"` // KeyID of the signing key
	Sig  string `json:"sig"` // base64 Ed25519 over SignedBytes
}

// SignedBytes is the exact message a checkpoint's signature covers.
func (c *Checkpoint) SignedBytes() []byte {
	b := fmt.Appendf(nil, "mig audit checkpoint v1\nseq %d\nhead %s\ntime %s\n", c.Seq, c.Head, c.Time.UTC().Format(time.RFC3339Nano))
	if c.Root != "" {
		b = fmt.Appendf(b, "merkle-root %s\n", c.Root)
	}
	return b
}

// Hash returns the head hash as bytes.
func (c *Checkpoint) Hash() ([32]byte, error) {
	var h [32]byte
	b, err := hex.DecodeString(c.Head)
	if err != nil || len(b) != 32 {
		return h, errors.New("head is not a 32-byte hex hash")
	}
	copy(h[:], b)
	return h, nil
}

// KeyID names a public key: the first 8 bytes of its SHA-256, hex.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:8])
}

// SignCheckpoint returns the signed checkpoint of (seq, head) at t.
func SignCheckpoint(key ed25519.PrivateKey, seq uint64, head [32]byte, t time.Time) *Checkpoint {
	return SignCheckpointRoot(key, seq, head, nil, t)
}

// SignCheckpointRoot also signs root, the Merkle root of the first seq
// records (nil: none).
func SignCheckpointRoot(key ed25519.PrivateKey, seq uint64, head [32]byte, root *[32]byte, t time.Time) *Checkpoint {
	c := &Checkpoint{Seq: seq, Head: hex.EncodeToString(head[:]), Time: t.UTC(), Key: KeyID(key.Public().(ed25519.PublicKey))}
	if root != nil {
		c.Root = hex.EncodeToString(root[:])
	}
	c.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(key, c.SignedBytes()))
	return c
}

// Verify checks the checkpoint's signature with pub.
func (c *Checkpoint) Verify(pub ed25519.PublicKey) error {
	sig, err := base64.StdEncoding.DecodeString(c.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return errors.New("signature is not base64 Ed25519")
	}
	if _, err := c.Hash(); err != nil {
		return err
	}
	if !ed25519.Verify(pub, c.SignedBytes(), sig) {
		return errors.New("signature does not verify with the checkpoint public key")
	}
	return nil
}

// Errors a chain check gives. Each is wrapped in a *mig.Error
// (EUNAVAILABLE, AUDIT_UNAVAILABLE): a gateway whose audit trail does not
// match its signed checkpoints must not serve data.
var (
	// ErrBehindCheckpoint: the chain ends before the latest checkpoint
	// (records deleted from the end, or an older copy put back).
	ErrBehindCheckpoint = errors.New("audit chain is behind its latest signed checkpoint")
	// ErrDiverged: the record at the checkpoint's seq has another hash
	// (a record at or before it was edited and the chain recomputed).
	ErrDiverged = errors.New("audit chain diverges from its latest signed checkpoint")
	// ErrCheckpointUnchecked: the checkpoint's record is no longer in the
	// store (archived past it), so the live store alone cannot be checked.
	ErrCheckpointUnchecked = errors.New("latest signed checkpoint cannot be checked against the live audit store")
)

func tampered(sentinel error, format string, args ...any) error {
	return &mig.Error{Code: mig.EUNAVAILABLE, Issue: mig.IssueAuditUnavailable, Message: fmt.Sprintf(format, args...), Err: sentinel}
}

// CheckChain compares a store's chain with a checkpoint: the chain must
// reach the checkpoint's seq and hold the signed hash there. A chain that
// extends past it is normal (records appended after the last checkpoint,
// e.g. before a crash).
func CheckChain(ctx context.Context, c ChainHead, cp *Checkpoint) error {
	if cp == nil {
		return nil
	}
	want, err := cp.Hash()
	if err != nil {
		return tampered(ErrDiverged, "checkpoint at seq %d is malformed", cp.Seq)
	}
	seq, _, err := c.Head(ctx)
	if err != nil {
		return err
	}
	if seq < cp.Seq {
		return tampered(ErrBehindCheckpoint, "audit chain ends at seq %d but the latest signed checkpoint is at seq %d: records were removed or an older copy of the store was put back", seq, cp.Seq)
	}
	got, ok, err := c.HashAt(ctx, cp.Seq)
	if err != nil {
		return err
	}
	if !ok {
		return tampered(ErrCheckpointUnchecked, "the record of the latest signed checkpoint (seq %d) is not in the live audit store; verify it with its archive segments (migctl audit verify -archive)", cp.Seq)
	}
	if got != want {
		return tampered(ErrDiverged, "audit chain hash at seq %d differs from the latest signed checkpoint: records up to it were altered", cp.Seq)
	}
	return nil
}

// --- keys ---

// KeyPlaceError reasons.
var errKeyPlace = errors.New("checkpoint key file is not where it may be")

func configError(format string, args ...any) error {
	return &mig.Error{Code: mig.EINVALID, Message: fmt.Sprintf(format, args...)}
}

// within reports whether path is dir or below it (both made absolute,
// symbolic links resolved where they exist).
func within(path, dir string) bool {
	p, d := resolve(path), resolve(dir)
	if p == d {
		return true
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func resolve(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	if r, err := filepath.EvalSymlinks(a); err == nil {
		return r
	}
	// Resolve the folder when the file itself does not exist yet.
	if r, err := filepath.EvalSymlinks(filepath.Dir(a)); err == nil {
		return filepath.Join(r, filepath.Base(a))
	}
	return a
}

// KeyRules say where a checkpoint key file may not be.
type KeyRules struct {
	// NotUnder: folders the key (and the log) may not be in or below (the
	// data directory).
	NotUnder []string
	// NotIn: folders the key may not sit directly in (gateway.key's).
	NotIn []string
}

func (r KeyRules) check(what, path string) error {
	for _, d := range r.NotUnder {
		if d != "" && within(path, d) {
			return &mig.Error{Code: mig.EINVALID, Message: fmt.Sprintf("%s %s is inside the data directory %s: keep it on another volume, out of reach of whoever can write the data directory", what, path, d), Err: errKeyPlace}
		}
	}
	for _, d := range r.NotIn {
		if d != "" && resolve(filepath.Dir(path)) == resolve(d) {
			return &mig.Error{Code: mig.EINVALID, Message: fmt.Sprintf("%s %s is in the same folder as gateway.key (%s): keep the audit signing key apart", what, path, d), Err: errKeyPlace}
		}
	}
	return nil
}

// CheckPlace checks that path (a checkpoint log) is outside r.NotUnder.
func (r KeyRules) CheckPlace(what, path string) error {
	return KeyRules{NotUnder: r.NotUnder}.check(what, path)
}

// LoadCheckpointKey reads an Ed25519 private key (PEM, PKCS #8: what
// `openssl genpkey -algorithm ed25519` writes) from a regular file that
// only its owner may read, outside the places rules forbid. Keys never
// come from the environment.
func LoadCheckpointKey(path string, rules KeyRules) (ed25519.PrivateKey, error) {
	if path == "" {
		return nil, configError("no checkpoint key file given")
	}
	if err := rules.check("checkpoint key", path); err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, &mig.Error{Code: mig.EINVALID, Message: fmt.Sprintf("checkpoint key %s cannot be read", path), Err: err}
	}
	if !fi.Mode().IsRegular() {
		return nil, configError("checkpoint key %s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, configError("checkpoint key %s may be read by group or others (mode %04o): chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &mig.Error{Code: mig.EINVALID, Message: fmt.Sprintf("checkpoint key %s cannot be read", path), Err: err}
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, configError("checkpoint key %s is not a PEM PRIVATE KEY (openssl genpkey -algorithm ed25519)", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, configError("checkpoint key %s is not a PKCS #8 private key", path)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, configError("checkpoint key %s is not an Ed25519 key", path)
	}
	return ek, nil
}

// CreateCheckpointKey writes a new Ed25519 key (PEM PKCS #8, mode 0600, its
// folder 0700) at path if no file is there. For -dev only: a deployment
// makes its own key.
func CreateCheckpointKey(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// PublicKeyPath is where the gateway writes the public key of a checkpoint
// log: beside it, so an auditor who can read the log can check it.
func PublicKeyPath(logPath string) string { return logPath + ".pub" }

// WritePublicKey writes pub (PEM PUBLIC KEY, mode 0644) at path, or checks
// that the key already there is pub: one log, one key (a new key needs a
// new log).
func WritePublicKey(path string, pub ed25519.PublicKey) error {
	if old, err := ReadPublicKey(path); err == nil {
		if !old.Equal(pub) {
			return configError("checkpoint public key %s is not the checkpoint key's: a new key needs a new checkpoint log", path)
		}
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadPublicKey reads a PEM PUBLIC KEY (Ed25519). A missing file gives an
// error wrapping fs.ErrNotExist.
func ReadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, configError("%s is not a PEM PUBLIC KEY", path)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, configError("%s is not a public key", path)
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, configError("%s is not an Ed25519 public key", path)
	}
	return ek, nil
}

// --- the log ---

// AppendCheckpoint appends cp as one JSON line to the log at path (created
// 0640 if absent, opened append-only) and fsyncs it. After a torn last
// line (a crash while appending) it starts a new line.
func AppendCheckpoint(path string, cp *Checkpoint) error {
	line, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	if torn, err := endsTorn(path); err != nil {
		return err
	} else if torn {
		line = append([]byte{'\n'}, line...)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(line); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// endsTorn reports whether the file at path is non-empty and does not end
// with a newline.
func endsTorn(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return false, err
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], fi.Size()-1); err != nil {
		return false, err
	}
	return b[0] != '\n', nil
}

// LogReport is what reading a checkpoint log found.
type LogReport struct {
	Lines    int         // checkpoints that verified
	Latest   *Checkpoint // the one with the highest seq, nil if none
	Problems []string    // content-free: line numbers and what is wrong
}

// ReadCheckpoints reads every checkpoint of the log at path and verifies
// each with pub. Lines that do not verify, seqs that go backwards and two
// checkpoints of one seq with different hashes are problems; a torn last
// line (a crash while appending) is not. Latest is the highest seq among
// the lines that verify. A missing file gives an error wrapping
// fs.ErrNotExist.
func ReadCheckpoints(path string, pub ed25519.PublicKey) (*LogReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := &LogReport{}
	br := bufio.NewReader(f)
	seen := map[uint64]string{}
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return nil, err
		}
		if len(line) == 0 {
			break
		}
		var cp Checkpoint
		if jerr := json.Unmarshal(bytes.TrimSpace(line), &cp); jerr != nil {
			// A prefix of a line is a crash while appending (the next
			// append starts a new line): not a problem.
			t := bytes.TrimSpace(line)
			if !(bytes.HasPrefix(t, []byte(`{"seq":`)) && !bytes.HasSuffix(t, []byte("}"))) {
				r.Problems = append(r.Problems, fmt.Sprintf("line %d: not a checkpoint", n))
			}
			if err == io.EOF {
				break
			}
			continue
		}
		if verr := cp.Verify(pub); verr != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("line %d (seq %d): %v", n, cp.Seq, verr))
		} else {
			if h, ok := seen[cp.Seq]; ok && h != cp.Head {
				r.Problems = append(r.Problems, fmt.Sprintf("line %d: two signed checkpoints of seq %d with different hashes", n, cp.Seq))
			}
			seen[cp.Seq] = cp.Head
			if r.Latest != nil && cp.Seq < r.Latest.Seq {
				r.Problems = append(r.Problems, fmt.Sprintf("line %d: seq %d goes back from seq %d", n, cp.Seq, r.Latest.Seq))
			}
			if r.Latest == nil || cp.Seq >= r.Latest.Seq {
				c := cp
				r.Latest = &c
			}
			r.Lines++
		}
		if err == io.EOF {
			break
		}
	}
	return r, nil
}

// --- the checkpointer ---

// CheckpointerOptions tune a Checkpointer. Zero values take the defaults.
type CheckpointerOptions struct {
	Interval       time.Duration // between checkpoints while there are new records (1 s)
	WitnessURL     string        // also POST each checkpoint (JSON) here, if set
	WitnessTimeout time.Duration // per POST (5 s)
	Client         *http.Client  // for the witness (http.DefaultClient's transport)
	// OnError is told of each failure (writing the log, reaching the
	// witness); neither stops the gateway. what is "log" or "witness".
	OnError func(what string, err error)
	Now     func() time.Time
	// Scan, if set, reads the records so that each checkpoint also signs
	// the Merkle root of the log (the store's Scan). The tree is built from
	// record 1 at the first checkpoint, then extended; if record 1 is
	// archived away, checkpoints carry no root (reported once as "merkle").
	Scan LeafScanner
}

// Checkpointer writes signed checkpoints of a store's head.
type Checkpointer struct {
	store ChainHead
	key   ed25519.PrivateKey
	path  string
	opt   CheckpointerOptions

	mu     sync.Mutex
	last   *Checkpoint     // the last one written (or the log's latest)
	merkle *MerkleFrontier // nil: no roots
	// untold is a checkpoint whose witness call our own shutdown cut
	// short; the shutdown checkpoint tells the witness again.
	untold *Checkpoint
}

// NewCheckpointer returns a checkpointer appending to the log at path;
// last is the log's latest checkpoint (nil for a new log), so that a start
// with nothing new writes nothing.
func NewCheckpointer(store ChainHead, key ed25519.PrivateKey, path string, last *Checkpoint, opt CheckpointerOptions) *Checkpointer {
	if opt.Interval <= 0 {
		opt.Interval = time.Second
	}
	if opt.WitnessTimeout <= 0 {
		opt.WitnessTimeout = 5 * time.Second
	}
	if opt.Client == nil {
		opt.Client = &http.Client{}
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.OnError == nil {
		opt.OnError = func(string, error) {}
	}
	c := &Checkpointer{store: store, key: key, path: path, opt: opt, last: last}
	if opt.Scan != nil {
		c.merkle = &MerkleFrontier{}
	}
	return c
}

// Last returns the last checkpoint written (or read at start).
func (c *Checkpointer) Last() *Checkpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// Checkpoint signs the store's head and appends it to the log (then tells
// the witness) if the head moved since the last checkpoint. It returns the
// new checkpoint, or nil when there was nothing new.
func (c *Checkpointer) Checkpoint(ctx context.Context) (*Checkpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seq, head, err := c.store.Head(ctx)
	if err != nil {
		return nil, err
	}
	if c.last != nil && c.last.Seq == seq && c.last.Head == hex.EncodeToString(head[:]) {
		return nil, nil
	}
	if c.last == nil && seq == 0 {
		return nil, nil
	}
	var root *[32]byte
	if c.merkle != nil {
		if err := extendFrontier(ctx, c.merkle, c.opt.Scan, seq); err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			c.merkle = nil
			c.opt.OnError("merkle", err)
		} else {
			r := c.merkle.Root()
			root = &r
		}
	}
	cp := SignCheckpointRoot(c.key, seq, head, root, c.opt.Now())
	if err := AppendCheckpoint(c.path, cp); err != nil {
		return nil, &mig.Error{Code: mig.EUNAVAILABLE, Issue: mig.IssueAuditUnavailable, Message: "audit checkpoint could not be written to the checkpoint log", Err: err}
	}
	c.last = cp
	c.tell(ctx, cp)
	return cp, nil
}

// tell posts cp to the witness, if there is one. A call cut short by ctx
// ending (the gateway stopping) is not a witness failure: it is kept for
// the shutdown checkpoint to send again.
func (c *Checkpointer) tell(ctx context.Context, cp *Checkpoint) {
	if c.opt.WitnessURL == "" {
		return
	}
	c.untold = nil
	if err := c.witness(ctx, cp); err != nil {
		if ctx.Err() != nil {
			c.untold = cp
			return
		}
		c.opt.OnError("witness", err)
	}
}

// retell sends the witness the checkpoint a shutdown cut short, if any.
func (c *Checkpointer) retell(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp := c.untold; cp != nil && cp == c.last {
		c.tell(ctx, cp)
	}
}

func (c *Checkpointer) witness(ctx context.Context, cp *Checkpoint) error {
	body, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opt.WitnessTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.opt.WitnessURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", cp.Key+"-"+strconv.FormatUint(cp.Seq, 10))
	resp, err := c.opt.Client.Do(req)
	if err != nil {
		return &mig.Error{Code: mig.EUNAVAILABLE, Message: "checkpoint witness could not be reached", Err: err}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return mig.Errorf(mig.EUNAVAILABLE, "checkpoint witness answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// Run writes a checkpoint every interval while there are new records,
// until ctx ends; then it writes a last one (the shutdown checkpoint), so
// call it before the store closes and wait for it to return.
func (c *Checkpointer) Run(ctx context.Context) {
	t := time.NewTicker(c.opt.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), c.opt.WitnessTimeout+time.Second)
			if cp, err := c.Checkpoint(fctx); err != nil {
				c.opt.OnError("log", err)
			} else if cp == nil {
				c.retell(fctx) // nothing new: the latest may still be untold
			}
			cancel()
			return
		case <-t.C:
			if _, err := c.Checkpoint(ctx); err != nil && ctx.Err() == nil {
				c.opt.OnError("log", err)
			}
		}
	}
}
