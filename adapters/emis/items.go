package emis

import (
	"strconv"
	"strings"

	"mig/adapters/record"
	"mig/adapters/xmltok"
)

// coded reads what every CodedItemBaseType has: id, code, dates, author and
// problem links. ok is false when the item has no code at all. An item
// coded only with a local code that has no national map is kept as a
// KindNone entry (unclassifiable), so that it is accounted for; local is
// then true and the caller decides nothing from structure.
func (p *parser) coded(n *xmltok.Node, typ string, c ctx) (e record.Entry, m meta, local, ok bool) {
	code := concept(n.Child("Code"))
	if code.IsZero() {
		if code = localConcept(n.Child("Code")); code.IsZero() {
			return record.Entry{}, meta{}, false, false
		}
		local = true
	}
	withSNOMEDDescription(&code, n.Child("TermID"))
	m = meta{self: identOf(n), author: identOf(n.Child("AuthorID")), encounter: c.encounter,
		withheld: c.withheld || restricted(n)}
	for _, l := range n.FindAll("ProblemLinkList", "Link") {
		if t := identOf(l.Child("Target")); !t.zero() {
			m.problems = append(m.problems, t)
		}
	}
	e = record.Entry{
		ID:        p.entryID(typ, m.self),
		Code:      code,
		Effective: date(txt(n, "AssignedDate"), txt(n, "DatePart"), txt(n, "AssignedTime")),
		Recorded:  date(txt(n, "OriginalAuthor", "SystemDate"), "", ""),
	}
	if c.parent >= 0 {
		e.Parent, m.report = p.rec.Entries[c.parent].ID, c.parent+1
	}
	if local {
		e.Kind, e.NotShown = record.KindNone, record.RuleUnclassifiable
	}
	return e, m, local, true
}

// problem applies a <Problem> element: the item is a problem header.
func problem(e *record.Entry, pr *xmltok.Node) {
	e.Kind = record.KindProblem
	e.Status = problemStatus(pr)
	potential := strings.TrimSpace(txt(pr, "ProblemStatus")) == "3"
	if potential {
		e.Status = record.StatusActive
	}
	e.End = date(txt(pr, "EndDate"), txt(pr, "EndDatePart"), "")
	info := &record.ProblemInfo{Provisional: potential}
	switch strings.TrimSpace(txt(pr, "Significance")) {
	case "1":
		info.Significance = "major"
	case "2":
		info.Significance = "minor"
	}
	e.Problem = info
}

// healthAdmin reports ProblemStatus 2, "Health Admin/Health Promotion": an
// administrative entry, not a clinical problem, so the item is classified
// by its code like any other.
func healthAdmin(pr *xmltok.Node) bool { return strings.TrimSpace(txt(pr, "ProblemStatus")) == "2" }

// problemStatus: ProblemStatus 1 active, 0 past; 3 (potential) is active
// and provisional (see problem); 2 (health admin) is not a problem.
func problemStatus(pr *xmltok.Node) record.Status {
	switch strings.TrimSpace(txt(pr, "ProblemStatus")) {
	case "1":
		return record.StatusActive
	case "0":
		return record.StatusInactive
	}
	return record.StatusUnknown
}

func (p *parser) event(n *xmltok.Node, c ctx) {
	e, m, local, ok := p.coded(n, "Event", c)
	if !ok {
		return
	}
	switch {
	case local:
		// unclassifiable: coded, but with nothing national to show
	case aboutRelative(n, e.Code):
		e.Kind, e.NotShown = record.KindNone, record.RuleRelative
	case n.Child("Problem") != nil && !healthAdmin(n.Child("Problem")):
		problem(&e, n.Child("Problem"))
	default:
		var rule record.Rule
		switch strings.TrimSpace(txt(n, "EventType")) {
		case "13":
			e.Kind = record.KindImmunisation
		case "10":
			e.Kind, e.Status = record.KindRisk, record.StatusActive // an alert
		case "11":
			e.Kind = record.KindAllergy
		case "8":
			e.Kind = record.KindReferral
		default:
			e.Kind, rule = p.opt.Classifier.Classify(e.Code)
		}
		if noKnownAllergy.Has(e.Code) {
			e.Kind, rule = record.KindAllergy, record.RuleNone
		}
		if c.parent >= 0 && e.Kind != record.KindBloodPressure {
			e.Kind, rule = record.KindInvestigation, record.RuleNone // a result under a report
		}
		e.NotShown = rule
	}
	switch e.Kind {
	case record.KindAllergy:
		e.Status = record.StatusActive
		// An allergy event has no allergen slot: under a generic heading
		// (14L.. drug allergy, ...) the allergen is in its text only.
		e.Allergy = &record.AllergyInfo{Category: allergyCategory(e.Code, ""), AllergenUncoded: allergyHeading(e.Code)}
	case record.KindReferral:
		e.Referral = &record.ReferralInfo{}
	}
	value, rng := numeric(n.Child("NumericValue"), e.Kind == record.KindBloodPressure)
	if e.Kind == record.KindBloodPressure {
		if part := record.BloodPressurePart(e.Code); part == "systolic" || part == "diastolic" {
			m.bpPart, m.bpValue, m.bpRange = part, value, rng
			key := "t:" + strings.TrimSpace(txt(n, "AssignedDate")) + "|" + strings.TrimSpace(txt(n, "AssignedTime"))
			if g := strings.TrimSpace(txt(n, "GroupID")); !nullLink(g) {
				key = "g:" + g
			}
			m.bpKey = strconv.Itoa(c.encounter) + "|" + strconv.Itoa(c.parent) + "|" + key
		}
	} else {
		e.Value, e.Range = value, rng
	}
	if strings.TrimSpace(txt(n, "Abnormal")) == "1" {
		e.Interpretation = abnormal
	}
	p.add(e, m)
}

// diary reads a diary entry (DiaryList, a consultation's Diary): a recall
// or something planned, due on its AssignedDate. It keeps the kind its
// code gives and is marked Planned, never shown as something that
// happened.
func (p *parser) diary(n *xmltok.Node, c ctx) {
	e, m, local, ok := p.coded(n, "Diary", c)
	if !ok {
		return
	}
	e.Planned = true
	if !local {
		if aboutRelative(n, e.Code) {
			e.Kind, e.NotShown = record.KindNone, record.RuleRelative
		} else {
			e.Kind, e.NotShown = p.opt.Classifier.Classify(e.Code)
		}
	}
	if e.Kind == record.KindReferral {
		e.Referral = &record.ReferralInfo{}
	}
	p.add(e, m)
}

// abnormal is the v3 ObservationInterpretation code A (abnormal): EMIS says
// only that a value is abnormal, not high or low.
var abnormal = record.Concept{Codings: []record.Coding{{
	System: "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", Code: "A"}}}

// bpUnit is the unit of a blood pressure half: EMIS writes mmHg in
// several spellings, or none (its default for the code, mm[Hg]).
func bpUnit(u string) string {
	switch strings.ToLower(strings.ReplaceAll(strings.TrimSpace(u), " ", "")) {
	case "", "mmhg", "mm[hg]":
		return "mm[Hg]"
	}
	return strings.TrimSpace(u)
}

// numeric reads a NumericValue: the value as written (it must be a number),
// its operator and units, and the reference range. bp says the value is a
// blood pressure half (no unit means mm[Hg]).
func numeric(n *xmltok.Node, bp bool) (*record.Quantity, *record.Range) {
	if n == nil {
		return nil, nil
	}
	unit := strings.TrimSpace(txt(n, "Units"))
	if bp {
		unit = bpUnit(unit)
	}
	q := quantity(txt(n, "Value"), txt(n, "Operator"), unit)
	if q == nil {
		return nil, nil
	}
	low := quantity(txt(n, "NumericMinimum"), txt(n, "MinRangeOperator"), unit)
	high := quantity(txt(n, "NumericMaximum"), txt(n, "MaximumRangeOperator"), unit)
	if low == nil && high == nil {
		return q, nil
	}
	return q, &record.Range{Low: low, High: high}
}

func quantity(value, op, unit string) *record.Quantity {
	value = strings.TrimSpace(value)
	if value == "" {
		return nil
	}
	f, err := strconv.ParseFloat(value, 64)
	if err != nil || f != f || f > 1e300 || f < -1e300 {
		return nil
	}
	cmp, ok := comparator(op)
	if !ok {
		return nil
	}
	q := &record.Quantity{Value: value, Comparator: cmp}
	q.SetUnit(unit)
	return q
}

func comparator(op string) (string, bool) {
	switch op = strings.TrimSpace(op); op {
	case "", "=":
		return "", true
	case "<", "<=", ">", ">=":
		return op, true
	}
	return "", false
}

// investigation is a report: its own code, and its results in EventList.
// A report under a confidentiality policy withholds its results.
func (p *parser) investigation(n *xmltok.Node, c ctx) {
	withheld := c.withheld || restricted(n)
	parent := -1
	code := concept(n.Child("Code"))
	if !code.IsZero() {
		withSNOMEDDescription(&code, n.Child("TermID"))
		m := meta{self: identOf(n), author: identOf(n.Child("AuthorID")), encounter: c.encounter, withheld: withheld}
		e := record.Entry{
			ID:        p.entryID("Investigation", m.self),
			Kind:      record.KindInvestigation,
			Code:      code,
			Effective: date(txt(n, "AssignedDate"), txt(n, "DatePart"), txt(n, "AssignedTime")),
			Recorded:  date(txt(n, "OriginalAuthor", "SystemDate"), "", ""),
		}
		if strings.TrimSpace(txt(n, "Abnormal")) == "1" {
			e.Interpretation = abnormal
		}
		parent = p.add(e, m)
	}
	for _, ev := range n.FindAll("EventList", "Event") {
		p.event(ev, ctx{encounter: c.encounter, parent: parent, withheld: withheld})
	}
}

func (p *parser) referral(n *xmltok.Node, c ctx) {
	e, m, local, ok := p.coded(n, "Referral", c)
	if !ok {
		return
	}
	if local {
		p.add(e, m)
		return
	}
	if pr := n.Child("Problem"); pr != nil && !healthAdmin(pr) {
		problem(&e, pr)
		p.add(e, m)
		return
	}
	e.Kind = record.KindReferral
	info := &record.ReferralInfo{Specialty: concept(n.Child("Speciality"))}
	switch strings.TrimSpace(txt(n, "Urgency")) {
	case "0", "3": // routine; dated
		info.Priority = "routine"
	case "1", "2": // soon; urgent
		info.Priority = "urgent"
	}
	e.Referral = info
	m.provider = identOf(n.Child("Provider"))
	p.add(e, m)
}

// allergy reads an AllergyList item. Its Code is the allergy as recorded
// (a national heading such as 14L.. "H/O: drug allergy", or a specific
// allergy); Codes is the allergen, an EMIS drug group, name or constituent
// or a non-drug description, kept only when it carries a national map.
//   - Under a generic heading with no coded allergen, the allergy is kept
//     with the heading's code and AllergenUncoded.
//   - A drug allergy (AllergyType 1-4) naming an allergen but coded only
//     locally is still a drug allergy: it is kept under the national
//     heading GP systems send for exactly this in GP2GP, Read 14L.. "H/O:
//     drug allergy" (the degraded drug allergy shape in
//     ../shared/reference/gp2gp/fragments/AllergyIntolerance), with
//     AllergenUncoded. Any other local-only allergy (which may as well say
//     "no known allergy") is not classifiable: never shown as an allergy.
//
// EMIS Open says nothing of verification: Confirmed stays false.
func (p *parser) allergy(n *xmltok.Node, c ctx) {
	e, m, local, ok := p.coded(n, "Allergy", c)
	if !ok {
		return
	}
	allergen := concept(n.Child("Codes"))
	drugType := false
	switch strings.TrimSpace(txt(n, "AllergyType")) {
	case "1", "2", "3", "4":
		drugType = true
	}
	uncoded := false
	if local {
		if !drugType || n.Child("Codes") == nil {
			p.add(e, m) // KindNone, unclassifiable
			return
		}
		// the local code as entered first, the heading as its translation
		e.Code = record.Concept{Codings: append(e.Code.Codings, drugAllergyHeading)}
		uncoded = allergen.IsZero()
	} else {
		uncoded = allergen.IsZero() && allergyHeading(e.Code)
	}
	e.Kind, e.NotShown = record.KindAllergy, record.RuleNone
	e.Status = record.StatusActive
	if pr := n.Child("Problem"); pr != nil && problemStatus(pr) == record.StatusInactive {
		e.Status = record.StatusInactive
		e.End = date(txt(pr, "EndDate"), txt(pr, "EndDatePart"), "")
	}
	e.Allergy = &record.AllergyInfo{
		Category:        allergyCategory(e.Code, txt(n, "AllergyType")),
		Substance:       allergen,
		AllergenUncoded: uncoded && !noKnownAllergy.Has(e.Code),
	}
	p.add(e, m)
}

func (p *parser) alert(n *xmltok.Node, c ctx) {
	e, m, local, ok := p.coded(n, "Alert", c)
	if !ok {
		return
	}
	if !local {
		e.Kind = record.KindRisk
		e.Status = record.StatusActive
	}
	p.add(e, m)
}

// medication reads a course (MedicationList, a consultation's Medication)
// or, with issue set, one issue (IssueList).
func (p *parser) medication(n *xmltok.Node, c ctx, issue bool) {
	code := concept(n.Find("Drug", "PreparationID"))
	if code.IsZero() {
		return // mixtures and uncoded drugs: nothing national to show
	}
	m := meta{self: identOf(n), author: identOf(n.Child("AuthorisedUserID")), encounter: c.encounter,
		withheld: c.withheld || restricted(n)}
	for _, l := range n.FindAll("ProblemLinkList", "Link") {
		if t := identOf(l.Child("Target")); !t.zero() {
			m.problems = append(m.problems, t)
		}
	}
	typ, kind := "Medication", record.KindMedicationAuthorisation
	if issue {
		typ, kind = "Issue", record.KindMedicationIssue
		if a := identOf(n.Child("IssuerID")); !a.zero() {
			m.author = a
		}
		if l := strings.TrimSpace(txt(n, "MedicationLink", "GUID")); !nullLink(l) {
			m.medLink = l
		}
	}
	e := record.Entry{
		ID:        p.entryID(typ, m.self),
		Kind:      kind,
		Code:      code,
		Effective: date(txt(n, "AssignedDate"), "", ""),
		Recorded:  date(txt(n, "OriginalAuthor", "SystemDate"), "", ""),
	}
	mi := &record.MedicationInfo{
		Dosage:         record.NewDosageText(txt(n, "Dosage")),
		RepeatsAllowed: count(txt(n, "AuthorisedIssue")),
		RepeatsIssued:  count(txt(n, "IssueCount")),
		DurationDays:   count(txt(n, "Duration")),
	}
	qty := strings.TrimSpace(txt(n, "Quantity"))
	if nullLink(qty) {
		qty = "" // -1 or 0: no quantity given
	}
	units := strings.TrimSpace(txt(n, "QuantityUnits"))
	if q := quantity(qty, "", units); q != nil {
		mi.QuantityValue = q
	}
	if rep := strings.TrimSpace(txt(n, "QuantityRepresentation")); rep != "" {
		mi.Quantity = record.NewDosageText(rep)
	} else if qty != "" {
		mi.Quantity = record.NewDosageText(strings.TrimSpace(qty + " " + units))
	}
	switch strings.ToUpper(strings.TrimSpace(txt(n, "PrescriptionType"))) {
	case "ACUTE":
		mi.Type = record.PrescriptionAcute
	case "REPEAT", "AUTOMATIC":
		mi.Type = record.PrescriptionRepeat
		if strings.TrimSpace(txt(n, "ServiceType")) == "A" {
			mi.Type = record.PrescriptionRepeatDispensing
		}
	}
	if issue {
		e.Status = record.StatusCompleted
	} else {
		switch strings.ToUpper(strings.TrimSpace(txt(n, "Status"))) {
		case "C":
			e.Status = record.StatusActive
		case "P":
			e.Status = record.StatusCompleted
		case "N":
			e.Status = record.StatusStopped
		}
		e.End = date(txt(n, "DateRxExpire"), "", "")
		if e.End.IsZero() && (e.Status == record.StatusCompleted || e.Status == record.StatusStopped) &&
			mi.DurationDays > 0 && e.Effective.P >= record.PrecisionDay {
			e.End = record.Date{T: e.Effective.T.AddDate(0, 0, mi.DurationDays), P: record.PrecisionDay}
		}
	}
	e.Medication = mi
	p.add(e, m)
}

// count reads a non-negative integer, 0 when absent or not a count.
func count(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > 100000 {
		return 0
	}
	return n
}

// restricted reports whether an item is under an EMIS confidentiality
// policy (PolicyID: "link to the confidentiality policy record, which
// describes who can view this record", a list of the practice's own
// users). Only a positive id links to a policy: EMIS writes -1, its null
// link, in the PolicyID of every item without one (0 and empty are no link
// either). A clinician outside the practice is never on a policy's list,
// so an item with one is withheld, and the record says that something
// was, as GP2GP's NOPAT items are. A value that is not a number at all is
// no null link EMIS writes: it is taken as a policy (fail closed).
func restricted(n *xmltok.Node) bool {
	for _, name := range []string{"PolicyID", "PolicyId"} {
		v := strings.TrimSpace(txt(n, name))
		if nullLink(v) {
			continue
		}
		return true
	}
	return false
}
