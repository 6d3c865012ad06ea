package bolt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"mig"
	"mig/audit"
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

// maxProblems caps the problems listed (the count goes on).
const maxProblems = 100

// Problem is one fault found.
type Problem struct {
	File   string
	Kind   string
	Seq    uint64 // the record (key) where it was found
	Detail string // content-free: bucket, field, codes; never an NHS number or clinical content
}

func (p Problem) String() string {
	return fmt.Sprintf("%s: %s at seq %d: %s", p.File, p.Kind, p.Seq, p.Detail)
}

// VerifyReport is the result of walking one or more chained files.
type VerifyReport struct {
	Files         []string
	Records       uint64 // records checked
	IndexEntries  uint64 // index, attribute and outbox entries checked
	FirstSeq      uint64
	LastSeq       uint64
	LastHash      [32]byte
	Anchored      bool   // the chain starts at Seq 1 (else at an archive anchor)
	From          uint64 // records at or below this seq had hashes and links checked only (VerifyOptions.AfterCheckpoint)
	Checkpoint    *audit.Checkpoint
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

// VerifyOptions tune verification.
type VerifyOptions struct {
	// Checkpoint, if set, is the latest signed checkpoint: the chain must
	// reach its seq and hold its hash there.
	Checkpoint *audit.Checkpoint
	// AfterCheckpoint checks only hashes and links of the records up to
	// Checkpoint's seq, and rebuilds attributes and index entries only for
	// the records after it (no walk of every index for extra entries): what
	// migd does at start, where decoding every body would take minutes on a
	// large store (BENCHMARKS.md).
	AfterCheckpoint bool
}

// VerifyFile verifies one store file (a stopped server's, opened read-only).
func VerifyFile(ctx context.Context, path string) (*VerifyReport, error) {
	return VerifyFiles(ctx, path)
}

// VerifyFiles verifies archive segments and the live file, oldest first, as
// one chain (VerifyFilesWith without a checkpoint).
func VerifyFiles(ctx context.Context, paths ...string) (*VerifyReport, error) {
	return VerifyFilesWith(ctx, VerifyOptions{}, paths...)
}

// VerifyFilesWith verifies archive segments and the live file, oldest first,
// as one chain: each file must start where the previous one ended. It walks
// each file in one read transaction without copying records (memory stays
// constant but for the problems found) and, in the live file, rebuilds
// every attribute and index entry from the record bodies and compares
// them with what is stored, both ways (missing and extra), as well as the
// id index, the outbox and the head. With a checkpoint it also checks the
// chain against it.
func VerifyFilesWith(ctx context.Context, opt VerifyOptions, paths ...string) (*VerifyReport, error) {
	if len(paths) == 0 {
		return nil, mig.Errorf(mig.EINVALID, "no audit file to verify")
	}
	v := newVerifier(opt, paths)
	for i, path := range paths {
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
		if err != nil {
			if err := mig.StoreOpenError(err, bolt.ErrTimeout); errors.Is(err, mig.ErrStoreLocked) {
				return nil, unavailable("audit file could not be opened read-only", err)
			}
			// bbolt refuses a file whose meta pages are both damaged.
			v.r.add(Problem{File: path, Kind: ProblemFormat, Detail: "the file is not a readable bbolt database (damaged meta pages?)"})
			continue
		}
		err = v.file(ctx, db, path, i == 0)
		db.Close()
		if err != nil {
			return nil, err
		}
	}
	v.finish()
	return v.r, nil
}

// Verify verifies the open store in one read transaction: what migd runs at
// start, where the file lock keeps other processes out.
func (s *Store) Verify(ctx context.Context, opt VerifyOptions) (*VerifyReport, error) {
	v := newVerifier(opt, []string{s.db.Path()})
	if err := v.file(ctx, s.db, s.db.Path(), true); err != nil {
		return nil, err
	}
	v.finish()
	return v.r, nil
}

type verifier struct {
	r          *VerifyReport
	opt        VerifyOptions
	from       uint64 // AfterCheckpoint: the checkpoint's seq
	expectSeq  uint64
	expectHash [32]byte
	cpSeen     bool // the checkpoint's seq was found (record or anchor)
	// merkle rebuilds the tree the checkpoint's root signs, when the
	// chain starts at seq 1 (not at an archive anchor).
	merkle *audit.MerkleFrontier
}

func newVerifier(opt VerifyOptions, paths []string) *verifier {
	r := &VerifyReport{Files: paths, Checkpoint: opt.Checkpoint}
	v := &verifier{r: r, opt: opt}
	if opt.AfterCheckpoint {
		v.from = ^uint64(0) // no checkpoint yet (a new log): hashes and links only
		if opt.Checkpoint != nil {
			v.from = opt.Checkpoint.Seq
		}
	}
	r.From = v.from
	return v
}

// file walks one file, turning a bbolt panic on a damaged page into a
// problem.
func (v *verifier) file(ctx context.Context, db *bolt.DB, path string, first bool) (err error) {
	defer func() {
		if p := recover(); p != nil {
			v.r.add(Problem{File: path, Kind: ProblemFormat, Detail: "the file is damaged: bbolt could not read a page"})
			err = nil
		}
	}()
	return db.View(func(tx *bolt.Tx) error {
		if v.from == 0 {
			// Page-level damage (bit flips in branch or leaf page headers,
			// pages lost or shared): bbolt's own consistency check.
			n := 0
			for cerr := range tx.Check() {
				if n++; n <= 5 {
					v.r.add(Problem{File: path, Kind: ProblemFormat, Detail: "bbolt page check: " + cerr.Error()})
				}
			}
		}
		return v.tx(ctx, tx, path, first)
	})
}

func (v *verifier) checkpointAt(file string, seq uint64, hash [32]byte) {
	cp := v.opt.Checkpoint
	if cp == nil || cp.Seq != seq {
		return
	}
	v.cpSeen = true
	if want, err := cp.Hash(); err != nil || want != hash {
		v.r.add(Problem{File: file, Kind: ProblemCheckpoint, Seq: seq, Detail: fmt.Sprintf("chain hash at seq %d differs from the signed checkpoint of %s: records up to it were altered and the chain recomputed", seq, cp.Time.UTC().Format(time.RFC3339))})
	}
	if v.merkle != nil && v.merkle.Size == seq {
		if root := v.merkle.Root(); hex.EncodeToString(root[:]) != cp.Root {
			v.r.add(Problem{File: file, Kind: ProblemCheckpoint, Seq: seq, Detail: fmt.Sprintf("Merkle root of records 1 to %d differs from the one the checkpoint signs", seq)})
		}
	}
}

func (v *verifier) finish() {
	cp := v.opt.Checkpoint
	if cp == nil || v.cpSeen {
		return
	}
	file := v.r.Files[len(v.r.Files)-1]
	if v.r.LastSeq < cp.Seq && v.expectSeq <= cp.Seq {
		v.r.add(Problem{File: file, Kind: ProblemCheckpoint, Seq: v.expectSeq - 1, Detail: fmt.Sprintf("chain ends at seq %d but the latest signed checkpoint (%s) is at seq %d: records were removed or an older copy was put back", v.expectSeq-1, cp.Time.UTC().Format(time.RFC3339), cp.Seq)})
		return
	}
	v.r.add(Problem{File: file, Kind: ProblemCheckpoint, Seq: cp.Seq, Detail: "the latest signed checkpoint's record is not in these files (archived: give the archive segments)"})
}

func (v *verifier) tx(ctx context.Context, tx *bolt.Tx, file string, first bool) error {
	r := v.r
	meta, recs := tx.Bucket(bMeta), tx.Bucket(bRecords)
	if meta == nil || recs == nil {
		r.add(Problem{File: file, Kind: ProblemFormat, Detail: "not an audit store"})
		return nil
	}
	var anchorSeq uint64
	var anchorHash [32]byte
	if a := meta.Get(kAnchor); a != nil {
		if len(a) != 40 {
			r.add(Problem{File: file, Kind: ProblemFormat, Detail: "meta: bad anchor"})
		} else {
			anchorSeq = binary.BigEndian.Uint64(a)
			copy(anchorHash[:], a[8:])
		}
	}
	if first {
		r.Anchored = anchorSeq == 0
		if cp := v.opt.Checkpoint; cp != nil && cp.Root != "" && anchorSeq == 0 {
			v.merkle = &audit.MerkleFrontier{}
		}
		v.expectSeq, v.expectHash = anchorSeq+1, anchorHash
		if anchorSeq == 0 && anchorHash != ([32]byte{}) {
			r.add(Problem{File: file, Kind: ProblemAnchor, Detail: "chain start has a non-zero hash"})
		}
	} else if anchorSeq+1 != v.expectSeq || anchorHash != v.expectHash {
		r.add(Problem{File: file, Kind: ProblemAnchor, Seq: anchorSeq + 1, Detail: "file does not continue the previous file's chain"})
		v.expectSeq, v.expectHash = anchorSeq+1, anchorHash
	}
	if anchorSeq > 0 || first {
		v.checkpointAt(file, anchorSeq, anchorHash)
	}
	live := tx.Bucket(bAttrs) != nil // archive segments hold records and ids only
	ids := tx.Bucket(bIDs)
	startProblems := r.ProblemsTotal
	expect := map[string]uint64{} // bucket -> entries the records give (distinct keys)
	badAttrs := map[uint64]bool{} // seqs whose attrs were already reported
	from := v.from

	c := recs.Cursor()
	var n uint64
	k, val := c.First()
	for ; k != nil; k, val = c.Next() {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		r.Records++
		if len(k) != 8 {
			r.add(Problem{File: file, Kind: ProblemFormat, Detail: "records: bad record key"})
			continue
		}
		key := binary.BigEndian.Uint64(k)
		if r.FirstSeq == 0 {
			r.FirstSeq = key
		}
		st, err := unmarshalRecord(val, false)
		if err != nil {
			r.add(Problem{File: file, Kind: ProblemFormat, Seq: key, Detail: "records: undecodable record"})
			v.expectSeq = key + 1
			continue
		}
		linked := true
		if key != v.expectSeq {
			if key > v.expectSeq {
				r.add(Problem{File: file, Kind: ProblemGap, Seq: key, Detail: fmt.Sprintf("records %d to %d missing", v.expectSeq, key-1)})
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
		if linked && st.Prev != v.expectHash {
			r.add(Problem{File: file, Kind: ProblemChain, Seq: key, Detail: "previous hash does not match the record before"})
		}
		if v.merkle != nil && key == v.merkle.Size+1 && key <= v.opt.Checkpoint.Seq {
			v.merkle.Append(audit.MerkleLeaf(st.Body))
		}
		v.checkpointAt(file, key, st.Hash)
		// Resynchronise on the stored values so one fault is reported once.
		v.expectSeq, v.expectHash = key+1, st.Hash
		r.LastSeq, r.LastHash = key, st.Hash

		if key <= from {
			continue // up to the checkpoint: hashes and links only
		}
		// What the body says, against the id index, attrs and indexes.
		d, err := audit.Decode(st.Body)
		if err != nil {
			r.add(Problem{File: file, Kind: ProblemFormat, Seq: key, Detail: "records: body is not an AuditEvent"})
			badAttrs[key] = true
			continue
		}
		if d.ID != st.ID {
			r.add(Problem{File: file, Kind: ProblemHash, Seq: key, Detail: "records: the record's id is not its AuditEvent's id"})
		}
		if ids != nil {
			if got := ids.Get([]byte(st.ID)); !bytes.Equal(got, k) {
				r.add(Problem{File: file, Kind: ProblemIndex, Seq: key, Detail: fmt.Sprintf("ids: entry for the record's id %s", pointsAt(got))})
			}
			expect[string(bIDs)]++
			r.IndexEntries++
		}
		if !live {
			continue
		}
		av := tx.Bucket(bAttrs).Get(k)
		if av == nil {
			r.add(Problem{File: file, Kind: ProblemAttrs, Seq: key, Detail: "attrs: entry missing"})
			badAttrs[key] = true
			continue
		}
		expect[string(bAttrs)]++
		stored, err := unmarshalAttrs(av)
		if err != nil {
			r.add(Problem{File: file, Kind: ProblemAttrs, Seq: key, Detail: "attrs: undecodable entry"})
			badAttrs[key] = true
			continue
		}
		want := expectedAttrs(d, &stored)
		if diffs := diffAttrs(&want, &stored); len(diffs) > 0 {
			for _, df := range diffs {
				r.add(Problem{File: file, Kind: ProblemAttrs, Seq: key, Detail: "attrs: " + df})
			}
			badAttrs[key] = true
		}
		entries := indexEntries(&want, key)
		for i, ix := range entries {
			r.IndexEntries++
			if slices.ContainsFunc(entries[:i], func(e ixEntry) bool { return bytes.Equal(e.bucket, ix.bucket) && bytes.Equal(e.key, ix.key) }) {
				continue // the emergency subtype given twice
			}
			expect[string(ix.bucket)]++
			if !hasKey(tx.Bucket(ix.bucket), ix.key) {
				r.add(Problem{File: file, Kind: ProblemIndex, Seq: key, Detail: fmt.Sprintf("%s: entry %s missing", ix.bucket, describeKey(ix.bucket, ix.key))})
			}
		}
	}
	if hv := meta.Get(kHead); hv != nil {
		if len(hv) != 40 {
			r.add(Problem{File: file, Kind: ProblemFormat, Detail: "meta: bad head"})
		} else {
			headSeq := binary.BigEndian.Uint64(hv)
			if headSeq != v.expectSeq-1 || !bytes.Equal(hv[8:], v.expectHash[:]) {
				detail := fmt.Sprintf("last appended record was seq %d, last stored is seq %d", headSeq, v.expectSeq-1)
				if headSeq == v.expectSeq-1 {
					detail = fmt.Sprintf("meta head hash differs from record %d's hash", headSeq)
				}
				r.add(Problem{File: file, Kind: ProblemHead, Seq: headSeq, Detail: detail})
			}
		}
	} else if v.expectSeq-1 > anchorSeq {
		r.add(Problem{File: file, Kind: ProblemHead, Seq: v.expectSeq - 1, Detail: "meta: head missing"})
	}
	if from > 0 {
		// At start: the records after the checkpoint were checked against
		// their index entries above; the full reverse walk (extra entries)
		// is left to migctl audit verify.
		return nil
	}
	return v.reverse(ctx, tx, file, anchorSeq, badAttrs, expect, r.ProblemsTotal == startProblems)
}

// countKeys counts a bucket's keys: a sequential walk, no lookups.
func countKeys(ctx context.Context, b *bolt.Bucket) (uint64, error) {
	var n uint64
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if n++; n%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// reverse walks every index-like bucket and checks each entry is one its
// record explains. When the forward walk found nothing wrong and a bucket
// holds exactly as many entries as the records give (each of which the
// forward walk found), it can hold no other, and its entries are only
// counted: that keeps a clean store's verification to one random lookup
// per expected entry.
func (v *verifier) reverse(ctx context.Context, tx *bolt.Tx, file string, anchorSeq uint64, badAttrs map[uint64]bool, expect map[string]uint64, clean bool) error {
	r := v.r
	recs := tx.Bucket(bRecords)
	exact := func(b []byte) (bool, error) {
		bk := tx.Bucket(b)
		if !clean || bk == nil {
			return false, nil
		}
		n, err := countKeys(ctx, bk)
		if err != nil {
			return false, err
		}
		r.IndexEntries += n
		return n == expect[string(b)], nil
	}
	tick := func() error {
		if r.IndexEntries++; r.IndexEntries%4096 == 0 {
			return ctx.Err()
		}
		return nil
	}
	ok, err := exact(bIDs)
	if err != nil {
		return err
	}
	if ids := tx.Bucket(bIDs); ids != nil && !ok {
		ic := ids.Cursor()
		for k, val := ic.First(); k != nil; k, val = ic.Next() {
			if err := tick(); err != nil {
				return err
			}
			rv := recs.Get(val)
			if len(val) != 8 || rv == nil {
				r.add(Problem{File: file, Kind: ProblemIndex, Seq: seqOf(val), Detail: "ids: entry points at a missing record"})
				continue
			}
			if st, err := unmarshalRecord(rv, false); err == nil && st.ID != string(k) {
				r.add(Problem{File: file, Kind: ProblemIndex, Seq: seqOf(val), Detail: "ids: an id that is not this record's points at it"})
			}
		}
	}
	at := tx.Bucket(bAttrs)
	if at == nil {
		return nil
	}
	// attrs: one per record.
	if ok, err = exact(bAttrs); err != nil {
		return err
	}
	ac := at.Cursor()
	k0, _ := ac.First()
	if ok {
		k0 = nil
	}
	for k := k0; k != nil; k, _ = ac.Next() {
		if err := tick(); err != nil {
			return err
		}
		if len(k) != 8 || recs.Get(k) == nil {
			r.add(Problem{File: file, Kind: ProblemAttrs, Seq: seqOf(k), Detail: "attrs: entry for a missing record"})
		}
	}
	// Secondary indexes: each entry must be one its record's attrs give.
	attrsOf := func(seq uint64) (attrs, bool) {
		av := at.Get(be64(seq))
		if av == nil {
			return attrs{}, false
		}
		a, err := unmarshalAttrs(av)
		return a, err == nil
	}
	for _, b := range indexBuckets {
		bk := tx.Bucket(b)
		if bk == nil {
			r.add(Problem{File: file, Kind: ProblemFormat, Detail: string(b) + ": bucket missing"})
			continue
		}
		if ok, err := exact(b); err != nil {
			return err
		} else if ok {
			continue
		}
		ic := bk.Cursor()
		for k, _ := ic.First(); k != nil; k, _ = ic.Next() {
			if err := tick(); err != nil {
				return err
			}
			if len(k) < 8 {
				r.add(Problem{File: file, Kind: ProblemFormat, Detail: "bad index key in " + string(b)})
				continue
			}
			sk := k[len(k)-8:]
			seq := binary.BigEndian.Uint64(sk)
			if recs.Get(sk) == nil {
				r.add(Problem{File: file, Kind: ProblemIndex, Seq: seq, Detail: string(b) + " entry points at a missing record"})
				continue
			}
			if badAttrs[seq] {
				continue // reported with the record
			}
			a, ok := attrsOf(seq)
			if !ok {
				continue // reported as missing attrs
			}
			if !slices.ContainsFunc(indexEntries(&a, seq), func(e ixEntry) bool { return bytes.Equal(e.bucket, b) && bytes.Equal(e.key, k) }) {
				r.add(Problem{File: file, Kind: ProblemIndex, Seq: seq, Detail: fmt.Sprintf("%s: extra entry %s that its record does not give", b, describeKey(b, k))})
			}
		}
	}
	// The outbox: each pending notification names a record (or, once its
	// record is archived, carries the body) and the record's practice, and
	// has exactly one due entry.
	ob, due := tx.Bucket(bOutbox), tx.Bucket(bOutboxDue)
	if ob == nil || due == nil {
		return nil
	}
	oc := ob.Cursor()
	for k, val := oc.First(); k != nil; k, val = oc.Next() {
		if err := tick(); err != nil {
			return err
		}
		o, err := unmarshalOutbox(val)
		if err != nil {
			r.add(Problem{File: file, Kind: ProblemOutbox, Detail: "outbox: undecodable entry"})
			continue
		}
		if !hasKey(due, dueKey(o.next, string(k))) {
			r.add(Problem{File: file, Kind: ProblemOutbox, Seq: o.seq, Detail: "outbox_due: entry missing for a pending notification"})
		}
		if o.body != nil {
			if o.seq > anchorSeq {
				r.add(Problem{File: file, Kind: ProblemOutbox, Seq: o.seq, Detail: "outbox: a live record's notification carries its own body"})
			}
			continue
		}
		rv := recs.Get(be64(o.seq))
		if rv == nil {
			r.add(Problem{File: file, Kind: ProblemOutbox, Seq: o.seq, Detail: "outbox: notification of a missing record"})
			continue
		}
		if st, err := unmarshalRecord(rv, false); err == nil && st.ID != string(k) {
			r.add(Problem{File: file, Kind: ProblemOutbox, Seq: o.seq, Detail: "outbox: notification id is not its record's id"})
		}
		if a, ok := attrsOf(o.seq); ok && !badAttrs[o.seq] && a.practice != o.practice {
			r.add(Problem{File: file, Kind: ProblemOutbox, Seq: o.seq, Detail: fmt.Sprintf("outbox: practice expected %q, found %q", a.practice, o.practice)})
		}
	}
	dc := due.Cursor()
	for k, _ := dc.First(); k != nil; k, _ = dc.Next() {
		if err := tick(); err != nil {
			return err
		}
		if len(k) < 8 {
			r.add(Problem{File: file, Kind: ProblemOutbox, Detail: "outbox_due: bad key"})
			continue
		}
		ov := ob.Get(k[8:])
		if ov == nil {
			r.add(Problem{File: file, Kind: ProblemOutbox, Detail: "outbox_due: entry for no pending notification"})
			continue
		}
		if o, err := unmarshalOutbox(ov); err == nil && !bytes.Equal(timeKey(o.next), k[:8]) {
			r.add(Problem{File: file, Kind: ProblemOutbox, Seq: o.seq, Detail: "outbox_due: entry at another time than its notification's"})
		}
	}
	return nil
}

// expectedAttrs rebuilds a record's attrs from its body. Two fields the
// body may not give exactly are taken from the stored attrs when they agree
// with it: the time below the body's millisecond, and, for events written
// before the body carried it (registered-practice), the practice, which is
// then checked against the outbox instead.
// An emergency override without a restful subtype is stored as subtype ""
// or SubtypeEmergencyOverride; both are accepted.
func expectedAttrs(d *audit.Decoded, stored *attrs) attrs {
	a := attrs{
		time: d.Time.UnixNano(), emergency: d.Emergency, outcome: orSuccess(d.Outcome), subtype: d.Subtype,
		nhs: d.NHSNumber, user: d.UserID, org: d.OrgODS, practice: stored.practice,
	}
	if d.Practice != "" {
		a.practice = d.Practice
	}
	if ms := a.time; stored.time >= ms && stored.time < ms+int64(time.Millisecond) {
		a.time = stored.time
	}
	if a.subtype == "" && d.Emergency && stored.subtype == audit.SubtypeEmergencyOverride {
		a.subtype = stored.subtype
	}
	return a
}

// diffAttrs names each field that differs, with expected and found values,
// except the NHS number, which is never printed.
func diffAttrs(want, got *attrs) []string {
	var out []string
	if want.time != got.time {
		out = append(out, fmt.Sprintf("time expected %s, found %s", fmtTime(want.time), fmtTime(got.time)))
	}
	if want.emergency != got.emergency {
		out = append(out, fmt.Sprintf("emergency expected %t, found %t", want.emergency, got.emergency))
	}
	for _, f := range []struct{ name, w, g string }{
		{"outcome", want.outcome, got.outcome}, {"subtype", want.subtype, got.subtype},
		{"user", want.user, got.user}, {"organisation", want.org, got.org},
		{"practice", want.practice, got.practice},
	} {
		if f.w != f.g {
			out = append(out, fmt.Sprintf("%s expected %q, found %q", f.name, f.w, f.g))
		}
	}
	if want.nhs != got.nhs {
		out = append(out, "patient (NHS number) differs from the record's (not shown)")
	}
	return out
}

func fmtTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

// describeKey prints an index key without NHS numbers: the patient index
// shows only the seq.
func describeKey(b, k []byte) string {
	if len(k) < 8 {
		return "(bad key)"
	}
	seq := binary.BigEndian.Uint64(k[len(k)-8:])
	switch {
	case bytes.Equal(b, bPatient):
		return fmt.Sprintf("for seq %d (patient not shown)", seq)
	case bytes.Equal(b, bTime):
		if len(k) == 16 {
			return fmt.Sprintf("%s for seq %d", fmtTime(int64(binary.BigEndian.Uint64(k[:8])^1<<63)), seq)
		}
		return fmt.Sprintf("for seq %d", seq)
	default:
		return fmt.Sprintf("%q for seq %d", bytes.TrimSuffix(k[:len(k)-8], []byte{0}), seq)
	}
}

func pointsAt(v []byte) string {
	if v == nil {
		return "missing"
	}
	return fmt.Sprintf("points at seq %d", seqOf(v))
}

// hasKey reports whether b holds key k (whatever its value, even empty).
func hasKey(b *bolt.Bucket, k []byte) bool {
	if b == nil {
		return false
	}
	got, _ := b.Cursor().Seek(k)
	return got != nil && bytes.Equal(got, k)
}

func seqOf(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}
