// Package locpg is the PostgreSQL implementation of locator.Index and
// locator.Lease, shared by several gateway nodes. It holds identifiers
// only: NHS numbers and practice ODS codes.
//
// Tables (component "locator", migrations forwards only):
//
//	locator_practices  practice -> generation, count, updated
//	locator_numbers    (nhs, practice): the practices' current sets; the
//	                   primary key serves Lookup, (practice, nhs) Replace
//	locator_leases     name -> holder, expires
//
// Replace reads the practice's new list into memory (sorted; bounded by
// the largest practice, not the region), then, in one transaction holding
// the practice's row lock (so Replaces of one practice from any nodes run
// one after another), reads the stored set, deletes the numbers gone,
// copies in the numbers added (COPY) and bumps the generation. Readers see
// the previous set until the commit, and keep it if anything fails; a
// refresh whose list has not changed writes nothing but the counters.
package locpg

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"mig"
	"mig/adapters/locator"
	"mig/internal/pgstore"
)

// Component names this store's migrations.
const Component = "locator"

var migrations = []pgstore.Migration{
	{Version: 1, SQL: `
CREATE TABLE locator_practices (
	practice   text COLLATE "C" PRIMARY KEY,
	generation bigint NOT NULL,
	count      bigint NOT NULL,
	updated    timestamptz NOT NULL
);
CREATE TABLE locator_numbers (
	nhs      text COLLATE "C" NOT NULL,
	practice text COLLATE "C" NOT NULL,
	PRIMARY KEY (nhs, practice)
);
CREATE INDEX locator_numbers_by_practice ON locator_numbers (practice, nhs);
CREATE TABLE locator_leases (
	name    text COLLATE "C" PRIMARY KEY,
	holder  text NOT NULL,
	expires timestamptz NOT NULL
);
`},
}

// Index is a locator.Index (and locator.Lease) in PostgreSQL.
type Index struct {
	pool *pgxpool.Pool
}

var (
	_ locator.Index = (*Index)(nil)
	_ locator.Lease = (*Index)(nil)
)

// Open applies the locator migrations and returns the index. The pool is
// shared with the node's other stores: Close does not close it.
func Open(ctx context.Context, pool *pgxpool.Pool) (*Index, error) {
	if pool == nil {
		return nil, mig.Errorf(mig.EINVALID, "patient index: no database pool")
	}
	if err := pgstore.Migrate(ctx, pool, Component, migrations); err != nil {
		if mig.ErrorCode(err) == mig.EUNAVAILABLE {
			return nil, err
		}
		return nil, pgstore.Unavailable("patient index: cannot prepare the database", err)
	}
	return &Index{pool: pool}, nil
}

// Close releases nothing: the pool belongs to the caller.
func (x *Index) Close() error { return nil }

func storeErr(err error) error {
	var me *mig.Error
	if err == nil || errors.As(err, &me) {
		return err
	}
	return pgstore.Unavailable("patient index: storage failure", err)
}

func validPractice(p string) bool {
	return p != "" && utf8.ValidString(p) && !strings.ContainsRune(p, 0)
}

// Replace implements locator.Index. Numbers that are not valid NHS numbers
// are skipped. Nothing changes unless each returns nil.
func (x *Index) Replace(ctx context.Context, practice string, each func(add func(nhs string) error) error) error {
	if !validPractice(practice) {
		return mig.Errorf(mig.EINVALID, "patient index: practice code required")
	}
	list, err := locator.CollectNumbers(ctx, each)
	if err != nil {
		return err
	}

	err = pgx.BeginFunc(ctx, x.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO locator_practices (practice, generation, count, updated)
			VALUES ($1, 0, 0, $2) ON CONFLICT (practice) DO NOTHING`, practice, time.Now().UTC()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM locator_practices WHERE practice = $1 FOR UPDATE`, practice); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT nhs FROM locator_numbers WHERE practice = $1`, practice)
		if err != nil {
			return err
		}
		stored, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		slices.Sort(stored)
		// Merge the stored set (sorted) with the new list (sorted).
		var gone, added []string
		i, j := 0, 0
		for i < len(stored) || j < len(list) {
			switch {
			case i >= len(stored) || (j < len(list) && list[j] < stored[i]):
				added = append(added, list[j])
				j++
			case j >= len(list) || stored[i] < list[j]:
				gone = append(gone, stored[i])
				i++
			default:
				i++
				j++
			}
		}
		if len(gone) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM locator_numbers WHERE practice = $1 AND nhs = ANY($2)`, practice, gone); err != nil {
				return err
			}
		}
		if len(added) > 0 {
			n, err := tx.CopyFrom(ctx, pgx.Identifier{"locator_numbers"}, []string{"nhs", "practice"},
				pgx.CopyFromSlice(len(added), func(i int) ([]any, error) { return []any{added[i], practice}, nil }))
			if err != nil {
				return err
			}
			if int(n) != len(added) {
				return errors.New("patient index: copy wrote fewer rows than given")
			}
		}
		_, err = tx.Exec(ctx, `UPDATE locator_practices SET generation = generation + 1, count = $2, updated = $3 WHERE practice = $1`,
			practice, len(list), time.Now().UTC())
		return err
	})
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return ctx.Err()
	}
	return storeErr(err)
}

// Lookup implements locator.Index.
func (x *Index) Lookup(ctx context.Context, nhs string) ([]string, error) {
	if !mig.ValidNHSNumber(nhs) {
		return nil, nil
	}
	rows, err := x.pool.Query(ctx, `SELECT practice FROM locator_numbers WHERE nhs = $1`, nhs)
	if err != nil {
		return nil, storeErr(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, storeErr(err)
	}
	slices.Sort(out)
	return out, nil
}

// Stats implements locator.Index. Bytes is the tables' size with their
// indexes.
func (x *Index) Stats(ctx context.Context) (locator.Stats, error) {
	st := locator.Stats{Practices: map[string]locator.PracticeStats{}}
	rows, err := x.pool.Query(ctx, `SELECT practice, generation, count, updated FROM locator_practices`)
	if err != nil {
		return st, storeErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var p string
		var gen, count int64
		var updated time.Time
		if err := rows.Scan(&p, &gen, &count, &updated); err != nil {
			return st, storeErr(err)
		}
		st.Practices[p] = locator.PracticeStats{Generation: uint64(gen), Count: int(count), Updated: updated.UTC()}
		st.Numbers += int(count)
	}
	if err := rows.Err(); err != nil {
		return st, storeErr(err)
	}
	err = x.pool.QueryRow(ctx, `SELECT pg_total_relation_size('locator_numbers') + pg_total_relation_size('locator_practices')`).Scan(&st.Bytes)
	return st, storeErr(err)
}

// TryLease implements locator.Lease with a row per lease: one conditional
// upsert takes the lease when it is free or expired, or renews it for its
// holder; a row lock orders nodes trying at once, and PostgreSQL re-checks
// the condition after the wait, so exactly one of them gets it.
func (x *Index) TryLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	if err := locator.CheckLease(name, holder, ttl); err != nil {
		return false, err
	}
	if !validPractice(name) || !validPractice(holder) {
		return false, mig.Errorf(mig.EINVALID, "patient index lease: name and holder must be text")
	}
	tag, err := x.pool.Exec(ctx, `INSERT INTO locator_leases (name, holder, expires) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires = EXCLUDED.expires
		WHERE locator_leases.holder = EXCLUDED.holder OR locator_leases.expires <= $4`,
		name, holder, now.Add(ttl), now)
	if err != nil {
		return false, storeErr(err)
	}
	return tag.RowsAffected() == 1, nil
}
