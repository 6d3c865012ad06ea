package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mig/audit"
	auditbolt "mig/audit/bolt"
	auditpg "mig/audit/pg"
	"mig/consent"
	consentbolt "mig/consent/bolt"
	consentpg "mig/consent/pg"
	"mig/internal/pgstore"
	"mig/internal/pgtest"
)

// seedConsents writes an agreement with three versions and consents to
// view, two recorded at the same instant for one user and patient (the
// later-arrived one decides), into DIR/consent.db.
func seedConsents(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	db, err := consentbolt.Open(filepath.Join(dir, "consent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a := consent.DemoAgreement(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	for _, st := range []string{consent.AgreementActive, consent.AgreementSuspended, consent.AgreementActive} {
		a.Status = st
		if err := db.Agreements().Put(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i, given := range []bool{true, false, true} {
		c := &consent.ViewConsent{ID: []string{"c1", "c2", "c3"}[i], NHSNumber: "9990001006", UserID: "u1", OrgODS: "RX999",
			Given: given, Recorded: at, Start: at, End: at.Add(8 * time.Hour)}
		if i == 2 {
			c.NHSNumber = "9990003009"
		}
		if err := db.ViewConsents().Put(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStoreCopy: a single node's bbolt stores copied into an empty
// PostgreSQL database arrive whole (chain, outbox, agreement history,
// consents in their order), verify there with migctl audit verify -store,
// and a second copy into the same database is refused.
func TestStoreCopy(t *testing.T) {
	dbURL := pgtest.URL(t)
	ctx := context.Background()
	dir := auditDir(t, 2500) // more than one import batch; every event names practice A99901: 2,500 notifications owed
	seedConsents(t, dir)

	code, out, errs := runCLI(t, "store", "copy", "-from", dir, "-to", dbURL)
	if code != 0 {
		t.Fatalf("store copy: exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"agreements: 1 (3 versions)", "consents to view: 3", "audit records: 2500 (seq 1 to 2500)", "chain verified on arrival", "access notifications owed: 2500"} {
		if !strings.Contains(out, want) {
			t.Errorf("store copy output lacks %q:\n%s", want, out)
		}
	}

	pool, err := pgstore.Connect(ctx, pgstore.Options{URL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	dst, err := auditpg.Open(ctx, pool, auditpg.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	src, err := auditbolt.Open(filepath.Join(dir, "audit.db"), auditbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	srcSeq, srcHash, _ := src.Last(ctx)
	dstSeq, dstHash, _ := dst.Last(ctx)
	if srcSeq != dstSeq || srcHash != dstHash {
		t.Fatalf("heads differ: bbolt %d %x, PostgreSQL %d %x", srcSeq, srcHash, dstSeq, dstHash)
	}
	got, _ := dst.Get(ctx, mustGet(t, src, 1234))
	if got == nil || got.Seq != 1234 {
		t.Fatalf("record 1234 by id: %+v", got)
	}
	pending, err := dst.Pending(ctx, time.Now(), 5000)
	if err != nil || len(pending) != 2500 || pending[0].Practice != "A99901" {
		t.Fatalf("outbox: %d items, %v", len(pending), err)
	}
	src.Close()

	cs, err := consentpg.Open(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := cs.Agreements().History(ctx, consent.DemoAgreementID)
	if err != nil || len(hist) != 3 || hist[1].Status != consent.AgreementSuspended || hist[2].Version != 3 {
		t.Fatalf("agreement history: %v %+v", err, hist)
	}
	latest, err := cs.ViewConsents().Latest(ctx, "u1", "RX999", "9990001006")
	if err != nil || latest == nil || latest.ID != "c2" {
		t.Fatalf("latest consent for the patient: %v %+v (want c2, the later of two at one instant)", err, latest)
	}

	code, out, _ = runCLI(t, "audit", "verify", "-store", dbURL)
	if code != 0 || !strings.Contains(out, "records checked: 2500 (seq 1 to 2500, chain from seq 1)") || !strings.Contains(out, "chain: intact") {
		t.Fatalf("audit verify -store: exit %d\n%s", code, out)
	}
	if code, _, errs := runCLI(t, "store", "copy", "-from", dir, "-to", dbURL); code != 1 || !strings.Contains(errs, "is not empty") {
		t.Fatalf("a second copy: exit %d %q", code, errs)
	}

	// An insider's edit in the database: verify says where.
	if _, err := pool.Exec(ctx, `UPDATE audit_events SET body = convert_to(replace(convert_from(body, 'UTF8'), 'RX999', 'RX998'), 'UTF8') WHERE seq = 777`); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runCLI(t, "audit", "verify", "-store", dbURL)
	if code != 1 || !strings.Contains(out, "chain: BROKEN") || !strings.Contains(errs, "seq 777") {
		t.Fatalf("verify after an edit: exit %d\n%s\n%s", code, out, errs)
	}
}

func mustGet(t *testing.T, s *auditbolt.Store, seq uint64) string {
	t.Helper()
	var id string
	s.Scan(context.Background(), seq-1, func(st *audit.Stored) error {
		id = st.ID
		return errStop
	})
	if id == "" {
		t.Fatalf("no record %d", seq)
	}
	return id
}

var errStop = errorString("stop")

type errorString string

func (e errorString) Error() string { return string(e) }

// TestStoreCopyArchived: a store archived in part copies only with its
// segments, oldest first.
func TestStoreCopyArchived(t *testing.T) {
	dbURL := pgtest.URL(t)
	dir := auditDir(t, 40)
	seedConsents(t, dir)
	seg := filepath.Join(t.TempDir(), "seg1.db")
	if code, _, errs := runCLI(t, "audit", "archive", "-data", dir, "-before", "21", "-o", seg); code != 0 {
		t.Fatalf("archive: %q", errs)
	}
	code, _, errs := runCLI(t, "store", "copy", "-from", dir, "-to", dbURL)
	if code != 1 || !strings.Contains(errs, "starts at seq 21") || !strings.Contains(errs, "-archive") {
		t.Fatalf("copy without the segment: exit %d %q", code, errs)
	}
	db2 := pgtest.URL(t)
	code, out, errs := runCLI(t, "store", "copy", "-from", dir, "-archive", seg, "-to", db2)
	if code != 0 || !strings.Contains(out, "audit records: 40 (seq 1 to 40)") {
		t.Fatalf("copy with the segment: exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs := runCLI(t, "store", "copy", "-from", dir, "-to", "/var/lib/mig"); code != 2 || !strings.Contains(errs, "postgres://") {
		t.Fatalf("-to not a URL: exit %d %q", code, errs)
	}
}
