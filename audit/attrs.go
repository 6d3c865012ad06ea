package audit

import (
	"fmt"
	"time"
)

// Attrs are the fields a store searches an event by (Query), kept beside
// its body. Every backend derives them here, from the event when it is
// appended and from the body when it is verified, so that what one store
// indexes another would too.
type Attrs struct {
	Time      int64 // Event.Time, Unix nanoseconds
	Emergency bool  // emergency access (ETREAT, a reason, or the override subtype)
	Outcome   string
	Subtype   string
	NHSNumber string
	UserID    string
	OrgODS    string
	Practice  string
}

// EventAttrs returns an event's Attrs (the outcome defaults to success).
func EventAttrs(e *Event) Attrs {
	return Attrs{
		Time:      e.Time.UnixNano(),
		Emergency: e.PurposeOfUse == "ETREAT" || e.Emergency != "" || e.Subtype == SubtypeEmergencyOverride,
		Outcome:   orSuccess(e.Outcome), Subtype: e.Subtype, NHSNumber: e.NHSNumber,
		UserID: e.UserID, OrgODS: e.OrgODS, Practice: e.Practice,
	}
}

func orSuccess(o string) string {
	if o == "" {
		return OutcomeSuccess
	}
	return o
}

// ExpectedAttrs rebuilds a record's Attrs from its decoded body. Two
// fields the body may not give exactly are taken from the stored Attrs
// when they agree with it: the time below the body's millisecond, and, for
// events written before the body carried it (registered-practice), the
// practice (which a store then checks against its outbox). An emergency
// override without a restful subtype is stored as subtype "" or
// SubtypeEmergencyOverride; both are accepted.
func ExpectedAttrs(d *Decoded, stored Attrs) Attrs {
	a := Attrs{
		Time: d.Time.UnixNano(), Emergency: d.Emergency, Outcome: orSuccess(d.Outcome), Subtype: d.Subtype,
		NHSNumber: d.NHSNumber, UserID: d.UserID, OrgODS: d.OrgODS, Practice: stored.Practice,
	}
	if d.Practice != "" {
		a.Practice = d.Practice
	}
	if ms := a.Time; stored.Time >= ms && stored.Time < ms+int64(time.Millisecond) {
		a.Time = stored.Time
	}
	if a.Subtype == "" && d.Emergency && stored.Subtype == SubtypeEmergencyOverride {
		a.Subtype = stored.Subtype
	}
	return a
}

// DiffAttrs names each field that differs, with expected and found values,
// except the NHS number, which is never printed.
func DiffAttrs(want, got Attrs) []string {
	var out []string
	if want.Time != got.Time {
		out = append(out, fmt.Sprintf("time expected %s, found %s", fmtNanos(want.Time), fmtNanos(got.Time)))
	}
	if want.Emergency != got.Emergency {
		out = append(out, fmt.Sprintf("emergency expected %t, found %t", want.Emergency, got.Emergency))
	}
	for _, f := range []struct{ name, w, g string }{
		{"outcome", want.Outcome, got.Outcome}, {"subtype", want.Subtype, got.Subtype},
		{"user", want.UserID, got.UserID}, {"organisation", want.OrgODS, got.OrgODS},
		{"practice", want.Practice, got.Practice},
	} {
		if f.w != f.g {
			out = append(out, fmt.Sprintf("%s expected %q, found %q", f.name, f.w, f.g))
		}
	}
	if want.NHSNumber != got.NHSNumber {
		out = append(out, "patient (NHS number) differs from the record's (not shown)")
	}
	return out
}

func fmtNanos(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }
