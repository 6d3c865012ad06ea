package bolt_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"mig/adapters/locator/bolt"
	"mig/adapters/locator/storetest"
)

// TestContract runs the patient index contract on bbolt. One process holds
// the file, so the suite's "two nodes" share one handle and the lease is
// always granted.
func TestContract(t *testing.T) {
	storetest.Run(t, storetest.Backend{Open: func(t *testing.T) storetest.Store {
		x, err := bolt.Open(filepath.Join(t.TempDir(), "index.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { x.Close() })
		return x
	}})
}

// TestSurvivesReopen: the sets and their statistics are there after the
// file is closed and opened again.
func TestSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	x, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Replace(ctx, "A99901", storetest.List("9990001014", "9990001006")); err != nil {
		t.Fatal(err)
	}
	if err := x.Replace(ctx, "A99902", storetest.List("9990001006")); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	x, err = bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if got, err := x.Lookup(ctx, "9990001006"); err != nil || !slices.Equal(got, []string{"A99901", "A99902"}) {
		t.Fatalf("after reopen: %v %v", got, err)
	}
	if st, err := x.Stats(ctx); err != nil || st.Numbers != 3 || st.Practices["A99901"].Generation != 1 {
		t.Fatalf("stats after reopen: %+v %v", st, err)
	}
}
