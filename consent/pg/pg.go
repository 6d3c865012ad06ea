// Package consentpg keeps sharing agreements (with their full history),
// consents to view, launches and used client assertions in PostgreSQL, so
// that several gateway nodes share them. It mirrors consent/bolt: the same
// interfaces, the same errors, the same ordering.
//
// Tables (component "consent", migrations forwards only):
//
//	consent_agreements         id -> current version and its JSON
//	consent_agreement_history  (id, version) -> JSON; rows are only ever inserted
//	consent_view_consents      id -> JSON, keyed for (user, org, nhs, recorded, seq)
//	consent_launches           key (SHA-256 of the launch id) -> the launch
//	consent_assertions         client 0 jti -> expiry (unix seconds)
package consentpg

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"mig"
	"mig/consent"
	"mig/internal/pgstore"
)

// Component names this store's migrations.
const Component = "consent"

var migrations = []pgstore.Migration{
	{Version: 1, SQL: `
CREATE TABLE consent_agreements (
	id      text COLLATE "C" PRIMARY KEY,
	version integer NOT NULL,
	body    json NOT NULL
);
CREATE TABLE consent_agreement_history (
	id      text COLLATE "C" NOT NULL,
	version integer NOT NULL,
	body    json NOT NULL,
	PRIMARY KEY (id, version)
);
CREATE TABLE consent_view_consents (
	id          text COLLATE "C" PRIMARY KEY,
	user_id     text COLLATE "C" NOT NULL,
	org         text COLLATE "C" NOT NULL,
	nhs         text COLLATE "C" NOT NULL,
	recorded_ns bigint NOT NULL,
	seq         bigint GENERATED ALWAYS AS IDENTITY,
	body        json NOT NULL
);
CREATE INDEX consent_view_consents_by_patient ON consent_view_consents (user_id, org, nhs, recorded_ns DESC, seq DESC);
CREATE TABLE consent_launches (
	key        text COLLATE "C" PRIMARY KEY,
	client     text NOT NULL,
	user_id    text NOT NULL,
	org        text NOT NULL,
	nhs        text NOT NULL,
	birth_date text NOT NULL,
	created    timestamptz NOT NULL,
	expires    timestamptz NOT NULL,
	redeemed   timestamptz,
	until      timestamptz,
	sweep_at   timestamptz NOT NULL
);
CREATE INDEX consent_launches_sweep ON consent_launches (sweep_at);
CREATE TABLE consent_assertions (
	k   bytea PRIMARY KEY,
	exp bigint NOT NULL
);
CREATE INDEX consent_assertions_exp ON consent_assertions (exp);
`},
}

// DB is the consent store on a shared pool.
type DB struct {
	pool *pgxpool.Pool
}

// Open applies the consent migrations and returns the store. The pool is
// shared with the node's other stores: Close does not close it.
func Open(ctx context.Context, pool *pgxpool.Pool) (*DB, error) {
	if pool == nil {
		return nil, mig.Errorf(mig.EINVALID, "consent store: no database pool")
	}
	if err := pgstore.Migrate(ctx, pool, Component, migrations); err != nil {
		if mig.ErrorCode(err) == mig.EUNAVAILABLE {
			return nil, err
		}
		return nil, pgstore.Unavailable("consent store: cannot prepare the database", err)
	}
	return &DB{pool: pool}, nil
}

// Close releases nothing: the pool belongs to the caller.
func (d *DB) Close() error { return nil }

// Agreements returns the agreement store.
func (d *DB) Agreements() consent.AgreementStore { return agreements{d.pool} }

// ViewConsents returns the consent-to-view store.
func (d *DB) ViewConsents() consent.ViewConsentStore { return viewConsents{d.pool} }

// Launches returns the launch store.
func (d *DB) Launches() consent.LaunchStore { return launches{d.pool} }

// storeErr keeps mig errors and the caller's own context errors, and turns
// every database failure into EUNAVAILABLE (503; the node recovers when
// the database does).
func storeErr(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	var me *mig.Error
	if errors.As(err, &me) {
		return err
	}
	if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
		return cerr
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "22021" || pe.Code == "22P05") {
		// Text PostgreSQL cannot hold (NUL, bad UTF-8): the input's fault.
		return &mig.Error{Code: mig.EINVALID, Message: "consent store: " + what + ": text not storable", Err: err}
	}
	return pgstore.Unavailable("consent store: "+what+" failed", err)
}

// storable reports whether every s can be a PostgreSQL text value (valid
// UTF-8 without NUL). A key that is not cannot be in the store.
func storable(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return false
		}
	}
	return true
}

func notFound(what string) error {
	return &mig.Error{Code: mig.ENOTFOUND, Message: what + " not found"}
}

func uniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// inTx runs fn in a transaction, committed when fn returns nil.
func inTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, pool, fn)
}

type agreements struct{ pool *pgxpool.Pool }

// Put stores a new version of a; a.Version is set to the version stored.
// Concurrent Puts of one agreement (from any node) are serialised on its
// row, so versions have no gaps and no repeats.
func (s agreements) Put(ctx context.Context, a *consent.Agreement) error {
	if a == nil || a.ID == "" {
		return &mig.Error{Code: mig.EINVALID, Message: "agreement id required"}
	}
	if !storable(a.ID) {
		return &mig.Error{Code: mig.EINVALID, Message: "agreement id: not storable text"}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var v int
	err := inTx(ctx, s.pool, func(tx pgx.Tx) error {
		// A first version inserts a placeholder row that no other
		// transaction sees before this one commits with version >= 1.
		if _, err := tx.Exec(ctx, `INSERT INTO consent_agreements (id, version, body) VALUES ($1, 0, '{}') ON CONFLICT (id) DO NOTHING`, a.ID); err != nil {
			return err
		}
		var cur int
		if err := tx.QueryRow(ctx, `SELECT version FROM consent_agreements WHERE id = $1 FOR UPDATE`, a.ID).Scan(&cur); err != nil {
			return err
		}
		v = cur + 1
		c := *a
		c.Version = v
		body, err := json.Marshal(&c)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO consent_agreement_history (id, version, body) VALUES ($1, $2, $3)`, a.ID, v, body); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE consent_agreements SET version = $2, body = $3 WHERE id = $1`, a.ID, v, body)
		return err
	})
	if err != nil {
		return storeErr(ctx, "agreement write", err)
	}
	a.Version = v
	return nil
}

func decodeAgreement(b []byte, version int) (*consent.Agreement, error) {
	var a consent.Agreement
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, &mig.Error{Code: mig.EINTERNAL, Message: "consent store: unreadable agreement", Err: err}
	}
	a.Version = version
	return &a, nil
}

// Get returns the current version.
func (s agreements) Get(ctx context.Context, id string) (*consent.Agreement, error) {
	if !storable(id) {
		return nil, notFound("agreement")
	}
	var body []byte
	var v int
	err := s.pool.QueryRow(ctx, `SELECT body, version FROM consent_agreements WHERE id = $1 AND version > 0`, id).Scan(&body, &v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("agreement")
	}
	if err != nil {
		return nil, storeErr(ctx, "agreement read", err)
	}
	return decodeAgreement(body, v)
}

// List returns the current version of every agreement, by id.
func (s agreements) List(ctx context.Context) ([]*consent.Agreement, error) {
	return s.query(ctx, "agreement list", `SELECT body, version FROM consent_agreements WHERE version > 0 ORDER BY id`)
}

// History returns every version of one agreement, oldest first.
func (s agreements) History(ctx context.Context, id string) ([]*consent.Agreement, error) {
	if !storable(id) {
		return nil, notFound("agreement")
	}
	out, err := s.query(ctx, "agreement history", `SELECT body, version FROM consent_agreement_history WHERE id = $1 ORDER BY version`, id)
	if err == nil && len(out) == 0 {
		return nil, notFound("agreement")
	}
	return out, err
}

func (s agreements) query(ctx context.Context, what, sql string, args ...any) ([]*consent.Agreement, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, storeErr(ctx, what, err)
	}
	defer rows.Close()
	var out []*consent.Agreement
	for rows.Next() {
		var body []byte
		var v int
		if err := rows.Scan(&body, &v); err != nil {
			return nil, storeErr(ctx, what, err)
		}
		a, err := decodeAgreement(body, v)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, storeErr(ctx, what, rows.Err())
}

type viewConsents struct{ pool *pgxpool.Pool }

// keyed reports whether user, org and nhs can name a patient's decisions
// (as consent/bolt: none empty, no NUL; and text PostgreSQL can hold).
func keyed(user, org, nhs string) bool {
	return user != "" && org != "" && nhs != "" && storable(user, org, nhs)
}

// Put stores a decision. Decisions are never changed or deleted: a later
// one supersedes.
func (s viewConsents) Put(ctx context.Context, c *consent.ViewConsent) error {
	if c == nil || c.ID == "" {
		return &mig.Error{Code: mig.EINVALID, Message: "consent id required"}
	}
	if !keyed(c.UserID, c.OrgODS, c.NHSNumber) || !storable(c.ID) {
		return &mig.Error{Code: mig.EINVALID, Message: "consent needs a user, an organisation and a patient"}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	body, err := json.Marshal(c)
	if err != nil {
		return storeErr(ctx, "consent encode", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO consent_view_consents (id, user_id, org, nhs, recorded_ns, body) VALUES ($1, $2, $3, $4, $5, $6)`,
		c.ID, c.UserID, c.OrgODS, c.NHSNumber, c.Recorded.UnixNano(), body)
	if uniqueViolation(err) {
		return &mig.Error{Code: mig.ECONFLICT, Message: "consent id already exists"}
	}
	return storeErr(ctx, "consent write", err)
}

func decodeConsent(b []byte) (*consent.ViewConsent, error) {
	var c consent.ViewConsent
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, &mig.Error{Code: mig.EINTERNAL, Message: "consent store: unreadable consent", Err: err}
	}
	return &c, nil
}

// Get returns one decision by id.
func (s viewConsents) Get(ctx context.Context, id string) (*consent.ViewConsent, error) {
	if !storable(id) {
		return nil, notFound("consent")
	}
	var body []byte
	err := s.pool.QueryRow(ctx, `SELECT body FROM consent_view_consents WHERE id = $1`, id).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("consent")
	}
	if err != nil {
		return nil, storeErr(ctx, "consent read", err)
	}
	return decodeConsent(body)
}

// Latest returns the most recently recorded decision for user, org and
// patient, or nil.
func (s viewConsents) Latest(ctx context.Context, user, org, nhs string) (*consent.ViewConsent, error) {
	list, err := s.list(ctx, user, org, nhs, 1)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	return list[0], nil
}

// ListByUser returns the user's decisions for one patient, newest first
// (by recorded time; decisions recorded at the same instant, last stored
// first).
func (s viewConsents) ListByUser(ctx context.Context, user, org, nhs string) ([]*consent.ViewConsent, error) {
	return s.list(ctx, user, org, nhs, 0)
}

func (s viewConsents) list(ctx context.Context, user, org, nhs string, limit int) ([]*consent.ViewConsent, error) {
	if !keyed(user, org, nhs) {
		return nil, nil
	}
	sql := `SELECT body FROM consent_view_consents WHERE user_id = $1 AND org = $2 AND nhs = $3 ORDER BY recorded_ns DESC, seq DESC`
	args := []any{user, org, nhs}
	if limit > 0 {
		sql += ` LIMIT $4`
		args = append(args, limit)
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, storeErr(ctx, "consent list", err)
	}
	defer rows.Close()
	var out []*consent.ViewConsent
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, storeErr(ctx, "consent list", err)
		}
		c, err := decodeConsent(body)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, storeErr(ctx, "consent list", rows.Err())
}
