package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mig"
	"mig/adapters/source"
	"mig/audit"
	"mig/audit/bolt"
	"mig/consent"
)

func openStore(t *testing.T) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "audit.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func principal() *consent.Principal {
	return &consent.Principal{UserID: "555000111222", Name: "Dr Jo Tester", RoleCode: "R8000", RoleProfileID: "555000333444",
		OrgODS: "RX999", ClientID: "ed-client"}
}

func TestRecorderComplete(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		req  consent.Request
		want func(d *audit.Decoded) string // "" when fine
	}{
		{"read allowed", consent.Request{ID: "r1", Principal: principal(), Operation: consent.OpRead, Type: "Patient",
			NHSNumber: "9990001006", Practice: "A99901", AgreementID: "isa-1",
			ViewConsent: &consent.ViewConsent{ID: "vc1", Given: true}, Released: map[string]int{"Patient": 1}},
			func(d *audit.Decoded) string {
				if d.Type != audit.TypeRest || d.Subtype != "read" || d.Outcome != "0" || d.Consent != "given" || d.Released["Patient"] != 1 ||
					d.NHSNumber != "9990001006" || d.UserID != "555000111222" || d.RequestID != "r1" || d.Emergency {
					return "read event wrong"
				}
				return ""
			}},
		{"refused by share consent", consent.Request{ID: "r2", Principal: principal(), Operation: consent.OpSearch, Query: "Condition?x=1",
			NHSNumber: "9990001014", Practice: "A99901", Released: map[string]int{"Condition": 4},
			Decision: consent.Decision{Verdict: consent.Reject, Rule: "share-consent", Err: mig.Refusal(mig.IssueNoPatientConsent, "no consent to share")}},
			func(d *audit.Decoded) string {
				if d.Type != audit.TypeSecurity || d.Outcome != "8" || d.OutcomeDesc != "share-consent NO_PATIENT_CONSENT" || d.Subtype != "search-type" || len(d.Released) != 0 {
					return "refusal event wrong"
				}
				return ""
			}},
		{"emergency", consent.Request{ID: "r3", Principal: principal(), Operation: consent.OpEverything, NHSNumber: "9990001022", Practice: "A99901",
			Emergency: true, ViewConsent: &consent.ViewConsent{Emergency: true, EmergencyReason: consent.EmergencyUnconscious}},
			func(d *audit.Decoded) string {
				if !d.Emergency || d.EmergencyReason != consent.EmergencyUnconscious || d.Consent != "emergency" {
					return "emergency event wrong"
				}
				return ""
			}},
		{"no principal, no patient", consent.Request{ID: "r4", Operation: consent.OpCapabilities},
			func(d *audit.Decoded) string {
				if d.UserID != "" || d.NHSNumber != "" || d.Outcome == "0" {
					return "anonymous event wrong"
				}
				return ""
			}},
		{"GP system down", consent.Request{ID: "r5", Principal: principal(), Operation: consent.OpRead, NHSNumber: "9990002002", Practice: "A99902",
			Decision: consent.Decision{Verdict: consent.Reject, Rule: "source", Err: &mig.Error{Code: mig.EUNAVAILABLE, Issue: mig.IssueGPSystemUnavailable}}},
			func(d *audit.Decoded) string {
				if d.Type != audit.TypeRest || d.Outcome != "8" || d.OutcomeDesc != "source GP_SYSTEM_UNAVAILABLE" {
					return "failure event wrong"
				}
				return ""
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			rc := audit.NewRecorder(s, audit.RecorderOptions{Now: func() time.Time { return t0 }})
			if d := rc.Start(ctx, &tc.req); d.Verdict != consent.Proceed {
				t.Fatal("Start has an opinion")
			}
			if err := rc.Complete(ctx, &tc.req); err != nil {
				t.Fatal(err)
			}
			got, err := s.Search(ctx, audit.Query{})
			if err != nil || len(got) != 1 {
				t.Fatalf("%d events, %v", len(got), err)
			}
			validate(t, got[0].Body)
			if bytes.Contains(got[0].Body, []byte("Example")) || bytes.Contains(got[0].Body, []byte("FREETEXT-")) {
				t.Fatal("patient text in the event")
			}
			d, err := audit.Decode(got[0].Body)
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.want(d); msg != "" {
				t.Fatalf("%s: %+v", msg, d)
			}
			items, _ := s.Pending(ctx, time.Now(), 10)
			if (tc.req.Practice != "") != (len(items) == 1) {
				t.Fatalf("outbox holds %d items for practice %q", len(items), tc.req.Practice)
			}
		})
	}
}

func TestRecorderFailsWhenStoreFails(t *testing.T) {
	s := openStore(t)
	rc := audit.NewRecorder(s, audit.RecorderOptions{})
	s.Close()
	err := rc.Complete(context.Background(), &consent.Request{Principal: principal(), Operation: consent.OpRead, NHSNumber: "9990001006"})
	if mig.ErrorCode(err) != mig.EUNAVAILABLE || mig.ErrorIssue(err) != mig.IssueAuditUnavailable {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "9990001006") {
		t.Fatal("NHS number in error")
	}
}

func TestDelivererRetriesWithSameID(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := fullEvent()
	st, err := s.Append(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	var mu sync.Mutex
	var sent []source.Notification
	fail := 3
	send := func(_ context.Context, practice string, n source.Notification) error {
		mu.Lock()
		defer mu.Unlock()
		if practice != "A99901" {
			t.Errorf("sent to %s", practice)
		}
		sent = append(sent, n)
		if fail > 0 {
			fail--
			return errors.New("GP system down")
		}
		return nil
	}
	opts := audit.DelivererOptions{Now: func() time.Time { return now }, Jitter: func() float64 { return 0 }}
	d := audit.NewDeliverer(s, send, opts)
	wantDelays := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
	for i, delay := range wantDelays {
		if ok, def, err := d.RunOnce(ctx); err != nil || ok != 0 || def != 1 {
			t.Fatalf("round %d: %d sent %d deferred %v", i, ok, def, err)
		}
		// Not due before the backoff ends, even after a restart.
		s.Close()
		if s, err = bolt.Open(path, bolt.Options{}); err != nil {
			t.Fatal(err)
		}
		d = audit.NewDeliverer(s, send, opts)
		now = now.Add(delay - time.Millisecond)
		if ok, def, _ := d.RunOnce(ctx); ok+def != 0 {
			t.Fatalf("round %d: retried before the backoff", i)
		}
		now = now.Add(time.Millisecond)
	}
	if ok, _, err := d.RunOnce(ctx); ok != 1 || err != nil {
		t.Fatalf("final delivery: %d %v", ok, err)
	}
	if items, _ := s.Pending(ctx, now.Add(time.Hour), 10); len(items) != 0 {
		t.Fatal("delivered item still pending")
	}
	if len(sent) != 4 {
		t.Fatalf("%d sends", len(sent))
	}
	for _, n := range sent {
		if n.ID != st[0].ID || !bytes.Equal(n.Body, st[0].Body) {
			t.Fatal("retry changed the notification")
		}
	}
	s.Close()
}

func TestBackoffCapAndJitter(t *testing.T) {
	for _, j := range []float64{0, 0.5, 0.999} {
		d := audit.NewDeliverer(nil, nil, audit.DelivererOptions{Jitter: func() float64 { return j }})
		for attempts := 1; attempts < 40; attempts++ {
			full := time.Second << min(attempts-1, 20)
			full = min(full, 10*time.Minute)
			got := d.Backoff(attempts)
			if got > full || got < full/2 {
				t.Fatalf("jitter %v attempts %d: %v not in [%v, %v]", j, attempts, got, full/2, full)
			}
		}
	}
}

func TestExportAndReport(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	var events []*audit.Event
	for i := 0; i < 2500; i++ {
		e := fullEvent()
		e.Time = t0.Add(time.Duration(i) * time.Minute)
		e.UserID = []string{"u1", "u2", "u3"}[i%3]
		e.OrgODS = []string{"RX999", "NX999"}[i%2]
		if i%7 == 0 {
			e.Type, e.Outcome, e.OutcomeDesc, e.Released = audit.TypeSecurity, audit.OutcomeSeriousFail, "view-consent NO_VIEW_CONSENT", nil
		}
		if i%50 == 0 {
			e.PurposeOfUse, e.Emergency = "ETREAT", "unconscious"
		}
		events = append(events, e)
	}
	if _, err := s.Append(ctx, events...); err != nil {
		t.Fatal(err)
	}
	// NDJSON: each line is a stored body.
	var buf bytes.Buffer
	since := t0.Add(1000 * time.Minute)
	var calls int
	last, err := audit.WriteNDJSON(ctx, s, &buf, since, 0, func(seq, n uint64) { calls++ })
	if err != nil || last != 2500 || calls < 2 {
		t.Fatalf("export: last %d calls %d %v", last, calls, err)
	}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	var lines uint64
	for sc.Scan() {
		lines++
		want, _ := s.Search(ctx, audit.Query{AfterSeq: 1000 + lines - 1, Limit: 1})
		if !bytes.Equal(sc.Bytes(), want[0].Body) {
			t.Fatalf("line %d is not the stored body", lines)
		}
	}
	if lines != 1500 {
		t.Fatalf("%d lines", lines)
	}
	// Async job.
	dir := t.TempDir()
	jobs := audit.NewExportJobs(s, s, audit.ExportDir(dir))
	j, err := jobs.Kickoff(ctx, time.Time{}, 2000)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := jobs.Status(ctx, j.ID); st.Status != audit.JobQueued {
		t.Fatalf("status %s", st.Status)
	}
	if ran, err := jobs.RunNext(ctx); !ran || err != nil {
		t.Fatalf("run: %v %v", ran, err)
	}
	st, err := jobs.Status(ctx, j.ID)
	if err != nil || st.Status != audit.JobComplete || st.Last != 2500 || st.Count != 500 {
		t.Fatalf("job: %+v %v", st, err)
	}
	data, err := os.ReadFile(st.Output)
	if err != nil || bytes.Count(data, []byte("\n")) != 500 {
		t.Fatalf("output: %d lines %v", bytes.Count(data, []byte("\n")), err)
	}
	if ran, _ := jobs.RunNext(ctx); ran {
		t.Fatal("completed job ran again")
	}
	// Report over the first 1000 events.
	rep, err := audit.BuildReport(ctx, s, t0, t0.Add(1000*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	wantRefused, wantEmerg := 0, 0
	for i := 0; i < 1000; i++ {
		if i%7 == 0 {
			wantRefused++
		}
		if i%50 == 0 {
			wantEmerg++
		}
	}
	if rep.Events != 1000 || len(rep.ByOrg) != 2 || rep.ByOrg[0].Total != 500 || len(rep.ByUser) != 3 ||
		len(rep.Refusals) != 1 || rep.Refusals[0].Total != wantRefused || len(rep.Emergencies) != wantEmerg {
		t.Fatalf("report: %+v", rep)
	}
	if rep.Emergencies[0].NHSNumber != "9990001006" || rep.Emergencies[0].Reason != "unconscious" {
		t.Fatalf("emergency row: %+v", rep.Emergencies[0])
	}
	var txt, csvb bytes.Buffer
	if err := rep.WriteText(&txt); err != nil || !strings.Contains(txt.String(), "view-consent NO_VIEW_CONSENT") {
		t.Fatalf("text: %v\n%s", err, txt.String())
	}
	if err := rep.WriteCSV(&csvb); err != nil || !strings.Contains(csvb.String(), fmt.Sprintf("refusal,view-consent NO_VIEW_CONSENT,%d,%d", wantRefused, wantRefused)) {
		t.Fatalf("csv: %v\n%s", err, csvb.String())
	}
}
