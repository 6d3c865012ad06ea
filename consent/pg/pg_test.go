package consentpg_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	consentpg "mig/consent/pg"
	"mig/consent/storetest"
	"mig/internal/pgstore"
	"mig/internal/pgtest"
)

// handle is one node's view: its own pool on the shared database.
type handle struct {
	*consentpg.DB
	url string
}

func open(t *testing.T, url string) *handle {
	t.Helper()
	db, err := consentpg.Open(context.Background(), pgtest.Pool(t, url, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &handle{DB: db, url: url}
}

// TestContract runs the consent store contract on PostgreSQL; the suite's
// second node has its own pool (its own connections) on the same database.
func TestContract(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) storetest.DB { return open(t, pgtest.URL(t)) },
		Peer: func(t *testing.T, db storetest.DB) storetest.DB { return open(t, db.(*handle).url) },
	})
}

// TestOpenTwice: a second Open (a node restarting, or several starting at
// once) finds the schema in place.
func TestOpenTwice(t *testing.T) {
	url := pgtest.URL(t)
	open(t, url)
	open(t, url)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if v, err := pgstore.Version(ctx, pool, consentpg.Component); err != nil || v != 1 {
		t.Fatalf("schema version %d, %v", v, err)
	}
}
