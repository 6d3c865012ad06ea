package bolt

import (
	"context"

	bbolt "go.etcd.io/bbolt"

	"mig/consent"
)

// EachViewConsent calls fn with every consent to view, refusal and
// emergency access, grouped by user, organisation and patient and in the
// order each group's were recorded (then arrived), so that a copy into
// another store (migctl store copy) decides "latest" as this one does.
func (d *DB) EachViewConsent(ctx context.Context, fn func(*consent.ViewConsent) error) error {
	err := d.db.View(func(tx *bbolt.Tx) error {
		all := tx.Bucket(bucketConsents)
		return tx.Bucket(bucketConsentIdx).ForEach(func(_, id []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			b := all.Get(id)
			if b == nil {
				return nil
			}
			c, err := decodeConsent(b)
			if err != nil {
				return err
			}
			return fn(c)
		})
	})
	return storeErr("consent list", err)
}
