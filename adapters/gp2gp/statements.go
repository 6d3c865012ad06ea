package gp2gp

import (
	"strconv"
	"strings"

	"mig/adapters/record"
	"mig/adapters/xmltok"
)

// compCtx is what an ehrComposition passes to the statements inside it.
type compCtx struct {
	id     string
	author *record.Person
	org    string
	loose  []int // indexes of blood pressure parts not inside a BP compound
}

// scope is where a statement sits inside a composition.
type scope struct {
	parent   string // battery or report the statement belongs to
	inReport bool   // inside a laboratory report: results are investigations
}

// Codes that decide structure.
const (
	snomedLabReport          = "16488004"  // laboratory report (CLUSTER)
	snomedActiveProblem      = "394774009" // LinkSet: active problem
	snomedInactiveProblem    = "394775005" // LinkSet: inactive problem
	snomedUnspecifiedProblem = "394776006" // LinkSet: unspecified problem
	snomedSignificant        = "386134007" // LinkSet qualifier: significant (major)
)

// confidential reports whether an element carries a UK07 confidentialityCode
// that asks for it to be withheld (NOPAT: not to be shown to the patient;
// GP Connect leaves such items out, and so do we).
func confidential(n *xmltok.Node) bool {
	cc := n.Child("confidentialityCode")
	return cc != nil && strings.EqualFold(strings.TrimSpace(cc.Attr("code")), "NOPAT")
}

// statementNames are the elements whose ids other statements refer to.
var statementNames = map[string]bool{
	"ehrComposition": true, "ObservationStatement": true, "CompoundStatement": true,
	"MedicationStatement": true, "PlanStatement": true, "RequestStatement": true,
	"LinkSet": true, "NarrativeStatement": true, "ehrSupplyAuthorise": true,
	"ehrSupplyPrescribe": true, "ehrSupplyDiscontinue": true, "RegistrationStatement": true,
	"ExternalDocument": true,
}

// withhold leaves n and everything inside it out of the record.
func (p *parser) withhold(n *xmltok.Node) {
	p.rec.Withheld = true
	n.Walk(func(m *xmltok.Node) bool {
		if statementNames[m.Local] {
			if id := idRoot(m); id != "" {
				p.withheld[id] = true
			}
		}
		return true
	})
}

// composition maps one ehrComposition: a KindEncounter entry and every
// statement inside it.
func (p *parser) composition(n *xmltok.Node) {
	if confidential(n) {
		p.withhold(n)
		return
	}
	c := &compCtx{id: idRoot(n), org: p.rec.Patient.PracticeODS}
	if id := n.Find("location", "locatedEntity", "locatedPlace", "id"); id != nil {
		if ods := odsCode(id.Attr("extension")); ods != "" {
			c.org = ods
		}
	}
	c.author = p.person(agentRefID(n.Child("Participant2")))
	if c.author == nil {
		c.author = p.person(agentRefID(n.Child("author")))
	}
	enc := record.Entry{ID: c.id, Kind: record.KindEncounter, Code: concept(n.Child("code")),
		Author: c.author, Organisation: c.org}
	enc.Effective, enc.End = interval(n.Child("effectiveTime"))
	enc.Recorded = tsAttr(n.Child("availabilityTime"))
	if enc.Effective.IsZero() {
		enc.Effective = enc.Recorded
	}
	if consultation(n, enc.Code) {
		p.rec.Entries = append(p.rec.Entries, enc)
	} else {
		c.id = "" // its statements belong to no consultation
	}
	for _, comp := range n.All("component") {
		for _, s := range comp.Children {
			p.statement(s, c, scope{})
		}
	}
	p.pairLoose(c)
}

// Non-consultation composition codes (SNOMED CT 196401000000100
// Non-consultation data, 196391000000103 Non-consultation medication data):
// GP systems file items recorded outside a consultation under them.
var nonConsultation = []string{"196401000000100", "196391000000103"}

// consultation reports whether a composition is a consultation: not coded
// as non-consultation data and not empty (EhrEmpty only). GP Connect (the
// NHS GP2GP adaptor's output beside the samples) makes no Encounter of the
// others either.
func consultation(n *xmltok.Node, code record.Concept) bool {
	if hasCode(code, record.SystemSNOMED, nonConsultation...) {
		return false
	}
	for _, comp := range n.All("component") {
		for _, s := range comp.Children {
			if s.Local != "EhrEmpty" {
				return true
			}
		}
	}
	return false
}

func agentRefID(n *xmltok.Node) string {
	if n == nil || n.Attr("nullFlavor") != "" {
		return ""
	}
	if ref := n.Child("agentRef"); ref != nil {
		return idRoot(ref)
	}
	return ""
}

// newEntry starts an entry for a statement: id, dates, author, encounter.
func (p *parser) newEntry(n *xmltok.Node, c *compCtx) record.Entry {
	e := record.Entry{ID: idRoot(n), Encounter: c.id, Organisation: c.org, Author: c.author}
	e.Effective, e.End = interval(n.Child("effectiveTime"))
	e.Recorded = tsAttr(n.Child("availabilityTime"))
	if e.Effective.IsZero() {
		e.Effective = e.Recorded
	}
	for _, pt := range n.All("Participant") {
		if t := pt.Attr("typeCode"); t == "PRF" || t == "PPRF" || t == "" {
			if id := agentRefID(pt); id != "" {
				e.Author = p.person(id)
				break
			}
		}
	}
	return e
}

func (p *parser) add(e record.Entry) int {
	p.rec.Entries = append(p.rec.Entries, e)
	return len(p.rec.Entries) - 1
}

// statement maps one statement element and returns the ids of the entries
// it produced at its own level (for a battery's or report's Members).
func (p *parser) statement(n *xmltok.Node, c *compCtx, sc scope) []string {
	if !statementNames[n.Local] || n.Local == "ehrComposition" {
		return nil // unknown elements are skipped
	}
	if confidential(n) {
		p.withhold(n)
		return nil
	}
	switch n.Local {
	case "ObservationStatement":
		if i := p.observation(n, c, sc); i >= 0 {
			return []string{p.rec.Entries[i].ID}
		}
	case "CompoundStatement":
		return p.compound(n, c, sc)
	case "MedicationStatement":
		p.medication(n, c)
	case "PlanStatement":
		e := p.newEntry(n, c)
		e.Code = concept(n.Child("code"))
		e.Kind = p.opt.Classifier.KindOf(e.Code)
		if e.Kind == record.KindBloodPressure {
			e.Kind = record.KindNone // a planned reading is not a reading
		}
		p.absorbable[e.ID] = true
		p.add(e)
		return []string{e.ID}
	case "RequestStatement":
		e := p.newEntry(n, c)
		e.Code = concept(n.Child("code"))
		e.Kind = record.KindReferral
		e.Referral = &record.ReferralInfo{Priority: priority(n.Child("priorityCode"))}
		p.requests[e.ID] = true
		p.add(e)
		return []string{e.ID}
	case "LinkSet":
		p.linkSet(n, c)
	}
	// NarrativeStatement, RegistrationStatement, ExternalDocument: free text
	// or administrative, never read.
	return nil
}

// priority maps a RequestStatement priorityCode (SNOMED CT 394848005
// normal, 394849002 high, 88694003 immediate; HL7 ActPriority R, UR, A, S).
func priority(n *xmltok.Node) string {
	if n == nil {
		return ""
	}
	switch strings.TrimSpace(n.Attr("code")) {
	case "394848005", "R":
		return "routine"
	case "394849002", "UR":
		return "urgent"
	case "A":
		return "asap"
	case "88694003", "S":
		return "stat"
	}
	return ""
}

// observation maps an ObservationStatement and returns its entry's index,
// or -1.
func (p *parser) observation(n *xmltok.Node, c *compCtx, sc scope) int {
	e := p.newEntry(n, c)
	e.Code = concept(n.Child("code"))
	if v := n.Child("value"); v != nil && xsiType(v) == "PQ" {
		e.Value = quantity(v)
	}
	if rv := n.Find("referenceRange", "referenceInterpretationRange", "value"); rv != nil {
		lo, hi := quantity(rv.Child("low")), quantity(rv.Child("high"))
		if lo != nil || hi != nil {
			e.Range = &record.Range{Low: lo, High: hi}
		}
	}
	e.Interpretation = interpretation(n.Child("interpretationCode"))
	e.Parent = sc.parent
	switch {
	case noKnownAllergy(e.Code):
		e.Kind = record.KindAllergy
		e.Allergy = &record.AllergyInfo{Category: record.AllergyNoKnown}
		e.Status = record.StatusActive
	case sc.inReport:
		e.Kind = record.KindInvestigation
	default:
		e.Kind = p.opt.Classifier.KindOf(e.Code)
		switch e.Kind {
		case record.KindAllergy: // 14L../14M.. history of allergy recorded alone
			cat := record.AllergyOther
			if hasCode(e.Code, record.SystemReadV2, "14L..") || strings.HasPrefix(readBase(e.Code), "14L") {
				cat = record.AllergyDrug
			}
			e.Allergy = &record.AllergyInfo{Category: cat}
			e.Status = record.StatusActive
		case record.KindBloodPressure:
			i := p.add(bpPart(e))
			c.loose = append(c.loose, i)
			return i
		default:
			p.absorbable[e.ID] = true
		}
	}
	return p.add(e)
}

func readBase(c record.Concept) string {
	if cd, ok := c.Find(record.SystemReadV2); ok {
		return record.ReadV2Base(cd.Code)
	}
	return ""
}

// bpPart moves a systolic or diastolic value, and the half's code, into
// their places: Code is left for a code of the whole reading.
func bpPart(e record.Entry) record.Entry {
	switch record.BloodPressurePart(e.Code) {
	case "systolic":
		e.SystolicCode, e.Code = e.Code, record.Concept{}
		if e.Value != nil {
			e.Systolic, e.Value = mmHg(e.Value), nil
		}
	case "diastolic":
		e.DiastolicCode, e.Code = e.Code, record.Concept{}
		if e.Value != nil {
			e.Diastolic, e.Value = mmHg(e.Value), nil
		}
	}
	return e
}

func mmHg(q *record.Quantity) *record.Quantity {
	return &record.Quantity{Value: q.Value, Unit: "mm[Hg]", Comparator: q.Comparator}
}

// pairLoose pairs systolic and diastolic parts recorded at the same time
// in one composition into one reading.
func (p *parser) pairLoose(c *compCtx) {
	used := map[int]bool{}
	for _, si := range c.loose {
		s := &p.rec.Entries[si]
		if s.Systolic == nil || s.Diastolic != nil || used[si] {
			continue
		}
		for _, di := range c.loose {
			d := &p.rec.Entries[di]
			if used[di] || d.Diastolic == nil || d.Systolic != nil || d.Effective != s.Effective {
				continue
			}
			// The pair has no code of its own in the extract, and none is
			// invented: the FHIR bp profile's LOINC code names the reading,
			// and each half keeps the code the GP system recorded.
			s.Diastolic, s.DiastolicCode = d.Diastolic, d.DiastolicCode
			s.Code = record.Concept{}
			used[si], used[di] = true, true
			p.alias[d.ID] = s.ID
			d.ID = "" // removed in resolve
			d.Kind = record.KindNone
			d.Code, d.DiastolicCode = record.Concept{}, record.Concept{}
			break
		}
	}
}

// compound maps a CompoundStatement by what it is: allergy, blood
// pressure, laboratory report, battery, or a plain container (TOPIC,
// CATEGORY and others) whose statements are read in place.
func (p *parser) compound(n *xmltok.Node, c *compCtx, sc scope) []string {
	code := concept(n.Child("code"))
	class := n.Attr("classCode")
	switch {
	case hasCode(code, record.SystemReadV2, "14L..", "SN53."):
		if id := p.allergy(n, c, code); id != "" {
			return []string{id}
		}
		return nil
	case record.BloodPressurePart(code) == "bp" || (class == "BATTERY" || class == "CLUSTER") && hasBPParts(n):
		return p.bloodPressure(n, c, code, sc)
	case hasCode(code, record.SystemSNOMED, snomedLabReport) || class == "BATTERY":
		e := p.newEntry(n, c)
		e.Code = code
		e.Kind = record.KindInvestigation
		e.Parent = sc.parent
		i := p.add(e)
		var members []string
		for _, s := range children(n) {
			members = append(members, p.statement(s, c, scope{parent: e.ID, inReport: true})...)
		}
		p.rec.Entries[i].Members = members
		return []string{e.ID}
	}
	var ids []string
	for _, s := range children(n) {
		ids = append(ids, p.statement(s, c, sc)...)
	}
	return ids
}

// children returns the statements inside a compound (component/*).
func children(n *xmltok.Node) []*xmltok.Node {
	var out []*xmltok.Node
	for _, comp := range n.All("component") {
		out = append(out, comp.Children...)
	}
	return out
}

func hasBPParts(n *xmltok.Node) bool {
	var sys, dia bool
	for _, s := range children(n) {
		if s.Local == "ObservationStatement" {
			switch record.BloodPressurePart(concept(s.Child("code"))) {
			case "systolic":
				sys = true
			case "diastolic":
				dia = true
			}
		}
	}
	return sys && dia
}

// bloodPressure maps a BP compound to one reading; other statements inside
// it are read as usual.
func (p *parser) bloodPressure(n *xmltok.Node, c *compCtx, code record.Concept, sc scope) []string {
	e := p.newEntry(n, c)
	e.Kind = record.KindBloodPressure
	e.Code = code
	if record.BloodPressurePart(code) != "bp" {
		e.Code = record.Concept{} // not a code for the reading: none is invented
	}
	e.Parent = sc.parent
	ids := []string{e.ID}
	var rest []*xmltok.Node
	for _, s := range children(n) {
		if s.Local != "ObservationStatement" || confidential(s) {
			rest = append(rest, s)
			continue
		}
		partCode := concept(s.Child("code"))
		part := record.BloodPressurePart(partCode)
		v := s.Child("value")
		var q *record.Quantity
		if v != nil && xsiType(v) == "PQ" {
			q = quantity(v)
		}
		switch {
		case part == "systolic" && e.Systolic == nil && q != nil:
			e.Systolic, e.SystolicCode = mmHg(q), partCode
		case part == "diastolic" && e.Diastolic == nil && q != nil:
			e.Diastolic, e.DiastolicCode = mmHg(q), partCode
		default:
			rest = append(rest, s)
			continue
		}
		p.alias[idRoot(s)] = e.ID
		if e.Effective.IsZero() || e.Effective == e.Recorded {
			if d, _ := interval(s.Child("effectiveTime")); !d.IsZero() {
				e.Effective = d
			}
		}
	}
	p.add(e)
	for _, s := range rest {
		ids = append(ids, p.statement(s, c, sc)...)
	}
	return ids
}

// allergy maps an allergy compound (14L..00 drug, SN53.00 other): the
// observation inside names the allergy, its value the allergen.
func (p *parser) allergy(n *xmltok.Node, c *compCtx, code record.Concept) string {
	var inner *xmltok.Node
	n.Walk(func(m *xmltok.Node) bool {
		if inner == nil && m != n && m.Local == "ObservationStatement" {
			inner = m
		}
		return inner == nil
	})
	if inner != nil && confidential(inner) {
		p.withhold(n)
		return ""
	}
	src := n
	if inner != nil {
		src = inner
	}
	e := p.newEntry(src, c)
	if inner != nil {
		if cid := idRoot(n); cid != "" && cid != e.ID {
			p.alias[cid] = e.ID
		}
		e.Code = concept(inner.Child("code"))
	}
	if e.Code.IsZero() {
		e.Code = code
	}
	cat := record.AllergyOther
	if hasCode(code, record.SystemReadV2, "14L..") {
		cat = record.AllergyDrug
	}
	if noKnownAllergy(e.Code) {
		cat = record.AllergyNoKnown
	}
	e.Kind = record.KindAllergy
	e.Allergy = &record.AllergyInfo{Category: cat}
	if inner != nil {
		if v := inner.Child("value"); v != nil && xsiType(v) == "CD" {
			if sub := concept(v); !sub.IsZero() && !sameCode(sub, e.Code) {
				e.Allergy.Substance = sub
			}
		}
	}
	e.Status = record.StatusActive
	if !e.End.IsZero() {
		e.Status = record.StatusResolved
	}
	p.add(e)
	return e.ID
}

// medication maps a MedicationStatement: each ehrSupplyAuthorise is an
// authorisation, each ehrSupplyPrescribe an issue; an ehrSupplyDiscontinue
// stops the authorisation it points at.
func (p *parser) medication(n *xmltok.Node, c *compCtx) {
	stmtID := idRoot(n)
	drug := concept(n.Find("consumable", "manufacturedProduct", "manufacturedMaterial", "code"))
	var dosage record.DosageText
	for _, pi := range n.All("pertinentInformation") {
		if t := pi.Find("pertinentMedicationDosage", "text"); t != nil && t.Text != "" {
			dosage = record.NewDosageText(t.Text)
			break
		}
	}
	base := p.newEntry(n, c)
	for _, comp := range n.All("component") {
		for _, s := range comp.Children {
			if confidential(s) {
				p.withhold(s)
				continue
			}
			switch s.Local {
			case "ehrSupplyAuthorise":
				e := p.newEntry(s, c)
				if e.Author == nil || e.Author == c.author {
					e.Author = base.Author
				}
				e.Kind = record.KindMedicationAuthorisation
				e.Code = drug
				e.Status = record.StatusActive
				ended := strings.EqualFold(s.Child("statusCode").Attr("code"), "COMPLETE")
				if !e.End.IsZero() && (p.rec.Extracted.IsZero() || !e.End.T.After(p.rec.Extracted.T)) {
					ended = true
				}
				if ended {
					e.Status = record.StatusCompleted
				}
				m := &record.MedicationInfo{Dosage: dosage, Type: record.PrescriptionRepeat}
				if rn := s.Child("repeatNumber"); rn != nil {
					if v, err := strconv.Atoi(strings.TrimSpace(rn.Attr("value"))); err == nil && v >= 0 && v < 10000 {
						m.RepeatsAllowed = v
						if v == 0 {
							m.Type = record.PrescriptionAcute
						}
					}
				}
				m.Quantity, m.QuantityValue = supplyQuantity(s.Child("quantity"))
				e.Medication = m
				p.add(e)
				p.medStatement[stmtID] = append(p.medStatement[stmtID], e.ID)
			case "ehrSupplyPrescribe":
				e := p.newEntry(s, c)
				if e.Author == nil || e.Author == c.author {
					e.Author = base.Author
				}
				e.Kind = record.KindMedicationIssue
				e.Code = drug
				e.Status = record.StatusCompleted
				m := &record.MedicationInfo{Dosage: dosage}
				if ref := s.Find("inFulfillmentOf", "priorMedicationRef"); ref != nil {
					m.Authorisation = idRoot(ref)
				}
				m.Quantity, m.QuantityValue = supplyQuantity(s.Child("quantity"))
				e.Medication = m
				p.add(e)
				p.medStatement[stmtID] = append(p.medStatement[stmtID], e.ID)
			case "ehrSupplyDiscontinue":
				when := tsAttr(s.Child("availabilityTime"))
				for _, rv := range s.All("reversalOf") {
					if ref := rv.Child("priorMedicationRef"); ref != nil {
						if id := idRoot(ref); id != "" {
							p.discontinued[id] = when
						}
					}
				}
			}
		}
	}
}

// supplyQuantity reads a supply's quantity: the number (with its unit when
// coded) and the quantity text a prescriber sees, e.g. "56 tablet", whose
// unit words GP2GP carries in quantity/translation/originalText. That text
// is part of the named dosage exception (record.DosageText).
func supplyQuantity(n *xmltok.Node) (record.DosageText, *record.Quantity) {
	q := quantity(n)
	if q == nil {
		return record.DosageText{}, nil
	}
	text := q.Value
	unit := q.Unit
	if t := n.Find("translation", "originalText"); t != nil && t.Text != "" {
		unit = t.Text
	}
	if unit != "" {
		text += " " + unit
	}
	return record.NewDosageText(text), q
}

// linkSet records a problem header; its code and links are resolved once
// the whole extract is read (the statements it names may come later).
func (p *parser) linkSet(n *xmltok.Node, c *compCtx) {
	e := p.newEntry(n, c)
	e.Kind = record.KindProblem
	lc := n.Child("code")
	code := strings.TrimSpace(lc.Attr("code"))
	e.Status = record.StatusActive // GP2GP: unknown status defaults to active
	if code == snomedInactiveProblem {
		e.Status = record.StatusInactive
	}
	sig := "minor" // unspecified significance defaults to minor
	if q := lc.Find("qualifier", "name"); q != nil && q.Attr("code") == snomedSignificant {
		sig = "major"
	}
	e.Problem = &record.ProblemInfo{Significance: sig}
	pp := pendingProblem{id: e.ID, unspecified: code == snomedUnspecifiedProblem}
	if ref := n.Find("conditionNamed", "namedStatementRef"); ref != nil {
		pp.named = idRoot(ref)
	}
	for _, comp := range n.All("component") {
		if ref := comp.Child("statementRef"); ref != nil {
			if id := idRoot(ref); id != "" {
				pp.links = append(pp.links, id)
			}
		}
	}
	p.problems = append(p.problems, pp)
	p.add(e)
}
