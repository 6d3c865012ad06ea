// Package bolt is the audit store on go.etcd.io/bbolt: an append-only,
// hash-chained log of AuditEvents with secondary indexes, the GP
// notification outbox and the export job table, all in one file.
//
// Layout (buckets):
//
//	meta       anchor -> seq|hash of the record before the first one held here
//	           head   -> seq|hash of the last record appended
//	records    seq (8 bytes big-endian) -> seq|prev|hash|idlen(2)|id|body
//	ids        AuditEvent id -> seq
//	attrs      seq -> time|emergency|outcome|subtype|nhs|user|org|practice (filter fields)
//	ix_patient nhs 0x00 seq;  ix_user user 0x00 seq;  ix_org ods 0x00 seq (user's org and patient's practice)
//	ix_time    time seq;      ix_outcome outcome 0x00 seq (outcome != 0);  ix_subtype subtype 0x00 seq (not read/search-type)
//	outbox     id -> seq|next|attempts|practice[|body];  outbox_due next|id
//	jobs       id -> ExportJob JSON
//
// Hash = SHA-256(Prev || Body); Prev of Seq 1 is zero. Only this package
// imports bbolt.
package bolt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"mig"
	"mig/audit"
)

var (
	bMeta      = []byte("meta")
	bRecords   = []byte("records")
	bIDs       = []byte("ids")
	bAttrs     = []byte("attrs")
	bPatient   = []byte("ix_patient")
	bUser      = []byte("ix_user")
	bOrg       = []byte("ix_org")
	bTime      = []byte("ix_time")
	bOutcome   = []byte("ix_outcome")
	bSubtype   = []byte("ix_subtype")
	bOutbox    = []byte("outbox")
	bOutboxDue = []byte("outbox_due")
	bJobs      = []byte("jobs")

	kAnchor = []byte("anchor")
	kHead   = []byte("head")

	liveBuckets  = [][]byte{bMeta, bRecords, bIDs, bAttrs, bPatient, bUser, bOrg, bTime, bOutcome, bSubtype, bOutbox, bOutboxDue, bJobs}
	indexBuckets = [][]byte{bPatient, bUser, bOrg, bTime, bOutcome, bSubtype}
)

// Options tune the store. Zero values take the defaults.
type Options struct {
	// Group commit: concurrent Appends share one fsync'd transaction of up
	// to MaxBatchSize calls, started at most MaxBatchDelay after the first
	// (defaults 256 and 300 µs). A lone Append commits at once.
	MaxBatchSize  int
	MaxBatchDelay time.Duration
	Timeout       time.Duration // wait for the file lock (default 5 s)
	ReadOnly      bool
	// NoSync skips fsync: only for building benchmark fixtures.
	NoSync bool
	// Encoder names the gateway in AuditEvents (default audit.DefaultEncoder).
	Encoder *audit.Encoder
	// DefaultLimit caps Search when Query.Limit <= 0 (default 1000).
	DefaultLimit int
}

// Store is the bbolt audit store. It implements audit.Store, audit.Outbox
// and audit.JobStore.
type Store struct {
	db       *bolt.DB
	enc      audit.Encoder
	limit    int
	inflight atomic.Int64
}

var (
	_ audit.Store    = (*Store)(nil)
	_ audit.Outbox   = (*Store)(nil)
	_ audit.JobStore = (*Store)(nil)
)

func unavailable(msg string, err error) error {
	return &mig.Error{Code: mig.EUNAVAILABLE, Issue: mig.IssueAuditUnavailable, Message: msg, Err: err}
}

// Open opens (creating if needed) the store at path.
func Open(path string, opts Options) (*Store, error) {
	if opts.MaxBatchSize <= 0 {
		opts.MaxBatchSize = 256
	}
	if opts.MaxBatchDelay <= 0 {
		opts.MaxBatchDelay = 300 * time.Microsecond
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.DefaultLimit <= 0 {
		opts.DefaultLimit = 1000
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, ReadOnly: opts.ReadOnly, NoSync: opts.NoSync})
	if err != nil {
		return nil, unavailable("audit store could not be opened", mig.StoreOpenError(err, bolt.ErrTimeout))
	}
	db.MaxBatchSize, db.MaxBatchDelay = opts.MaxBatchSize, opts.MaxBatchDelay
	s := &Store{db: db, enc: audit.DefaultEncoder, limit: opts.DefaultLimit}
	if opts.Encoder != nil {
		s.enc = *opts.Encoder
	}
	if !opts.ReadOnly {
		err = db.Update(func(tx *bolt.Tx) error {
			for _, b := range liveBuckets {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			db.Close()
			return nil, unavailable("audit store could not be initialised", err)
		}
	}
	return s, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Path returns the file path.
func (s *Store) Path() string { return s.db.Path() }

func be64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

// attrs are the filter fields of one event.
type attrs struct {
	time      int64
	emergency bool
	outcome   string
	subtype   string
	nhs       string
	user      string
	org       string
	practice  string
}

func toAttrs(a audit.Attrs) attrs {
	return attrs{time: a.Time, emergency: a.Emergency, outcome: a.Outcome, subtype: a.Subtype,
		nhs: a.NHSNumber, user: a.UserID, org: a.OrgODS, practice: a.Practice}
}

func (a *attrs) audit() audit.Attrs {
	return audit.Attrs{Time: a.time, Emergency: a.emergency, Outcome: a.outcome, Subtype: a.subtype,
		NHSNumber: a.nhs, UserID: a.user, OrgODS: a.org, Practice: a.practice}
}

func (a *attrs) marshal() []byte {
	b := make([]byte, 9, 64)
	binary.BigEndian.PutUint64(b, uint64(a.time))
	if a.emergency {
		b[8] = 1
	}
	for _, s := range []string{a.outcome, a.subtype, a.nhs, a.user, a.org, a.practice} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

var errFormat = errors.New("malformed audit record")

func unmarshalAttrs(b []byte) (attrs, error) {
	var a attrs
	if len(b) < 9 {
		return a, errFormat
	}
	a.time = int64(binary.BigEndian.Uint64(b))
	a.emergency = b[8] == 1
	b = b[9:]
	for _, p := range []*string{&a.outcome, &a.subtype, &a.nhs, &a.user, &a.org, &a.practice} {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return a, errFormat
		}
		*p = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	return a, nil
}

// timeKey orders times (including before 1970) as unsigned big-endian.
func timeKey(ns int64) []byte { return be64(uint64(ns) ^ 1<<63) }

func ixKey(value string, seq uint64) []byte {
	k := make([]byte, 0, len(value)+9)
	k = append(k, value...)
	k = append(k, 0)
	return append(k, be64(seq)...)
}

type ixEntry struct {
	bucket []byte
	key    []byte
}

// indexEntries are the secondary index keys of one record.
func indexEntries(a *attrs, seq uint64) []ixEntry {
	out := make([]ixEntry, 0, 7)
	if a.nhs != "" {
		out = append(out, ixEntry{bPatient, ixKey(a.nhs, seq)})
	}
	if a.user != "" {
		out = append(out, ixEntry{bUser, ixKey(a.user, seq)})
	}
	if a.org != "" {
		out = append(out, ixEntry{bOrg, ixKey(a.org, seq)})
	}
	if a.practice != "" && a.practice != a.org {
		out = append(out, ixEntry{bOrg, ixKey(a.practice, seq)})
	}
	out = append(out, ixEntry{bTime, append(timeKey(a.time), be64(seq)...)})
	if a.outcome != audit.OutcomeSuccess {
		out = append(out, ixEntry{bOutcome, ixKey(a.outcome, seq)})
	}
	if a.subtype != "read" && a.subtype != "search-type" {
		out = append(out, ixEntry{bSubtype, ixKey(a.subtype, seq)})
	}
	if a.emergency {
		out = append(out, ixEntry{bSubtype, ixKey(audit.SubtypeEmergencyOverride, seq)})
	}
	return out
}

// record value codec.
const hdr = 8 + 32 + 32 + 2

func marshalRecord(st *audit.Stored) []byte {
	v := make([]byte, hdr, hdr+len(st.ID)+len(st.Body))
	binary.BigEndian.PutUint64(v, st.Seq)
	copy(v[8:], st.Prev[:])
	copy(v[40:], st.Hash[:])
	binary.BigEndian.PutUint16(v[72:], uint16(len(st.ID)))
	v = append(v, st.ID...)
	return append(v, st.Body...)
}

// unmarshalRecord decodes v; with copyBody false the body aliases v (valid
// only inside the transaction).
func unmarshalRecord(v []byte, copyBody bool) (*audit.Stored, error) {
	if len(v) < hdr {
		return nil, errFormat
	}
	n := int(binary.BigEndian.Uint16(v[72:]))
	if len(v) < hdr+n {
		return nil, errFormat
	}
	st := &audit.Stored{Seq: binary.BigEndian.Uint64(v), ID: string(v[hdr : hdr+n])}
	copy(st.Prev[:], v[8:40])
	copy(st.Hash[:], v[40:72])
	st.Body = v[hdr+n:]
	if copyBody {
		st.Body = bytes.Clone(st.Body)
	}
	return st, nil
}

// position returns the last seq and hash in tx: the last record, or the
// anchor when every record has been archived (or none written).
func position(tx *bolt.Tx) (uint64, [32]byte, error) {
	var h [32]byte
	if k, v := tx.Bucket(bRecords).Cursor().Last(); k != nil {
		st, err := unmarshalRecord(v, false)
		if err != nil {
			return 0, h, err
		}
		return st.Seq, st.Hash, nil
	}
	if a := tx.Bucket(bMeta).Get(kAnchor); a != nil {
		if len(a) != 40 {
			return 0, h, errFormat
		}
		copy(h[:], a[8:])
		return binary.BigEndian.Uint64(a), h, nil
	}
	return 0, h, nil
}

func posValue(seq uint64, h [32]byte) []byte { return append(be64(seq), h[:]...) }

type prepared struct {
	id    string
	body  []byte
	attrs attrs
}

// Append stores events durably in one transaction (shared with concurrent
// Appends: group commit) and returns them numbered and chained. On error
// nothing of this call is stored.
func (s *Store) Append(ctx context.Context, events ...*audit.Event) ([]*audit.Stored, error) {
	if len(events) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, unavailable("audit append cancelled", err)
	}
	// Encode outside the transaction: ids and bodies do not depend on Seq,
	// so a Batch retry re-runs only the numbering.
	prep := make([]prepared, len(events))
	for i, e := range events {
		id := audit.NewID()
		body, err := s.enc.Encode(id, e)
		if err != nil {
			return nil, &mig.Error{Code: mig.EINTERNAL, Message: "audit event could not be encoded", Err: err}
		}
		prep[i] = prepared{id: id, body: body, attrs: toAttrs(audit.EventAttrs(e))}
	}
	var out []*audit.Stored
	fn := func(tx *bolt.Tx) error {
		res := make([]*audit.Stored, 0, len(prep)) // fresh on every run: Batch may retry
		seq, prev, err := position(tx)
		if err != nil {
			return err
		}
		recs, ids, at := tx.Bucket(bRecords), tx.Bucket(bIDs), tx.Bucket(bAttrs)
		ob, due := tx.Bucket(bOutbox), tx.Bucket(bOutboxDue)
		for i := range prep {
			p := &prep[i]
			seq++
			st := &audit.Stored{Seq: seq, ID: p.id, Prev: prev, Body: p.body}
			h := sha256.New()
			h.Write(prev[:])
			h.Write(p.body)
			h.Sum(st.Hash[:0])
			prev = st.Hash
			k := be64(seq)
			if err := recs.Put(k, marshalRecord(st)); err != nil {
				return err
			}
			if err := ids.Put([]byte(p.id), k); err != nil {
				return err
			}
			if err := at.Put(k, p.attrs.marshal()); err != nil {
				return err
			}
			for _, ix := range indexEntries(&p.attrs, seq) {
				if err := tx.Bucket(ix.bucket).Put(ix.key, nil); err != nil {
					return err
				}
			}
			if p.attrs.practice != "" {
				if err := putOutbox(ob, due, p.id, outboxValue{seq: seq, practice: p.attrs.practice}); err != nil {
					return err
				}
			}
			res = append(res, st)
		}
		if err := tx.Bucket(bMeta).Put(kHead, posValue(seq, prev)); err != nil {
			return err
		}
		out = res
		return nil
	}
	var err error
	if s.inflight.Add(1) == 1 {
		err = s.db.Update(fn) // alone: no reason to wait for company
	} else {
		err = s.db.Batch(fn)
	}
	s.inflight.Add(-1)
	if err != nil {
		return nil, unavailable("audit record could not be stored", err)
	}
	return out, nil
}

// Get returns the event with the AuditEvent id (ENOTFOUND when absent).
func (s *Store) Get(ctx context.Context, id string) (*audit.Stored, error) {
	var st *audit.Stored
	err := s.db.View(func(tx *bolt.Tx) error {
		k := tx.Bucket(bIDs).Get([]byte(id))
		if k == nil {
			return nil
		}
		v := tx.Bucket(bRecords).Get(k)
		if v == nil {
			return nil
		}
		var err error
		st, err = unmarshalRecord(v, true)
		return err
	})
	if err != nil {
		return nil, unavailable("audit store could not be read", err)
	}
	if st == nil {
		return nil, mig.Errorf(mig.ENOTFOUND, "no audit event with that id")
	}
	return st, nil
}

// Scan calls fn for every event with Seq > after, in order. It reads in
// chunks of 256 records, each in its own read transaction, and calls fn
// outside any transaction: memory stays constant and a slow fn does not
// pin the file.
func (s *Store) Scan(ctx context.Context, after uint64, fn func(*audit.Stored) error) error {
	const chunk = 256
	buf := make([]*audit.Stored, 0, chunk)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		buf = buf[:0]
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bRecords).Cursor()
			for k, v := c.Seek(be64(after + 1)); k != nil && len(buf) < chunk; k, v = c.Next() {
				st, err := unmarshalRecord(v, true)
				if err != nil {
					return err
				}
				buf = append(buf, st)
			}
			return nil
		})
		if err != nil {
			return unavailable("audit store could not be read", err)
		}
		for _, st := range buf {
			if err := fn(st); err != nil {
				return err
			}
			after = st.Seq
		}
		if len(buf) < chunk {
			return nil
		}
	}
}

// Last returns the Seq and Hash of the last record (the anchor if none).
func (s *Store) Last(ctx context.Context) (seq uint64, hash [32]byte, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		seq, hash, err = position(tx)
		return err
	})
	return seq, hash, err
}

// Head returns the Seq and Hash of the last record (the anchor if none):
// what a signed checkpoint covers (audit.ChainHead).
func (s *Store) Head(ctx context.Context) (uint64, [32]byte, error) {
	seq, h, err := s.Last(ctx)
	if err != nil {
		return 0, h, unavailable("audit store could not be read", err)
	}
	return seq, h, nil
}

// HashAt returns the chain hash of record seq, or the anchor's hash at the
// anchor's seq; ok is false for a seq this file does not hold.
func (s *Store) HashAt(ctx context.Context, seq uint64) (hash [32]byte, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bRecords).Get(be64(seq)); v != nil {
			st, err := unmarshalRecord(v, false)
			if err != nil {
				return err
			}
			if st.Seq == seq {
				hash, ok = st.Hash, true
			}
			return nil
		}
		if a := tx.Bucket(bMeta).Get(kAnchor); len(a) == 40 && binary.BigEndian.Uint64(a) == seq {
			copy(hash[:], a[8:])
			ok = true
		}
		return nil
	})
	if err != nil {
		return hash, false, unavailable("audit store could not be read", err)
	}
	return hash, ok, nil
}

var _ audit.ChainHead = (*Store)(nil)

// Where the gateway keeps this store's checkpoints (meta keys), so that
// migctl audit verify finds them without flags. They are hints, not
// evidence: an insider can change them, so verify prints the log and the
// key's id it used.
var (
	kCheckpointLog = []byte("checkpoint_log")
	kCheckpointPub = []byte("checkpoint_pub")
)

// CheckpointPlace is where a store's checkpoint log and public key are.
type CheckpointPlace = audit.CheckpointPlace

// SetCheckpointPlace records where the checkpoint log and public key are.
func (s *Store) SetCheckpointPlace(ctx context.Context, p CheckpointPlace) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bMeta)
		if err := m.Put(kCheckpointLog, []byte(p.Log)); err != nil {
			return err
		}
		return m.Put(kCheckpointPub, []byte(p.PublicKey))
	})
	if err != nil {
		return unavailable("audit store could not be updated", err)
	}
	return nil
}

// ReadCheckpointPlace reads where a stopped gateway's store says its
// checkpoints are (empty if it never said).
func ReadCheckpointPlace(path string) (p CheckpointPlace, err error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return p, unavailable("audit file could not be opened read-only", mig.StoreOpenError(err, bolt.ErrTimeout))
	}
	defer db.Close()
	defer func() {
		if r := recover(); r != nil { // a damaged page: verify reports it
			p, err = CheckpointPlace{}, nil
		}
	}()
	err = db.View(func(tx *bolt.Tx) error {
		if m := tx.Bucket(bMeta); m != nil {
			p.Log, p.PublicKey = string(m.Get(kCheckpointLog)), string(m.Get(kCheckpointPub))
		}
		return nil
	})
	return p, err
}
