package consent_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mig"
	"mig/adapters/record"
	"mig/consent"
	"mig/consent/bolt"
)

func TestShareStatusOf(t *testing.T) {
	codes := consent.DefaultShareCodes()
	e := func(system, code string, d record.Date) record.Entry {
		x := coded(system, code, d)
		x.Kind = record.KindNone
		return x
	}
	tests := []struct {
		name  string
		es    []record.Entry
		flags []record.SharingFlag
		want  consent.ShareStatus
	}{
		{"nothing", nil, nil, consent.ShareNone},
		{"read v2 consent with suffix", []record.Entry{e(record.SystemReadV2, "9Nd7.00", day(2020, 1, 6))}, nil, consent.ShareConsent},
		{"ctv3 consent", []record.Entry{e(record.SystemCTV3, "9Nd7.", day(2020, 1, 6))}, nil, consent.ShareConsent},
		{"snomed consent", []record.Entry{e(record.SystemSNOMED, "425691002", day(2020, 1, 6))}, nil, consent.ShareConsent},
		{"dissent", []record.Entry{e(record.SystemReadV2, "9Nd1.", day(2020, 1, 6))}, nil, consent.ShareDissent},
		{"later consent wins", []record.Entry{e(record.SystemReadV2, "9Nd1.", day(2019, 1, 1)), e(record.SystemReadV2, "9Nd7.", day(2020, 1, 1))}, nil, consent.ShareConsent},
		{"later dissent wins, any order", []record.Entry{e(record.SystemSNOMED, "416409005", day(2021, 1, 1)), e(record.SystemReadV2, "9Nd7.", day(2020, 1, 1))}, nil, consent.ShareDissent},
		{"same day tie is dissent", []record.Entry{e(record.SystemReadV2, "93C1.", day(2020, 1, 1)), e(record.SystemReadV2, "93C0.", day(2020, 1, 1))}, nil, consent.ShareDissent},
		{"same day tie, consent later in the day", []record.Entry{
			coded(record.SystemReadV2, "93C1.", record.Date{T: time.Date(2020, 1, 1, 9, 0, 0, 0, time.UTC), P: record.PrecisionMinute}),
			coded(record.SystemReadV2, "93C0.", record.Date{T: time.Date(2020, 1, 1, 17, 0, 0, 0, time.UTC), P: record.PrecisionMinute})}, nil, consent.ShareDissent},
		{"flag consent", nil, []record.SharingFlag{{Consent: true, Date: day(2020, 1, 1)}}, consent.ShareConsent},
		{"flag dissent newer than code", []record.Entry{e(record.SystemReadV2, "9Nd7.", day(2020, 1, 1))}, []record.SharingFlag{{Consent: false, Date: day(2022, 1, 1)}}, consent.ShareDissent},
		{"dated consent beats undated dissent", []record.Entry{e(record.SystemReadV2, "9Nd7.", day(2020, 1, 1))}, []record.SharingFlag{{Consent: false}}, consent.ShareConsent},
		{"SCR code is not local sharing", []record.Entry{e(record.SystemReadV2, "9Ndm.", day(2020, 1, 1))}, nil, consent.ShareNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &record.Record{Entries: tt.es, SharingFlags: tt.flags}
			if got := consent.ShareStatusOf(rec, codes); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSensitiveMatching(t *testing.T) {
	m := consent.DefaultSensitiveCodes().Compile()
	tests := []struct {
		system, code, want string
	}{
		{record.SystemReadV2, "L05..", consent.SensitiveTermination},
		{record.SystemReadV2, "L0500", consent.SensitiveTermination}, // child, term suffix cut
		{record.SystemReadV2, "L050.00", consent.SensitiveTermination},
		{record.SystemCTV3, "L0501", consent.SensitiveTermination}, // CTV3 twin
		{record.SystemReadV2, "A98..", consent.SensitiveSTI},
		{record.SystemReadV2, "Eu640", consent.SensitiveGender},
		{record.SystemSNOMED, "52637005", consent.SensitiveFertility},
		{record.SystemSNOMED, "86406008", consent.SensitiveHIV},
		{record.SystemReadV2, "L04..", ""}, // spontaneous abortion is not in the list
		{record.SystemReadV2, "C10F.", ""},
		{record.SystemCTV3, "XaZJs", ""},
		{record.SystemSNOMED, "44054006", ""},
	}
	for _, tt := range tests {
		cat, ok := m.Match(record.Concept{Codings: []record.Coding{{System: tt.system, Code: tt.code}}})
		if ok != (tt.want != "") || cat != tt.want {
			t.Errorf("%s %s: got %q %v, want %q", tt.system, tt.code, cat, ok, tt.want)
		}
	}
	// A rule of dots alone must never match everything.
	empty := consent.CodeList{{System: record.SystemReadV2, Code: "....."}}.Compile()
	if _, ok := empty.Match(record.Concept{Codings: []record.Coding{{System: record.SystemReadV2, Code: "C10F."}}}); ok {
		t.Error("all-dots rule matched")
	}
}

func TestValidateAgreement(t *testing.T) {
	ok := func() *consent.Agreement { return consent.DemoAgreement(now) }
	tests := []struct {
		name   string
		modify func(a *consent.Agreement)
		valid  bool
	}{
		{"demo", func(*consent.Agreement) {}, true},
		{"bad id", func(a *consent.Agreement) { a.ID = "a b" }, false},
		{"bad status", func(a *consent.Agreement) { a.Status = "live" }, false},
		{"provider not a practice", func(a *consent.Agreement) { a.Providers = []string{"RX999"} }, false},
		{"lower-case recipient", func(a *consent.Agreement) { a.Recipients = []string{"rx999"} }, false},
		{"duplicate recipient", func(a *consent.Agreement) { a.Recipients = []string{"RX999", "RX999"} }, false},
		{"no views", func(a *consent.Agreement) { a.Views = nil }, false},
		{"unknown view", func(a *consent.Agreement) { a.Views = []record.View{"gossip"} }, false},
		{"emergency not a recipient", func(a *consent.Agreement) { a.EmergencyAccess = []string{"ZZ999"} }, false},
		{"no start", func(a *consent.Agreement) { a.ValidFrom = time.Time{} }, false},
		{"ends before start", func(a *consent.Agreement) { a.ValidTo = a.ValidFrom.Add(-time.Hour) }, false},
	}
	for _, tt := range tests {
		a := ok()
		tt.modify(a)
		err := consent.ValidateAgreement(a)
		if (err == nil) != tt.valid {
			t.Errorf("%s: err = %v, want valid=%v", tt.name, err, tt.valid)
		}
		if err != nil && mig.ErrorCode(err) != mig.EINVALID {
			t.Errorf("%s: code %s", tt.name, mig.ErrorCode(err))
		}
	}
	if len(ok().Views) != 10 || !contains(ok().EmergencyAccess, "RX999") || contains(ok().EmergencyAccess, "NX999") {
		t.Error("demo agreement does not match the demo organisations")
	}
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

func TestImportExportActiveFor(t *testing.T) {
	ctx := context.Background()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := db.Agreements()
	if err := consent.AddAgreement(ctx, store, consent.DemoAgreement(now), "admin", now); err != nil {
		t.Fatal(err)
	}
	if err := consent.AddAgreement(ctx, store, consent.DemoAgreement(now), "admin", now); mig.ErrorCode(err) != mig.ECONFLICT {
		t.Errorf("duplicate add: %v", err)
	}
	var buf bytes.Buffer
	if err := consent.ExportAgreements(ctx, store, &buf); err != nil {
		t.Fatal(err)
	}
	// Re-importing creates version 2; a bad file stores nothing.
	if n, err := consent.ImportAgreements(ctx, store, bytes.NewReader(buf.Bytes()), "admin2", now); err != nil || n != 1 {
		t.Fatalf("import: %d %v", n, err)
	}
	bad := strings.Replace(buf.String(), `"A99901"`, `"nope"`, 1)
	if _, err := consent.ImportAgreements(ctx, store, strings.NewReader(bad), "x", now); mig.ErrorCode(err) != mig.EINVALID {
		t.Errorf("bad import: %v", err)
	}
	if _, err := consent.ImportAgreements(ctx, store, strings.NewReader(`{"id":1}`), "x", now); mig.ErrorCode(err) != mig.EINVALID {
		t.Errorf("not an array: %v", err)
	}
	hist, _ := store.History(ctx, consent.DemoAgreementID)
	if len(hist) != 2 || hist[1].ChangedBy != "admin2" {
		t.Errorf("history = %d versions", len(hist))
	}
	for _, tc := range []struct {
		org  string
		at   time.Time
		want int
	}{{"RX999", now, 1}, {"NX999", now, 1}, {"ZZ999", now, 0}, {"RX999", now.AddDate(0, 0, -1), 0}} {
		got, err := consent.ActiveFor(ctx, store, tc.org, tc.at)
		if err != nil || len(got) != tc.want {
			t.Errorf("ActiveFor(%s, %v) = %d, %v; want %d", tc.org, tc.at, len(got), err, tc.want)
		}
	}
	if _, err := consent.SetStatus(ctx, store, consent.DemoAgreementID, consent.AgreementSuspended, "a", now); err != nil {
		t.Fatal(err)
	}
	if got, _ := consent.ActiveFor(ctx, store, "RX999", now); len(got) != 0 {
		t.Error("suspended agreement still active")
	}
}

func TestConsentReport(t *testing.T) {
	born := func(y int) record.Date { return day(y, 6, 1) }
	pat := func(nhs string, b record.Date, es ...record.Entry) *record.Record {
		return &record.Record{Patient: record.Patient{NHSNumber: nhs, BirthDate: b}, Entries: es}
	}
	consented := coded(record.SystemReadV2, "9Nd7.", day(2020, 1, 1))
	dissent := coded(record.SystemReadV2, "9Nd1.", day(2020, 1, 1))
	recs := map[string]*record.Record{
		"9990001006": pat("9990001006", born(2015)),                                                                                                           // child, no consent
		"9990001014": pat("9990001014", born(2015), consented),                                                                                                // child with consent
		"9990001022": pat("9990001022", born(1940), coded(record.SystemReadV2, "8CSB.", day(2024, 1, 1))),                                                     // 75+, care plan
		"9990001030": pat("9990001030", born(1940)),                                                                                                           // 75+, no care plan
		"9990001049": pat("9990001049", born(1980), coded(record.SystemCTV3, "X40J5", day(2020, 1, 1)), coded(record.SystemReadV2, "C10F.", day(2020, 1, 1))), // diabetes
		"9990001057": pat("9990001057", born(1980), coded(record.SystemReadV2, "H33..", day(2020, 1, 1)), dissent),                                            // asthma, dissent
		"9990001065": pat("9990001065", born(1980)),                                                                                                           // no group
		"9990001073": nil,                                                                                                                                     // unreadable
	}
	dead := pat("9990001081", born(2015))
	dead.Patient.Deceased = true
	recs["9990001081"] = dead
	order := []string{"9990001006", "9990001014", "9990001022", "9990001030", "9990001049", "9990001057", "9990001065", "9990001073", "9990001081"}
	list := func(fn func(string) error) error {
		for _, n := range order {
			if err := fn(n); err != nil {
				return err
			}
		}
		return nil
	}
	fetch := func(_ context.Context, n string) (*record.Record, error) {
		if recs[n] == nil {
			return nil, errors.New("gp system down")
		}
		return recs[n], nil
	}
	res, err := consent.ConsentReport(context.Background(), list, fetch, consent.DefaultReportConfig(), now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Checked != 9 || res.Failed != 1 || res.Skipped != 1 || res.Consent != 1 || res.Dissent != 1 || res.None != 5 {
		t.Errorf("counts = %+v", res)
	}
	var csv, sum bytes.Buffer
	if err := res.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	want := "nhs_number,group,age_band\n9990001006,under-16,0-15\n9990001022,75-and-over-with-care-plan,75+\n9990001049,long-term-condition,45-64\n"
	if csv.String() != want {
		t.Errorf("csv =\n%s\nwant\n%s", csv.String(), want)
	}
	if err := res.WriteSummary(&sum); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sum.String(), "999000") || !strings.Contains(sum.String(), "patients to review: 3") {
		t.Errorf("summary:\n%s", sum.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := consent.ConsentReport(ctx, list, fetch, consent.DefaultReportConfig(), now); err == nil {
		t.Error("cancelled report succeeded")
	}
}

// The default risk set (adapters/record/risks.go) classifies the sourced
// safeguarding, DNACPR and palliative codes as risks, and only those.
func TestDefaultRisksClassify(t *testing.T) {
	var cl *record.Classifier
	for _, c := range []record.Coding{
		{System: record.SystemReadV2, Code: "13Iv.00"}, {System: record.SystemCTV3, Code: "XaOnx"},
		{System: record.SystemSNOMED, Code: "450476008"}, {System: record.SystemSNOMED, Code: "414937009"},
		{System: record.SystemReadV2, Code: "8CM1."}, {System: record.SystemSNOMED, Code: "417430008"},
	} {
		if k := cl.KindOf(record.Concept{Codings: []record.Coding{c}}); k != record.KindRisk {
			t.Errorf("%s %s: kind %v, want risk", c.System, c.Code, k)
		}
	}
	if k := cl.KindOf(record.Concept{Codings: []record.Coding{{System: record.SystemReadV2, Code: "13I.."}}}); k == record.KindRisk {
		t.Error("parent code 13I.. classified as risk")
	}
}
