package consent_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"mig"
	"mig/adapters/record"
	"mig/consent"
	"mig/consent/bolt"
)

var now = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

const nhs = "9990001006"

func day(y int, m time.Month, d int) record.Date {
	return record.Date{T: time.Date(y, m, d, 0, 0, 0, 0, time.UTC), P: record.PrecisionDay}
}

func coded(system, code string, d record.Date) record.Entry {
	return record.Entry{Code: record.Concept{Codings: []record.Coding{{System: system, Code: code}}}, Effective: d}
}

// sharedRecord returns a record at practice with a consent to share.
func sharedRecord(practice string) *record.Record {
	return &record.Record{
		Patient: record.Patient{NHSNumber: nhs, PracticeODS: practice},
		Entries: []record.Entry{coded(record.SystemReadV2, "9Nd7.00", day(2020, 1, 6))},
	}
}

func withEntries(practice string, es ...record.Entry) func() *record.Record {
	return func() *record.Record {
		return &record.Record{Patient: record.Patient{NHSNumber: nhs, PracticeODS: practice}, Entries: es}
	}
}

var coveredViews = []record.View{record.ViewSummary, record.ViewProblems, record.ViewMedication, record.ViewRisks}

// fixture opens a store with agreements in every state.
func fixture(t *testing.T) (*bolt.DB, consent.Chain) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "consent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	from := now.AddDate(-1, 0, 0)
	agreements := []*consent.Agreement{
		{ID: "active", Providers: []string{"A99901", "A99902"}, Recipients: []string{"RX999", "NX999"},
			Views: coveredViews, EmergencyAccess: []string{"RX999"}, ValidFrom: from, Status: consent.AgreementActive},
		{ID: "suspended", Providers: []string{"A99903"}, Recipients: []string{"RX999", "SX999"},
			Views: record.AllViews(), ValidFrom: from, Status: consent.AgreementSuspended},
		{ID: "ended", Providers: []string{"A99904"}, Recipients: []string{"RX999", "EX999"},
			Views: record.AllViews(), ValidFrom: from, Status: consent.AgreementEnded},
		{ID: "expired", Providers: []string{"A99905"}, Recipients: []string{"RX999", "XX999"},
			Views: record.AllViews(), ValidFrom: from, ValidTo: now.Add(-time.Hour), Status: consent.AgreementActive},
		{ID: "draft", Providers: []string{"A99906"}, Recipients: []string{"RX999", "DX999"},
			Views: record.AllViews(), ValidFrom: from, Status: consent.AgreementDraft},
		{ID: "future", Providers: []string{"A99907"}, Recipients: []string{"RX999", "FX999"},
			Views: record.AllViews(), ValidFrom: now.Add(time.Hour), Status: consent.AgreementActive},
	}
	for _, a := range agreements {
		if err := consent.AddAgreement(context.Background(), db.Agreements(), a, "admin", from); err != nil {
			t.Fatal(err)
		}
	}
	return db, consent.NewChain(consent.DefaultConfig(), db.Agreements(), db.ViewConsents())
}

func principal(role, org string) *consent.Principal {
	return &consent.Principal{Subject: "s", UserID: "user-1", RoleCode: role, OrgODS: org, Expiry: now.Add(time.Hour)}
}

type vcSetup struct {
	given, emergency bool
	reason           string
	age              time.Duration // how long ago it was recorded
}

func TestChainDecisionTable(t *testing.T) {
	clinician := principal("R8000", "RX999")
	ooh := principal("R8001", "NX999")
	given := &vcSetup{given: true}
	tests := []struct {
		name      string
		p         *consent.Principal
		op        consent.Operation
		views     []record.View
		practice  string
		rec       func() *record.Record
		vc        *vcSetup
		stage     string // "start" or "cansee": where the decision falls
		verdict   consent.Verdict
		rule      string
		code      string
		issue     string
		emergency bool
	}{
		// Principal.
		{name: "no principal", p: nil, op: consent.OpRead, stage: "start", verdict: consent.Reject,
			rule: consent.RuleAuthentication, code: mig.EUNAUTHORIZED},
		{name: "expired token", p: &consent.Principal{UserID: "u", RoleCode: "R8000", OrgODS: "RX999", Expiry: now.Add(-time.Minute)},
			op: consent.OpRead, stage: "start", verdict: consent.Reject, rule: consent.RuleAuthentication, code: mig.EUNAUTHORIZED},
		{name: "capabilities without token", p: nil, op: consent.OpCapabilities, stage: "start", verdict: consent.Authorized,
			rule: consent.RuleAuthentication},
		{name: "receptionist role", p: principal("R8009", "RX999"), op: consent.OpRead, stage: "start", verdict: consent.Reject,
			rule: consent.RuleRole, code: mig.EFORBIDDEN, issue: mig.IssueAccessDenied},
		{name: "no role", p: principal("", "RX999"), op: consent.OpEverything, stage: "start", verdict: consent.Reject,
			rule: consent.RuleRole, code: mig.EFORBIDDEN, issue: mig.IssueAccessDenied},
		{name: "clinician reads audit", p: clinician, op: consent.OpAuditSearch, stage: "start", verdict: consent.Reject,
			rule: consent.RuleRole, code: mig.EFORBIDDEN, issue: mig.IssueAccessDenied},
		{name: "privacy officer reads audit", p: principal("R0001", "RX999"), op: consent.OpAuditSearch, stage: "start",
			verdict: consent.Authorized, rule: consent.RuleRole},
		{name: "caldicott exports audit", p: principal("R5105", "ZZ999"), op: consent.OpAuditExport, stage: "start",
			verdict: consent.Authorized, rule: consent.RuleRole},
		{name: "non-admin changes agreement", p: clinician, op: consent.OpAgreementAdmin, stage: "start", verdict: consent.Reject,
			rule: consent.RuleRole, code: mig.EFORBIDDEN, issue: mig.IssueAccessDenied},
		{name: "clinician reads agreements", p: clinician, op: consent.OpAgreementRead, stage: "start",
			verdict: consent.Authorized, rule: consent.RuleRole},
		{name: "unknown operation", p: clinician, op: "delete-everything", stage: "start", verdict: consent.Reject,
			rule: consent.RuleRole, code: mig.EFORBIDDEN, issue: mig.IssueAccessDenied},
		{name: "org in no agreement", p: principal("R8000", "ZZ999"), op: consent.OpRead, stage: "start", verdict: consent.Reject,
			rule: consent.RuleRecipient, code: mig.EFORBIDDEN, issue: mig.IssueNoOrganisationConsent},
		{name: "org only in suspended agreement", p: principal("R8000", "SX999"), op: consent.OpRead, stage: "start",
			verdict: consent.Reject, rule: consent.RuleRecipient, code: mig.EFORBIDDEN, issue: mig.IssueNoOrganisationConsent},
		{name: "org only in ended agreement", p: principal("R8000", "EX999"), op: consent.OpView, stage: "start",
			verdict: consent.Reject, rule: consent.RuleRecipient, code: mig.EFORBIDDEN, issue: mig.IssueNoOrganisationConsent},
		{name: "org only in expired agreement", p: principal("R8000", "XX999"), op: consent.OpSearch, stage: "start",
			verdict: consent.Reject, rule: consent.RuleRecipient, code: mig.EFORBIDDEN, issue: mig.IssueNoOrganisationConsent},
		{name: "org only in draft agreement", p: principal("R8000", "DX999"), op: consent.OpRead, stage: "start",
			verdict: consent.Reject, rule: consent.RuleRecipient, code: mig.EFORBIDDEN, issue: mig.IssueNoOrganisationConsent},
		{name: "org only in future agreement", p: principal("R8000", "FX999"), op: consent.OpRead, stage: "start",
			verdict: consent.Reject, rule: consent.RuleRecipient, code: mig.EFORBIDDEN, issue: mig.IssueNoOrganisationConsent},
		{name: "consent search by recipient clinician", p: clinician, op: consent.OpConsentSearch, stage: "start",
			verdict: consent.Authorized, rule: consent.RuleRecipient},
		{name: "consent search by org in no agreement", p: principal("R8000", "ZZ999"), op: consent.OpConsentSearch, stage: "start",
			verdict: consent.Reject, rule: consent.RuleRecipient, code: mig.EFORBIDDEN, issue: mig.IssueNoOrganisationConsent},

		// Agreement state for the patient's practice.
		{name: "practice under suspended agreement", p: clinician, op: consent.OpRead, practice: "A99903", vc: given,
			stage: "cansee", verdict: consent.Reject, rule: consent.RuleAgreement, code: mig.ENOTFOUND, issue: mig.IssuePatientNotFound},
		{name: "practice under ended agreement", p: clinician, op: consent.OpRead, practice: "A99904", vc: given,
			stage: "cansee", verdict: consent.Reject, rule: consent.RuleAgreement, code: mig.ENOTFOUND, issue: mig.IssuePatientNotFound},
		{name: "practice under expired agreement", p: clinician, op: consent.OpRead, practice: "A99905", vc: given,
			stage: "cansee", verdict: consent.Reject, rule: consent.RuleAgreement, code: mig.ENOTFOUND, issue: mig.IssuePatientNotFound},
		{name: "practice under draft agreement", p: clinician, op: consent.OpRead, practice: "A99906", vc: given,
			stage: "cansee", verdict: consent.Reject, rule: consent.RuleAgreement, code: mig.ENOTFOUND, issue: mig.IssuePatientNotFound},
		{name: "practice in no agreement", p: clinician, op: consent.OpRead, practice: "A11111", vc: given,
			stage: "cansee", verdict: consent.Reject, rule: consent.RuleAgreement, code: mig.ENOTFOUND, issue: mig.IssuePatientNotFound},
		{name: "view not covered", p: clinician, op: consent.OpView, views: []record.View{record.ViewInvestigations}, vc: given,
			stage: "cansee", verdict: consent.Reject, rule: consent.RuleAgreement, code: mig.EFORBIDDEN, issue: mig.IssueNoOrganisationConsent},
		{name: "covered view", p: clinician, op: consent.OpView, views: []record.View{record.ViewProblems}, vc: given,
			stage: "cansee", verdict: consent.Authorized, rule: consent.RuleViewConsent},

		// Patient status.
		{name: "deceased", p: clinician, op: consent.OpRead, vc: given, rec: func() *record.Record {
			r := sharedRecord("A99901")
			r.Patient.Deceased = true
			return r
		}, stage: "cansee", verdict: consent.Reject, rule: consent.RulePatientStatus, code: mig.ENOTFOUND, issue: mig.IssuePatientNotFound},
		{name: "deducted", p: clinician, op: consent.OpRead, vc: given, rec: func() *record.Record {
			r := sharedRecord("A99901")
			r.Patient.Deducted = true
			return r
		}, stage: "cansee", verdict: consent.Reject, rule: consent.RulePatientStatus, code: mig.ENOTFOUND, issue: mig.IssuePatientNotFound},

		// Share status.
		{name: "share consent", p: clinician, op: consent.OpEverything, vc: given, stage: "cansee",
			verdict: consent.Authorized, rule: consent.RuleViewConsent},
		{name: "share dissent", p: clinician, op: consent.OpEverything, vc: given,
			rec:   withEntries("A99901", coded(record.SystemReadV2, "9Nd1.", day(2021, 1, 1))),
			stage: "cansee", verdict: consent.Reject, rule: consent.RuleShareConsent, code: mig.EFORBIDDEN, issue: mig.IssueNoPatientConsent},
		{name: "share none", p: clinician, op: consent.OpEverything, vc: given, rec: withEntries("A99901"),
			stage: "cansee", verdict: consent.Reject, rule: consent.RuleShareConsent, code: mig.EFORBIDDEN, issue: mig.IssueNoPatientConsent},
		{name: "share same-day tie", p: clinician, op: consent.OpEverything, vc: given,
			rec:   withEntries("A99901", coded(record.SystemReadV2, "9Nd7.", day(2021, 1, 1)), coded(record.SystemSNOMED, "416409005", day(2021, 1, 1))),
			stage: "cansee", verdict: consent.Reject, rule: consent.RuleShareConsent, code: mig.EFORBIDDEN, issue: mig.IssueNoPatientConsent},
		{name: "share later consent after dissent", p: clinician, op: consent.OpEverything, vc: given,
			rec:   withEntries("A99901", coded(record.SystemReadV2, "93C1.", day(2019, 1, 1)), coded(record.SystemReadV2, "93C0.", day(2021, 1, 1))),
			stage: "cansee", verdict: consent.Authorized, rule: consent.RuleViewConsent},
		{name: "share flag dissent after coded consent", p: clinician, op: consent.OpEverything, vc: given,
			rec: func() *record.Record {
				r := sharedRecord("A99901")
				r.SharingFlags = []record.SharingFlag{{Setting: "tpp:sharing-out", Consent: false, Date: day(2022, 1, 1)}}
				return r
			}, stage: "cansee", verdict: consent.Reject, rule: consent.RuleShareConsent, code: mig.EFORBIDDEN, issue: mig.IssueNoPatientConsent},
		{name: "share flag consent", p: clinician, op: consent.OpEverything, vc: given,
			rec: func() *record.Record {
				r := &record.Record{Patient: record.Patient{NHSNumber: nhs, PracticeODS: "A99901"}}
				r.SharingFlags = []record.SharingFlag{{Setting: "tpp:sharing-out", Consent: true, Date: day(2022, 1, 1)}}
				return r
			}, stage: "cansee", verdict: consent.Authorized, rule: consent.RuleViewConsent},
		{name: "dissent not overridden by emergency", p: clinician, op: consent.OpEverything,
			vc:    &vcSetup{emergency: true, reason: consent.EmergencyUnconscious},
			rec:   withEntries("A99901", coded(record.SystemReadV2, "9Nd1.", day(2021, 1, 1))),
			stage: "cansee", verdict: consent.Reject, rule: consent.RuleShareConsent, code: mig.EFORBIDDEN, issue: mig.IssueNoPatientConsent},

		// View consent.
		{name: "view consent none", p: clinician, op: consent.OpRead, stage: "cansee", verdict: consent.Reject,
			rule: consent.RuleViewConsent, code: mig.EFORBIDDEN, issue: mig.IssueNoViewConsent},
		{name: "view consent given", p: clinician, op: consent.OpRead, vc: given, stage: "cansee",
			verdict: consent.Authorized, rule: consent.RuleViewConsent},
		{name: "view consent refused", p: clinician, op: consent.OpRead, vc: &vcSetup{}, stage: "cansee",
			verdict: consent.Reject, rule: consent.RuleViewConsent, code: mig.EFORBIDDEN, issue: mig.IssueNoViewConsent},
		{name: "view consent expired", p: clinician, op: consent.OpRead, vc: &vcSetup{given: true, age: 9 * time.Hour},
			stage: "cansee", verdict: consent.Reject, rule: consent.RuleViewConsent, code: mig.EFORBIDDEN, issue: mig.IssueNoViewConsent},
		{name: "emergency permitted", p: clinician, op: consent.OpRead, vc: &vcSetup{emergency: true, reason: consent.EmergencyLackingCapacity},
			stage: "cansee", verdict: consent.Authorized, rule: consent.RuleViewConsent, emergency: true},
		{name: "emergency not permitted for recipient", p: ooh, op: consent.OpRead,
			vc: &vcSetup{emergency: true, reason: consent.EmergencyUnconscious}, stage: "cansee",
			verdict: consent.Reject, rule: consent.RuleViewConsent, code: mig.EFORBIDDEN, issue: mig.IssueNoViewConsent},
		{name: "emergency bad reason", p: clinician, op: consent.OpRead, vc: &vcSetup{emergency: true, reason: "curious"},
			stage: "cansee", verdict: consent.Reject, rule: consent.RuleViewConsent, code: mig.EFORBIDDEN, issue: mig.IssueNoViewConsent},
		{name: "consent record needs no view consent", p: clinician, op: consent.OpConsentRecord, stage: "cansee",
			verdict: consent.Authorized, rule: consent.RuleViewConsent},
		{name: "consent record still needs share consent", p: clinician, op: consent.OpConsentRecord, rec: withEntries("A99901"),
			stage: "cansee", verdict: consent.Reject, rule: consent.RuleShareConsent, code: mig.EFORBIDDEN, issue: mig.IssueNoPatientConsent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, chain := fixture(t)
			ctx := context.Background()
			if tt.vc != nil {
				c := &consent.ViewConsent{ID: consent.NewID(), NHSNumber: nhs, UserID: tt.p.UserID, OrgODS: tt.p.OrgODS,
					Given: tt.vc.given, Emergency: tt.vc.emergency, EmergencyReason: tt.vc.reason,
					Recorded: now.Add(-tt.vc.age), Start: now.Add(-tt.vc.age), End: now.Add(-tt.vc.age + 8*time.Hour)}
				if err := db.ViewConsents().Put(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			r := &consent.Request{ID: "req", Time: now, Principal: tt.p, Operation: tt.op, Views: tt.views, NHSNumber: nhs}
			d := chain.Start(ctx, r)
			if tt.stage == "cansee" {
				if d.Verdict != consent.Proceed {
					t.Fatalf("Start = %v %s %v, want Proceed", d.Verdict, d.Rule, d.Err)
				}
				practice := tt.practice
				if practice == "" {
					practice = "A99901"
				}
				rec := sharedRecord(practice)
				if tt.rec != nil {
					rec = tt.rec()
				}
				d = chain.CanSee(ctx, r, rec)
			}
			if d.Verdict != tt.verdict || d.Rule != tt.rule {
				t.Fatalf("decision = %v %q (%v), want %v %q", d.Verdict, d.Rule, d.Err, tt.verdict, tt.rule)
			}
			if got := mig.ErrorCode(d.Err); got != tt.code {
				t.Errorf("code = %q, want %q", got, tt.code)
			}
			if got := mig.ErrorIssue(d.Err); got != tt.issue {
				t.Errorf("issue = %q, want %q", got, tt.issue)
			}
			if !reflect.DeepEqual(r.Decision, d) {
				t.Errorf("r.Decision = %+v, want %+v", r.Decision, d)
			}
			if r.Emergency != tt.emergency {
				t.Errorf("r.Emergency = %v, want %v", r.Emergency, tt.emergency)
			}
			if d.Verdict == consent.Authorized && tt.stage == "cansee" && (r.AgreementID != "active" || r.Share != consent.ShareConsent) {
				t.Errorf("authorised without agreement/share: %q %v", r.AgreementID, r.Share)
			}
			if isRead(tt.op) && d.Verdict == consent.Authorized && r.ViewConsent == nil {
				t.Error("read authorised without r.ViewConsent")
			}
			if err := chain.Complete(ctx, r); err != nil {
				t.Errorf("Complete: %v", err)
			}
		})
	}
}

func isRead(op consent.Operation) bool {
	return op == consent.OpRead || op == consent.OpSearch || op == consent.OpEverything || op == consent.OpView
}

// The refusal for a patient at a practice outside the requester's
// agreements must be indistinguishable from "no such patient".
func TestPatientNotFoundSameShape(t *testing.T) {
	_, chain := fixture(t)
	ctx := context.Background()
	for _, practice := range []string{"A11111", "A99903", "A99905"} {
		r := &consent.Request{Time: now, Principal: principal("R8000", "RX999"), Operation: consent.OpRead, NHSNumber: nhs}
		if d := chain.Start(ctx, r); d.Verdict != consent.Proceed {
			t.Fatalf("Start: %+v", d)
		}
		d := chain.CanSee(ctx, r, sharedRecord(practice))
		if !reflect.DeepEqual(d.Err, error(consent.PatientNotFound())) {
			t.Errorf("practice %s: err = %#v, want %#v", practice, d.Err, consent.PatientNotFound())
		}
		if d.Err.Error() != consent.PatientNotFound().Error() {
			t.Errorf("practice %s: message differs", practice)
		}
	}
	dead := sharedRecord("A99901")
	dead.Patient.Deceased = true
	r := &consent.Request{Time: now, Principal: principal("R8000", "RX999"), Operation: consent.OpRead, NHSNumber: nhs}
	chain.Start(ctx, r)
	if d := chain.CanSee(ctx, r, dead); !reflect.DeepEqual(d.Err, error(consent.PatientNotFound())) {
		t.Errorf("deceased: err = %#v", d.Err)
	}
}

type failingRecorder struct {
	consent.Base
	calls *int
	err   error
}

func (f failingRecorder) Complete(context.Context, *consent.Request) error {
	*f.calls++
	return f.err
}

type rejectAll struct{ consent.Base }

func (rejectAll) Start(context.Context, *consent.Request) consent.Decision {
	return consent.Decision{Verdict: consent.Reject}
}

func TestChainSemantics(t *testing.T) {
	ctx := context.Background()
	// Deny by default at CanSee; Proceed at Start means patient stage.
	var empty consent.Chain
	r := &consent.Request{}
	if d := empty.Start(ctx, r); d.Verdict != consent.Proceed {
		t.Errorf("empty Start = %v", d.Verdict)
	}
	if d := empty.CanSee(ctx, r, &record.Record{}); d.Verdict != consent.Reject || d.Rule != consent.RuleDefault ||
		mig.ErrorCode(d.Err) != mig.EFORBIDDEN || r.Decision.Verdict != consent.Reject {
		t.Errorf("empty CanSee = %+v", d)
	}
	// A Reject without an error still carries one.
	if d := (consent.Chain{rejectAll{}}).Start(ctx, r); d.Err == nil || d.Rule == "" {
		t.Errorf("bare reject = %+v", d)
	}
	// Complete runs every service and returns the first error.
	calls := 0
	e1, e2 := errors.New("first"), errors.New("second")
	c := consent.Chain{failingRecorder{calls: &calls}, failingRecorder{calls: &calls, err: e1}, failingRecorder{calls: &calls, err: e2}}
	if err := c.Complete(ctx, r); err != e1 || calls != 3 {
		t.Errorf("Complete = %v after %d calls, want first error after 3", err, calls)
	}
}

func TestWillSee(t *testing.T) {
	db, chain := fixture(t)
	ctx := context.Background()
	p := principal("R8000", "RX999")
	if _, err := consent.RecordViewConsent(ctx, db.ViewConsents(), p, nhs, true, false, "", now.Add(-time.Minute), 8*time.Hour); err != nil {
		t.Fatal(err)
	}
	r := &consent.Request{Time: now, Principal: p, Operation: consent.OpEverything, NHSNumber: nhs}
	if d := chain.Start(ctx, r); d.Verdict != consent.Proceed {
		t.Fatal(d)
	}
	if d := chain.CanSee(ctx, r, sharedRecord("A99901")); d.Verdict != consent.Authorized {
		t.Fatal(d)
	}
	entry := func(code string, views ...record.View) *record.Entry {
		e := coded(record.SystemReadV2, code, day(2020, 1, 1))
		e.Views = views
		return &e
	}
	tests := []struct {
		name     string
		e        *record.Entry
		want     bool
		withheld bool
	}{
		{"covered view", entry("C10F.", record.ViewProblems), true, false},
		{"one of two views covered", entry("42W5.", record.ViewInvestigations, record.ViewSummary), true, false},
		{"view outside agreement", entry("42W5.", record.ViewInvestigations), false, true},
		{"no view at all", entry("0...."), false, false},
		{"sensitive code", entry("L0500", record.ViewProblems), false, true},
		{"sensitive CTV3 twin", func() *record.Entry {
			e := coded(record.SystemCTV3, "A98..", day(2020, 1, 1))
			e.Views = []record.View{record.ViewDiagnoses, record.ViewProblems}
			return &e
		}(), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.Withheld = false
			if got := chain.WillSee(ctx, r, tt.e); got != tt.want {
				t.Errorf("WillSee = %v, want %v", got, tt.want)
			}
			if r.Withheld != tt.withheld {
				t.Errorf("Withheld = %v, want %v", r.Withheld, tt.withheld)
			}
		})
	}
	if err := chain.Complete(ctx, r); err != nil {
		t.Fatal(err)
	}
	// After Complete the request's agreements are re-read from the store.
	r.Withheld = false
	if !chain.WillSee(ctx, r, entry("C10F.", record.ViewProblems)) || chain.WillSee(ctx, r, entry("42W5.", record.ViewInvestigations)) {
		t.Error("WillSee after Complete does not use the stored agreement")
	}
}
