package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"mig"
)

// archiveChunk is how many records move per transaction.
const archiveChunk = 2000

// Archive moves the records with Seq < beforeSeq into a new bbolt segment
// at dstPath (which must not exist). The segment holds the records, their
// id index and the chain anchor (the Seq and Hash before its first record),
// and is fsync'd before anything leaves the live file. The live file then
// drops the records, their index entries and attrs in chunks, each chunk
// moving the live anchor forward in the same transaction, so a crash at any
// point leaves archive + live verifiable as one chain (VerifyFiles). Pending
// notifications for archived records keep a copy of the body.
func (s *Store) Archive(ctx context.Context, beforeSeq uint64, dstPath string) error {
	var firstSeq, lastSeq, anchorSeq uint64
	var anchorHash [32]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		lastSeq, _, err = position(tx)
		if err != nil {
			return err
		}
		if a := tx.Bucket(bMeta).Get(kAnchor); len(a) == 40 {
			anchorSeq = binary.BigEndian.Uint64(a)
			copy(anchorHash[:], a[8:])
		}
		if k, _ := tx.Bucket(bRecords).Cursor().First(); k != nil {
			firstSeq = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	if err != nil {
		return unavailable("audit store could not be read", err)
	}
	if firstSeq == 0 || beforeSeq <= firstSeq || beforeSeq > lastSeq+1 {
		return mig.Errorf(mig.EINVALID, "nothing to archive below seq %d (live records %d to %d)", beforeSeq, firstSeq, lastSeq)
	}
	if _, err := os.Stat(dstPath); !errors.Is(err, fs.ErrNotExist) {
		return mig.Errorf(mig.ECONFLICT, "archive file already exists")
	}
	dst, err := bolt.Open(dstPath, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return unavailable("archive file could not be created", mig.StoreOpenError(err, bolt.ErrTimeout))
	}
	err = dst.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bMeta, bRecords, bIDs} {
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		return tx.Bucket(bMeta).Put(kAnchor, posValue(anchorSeq, anchorHash))
	})
	// Copy.
	for from := firstSeq; err == nil && from < beforeSeq; {
		if err = ctx.Err(); err != nil {
			break
		}
		var recs [][]byte
		err = s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bRecords).Cursor()
			for k, v := c.Seek(be64(from)); k != nil && len(recs) < archiveChunk && binary.BigEndian.Uint64(k) < beforeSeq; k, v = c.Next() {
				recs = append(recs, bytes.Clone(v))
			}
			return nil
		})
		if err != nil || len(recs) == 0 {
			break
		}
		err = dst.Update(func(tx *bolt.Tx) error {
			rb, ib := tx.Bucket(bRecords), tx.Bucket(bIDs)
			for _, v := range recs {
				st, err := unmarshalRecord(v, false)
				if err != nil {
					return err
				}
				k := be64(st.Seq)
				if err := rb.Put(k, v); err != nil {
					return err
				}
				if err := ib.Put([]byte(st.ID), k); err != nil {
					return err
				}
				from = st.Seq + 1
				if err := tx.Bucket(bMeta).Put(kHead, posValue(st.Seq, st.Hash)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dstPath)
		return unavailable("audit archive could not be written", err)
	}
	// The segment must verify before anything leaves the live file.
	rep, err := VerifyFile(ctx, dstPath)
	if err != nil {
		return err
	}
	if !rep.OK() || rep.LastSeq != beforeSeq-1 {
		return mig.Errorf(mig.EINTERNAL, "archive segment does not verify")
	}
	// Delete from the live file, moving the anchor with each chunk.
	for from := firstSeq; from < beforeSeq; {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := s.db.Update(func(tx *bolt.Tx) error {
			recs, ids, at := tx.Bucket(bRecords), tx.Bucket(bIDs), tx.Bucket(bAttrs)
			ob, due := tx.Bucket(bOutbox), tx.Bucket(bOutboxDue)
			c := recs.Cursor()
			var n int
			var lastSeq uint64
			var lastHash [32]byte
			var dels [][]byte
			for k, v := c.Seek(be64(from)); k != nil && n < archiveChunk && binary.BigEndian.Uint64(k) < beforeSeq; k, v = c.Next() {
				st, err := unmarshalRecord(v, true)
				if err != nil {
					return err
				}
				if av := at.Get(k); av != nil {
					a, err := unmarshalAttrs(av)
					if err != nil {
						return err
					}
					for _, ix := range indexEntries(&a, st.Seq) {
						if err := tx.Bucket(ix.bucket).Delete(ix.key); err != nil {
							return err
						}
					}
				}
				if ov := ob.Get([]byte(st.ID)); ov != nil {
					o, err := unmarshalOutbox(ov)
					if err != nil {
						return err
					}
					if o.body == nil {
						o.body = st.Body
						if err := putOutbox(ob, due, st.ID, o); err != nil {
							return err
						}
					}
				}
				if err := ids.Delete([]byte(st.ID)); err != nil {
					return err
				}
				dels = append(dels, bytes.Clone(k))
				lastSeq, lastHash = st.Seq, st.Hash
				n++
			}
			for _, k := range dels {
				if err := at.Delete(k); err != nil {
					return err
				}
				if err := recs.Delete(k); err != nil {
					return err
				}
			}
			if n == 0 {
				from = beforeSeq
				return nil
			}
			from = lastSeq + 1
			return tx.Bucket(bMeta).Put(kAnchor, posValue(lastSeq, lastHash))
		})
		if err != nil {
			return unavailable("audit archive could not be completed", err)
		}
	}
	return nil
}
