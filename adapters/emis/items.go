package emis

import (
	"strconv"
	"strings"

	"mig/adapters/record"
	"mig/adapters/xmltok"
)

// coded reads what every CodedItemBaseType has: id, code, dates, author and
// problem links. ok is false when the item has no usable code.
func (p *parser) coded(n *xmltok.Node, typ string, c ctx) (record.Entry, meta, bool) {
	code := concept(n.Child("Code"))
	if code.IsZero() {
		return record.Entry{}, meta{}, false
	}
	m := meta{self: identOf(n), author: identOf(n.Child("AuthorID")), encounter: c.encounter}
	for _, l := range n.FindAll("ProblemLinkList", "Link") {
		if t := identOf(l.Child("Target")); !t.zero() {
			m.problems = append(m.problems, t)
		}
	}
	e := record.Entry{
		ID:        p.entryID(typ, m.self),
		Code:      code,
		Effective: date(txt(n, "AssignedDate"), txt(n, "DatePart"), txt(n, "AssignedTime")),
		Recorded:  date(txt(n, "OriginalAuthor", "SystemDate"), "", ""),
	}
	if c.parent >= 0 {
		e.Parent = p.rec.Entries[c.parent].ID
	}
	return e, m, true
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
	if p.restricted(n) {
		return
	}
	e, m, ok := p.coded(n, "Event", c)
	if !ok {
		return
	}
	if pr := n.Child("Problem"); pr != nil && !healthAdmin(pr) {
		problem(&e, pr)
	} else {
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
			e.Kind = p.opt.Classifier.KindOf(e.Code)
		}
		if noKnownAllergy.Has(e.Code) {
			e.Kind = record.KindAllergy
		}
		if c.parent >= 0 && e.Kind != record.KindBloodPressure {
			e.Kind = record.KindInvestigation // a result under a report
		}
	}
	switch e.Kind {
	case record.KindAllergy:
		e.Status = record.StatusActive
		e.Allergy = &record.AllergyInfo{Category: allergyCategory(e.Code, "")}
	case record.KindReferral:
		e.Referral = &record.ReferralInfo{}
	}
	value, rng := numeric(n.Child("NumericValue"))
	if e.Kind == record.KindBloodPressure {
		if part := record.BloodPressurePart(e.Code); part == "systolic" || part == "diastolic" {
			if value != nil {
				value.Unit = bpUnit(value.Unit)
			}
			m.bpPart, m.bpValue = part, value
			key := "t:" + strings.TrimSpace(txt(n, "AssignedDate")) + "|" + strings.TrimSpace(txt(n, "AssignedTime"))
			if g := strings.TrimSpace(txt(n, "GroupID")); g != "" {
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

// abnormal is the v3 ObservationInterpretation code A (abnormal): EMIS says
// only that a value is abnormal, not high or low.
var abnormal = record.Concept{Codings: []record.Coding{{
	System: "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", Code: "A"}}}

func bpUnit(u string) string {
	switch strings.ToLower(strings.ReplaceAll(strings.TrimSpace(u), " ", "")) {
	case "", "mmhg", "mm[hg]":
		return "mm[Hg]"
	}
	return strings.TrimSpace(u)
}

// numeric reads a NumericValue: the value as written (it must be a number),
// its operator and units, and the reference range.
func numeric(n *xmltok.Node) (*record.Quantity, *record.Range) {
	if n == nil {
		return nil, nil
	}
	unit := strings.TrimSpace(txt(n, "Units"))
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
	return &record.Quantity{Value: value, Unit: unit, Comparator: cmp}
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
func (p *parser) investigation(n *xmltok.Node, c ctx) {
	if p.restricted(n) {
		return
	}
	parent := -1
	if code := concept(n.Child("Code")); !code.IsZero() {
		m := meta{self: identOf(n), author: identOf(n.Child("AuthorID")), encounter: c.encounter}
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
		p.event(ev, ctx{encounter: c.encounter, parent: parent})
	}
}

func (p *parser) referral(n *xmltok.Node, c ctx) {
	if p.restricted(n) {
		return
	}
	e, m, ok := p.coded(n, "Referral", c)
	if !ok {
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

func (p *parser) allergy(n *xmltok.Node, c ctx) {
	if p.restricted(n) {
		return
	}
	e, m, ok := p.coded(n, "Allergy", c)
	if !ok {
		return
	}
	e.Kind = record.KindAllergy
	e.Status = record.StatusActive
	if pr := n.Child("Problem"); pr != nil && problemStatus(pr) == record.StatusInactive {
		e.Status = record.StatusInactive
		e.End = date(txt(pr, "EndDate"), txt(pr, "EndDatePart"), "")
	}
	e.Allergy = &record.AllergyInfo{
		Category:  allergyCategory(e.Code, txt(n, "AllergyType")),
		Substance: concept(n.Child("Codes")),
	}
	p.add(e, m)
}

func (p *parser) alert(n *xmltok.Node, c ctx) {
	if p.restricted(n) {
		return
	}
	e, m, ok := p.coded(n, "Alert", c)
	if !ok {
		return
	}
	e.Kind = record.KindRisk
	e.Status = record.StatusActive
	p.add(e, m)
}

// medication reads a course (MedicationList, a consultation's Medication)
// or, with issue set, one issue (IssueList).
func (p *parser) medication(n *xmltok.Node, c ctx, issue bool) {
	if p.restricted(n) {
		return
	}
	code := concept(n.Find("Drug", "PreparationID"))
	if code.IsZero() {
		return // mixtures and uncoded drugs: nothing national to show
	}
	m := meta{self: identOf(n), author: identOf(n.Child("AuthorisedUserID")), encounter: c.encounter}
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
		m.medLink = strings.TrimSpace(txt(n, "MedicationLink", "GUID"))
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
// policy (PolicyID: "who can view this record", a list of the practice's
// own users). A clinician outside the practice is never on that list, so
// the item is withheld and the record says that something was, as GP2GP's
// NOPAT items are.
func (p *parser) restricted(n *xmltok.Node) bool {
	for _, name := range []string{"PolicyID", "PolicyId"} {
		if v := strings.TrimSpace(txt(n, name)); v != "" && v != "0" {
			p.rec.Withheld = true
			return true
		}
	}
	return false
}
