package rest

import (
	"net/url"
	"strings"
	"time"

	"mig/adapters/record"
	"mig/fhir"
)

// everythingParams are the Patient-everything parameters served besides
// _count (and _page, _summary, _elements, _format).
var everythingParams = map[string]bool{"_type": true, "start": true, "end": true}

// everythingFilter is what $everything's _type, start and end ask for.
type everythingFilter struct {
	types      map[string]bool // nil: every type
	start, end time.Time       // zero: open
}

// errSince refuses _since on $everything: the record is read live from
// the GP system, which gives no change history to compare against.
var errSince = invalidParam("_since is not served on $everything: the record is read live from the GP system, which keeps no history of changes to compare against; use start and end for clinical dates")

// parseEverything reads _type (served types, comma separated), start and
// end (dates without a prefix: the care period, start's first instant to
// end's last).
func parseEverything(p url.Values) (*everythingFilter, error) {
	f := &everythingFilter{}
	if vs, ok := p["_type"]; ok {
		f.types = map[string]bool{}
		for _, t := range strings.Split(vs[0], ",") {
			if _, served := clinicalTypes[t]; !served {
				return nil, invalidParam("_type takes the types this server serves, comma separated (%s); see GET /fhir/metadata", strings.Join(typeNames(), ", "))
			}
			f.types[t] = true
		}
	}
	for _, name := range []string{"start", "end"} {
		vs, ok := p[name]
		if !ok {
			continue
		}
		v := vs[0]
		if len(v) >= 2 && datePrefixes[v[:2]] {
			return nil, invalidParam("%s takes a date without a prefix", name)
		}
		_, lo, hi, err := parseDate(v)
		if err != nil {
			return nil, invalidParam("%s: %s", name, err.Error())
		}
		if name == "start" {
			f.start = lo
		} else {
			f.end = hi
		}
	}
	if !f.start.IsZero() && !f.end.IsZero() && !f.start.Before(f.end) {
		return nil, invalidParam("start is after end")
	}
	return f, nil
}

// keep reports whether a resource is in the answer: of a type asked for,
// and inside the care period unless it is undated or ongoing (an active
// problem, an active allergy, current medication, an active risk), as
// the Patient-everything definition intends. The Patient has no clinical
// date.
func (f *everythingFilter) keep(rs fhir.Resource) bool {
	if f.types != nil && !f.types[rs.Type] {
		return false
	}
	e := rs.Entry
	if e == nil || (f.start.IsZero() && f.end.IsZero()) || ongoing(e) {
		return true
	}
	d := e.Effective
	if d.IsZero() {
		d = e.Recorded
	}
	if d.IsZero() {
		return true
	}
	lo, hi := dateRange(d)
	if !e.End.IsZero() && e.End.Until().After(hi) {
		hi = e.End.Until()
	}
	return (f.start.IsZero() || hi.After(f.start)) && (f.end.IsZero() || lo.Before(f.end))
}

// ongoing reports whether an entry is current whatever its date, by the
// rules the clinical-status and status searches use.
func ongoing(e *record.Entry) bool {
	switch e.Kind {
	case record.KindProblem, record.KindAllergy:
		ok, _ := clinicalStatus.match(e, "", "active")
		return ok
	case record.KindRisk: // as the Flag shows it (fhir/flag.go)
		switch e.Status {
		case record.StatusInactive, record.StatusResolved, record.StatusCompleted, record.StatusStopped:
			return false
		}
		return true
	case record.KindMedicationAuthorisation:
		ok, _ := medStatus.match(e, "", "active")
		return ok
	}
	return false
}
