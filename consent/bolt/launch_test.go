package bolt

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"mig/consent"
)

func openLaunches(t *testing.T) consent.LaunchStore {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "consent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db.Launches()
}

func TestLaunchRedeemOnceBeforeExpiry(t *testing.T) {
	ctx := context.Background()
	s := openLaunches(t)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	id, key := consent.NewLaunchID()
	if key != consent.LaunchKey(id) || key == id {
		t.Fatal("the store key must be derived from, and differ from, the id")
	}
	l := &consent.Launch{Key: key, Client: "ehr", UserID: "clin1", NHSNumber: "9990001006", Created: now, Expires: now.Add(5 * time.Minute)}
	if err := s.Create(ctx, l); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, l); err == nil {
		t.Fatal("a second launch with the same key was stored")
	}
	got, err := s.Redeem(ctx, key, "clin1", "RX999", now.Add(time.Minute), now.Add(8*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got.NHSNumber != "9990001006" || got.Redeemed.IsZero() || !got.Until.Equal(now.Add(8*time.Hour)) {
		t.Fatalf("redeemed launch = %+v", got)
	}
	if _, err := s.Redeem(ctx, key, "clin1", "RX999", now.Add(2*time.Minute), now.Add(8*time.Hour)); !errors.Is(err, consent.ErrLaunchInvalid) {
		t.Fatalf("replayed launch: err = %v, want ErrLaunchInvalid", err)
	}
	if _, err := s.Redeem(ctx, consent.LaunchKey("unknown"), "clin1", "RX999", now, now); !errors.Is(err, consent.ErrLaunchInvalid) {
		t.Fatalf("unknown launch: err = %v", err)
	}
}

func TestLaunchExpiredAndOtherUser(t *testing.T) {
	ctx := context.Background()
	s := openLaunches(t)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	_, k1 := consent.NewLaunchID()
	_, k2 := consent.NewLaunchID()
	for _, k := range []string{k1, k2} {
		if err := s.Create(ctx, &consent.Launch{Key: k, UserID: "clin1", NHSNumber: "9990001006", Created: now, Expires: now.Add(5 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Redeem(ctx, k1, "clin1", "RX999", now.Add(5*time.Minute), now.Add(time.Hour)); !errors.Is(err, consent.ErrLaunchInvalid) {
		t.Fatalf("expired launch: err = %v", err)
	}
	if _, err := s.Redeem(ctx, k2, "someone-else", "RX999", now, now.Add(time.Hour)); !errors.Is(err, consent.ErrLaunchOtherUser) {
		t.Fatalf("other user: err = %v", err)
	}
	// A launch naming an organisation is for that organisation's role only.
	_, k3 := consent.NewLaunchID()
	if err := s.Create(ctx, &consent.Launch{Key: k3, UserID: "clin1", OrgODS: "NX999", NHSNumber: "9990001006", Created: now, Expires: now.Add(5 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Redeem(ctx, k3, "clin1", "RX999", now, now.Add(time.Hour)); !errors.Is(err, consent.ErrLaunchOtherUser) {
		t.Fatalf("other organisation: err = %v", err)
	}
	// Shown to the wrong user, the launch is spent.
	if _, err := s.Redeem(ctx, k2, "clin1", "RX999", now, now.Add(time.Hour)); !errors.Is(err, consent.ErrLaunchInvalid) {
		t.Fatalf("launch after a wrong user: err = %v", err)
	}
}

func TestClientAssertionUsedOnce(t *testing.T) {
	ctx := context.Background()
	s := openLaunches(t)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	if err := s.UseAssertion(ctx, "ehr", "j1", now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if err := s.UseAssertion(ctx, "ehr", "j1", now.Add(time.Minute), now); !errors.Is(err, consent.ErrAssertionReused) {
		t.Fatalf("replayed assertion: err = %v", err)
	}
	if err := s.UseAssertion(ctx, "other", "j1", now.Add(time.Minute), now); err != nil {
		t.Fatalf("another client's jti: %v", err)
	}
}
