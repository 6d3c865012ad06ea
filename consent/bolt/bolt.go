// Package bolt stores sharing agreements (with their full history) and
// consents to view in a bbolt file. It is the only consent package that
// imports bbolt.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"mig"
	"mig/consent"
)

var (
	bucketAgreements = []byte("agreements")        // id -> current version JSON
	bucketHistory    = []byte("agreement_history") // id -> sub-bucket: version (8 bytes BE) -> JSON
	bucketConsents   = []byte("view_consents")     // id -> JSON
	bucketConsentIdx = []byte("view_consent_idx")  // user 0 org 0 nhs 0 recorded(8) seq(8) -> id
)

// DB is an open store file.
type DB struct {
	db *bbolt.DB
}

// Open opens (creating when absent) the store file at path.
func Open(path string) (*DB, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, &mig.Error{Code: mig.EUNAVAILABLE, Message: "consent store: cannot open file", Err: mig.StoreOpenError(err, bbolt.ErrTimeout)}
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketAgreements, bucketHistory, bucketConsents, bucketConsentIdx} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, &mig.Error{Code: mig.EUNAVAILABLE, Message: "consent store: cannot initialise file", Err: err}
	}
	return &DB{db: db}, nil
}

// Close closes the file.
func (d *DB) Close() error { return d.db.Close() }

// Agreements returns the agreement store.
func (d *DB) Agreements() consent.AgreementStore { return agreements{d.db} }

// ViewConsents returns the consent-to-view store.
func (d *DB) ViewConsents() consent.ViewConsentStore { return viewConsents{d.db} }

func storeErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*mig.Error); ok {
		return err
	}
	return &mig.Error{Code: mig.EUNAVAILABLE, Message: "consent store: " + what + " failed", Err: err}
}

func notFound(what string) error {
	return &mig.Error{Code: mig.ENOTFOUND, Message: what + " not found"}
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

type agreements struct{ db *bbolt.DB }

// Put stores a new version of a; a.Version is set to the version stored.
func (s agreements) Put(ctx context.Context, a *consent.Agreement) error {
	if a == nil || a.ID == "" {
		return &mig.Error{Code: mig.EINVALID, Message: "agreement id required"}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		hist, err := tx.Bucket(bucketHistory).CreateBucketIfNotExists([]byte(a.ID))
		if err != nil {
			return err
		}
		v := 1
		if k, _ := hist.Cursor().Last(); k != nil {
			v = int(binary.BigEndian.Uint64(k)) + 1
		}
		c := *a
		c.Version = v
		body, err := json.Marshal(&c)
		if err != nil {
			return err
		}
		if err := hist.Put(u64(uint64(v)), body); err != nil {
			return err
		}
		if err := tx.Bucket(bucketAgreements).Put([]byte(a.ID), body); err != nil {
			return err
		}
		a.Version = v
		return nil
	})
	return storeErr("agreement write", err)
}

func decodeAgreement(b []byte) (*consent.Agreement, error) {
	var a consent.Agreement
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, &mig.Error{Code: mig.EINTERNAL, Message: "consent store: unreadable agreement", Err: err}
	}
	return &a, nil
}

// Get returns the current version.
func (s agreements) Get(_ context.Context, id string) (*consent.Agreement, error) {
	var a *consent.Agreement
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketAgreements).Get([]byte(id))
		if b == nil {
			return notFound("agreement")
		}
		var err error
		a, err = decodeAgreement(b)
		return err
	})
	return a, storeErr("agreement read", err)
}

// List returns the current version of every agreement, by id.
func (s agreements) List(_ context.Context) ([]*consent.Agreement, error) {
	var out []*consent.Agreement
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketAgreements).ForEach(func(_, v []byte) error {
			a, err := decodeAgreement(v)
			if err != nil {
				return err
			}
			out = append(out, a)
			return nil
		})
	})
	return out, storeErr("agreement list", err)
}

// History returns every version of one agreement, oldest first.
func (s agreements) History(_ context.Context, id string) ([]*consent.Agreement, error) {
	var out []*consent.Agreement
	err := s.db.View(func(tx *bbolt.Tx) error {
		hist := tx.Bucket(bucketHistory).Bucket([]byte(id))
		if hist == nil {
			return notFound("agreement")
		}
		return hist.ForEach(func(_, v []byte) error {
			a, err := decodeAgreement(v)
			if err != nil {
				return err
			}
			out = append(out, a)
			return nil
		})
	})
	return out, storeErr("agreement history", err)
}

type viewConsents struct{ db *bbolt.DB }

func consentPrefix(user, org, nhs string) ([]byte, bool) {
	if user == "" || org == "" || nhs == "" || strings.ContainsRune(user+org+nhs, 0) {
		return nil, false
	}
	var b bytes.Buffer
	for _, s := range []string{user, org, nhs} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	return b.Bytes(), true
}

// Put stores a decision. Decisions are never changed or deleted: a later
// one supersedes.
func (s viewConsents) Put(ctx context.Context, c *consent.ViewConsent) error {
	if c == nil || c.ID == "" {
		return &mig.Error{Code: mig.EINVALID, Message: "consent id required"}
	}
	prefix, ok := consentPrefix(c.UserID, c.OrgODS, c.NHSNumber)
	if !ok {
		return &mig.Error{Code: mig.EINVALID, Message: "consent needs a user, an organisation and a patient"}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	body, err := json.Marshal(c)
	if err != nil {
		return storeErr("consent encode", err)
	}
	err = s.db.Update(func(tx *bbolt.Tx) error {
		all := tx.Bucket(bucketConsents)
		if all.Get([]byte(c.ID)) != nil {
			return &mig.Error{Code: mig.ECONFLICT, Message: "consent id already exists"}
		}
		if err := all.Put([]byte(c.ID), body); err != nil {
			return err
		}
		idx := tx.Bucket(bucketConsentIdx)
		seq, err := idx.NextSequence()
		if err != nil {
			return err
		}
		key := append(append(append([]byte{}, prefix...), u64(uint64(c.Recorded.UnixNano()))...), u64(seq)...)
		return idx.Put(key, []byte(c.ID))
	})
	return storeErr("consent write", err)
}

func decodeConsent(b []byte) (*consent.ViewConsent, error) {
	var c consent.ViewConsent
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, &mig.Error{Code: mig.EINTERNAL, Message: "consent store: unreadable consent", Err: err}
	}
	return &c, nil
}

// Get returns one decision by id.
func (s viewConsents) Get(_ context.Context, id string) (*consent.ViewConsent, error) {
	var c *consent.ViewConsent
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketConsents).Get([]byte(id))
		if b == nil {
			return notFound("consent")
		}
		var err error
		c, err = decodeConsent(b)
		return err
	})
	return c, storeErr("consent read", err)
}

// Latest returns the most recently recorded decision for user, org and
// patient, or nil.
func (s viewConsents) Latest(ctx context.Context, user, org, nhs string) (*consent.ViewConsent, error) {
	list, err := s.list(user, org, nhs, 1)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	return list[0], nil
}

// ListByUser returns the user's decisions for one patient, newest first.
func (s viewConsents) ListByUser(_ context.Context, user, org, nhs string) ([]*consent.ViewConsent, error) {
	return s.list(user, org, nhs, 0)
}

func (s viewConsents) list(user, org, nhs string, limit int) ([]*consent.ViewConsent, error) {
	prefix, ok := consentPrefix(user, org, nhs)
	if !ok {
		return nil, nil
	}
	var out []*consent.ViewConsent
	err := s.db.View(func(tx *bbolt.Tx) error {
		all := tx.Bucket(bucketConsents)
		cur := tx.Bucket(bucketConsentIdx).Cursor()
		// Position after the last key with the prefix, then walk back.
		end := append(append([]byte{}, prefix...), bytes.Repeat([]byte{0xff}, 16)...)
		k, v := cur.Seek(end)
		if k == nil {
			k, v = cur.Last()
		} else {
			k, v = cur.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Prev() {
			b := all.Get(v)
			if b == nil {
				continue
			}
			c, err := decodeConsent(b)
			if err != nil {
				return err
			}
			out = append(out, c)
			if limit > 0 && len(out) >= limit {
				break
			}
		}
		return nil
	})
	return out, storeErr("consent list", err)
}
