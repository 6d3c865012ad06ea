package locpg_test

import (
	"context"
	"testing"

	"mig/adapters/locator/pg"
	"mig/adapters/locator/storetest"
	"mig/internal/pgtest"
)

// handle is one node's view: its own pool on the shared database.
type handle struct {
	*locpg.Index
	url string
}

func open(t testing.TB, url string) *handle {
	t.Helper()
	x, err := locpg.Open(context.Background(), pgtest.Pool(t, url, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return &handle{Index: x, url: url}
}

// TestContract runs the patient index contract on PostgreSQL; the suite's
// second node has its own pool on the same database.
func TestContract(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) storetest.Store { return open(t, pgtest.URL(t)) },
		Peer: func(t *testing.T, s storetest.Store) storetest.Store { return open(t, s.(*handle).url) },
	})
}
