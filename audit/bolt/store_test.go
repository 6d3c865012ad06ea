package bolt_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"mig"
	"mig/audit"
	"mig/audit/bolt"
	"mig/audit/storetest"
)

// genEvent is the contract suite's synthetic event.
var genEvent = storetest.Event

func open(t testing.TB, path string) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func seqs(st []*audit.Stored) []uint64 {
	out := make([]uint64, len(st))
	for i, s := range st {
		out[i] = s.Seq
	}
	return out
}

func count(t *testing.T, path string) uint64 {
	t.Helper()
	rep, err := bolt.VerifyFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("store does not verify: %v", rep.Problems)
	}
	return rep.Records
}

func TestAppendFailureStoresNothing(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	tests := []struct {
		name string
		run  func(t *testing.T, path string) error
	}{
		{"closed", func(t *testing.T, path string) error {
			s := open(t, path)
			s.Close()
			_, err := s.Append(ctx, genEvent(rng, 1, 5, 5))
			return err
		}},
		{"read-only", func(t *testing.T, path string) error {
			s, err := bolt.Open(path, bolt.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_, err = s.Append(ctx, genEvent(rng, 1, 5, 5))
			return err
		}},
		{"invalid event in batch", func(t *testing.T, path string) error {
			s := open(t, path)
			defer s.Close()
			bad := genEvent(rng, 2, 5, 5)
			bad.Outcome = "99"
			_, err := s.Append(ctx, genEvent(rng, 1, 5, 5), bad)
			return err
		}},
		{"cancelled", func(t *testing.T, path string) error {
			s := open(t, path)
			defer s.Close()
			c, cancel := context.WithCancel(ctx)
			cancel()
			_, err := s.Append(c, genEvent(rng, 1, 5, 5))
			return err
		}},
		{"disk full", func(t *testing.T, path string) error {
			s := open(t, path)
			defer s.Close()
			restore := limitFileSize(t, path)
			defer restore()
			big := make([]*audit.Event, 4000) // needs the file to grow by several MB
			for i := range big {
				big[i] = genEvent(rng, i, 5, 5)
			}
			_, err := s.Append(ctx, big...)
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.db")
			s := open(t, path)
			if _, err := s.Append(ctx, genEvent(rng, 0, 5, 5)); err != nil {
				t.Fatal(err)
			}
			s.Close()
			err := tc.run(t, path)
			if err == nil {
				t.Fatal("append succeeded")
			}
			t.Logf("append error: %v (cause: %v)", err, errors.Unwrap(err))
			if c := mig.ErrorCode(err); c != mig.EUNAVAILABLE && c != mig.EINTERNAL {
				t.Fatalf("error code %q: %v", c, err)
			}
			if n := count(t, path); n != 1 {
				t.Fatalf("%d records after failed append, want 1", n)
			}
			// The store still works and the next seq is 2.
			s = open(t, path)
			defer s.Close()
			st, err := s.Append(ctx, genEvent(rng, 3, 5, 5))
			if err != nil || st[0].Seq != 2 {
				t.Fatalf("append after failure: %v %v", st, err)
			}
		})
	}
}

// tamper opens the closed store file with bbolt directly.
func tamper(t *testing.T, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	db.Close()
}

func key(seq uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	return b[:]
}

// TestVerifyDetectsTampering: edits only a bbolt file allows (the
// contract suite, storetest, covers the insider's edits every backend
// must find).
func TestVerifyDetectsTampering(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		fn   func(tx *bbolt.Tx) error
		kind string
		seq  uint64
	}{
		{"flipped hash byte", func(tx *bbolt.Tx) error {
			b := tx.Bucket([]byte("records"))
			v := bytes.Clone(b.Get(key(11)))
			v[45] ^= 0x80
			return b.Put(key(11), v)
		}, bolt.ProblemHash, 11},
		{"reordered pair", func(tx *bbolt.Tx) error {
			b := tx.Bucket([]byte("records"))
			a, c := bytes.Clone(b.Get(key(25))), bytes.Clone(b.Get(key(26)))
			if err := b.Put(key(25), c); err != nil {
				return err
			}
			return b.Put(key(26), a)
		}, bolt.ProblemOrder, 25},
		{"dangling index entry", func(tx *bbolt.Tx) error {
			return tx.Bucket([]byte("ix_patient")).Put(append([]byte("9990001006\x00"), key(999)...), nil)
		}, bolt.ProblemIndex, 999},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.db")
			s := open(t, path)
			rng := rand.New(rand.NewPCG(7, 8))
			for i := 0; i < 40; i++ {
				if _, err := s.Append(ctx, genEvent(rng, i, 5, 5)); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			if n := count(t, path); n != 40 {
				t.Fatalf("%d records before tampering", n)
			}
			tamper(t, path, tc.fn)
			rep, err := bolt.VerifyFile(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatal("tampering not detected")
			}
			p, _ := rep.First()
			if p.Kind != tc.kind || p.Seq != tc.seq {
				t.Fatalf("first problem %v, want %s at %d (all: %v)", p, tc.kind, tc.seq, rep.Problems)
			}
		})
	}
}

func TestArchiveKeepsChain(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	live, arc1, arc2 := filepath.Join(dir, "audit.db"), filepath.Join(dir, "a1.db"), filepath.Join(dir, "a2.db")
	s := open(t, live)
	rng := rand.New(rand.NewPCG(11, 12))
	var events []*audit.Event
	for i := 0; i < 250; i++ {
		events = append(events, genEvent(rng, i, 8, 4))
	}
	stored, err := s.Append(ctx, events...)
	if err != nil {
		t.Fatal(err)
	}
	pendingBefore, _ := s.Pending(ctx, time.Now(), 1000)
	if err := s.Archive(ctx, 101, arc1); err != nil {
		t.Fatal(err)
	}
	if err := s.Archive(ctx, 101, arc2); mig.ErrorCode(err) != mig.EINVALID {
		t.Fatalf("archiving nothing: %v", err)
	}
	if err := s.Archive(ctx, 201, arc2); err != nil {
		t.Fatal(err)
	}
	// Archived records are gone from the live file and its indexes.
	if _, err := s.Get(ctx, stored[5].ID); mig.ErrorCode(err) != mig.ENOTFOUND {
		t.Fatalf("archived record still live: %v", err)
	}
	got, err := s.Search(ctx, audit.Query{NHSNumber: events[0].NHSNumber})
	if err != nil || len(got) == 0 || got[0].Seq <= 200 {
		t.Fatalf("search after archive: %v %v", seqs(got), err)
	}
	// Pending notifications survive with their bodies.
	pendingAfter, err := s.Pending(ctx, time.Now(), 1000)
	if err != nil || len(pendingAfter) != len(pendingBefore) {
		t.Fatalf("pending %d -> %d (%v)", len(pendingBefore), len(pendingAfter), err)
	}
	for i := range pendingAfter {
		if !bytes.Equal(pendingAfter[i].Body, pendingBefore[i].Body) {
			t.Fatal("outbox body changed by archiving")
		}
	}
	// Appends continue the chain.
	more, err := s.Append(ctx, genEvent(rng, 300, 8, 4))
	if err != nil || more[0].Seq != 251 || more[0].Prev != stored[249].Hash {
		t.Fatalf("append after archive: %v", err)
	}
	s.Close()
	rep, err := bolt.VerifyFiles(ctx, arc1, arc2, live)
	if err != nil || !rep.OK() || rep.Records != 251 || !rep.Anchored || rep.LastSeq != 251 {
		t.Fatalf("verify all: %+v %v", rep, err)
	}
	if rep, err := bolt.VerifyFiles(ctx, arc1, live); err != nil || rep.OK() {
		t.Fatalf("missing segment not detected: %+v", rep)
	} else if p, _ := rep.First(); p.Kind != bolt.ProblemAnchor {
		t.Fatalf("missing segment: %v", p)
	}
	if rep, err := bolt.VerifyFile(ctx, live); err != nil || !rep.OK() || rep.Anchored || rep.FirstSeq != 201 {
		t.Fatalf("live alone: %+v %v", rep, err)
	}
	// Tampering in an archive is caught too.
	tamper(t, arc1, func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("records"))
		v := bytes.Clone(b.Get(key(50)))
		v[len(v)-10] ^= 1
		return b.Put(key(50), v)
	})
	if rep, _ := bolt.VerifyFiles(ctx, arc1, arc2, live); rep.OK() {
		t.Fatal("archive tampering not detected")
	}
	if _, err := os.Stat(arc1); err != nil {
		t.Fatal(err)
	}
}
