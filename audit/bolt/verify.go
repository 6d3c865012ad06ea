package bolt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"mig"
)

// Problem kinds found by verification.
const (
	ProblemHash   = "hash"   // Hash != SHA-256(Prev || Body): the record was altered
	ProblemChain  = "chain"  // Prev != Hash of the record before
	ProblemGap    = "gap"    // records missing
	ProblemOrder  = "order"  // a record stored under another record's Seq
	ProblemIndex  = "index"  // an index entry points at a missing record
	ProblemAnchor = "anchor" // a file does not continue where the previous one ended
	ProblemHead   = "head"   // the last record is not the one last appended
	ProblemFormat = "format" // an undecodable entry
)

// maxProblems caps the problems listed (the count goes on).
const maxProblems = 100

// Problem is one fault found.
type Problem struct {
	File   string
	Kind   string
	Seq    uint64 // the record (key) where it was found
	Detail string // content-free
}

func (p Problem) String() string {
	return fmt.Sprintf("%s: %s at seq %d: %s", p.File, p.Kind, p.Seq, p.Detail)
}

// VerifyReport is the result of walking one or more chained files.
type VerifyReport struct {
	Files         []string
	Records       uint64 // records checked
	IndexEntries  uint64 // index entries checked
	FirstSeq      uint64
	LastSeq       uint64
	LastHash      [32]byte
	Anchored      bool // the chain starts at Seq 1 (else at an archive anchor)
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

func (r *VerifyReport) add(p Problem) {
	r.ProblemsTotal++
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, p)
	}
}

// VerifyFile verifies one store file (a stopped server's, opened read-only).
func VerifyFile(ctx context.Context, path string) (*VerifyReport, error) {
	return VerifyFiles(ctx, path)
}

// VerifyFiles verifies archive segments and the live file, oldest first, as
// one chain: each file must start where the previous one ended. It walks
// each file once in a read transaction without copying records (constant
// memory) and checks every index entry points at a record.
func VerifyFiles(ctx context.Context, paths ...string) (*VerifyReport, error) {
	if len(paths) == 0 {
		return nil, mig.Errorf(mig.EINVALID, "no audit file to verify")
	}
	r := &VerifyReport{Files: paths}
	var (
		expectSeq  uint64
		expectHash [32]byte
	)
	for i, path := range paths {
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
		if err != nil {
			return nil, unavailable("audit file could not be opened read-only", err)
		}
		err = db.View(func(tx *bolt.Tx) error {
			return verifyTx(ctx, tx, path, i == 0, r, &expectSeq, &expectHash)
		})
		db.Close()
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

func verifyTx(ctx context.Context, tx *bolt.Tx, file string, first bool, r *VerifyReport, expectSeq *uint64, expectHash *[32]byte) error {
	meta, recs := tx.Bucket(bMeta), tx.Bucket(bRecords)
	if meta == nil || recs == nil {
		r.add(Problem{File: file, Kind: ProblemFormat, Detail: "not an audit store"})
		return nil
	}
	var anchorSeq uint64
	var anchorHash [32]byte
	if a := meta.Get(kAnchor); a != nil {
		if len(a) != 40 {
			r.add(Problem{File: file, Kind: ProblemFormat, Detail: "bad anchor"})
		} else {
			anchorSeq = binary.BigEndian.Uint64(a)
			copy(anchorHash[:], a[8:])
		}
	}
	if first {
		r.Anchored = anchorSeq == 0
		*expectSeq, *expectHash = anchorSeq+1, anchorHash
		if anchorSeq == 0 && anchorHash != ([32]byte{}) {
			r.add(Problem{File: file, Kind: ProblemAnchor, Detail: "chain start has a non-zero hash"})
		}
	} else if anchorSeq+1 != *expectSeq || anchorHash != *expectHash {
		r.add(Problem{File: file, Kind: ProblemAnchor, Seq: anchorSeq + 1, Detail: "file does not continue the previous file's chain"})
		*expectSeq, *expectHash = anchorSeq+1, anchorHash
	}
	c := recs.Cursor()
	var n uint64
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		r.Records++
		if len(k) != 8 {
			r.add(Problem{File: file, Kind: ProblemFormat, Detail: "bad record key"})
			continue
		}
		key := binary.BigEndian.Uint64(k)
		if r.FirstSeq == 0 {
			r.FirstSeq = key
		}
		st, err := unmarshalRecord(v, false)
		if err != nil {
			r.add(Problem{File: file, Kind: ProblemFormat, Seq: key, Detail: "undecodable record"})
			*expectSeq = key + 1
			continue
		}
		linked := true
		if key != *expectSeq {
			if key > *expectSeq {
				r.add(Problem{File: file, Kind: ProblemGap, Seq: key, Detail: fmt.Sprintf("records %d to %d missing", *expectSeq, key-1)})
			} else {
				r.add(Problem{File: file, Kind: ProblemOrder, Seq: key, Detail: "seq out of order"})
			}
			linked = false
		}
		if st.Seq != key {
			r.add(Problem{File: file, Kind: ProblemOrder, Seq: key, Detail: fmt.Sprintf("record of seq %d stored at seq %d", st.Seq, key)})
			linked = false
		}
		h := sha256.New()
		h.Write(st.Prev[:])
		h.Write(st.Body)
		var sum [32]byte
		h.Sum(sum[:0])
		if sum != st.Hash {
			r.add(Problem{File: file, Kind: ProblemHash, Seq: key, Detail: "hash does not match the record"})
		}
		if linked && st.Prev != *expectHash {
			r.add(Problem{File: file, Kind: ProblemChain, Seq: key, Detail: "previous hash does not match the record before"})
		}
		// Resynchronise on the stored values so one fault is reported once.
		*expectSeq, *expectHash = key+1, st.Hash
		r.LastSeq, r.LastHash = key, st.Hash
	}
	if hv := meta.Get(kHead); hv != nil && len(hv) == 40 {
		headSeq := binary.BigEndian.Uint64(hv)
		if headSeq != *expectSeq-1 || !bytes.Equal(hv[8:], expectHash[:]) {
			r.add(Problem{File: file, Kind: ProblemHead, Seq: headSeq, Detail: fmt.Sprintf("last appended record was seq %d, last stored is seq %d", headSeq, *expectSeq-1)})
		}
	}
	// Index entries must point at records.
	if ids := tx.Bucket(bIDs); ids != nil {
		ic := ids.Cursor()
		for k, v := ic.First(); k != nil; k, v = ic.Next() {
			r.IndexEntries++
			if len(v) != 8 || recs.Get(v) == nil {
				r.add(Problem{File: file, Kind: ProblemIndex, Seq: seqOf(v), Detail: "id index points at a missing record"})
			}
		}
	}
	for _, b := range append([][]byte{bAttrs}, indexBuckets...) {
		bk := tx.Bucket(b)
		if bk == nil {
			continue
		}
		ic := bk.Cursor()
		for k, _ := ic.First(); k != nil; k, _ = ic.Next() {
			if r.IndexEntries++; r.IndexEntries%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if len(k) < 8 {
				r.add(Problem{File: file, Kind: ProblemFormat, Detail: "bad index key in " + string(b)})
				continue
			}
			sk := k[len(k)-8:]
			if recs.Get(sk) == nil {
				r.add(Problem{File: file, Kind: ProblemIndex, Seq: seqOf(sk), Detail: string(b) + " entry points at a missing record"})
			}
		}
	}
	return nil
}

func seqOf(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}
