package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"slices"

	bolt "go.etcd.io/bbolt"

	"mig/audit"
)

// seqIter yields ascending seqs.
type seqIter interface {
	next() (uint64, bool)
}

// prefixIter walks one index value's entries (value 0x00 seq) from a seq on.
type prefixIter struct {
	c      *bolt.Cursor
	prefix []byte
	k      []byte
	start  bool
	from   []byte
}

func newPrefixIter(b *bolt.Bucket, value string, after uint64) *prefixIter {
	p := append([]byte(value), 0)
	return &prefixIter{c: b.Cursor(), prefix: p, start: true, from: append(bytes.Clone(p), be64(after+1)...)}
}

func (it *prefixIter) next() (uint64, bool) {
	if it.start {
		it.k, _ = it.c.Seek(it.from)
		it.start = false
	} else {
		it.k, _ = it.c.Next()
	}
	if it.k == nil || !bytes.HasPrefix(it.k, it.prefix) || len(it.k) != len(it.prefix)+8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(it.k[len(it.prefix):]), true
}

// mergeIter merges ascending iterators, dropping duplicates.
type mergeIter struct {
	its  []seqIter
	head []uint64
	ok   []bool
	init bool
	last uint64
}

func (m *mergeIter) next() (uint64, bool) {
	if !m.init {
		m.head, m.ok = make([]uint64, len(m.its)), make([]bool, len(m.its))
		for i, it := range m.its {
			m.head[i], m.ok[i] = it.next()
		}
		m.init = true
	}
	for {
		best := -1
		for i := range m.its {
			if m.ok[i] && (best < 0 || m.head[i] < m.head[best]) {
				best = i
			}
		}
		if best < 0 {
			return 0, false
		}
		v := m.head[best]
		m.head[best], m.ok[best] = m.its[best].next()
		if v != m.last || v == 0 {
			m.last = v
			return v, true
		}
	}
}

// cursorIter walks a seq-keyed bucket (attrs) in order.
type cursorIter struct {
	c     *bolt.Cursor
	after uint64
	start bool
}

func (it *cursorIter) next() (uint64, bool) {
	var k []byte
	if !it.start {
		k, _ = it.c.Seek(be64(it.after + 1))
		it.start = true
	} else {
		k, _ = it.c.Next()
	}
	if len(k) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k), true
}

// sliceIter yields a sorted slice.
type sliceIter struct {
	s []uint64
	i int
}

func (it *sliceIter) next() (uint64, bool) {
	if it.i >= len(it.s) {
		return 0, false
	}
	it.i++
	return it.s[it.i-1], true
}

func (s *Store) matches(q *audit.Query, orgs map[string]bool, a *attrs) bool {
	switch {
	case q.NHSNumber != "" && a.nhs != q.NHSNumber,
		q.Agent != "" && a.user != q.Agent,
		q.Outcome != "" && a.outcome != q.Outcome,
		!q.Since.IsZero() && a.time < q.Since.UnixNano(),
		!q.Until.IsZero() && a.time >= q.Until.UnixNano():
		return false
	}
	if q.Subtype != "" && a.subtype != q.Subtype && !(q.Subtype == audit.SubtypeEmergencyOverride && a.emergency) {
		return false
	}
	if orgs != nil && !orgs[a.org] && !orgs[a.practice] {
		return false
	}
	return true
}

// Search returns matching events in Seq order, at most q.Limit (the
// store's default limit when q.Limit <= 0). It walks the most selective
// index (patient, user, outcome, subtype, organisations, time), checking
// the other filters against each candidate's small attrs entry, so a
// search for one patient or user reads only that patient's or user's
// entries. A query with only a time range collects the range's seqs first
// (8 bytes each) to return them in Seq order.
func (s *Store) Search(ctx context.Context, q audit.Query) ([]*audit.Stored, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = s.limit
	}
	var orgs map[string]bool
	if q.OrgODS != nil {
		if len(q.OrgODS) == 0 {
			return nil, nil
		}
		orgs = make(map[string]bool, len(q.OrgODS))
		for _, o := range q.OrgODS {
			orgs[o] = true
		}
	}
	var out []*audit.Stored
	err := s.db.View(func(tx *bolt.Tx) error {
		var it seqIter
		switch {
		case q.NHSNumber != "":
			it = newPrefixIter(tx.Bucket(bPatient), q.NHSNumber, q.AfterSeq)
		case q.Agent != "":
			it = newPrefixIter(tx.Bucket(bUser), q.Agent, q.AfterSeq)
		case q.Outcome != "" && q.Outcome != audit.OutcomeSuccess:
			it = newPrefixIter(tx.Bucket(bOutcome), q.Outcome, q.AfterSeq)
		case q.Subtype != "" && q.Subtype != "read" && q.Subtype != "search-type":
			it = newPrefixIter(tx.Bucket(bSubtype), q.Subtype, q.AfterSeq)
		case orgs != nil:
			m := &mergeIter{}
			for o := range orgs {
				m.its = append(m.its, newPrefixIter(tx.Bucket(bOrg), o, q.AfterSeq))
			}
			it = m
		case !q.Since.IsZero() || !q.Until.IsZero():
			var seqs []uint64
			c := tx.Bucket(bTime).Cursor()
			for k, _ := c.Seek(timeKey(q.Since.UnixNano())); k != nil; k, _ = c.Next() {
				if len(k) != 16 {
					return errFormat
				}
				if !q.Until.IsZero() && bytes.Compare(k[:8], timeKey(q.Until.UnixNano())) >= 0 {
					break
				}
				if seq := binary.BigEndian.Uint64(k[8:]); seq > q.AfterSeq {
					seqs = append(seqs, seq)
				}
			}
			slices.Sort(seqs)
			it = &sliceIter{s: seqs}
		default:
			it = &cursorIter{c: tx.Bucket(bAttrs).Cursor(), after: q.AfterSeq}
		}
		at, recs := tx.Bucket(bAttrs), tx.Bucket(bRecords)
		for len(out) < limit {
			seq, ok := it.next()
			if !ok {
				return nil
			}
			if len(out)%64 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			k := be64(seq)
			av := at.Get(k)
			if av == nil {
				continue // archived
			}
			a, err := unmarshalAttrs(av)
			if err != nil {
				return err
			}
			if !s.matches(&q, orgs, &a) {
				continue
			}
			v := recs.Get(k)
			if v == nil {
				continue
			}
			st, err := unmarshalRecord(v, true)
			if err != nil {
				return err
			}
			out = append(out, st)
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, unavailable("audit store could not be read", err)
	}
	return out, nil
}
