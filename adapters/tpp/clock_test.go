package tpp

import (
	"strings"
	"testing"
	"time"

	"mig/adapters/record"
)

// TestClock: what is judged against the present (a medication course or a
// registration whose end date is still to come) is judged against
// ParseOptions.Now, and against time.Now when Now is nil.
func TestClock(t *testing.T) {
	s := strings.Replace(doc(event("A", "", med("323509004", `<StartDate>2026-11-20</StartDate><EndDate>2026-11-30</EndDate>`))+
		event("B", "", med("323509004", `<StartDate>2026-11-20</StartDate><EndDate>2026-11-30</EndDate><EndReason>Side Effect</EndReason>`))+
		event("C", "", med("323509004", `<StartDate>2000-01-01</StartDate><EndDate>2000-01-08</EndDate>`))+
		event("D", "", med("323509004", `<StartDate>2000-01-01</StartDate><EndDate>2999-01-08</EndDate>`))),
		"<RegistrationType>", "<CareEndDate>2027-01-03</CareEndDate><RegistrationType>", 1)
	at := func(y int, m time.Month, d int) func() time.Time {
		return func() time.Time { return time.Date(y, m, d, 12, 0, 0, 0, time.UTC) }
	}
	tests := []struct {
		name     string
		now      func() time.Time
		a, b     record.Status
		deducted bool
	}{
		{"before the ends", at(2026, 11, 26), record.StatusActive, record.StatusActive, false},
		{"after the course ends", at(2026, 12, 1), record.StatusCompleted, record.StatusStopped, false},
		{"after the care end date", at(2027, 2, 1), record.StatusCompleted, record.StatusStopped, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := Parse(strings.NewReader(s), record.ParseOptions{NHSNumber: "9990003017", Now: tt.now})
			if err != nil {
				t.Fatal(err)
			}
			if a, b := entry(t, rec, "A.1").Status, entry(t, rec, "B.1").Status; a != tt.a || b != tt.b {
				t.Errorf("statuses %v %v, want %v %v", a, b, tt.a, tt.b)
			}
			if rec.Patient.Deducted != tt.deducted {
				t.Errorf("deducted %v, want %v", rec.Patient.Deducted, tt.deducted)
			}
		})
	}
	// Without a clock, the wall clock decides.
	rec, err := Parse(strings.NewReader(s), record.ParseOptions{NHSNumber: "9990003017"})
	if err != nil {
		t.Fatal(err)
	}
	if c, d := entry(t, rec, "C.1").Status, entry(t, rec, "D.1").Status; c != record.StatusCompleted || d != record.StatusActive {
		t.Errorf("nil Now: statuses %v %v, want completed active", c, d)
	}
}
