package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"mig"
	"mig/audit"
)

// outboxValue is an outbox entry: the record it reports, when next to try,
// failures so far, the practice, and (only once the record is archived)
// the body itself.
type outboxValue struct {
	seq      uint64
	next     int64 // unix nanoseconds; 0 = due now
	attempts uint32
	practice string
	body     []byte
}

func (o *outboxValue) marshal() []byte {
	b := make([]byte, 21, 21+len(o.practice)+len(o.body))
	binary.BigEndian.PutUint64(b, o.seq)
	binary.BigEndian.PutUint64(b[8:], uint64(o.next))
	binary.BigEndian.PutUint32(b[16:], o.attempts)
	b[20] = byte(len(o.practice))
	b = append(b, o.practice...)
	return append(b, o.body...)
}

func unmarshalOutbox(b []byte) (outboxValue, error) {
	var o outboxValue
	if len(b) < 21 || len(b) < 21+int(b[20]) {
		return o, errFormat
	}
	o.seq = binary.BigEndian.Uint64(b)
	o.next = int64(binary.BigEndian.Uint64(b[8:]))
	o.attempts = binary.BigEndian.Uint32(b[16:])
	n := int(b[20])
	o.practice = string(b[21 : 21+n])
	if len(b) > 21+n {
		o.body = bytes.Clone(b[21+n:])
	}
	return o, nil
}

func dueKey(next int64, id string) []byte {
	return append(timeKey(next), id...)
}

func putOutbox(ob, due *bolt.Bucket, id string, o outboxValue) error {
	if len(o.practice) > 255 {
		return errFormat
	}
	if err := ob.Put([]byte(id), o.marshal()); err != nil {
		return err
	}
	return due.Put(dueKey(o.next, id), nil)
}

// Pending returns up to limit notifications due at now, earliest first.
func (s *Store) Pending(ctx context.Context, now time.Time, limit int) ([]audit.OutboxItem, error) {
	if limit <= 0 {
		limit = 100
	}
	var out []audit.OutboxItem
	err := s.db.View(func(tx *bolt.Tx) error {
		ob, recs := tx.Bucket(bOutbox), tx.Bucket(bRecords)
		c := tx.Bucket(bOutboxDue).Cursor()
		end := timeKey(now.UnixNano())
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			if len(k) < 8 || bytes.Compare(k[:8], end) > 0 {
				break
			}
			id := string(k[8:])
			v := ob.Get(k[8:])
			if v == nil {
				continue
			}
			o, err := unmarshalOutbox(v)
			if err != nil {
				return err
			}
			body := o.body
			if body == nil {
				rv := recs.Get(be64(o.seq))
				if rv == nil {
					return errFormat
				}
				st, err := unmarshalRecord(rv, true)
				if err != nil {
					return err
				}
				body = st.Body
			}
			it := audit.OutboxItem{ID: id, Seq: o.seq, Practice: o.practice, Body: body, Attempts: int(o.attempts)}
			if o.next != 0 {
				it.Next = time.Unix(0, o.next).UTC()
			}
			out = append(out, it)
		}
		return nil
	})
	if err != nil {
		return nil, unavailable("audit outbox could not be read", err)
	}
	return out, nil
}

// Ack removes a delivered notification; acknowledging an unknown id (one
// another node delivered) is not an error.
func (s *Store) Ack(ctx context.Context, id string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		ob := tx.Bucket(bOutbox)
		v := ob.Get([]byte(id))
		if v == nil {
			return nil
		}
		o, err := unmarshalOutbox(v)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bOutboxDue).Delete(dueKey(o.next, id)); err != nil {
			return err
		}
		return ob.Delete([]byte(id))
	})
	if err != nil {
		return unavailable("audit outbox could not be updated", err)
	}
	return nil
}

// Defer reschedules a notification after a failed delivery. An unknown id
// (already acknowledged) is not an error.
func (s *Store) Defer(ctx context.Context, id string, next time.Time, attempts int) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		ob, due := tx.Bucket(bOutbox), tx.Bucket(bOutboxDue)
		v := ob.Get([]byte(id))
		if v == nil {
			return nil
		}
		o, err := unmarshalOutbox(v)
		if err != nil {
			return err
		}
		if err := due.Delete(dueKey(o.next, id)); err != nil {
			return err
		}
		o.next, o.attempts = next.UnixNano(), uint32(attempts)
		return putOutbox(ob, due, id, o)
	})
	if err != nil {
		return unavailable("audit outbox could not be updated", err)
	}
	return nil
}

// PutJob stores an export job.
func (s *Store) PutJob(ctx context.Context, j *audit.ExportJob) error {
	v, err := json.Marshal(j)
	if err != nil {
		return err
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bJobs).Put([]byte(j.ID), v) }); err != nil {
		return unavailable("export job could not be stored", err)
	}
	return nil
}

// GetJob returns an export job, or ENOTFOUND.
func (s *Store) GetJob(ctx context.Context, id string) (*audit.ExportJob, error) {
	var j *audit.ExportJob
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bJobs).Get([]byte(id))
		if v == nil {
			return nil
		}
		j = new(audit.ExportJob)
		return json.Unmarshal(v, j)
	})
	if err != nil {
		return nil, unavailable("export job could not be read", err)
	}
	if j == nil {
		return nil, mig.Errorf(mig.ENOTFOUND, "no export job with that id")
	}
	return j, nil
}

// ClaimJob marks the oldest queued job (or a running one not updated since
// staleBefore) running and returns it; nil when there is none.
func (s *Store) ClaimJob(ctx context.Context, now, staleBefore time.Time) (*audit.ExportJob, error) {
	var claimed *audit.ExportJob
	err := s.db.Update(func(tx *bolt.Tx) error {
		claimed = nil
		b := tx.Bucket(bJobs)
		var best *audit.ExportJob
		err := b.ForEach(func(_, v []byte) error {
			j := new(audit.ExportJob)
			if err := json.Unmarshal(v, j); err != nil {
				return err
			}
			if j.Status == audit.JobQueued || (j.Status == audit.JobRunning && j.Updated.Before(staleBefore)) {
				if best == nil || j.Created.Before(best.Created) {
					best = j
				}
			}
			return nil
		})
		if err != nil || best == nil {
			return err
		}
		best.Status, best.Updated = audit.JobRunning, now
		v, err := json.Marshal(best)
		if err != nil {
			return err
		}
		claimed = best
		return b.Put([]byte(best.ID), v)
	})
	if err != nil {
		return nil, unavailable("export job could not be claimed", err)
	}
	return claimed, nil
}
