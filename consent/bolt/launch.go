package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"time"

	bbolt "go.etcd.io/bbolt"

	"mig"
	"mig/consent"
)

var (
	bucketLaunches   = []byte("launches")          // LaunchKey(id) -> JSON
	bucketAssertions = []byte("client_assertions") // client 0 jti -> expiry (8 bytes BE, unix seconds)
)

// launchKeep is how long a spent or expired launch stays in the store
// after it stopped mattering, then it is swept.
const launchKeep = 24 * time.Hour

// Launches returns the launch store (in the same file as consents).
func (d *DB) Launches() consent.LaunchStore { return launches{d.db} }

type launches struct{ db *bbolt.DB }

func (s launches) bucket(tx *bbolt.Tx, name []byte) (*bbolt.Bucket, error) {
	if tx.Writable() {
		return tx.CreateBucketIfNotExists(name)
	}
	return tx.Bucket(name), nil
}

// Create stores l, sweeping launches long past use.
func (s launches) Create(ctx context.Context, l *consent.Launch) error {
	if l == nil || l.Key == "" {
		return &mig.Error{Code: mig.EINVALID, Message: "launch key required"}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	body, err := json.Marshal(l)
	if err != nil {
		return storeErr("launch write", err)
	}
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b, err := s.bucket(tx, bucketLaunches)
		if err != nil {
			return err
		}
		if b.Get([]byte(l.Key)) != nil {
			return &mig.Error{Code: mig.ECONFLICT, Message: "launch already exists"}
		}
		if err := sweepLaunches(b, l.Created); err != nil {
			return err
		}
		return b.Put([]byte(l.Key), body)
	})
	return storeErr("launch write", err)
}

func sweepLaunches(b *bbolt.Bucket, now time.Time) error {
	var stale [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var l consent.Launch
		if json.Unmarshal(v, &l) != nil {
			return nil
		}
		end := l.Expires
		if l.Until.After(end) {
			end = l.Until
		}
		if now.Sub(end) > launchKeep {
			stale = append(stale, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range stale {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Redeem spends the launch once (see consent.LaunchStore).
func (s launches) Redeem(ctx context.Context, key, userID, org string, now, until time.Time) (*consent.Launch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out *consent.Launch
	otherUser := false
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := s.bucket(tx, bucketLaunches)
		if err != nil {
			return err
		}
		v := b.Get([]byte(key))
		if v == nil {
			return consent.ErrLaunchInvalid
		}
		var l consent.Launch
		if err := json.Unmarshal(v, &l); err != nil {
			return &mig.Error{Code: mig.EINTERNAL, Message: "consent store: unreadable launch", Err: err}
		}
		if !l.Redeemed.IsZero() || !now.Before(l.Expires) {
			return consent.ErrLaunchInvalid
		}
		l.Redeemed = now
		l.Until = until
		body, err := json.Marshal(&l)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(key), body); err != nil {
			return err
		}
		if l.UserID != userID || (l.OrgODS != "" && l.OrgODS != org) {
			// Spent all the same (the transaction commits): a launch shown
			// to the wrong user is never usable again.
			otherUser = true
			return nil
		}
		out = &l
		return nil
	})
	if err == nil && otherUser {
		return nil, consent.ErrLaunchOtherUser
	}
	return out, storeErr("launch redeem", err)
}

// Get returns the launch with key.
func (s launches) Get(_ context.Context, key string) (*consent.Launch, error) {
	var out *consent.Launch
	err := s.db.View(func(tx *bbolt.Tx) error {
		b, _ := s.bucket(tx, bucketLaunches)
		if b == nil {
			return notFound("launch")
		}
		v := b.Get([]byte(key))
		if v == nil {
			return notFound("launch")
		}
		var l consent.Launch
		if err := json.Unmarshal(v, &l); err != nil {
			return &mig.Error{Code: mig.EINTERNAL, Message: "consent store: unreadable launch", Err: err}
		}
		out = &l
		return nil
	})
	return out, storeErr("launch read", err)
}

// UseAssertion records a client assertion id; a second use fails.
func (s launches) UseAssertion(ctx context.Context, client, jti string, exp, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key := []byte(client + "\x00" + jti)
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := s.bucket(tx, bucketAssertions)
		if err != nil {
			return err
		}
		if v := b.Get(key); v != nil && len(v) == 8 && int64(binary.BigEndian.Uint64(v)) >= now.Unix() {
			return consent.ErrAssertionReused
		}
		// Sweep assertions past their expiry: they can no longer be
		// replayed, as the verifier refuses expired assertions.
		var stale [][]byte
		b.ForEach(func(k, v []byte) error {
			if len(v) != 8 || int64(binary.BigEndian.Uint64(v)) < now.Unix() {
				stale = append(stale, append([]byte(nil), k...))
			}
			return nil
		})
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return b.Put(key, u64(uint64(exp.Unix())))
	})
	return storeErr("client assertion write", err)
}
