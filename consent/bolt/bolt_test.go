package bolt_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"mig"
	"mig/consent"
	"mig/consent/bolt"
)

var now = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func TestAgreementHistorySurvivesReopen(t *testing.T) {
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
	if a.Version != 1 {
		t.Fatalf("version = %d", a.Version)
	}
	if _, err := consent.SetStatus(ctx, db.Agreements(), a.ID, consent.AgreementSuspended, "admin-2", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := consent.SetStatus(ctx, db.Agreements(), a.ID, consent.AgreementEnded, "admin-3", now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := consent.SetStatus(ctx, db.Agreements(), a.ID, consent.AgreementActive, "admin-4", now.Add(3*time.Hour)); mig.ErrorCode(err) != mig.ECONFLICT {
		t.Fatalf("reactivating an ended agreement: %v", err)
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
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		status, by string
	}{{consent.AgreementActive, "admin-1"}, {consent.AgreementSuspended, "admin-2"}, {consent.AgreementEnded, "admin-3"}}
	if len(hist) != len(want) {
		t.Fatalf("history has %d versions, want %d", len(hist), len(want))
	}
	for i, w := range want {
		if hist[i].Version != i+1 || hist[i].Status != w.status || hist[i].ChangedBy != w.by {
			t.Errorf("version %d = %d %s %s, want %s %s", i+1, hist[i].Version, hist[i].Status, hist[i].ChangedBy, w.status, w.by)
		}
	}
	cur, err := db.Agreements().Get(ctx, a.ID)
	if err != nil || cur.Version != 3 || cur.Status != consent.AgreementEnded {
		t.Fatalf("current = %+v, %v", cur, err)
	}
	list, err := db.Agreements().List(ctx)
	if err != nil || len(list) != 1 || list[0].Version != 3 {
		t.Fatalf("List = %v, %v", list, err)
	}
	if _, err := db.Agreements().Get(ctx, "nope"); mig.ErrorCode(err) != mig.ENOTFOUND {
		t.Errorf("missing agreement: %v", err)
	}
}

func TestViewConsentsConcurrent(t *testing.T) {
	ctx := context.Background()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := db.ViewConsents()
	const users, perUser = 8, 12
	var wg sync.WaitGroup
	errs := make(chan error, users*perUser*2)
	for u := 0; u < users; u++ {
		wg.Add(1)
		go func(u int) {
			defer wg.Done()
			p := &consent.Principal{UserID: fmt.Sprintf("user-%d", u), OrgODS: "RX999"}
			for i := 0; i < perUser; i++ {
				// Record in a known order: decision i is recorded i minutes in.
				given := i%2 == 0
				if _, err := consent.RecordViewConsent(ctx, store, p, "9990001006", given, false, "", now.Add(time.Duration(i)*time.Minute), 8*time.Hour); err != nil {
					errs <- err
					return
				}
				if c, err := store.Latest(ctx, p.UserID, "RX999", "9990001006"); err != nil || c == nil || c.UserID != p.UserID {
					errs <- fmt.Errorf("latest for %s: %v %v", p.UserID, c, err)
				}
			}
		}(u)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for u := 0; u < users; u++ {
		user := fmt.Sprintf("user-%d", u)
		list, err := store.ListByUser(ctx, user, "RX999", "9990001006")
		if err != nil || len(list) != perUser {
			t.Fatalf("%s: %d consents, %v", user, len(list), err)
		}
		for i := 1; i < len(list); i++ {
			if list[i].Recorded.After(list[i-1].Recorded) {
				t.Fatalf("%s: not newest first", user)
			}
		}
		latest, _ := store.Latest(ctx, user, "RX999", "9990001006")
		if latest.ID != list[0].ID || latest.Given != ((perUser-1)%2 == 0) {
			t.Errorf("%s: latest is not the last decision", user)
		}
		got, err := store.Get(ctx, latest.ID)
		if err != nil || got.ID != latest.ID {
			t.Errorf("Get: %v", err)
		}
	}
	// Other organisations and patients see nothing.
	if c, err := store.Latest(ctx, "user-0", "NX999", "9990001006"); c != nil || err != nil {
		t.Errorf("other org: %v %v", c, err)
	}
	if c, _ := store.Latest(ctx, "user-0", "RX999", "9990001014"); c != nil {
		t.Error("other patient sees a consent")
	}
}

func TestLaterDecisionSupersedes(t *testing.T) {
	ctx := context.Background()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := &consent.Principal{UserID: "u", OrgODS: "RX999"}
	// Stored out of order: the later recorded time wins, not insertion order.
	late, _ := consent.RecordViewConsent(ctx, db.ViewConsents(), p, "9990001006", false, false, "", now.Add(time.Hour), time.Hour)
	if _, err := consent.RecordViewConsent(ctx, db.ViewConsents(), p, "9990001006", true, false, "", now, time.Hour); err != nil {
		t.Fatal(err)
	}
	c, _ := db.ViewConsents().Latest(ctx, "u", "RX999", "9990001006")
	if c == nil || c.ID != late.ID || c.Given {
		t.Errorf("latest = %+v", c)
	}
	if _, err := consent.RecordViewConsent(ctx, db.ViewConsents(), p, "9990001006", false, true, "bored", now, time.Hour); mig.ErrorCode(err) != mig.EINVALID {
		t.Errorf("bad emergency reason accepted: %v", err)
	}
	if _, err := consent.RecordViewConsent(ctx, db.ViewConsents(), p, "9990001007", true, false, "", now, time.Hour); mig.ErrorCode(err) != mig.EINVALID {
		t.Errorf("bad NHS number accepted: %v", err)
	}
}
