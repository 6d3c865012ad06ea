package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"mig"
	"mig/audit"
)

// Problem kinds found by verification (package audit's, named here too).
const (
	ProblemHash       = audit.ProblemHash
	ProblemChain      = audit.ProblemChain
	ProblemGap        = audit.ProblemGap
	ProblemOrder      = audit.ProblemOrder
	ProblemIndex      = audit.ProblemIndex
	ProblemAttrs      = audit.ProblemAttrs
	ProblemOutbox     = audit.ProblemOutbox
	ProblemAnchor     = audit.ProblemAnchor
	ProblemHead       = audit.ProblemHead
	ProblemCheckpoint = audit.ProblemCheckpoint
	ProblemFormat     = audit.ProblemFormat
)

type (
	// Problem is one fault found.
	Problem = audit.Problem
	// VerifyReport is the result of walking one or more chained files.
	VerifyReport = audit.VerifyReport
	// VerifyOptions tune verification.
	VerifyOptions = audit.VerifyOptions
)

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
	for _, path := range paths {
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
		if err != nil {
			if err := mig.StoreOpenError(err, bolt.ErrTimeout); errors.Is(err, mig.ErrStoreLocked) {
				return nil, unavailable("audit file could not be opened read-only", err)
			}
			// bbolt refuses a file whose meta pages are both damaged.
			v.r.Add(Problem{File: path, Kind: ProblemFormat, Detail: "the file is not a readable bbolt database (damaged meta pages?)"})
			v.Skip()
			continue
		}
		err = v.file(ctx, db, path)
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
	if err := v.file(ctx, s.db, s.db.Path()); err != nil {
		return nil, err
	}
	v.finish()
	return v.r, nil
}

// verifier adds the file's own checks (ids, attributes, indexes, outbox,
// head) to the chain check.
type verifier struct {
	*audit.ChainVerifier
	r *VerifyReport
}

func newVerifier(opt VerifyOptions, paths []string) *verifier {
	cv := audit.NewChainVerifier(opt, paths...)
	return &verifier{ChainVerifier: cv, r: cv.Report()}
}

func (v *verifier) finish() { v.Finish() }

// file walks one file, turning a bbolt panic on a damaged page into a
// problem.
func (v *verifier) file(ctx context.Context, db *bolt.DB, path string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			v.r.Add(Problem{File: path, Kind: ProblemFormat, Detail: "the file is damaged: bbolt could not read a page"})
			v.Skip()
			err = nil
		}
	}()
	return db.View(func(tx *bolt.Tx) error {
		if v.From() == 0 {
			// Page-level damage (bit flips in branch or leaf page headers,
			// pages lost or shared): bbolt's own consistency check.
			n := 0
			for cerr := range tx.Check() {
				if n++; n <= 5 {
					v.r.Add(Problem{File: path, Kind: ProblemFormat, Detail: "bbolt page check: " + cerr.Error()})
				}
			}
		}
		return v.tx(ctx, tx, path)
	})
}

func (v *verifier) tx(ctx context.Context, tx *bolt.Tx, file string) error {
	r := v.r
	meta, recs := tx.Bucket(bMeta), tx.Bucket(bRecords)
	if meta == nil || recs == nil {
		r.Add(Problem{File: file, Kind: ProblemFormat, Detail: "not an audit store"})
		v.Skip()
		return nil
	}
	var anchorSeq uint64
	var anchorHash [32]byte
	if a := meta.Get(kAnchor); a != nil {
		if len(a) != 40 {
			r.Add(Problem{File: file, Kind: ProblemFormat, Detail: "meta: bad anchor"})
		} else {
			anchorSeq = binary.BigEndian.Uint64(a)
			copy(anchorHash[:], a[8:])
		}
	}
	v.Anchor(file, anchorSeq, anchorHash)
	live := tx.Bucket(bAttrs) != nil // archive segments hold records and ids only
	ids := tx.Bucket(bIDs)
	startProblems := r.ProblemsTotal
	expect := map[string]uint64{} // bucket -> entries the records give (distinct keys)
	badAttrs := map[uint64]bool{} // seqs whose attrs were already reported
	from := v.From()

	c := recs.Cursor()
	var n uint64
	k, val := c.First()
	for ; k != nil; k, val = c.Next() {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if len(k) != 8 {
			r.Records++
			r.Add(Problem{File: file, Kind: ProblemFormat, Detail: "records: bad record key"})
			continue
		}
		key := binary.BigEndian.Uint64(k)
		st, err := unmarshalRecord(val, false)
		if err != nil {
			st = nil
		}
		if !v.Record(file, key, st) {
			continue // undecodable, or up to the checkpoint: hashes and links only
		}
		// What the body says, against the id index, attrs and indexes.
		d := v.Body(file, key, st)
		if d == nil {
			badAttrs[key] = true
			continue
		}
		if ids != nil {
			if got := ids.Get([]byte(st.ID)); !bytes.Equal(got, k) {
				r.Add(Problem{File: file, Kind: ProblemIndex, Seq: key, Detail: fmt.Sprintf("ids: entry for the record's id %s", pointsAt(got))})
			}
			expect[string(bIDs)]++
			r.IndexEntries++
		}
		if !live {
			continue
		}
		av := tx.Bucket(bAttrs).Get(k)
		if av == nil {
			r.Add(Problem{File: file, Kind: ProblemAttrs, Seq: key, Detail: "attrs: entry missing"})
			badAttrs[key] = true
			continue
		}
		expect[string(bAttrs)]++
		stored, err := unmarshalAttrs(av)
		if err != nil {
			r.Add(Problem{File: file, Kind: ProblemAttrs, Seq: key, Detail: "attrs: undecodable entry"})
			badAttrs[key] = true
			continue
		}
		want := expectedAttrs(d, &stored)
		if diffs := diffAttrs(&want, &stored); len(diffs) > 0 {
			for _, df := range diffs {
				r.Add(Problem{File: file, Kind: ProblemAttrs, Seq: key, Detail: "attrs: " + df})
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
				r.Add(Problem{File: file, Kind: ProblemIndex, Seq: key, Detail: fmt.Sprintf("%s: entry %s missing", ix.bucket, describeKey(ix.bucket, ix.key))})
			}
		}
	}
	if hv := meta.Get(kHead); hv != nil {
		if len(hv) != 40 {
			r.Add(Problem{File: file, Kind: ProblemFormat, Detail: "meta: bad head"})
		} else {
			headSeq := binary.BigEndian.Uint64(hv)
			next, last := v.Next()
			if headSeq != next-1 || !bytes.Equal(hv[8:], last[:]) {
				detail := fmt.Sprintf("last appended record was seq %d, last stored is seq %d", headSeq, next-1)
				if headSeq == next-1 {
					detail = fmt.Sprintf("meta head hash differs from record %d's hash", headSeq)
				}
				r.Add(Problem{File: file, Kind: ProblemHead, Seq: headSeq, Detail: detail})
			}
		}
	} else if next, _ := v.Next(); next-1 > anchorSeq {
		r.Add(Problem{File: file, Kind: ProblemHead, Seq: next - 1, Detail: "meta: head missing"})
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
				r.Add(Problem{File: file, Kind: ProblemIndex, Seq: seqOf(val), Detail: "ids: entry points at a missing record"})
				continue
			}
			if st, err := unmarshalRecord(rv, false); err == nil && st.ID != string(k) {
				r.Add(Problem{File: file, Kind: ProblemIndex, Seq: seqOf(val), Detail: "ids: an id that is not this record's points at it"})
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
			r.Add(Problem{File: file, Kind: ProblemAttrs, Seq: seqOf(k), Detail: "attrs: entry for a missing record"})
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
			r.Add(Problem{File: file, Kind: ProblemFormat, Detail: string(b) + ": bucket missing"})
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
				r.Add(Problem{File: file, Kind: ProblemFormat, Detail: "bad index key in " + string(b)})
				continue
			}
			sk := k[len(k)-8:]
			seq := binary.BigEndian.Uint64(sk)
			if recs.Get(sk) == nil {
				r.Add(Problem{File: file, Kind: ProblemIndex, Seq: seq, Detail: string(b) + " entry points at a missing record"})
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
				r.Add(Problem{File: file, Kind: ProblemIndex, Seq: seq, Detail: fmt.Sprintf("%s: extra entry %s that its record does not give", b, describeKey(b, k))})
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
			r.Add(Problem{File: file, Kind: ProblemOutbox, Detail: "outbox: undecodable entry"})
			continue
		}
		if !hasKey(due, dueKey(o.next, string(k))) {
			r.Add(Problem{File: file, Kind: ProblemOutbox, Seq: o.seq, Detail: "outbox_due: entry missing for a pending notification"})
		}
		if o.body != nil {
			if o.seq > anchorSeq {
				r.Add(Problem{File: file, Kind: ProblemOutbox, Seq: o.seq, Detail: "outbox: a live record's notification carries its own body"})
			}
			continue
		}
		rv := recs.Get(be64(o.seq))
		if rv == nil {
			r.Add(Problem{File: file, Kind: ProblemOutbox, Seq: o.seq, Detail: "outbox: notification of a missing record"})
			continue
		}
		if st, err := unmarshalRecord(rv, false); err == nil && st.ID != string(k) {
			r.Add(Problem{File: file, Kind: ProblemOutbox, Seq: o.seq, Detail: "outbox: notification id is not its record's id"})
		}
		if a, ok := attrsOf(o.seq); ok && !badAttrs[o.seq] && a.practice != o.practice {
			r.Add(Problem{File: file, Kind: ProblemOutbox, Seq: o.seq, Detail: fmt.Sprintf("outbox: practice expected %q, found %q", a.practice, o.practice)})
		}
	}
	dc := due.Cursor()
	for k, _ := dc.First(); k != nil; k, _ = dc.Next() {
		if err := tick(); err != nil {
			return err
		}
		if len(k) < 8 {
			r.Add(Problem{File: file, Kind: ProblemOutbox, Detail: "outbox_due: bad key"})
			continue
		}
		ov := ob.Get(k[8:])
		if ov == nil {
			r.Add(Problem{File: file, Kind: ProblemOutbox, Detail: "outbox_due: entry for no pending notification"})
			continue
		}
		if o, err := unmarshalOutbox(ov); err == nil && !bytes.Equal(timeKey(o.next), k[:8]) {
			r.Add(Problem{File: file, Kind: ProblemOutbox, Seq: o.seq, Detail: "outbox_due: entry at another time than its notification's"})
		}
	}
	return nil
}

// expectedAttrs rebuilds a record's attrs from its body (audit.ExpectedAttrs).
func expectedAttrs(d *audit.Decoded, stored *attrs) attrs {
	return toAttrs(audit.ExpectedAttrs(d, stored.audit()))
}

// diffAttrs names each field that differs (audit.DiffAttrs).
func diffAttrs(want, got *attrs) []string { return audit.DiffAttrs(want.audit(), got.audit()) }

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
