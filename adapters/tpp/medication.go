package tpp

import (
	"strconv"
	"strings"

	"mig/adapters/record"
	"mig/adapters/xmltok"
)

// issueRef is a repeat issue awaiting its authorisation: the schema ties
// them by nothing but the drug, so an issue belongs to the repeat
// authorisation of the same dm+d product that was running on its date.
type issueRef struct {
	entry int
	drug  string
	date  record.Date
}

// authRef is a repeat authorisation issues may be tied to.
type authRef struct {
	entry      int
	drug       string
	start, end record.Date
}

// endOfCourse is the MedicationEndReason of a course that ran to its end;
// any other reason means the medication was stopped.
const endOfCourse = "End of Course"

// medStatus judges an authorisation from its end date and end reason: no
// end date or one still to come is current; an ended course is completed,
// unless a reason other than its natural end says it was stopped.
func (p *parser) medStatus(end record.Date, reason string) record.Status {
	switch {
	case end.IsZero() || end.T.After(p.now):
		return record.StatusActive
	case reason != "" && reason != endOfCourse:
		return record.StatusStopped
	}
	return record.StatusCompleted
}

// medicationText returns the dosage and quantity text, the one free-text
// exception.
func medicationText(n *xmltok.Node) (dose, qty record.DosageText) {
	return record.NewDosageText(text(n, "Dose")), record.NewDosageText(text(n, "Quantity"))
}

// medication reads a Medication: with RepeatIssue it is one issue of a
// repeat (tied to its authorisation later); without, an acute
// prescription, which is an authorisation and its one issue.
func (p *parser) medication(ev *evCtx, n *xmltok.Node, id string) error {
	path := ev.path + "/Medication"
	code, drug, ok := drugConcept(n.Child("Drug"))
	if !ok {
		p.unclassifiedDrug(ev, n.Child("Drug"), id)
		return nil
	}
	start, err := p.date(n, path, "StartDate")
	if err != nil {
		return err
	}
	if start.IsZero() {
		start = ev.date
	}
	end, err := p.date(n, path, "EndDate")
	if err != nil {
		return err
	}
	dose, qty := medicationText(n)
	links := linkIDs(n)
	if n.Child("RepeatIssue") != nil {
		i := p.add(record.Entry{ID: id, Kind: record.KindMedicationIssue, Code: code, Status: record.StatusCompleted,
			Effective: start, Medication: &record.MedicationInfo{Dosage: dose, Quantity: qty, Type: record.PrescriptionRepeat}}, ev.user)
		p.issues = append(p.issues, issueRef{entry: i, drug: drug, date: start})
		p.link(i, links)
		return nil
	}
	reason := strings.TrimSpace(text(n, "EndReason"))
	a := p.add(record.Entry{ID: id, Kind: record.KindMedicationAuthorisation, Code: code,
		Status: p.medStatus(end, reason), Effective: start, End: end,
		Medication: &record.MedicationInfo{Dosage: dose, Quantity: qty, Type: record.PrescriptionAcute}}, ev.user)
	i := p.add(record.Entry{ID: id + ".issue", Kind: record.KindMedicationIssue, Code: code, Status: record.StatusCompleted,
		Effective: start, Medication: &record.MedicationInfo{Dosage: dose, Quantity: qty, Type: record.PrescriptionAcute,
			Authorisation: id}}, ev.user)
	p.link(a, links)
	p.link(i, links)
	return nil
}

// unclassifiedDrug keeps a medicine with no national code (a Multilex
// product, an id that is not a valid SCTID) as an item that could not be
// classified: never shown (its name is free text), but counted, so that
// migctl map --report lists it and the response says some coded items could
// not be shown. A medicine is never dropped silently.
func (p *parser) unclassifiedDrug(ev *evCtx, n *xmltok.Node, id string) {
	var code record.Concept
	if n != nil {
		if pid := strings.TrimSpace(n.Attr("ProductID")); record.CodeShaped(pid) {
			code = record.Concept{Codings: []record.Coding{{System: record.SystemTPPLocal, Code: pid}}}
		}
	}
	p.add(record.Entry{ID: id, Kind: record.KindNone, NotShown: record.RuleUnclassifiable, Code: code}, ev.user)
}

// repeatMedication reads a RepeatMedication: a repeat authorisation.
func (p *parser) repeatMedication(ev *evCtx, n *xmltok.Node, id string) error {
	path := ev.path + "/RepeatMedication"
	code, drug, ok := drugConcept(n.Child("Drug"))
	if !ok {
		p.unclassifiedDrug(ev, n.Child("Drug"), id)
		return nil
	}
	start, err := p.date(n, path, "StartDate")
	if err != nil {
		return err
	}
	if start.IsZero() {
		start = ev.date
	}
	end, err := p.date(n, path, "EndDate")
	if err != nil {
		return err
	}
	maxIssues, err := p.integer(n, path, "MaxIssues")
	if err != nil {
		return err
	}
	days, err := p.integer(n, path, "IssueDurationDays")
	if err != nil {
		return err
	}
	dose, qty := medicationText(n)
	reason := strings.TrimSpace(text(n, "EndReason"))
	i := p.add(record.Entry{ID: id, Kind: record.KindMedicationAuthorisation, Code: code,
		Status: p.medStatus(end, reason), Effective: start, End: end,
		Medication: &record.MedicationInfo{Dosage: dose, Quantity: qty, Type: record.PrescriptionRepeat,
			RepeatsAllowed: maxIssues, DurationDays: days}}, ev.user)
	p.repeats = append(p.repeats, authRef{entry: i, drug: drug, start: start, end: end})
	p.link(i, linkIDs(n))
	return nil
}

// integer reads the optional non-negative integer child name of n.
func (p *parser) integer(n *xmltok.Node, path, name string) (int, error) {
	c := n.Child(name)
	if c == nil || c.Text == "" {
		return 0, nil
	}
	v, err := strconv.Atoi(strings.TrimPrefix(c.Text, "+"))
	if err != nil || v < 0 || v > 1_000_000 {
		return 0, p.fail(c.Line, path+"/"+name, "invalid integer")
	}
	return v, nil
}
