package app

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	locpg "mig/adapters/locator/pg"
	"mig/audit"
	auditpg "mig/audit/pg"
	consentpg "mig/consent/pg"
	"mig/internal/pgstore"
)

// pgOptions are the pool options of the configured store.
func (c *Config) pgOptions() pgstore.Options {
	return pgstore.Options{URL: c.Store, CAFile: c.StoreTLS.CAFile, CertFile: c.StoreTLS.CertFile,
		KeyFile: c.StoreTLS.KeyFile, MaxConns: int32(c.StoreMaxConns)}
}

// openPostgres opens this node's one pool and the audit, consent and
// locator stores on it (each applies its own migrations under an advisory
// lock, so nodes starting together migrate once). The database must be
// reachable at start: a node that cannot open its stores does not serve.
func (m *Main) openPostgres(ctx context.Context) (_ *stores, err error) {
	cfg := &m.Config
	where := pgstore.Redact(cfg.Store)
	s := &stores{describe: where}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	pool, err := pgstore.Connect(cctx, cfg.pgOptions())
	if err != nil {
		return nil, fmt.Errorf("store %s: %s", where, errText(err))
	}
	s.closers = append(s.closers, closerFunc(func() error { pool.Close(); return nil }))
	a, err := auditpg.Open(cctx, pool, auditpg.Options{Lease: time.Duration(cfg.Notifications.Lease)})
	if err != nil {
		return nil, fmt.Errorf("audit store on %s: %s", where, errText(err))
	}
	s.audit, s.closers = a, append(s.closers, a)
	s.verify = func(ctx context.Context, latest *audit.Checkpoint) (uint64, error) {
		rep, err := a.Verify(ctx, audit.VerifyOptions{Checkpoint: latest, AfterCheckpoint: true})
		if err != nil {
			return 0, fmt.Errorf("audit store could not be verified: %s", errText(err))
		}
		if !rep.OK() {
			p, _ := rep.First()
			return rep.Records, fmt.Errorf("audit store refused: %d problems, first %s at seq %d: %s; refusing to serve; run %s", rep.ProblemsTotal, p.Kind, p.Seq, p.Detail, m.verifyCommand())
		}
		return rep.Records, nil
	}
	s.setCheckpointPlace = func(ctx context.Context, log, pub string) error {
		return a.SetCheckpointPlace(ctx, audit.CheckpointPlace{Log: log, PublicKey: pub})
	}
	c, err := consentpg.Open(cctx, pool)
	if err != nil {
		return nil, fmt.Errorf("consent store on %s: %s", where, errText(err))
	}
	s.consents, s.closers = c, append(s.closers, c)
	x, err := locpg.Open(cctx, pool)
	if err != nil {
		return nil, fmt.Errorf("patient index on %s: %s", where, errText(err))
	}
	s.index, s.closers = x, append(s.closers, x)
	s.lease = x
	s.pool = pool
	return s, nil
}

// pingDatabase is readiness's probe of the shared database.
func pingDatabase(pool *pgxpool.Pool) func(ctx context.Context) error {
	return func(ctx context.Context) error { return pool.Ping(ctx) }
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// errText is an error's one-line text for a start-up message: a gateway
// error's content-free message, or the error itself (pgstore's errors name
// the store by its redacted URL, never a password).
func errText(err error) string {
	if msg := err.Error(); msg != "" {
		return msg
	}
	return "unknown error"
}
