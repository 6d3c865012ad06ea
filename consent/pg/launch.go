package consentpg

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"mig"
	"mig/consent"
)

// launchKeep is how long a spent or expired launch stays in the store
// after it stopped mattering, then it is swept (as consent/bolt).
const launchKeep = 24 * time.Hour

type launches struct{ pool *pgxpool.Pool }

// sweepAt is when a launch stops mattering plus launchKeep.
func sweepAt(expires, until time.Time) time.Time {
	end := expires
	if until.After(end) {
		end = until
	}
	return end.Add(launchKeep)
}

// nullTime maps the zero time to NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Create stores l, sweeping launches long past use.
func (s launches) Create(ctx context.Context, l *consent.Launch) error {
	if l == nil || l.Key == "" {
		return &mig.Error{Code: mig.EINVALID, Message: "launch key required"}
	}
	if !storable(l.Key, l.Client, l.UserID, l.OrgODS, l.NHSNumber, l.BirthDate) {
		return &mig.Error{Code: mig.EINVALID, Message: "launch: not storable text"}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := inTx(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO consent_launches
			(key, client, user_id, org, nhs, birth_date, created, expires, redeemed, until, sweep_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (key) DO NOTHING`,
			l.Key, l.Client, l.UserID, l.OrgODS, l.NHSNumber, l.BirthDate, l.Created, l.Expires,
			nullTime(l.Redeemed), nullTime(l.Until), sweepAt(l.Expires, l.Until))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return &mig.Error{Code: mig.ECONFLICT, Message: "launch already exists"}
		}
		_, err = tx.Exec(ctx, `DELETE FROM consent_launches WHERE sweep_at < $1`, l.Created)
		return err
	})
	return storeErr(ctx, "launch write", err)
}

// Redeem spends the launch once (see consent.LaunchStore). The spending is
// one conditional UPDATE: of concurrent redeemers on any nodes, the one
// whose UPDATE finds the launch unredeemed wins; PostgreSQL re-checks the
// condition on the row after waiting for another's update, so the others
// find nothing to update and are refused.
func (s launches) Redeem(ctx context.Context, key, userID, org string, now, until time.Time) (*consent.Launch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !storable(key) {
		return nil, consent.ErrLaunchInvalid
	}
	l := consent.Launch{Key: key}
	err := s.pool.QueryRow(ctx, `UPDATE consent_launches
		SET redeemed = $2, until = $3, sweep_at = greatest(sweep_at, $4)
		WHERE key = $1 AND redeemed IS NULL AND expires > $2
		RETURNING client, user_id, org, nhs, birth_date, created, expires`,
		key, now, until, sweepAt(now, until)).
		Scan(&l.Client, &l.UserID, &l.OrgODS, &l.NHSNumber, &l.BirthDate, &l.Created, &l.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, consent.ErrLaunchInvalid
	}
	if err != nil {
		return nil, storeErr(ctx, "launch redeem", err)
	}
	if l.UserID != userID || (l.OrgODS != "" && l.OrgODS != org) {
		// Spent all the same (the update committed): a launch shown to
		// the wrong user is never usable again.
		return nil, consent.ErrLaunchOtherUser
	}
	l.Created, l.Expires = l.Created.UTC(), l.Expires.UTC()
	l.Redeemed, l.Until = now, until
	return &l, nil
}

// Get returns the launch with key.
func (s launches) Get(ctx context.Context, key string) (*consent.Launch, error) {
	if !storable(key) {
		return nil, notFound("launch")
	}
	l := consent.Launch{Key: key}
	var redeemed, until *time.Time
	err := s.pool.QueryRow(ctx, `SELECT client, user_id, org, nhs, birth_date, created, expires, redeemed, until
		FROM consent_launches WHERE key = $1`, key).
		Scan(&l.Client, &l.UserID, &l.OrgODS, &l.NHSNumber, &l.BirthDate, &l.Created, &l.Expires, &redeemed, &until)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("launch")
	}
	if err != nil {
		return nil, storeErr(ctx, "launch read", err)
	}
	l.Created, l.Expires = l.Created.UTC(), l.Expires.UTC()
	if redeemed != nil {
		l.Redeemed = redeemed.UTC()
	}
	if until != nil {
		l.Until = until.UTC()
	}
	return &l, nil
}

// UseAssertion records a client assertion id until exp; a second use
// before then fails with ErrAssertionReused. As in consent/bolt, expiry is
// compared in whole seconds and assertions past it are swept. The insert
// is conditional on the key's row, so of two nodes using one assertion at
// once exactly one succeeds.
func (s launches) UseAssertion(ctx context.Context, client, jti string, exp, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key := []byte(client + "\x00" + jti)
	reused := false
	err := inTx(ctx, s.pool, func(tx pgx.Tx) error {
		// Sweep assertions past their expiry: they can no longer be
		// replayed, as the verifier refuses expired assertions.
		if _, err := tx.Exec(ctx, `DELETE FROM consent_assertions WHERE exp < $1`, now.Unix()); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO consent_assertions (k, exp) VALUES ($1, $2)
			ON CONFLICT (k) DO UPDATE SET exp = EXCLUDED.exp WHERE consent_assertions.exp < $3`,
			key, exp.Unix(), now.Unix())
		if err != nil {
			return err
		}
		reused = tag.RowsAffected() == 0
		return nil
	})
	if err != nil {
		return storeErr(ctx, "client assertion write", err)
	}
	if reused {
		return consent.ErrAssertionReused
	}
	return nil
}
