package tpp

import (
	"time"

	"mig/adapters/record"
)

// resolve ties references made by id once the whole document is read:
// repeat issues to their authorisations, entries to the problems they are
// linked to, authors to Metadata users, appointments to Metadata sites.
func (p *parser) resolve() {
	es := p.rec.Entries
	p.rec.Patient.PracticeODS = p.ods
	for i := range es {
		es[i].Organisation = p.ods
	}
	for _, s := range p.siteRefs {
		if id, ok := p.sites[s.id]; ok {
			es[s.entry].Organisation = id
		}
	}
	for _, a := range p.authors {
		person := record.Person{ID: a.id}
		if u, ok := p.users[a.id]; ok {
			person = *u
		}
		es[a.entry].Author = &person
	}
	for _, is := range p.issues {
		best := -1
		for j, a := range p.repeats {
			if a.drug != is.drug || !within(is.date, a.start, a.end) {
				continue
			}
			if best < 0 || a.start.T.After(p.repeats[best].start.T) {
				best = j
			}
		}
		if best >= 0 {
			auth := &es[p.repeats[best].entry]
			es[is.entry].Medication.Authorisation = auth.ID
			auth.Medication.RepeatsIssued++
		}
	}
	if len(p.links) > 0 {
		byID := p.rec.Index()
		for _, l := range p.links {
			target, ok := byID[l.id]
			if !ok || es[target].Kind != record.KindProblem {
				id, found := p.evProb[l.id]
				if !found {
					continue
				}
				target = byID[id]
			}
			if target == l.entry {
				continue
			}
			pi := es[target].Problem
			id := es[l.entry].ID
			dup := false
			for _, x := range pi.Links {
				dup = dup || x == id
			}
			if !dup {
				pi.Links = append(pi.Links, id)
			}
		}
	}
}

// within reports whether d falls in the authorisation running from start
// to end (an end date counts whole; no end is open).
func within(d, start, end record.Date) bool {
	if d.IsZero() {
		return false
	}
	if !start.IsZero() && d.T.Before(start.T) {
		return false
	}
	if !end.IsZero() {
		last := end.T
		if end.P <= record.PrecisionDay {
			last = last.Add(24*time.Hour - time.Nanosecond)
		}
		if d.T.After(last) {
			return false
		}
	}
	return true
}
