package bolt_test

import (
	"path/filepath"
	"testing"

	"mig/consent/bolt"
	"mig/consent/storetest"
)

// TestContract runs the consent store contract on bbolt. One process holds
// the file, so the suite's "two nodes" share one handle.
func TestContract(t *testing.T) {
	storetest.Run(t, storetest.Backend{Open: func(t *testing.T) storetest.DB {
		db, err := bolt.Open(filepath.Join(t.TempDir(), "consent.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}})
}
