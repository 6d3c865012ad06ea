package bolt

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"mig/audit"
	"mig/audit/storetest"
)

// TestContract runs the audit store contract on bbolt: one node (the file
// lock), so Pending only reads and the multi-node cases skip.
func TestContract(t *testing.T) {
	storetest.Run(t, openContract)
}

type contractStore struct {
	path string
	s    *Store // nil while closed (tampered)
}

func (c *contractStore) open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(c.path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.s = s
	return s
}

func (c *contractStore) close() {
	if c.s != nil {
		c.s.Close()
		c.s = nil
	}
}

func openContract(t *testing.T) *storetest.Instance {
	dir := t.TempDir()
	exports := filepath.Join(dir, "exports")
	if err := os.Mkdir(exports, 0o700); err != nil {
		t.Fatal(err)
	}
	c := &contractStore{path: filepath.Join(dir, "audit.db")}
	t.Cleanup(c.close)
	return &storetest.Instance{
		Store: c.open(t),
		Files: audit.ExportDir(exports),
		Reopen: func(t *testing.T) storetest.Store {
			c.close()
			return c.open(t)
		},
		Verify: func(t *testing.T, opt audit.VerifyOptions) *audit.VerifyReport {
			t.Helper()
			var rep *audit.VerifyReport
			var err error
			if c.s != nil {
				rep, err = c.s.Verify(context.Background(), opt)
			} else {
				rep, err = VerifyFilesWith(context.Background(), opt, c.path)
			}
			if err != nil {
				t.Fatal(err)
			}
			return rep
		},
		Tamper: func(t *testing.T, what storetest.Tamper, seq uint64) bool {
			t.Helper()
			c.close()
			db, err := bbolt.Open(c.path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Update(func(tx *bbolt.Tx) error { return tamperTx(tx, what, seq) }); err != nil {
				t.Fatal(err)
			}
			return true
		},
	}
}

// tamperTx makes the insider's edit in the file.
func tamperTx(tx *bbolt.Tx, what storetest.Tamper, seq uint64) error {
	recs := tx.Bucket(bRecords)
	get := func(seq uint64) *audit.Stored {
		st, err := unmarshalRecord(recs.Get(be64(seq)), true)
		if err != nil {
			panic(err)
		}
		return st
	}
	put := func(st *audit.Stored) error { return recs.Put(be64(st.Seq), marshalRecord(st)) }
	switch what {
	case storetest.TamperBody:
		st := get(seq)
		st.Body = storetest.AlterBody(st.Body)
		return put(st)
	case storetest.TamperDelete, storetest.TamperTruncate:
		return recs.Delete(be64(seq))
	case storetest.TamperRechain:
		st := get(seq)
		st.Body = storetest.AlterBody(st.Body)
		st.Hash = storetest.ChainHash(st.Prev, st.Body)
		return put(st)
	case storetest.TamperPatient:
		at := tx.Bucket(bAttrs)
		a, err := unmarshalAttrs(at.Get(be64(seq)))
		if err != nil {
			return err
		}
		a.nhs = "9990009999"
		return at.Put(be64(seq), a.marshal())
	case storetest.TamperRewrite:
		head, _, err := position(tx)
		if err != nil {
			return err
		}
		prev := get(seq).Prev
		for k := seq; k <= head; k++ {
			st := get(k)
			if k == seq {
				st.Body = storetest.AlterBody(st.Body)
			}
			st.Prev, st.Hash = prev, storetest.ChainHash(prev, st.Body)
			prev = st.Hash
			if err := put(st); err != nil {
				return err
			}
		}
		return tx.Bucket(bMeta).Put(kHead, posValue(head, prev))
	}
	return nil
}
