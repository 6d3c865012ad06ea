package bolt

// Tampering a stopped gateway's store, as an insider who can write the
// data directory but does not hold the checkpoint signing key would: bit
// flips in record, index and meta pages; index and attribute edits; tail
// truncation; a rewrite with the chain recomputed; an older copy put back.
// Each must be found by verification, and those the checkpoint shows by the
// start-up check (audit.CheckChain) too.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"mig/audit"
	"mig/internal/testenv"
)

var tamperKey = func() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("mig audit/bolt tamper test key"))
	return ed25519.NewKeyFromSeed(seed[:])
}()

const (
	tamperEvents = 40
	victimNHS    = "9990001006" // the patient whose events an insider hides
	otherNHS     = "9990001014"
)

// tamperEvent i: patients alternate, every fifth is a refusal, every
// seventh an emergency; practices and organisations vary.
func tamperEvent(i int) *audit.Event {
	e := &audit.Event{
		Time: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Second + 123456*time.Nanosecond),
		Type: audit.TypeRest, Subtype: []string{"read", "search-type", "operation"}[i%3], Action: "R",
		Outcome: audit.OutcomeSuccess, UserID: fmt.Sprintf("55500000%04d", i%4), RoleCode: "R8000",
		OrgODS: []string{"RX999", "NX999"}[i%2], ClientID: "c1", SourceIP: "10.0.0.1", RequestID: fmt.Sprintf("req-%03d", i),
		NHSNumber: []string{victimNHS, otherNHS}[(i/2)%2], Practice: []string{"A99901", "A99902", "A99903"}[i%3],
		PurposeOfUse: "TREAT", Consent: "given", Released: map[string]int{"Condition": i % 5},
	}
	if i%5 == 4 {
		e.Type, e.Outcome, e.OutcomeDesc, e.Released = audit.TypeSecurity, audit.OutcomeSeriousFail, "share-consent NO_PATIENT_CONSENT", nil
	}
	if i%7 == 6 {
		e.PurposeOfUse, e.Emergency, e.Consent = "ETREAT", "unconscious", "emergency"
	}
	return e
}

// buildStore appends n events (one transaction each) to a new store at path.
func buildStore(t *testing.T, path string, from, n int) {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := from; i < from+n; i++ {
		if _, err := s.Append(context.Background(), tamperEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// checkpointOf signs the head of the stopped store at path.
func checkpointOf(t *testing.T, path string) *audit.Checkpoint {
	t.Helper()
	s, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seq, h, err := s.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return audit.SignCheckpoint(tamperKey, seq, h, time.Now())
}

func update(t *testing.T, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// dropRecord deletes record seq with its id, attrs and index entries: a
// consistent removal, that only the chain's end can give away.
func dropRecord(tx *bbolt.Tx, seq uint64) error {
	k := be64(seq)
	st, err := unmarshalRecord(tx.Bucket(bRecords).Get(k), true)
	if err != nil {
		return err
	}
	a, err := unmarshalAttrs(tx.Bucket(bAttrs).Get(k))
	if err != nil {
		return err
	}
	for _, ix := range indexEntries(&a, seq) {
		if err := tx.Bucket(ix.bucket).Delete(ix.key); err != nil {
			return err
		}
	}
	if ov := tx.Bucket(bOutbox).Get([]byte(st.ID)); ov != nil {
		o, _ := unmarshalOutbox(ov)
		tx.Bucket(bOutboxDue).Delete(dueKey(o.next, st.ID))
		tx.Bucket(bOutbox).Delete([]byte(st.ID))
	}
	tx.Bucket(bIDs).Delete([]byte(st.ID))
	tx.Bucket(bAttrs).Delete(k)
	return tx.Bucket(bRecords).Delete(k)
}

// rechain recomputes every hash from record `from` on and the head, as an
// insider who edited a record would.
func rechain(tx *bbolt.Tx, from uint64) error {
	recs := tx.Bucket(bRecords)
	var prev [32]byte
	if from > 1 {
		st, err := unmarshalRecord(recs.Get(be64(from-1)), true)
		if err != nil {
			return err
		}
		prev = st.Hash
	}
	var last uint64
	for seq := from; ; seq++ {
		v := recs.Get(be64(seq))
		if v == nil {
			break
		}
		st, err := unmarshalRecord(v, true)
		if err != nil {
			return err
		}
		st.Prev = prev
		st.Hash = sha256.Sum256(append(prev[:], st.Body...))
		if err := recs.Put(be64(seq), marshalRecord(st)); err != nil {
			return err
		}
		prev, last = st.Hash, seq
	}
	return tx.Bucket(bMeta).Put(kHead, posValue(last, prev))
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTamperedStoppedStore(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// tamper changes the stopped store at path; older is a copy of the
		// store taken after its first 30 events.
		tamper func(t *testing.T, path, older string)
		kind   string // a problem of this kind must be reported
		seq    uint64 // at this seq (0: any)
		start  error  // what the chain check against the checkpoint says (nil: it cannot show it)
		// atStart: migd's start-up check (the chain against the checkpoint,
		// hashes and links of every record, attributes and indexes of the
		// records after the checkpoint) refuses the store.
		atStart bool
	}{
		{"bit flip in a record page", func(t *testing.T, path, _ string) {
			testenv.FlipEvery(t, path, []byte(`"req-017"`), 6) // the request id in record 18's body
		}, ProblemHash, 18, nil, true},
		{"bit flip in an index page", func(t *testing.T, path, _ string) {
			// ix_user key of record 9: the user id, 0x00, seq 9; the flip
			// points the entry at seq 8.
			testenv.FlipEvery(t, path, append([]byte("555000000000\x00"), be64(9)...), 13+7)
		}, ProblemIndex, 0, nil, false},
		{"bit flip in the meta page", func(t *testing.T, path, _ string) {
			testenv.FlipEvery(t, path, append([]byte("head"), be64(tamperEvents)...), 4+8+3) // a byte of the head hash
		}, ProblemHead, tamperEvents, nil, true},
		{"patient's events moved out of the patient index", func(t *testing.T, path, _ string) {
			update(t, path, func(tx *bbolt.Tx) error {
				ix := tx.Bucket(bPatient)
				var keys [][]byte
				c := ix.Cursor()
				prefix := []byte(victimNHS + "\x00")
				for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
					keys = append(keys, bytes.Clone(k))
				}
				for _, k := range keys {
					if err := ix.Delete(k); err != nil {
						return err
					}
					if err := ix.Put(append([]byte(otherNHS+"\x00"), k[len(prefix):]...), nil); err != nil {
						return err
					}
				}
				return nil
			})
		}, ProblemIndex, 1, nil, false},
		{"attribute edited: refusal made a success", func(t *testing.T, path, _ string) {
			update(t, path, func(tx *bbolt.Tx) error {
				a, err := unmarshalAttrs(tx.Bucket(bAttrs).Get(be64(5)))
				if err != nil {
					return err
				}
				tx.Bucket(bOutcome).Delete(ixKey(a.outcome, 5))
				a.outcome = audit.OutcomeSuccess
				return tx.Bucket(bAttrs).Put(be64(5), a.marshal())
			})
		}, ProblemAttrs, 5, nil, false},
		{"attribute edited: patient removed from attrs and index", func(t *testing.T, path, _ string) {
			update(t, path, func(tx *bbolt.Tx) error {
				a, err := unmarshalAttrs(tx.Bucket(bAttrs).Get(be64(2)))
				if err != nil {
					return err
				}
				tx.Bucket(bPatient).Delete(ixKey(a.nhs, 2))
				a.nhs = ""
				return tx.Bucket(bAttrs).Put(be64(2), a.marshal())
			})
		}, ProblemAttrs, 2, nil, false},
		{"attribute edited: events moved to another practice, outbox too", func(t *testing.T, path, _ string) {
			// Practice A99902's auditors would no longer see record 2, and
			// the outbox agrees with the edit: only the body can tell.
			update(t, path, func(tx *bbolt.Tx) error {
				a, err := unmarshalAttrs(tx.Bucket(bAttrs).Get(be64(2)))
				if err != nil {
					return err
				}
				a.practice = "Z00000"
				if err := tx.Bucket(bAttrs).Put(be64(2), a.marshal()); err != nil {
					return err
				}
				ob := tx.Bucket(bOutbox)
				c := ob.Cursor()
				for k, v := c.First(); k != nil; k, v = c.Next() {
					o, err := unmarshalOutbox(v)
					if err != nil {
						return err
					}
					if o.seq == 2 {
						o.practice = "Z00000"
						return ob.Put(bytes.Clone(k), o.marshal())
					}
				}
				return nil
			})
		}, ProblemAttrs, 2, nil, false},
		{"time index entry moved", func(t *testing.T, path, _ string) {
			update(t, path, func(tx *bbolt.Tx) error {
				a, err := unmarshalAttrs(tx.Bucket(bAttrs).Get(be64(12)))
				if err != nil {
					return err
				}
				ti := tx.Bucket(bTime)
				ti.Delete(append(timeKey(a.time), be64(12)...))
				return ti.Put(append(timeKey(a.time+int64(24*time.Hour)), be64(12)...), nil)
			})
		}, ProblemIndex, 12, nil, false},
		{"a second id pointing at a record", func(t *testing.T, path, _ string) {
			update(t, path, func(tx *bbolt.Tx) error { return tx.Bucket(bIDs).Put([]byte("forged-id"), be64(7)) })
		}, ProblemIndex, 7, nil, false},
		{"attrs for a record that does not exist", func(t *testing.T, path, _ string) {
			update(t, path, func(tx *bbolt.Tx) error {
				return tx.Bucket(bAttrs).Put(be64(77), (&attrs{outcome: "0", subtype: "read", nhs: victimNHS}).marshal())
			})
		}, ProblemAttrs, 77, nil, false},
		{"outbox notification sent to another practice", func(t *testing.T, path, _ string) {
			update(t, path, func(tx *bbolt.Tx) error {
				ob := tx.Bucket(bOutbox)
				k, v := ob.Cursor().First()
				o, err := unmarshalOutbox(v)
				if err != nil {
					return err
				}
				o.practice = "Z00000"
				return ob.Put(bytes.Clone(k), o.marshal())
			})
		}, ProblemOutbox, 0, nil, false},
		{"tail truncation", func(t *testing.T, path, _ string) {
			update(t, path, func(tx *bbolt.Tx) error {
				for seq := uint64(tamperEvents); seq > 35; seq-- {
					if err := dropRecord(tx, seq); err != nil {
						return err
					}
				}
				st, err := unmarshalRecord(tx.Bucket(bRecords).Get(be64(35)), true)
				if err != nil {
					return err
				}
				return tx.Bucket(bMeta).Put(kHead, posValue(35, st.Hash))
			})
		}, ProblemCheckpoint, 0, audit.ErrBehindCheckpoint, true},
		{"rewrite and rechain", func(t *testing.T, path, _ string) {
			update(t, path, func(tx *bbolt.Tx) error {
				// Record 10 was a refusal: make its body say success, fix
				// its attrs and indexes, and recompute every hash after it.
				recs := tx.Bucket(bRecords)
				st, err := unmarshalRecord(recs.Get(be64(10)), true)
				if err != nil {
					return err
				}
				body := bytes.Replace(st.Body, []byte(`"outcome":"8"`), []byte(`"outcome":"0"`), 1)
				if bytes.Equal(body, st.Body) {
					return errors.New("record 10 is not a refusal")
				}
				st.Body = body
				if err := recs.Put(be64(10), marshalRecord(st)); err != nil {
					return err
				}
				a, err := unmarshalAttrs(tx.Bucket(bAttrs).Get(be64(10)))
				if err != nil {
					return err
				}
				tx.Bucket(bOutcome).Delete(ixKey(a.outcome, 10))
				a.outcome = audit.OutcomeSuccess
				if err := tx.Bucket(bAttrs).Put(be64(10), a.marshal()); err != nil {
					return err
				}
				return rechain(tx, 10)
			})
		}, ProblemCheckpoint, tamperEvents, audit.ErrDiverged, true},
		{"rollback to an older copy", func(t *testing.T, path, older string) {
			copyFile(t, older, path)
		}, ProblemCheckpoint, 0, audit.ErrBehindCheckpoint, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path, older := filepath.Join(dir, "audit.db"), filepath.Join(dir, "older.db")
			buildStore(t, path, 0, 30)
			copyFile(t, path, older)
			buildStore(t, path, 30, tamperEvents-30)
			cp := checkpointOf(t, path)
			if rep, err := VerifyFilesWith(ctx, VerifyOptions{Checkpoint: cp}, path); err != nil || !rep.OK() {
				t.Fatalf("untouched store does not verify: %v %v", err, rep.Problems)
			}

			tc.tamper(t, path, older)

			rep, err := VerifyFilesWith(ctx, VerifyOptions{Checkpoint: cp}, path)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatal("tampering not detected")
			}
			found := false
			for _, p := range rep.Problems {
				if p.Kind == tc.kind && (tc.seq == 0 || p.Seq == tc.seq) {
					found = true
				}
				for _, nhs := range []string{victimNHS, otherNHS} {
					if strings.Contains(p.String(), nhs) {
						t.Errorf("problem names an NHS number: %s", p)
					}
				}
			}
			if !found {
				t.Fatalf("no %s problem at seq %d; got %v", tc.kind, tc.seq, rep.Problems)
			}
			t.Logf("%d problems, first: %s", rep.ProblemsTotal, rep.Problems[0])

			// The start-up check: the chain against the checkpoint, then
			// the records after it.
			s, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			err = audit.CheckChain(ctx, s, cp)
			if tc.start != nil && !errors.Is(err, tc.start) {
				t.Fatalf("chain check: %v, want %v", err, tc.start)
			}
			if tc.start == nil && err != nil {
				t.Fatalf("chain check refused what the checkpoint cannot show: %v", err)
			}
			refused := err != nil
			if !refused {
				srep, err := s.Verify(ctx, VerifyOptions{Checkpoint: cp, AfterCheckpoint: true})
				if err != nil {
					t.Fatal(err)
				}
				refused = !srep.OK()
			}
			if refused != tc.atStart {
				t.Fatalf("start-up check refused: %t, want %t", refused, tc.atStart)
			}
		})
	}
}

// TestCheckpointAcceptsLongerChain: a crash after a checkpoint leaves
// records after it; that chain extends the checkpoint and passes both
// checks.
func TestCheckpointAcceptsLongerChain(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	buildStore(t, path, 0, 30)
	cp := checkpointOf(t, path)
	buildStore(t, path, 30, 10)
	rep, err := VerifyFilesWith(ctx, VerifyOptions{Checkpoint: cp}, path)
	if err != nil || !rep.OK() {
		t.Fatalf("%v %v", err, rep.Problems)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := audit.CheckChain(ctx, s, cp); err != nil {
		t.Fatal(err)
	}
	rep, err = s.Verify(ctx, VerifyOptions{Checkpoint: cp, AfterCheckpoint: true})
	if err != nil || !rep.OK() || rep.Records != 40 {
		t.Fatalf("after-checkpoint verify: %v, %d records, %v", err, rep.Records, rep.Problems)
	}
}

// TestVerifyAfterCheckpointChecksNewRecords: at start only the records
// after the checkpoint are re-checked, and a fault among them is found.
func TestVerifyAfterCheckpointChecksNewRecords(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	buildStore(t, path, 0, 30)
	cp := checkpointOf(t, path)
	buildStore(t, path, 30, 10)
	update(t, path, func(tx *bbolt.Tx) error {
		return tx.Bucket(bPatient).Delete(ixKey(victimNHS, 34)) // record 34 is about victimNHS? checked below
	})
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := s.Verify(ctx, VerifyOptions{Checkpoint: cp, AfterCheckpoint: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() {
		t.Fatal("index entry removed after the checkpoint not detected at start")
	}
	if p, _ := rep.First(); p.Kind != ProblemIndex || p.Seq != 34 {
		t.Fatalf("first problem %v", p)
	}
}

// TestCheckpointAcrossArchive: after archiving below the checkpoint's seq,
// the live file still shows the checkpoint's hash; archived past it, only
// the segments do, and the start-up check says it cannot tell.
func TestCheckpointAcrossArchive(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.db")
	buildStore(t, path, 0, 30)
	cp := checkpointOf(t, path)
	buildStore(t, path, 30, 10)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	seg1 := filepath.Join(dir, "seg1.db")
	if err := s.Archive(ctx, 21, seg1); err != nil {
		t.Fatal(err)
	}
	if err := audit.CheckChain(ctx, s, cp); err != nil {
		t.Fatalf("archived below the checkpoint: %v", err)
	}
	seg2 := filepath.Join(dir, "seg2.db")
	if err := s.Archive(ctx, 35, seg2); err != nil {
		t.Fatal(err)
	}
	if err := audit.CheckChain(ctx, s, cp); !errors.Is(err, audit.ErrCheckpointUnchecked) {
		t.Fatalf("archived past the checkpoint: %v", err)
	}
	s.Close()
	rep, err := VerifyFilesWith(ctx, VerifyOptions{Checkpoint: cp}, seg1, seg2, path)
	if err != nil || !rep.OK() || rep.Records != 40 {
		t.Fatalf("segments and live file: %v %d %v", err, rep.Records, rep.Problems)
	}
	rep, err = VerifyFilesWith(ctx, VerifyOptions{Checkpoint: cp}, path)
	if err != nil || rep.OK() || rep.Problems[0].Kind != ProblemCheckpoint {
		t.Fatalf("live file alone: %v %v", err, rep.Problems)
	}
}

// TestVerifyChecksMerkleRoot: verify rebuilds the Merkle tree the
// checkpoint signs and compares its root.
func TestVerifyChecksMerkleRoot(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	buildStore(t, path, 0, 25)
	s, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var leaves [][32]byte
	s.Scan(ctx, 0, func(st *audit.Stored) error { leaves = append(leaves, audit.MerkleLeaf(st.Body)); return nil })
	seq, head, _ := s.Head(ctx)
	s.Close()
	good := audit.MerkleRoot(leaves)
	wrong := audit.MerkleRoot(leaves[:24])
	for _, tc := range []struct {
		name string
		root [32]byte
		ok   bool
	}{{"right root", good, true}, {"root of another tree", wrong, false}} {
		cp := audit.SignCheckpointRoot(tamperKey, seq, head, &tc.root, time.Now())
		rep, err := VerifyFilesWith(ctx, VerifyOptions{Checkpoint: cp}, path)
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK() != tc.ok || !tc.ok && !strings.Contains(rep.Problems[0].Detail, "Merkle root") {
			t.Fatalf("%s: ok %t, problems %v", tc.name, rep.OK(), rep.Problems)
		}
	}
}

// TestStartWithoutCheckpoint: before the first checkpoint (a new log) the
// start-up check walks hashes and links only, so a large store upgraded to
// checkpoints starts in seconds; a broken hash still refuses.
func TestStartWithoutCheckpoint(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	buildStore(t, path, 0, 20)
	update(t, path, func(tx *bbolt.Tx) error { return tx.Bucket(bPatient).Delete(ixKey(victimNHS, 1)) })
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.Verify(ctx, VerifyOptions{AfterCheckpoint: true})
	s.Close()
	if err != nil || !rep.OK() || rep.Records != 20 {
		t.Fatalf("%v %d %v", err, rep.Records, rep.Problems)
	}
	testenv.FlipEvery(t, path, []byte(`"req-004"`), 6)
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rep, err = s.Verify(ctx, VerifyOptions{AfterCheckpoint: true}); err != nil || rep.OK() || rep.Problems[0].Kind != ProblemHash {
		t.Fatalf("%v %v", err, rep.Problems)
	}
}
