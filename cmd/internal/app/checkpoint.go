package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"mig"
	"mig/audit"
)

// AuditConfig is the "audit" block of the configuration.
type AuditConfig struct {
	Checkpoint CheckpointConfig `json:"checkpoint"`
}

// CheckpointConfig says where signed checkpoints of the audit chain go
// (README.md, "Audit"): required in a deployment, under <data>/witness in
// -dev.
type CheckpointConfig struct {
	Log            string   `json:"log"`            // append-only checkpoint log, outside dataDir (its folder must exist)
	Key            string   `json:"key"`            // Ed25519 private key (PEM PKCS #8), mode 0600, outside dataDir and keyFile's folder
	Interval       Duration `json:"interval"`       // between checkpoints while there are new records, default 1s
	WitnessURL     string   `json:"witnessUrl"`     // optional: each checkpoint is also POSTed here (JSON)
	WitnessTimeout Duration `json:"witnessTimeout"` // per POST, default 5s
}

// DevWitnessDir is where -dev keeps its checkpoint log and key: a folder of
// its own beside the stores (a demo; a deployment puts them on another
// volume).
const DevWitnessDir = "witness"

// startCheckpoints loads the audit signing key, checks the audit chain
// against the latest signed checkpoint and verifies the records after it,
// then makes the checkpointer. Any mismatch refuses to start: a gateway
// whose audit trail was cut or rewritten must not serve data.
func (m *Main) startCheckpoints(ctx context.Context) (err error) {
	cfg := &m.Config
	defer func() {
		if p := recover(); p != nil { // bbolt panics on some damaged pages
			err = fmt.Errorf("audit store refused: the file is damaged (a page cannot be read); refusing to serve; run migctl audit verify -data %s", cfg.DataDir)
		}
	}()
	cc := cfg.Audit.Checkpoint
	gatewayKeyDir := filepath.Dir(cfg.KeyFile)
	if cfg.KeyFile == "" {
		gatewayKeyDir = cfg.DataDir
	}
	var rules audit.KeyRules
	if m.Dev {
		dir := filepath.Join(cfg.DataDir, DevWitnessDir)
		if cc.Log == "" {
			cc.Log = filepath.Join(dir, "checkpoints.log")
		}
		if cc.Key == "" {
			cc.Key = filepath.Join(dir, "checkpoint.key")
			if err := audit.CreateCheckpointKey(cc.Key); err != nil {
				return fmt.Errorf("audit checkpoint key: %v", err)
			}
		}
		if err := os.MkdirAll(filepath.Dir(cc.Log), 0o700); err != nil {
			return fmt.Errorf("audit checkpoint log: %v", err)
		}
		rules = audit.KeyRules{NotIn: []string{cfg.DataDir, gatewayKeyDir}}
	} else {
		if cc.Log == "" || cc.Key == "" {
			return fmt.Errorf("config: audit.checkpoint.log and audit.checkpoint.key are required: signed checkpoints of the audit chain, kept outside dataDir (README, Audit)")
		}
		rules = audit.KeyRules{NotUnder: []string{cfg.DataDir}, NotIn: []string{gatewayKeyDir}}
		if err := rules.CheckPlace("audit.checkpoint.log", cc.Log); err != nil {
			return fmt.Errorf("config: %v", mig.ErrorMessage(err))
		}
		if fi, err := os.Stat(filepath.Dir(cc.Log)); err != nil || !fi.IsDir() {
			return fmt.Errorf("config: audit.checkpoint.log: folder %s does not exist (is its volume mounted?)", filepath.Dir(cc.Log))
		}
	}
	key, err := audit.LoadCheckpointKey(cc.Key, rules)
	if err != nil {
		return fmt.Errorf("config: audit.checkpoint.key: %v", mig.ErrorMessage(err))
	}
	pubPath := audit.PublicKeyPath(cc.Log)
	if err := audit.WritePublicKey(pubPath, key.Public().(ed25519.PublicKey)); err != nil {
		return fmt.Errorf("audit checkpoint public key: %v", mig.ErrorMessage(err))
	}

	// The latest checkpoint, and the chain against it.
	var latest *audit.Checkpoint
	lr, err := audit.ReadCheckpoints(cc.Log, key.Public().(ed25519.PublicKey))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if seq, _, herr := m.audit.Head(ctx); herr == nil && seq > 0 {
			m.Log.Warn().Uint64("head_seq", seq).Msg("audit checkpoint log is new but the audit store holds records: their first checkpoint is written now")
		}
	case err != nil:
		return fmt.Errorf("audit checkpoint log %s cannot be read: %v", cc.Log, err)
	case len(lr.Problems) > 0:
		return fmt.Errorf("audit checkpoint log %s does not verify with the checkpoint key (%d problems; first: %s): refusing to serve", cc.Log, len(lr.Problems), lr.Problems[0])
	default:
		latest = lr.Latest
	}
	if err := audit.CheckChain(ctx, m.audit, latest); err != nil {
		return fmt.Errorf("audit store refused: %v (checkpoint log %s); refusing to serve; run %s", mig.ErrorMessage(err), cc.Log, m.verifyCommand())
	}
	// Hashes and links of every record; attributes and index entries of
	// the records after the checkpoint (decoding every body would take
	// minutes on a large store: audit/BENCHMARKS.md). migctl audit verify
	// checks everything.
	start := time.Now()
	records, err := m.stores.verify(ctx, latest)
	if err != nil {
		return err
	}
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	if err := m.stores.setCheckpointPlace(ctx, abs(cc.Log), abs(pubPath)); err != nil {
		return err
	}
	m.ckpt = audit.NewCheckpointer(m.audit, key, cc.Log, latest, audit.CheckpointerOptions{
		Interval:       time.Duration(cc.Interval),
		WitnessURL:     cc.WitnessURL,
		WitnessTimeout: time.Duration(cc.WitnessTimeout),
		Scan:           m.audit.Scan, // each checkpoint also signs the log's Merkle root
		OnError: func(what string, err error) {
			m.Log.Warn().Str("checkpoint", what).Str("error_code", mig.ErrorCode(err)).Str("error", mig.ErrorMessage(err)).Msg("audit checkpoint: " + what + " failed")
		},
	})
	ev := m.Log.Info().Str("checkpoint_log", cc.Log).Str("checkpoint_key_id", audit.KeyID(key.Public().(ed25519.PublicKey))).
		Uint64("verified_records", records).Dur("verify_took", time.Since(start))
	if latest != nil {
		ev = ev.Uint64("checkpoint_seq", latest.Seq)
	}
	ev.Msg("audit chain matches its latest signed checkpoint")
	return nil
}

// finalCheckpoint signs the head once everything that appends has stopped.
func (m *Main) finalCheckpoint() {
	if m.ckpt == nil || m.audit == nil {
		return
	}
	defer func() { m.ckpt = nil }() // once: Close may be called again
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := m.ckpt.Checkpoint(ctx); err != nil {
		m.Log.Error().Str("error_code", mig.ErrorCode(err)).Str("error", mig.ErrorMessage(err)).Msg("shutdown audit checkpoint not written")
	}
}
