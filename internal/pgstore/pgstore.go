// Package pgstore is what every PostgreSQL store backend shares: the
// connection pool (with TLS from files, never from the environment), error
// classification, and forwards-only schema migrations applied at start under
// an advisory lock, so several gateway nodes starting at once migrate once.
//
// The stores themselves live beside their domains (audit/pg, consent/pg,
// adapters/locator/pg); each owns its tables and its migration list.
package pgstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"mig"
)

// Options configure a connection. URL is a libpq-style postgres:// URL;
// the TLS files, when set, override the URL's sslrootcert/sslcert/sslkey
// and require a verified server certificate.
type Options struct {
	URL      string
	CAFile   string // PEM roots for the server certificate (verify-full)
	CertFile string // client certificate (PEM), with KeyFile
	KeyFile  string
	MaxConns int32         // pool size; 0: pgx's default (max(4, cores))
	Timeout  time.Duration // connect timeout; 0: 5 s
}

// IsURL reports whether a store setting names PostgreSQL rather than a
// bbolt data directory.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Redact returns the URL without its password, for logs and errors.
func Redact(u string) string {
	cfg, err := pgconn.ParseConfig(u)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// Connect opens a pool and checks it with a ping.
func Connect(ctx context.Context, o Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		return nil, fmt.Errorf("store URL: %v", stripSecrets(err, o.URL))
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	cfg.ConnConfig.ConnectTimeout = timeout
	if o.CAFile != "" || o.CertFile != "" {
		tc, err := tlsConfig(o, cfg.ConnConfig.Host)
		if err != nil {
			return nil, err
		}
		cfg.ConnConfig.TLSConfig = tc
		cfg.ConnConfig.Fallbacks = nil // never fall back to plain text
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store %s: %v", Redact(o.URL), err)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, Unavailable("store "+Redact(o.URL)+" not reachable", err)
	}
	return pool, nil
}

func stripSecrets(err error, u string) string {
	s := err.Error()
	if cfg, perr := pgconn.ParseConfig(u); perr == nil && cfg.Password != "" {
		s = strings.ReplaceAll(s, cfg.Password, "xxxxx")
	}
	return s
}

func tlsConfig(o Options, host string) (*tls.Config, error) {
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("store CA file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("store CA file %s: no PEM certificate", o.CAFile)
		}
		tc.RootCAs = pool
	}
	if o.CertFile != "" || o.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("store client certificate: %v", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Unavailable wraps a database failure as EUNAVAILABLE: the request fails
// with 503 and the node keeps serving, recovering when the database does.
func Unavailable(msg string, err error) error {
	return &mig.Error{Code: mig.EUNAVAILABLE, Message: msg, Err: err}
}

// Transient reports whether err is a connection-level failure (the server
// gone, restarting, or unreachable) rather than a statement's error.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01-03: admin shutdown, crash
		// shutdown, cannot connect now; 40001/40P01 are retried by callers.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	return pgconn.SafeToRetry(err) || errors.Is(err, pgx.ErrTxClosed) || strings.Contains(err.Error(), "conn closed")
}

// Migration is one forwards-only schema step.
type Migration struct {
	Version int    // 1, 2, 3 ... in order, without gaps
	SQL     string // one or more statements, run in one transaction
}

// Migrate applies component's migrations not yet applied, in order, each in
// its own transaction, under a session advisory lock so that nodes starting
// together apply each step once. A database already at a version this binary
// does not know is refused: an older node must not run on a newer schema.
func Migrate(ctx context.Context, pool *pgxpool.Pool, component string, steps []Migration) error {
	for i, s := range steps {
		if s.Version != i+1 {
			return fmt.Errorf("%s migrations: step %d has version %d", component, i+1, s.Version)
		}
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return Unavailable("store not reachable for migrations", err)
	}
	defer conn.Release()
	const lockKey = 0x6d6967 // "mig": one lock for every component's migrations
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return fmt.Errorf("%s migrations: advisory lock: %v", component, err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockKey) //nolint:errcheck
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS mig_schema_migrations (
		component text NOT NULL,
		version integer NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (component, version))`); err != nil {
		return fmt.Errorf("%s migrations: %v", component, err)
	}
	var have int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM mig_schema_migrations WHERE component = $1`, component).Scan(&have); err != nil {
		return fmt.Errorf("%s migrations: %v", component, err)
	}
	if have > len(steps) {
		return fmt.Errorf("%s: the database schema is at version %d, newer than this gateway's %d; run the newer gateway (migrations only go forwards)", component, have, len(steps))
	}
	for _, s := range steps[have:] {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return fmt.Errorf("%s migration %d: %v", component, s.Version, err)
		}
		if _, err := tx.Exec(ctx, s.SQL); err != nil {
			tx.Rollback(ctx) //nolint:errcheck
			return fmt.Errorf("%s migration %d: %v", component, s.Version, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO mig_schema_migrations (component, version) VALUES ($1, $2)`, component, s.Version); err != nil {
			tx.Rollback(ctx) //nolint:errcheck
			return fmt.Errorf("%s migration %d: %v", component, s.Version, err)
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("%s migration %d: %v", component, s.Version, err)
		}
	}
	return nil
}

// Version returns the schema version applied for component (0: none).
func Version(ctx context.Context, pool *pgxpool.Pool, component string) (int, error) {
	var v int
	err := pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM mig_schema_migrations WHERE component = $1`, component).Scan(&v)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table: nothing migrated yet
		return 0, nil
	}
	return v, err
}
