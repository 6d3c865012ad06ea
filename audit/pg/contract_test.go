package auditpg_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mig/audit"
	auditpg "mig/audit/pg"
	"mig/audit/storetest"
	"mig/internal/pgtest"
)

// TestContract runs the audit store contract on PostgreSQL, with the
// multi-node cases: further instances on their own pools play the other
// nodes.
func TestContract(t *testing.T) {
	storetest.Run(t, openContract)
}

// connect opens a pool on url, closed when t ends.
func connect(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	return pgtest.Pool(t, url, 8)
}

// open opens a store on pool, closed when t ends.
func open(t testing.TB, pool *pgxpool.Pool, opt auditpg.Options) *auditpg.Store {
	t.Helper()
	s, err := auditpg.Open(context.Background(), pool, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openContract(t *testing.T) *storetest.Instance {
	url := pgtest.URL(t)
	pool := connect(t, url)
	s := open(t, pool, auditpg.Options{})
	in := &storetest.Instance{Store: s, Files: s, Lease: 5 * time.Minute}
	in.Node = func(t *testing.T) storetest.Store { return open(t, connect(t, url), auditpg.Options{}) }
	in.Reopen = func(t *testing.T) storetest.Store {
		s.Close()
		s = open(t, pool, auditpg.Options{})
		return s
	}
	in.Verify = func(t *testing.T, opt audit.VerifyOptions) *audit.VerifyReport {
		t.Helper()
		rep, err := s.Verify(context.Background(), opt)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	in.Tamper = func(t *testing.T, what storetest.Tamper, seq uint64) bool {
		t.Helper()
		tamper(t, pool, what, seq)
		return true
	}
	return in
}

// tamper makes the insider's edit with SQL, as a database administrator
// could.
func tamper(t *testing.T, pool *pgxpool.Pool, what storetest.Tamper, seq uint64) {
	t.Helper()
	ctx := context.Background()
	get := func(seq uint64) (prev [32]byte, body []byte) {
		var p []byte
		if err := pool.QueryRow(ctx, `SELECT prev, body FROM audit_events WHERE seq = $1`, int64(seq)).Scan(&p, &body); err != nil {
			t.Fatal(err)
		}
		copy(prev[:], p)
		return prev, body
	}
	exec := func(sql string, args ...any) {
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	switch what {
	case storetest.TamperBody:
		_, body := get(seq)
		exec(`UPDATE audit_events SET body = $2 WHERE seq = $1`, int64(seq), storetest.AlterBody(body))
	case storetest.TamperDelete, storetest.TamperTruncate:
		exec(`DELETE FROM audit_events WHERE seq = $1`, int64(seq))
	case storetest.TamperRechain:
		prev, body := get(seq)
		body = storetest.AlterBody(body)
		h := storetest.ChainHash(prev, body)
		exec(`UPDATE audit_events SET body = $2, hash = $3 WHERE seq = $1`, int64(seq), body, h[:])
	case storetest.TamperPatient:
		exec(`UPDATE audit_events SET nhs = '9990009999' WHERE seq = $1`, int64(seq))
	case storetest.TamperRewrite:
		var head int64
		if err := pool.QueryRow(ctx, `SELECT seq FROM audit_head`).Scan(&head); err != nil {
			t.Fatal(err)
		}
		prev, _ := get(seq)
		for k := seq; k <= uint64(head); k++ {
			_, body := get(k)
			if k == seq {
				body = storetest.AlterBody(body)
			}
			h := storetest.ChainHash(prev, body)
			exec(`UPDATE audit_events SET prev = $2, hash = $3, body = $4 WHERE seq = $1`, int64(k), prev[:], h[:], body)
			prev = h
		}
		exec(`UPDATE audit_head SET hash = $1`, prev[:])
	}
}
