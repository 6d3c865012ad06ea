package gp2gp

import "mig/adapters/record"

// resolve ties entries together once the whole extract is read: problems
// take the code of the statement they name (which they absorb), links and
// members are pointed at entries that exist, issues at their
// authorisations, discontinued authorisations are stopped; entries left
// without a national code are dropped.
func (p *parser) resolve() {
	ents := p.rec.Entries
	index := make(map[string]int, len(ents))
	for i := range ents {
		if ents[i].ID != "" {
			if _, dup := index[ents[i].ID]; !dup {
				index[ents[i].ID] = i
			}
		}
	}
	target := func(id string) string {
		if a, ok := p.alias[id]; ok {
			return a
		}
		return id
	}
	drop := map[int]bool{}

	// Problems.
	for _, pp := range p.problems {
		pi, ok := index[pp.id]
		if !ok {
			continue
		}
		named := target(pp.named)
		if ids := p.medStatement[named]; len(ids) > 0 {
			named = ids[0] // a MedicationStatement names its authorisation (or issue)
		}
		ni, found := index[named]
		switch {
		case pp.named == "" || p.withheld[pp.named] || p.withheld[named]:
			// The condition itself is confidential (or not named): its
			// problem would show it.
			if p.withheld[pp.named] || p.withheld[named] {
				p.rec.Withheld = true
			}
			drop[pi] = true
			continue
		case !found:
			drop[pi] = true // names nothing we hold (or a local-only code)
			continue
		case pp.unspecified && p.requests[named]:
			drop[pi] = true // links a referral to its documents: not a problem
			continue
		}
		pe := &ents[pi]
		pe.Code = namedCode(&ents[ni])
		if p.absorbable[named] {
			drop[ni] = true
			p.alias[named] = pe.ID
		}
		for _, l := range pp.links {
			if p.withheld[l] {
				continue
			}
			if ids, ok := p.medStatement[l]; ok {
				pe.Problem.Links = append(pe.Problem.Links, ids...)
				continue
			}
			pe.Problem.Links = append(pe.Problem.Links, target(l))
		}
	}

	// Medication.
	issued := map[string]int{}
	for i := range ents {
		e := &ents[i]
		if e.Kind != record.KindMedicationIssue || e.Medication == nil || e.Medication.Authorisation == "" {
			continue
		}
		a := e.Medication.Authorisation
		if p.withheld[a] {
			e.Medication.Authorisation = "" // its authorisation was withheld
			continue
		}
		if ai, ok := index[a]; ok && ents[ai].Kind == record.KindMedicationAuthorisation {
			issued[a]++
			e.Medication.Type = ents[ai].Medication.Type
		}
	}
	for i := range ents {
		e := &ents[i]
		if e.Kind != record.KindMedicationAuthorisation {
			continue
		}
		e.Medication.RepeatsIssued = issued[e.ID]
		if when, ok := p.discontinued[e.ID]; ok {
			e.Status = record.StatusStopped
			if e.End.IsZero() {
				e.End = when
			}
		}
	}

	// Drop what is absorbed, paired away or without a national code.
	keep := make([]record.Entry, 0, len(ents))
	kept := map[string]bool{}
	for i := range ents {
		e := ents[i]
		if drop[i] || e.ID == "" {
			continue
		}
		if e.Code.IsZero() && e.Kind != record.KindEncounter && e.Kind != record.KindBloodPressure {
			continue
		}
		keep = append(keep, e)
		kept[e.ID] = true
	}
	for i := range keep {
		e := &keep[i]
		if e.Members != nil {
			e.Members = filterIDs(e.Members, kept, e.ID)
		}
		if e.Parent != "" && !kept[e.Parent] {
			e.Parent = ""
		}
		if e.Problem != nil {
			e.Problem.Links = filterIDs(e.Problem.Links, kept, e.ID)
		}
		if e.Encounter != "" && !kept[e.Encounter] {
			e.Encounter = ""
		}
	}
	p.rec.Entries = keep
}

// filterIDs keeps the ids that name kept entries, once each, never self.
func filterIDs(ids []string, kept map[string]bool, self string) []string {
	out := ids[:0]
	seen := map[string]bool{}
	for _, id := range ids {
		if kept[id] && !seen[id] && id != self {
			seen[id] = true
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// namedCode is the code a problem takes from the entry it names. A blood
// pressure half recorded alone keeps its code apart from Code (which is for
// the whole reading): the problem is named by the half's code.
func namedCode(e *record.Entry) record.Concept {
	if e.Kind == record.KindBloodPressure && e.Code.IsZero() {
		if !e.SystolicCode.IsZero() {
			return e.SystolicCode
		}
		return e.DiastolicCode
	}
	return e.Code
}
