package emis

import "mig/adapters/record"

// resolve runs once the document is read: it pairs blood pressure readings,
// resolves PeopleList and LocationList references, problem links, issue to
// course links and report members, then drops merged entries and withholds
// confidential ones. Links are resolved before anything is withheld, so
// that each entry names what it links to by entry ID and Record.Finish can
// withhold whatever links to a withheld item (an issue of a withheld
// course, say).
func (p *parser) resolve() {
	entries := p.rec.Entries
	p.pairBloodPressure()

	// Where the items links point at can be found, by element type (a
	// RefID is unique only within its type, and real extracts reuse ids
	// across types): problems by their GUID / RefID, courses by their
	// GUID (an issue's MedicationLink). The first item under a key wins.
	problems := make(map[string]int)
	courses := make(map[string]int)
	for i := range entries {
		if p.meta[i].drop {
			continue
		}
		switch entries[i].Kind {
		case record.KindProblem:
			for _, k := range p.meta[i].self.keys() {
				if _, dup := problems[k]; !dup {
					problems[k] = i
				}
			}
		case record.KindMedicationAuthorisation:
			if g := p.meta[i].self.guid; g != "" {
				if _, dup := courses[g]; !dup {
					courses[g] = i
				}
			}
		}
	}
	findProblem := func(id ident) (int, bool) {
		for _, k := range id.keys() {
			if i, ok := problems[k]; ok {
				return i, true
			}
		}
		return 0, false
	}
	for i := range entries {
		m := &p.meta[i]
		if m.drop {
			continue
		}
		e := &entries[i]
		for _, k := range m.author.keys() {
			if pr, ok := p.people[k]; ok {
				e.Author = &record.Person{ID: pr.id, Name: pr.name}
				break
			}
		}
		if ods := p.place(m.location); ods != "" {
			e.Organisation = ods
		}
		if e.Referral != nil {
			if ods := p.place(m.provider); ods != "" {
				e.Referral.Recipient = ods
			}
		}
		for _, t := range m.problems {
			if j, ok := findProblem(t); ok && j != i {
				entries[j].Problem.Links = appendOnce(entries[j].Problem.Links, e.ID)
			}
		}
		if m.medLink != "" && e.Medication != nil {
			if j, ok := courses[m.medLink]; ok {
				e.Medication.Authorisation = entries[j].ID
			}
		}
		if m.report > 0 {
			entries[m.report-1].Members = appendOnce(entries[m.report-1].Members, e.ID)
		} else {
			e.Parent = ""
		}
	}
	// Items in a consultation were recorded where the consultation was.
	for i := range entries {
		if enc := p.meta[i].encounter; enc >= 0 && entries[i].Organisation == "" {
			entries[i].Organisation = entries[enc].Organisation
		}
	}
	p.rec.Patient.PracticeODS = p.place(p.origin)

	kept := entries[:0]
	for i := range entries {
		switch m := p.meta[i]; {
		case m.drop:
			// merged into its pair, which is kept or withheld as one
		case m.withheld:
			p.rec.Withhold(entries[i].ID)
		default:
			kept = append(kept, entries[i])
		}
	}
	p.rec.Entries = kept
	p.meta = nil
}

func (p *parser) place(id ident) string {
	for _, k := range id.keys() {
		if ods, ok := p.places[k]; ok {
			return ods
		}
	}
	return ""
}

// pairBloodPressure merges each diastolic reading into the systolic reading
// of the same group (GroupID, or date and time) into one KindBloodPressure
// entry, moves each half's code to SystolicCode or DiastolicCode (EMIS has
// no code for the whole reading, so Code is left zero), and marks the
// merged-away halves dropped. A withheld half withholds the pair.
func (p *parser) pairBloodPressure() {
	type group struct{ sys, dia []int }
	groups := map[string]*group{}
	var order []string
	for i := range p.meta {
		m := &p.meta[i]
		if m.bpPart == "" {
			continue
		}
		g := groups[m.bpKey]
		if g == nil {
			g = &group{}
			groups[m.bpKey] = g
			order = append(order, m.bpKey)
		}
		if m.bpPart == "systolic" {
			g.sys = append(g.sys, i)
		} else {
			g.dia = append(g.dia, i)
		}
	}
	entries := p.rec.Entries
	for _, k := range order {
		g := groups[k]
		for n := 0; n < len(g.sys) || n < len(g.dia); n++ {
			switch {
			case n < len(g.sys) && n < len(g.dia):
				s, d := g.sys[n], g.dia[n]
				entries[s].Systolic, entries[s].SystolicCode = p.meta[s].bpValue, entries[s].Code
				entries[s].Diastolic, entries[s].DiastolicCode = p.meta[d].bpValue, entries[d].Code
				entries[s].SystolicRange, entries[s].DiastolicRange = p.meta[s].bpRange, p.meta[d].bpRange
				entries[s].Code = record.Concept{} // EMIS codes only the halves
				if entries[s].Interpretation.IsZero() {
					entries[s].Interpretation = entries[d].Interpretation
				}
				p.meta[s].problems = append(p.meta[s].problems, p.meta[d].problems...)
				// A withheld half withholds the pair.
				if p.meta[d].withheld {
					p.meta[s].withheld = true
				}
				p.meta[d].drop = true
				p.rec.Stats.Read-- // one reading: the pair is one statement
			case n < len(g.sys):
				e := &entries[g.sys[n]]
				e.Systolic, e.SystolicCode, e.Code = p.meta[g.sys[n]].bpValue, e.Code, record.Concept{}
				e.SystolicRange = p.meta[g.sys[n]].bpRange
			default:
				e := &entries[g.dia[n]]
				e.Diastolic, e.DiastolicCode, e.Code = p.meta[g.dia[n]].bpValue, e.Code, record.Concept{}
				e.DiastolicRange = p.meta[g.dia[n]].bpRange
			}
		}
	}
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
