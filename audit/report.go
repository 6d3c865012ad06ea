package audit

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"
)

// Count is one row of a report: a key and how many events it covers.
type Count struct {
	Key   string
	Total int // events
	Fail  int // of which refused or failed (outcome not 0)
}

// EmergencyAccess is one emergency ("break glass") access.
type EmergencyAccess struct {
	Time      time.Time
	UserID    string
	OrgODS    string
	NHSNumber string // patient reference by NHS number (auditors only)
	Reason    string // emergency reason code
	EventID   string
	Outcome   string
}

// Summary is the auditors' report over a period.
type Summary struct {
	From, To    time.Time
	Events      int
	ByOrg       []Count // by the user's organisation
	ByUser      []Count
	Refusals    []Count // by reason (rule and issue code)
	Emergencies []EmergencyAccess
	FirstSeq    uint64
	LastSeq     uint64
}

// BuildReport summarises events recorded in [from, to) (zero to: no end).
// It reads the store once in Seq order, in memory proportional to the
// number of distinct organisations, users, reasons and emergency accesses.
func BuildReport(ctx context.Context, store Store, from, to time.Time) (*Summary, error) {
	s := &Summary{From: from.UTC(), To: to.UTC()}
	orgs, users, reasons := map[string]*Count{}, map[string]*Count{}, map[string]*Count{}
	bump := func(m map[string]*Count, k string, fail bool) {
		c := m[k]
		if c == nil {
			c = &Count{Key: k}
			m[k] = c
		}
		c.Total++
		if fail {
			c.Fail++
		}
	}
	err := store.Scan(ctx, 0, func(st *Stored) error {
		t, err := RecordedTime(st.Body)
		if err != nil {
			return fmt.Errorf("audit record %d: %w", st.Seq, err)
		}
		if t.Before(from) || (!to.IsZero() && !t.Before(to)) {
			return nil
		}
		d, err := Decode(st.Body)
		if err != nil {
			return fmt.Errorf("audit record %d: %w", st.Seq, err)
		}
		if s.FirstSeq == 0 {
			s.FirstSeq = st.Seq
		}
		s.LastSeq = st.Seq
		s.Events++
		fail := d.Outcome != OutcomeSuccess
		bump(orgs, orDash(d.OrgODS), fail)
		bump(users, orDash(d.UserID), fail)
		if fail {
			bump(reasons, orDash(d.OutcomeDesc), true)
		}
		if d.Emergency {
			s.Emergencies = append(s.Emergencies, EmergencyAccess{Time: d.Time, UserID: d.UserID, OrgODS: d.OrgODS,
				NHSNumber: d.NHSNumber, Reason: d.EmergencyReason, EventID: d.ID, Outcome: d.Outcome})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.ByOrg, s.ByUser, s.Refusals = sorted(orgs), sorted(users), sorted(reasons)
	return s, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sorted(m map[string]*Count) []Count {
	out := make([]Count, 0, len(m))
	for _, c := range m {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Total != out[j].Total {
			return out[i].Total > out[j].Total
		}
		return out[i].Key < out[j].Key
	})
	return out
}

func timeOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// WriteText writes the report for people.
func (s *Summary) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("Audit report %s to %s: %d events (seq %d-%d)\n", timeOrDash(s.From), timeOrDash(s.To), s.Events, s.FirstSeq, s.LastSeq)
	section := func(title string, rows []Count) {
		ew.printf("\n%s\n", title)
		if len(rows) == 0 {
			ew.printf("  (none)\n")
		}
		for _, c := range rows {
			ew.printf("  %-40s %8d  (%d refused or failed)\n", c.Key, c.Total, c.Fail)
		}
	}
	section("Accesses by organisation", s.ByOrg)
	section("Accesses by user", s.ByUser)
	section("Refusals and failures by reason", s.Refusals)
	ew.printf("\nEmergency accesses\n")
	if len(s.Emergencies) == 0 {
		ew.printf("  (none)\n")
	}
	for _, e := range s.Emergencies {
		ew.printf("  %s user %s org %s patient %s reason %s outcome %s event %s\n",
			e.Time.UTC().Format(time.RFC3339), orDash(e.UserID), orDash(e.OrgODS), orDash(e.NHSNumber), orDash(e.Reason), e.Outcome, e.EventID)
	}
	return ew.err
}

// WriteCSV writes the report as CSV rows: section,key,total,failed for the
// counts, then section,time,user,org,nhsNumber,reason,outcome,eventId for
// emergency accesses.
func (s *Summary) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"section", "key", "total", "failed"})
	for _, sec := range []struct {
		name string
		rows []Count
	}{{"organisation", s.ByOrg}, {"user", s.ByUser}, {"refusal", s.Refusals}} {
		for _, c := range sec.rows {
			_ = cw.Write([]string{sec.name, c.Key, strconv.Itoa(c.Total), strconv.Itoa(c.Fail)})
		}
	}
	_ = cw.Write([]string{"section", "time", "user", "org", "nhsNumber", "reason", "outcome", "eventId"})
	for _, e := range s.Emergencies {
		_ = cw.Write([]string{"emergency", e.Time.UTC().Format(time.RFC3339), e.UserID, e.OrgODS, e.NHSNumber, e.Reason, e.Outcome, e.EventID})
	}
	cw.Flush()
	return cw.Error()
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
