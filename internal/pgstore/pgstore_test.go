package pgstore_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"mig"
	"mig/internal/pgstore"
	"mig/internal/pgtest"
)

func TestMigrateOnceUnderConcurrentStarts(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	steps := []pgstore.Migration{
		{Version: 1, SQL: `CREATE TABLE t1 (id int PRIMARY KEY)`},
		{Version: 2, SQL: `ALTER TABLE t1 ADD COLUMN v text; CREATE TABLE t2 (id int)`},
	}
	// Five "nodes" start at once; each step must run exactly once (a second
	// CREATE TABLE would fail).
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool, err := pgstore.Connect(ctx, pgstore.Options{URL: url})
			if err != nil {
				errs <- err
				return
			}
			defer pool.Close()
			errs <- pgstore.Migrate(ctx, pool, "test", steps)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	pool, err := pgstore.Connect(ctx, pgstore.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if v, err := pgstore.Version(ctx, pool, "test"); err != nil || v != 2 {
		t.Fatalf("version = %d, %v; want 2", v, err)
	}
	// Forwards only: a binary that knows one step refuses a schema at two.
	err = pgstore.Migrate(ctx, pool, "test", steps[:1])
	if err == nil || !strings.Contains(err.Error(), "newer than this gateway") {
		t.Fatalf("older binary on newer schema: %v", err)
	}
	// A third step applies on top.
	steps = append(steps, pgstore.Migration{Version: 3, SQL: `CREATE INDEX ON t1 (v)`})
	if err := pgstore.Migrate(ctx, pool, "test", steps); err != nil {
		t.Fatal(err)
	}
	// Versions must be 1..n in order.
	if err := pgstore.Migrate(ctx, pool, "bad", []pgstore.Migration{{Version: 2, SQL: "SELECT 1"}}); err == nil {
		t.Fatal("a gap in migration versions was accepted")
	}
}

func TestFailedStepRollsBack(t *testing.T) {
	ctx := context.Background()
	pool, err := pgstore.Connect(ctx, pgstore.Options{URL: pgtest.URL(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	steps := []pgstore.Migration{
		{Version: 1, SQL: `CREATE TABLE a (id int)`},
		{Version: 2, SQL: `CREATE TABLE b (id int); SELECT no_such_function()`},
	}
	if err := pgstore.Migrate(ctx, pool, "rb", steps); err == nil {
		t.Fatal("failing step accepted")
	}
	if v, _ := pgstore.Version(ctx, pool, "rb"); v != 1 {
		t.Fatalf("version after failed step = %d, want 1", v)
	}
	var n int
	pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'b'`).Scan(&n)
	if n != 0 {
		t.Fatal("failed step left table b behind")
	}
}

func TestUnreachableIsUnavailableAndRedacted(t *testing.T) {
	_, err := pgstore.Connect(context.Background(), pgstore.Options{
		URL: "postgres://mig:s3cret-pw@127.0.0.1:1/mig?sslmode=disable", Timeout: 500_000_000})
	if err == nil {
		t.Fatal("connected to port 1")
	}
	if mig.ErrorCode(err) != mig.EUNAVAILABLE {
		t.Fatalf("code = %s, want %s", mig.ErrorCode(err), mig.EUNAVAILABLE)
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("password in error: %v", err)
	}
	if _, err := pgstore.Connect(context.Background(), pgstore.Options{URL: "postgres://u:s3cret-pw@[::1"}); err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("bad URL: %v", err)
	}
}

func TestClusterRestart(t *testing.T) {
	c := pgtest.NewCluster(t)
	ctx := context.Background()
	pool, err := pgstore.Connect(ctx, pgstore.Options{URL: c.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	c.Restart()
	// The pool reconnects without a restart of ours.
	var one int
	for range 3 {
		if err = pool.QueryRow(ctx, "SELECT 1").Scan(&one); err == nil {
			break
		}
		if !pgstore.Transient(err) {
			t.Fatalf("after restart: %v is not transient", err)
		}
	}
	if err != nil || one != 1 {
		t.Fatalf("after restart: %d, %v", one, err)
	}
}
