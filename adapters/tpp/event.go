package tpp

import (
	"strconv"
	"strings"

	"mig/adapters/record"
	"mig/adapters/xmltok"
)

// contactMethods are the Event Method values (xsd EventMethod) that record
// a contact with the patient: such an event is a consultation. Events
// without a Method are data entry, and DNA records that no contact took
// place.
var contactMethods = map[string]bool{
	"Face to face": true, "Telephone": true, "Text": true, "Email": true, "E-mail": true,
	"Letter": true, "Fax": true,
}

// evCtx is one Event: its attributes and the items read from it.
type evCtx struct {
	uid       string // EventUID, or event-<n> when the extract gives none
	realUID   bool
	date      record.Date
	user      string
	encounter bool
	path      string

	items                      []*xmltok.Node // ClinicalCode, Medication, RepeatMedication in order
	links                      []string       // the Event's own LinkedProblemUIDs
	vaccLinks, sensLinks       []string
	vaccination, drugSens, rep bool // holds a Vaccination, DrugSensitivity, Report
	sensUsed                   bool // a coded allergy of the event took its DrugSensitivity

	bpHeaders []bpHeader
	bps       []bpSlot // the event's blood pressure entries
}

type bpHeader struct {
	id   string
	code record.Concept
	val  *record.Quantity
}

// event reads one Event: its coded items one at a time, skipping the
// free-text ones unread, then builds its entries.
func (p *parser) event(t xmltok.Token) error {
	p.events++
	ev := &evCtx{uid: strings.TrimSpace(t.Attr("EventUID")), user: strings.TrimSpace(t.Attr("UserName")), path: p.d.Path()}
	ev.realUID = ev.uid != ""
	if !ev.realUID {
		ev.uid = "event-" + strconv.Itoa(p.events)
	}
	if s := t.Attr("DateTime"); s != "" {
		d, ok := ParseDate(s)
		if !ok {
			return p.fail(p.d.Line(), ev.path, "invalid date in DateTime")
		}
		ev.date = d
	}
	ev.encounter = contactMethods[t.Attr("Method")]
	err := p.each(func(c xmltok.Token) error {
		switch c.Local {
		case "ClinicalCode", "Medication", "RepeatMedication":
			n, err := p.d.ReadNode(c)
			if err != nil {
				return err
			}
			ev.items = append(ev.items, n)
		case "LinkedProblemUID":
			n, err := p.d.ReadNode(c)
			if err != nil {
				return err
			}
			ev.links = appendID(ev.links, n.Text)
		case "Vaccination", "DrugSensitivity":
			n, err := p.d.ReadNode(c)
			if err != nil {
				return err
			}
			if c.Local == "Vaccination" {
				ev.vaccination = true
				ev.vaccLinks = append(ev.vaccLinks, linkIDs(n)...)
			} else {
				ev.drugSens = true
				ev.sensLinks = append(ev.sensLinks, linkIDs(n)...)
			}
		case "Report":
			ev.rep = true
			return p.d.Skip()
		default:
			return p.d.Skip()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return p.buildEvent(ev)
}

func appendID(ids []string, s string) []string {
	if s = strings.TrimSpace(s); s != "" {
		ids = append(ids, s)
	}
	return ids
}

func linkIDs(n *xmltok.Node) []string {
	var ids []string
	for _, l := range n.All("LinkedProblemUID") {
		ids = appendID(ids, l.Text)
	}
	return ids
}

// add appends e, noting its author for resolution, and returns its index.
// Every entry added counts in Stats.Read (a blood pressure reading, its
// halves and header code, is one): a report can then account for each one
// as shown, not shown by a rule, withheld or a duplicate. A KindNone entry
// always says why it is not shown.
func (p *parser) add(e record.Entry, user string) int {
	if e.Kind == record.KindNone && e.NotShown == record.RuleNone {
		e.NotShown = record.RuleUnclassifiable
	}
	p.rec.Stats.Read++
	p.rec.Entries = append(p.rec.Entries, e)
	i := len(p.rec.Entries) - 1
	if user != "" {
		p.authors = append(p.authors, ref{i, user})
	}
	return i
}

func (p *parser) link(i int, ids []string) {
	for _, id := range ids {
		p.links = append(p.links, ref{i, id})
	}
}

func (p *parser) buildEvent(ev *evCtx) error {
	first := len(p.rec.Entries)
	if ev.encounter {
		p.add(record.Entry{ID: ev.uid, Kind: record.KindEncounter, Effective: ev.date}, ev.user)
	}
	for i, n := range ev.items {
		id := ev.uid + "." + strconv.Itoa(i+1)
		var err error
		switch n.Local {
		case "ClinicalCode":
			err = p.clinicalCode(ev, n, id)
		case "Medication":
			err = p.medication(ev, n, id)
		case "RepeatMedication":
			err = p.repeatMedication(ev, n, id)
		}
		if err != nil {
			return err
		}
	}
	// A blood pressure header code (246..) names the paired reading it
	// came with; alone it is an ordinary entry.
	for _, h := range ev.bpHeaders {
		used := false
		for _, s := range ev.bps {
			if e := &p.rec.Entries[s.entry]; e.Code.IsZero() {
				e.Code, used = h.code, true // part of the reading: not a statement of its own
				break
			}
		}
		if !used {
			k, rule := p.cl.Classify(h.code)
			p.add(record.Entry{ID: h.id, Kind: k, NotShown: rule, Code: h.code, Effective: ev.date, Value: h.val}, ev.user)
		}
	}
	// A drug sensitivity no coded allergy of the event took is still a
	// drug allergy: its allergen is named in free text only, so it is
	// kept under the national drug allergy heading, allergen not coded.
	if ev.drugSens && !ev.sensUsed {
		i := p.add(record.Entry{ID: ev.uid + ".sensitivity", Kind: record.KindAllergy, Status: record.StatusActive,
			Code: record.Concept{Codings: []record.Coding{drugAllergyHeading}}, Effective: ev.date,
			Allergy: &record.AllergyInfo{Category: record.AllergyDrug, AllergenUncoded: true}}, ev.user)
		p.link(i, ev.sensLinks)
	}
	for i := first; i < len(p.rec.Entries); i++ {
		e := &p.rec.Entries[i]
		if ev.encounter && e.ID != ev.uid {
			e.Encounter = ev.uid
		}
		if e.Kind == record.KindProblem && ev.realUID {
			if _, ok := p.evProb[ev.uid]; !ok {
				p.evProb[ev.uid] = e.ID
			}
		}
		p.link(i, ev.links)
	}
	return nil
}

// significance maps ProblemSeverity to a problem's significance.
func significance(s string) string {
	switch {
	case strings.HasPrefix(s, "Major"):
		return "major"
	case strings.HasPrefix(s, "Minor"):
		return "minor"
	}
	return ""
}

// clinicalCode reads one ClinicalCode. Its structure decides first: family
// history (IsFamilyHistory, or a family history code) is about someone
// else (not shown, RuleRelative), a ProblemSeverity makes a problem header,
// IsAllergy (or a drug sensitivity in the event) an allergy, a Vaccination
// in the event an immunisation; otherwise the classifier decides from the
// code, and a CTV3 code without a Read twin that the classifier has no rule
// for is an investigation when it carries a value or belongs to a Report.
//
// A code with no national coding is kept for accounting as a KindNone
// entry (not classifiable) with its local codes only, except under a drug
// sensitivity: a drug allergy whose allergen is coded locally, kept under
// the national heading 14L.., allergen not coded.
func (p *parser) clinicalCode(ev *evCtx, n *xmltok.Node, id string) error {
	path := ev.path + "/ClinicalCode"
	concept, ok := Concept(n.All("Code"))
	var q *record.Quantity
	unit := strings.TrimSpace(text(n, "Units"))
	if v := n.Child("Value"); v != nil && v.Text != "" {
		if !isDecimal(v.Text) {
			return p.fail(v.Line, path+"/Value", "invalid decimal value")
		}
		q = &record.Quantity{Value: v.Text}
		q.SetUnit(unit)
	}
	relative := n.Child("IsFamilyHistory") != nil
	if !ok {
		local := localConcept(n.All("Code"))
		if local.IsZero() {
			return nil // no code at all
		}
		e := record.Entry{ID: id, Code: local, Effective: ev.date, Value: q, Kind: record.KindNone, NotShown: record.RuleUnclassifiable}
		links := linkIDs(n)
		switch {
		case relative:
			e.NotShown = record.RuleRelative
		case ev.drugSens:
			e.Kind, e.NotShown, e.Status = record.KindAllergy, record.RuleNone, record.StatusActive
			// the local code as entered first, the heading as its translation
			e.Code = record.Concept{Codings: append(local.Codings, drugAllergyHeading)}
			e.Allergy = &record.AllergyInfo{Category: record.AllergyDrug, AllergenUncoded: true}
			links = append(links, ev.sensLinks...)
			ev.sensUsed = true
		}
		i := p.add(e, ev.user)
		p.link(i, links)
		return nil
	}
	e := record.Entry{ID: id, Code: concept, Effective: ev.date, Value: q}
	links := linkIDs(n)
	k, rule := p.cl.Classify(concept)
	switch {
	case relative || record.FamilyHistory(concept):
		e.Kind, e.NotShown = record.KindNone, record.RuleRelative
	case text(n, "ProblemSeverity") != "":
		e.Kind = record.KindProblem
		e.Problem = &record.ProblemInfo{Significance: significance(text(n, "ProblemSeverity"))}
		end, err := p.date(n, path, "ProblemEndDate")
		if err != nil {
			return err
		}
		// An ended problem is a past problem: inactive, as GP2GP and EMIS
		// past problems are (GP Connect's convention).
		e.End, e.Status = end, record.StatusActive
		if !end.IsZero() {
			e.Status = record.StatusInactive
		}
	case n.Child("IsAllergy") != nil || isNoKnownAllergy(concept) || k == record.KindAllergy ||
		ev.drugSens && k == record.KindNone:
		e.Kind, e.Status = record.KindAllergy, record.StatusActive
		cat := record.AllergyOther
		switch {
		case isNoKnownAllergy(concept):
			cat = record.AllergyNoKnown
		case ev.drugSens || readPrefix(concept, "14L"):
			cat = record.AllergyDrug
			links = append(links, ev.sensLinks...)
			ev.sensUsed = ev.sensUsed || ev.drugSens
		}
		// SystmOne has no allergen slot: under a generic heading the
		// allergen is in free text only. Nothing says it was confirmed.
		e.Allergy = &record.AllergyInfo{Category: cat, AllergenUncoded: cat != record.AllergyNoKnown && allergyHeading(concept)}
	case ev.vaccination && (k == record.KindImmunisation || k == record.KindNone || k == record.KindProcedure):
		e.Kind = record.KindImmunisation
		links = append(links, ev.vaccLinks...)
	default:
		switch record.BloodPressurePart(concept) {
		case "systolic", "diastolic":
			p.bloodPressure(ev, e, unit, links)
			return nil
		case "bp":
			ev.bpHeaders = append(ev.bpHeaders, bpHeader{id: id, code: concept, val: q})
			return nil
		}
		if k == record.KindNone && !hasReadTwin(concept) && (q != nil || ev.rep) {
			k, rule = record.KindInvestigation, record.RuleNone
		}
		e.Kind, e.NotShown = k, rule
		if k == record.KindReferral {
			e.Referral = &record.ReferralInfo{}
		}
	}
	i := p.add(e, ev.user)
	p.link(i, links)
	return nil
}

// bloodPressure pairs a systolic or diastolic reading with the event's
// first blood pressure entry still missing that half, or starts one:
// readings in one event share its time. The entry takes the ID of its
// first half; its code is the event's blood pressure header code, if any,
// and each half's code is kept as SystolicCode or DiastolicCode.
func (p *parser) bloodPressure(ev *evCtx, e record.Entry, unit string, links []string) {
	systolic := record.BloodPressurePart(e.Code) == "systolic"
	var q *record.Quantity
	if e.Value != nil {
		q = &record.Quantity{Value: e.Value.Value}
		q.SetUnit(bpUnit(unit))
	}
	slot := -1
	for j, s := range ev.bps {
		if systolic && !s.sys || !systolic && !s.dia {
			slot = j
			break
		}
	}
	if slot < 0 {
		i := p.add(record.Entry{ID: e.ID, Kind: record.KindBloodPressure, Effective: e.Effective}, ev.user)
		ev.bps = append(ev.bps, bpSlot{entry: i})
		slot = len(ev.bps) - 1
	}
	s := &ev.bps[slot]
	bp := &p.rec.Entries[s.entry]
	if systolic {
		s.sys, bp.Systolic, bp.SystolicCode = true, q, e.Code
	} else {
		s.dia, bp.Diastolic, bp.DiastolicCode = true, q, e.Code
	}
	p.link(s.entry, links)
}

// bpSlot is one blood pressure entry of an event and the halves it has.
type bpSlot struct {
	entry    int
	sys, dia bool
}
