package audit

// Verification of the hash chain, backend-neutral: every store checks its
// chain with a ChainVerifier fed record by record (audit/bolt over its
// files, audit/pg over its table) and adds the checks of its own layout
// (indexes, attributes, outbox, head). VerifyChain runs it over any Store's
// Scan.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// Problem kinds found by verification.
const (
	ProblemHash       = "hash"       // Hash != SHA-256(Prev || Body): the record was altered
	ProblemChain      = "chain"      // Prev != Hash of the record before
	ProblemGap        = "gap"        // records missing
	ProblemOrder      = "order"      // a record stored under another record's Seq
	ProblemIndex      = "index"      // an index entry missing, extra, or pointing at a missing record
	ProblemAttrs      = "attrs"      // a record's filter attributes differ from its body
	ProblemOutbox     = "outbox"     // a notification entry that no record explains
	ProblemAnchor     = "anchor"     // a file does not continue where the previous one ended
	ProblemHead       = "head"       // the last record is not the one last appended
	ProblemCheckpoint = "checkpoint" // the chain does not reach or match the latest signed checkpoint
	ProblemFormat     = "format"     // an undecodable entry or a damaged file
)

// MaxProblems caps the problems listed in a report (the count goes on).
const MaxProblems = 100

// Problem is one fault found.
type Problem struct {
	File   string // the file or table where it was found
	Kind   string
	Seq    uint64 // the record (key) where it was found
	Detail string // content-free: bucket, field, codes; never an NHS number or clinical content
}

func (p Problem) String() string {
	return fmt.Sprintf("%s: %s at seq %d: %s", p.File, p.Kind, p.Seq, p.Detail)
}

// VerifyReport is the result of walking a chain (one or more files, or a
// table).
type VerifyReport struct {
	Files         []string
	Records       uint64 // records checked
	IndexEntries  uint64 // index, attribute and outbox entries checked
	FirstSeq      uint64
	LastSeq       uint64
	LastHash      [32]byte
	Anchored      bool   // the chain starts at Seq 1 (else at an archive anchor)
	From          uint64 // records at or below this seq had hashes and links checked only (VerifyOptions.AfterCheckpoint)
	Checkpoint    *Checkpoint
	Problems      []Problem
	ProblemsTotal int
}

// OK reports whether no problem was found.
func (r *VerifyReport) OK() bool { return r.ProblemsTotal == 0 }

// First returns the first problem found, if any.
func (r *VerifyReport) First() (Problem, bool) {
	if len(r.Problems) == 0 {
		return Problem{}, false
	}
	return r.Problems[0], true
}

// Add records a problem (listing at most MaxProblems).
func (r *VerifyReport) Add(p Problem) {
	r.ProblemsTotal++
	if len(r.Problems) < MaxProblems {
		r.Problems = append(r.Problems, p)
	}
}

// VerifyOptions tune verification.
type VerifyOptions struct {
	// Checkpoint, if set, is the latest signed checkpoint: the chain must
	// reach its seq and hold its hash there.
	Checkpoint *Checkpoint
	// AfterCheckpoint checks only hashes and links of the records up to
	// Checkpoint's seq, and rebuilds attributes and index entries only for
	// the records after it: what migd does at start, where decoding every
	// body would take minutes on a large store (BENCHMARKS.md).
	AfterCheckpoint bool
}

// ChainVerifier checks one hash chain fed to it in order: Anchor once per
// file (or table), then Record for each record; Finish ends the walk. It
// finds gaps, records out of order, altered records and broken links, and
// checks the chain (and, from seq 1, its Merkle tree) against the latest
// signed checkpoint. After a fault it resynchronises on the stored values,
// so one fault is reported once.
type ChainVerifier struct {
	r          *VerifyReport
	opt        VerifyOptions
	from       uint64 // AfterCheckpoint: the checkpoint's seq
	anchored   bool   // Anchor was called
	expectSeq  uint64
	expectHash [32]byte
	cpSeen     bool // the checkpoint's seq was found (record or anchor)
	// merkle rebuilds the tree the checkpoint's root signs, when the
	// chain starts at seq 1 (not at an archive anchor).
	merkle *MerkleFrontier
}

// NewChainVerifier returns a verifier whose report names files.
func NewChainVerifier(opt VerifyOptions, files ...string) *ChainVerifier {
	r := &VerifyReport{Files: files, Checkpoint: opt.Checkpoint}
	v := &ChainVerifier{r: r, opt: opt, expectSeq: 1}
	if opt.AfterCheckpoint {
		v.from = ^uint64(0) // no checkpoint yet (a new log): hashes and links only
		if opt.Checkpoint != nil {
			v.from = opt.Checkpoint.Seq
		}
	}
	r.From = v.from
	return v
}

// Report is the report so far.
func (v *ChainVerifier) Report() *VerifyReport { return v.r }

// Add records a problem found by the store's own checks.
func (v *ChainVerifier) Add(p Problem) { v.r.Add(p) }

// From is the seq up to which only hashes and links are checked (0: none).
func (v *ChainVerifier) From() uint64 { return v.from }

// Next returns the seq and previous hash the next record must have: after
// the last record, the head a store should record.
func (v *ChainVerifier) Next() (seq uint64, prev [32]byte) { return v.expectSeq, v.expectHash }

// Anchor starts a file: its chain begins after (seq, hash), the record
// before its first one (seq 0 and the zero hash at the chain's start). The
// first file sets the chain's start; each later one must continue where
// the previous one ended.
func (v *ChainVerifier) Anchor(file string, seq uint64, hash [32]byte) {
	r := v.r
	first := !v.anchored
	v.anchored = true
	if first {
		r.Anchored = seq == 0
		if cp := v.opt.Checkpoint; cp != nil && cp.Root != "" && seq == 0 {
			v.merkle = &MerkleFrontier{}
		}
		v.expectSeq, v.expectHash = seq+1, hash
		if seq == 0 && hash != ([32]byte{}) {
			r.Add(Problem{File: file, Kind: ProblemAnchor, Detail: "chain start has a non-zero hash"})
		}
	} else if seq+1 != v.expectSeq || hash != v.expectHash {
		r.Add(Problem{File: file, Kind: ProblemAnchor, Seq: seq + 1, Detail: "file does not continue the previous file's chain"})
		v.expectSeq, v.expectHash = seq+1, hash
	}
	if seq > 0 || first {
		v.checkpointAt(file, seq, hash)
	}
}

// Skip notes a file that could not be read at all (reported by the
// store): the next file is then checked as a continuation, not as the
// chain's start.
func (v *ChainVerifier) Skip() {
	if !v.anchored {
		v.anchored, v.expectSeq = true, 0
	}
}

// Record checks the record stored under key (st nil: it could not be
// decoded). It reports whether the record is past From, so that the store
// checks its attributes and index entries too.
func (v *ChainVerifier) Record(file string, key uint64, st *Stored) (full bool) {
	r := v.r
	if !v.anchored {
		v.Anchor(file, 0, [32]byte{})
	}
	r.Records++
	if r.FirstSeq == 0 {
		r.FirstSeq = key
	}
	if st == nil {
		r.Add(Problem{File: file, Kind: ProblemFormat, Seq: key, Detail: "records: undecodable record"})
		v.expectSeq = key + 1
		return false
	}
	linked := true
	if key != v.expectSeq {
		if key > v.expectSeq {
			r.Add(Problem{File: file, Kind: ProblemGap, Seq: key, Detail: fmt.Sprintf("records %d to %d missing", v.expectSeq, key-1)})
		} else {
			r.Add(Problem{File: file, Kind: ProblemOrder, Seq: key, Detail: "seq out of order"})
		}
		linked = false
	}
	if st.Seq != key {
		r.Add(Problem{File: file, Kind: ProblemOrder, Seq: key, Detail: fmt.Sprintf("record of seq %d stored at seq %d", st.Seq, key)})
		linked = false
	}
	h := sha256.New()
	h.Write(st.Prev[:])
	h.Write(st.Body)
	var sum [32]byte
	h.Sum(sum[:0])
	if sum != st.Hash {
		r.Add(Problem{File: file, Kind: ProblemHash, Seq: key, Detail: "hash does not match the record"})
	}
	if linked && st.Prev != v.expectHash {
		r.Add(Problem{File: file, Kind: ProblemChain, Seq: key, Detail: "previous hash does not match the record before"})
	}
	if v.merkle != nil && key == v.merkle.Size+1 && key <= v.opt.Checkpoint.Seq {
		v.merkle.Append(MerkleLeaf(st.Body))
	}
	v.checkpointAt(file, key, st.Hash)
	v.expectSeq, v.expectHash = key+1, st.Hash
	r.LastSeq, r.LastHash = key, st.Hash
	return key > v.from
}

// Body decodes a record's AuditEvent and checks that it is the record's
// own (its id); nil when the body is not an AuditEvent (reported).
func (v *ChainVerifier) Body(file string, key uint64, st *Stored) *Decoded {
	d, err := Decode(st.Body)
	if err != nil {
		v.r.Add(Problem{File: file, Kind: ProblemFormat, Seq: key, Detail: "records: body is not an AuditEvent"})
		return nil
	}
	if d.ID != st.ID {
		v.r.Add(Problem{File: file, Kind: ProblemHash, Seq: key, Detail: "records: the record's id is not its AuditEvent's id"})
	}
	return d
}

func (v *ChainVerifier) checkpointAt(file string, seq uint64, hash [32]byte) {
	cp := v.opt.Checkpoint
	if cp == nil || cp.Seq != seq {
		return
	}
	v.cpSeen = true
	if want, err := cp.Hash(); err != nil || want != hash {
		v.r.Add(Problem{File: file, Kind: ProblemCheckpoint, Seq: seq, Detail: fmt.Sprintf("chain hash at seq %d differs from the signed checkpoint of %s: records up to it were altered and the chain recomputed", seq, cp.Time.UTC().Format(time.RFC3339))})
	}
	if v.merkle != nil && v.merkle.Size == seq {
		if root := v.merkle.Root(); hex.EncodeToString(root[:]) != cp.Root {
			v.r.Add(Problem{File: file, Kind: ProblemCheckpoint, Seq: seq, Detail: fmt.Sprintf("Merkle root of records 1 to %d differs from the one the checkpoint signs", seq)})
		}
	}
}

// Finish ends the walk: the chain must have reached the checkpoint.
func (v *ChainVerifier) Finish() *VerifyReport {
	cp := v.opt.Checkpoint
	if cp == nil || v.cpSeen {
		return v.r
	}
	file := ""
	if len(v.r.Files) > 0 {
		file = v.r.Files[len(v.r.Files)-1]
	}
	if v.r.LastSeq < cp.Seq && v.expectSeq <= cp.Seq {
		v.r.Add(Problem{File: file, Kind: ProblemCheckpoint, Seq: v.expectSeq - 1, Detail: fmt.Sprintf("chain ends at seq %d but the latest signed checkpoint (%s) is at seq %d: records were removed or an older copy was put back", v.expectSeq-1, cp.Time.UTC().Format(time.RFC3339), cp.Seq)})
		return v.r
	}
	v.r.Add(Problem{File: file, Kind: ProblemCheckpoint, Seq: cp.Seq, Detail: "the latest signed checkpoint's record is not in these files (archived: give the archive segments)"})
	return v.r
}

// VerifyChain verifies the chain a store's Scan reads from seq 1 (named
// name in the report): every record's hash and link, that each body is its
// record's AuditEvent, and the chain against opt's checkpoint. It knows
// nothing of the store's indexes: a backend's own Verify adds those.
func VerifyChain(ctx context.Context, scan LeafScanner, name string, opt VerifyOptions) (*VerifyReport, error) {
	v := NewChainVerifier(opt, name)
	v.Anchor(name, 0, [32]byte{})
	err := scan(ctx, 0, func(st *Stored) error {
		if v.Record(name, st.Seq, st) {
			v.Body(name, st.Seq, st)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return v.Finish(), nil
}
