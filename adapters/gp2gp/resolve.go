package gp2gp

import (
	"reflect"

	"mig/adapters/record"
)

// resolve ties entries together once the whole extract is read: problems
// take the code of the statement they name (which they absorb), links and
// members are pointed at entries that exist, issues at their
// authorisations (an issue of a withheld authorisation is withheld),
// discontinued authorisations are stopped; the same act read twice is made
// one identical entry (Record.Finish then keeps one); Record.Withhold is
// told what was left out.
func (p *parser) resolve() {
	ents := p.rec.Entries
	all := make(map[string]int, len(ents)) // any entry by id, withheld ones too
	for i := range ents {
		if _, dup := all[ents[i].ID]; !dup && !p.away[i] && ents[i].ID != "" {
			all[ents[i].ID] = i
		}
	}
	// Statement references (LinkSet statementRef, namedStatementRef) carry
	// an id only, not the element type: they are resolved over the
	// statements' entries (never a consultation), then over what was
	// merged into another entry.
	index := make(map[string]int, len(ents))
	byKey := make(map[key]int, len(ents))
	for i := range ents {
		if p.gone[i] || ents[i].ID == "" {
			continue
		}
		if _, dup := byKey[p.src[i]]; !dup {
			byKey[p.src[i]] = i
		}
		if ents[i].Kind == record.KindEncounter {
			continue
		}
		if _, dup := index[ents[i].ID]; !dup {
			index[ents[i].ID] = i
		}
	}
	alias := map[string]string{}
	for k, to := range p.merged {
		if k.typ != "ehrComposition" {
			alias[k.id] = to
		}
	}
	target := func(id string) string {
		if _, ok := index[id]; ok {
			return id
		}
		if a, ok := alias[id]; ok {
			return a
		}
		return id
	}
	withheldIDs := map[string]bool{}
	for k := range p.withheld {
		if k.typ != "ehrComposition" {
			withheldIDs[k.id] = true
		}
	}
	withheldRef := func(id string) bool {
		if _, live := index[id]; live {
			return false
		}
		return withheldIDs[id]
	}

	// Problems.
	for _, pp := range p.problems {
		pi := pp.index
		if p.gone[pi] {
			continue
		}
		pe := &ents[pi]
		notShown := func(r record.Rule) {
			pe.Kind, pe.NotShown, pe.Problem = record.KindNone, r, nil
		}
		if pp.named != "" && (withheldRef(pp.named) || withheldRef(target(pp.named))) {
			// The condition itself is confidential: its problem would show
			// it. A condition the problem would have absorbed goes with it
			// as one item, as it would have been shown.
			p.hide(pi)
			if ni, ok := all[pp.named]; ok && p.hidden[ni] && p.absorbable[ni] && !ents[ni].Planned && p.src[ni].typ != "ehrComposition" {
				p.mergeAway(ni, pe.ID)
			}
			withheldIDs[pe.ID] = true
			delete(index, pe.ID)
			continue
		}
		named := target(pp.named)
		ni, found := index[named]
		if is := p.medStatement[named]; len(is) > 0 {
			ni, found = is[0], true // a MedicationStatement names its authorisation (or issue)
		}
		if found && p.gone[ni] {
			found = false
		}
		switch {
		case pp.named == "" || !found:
			// Names nothing we hold (nothing, or free text only): the
			// header alone says nothing clinical.
			pe.Code = p.linkSetCode(pi)
			notShown(record.RuleNotInDataset)
			continue
		case pp.unspecified && p.requests[ni]:
			// Links a referral to its documents: not a problem.
			pe.Code = p.linkSetCode(pi)
			notShown(record.RuleNotInDataset)
			continue
		}
		ne := &ents[ni]
		pe.Code = namedCode(ne)
		switch {
		case ne.NotShown == record.RuleRelative:
			notShown(record.RuleRelative) // about a relative: never the patient's problem
		case !isNational(pe.Code):
			notShown(record.RuleUnclassifiable)
		}
		if p.absorbable[ni] && !ne.Planned {
			p.mergeAway(ni, pe.ID)
			alias[ne.ID] = pe.ID
			delete(index, ne.ID)
			index[pe.ID] = pi
		}
		if pe.Problem == nil {
			continue
		}
		for _, l := range pp.links {
			if withheldRef(l) {
				continue
			}
			if is, ok := p.medStatement[l]; ok {
				for _, i := range is {
					pe.Problem.Links = append(pe.Problem.Links, ents[i].ID)
				}
				continue
			}
			pe.Problem.Links = append(pe.Problem.Links, target(l))
		}
	}

	// Medication.
	issued := map[string]int{}
	for i := range ents {
		e := &ents[i]
		if p.gone[i] || e.Medication == nil || e.Medication.Authorisation == "" || p.src[i].typ != "ehrSupplyPrescribe" {
			continue
		}
		a := key{"ehrSupplyAuthorise", e.Medication.Authorisation}
		if p.withheld[a] {
			p.hide(i) // an issue of a withheld authorisation is withheld
			continue
		}
		if ai, ok := byKey[a]; ok && !p.gone[ai] && ents[ai].Kind == record.KindMedicationAuthorisation {
			issued[a.id]++
			e.Medication.Type = ents[ai].Medication.Type
		}
	}
	for i := range ents {
		e := &ents[i]
		if p.gone[i] || p.src[i].typ != "ehrSupplyAuthorise" || e.Medication == nil {
			continue
		}
		e.Medication.RepeatsIssued = issued[e.ID]
		if when, ok := p.discontinued[p.src[i]]; ok && e.Kind == record.KindMedicationAuthorisation {
			e.Status = record.StatusStopped
			if e.End.IsZero() {
				e.End = when
			}
		}
	}

	// Drop what is merged away or withheld, and what carries no code (a
	// consultation and a blood pressure reading need none of their own).
	keep := make([]record.Entry, 0, len(ents))
	keepSrc := make([]key, 0, len(ents))
	kept := map[string]bool{}
	for i := range ents {
		e := ents[i]
		if p.gone[i] || e.ID == "" {
			continue
		}
		if e.Code.IsZero() && e.Kind != record.KindEncounter && e.Kind != record.KindBloodPressure {
			continue
		}
		keep = append(keep, e)
		keepSrc = append(keepSrc, p.src[i])
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
	// A statement merged into a withheld item is withheld with it.
	for k, to := range p.merged {
		if i, ok := all[to]; ok && !kept[to] && p.hidden[i] {
			p.withheld[k] = true
		}
	}
	sameActs(keep, keepSrc)
	p.count(ents)
	p.rec.Entries = keep
	p.tellWithheld(ents, keep, keepSrc)
}

// count sets Stats.Read: one for each item the coded statements made, an
// item being an entry (shown, or kept as not shown) or a withheld one; a
// statement merged into another's entry (a blood pressure half, an allergy
// compound and its observation, the condition a problem names) is part of
// that one item. Consultations count too, as in the EMIS and TPP adapters
// (encUnits says how many of the items they are), so every item read is an
// entry, withheld, or (after Finish) a duplicate.
func (p *parser) count(ents []record.Entry) {
	for i := range ents {
		if p.away[i] || ents[i].ID == "" || !p.hidden[i] && p.gone[i] || !isItem(&ents[i]) {
			continue
		}
		if p.src[i].typ == "ehrComposition" {
			p.encUnits++
		}
		p.rec.Stats.Read++
	}
}

// isItem reports whether an entry is one resolve keeps (or would have,
// had it not been withheld): one with a code, a consultation, a reading.
func isItem(e *record.Entry) bool {
	return !e.Code.IsZero() || e.Kind == record.KindEncounter || e.Kind == record.KindBloodPressure ||
		e.Kind == record.KindProblem // a withheld problem: its code was never resolved
}

// linkSetCode is a LinkSet's own code (active, inactive, unspecified
// problem), for a header left unshown.
func (p *parser) linkSetCode(i int) record.Concept {
	return p.linkSetCodes[i]
}

// sameActs makes the same act read twice (same element type and id, in two
// compositions, say) one identical entry, so that Record.Finish keeps one
// and counts the other as a duplicate. Two reads are the same act when
// they differ only in where and when they were filed (the consultation,
// its author and organisation, the time entered); different content under
// one id stays distinct (Finish gives it its own id).
func sameActs(ents []record.Entry, src []key) {
	first := map[key]int{}
	for i := range ents {
		k := src[i]
		j, ok := first[k]
		if !ok {
			first[k] = i
			continue
		}
		if filedApart(ents[j], ents[i]) {
			ents[i] = ents[j]
		}
	}
}

func filedApart(a, b record.Entry) bool {
	for _, e := range []*record.Entry{&a, &b} {
		e.Encounter, e.Author, e.Organisation, e.Recorded = "", nil, "", record.Date{}
	}
	return reflect.DeepEqual(a, b)
}

// tellWithheld tells the record what was left out as confidential. An id
// that also names a kept entry of another element type (ids are reused
// across types) is told without its id, so that Record.Finish, which links
// by id alone, does not withhold that other entry: the links the id stood
// for were followed here, by type.
func (p *parser) tellWithheld(all, ents []record.Entry, src []key) {
	if len(p.hidden) == 0 {
		return
	}
	// What a withheld id could be mistaken for, by Finish: a kept entry's
	// own id (by the element type it was read from), its consultation, its
	// battery, its authorisation.
	idTypes := map[string]map[string]bool{}
	encounters, parents, auths := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i := range ents {
		e := &ents[i]
		if idTypes[e.ID] == nil {
			idTypes[e.ID] = map[string]bool{}
		}
		idTypes[e.ID][src[i].typ] = true
		encounters[e.Encounter] = true
		parents[e.Parent] = true
		if e.Medication != nil {
			auths[e.Medication.Authorisation] = true
		}
	}
	for i := range all {
		if !p.hidden[i] || p.away[i] || all[i].ID == "" || !isItem(&all[i]) {
			continue
		}
		k := key{p.src[i].typ, all[i].ID}
		types := idTypes[k.id]
		clash := len(types) > 1 || len(types) == 1 && !types[k.typ] ||
			encounters[k.id] && k.typ != "ehrComposition" ||
			parents[k.id] && k.typ != "CompoundStatement" ||
			auths[k.id] && k.typ != "ehrSupplyAuthorise"
		if clash {
			p.rec.Withhold("")
		} else {
			p.rec.Withhold(k.id)
		}
	}
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
