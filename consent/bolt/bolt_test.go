package bolt_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"mig/consent"
	"mig/consent/bolt"
)

var now = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// TestSurvivesReopen: what was stored is there after the file is closed and
// opened again (the rest of the contract is storetest's, TestContract).
func TestSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a := consent.DemoAgreement(now)
	if err := consent.AddAgreement(ctx, db.Agreements(), a, "admin-1", now); err != nil {
		t.Fatal(err)
	}
	if _, err := consent.SetStatus(ctx, db.Agreements(), a.ID, consent.AgreementSuspended, "admin-2", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	p := &consent.Principal{UserID: "u", OrgODS: "RX999"}
	c, err := consent.RecordViewConsent(ctx, db.ViewConsents(), p, "9990001006", true, false, "", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, key := consent.NewLaunchID()
	if err := db.Launches().Create(ctx, &consent.Launch{Key: key, UserID: "clin1", NHSNumber: "9990001006", Created: now, Expires: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hist, err := db.Agreements().History(ctx, a.ID)
	if err != nil || len(hist) != 2 || hist[0].ChangedBy != "admin-1" || hist[1].Status != consent.AgreementSuspended {
		t.Fatalf("history after reopen: %d versions, %v", len(hist), err)
	}
	if got, err := db.ViewConsents().Latest(ctx, "u", "RX999", "9990001006"); err != nil || got == nil || got.ID != c.ID {
		t.Fatalf("consent after reopen: %+v %v", got, err)
	}
	if _, err := db.Launches().Redeem(ctx, key, "clin1", "RX999", now, now.Add(time.Hour)); err != nil {
		t.Fatalf("launch after reopen: %v", err)
	}
}
