// Package storetest is the contract every consent store backend keeps:
// AgreementStore, ViewConsentStore and LaunchStore, run from each
// backend's tests (consent/bolt, consent/pg) so that they behave alike.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mig"
	"mig/consent"
)

// DB is what a backend offers.
type DB interface {
	Agreements() consent.AgreementStore
	ViewConsents() consent.ViewConsentStore
	Launches() consent.LaunchStore
}

// Backend makes stores for the suite.
type Backend struct {
	// Open returns a new, empty store, closed when t ends.
	Open func(t *testing.T) DB
	// Peer returns another handle on db's store, as a second gateway node
	// has (its own connections). nil for a backend one process holds
	// (bbolt): the "two nodes" tests then share db between goroutines.
	Peer func(t *testing.T, db DB) DB
}

func (b Backend) pair(t *testing.T) (DB, DB) {
	t.Helper()
	db := b.Open(t)
	if b.Peer == nil {
		return db, db
	}
	return db, b.Peer(t, db)
}

// T0 is the suite's reference time (whole seconds: every backend keeps at
// least microseconds).
var T0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// Run runs the whole contract.
func Run(t *testing.T, b Backend) {
	t.Run("AgreementHistory", func(t *testing.T) { testAgreementHistory(t, b) })
	t.Run("AgreementListAndErrors", func(t *testing.T) { testAgreementList(t, b) })
	t.Run("AgreementConcurrentVersions", func(t *testing.T) { testAgreementConcurrent(t, b) })
	t.Run("ViewConsentsConcurrent", func(t *testing.T) { testViewConsentsConcurrent(t, b) })
	t.Run("LaterDecisionSupersedes", func(t *testing.T) { testLaterDecisionSupersedes(t, b) })
	t.Run("ViewConsentErrors", func(t *testing.T) { testViewConsentErrors(t, b) })
	t.Run("LaunchRedeemOnceBeforeExpiry", func(t *testing.T) { testLaunchRedeemOnce(t, b) })
	t.Run("LaunchExpiredAndOtherUser", func(t *testing.T) { testLaunchExpiredAndOtherUser(t, b) })
	t.Run("LaunchConcurrentRedeem", func(t *testing.T) { testLaunchConcurrentRedeem(t, b) })
	t.Run("LaunchSwept", func(t *testing.T) { testLaunchSwept(t, b) })
	t.Run("ClientAssertionUsedOnce", func(t *testing.T) { testAssertionOnce(t, b) })
	t.Run("ClientAssertionConcurrent", func(t *testing.T) { testAssertionConcurrent(t, b) })
}

func testAgreementHistory(t *testing.T, b Backend) {
	ctx := context.Background()
	db, peer := b.pair(t)
	a := consent.DemoAgreement(T0)
	if err := consent.AddAgreement(ctx, db.Agreements(), a, "admin-1", T0); err != nil {
		t.Fatal(err)
	}
	if a.Version != 1 {
		t.Fatalf("version = %d", a.Version)
	}
	if err := consent.AddAgreement(ctx, peer.Agreements(), consent.DemoAgreement(T0), "admin-9", T0); mig.ErrorCode(err) != mig.ECONFLICT {
		t.Fatalf("adding an existing id from another node: %v", err)
	}
	// Status changes alternate between the two handles.
	if _, err := consent.SetStatus(ctx, peer.Agreements(), a.ID, consent.AgreementSuspended, "admin-2", T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := consent.SetStatus(ctx, db.Agreements(), a.ID, consent.AgreementEnded, "admin-3", T0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := consent.SetStatus(ctx, peer.Agreements(), a.ID, consent.AgreementActive, "admin-4", T0.Add(3*time.Hour)); mig.ErrorCode(err) != mig.ECONFLICT {
		t.Fatalf("reactivating an ended agreement: %v", err)
	}
	for _, h := range []DB{db, peer} {
		hist, err := h.Agreements().History(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			status, by string
			at         time.Time
		}{{consent.AgreementActive, "admin-1", T0}, {consent.AgreementSuspended, "admin-2", T0.Add(time.Hour)}, {consent.AgreementEnded, "admin-3", T0.Add(2 * time.Hour)}}
		if len(hist) != len(want) {
			t.Fatalf("history has %d versions, want %d", len(hist), len(want))
		}
		for i, w := range want {
			if hist[i].Version != i+1 || hist[i].Status != w.status || hist[i].ChangedBy != w.by || !hist[i].ChangedAt.Equal(w.at) {
				t.Errorf("version %d = %d %s %s %s, want %s %s %s", i+1, hist[i].Version, hist[i].Status, hist[i].ChangedBy, hist[i].ChangedAt, w.status, w.by, w.at)
			}
			// Nothing else changed between versions.
			if hist[i].Title != a.Title || !slices.Equal(hist[i].Providers, a.Providers) || !slices.Equal(hist[i].Views, a.Views) ||
				!slices.Equal(hist[i].EmergencyAccess, a.EmergencyAccess) || !hist[i].ValidFrom.Equal(a.ValidFrom) {
				t.Errorf("version %d lost fields: %+v", i+1, hist[i])
			}
		}
		cur, err := h.Agreements().Get(ctx, a.ID)
		if err != nil || cur.Version != 3 || cur.Status != consent.AgreementEnded || cur.ChangedBy != "admin-3" {
			t.Fatalf("current = %+v, %v", cur, err)
		}
		list, err := h.Agreements().List(ctx)
		if err != nil || len(list) != 1 || list[0].Version != 3 {
			t.Fatalf("List = %v, %v", list, err)
		}
	}
}

func testAgreementList(t *testing.T, b Backend) {
	ctx := context.Background()
	db, peer := b.pair(t)
	s := db.Agreements()
	if list, err := s.List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("empty store lists %v, %v", list, err)
	}
	for _, id := range []string{"isa-b", "isa-a", "isa-c", "ISA-Z"} {
		a := consent.DemoAgreement(T0)
		a.ID = id
		if err := consent.AddAgreement(ctx, s, a, "admin", T0); err != nil {
			t.Fatal(err)
		}
	}
	b2 := consent.DemoAgreement(T0)
	b2.ID, b2.Title = "isa-b", "renamed"
	if err := s.Put(ctx, b2); err != nil || b2.Version != 2 {
		t.Fatalf("Put: version %d, %v", b2.Version, err)
	}
	// Whatever text a title holds comes back as it went in.
	odd := consent.DemoAgreement(T0)
	odd.ID, odd.Title = "isa-odd", "nul\x00 \u2028 \"quoted\" é"
	if err := s.Put(ctx, odd); err != nil {
		t.Fatal(err)
	}
	if got, err := peer.Agreements().Get(ctx, "isa-odd"); err != nil || got.Title != odd.Title {
		t.Fatalf("odd title: %+v %v", got, err)
	}
	list, err := peer.Agreements().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range list {
		ids = append(ids, a.ID)
		if a.ID == "isa-b" && (a.Version != 2 || a.Title != "renamed") {
			t.Errorf("isa-b listed at version %d %q", a.Version, a.Title)
		}
	}
	if want := []string{"ISA-Z", "isa-a", "isa-b", "isa-c", "isa-odd"}; !slices.Equal(ids, want) {
		t.Errorf("List order %v, want %v (by id, bytewise)", ids, want)
	}
	for _, id := range []string{"nope", "", "bad\x00id"} {
		if _, err := s.Get(ctx, id); mig.ErrorCode(err) != mig.ENOTFOUND {
			t.Errorf("Get(%q): %v, want ENOTFOUND", id, err)
		}
		if _, err := s.History(ctx, id); mig.ErrorCode(err) != mig.ENOTFOUND {
			t.Errorf("History(%q): %v, want ENOTFOUND", id, err)
		}
	}
	if err := s.Put(ctx, nil); mig.ErrorCode(err) != mig.EINVALID {
		t.Errorf("Put(nil): %v", err)
	}
	if err := s.Put(ctx, &consent.Agreement{}); mig.ErrorCode(err) != mig.EINVALID {
		t.Errorf("Put without id: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Put(cctx, consent.DemoAgreement(T0)); err == nil {
		t.Error("Put on a cancelled context stored")
	}
	if _, err := s.Get(ctx, consent.DemoAgreementID); mig.ErrorCode(err) != mig.ENOTFOUND {
		t.Errorf("cancelled Put left %v", err)
	}
}

// testAgreementConcurrent writes versions of one agreement from both
// handles at once: every Put gets its own version, with no gap and no
// repeat, and every version is kept.
func testAgreementConcurrent(t *testing.T, b Backend) {
	ctx := context.Background()
	db, peer := b.pair(t)
	const writers, each = 6, 5
	var wg sync.WaitGroup
	versions := make(chan int, writers*each)
	for w := range writers {
		h := db
		if w%2 == 1 {
			h = peer
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				a := consent.DemoAgreement(T0)
				a.ChangedBy = fmt.Sprintf("admin-%d-%d", w, i)
				if err := h.Agreements().Put(ctx, a); err != nil {
					t.Error(err)
					return
				}
				versions <- a.Version
			}
		}()
	}
	wg.Wait()
	close(versions)
	var got []int
	for v := range versions {
		got = append(got, v)
	}
	slices.Sort(got)
	for i, v := range got {
		if v != i+1 {
			t.Fatalf("versions handed out %v: want 1..%d each once", got, writers*each)
		}
	}
	hist, err := db.Agreements().History(ctx, consent.DemoAgreementID)
	if err != nil || len(hist) != writers*each {
		t.Fatalf("history %d versions, %v", len(hist), err)
	}
	by := map[string]bool{}
	for i, h := range hist {
		if h.Version != i+1 {
			t.Fatalf("history[%d] is version %d", i, h.Version)
		}
		by[h.ChangedBy] = true
	}
	if len(by) != writers*each {
		t.Fatalf("history kept %d distinct writes of %d: a version was overwritten", len(by), writers*each)
	}
	cur, err := peer.Agreements().Get(ctx, consent.DemoAgreementID)
	if err != nil || cur.Version != writers*each || cur.ChangedBy != hist[len(hist)-1].ChangedBy {
		t.Fatalf("current %+v %v is not the last version", cur, err)
	}
}

func testViewConsentsConcurrent(t *testing.T, b Backend) {
	ctx := context.Background()
	db, peer := b.pair(t)
	const users, perUser = 8, 12
	var wg sync.WaitGroup
	errs := make(chan error, users*perUser*2)
	for u := 0; u < users; u++ {
		store := db.ViewConsents()
		if u%2 == 1 {
			store = peer.ViewConsents()
		}
		wg.Add(1)
		go func(u int) {
			defer wg.Done()
			p := &consent.Principal{UserID: fmt.Sprintf("user-%d", u), OrgODS: "RX999"}
			for i := 0; i < perUser; i++ {
				// Record in a known order: decision i is recorded i minutes in.
				given := i%2 == 0
				if _, err := consent.RecordViewConsent(ctx, store, p, "9990001006", given, false, "", T0.Add(time.Duration(i)*time.Minute), 8*time.Hour); err != nil {
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
	store := db.ViewConsents()
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
		latest, _ := peer.ViewConsents().Latest(ctx, user, "RX999", "9990001006")
		if latest == nil || latest.ID != list[0].ID || latest.Given != ((perUser-1)%2 == 0) {
			t.Fatalf("%s: latest is not the last decision", user)
		}
		got, err := store.Get(ctx, latest.ID)
		if err != nil || got.ID != latest.ID || got.UserID != user || got.NHSNumber != "9990001006" || !got.End.Equal(got.Start.Add(8*time.Hour)) {
			t.Errorf("Get: %+v %v", got, err)
		}
	}
	// Other organisations and patients see nothing.
	if c, err := store.Latest(ctx, "user-0", "NX999", "9990001006"); c != nil || err != nil {
		t.Errorf("other org: %v %v", c, err)
	}
	if c, _ := store.Latest(ctx, "user-0", "RX999", "9990001014"); c != nil {
		t.Error("other patient sees a consent")
	}
	if list, err := store.ListByUser(ctx, "user-0", "RX999", "9990001014"); len(list) != 0 || err != nil {
		t.Errorf("other patient lists %v %v", list, err)
	}
}

func testLaterDecisionSupersedes(t *testing.T, b Backend) {
	ctx := context.Background()
	db, peer := b.pair(t)
	p := &consent.Principal{UserID: "u", OrgODS: "RX999", RoleProfileID: "R8000"}
	// Stored out of order: the later recorded time wins, not insertion order.
	late, err := consent.RecordViewConsent(ctx, db.ViewConsents(), p, "9990001006", false, false, "", T0.Add(time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := consent.RecordViewConsent(ctx, peer.ViewConsents(), p, "9990001006", true, false, "", T0, time.Hour); err != nil {
		t.Fatal(err)
	}
	c, _ := db.ViewConsents().Latest(ctx, "u", "RX999", "9990001006")
	if c == nil || c.ID != late.ID || c.Given {
		t.Errorf("latest = %+v", c)
	}
	// Recorded at the same instant: the one stored last wins.
	em, err := consent.RecordViewConsent(ctx, peer.ViewConsents(), p, "9990001006", false, true, consent.EmergencyUnconscious, T0.Add(time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, _ = db.ViewConsents().Latest(ctx, "u", "RX999", "9990001006")
	if c == nil || c.ID != em.ID || !c.Emergency || c.EmergencyReason != consent.EmergencyUnconscious || c.RoleProfileID != "R8000" {
		t.Errorf("latest after a tie = %+v, want the emergency access stored last", c)
	}
	list, _ := db.ViewConsents().ListByUser(ctx, "u", "RX999", "9990001006")
	if len(list) != 3 || list[0].ID != em.ID || list[1].ID != late.ID {
		t.Errorf("ListByUser order wrong: %d", len(list))
	}
	if _, err := consent.RecordViewConsent(ctx, db.ViewConsents(), p, "9990001006", false, true, "bored", T0, time.Hour); mig.ErrorCode(err) != mig.EINVALID {
		t.Errorf("bad emergency reason accepted: %v", err)
	}
	if _, err := consent.RecordViewConsent(ctx, db.ViewConsents(), p, "9990001007", true, false, "", T0, time.Hour); mig.ErrorCode(err) != mig.EINVALID {
		t.Errorf("bad NHS number accepted: %v", err)
	}
}

func testViewConsentErrors(t *testing.T, b Backend) {
	ctx := context.Background()
	db, peer := b.pair(t)
	s := db.ViewConsents()
	c, err := consent.NewViewConsent(&consent.Principal{UserID: "u", OrgODS: "RX999"}, "9990001006", true, false, "", T0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := peer.ViewConsents().Put(ctx, c); mig.ErrorCode(err) != mig.ECONFLICT {
		t.Errorf("a second consent with the id: %v, want ECONFLICT", err)
	}
	if list, _ := s.ListByUser(ctx, "u", "RX999", "9990001006"); len(list) != 1 {
		t.Errorf("the refused duplicate was indexed: %d", len(list))
	}
	bad := []*consent.ViewConsent{
		nil,
		{UserID: "u", OrgODS: "RX999", NHSNumber: "9990001006"},
		{ID: "x1", OrgODS: "RX999", NHSNumber: "9990001006"},
		{ID: "x2", UserID: "u", NHSNumber: "9990001006"},
		{ID: "x3", UserID: "u", OrgODS: "RX999"},
		{ID: "x4", UserID: "u\x00v", OrgODS: "RX999", NHSNumber: "9990001006"},
	}
	for i, c := range bad {
		if err := s.Put(ctx, c); mig.ErrorCode(err) != mig.EINVALID {
			t.Errorf("bad consent %d: %v, want EINVALID", i, err)
		}
	}
	for _, id := range []string{"nope", "", "x1"} {
		if _, err := s.Get(ctx, id); mig.ErrorCode(err) != mig.ENOTFOUND {
			t.Errorf("Get(%q): %v, want ENOTFOUND", id, err)
		}
	}
	for _, k := range [][3]string{{"", "RX999", "9990001006"}, {"u", "", "9990001006"}, {"u", "RX999", ""}, {"u\x00", "RX999", "9990001006"}} {
		if c, err := s.Latest(ctx, k[0], k[1], k[2]); c != nil || err != nil {
			t.Errorf("Latest%q = %v, %v; want nothing", k, c, err)
		}
		if l, err := s.ListByUser(ctx, k[0], k[1], k[2]); len(l) != 0 || err != nil {
			t.Errorf("ListByUser%q = %v, %v; want nothing", k, l, err)
		}
	}
}

func testLaunchRedeemOnce(t *testing.T, b Backend) {
	ctx := context.Background()
	db, peer := b.pair(t)
	s := db.Launches()
	id, key := consent.NewLaunchID()
	if key != consent.LaunchKey(id) || key == id {
		t.Fatal("the store key must be derived from, and differ from, the id")
	}
	l := &consent.Launch{Key: key, Client: "ehr", UserID: "clin1", NHSNumber: "9990001006", BirthDate: "1950-03-14", Created: T0, Expires: T0.Add(5 * time.Minute)}
	if err := s.Create(ctx, l); err != nil {
		t.Fatal(err)
	}
	if err := peer.Launches().Create(ctx, l); mig.ErrorCode(err) != mig.ECONFLICT {
		t.Fatalf("a second launch with the same key: %v, want ECONFLICT", err)
	}
	if err := s.Create(ctx, &consent.Launch{}); mig.ErrorCode(err) != mig.EINVALID {
		t.Errorf("launch without a key: %v", err)
	}
	if err := s.Create(ctx, nil); mig.ErrorCode(err) != mig.EINVALID {
		t.Errorf("nil launch: %v", err)
	}
	got, err := peer.Launches().Get(ctx, key)
	if err != nil || got.Client != "ehr" || got.UserID != "clin1" || got.BirthDate != "1950-03-14" || !got.Expires.Equal(l.Expires) || !got.Created.Equal(T0) || !got.Redeemed.IsZero() || !got.Until.IsZero() {
		t.Fatalf("Get before redeem = %+v, %v", got, err)
	}
	// Redeemed through the other node.
	got, err = peer.Launches().Redeem(ctx, key, "clin1", "RX999", T0.Add(time.Minute), T0.Add(8*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got.NHSNumber != "9990001006" || got.Key != key || !got.Redeemed.Equal(T0.Add(time.Minute)) || !got.Until.Equal(T0.Add(8*time.Hour)) {
		t.Fatalf("redeemed launch = %+v", got)
	}
	if _, err := s.Redeem(ctx, key, "clin1", "RX999", T0.Add(2*time.Minute), T0.Add(8*time.Hour)); !errors.Is(err, consent.ErrLaunchInvalid) {
		t.Fatalf("replayed launch: err = %v, want ErrLaunchInvalid", err)
	}
	if _, err := s.Redeem(ctx, consent.LaunchKey("unknown"), "clin1", "RX999", T0, T0); !errors.Is(err, consent.ErrLaunchInvalid) {
		t.Fatalf("unknown launch: err = %v", err)
	}
	if _, err := s.Redeem(ctx, "bad\x00key", "clin1", "RX999", T0, T0); !errors.Is(err, consent.ErrLaunchInvalid) {
		t.Fatalf("unstorable key: err = %v", err)
	}
	got, err = s.Get(ctx, key)
	if err != nil || !got.Redeemed.Equal(T0.Add(time.Minute)) || !got.Until.Equal(T0.Add(8*time.Hour)) {
		t.Fatalf("Get after redeem = %+v, %v", got, err)
	}
	for _, k := range []string{consent.LaunchKey("unknown"), "", "bad\x00key"} {
		if _, err := s.Get(ctx, k); mig.ErrorCode(err) != mig.ENOTFOUND {
			t.Errorf("Get(%q): %v, want ENOTFOUND", k, err)
		}
	}
}

func testLaunchExpiredAndOtherUser(t *testing.T, b Backend) {
	ctx := context.Background()
	db, peer := b.pair(t)
	s := db.Launches()
	_, k1 := consent.NewLaunchID()
	_, k2 := consent.NewLaunchID()
	for _, k := range []string{k1, k2} {
		if err := s.Create(ctx, &consent.Launch{Key: k, UserID: "clin1", NHSNumber: "9990001006", Created: T0, Expires: T0.Add(5 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	// Expiry is exclusive: at Expires the launch is no longer valid.
	if _, err := s.Redeem(ctx, k1, "clin1", "RX999", T0.Add(5*time.Minute), T0.Add(time.Hour)); !errors.Is(err, consent.ErrLaunchInvalid) {
		t.Fatalf("expired launch: err = %v", err)
	}
	if l, err := s.Get(ctx, k1); err != nil || !l.Redeemed.IsZero() {
		t.Fatalf("a refused expired launch was marked redeemed: %+v %v", l, err)
	}
	if _, err := peer.Launches().Redeem(ctx, k2, "someone-else", "RX999", T0, T0.Add(time.Hour)); !errors.Is(err, consent.ErrLaunchOtherUser) {
		t.Fatalf("other user: err = %v", err)
	}
	// A launch naming an organisation is for that organisation's role only.
	_, k3 := consent.NewLaunchID()
	if err := s.Create(ctx, &consent.Launch{Key: k3, UserID: "clin1", OrgODS: "NX999", NHSNumber: "9990001006", Created: T0, Expires: T0.Add(5 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Redeem(ctx, k3, "clin1", "RX999", T0, T0.Add(time.Hour)); !errors.Is(err, consent.ErrLaunchOtherUser) {
		t.Fatalf("other organisation: err = %v", err)
	}
	// Shown to the wrong user, the launch is spent, on every node.
	if _, err := s.Redeem(ctx, k2, "clin1", "RX999", T0, T0.Add(time.Hour)); !errors.Is(err, consent.ErrLaunchInvalid) {
		t.Fatalf("launch after a wrong user: err = %v", err)
	}
	if _, err := peer.Launches().Redeem(ctx, k3, "clin1", "NX999", T0, T0.Add(time.Hour)); !errors.Is(err, consent.ErrLaunchInvalid) {
		t.Fatalf("launch after a wrong organisation: err = %v", err)
	}
	// The right organisation redeems a launch naming it.
	_, k4 := consent.NewLaunchID()
	if err := s.Create(ctx, &consent.Launch{Key: k4, UserID: "clin1", OrgODS: "NX999", NHSNumber: "9990001006", Created: T0, Expires: T0.Add(5 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if l, err := peer.Launches().Redeem(ctx, k4, "clin1", "NX999", T0, T0.Add(time.Hour)); err != nil || l.OrgODS != "NX999" {
		t.Fatalf("right organisation: %+v %v", l, err)
	}
}

// testLaunchConcurrentRedeem races redeemers of each launch, half on each
// handle: exactly one wins every launch.
func testLaunchConcurrentRedeem(t *testing.T, b Backend) {
	ctx := context.Background()
	db, peer := b.pair(t)
	const launches, racers = 20, 6
	keys := make([]string, launches)
	for i := range keys {
		_, keys[i] = consent.NewLaunchID()
		if err := db.Launches().Create(ctx, &consent.Launch{Key: keys[i], UserID: "clin1", NHSNumber: "9990001006", Created: T0, Expires: T0.Add(5 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	wins := make([]atomic.Int32, launches)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for r := range racers {
		h := db
		if r%2 == 1 {
			h = peer
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i, k := range keys {
				until := T0.Add(time.Duration(r+1) * time.Hour)
				l, err := h.Launches().Redeem(ctx, k, "clin1", "RX999", T0.Add(time.Minute), until)
				switch {
				case err == nil:
					wins[i].Add(1)
					if !l.Until.Equal(until) {
						t.Errorf("winner got until %v, want its own %v", l.Until, until)
					}
				case !errors.Is(err, consent.ErrLaunchInvalid):
					t.Errorf("launch %d: %v", i, err)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	for i := range wins {
		if n := wins[i].Load(); n != 1 {
			t.Errorf("launch %d redeemed %d times, want exactly once", i, n)
		}
	}
}

func testLaunchSwept(t *testing.T, b Backend) {
	ctx := context.Background()
	db, _ := b.pair(t)
	s := db.Launches()
	_, old := consent.NewLaunchID()
	_, redeemed := consent.NewLaunchID()
	for _, k := range []string{old, redeemed} {
		if err := s.Create(ctx, &consent.Launch{Key: k, UserID: "clin1", NHSNumber: "9990001006", Created: T0, Expires: T0.Add(5 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	// Redeemed, it matters until its Until (48 h on).
	if _, err := s.Redeem(ctx, redeemed, "clin1", "RX999", T0.Add(time.Minute), T0.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// A day and a bit after expiry, the next Create sweeps the unused launch.
	later := T0.Add(5*time.Minute + 25*time.Hour)
	_, k := consent.NewLaunchID()
	if err := s.Create(ctx, &consent.Launch{Key: k, UserID: "clin1", NHSNumber: "9990001006", Created: later, Expires: later.Add(5 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, old); mig.ErrorCode(err) != mig.ENOTFOUND {
		t.Errorf("expired launch not swept: %v", err)
	}
	if _, err := s.Get(ctx, redeemed); err != nil {
		t.Errorf("a launch still scoping calls was swept: %v", err)
	}
	if _, err := s.Get(ctx, k); err != nil {
		t.Errorf("new launch: %v", err)
	}
}

func testAssertionOnce(t *testing.T, b Backend) {
	ctx := context.Background()
	db, peer := b.pair(t)
	s := db.Launches()
	if err := s.UseAssertion(ctx, "ehr", "j1", T0.Add(time.Minute), T0); err != nil {
		t.Fatal(err)
	}
	if err := peer.Launches().UseAssertion(ctx, "ehr", "j1", T0.Add(time.Minute), T0.Add(30*time.Second)); !errors.Is(err, consent.ErrAssertionReused) {
		t.Fatalf("replayed assertion on another node: err = %v", err)
	}
	// Up to and including its expiry second it is a replay.
	if err := s.UseAssertion(ctx, "ehr", "j1", T0.Add(2*time.Minute), T0.Add(time.Minute)); !errors.Is(err, consent.ErrAssertionReused) {
		t.Fatalf("replay at expiry: err = %v", err)
	}
	if err := s.UseAssertion(ctx, "other", "j1", T0.Add(time.Minute), T0); err != nil {
		t.Fatalf("another client's jti: %v", err)
	}
	if err := s.UseAssertion(ctx, "ehr", "j1\x00x", T0.Add(time.Minute), T0); err != nil {
		t.Fatalf("a jti with a NUL: %v", err)
	}
	// Past its expiry the record is swept: the verifier refuses the expired
	// assertion itself, and the jti may recur.
	if err := peer.Launches().UseAssertion(ctx, "ehr", "j1", T0.Add(5*time.Minute), T0.Add(time.Minute+time.Second)); err != nil {
		t.Fatalf("jti after expiry: %v", err)
	}
	if err := s.UseAssertion(ctx, "ehr", "j1", T0.Add(5*time.Minute), T0.Add(2*time.Minute)); !errors.Is(err, consent.ErrAssertionReused) {
		t.Fatalf("the renewed jti: %v", err)
	}
}

// testAssertionConcurrent uses each assertion from several goroutines on
// both handles at once: exactly one use succeeds.
func testAssertionConcurrent(t *testing.T, b Backend) {
	ctx := context.Background()
	db, peer := b.pair(t)
	const jtis, racers = 20, 6
	ok := make([]atomic.Int32, jtis)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for r := range racers {
		h := db
		if r%2 == 1 {
			h = peer
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range jtis {
				err := h.Launches().UseAssertion(ctx, "ehr", fmt.Sprintf("jti-%d", i), T0.Add(time.Minute), T0)
				switch {
				case err == nil:
					ok[i].Add(1)
				case !errors.Is(err, consent.ErrAssertionReused):
					t.Errorf("jti %d: %v", i, err)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	for i := range ok {
		if n := ok[i].Load(); n != 1 {
			t.Errorf("assertion %d accepted %d times, want once", i, n)
		}
	}
}
