// Package bolt is the bbolt implementation of locator.Index. It holds
// identifiers only: NHS numbers and practice ODS codes.
//
// Layout:
//
//	practices: <ODS>                      -> generation(8) count(8) updated(8, unix ns)
//	fwd:       <NHS number(10)><ODS>      -> ""   (Lookup: prefix scan)
//	sets:      <ODS> / <NHS number>       -> ""   (the practice's current set)
//
// Replace reads the practice's new list into memory (sorted; about 11 bytes
// a number, so memory is bounded by the largest practice, not the region),
// then applies only the difference from the stored set and bumps the
// generation in one transaction (shared with concurrent Replaces by
// bbolt's Batch): the swap is atomic, and a refresh of a
// practice whose list has not changed writes nothing but its counters.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"mig"
	"mig/adapters/locator"
)

var (
	bucketPractices = []byte("practices")
	bucketFwd       = []byte("fwd")
	bucketSets      = []byte("sets")
)

// Index is a locator.Index in a bbolt file.
type Index struct {
	db *bolt.DB

	mu    sync.Mutex
	locks map[string]*sync.Mutex // one Replace per practice at a time
}

var (
	_ locator.Index = (*Index)(nil)
	_ locator.Lease = (*Index)(nil)
)

// Open opens (creating if need be) the index file.
func Open(path string) (*Index, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, &mig.Error{Code: mig.EUNAVAILABLE, Message: "patient index: cannot open the database", Err: mig.StoreOpenError(err, bolt.ErrTimeout)}
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketPractices, bucketFwd, bucketSets} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, &mig.Error{Code: mig.EUNAVAILABLE, Message: "patient index: cannot initialise the database", Err: err}
	}
	db.MaxBatchDelay = 2 * time.Millisecond
	return &Index{db: db, locks: map[string]*sync.Mutex{}}, nil
}

// TryLease implements locator.Lease trivially: one process holds the file
// (bbolt's lock), so whoever asks through it holds the lease.
func (x *Index) TryLease(ctx context.Context, name, holder string, _ time.Time, ttl time.Duration) (bool, error) {
	if err := locator.CheckLease(name, holder, ttl); err != nil {
		return false, err
	}
	return ctx.Err() == nil, ctx.Err()
}

// Close closes the database.
func (x *Index) Close() error { return x.db.Close() }

func (x *Index) lock(practice string) func() {
	x.mu.Lock()
	m := x.locks[practice]
	if m == nil {
		m = &sync.Mutex{}
		x.locks[practice] = m
	}
	x.mu.Unlock()
	m.Lock()
	return m.Unlock
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func fwdKey(nhs, practice string) []byte {
	k := make([]byte, 0, len(nhs)+len(practice))
	k = append(k, nhs...)
	return append(k, practice...)
}

func storeErr(err error) error {
	var me *mig.Error
	if err == nil || errors.As(err, &me) {
		return err
	}
	return &mig.Error{Code: mig.EUNAVAILABLE, Message: "patient index: storage failure", Err: err}
}

// Replace implements locator.Index. Numbers that are not valid NHS numbers
// are skipped. Nothing changes unless each returns nil.
func (x *Index) Replace(ctx context.Context, practice string, each func(add func(nhs string) error) error) error {
	if practice == "" {
		return mig.Errorf(mig.EINVALID, "patient index: practice code required")
	}
	defer x.lock(practice)()

	list, err := locator.CollectNumbers(ctx, each)
	if err != nil {
		return err
	}

	// Batch lets concurrent Replaces (Locator.Refresh lists practices in
	// parallel) share one commit; the function is idempotent, as Batch may
	// run it twice.
	err = x.db.Batch(func(tx *bolt.Tx) error {
		set, err := tx.Bucket(bucketSets).CreateBucketIfNotExists([]byte(practice))
		if err != nil {
			return err
		}
		set.FillPercent = 0.9
		fwd := tx.Bucket(bucketFwd)
		// Merge the stored set (sorted) with the new list (sorted).
		var gone [][]byte
		var added []string
		c := set.Cursor()
		k, _ := c.First()
		i := 0
		for k != nil || i < len(list) {
			switch {
			case k == nil || (i < len(list) && list[i] < string(k)):
				added = append(added, list[i])
				i++
			case i >= len(list) || string(k) < list[i]:
				gone = append(gone, append([]byte(nil), k...))
				k, _ = c.Next()
			default:
				i++
				k, _ = c.Next()
			}
		}
		for _, nhs := range gone {
			if err := set.Delete(nhs); err != nil {
				return err
			}
			if err := fwd.Delete(fwdKey(string(nhs), practice)); err != nil {
				return err
			}
		}
		for _, nhs := range added {
			if err := set.Put([]byte(nhs), nil); err != nil {
				return err
			}
			if err := fwd.Put(fwdKey(nhs, practice), nil); err != nil {
				return err
			}
		}
		prac := tx.Bucket(bucketPractices)
		var gen uint64
		if v := prac.Get([]byte(practice)); len(v) >= 8 {
			gen = binary.BigEndian.Uint64(v[:8])
		}
		v := make([]byte, 0, 24)
		v = append(v, u64(gen+1)...)
		v = append(v, u64(uint64(len(list)))...)
		v = append(v, u64(uint64(time.Now().UnixNano()))...)
		return prac.Put([]byte(practice), v)
	})
	return storeErr(err)
}

// Lookup implements locator.Index.
func (x *Index) Lookup(ctx context.Context, nhs string) ([]string, error) {
	if !mig.ValidNHSNumber(nhs) {
		return nil, nil
	}
	var out []string
	err := x.db.View(func(tx *bolt.Tx) error {
		prac := tx.Bucket(bucketPractices)
		c := tx.Bucket(bucketFwd).Cursor()
		prefix := []byte(nhs)
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if practice := k[len(prefix):]; len(practice) > 0 && prac.Get(practice) != nil {
				out = append(out, string(practice))
			}
		}
		return nil
	})
	if err != nil {
		return nil, storeErr(err)
	}
	sort.Strings(out)
	return out, nil
}

// Stats implements locator.Index.
func (x *Index) Stats(ctx context.Context) (locator.Stats, error) {
	st := locator.Stats{Practices: map[string]locator.PracticeStats{}}
	err := x.db.View(func(tx *bolt.Tx) error {
		st.Bytes = tx.Size()
		return tx.Bucket(bucketPractices).ForEach(func(k, v []byte) error {
			if len(v) < 24 {
				return nil
			}
			ps := locator.PracticeStats{
				Generation: binary.BigEndian.Uint64(v[:8]),
				Count:      int(binary.BigEndian.Uint64(v[8:16])),
				Updated:    time.Unix(0, int64(binary.BigEndian.Uint64(v[16:24]))).UTC(),
			}
			st.Practices[string(k)] = ps
			st.Numbers += ps.Count
			return nil
		})
	})
	if err != nil {
		return st, storeErr(err)
	}
	return st, nil
}
