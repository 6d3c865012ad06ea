package gp2gp

import (
	"strconv"
	"strings"

	"mig/adapters/record"
	"mig/adapters/xmltok"
)

// key names one element of the extract by its element type and id. Real
// extracts reuse ids across element types (an allergy CompoundStatement and
// the ObservationStatement inside it, an ehrComposition and a
// NarrativeStatement), so every internal lookup about a statement (what was
// withheld, what was merged into what, which authorisation an issue
// fulfils) is keyed by both.
type key struct{ typ, id string }

// compCtx is what an ehrComposition passes to the statements inside it.
type compCtx struct {
	id     string
	author *record.Person
	org    string
	loose  []int // indexes of blood pressure parts not inside a BP compound
	// noid holds the ids made for statements that carry none (see idOf).
	noid map[*xmltok.Node]string
}

// scope is where a statement sits inside a composition.
type scope struct {
	parent   string // battery or report the statement belongs to
	inReport bool   // inside a laboratory report: results are investigations
}

// Codes that decide structure.
const (
	snomedLabReport          = "16488004"  // laboratory report (CLUSTER)
	snomedSpecimen           = "123038009" // specimen (CLUSTER inside a report)
	snomedActiveProblem      = "394774009" // LinkSet: active problem
	snomedInactiveProblem    = "394775005" // LinkSet: inactive problem
	snomedUnspecifiedProblem = "394776006" // LinkSet: unspecified problem
	snomedSignificant        = "386134007" // LinkSet qualifier: significant (major)
	snomedConfirmedPresent   = "410605003" // qualifier: confirmed present
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

// drugCode reads a MedicationStatement's drug.
func drugCode(n *xmltok.Node) *xmltok.Node {
	return n.Find("consumable", "manufacturedProduct", "manufacturedMaterial", "code")
}

// markWithheld marks n and every statement inside it withheld (by type and
// id), so that what refers to them (a problem naming one, an issue of an
// authorisation) follows. The entries made from them are hidden by hide.
func (p *parser) markWithheld(n *xmltok.Node, c *compCtx) {
	n.Walk(func(m *xmltok.Node) bool {
		if statementNames[m.Local] {
			p.withheld[key{m.Local, p.idOf(m, c)}] = true
		}
		return true
	})
}

// hide withholds the entry at i: it stays out of the record and Record.
// Withhold is told of it (tellWithheld).
func (p *parser) hide(i int) {
	p.hidden[i], p.gone[i] = true, true
	p.withheld[p.src[i]] = true
}

// hideFrom hides every entry made since mark.
func (p *parser) hideFrom(mark int) {
	for i := mark; i < len(p.rec.Entries); i++ {
		p.hide(i)
	}
}

// mergeAway records that the entry at i was merged into the entry with id
// into (a blood pressure half into its pair, a condition into the problem
// that names it): it is no item of its own.
func (p *parser) mergeAway(i int, into string) {
	p.merged[p.src[i]] = into
	p.gone[i], p.away[i] = true, true
	delete(p.hidden, i)
}

// idOf returns a statement's id. A statement without one (the schema
// requires it, but degraded senders omit it) gets an id made from its
// composition's id, its element name and its position among the id-less
// statements of the composition in document order:
// "noid:<composition id>:<element>:<n>". It is stable for a given extract.
func (p *parser) idOf(n *xmltok.Node, c *compCtx) string {
	if id := idRoot(n); id != "" {
		return id
	}
	if c != nil && c.noid != nil {
		return c.noid[n]
	}
	return ""
}

// assignNoIDs numbers the id-less statements of a composition.
func assignNoIDs(n *xmltok.Node, compID string) map[*xmltok.Node]string {
	m := map[*xmltok.Node]string{}
	count := 0
	n.Walk(func(s *xmltok.Node) bool {
		if s != n && statementNames[s.Local] && idRoot(s) == "" {
			count++
			m[s] = "noid:" + compID + ":" + s.Local + ":" + strconv.Itoa(count)
		}
		return true
	})
	return m
}

// composition maps one ehrComposition: a KindEncounter entry and every
// statement inside it.
func (p *parser) composition(n *xmltok.Node) {
	c := &compCtx{id: idRoot(n), org: p.rec.Patient.PracticeODS}
	c.noid = assignNoIDs(n, c.id)
	// A confidential consultation is read like any other, then everything
	// made from it is withheld: what it would have shown, item by item.
	mark := len(p.rec.Entries)
	if confidential(n) {
		defer func() {
			p.hideFrom(mark)
			p.markWithheld(n, c)
		}()
	}
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
		p.add(enc, key{"ehrComposition", c.id})
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
	e := record.Entry{ID: p.idOf(n, c), Encounter: c.id, Organisation: c.org, Author: c.author}
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

// add appends an entry read from the element k names.
func (p *parser) add(e record.Entry, k key) int {
	p.rec.Entries = append(p.rec.Entries, e)
	p.src = append(p.src, k)
	return len(p.rec.Entries) - 1
}

// classify gives a coded statement its kind from its code (dataset rules),
// with the rule that keeps it out when it is not shown. A statement about
// a relative, or coded as family history, is never the patient's own.
func (p *parser) classify(n *xmltok.Node, code record.Concept, national bool) (record.Kind, record.Rule) {
	switch {
	case aboutRelative(n) || record.FamilyHistory(code):
		return record.KindNone, record.RuleRelative
	case !national:
		return record.KindNone, record.RuleUnclassifiable
	}
	return p.opt.Classifier.Classify(code)
}

// aboutRelative reports whether a statement's subject is someone other
// than the patient (GP2GP subject/personalRelationship: a relative).
func aboutRelative(n *xmltok.Node) bool {
	return n.Find("subject", "personalRelationship") != nil
}

// planned reports whether a statement is a statement of intent: HL7 v3
// moods other than an event (INT intent, RQO request, PRP proposal, ARQ
// appointment request, APT appointment, PRMS promise, GOL goal). "ENV",
// which some senders write for EVN, is an event.
func planned(n *xmltok.Node) bool {
	switch strings.ToUpper(strings.TrimSpace(n.Attr("moodCode"))) {
	case "INT", "RQO", "PRP", "ARQ", "APT", "PRMS", "GOL":
		return true
	}
	return false
}

// planDate keeps, for a plan, only the date the statement's effectiveTime
// gives (when planned or due): the date it was recorded (availabilityTime)
// is no date of the plan, and stays in Recorded only.
func (p *parser) planDate(e *record.Entry, n *xmltok.Node) {
	if e.Planned {
		e.Effective, _ = interval(n.Child("effectiveTime"))
	}
}

// statement maps one statement element and returns the ids of the entries
// it produced at its own level (for a battery's or report's Members).
func (p *parser) statement(n *xmltok.Node, c *compCtx, sc scope) []string {
	if !statementNames[n.Local] || n.Local == "ehrComposition" {
		return nil // unknown elements are skipped
	}
	if confidential(n) {
		// Read as usual, then withheld: its entries (and, through links
		// resolved later, what refers to them) are left out; a battery
		// does not list it among its members.
		mark := len(p.rec.Entries)
		p.statementBody(n, c, sc)
		p.hideFrom(mark)
		p.markWithheld(n, c)
		return nil
	}
	return p.statementBody(n, c, sc)
}

// statementBody maps a statement by its element type.
func (p *parser) statementBody(n *xmltok.Node, c *compCtx, sc scope) []string {
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
		code, national := statementCode(n.Child("code"))
		if code.IsZero() {
			return nil
		}
		e := p.newEntry(n, c)
		e.Code = code
		// A plan is never something that happened: Planned says so, and
		// the mapper shows it as a plan (ServiceRequest intent plan). Its
		// date is the date planned or due, kept in Effective for the
		// mapper to show as the plan's occurrence, never as an event date.
		e.Planned = true
		p.planDate(&e, n)
		e.Kind, e.NotShown = p.classify(n, code, national)
		if e.Kind == record.KindBloodPressure {
			// A planned reading is not a reading.
			e.Kind, e.NotShown = record.KindNone, record.RuleExamination
		}
		e.Parent = sc.parent
		i := p.add(e, key{n.Local, e.ID})
		p.absorbable[i] = true
		return []string{e.ID}
	case "RequestStatement":
		code, national := statementCode(n.Child("code"))
		if code.IsZero() {
			return nil
		}
		e := p.newEntry(n, c)
		e.Code = code
		e.Kind = record.KindReferral
		e.Status = requestStatus(n.Child("statusCode"))
		e.Referral = &record.ReferralInfo{Priority: priority(n.Child("priorityCode"))}
		if !national {
			e.Kind, e.NotShown, e.Referral = record.KindNone, record.RuleUnclassifiable, nil
		} else if aboutRelative(n) {
			e.Kind, e.NotShown, e.Referral = record.KindNone, record.RuleRelative, nil
		}
		e.Parent = sc.parent
		i := p.add(e, key{n.Local, e.ID})
		p.requests[i] = true
		return []string{e.ID}
	case "LinkSet":
		p.linkSet(n, c)
	}
	// NarrativeStatement, RegistrationStatement, ExternalDocument: free text
	// or administrative, never read.
	return nil
}

// requestStatus is a referral's status from its RequestStatement
// statusCode: active only when the source says the referral is open
// (active). COMPLETE is what GP2GP writes on every statement once it is
// recorded (every ObservationStatement says it too): it says the request
// was made, not that the referral ran its course, so it is unknown, as the
// NHS GP2GP adaptor maps it; so is anything else (nullified, absent). The
// mapper never shows unknown as active.
func requestStatus(n *xmltok.Node) record.Status {
	if strings.EqualFold(strings.TrimSpace(n.Attr("code")), "active") {
		return record.StatusActive
	}
	return record.StatusUnknown
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

// referenceRange reads an observation's reference range. A statement may
// carry several (one per population, say); the record keeps one, the first
// that gives a number, as GP Connect shows the first.
func referenceRange(n *xmltok.Node) *record.Range {
	for _, rr := range n.All("referenceRange") {
		rv := rr.Find("referenceInterpretationRange", "value")
		if rv == nil {
			continue
		}
		lo, hi := quantity(rv.Child("low")), quantity(rv.Child("high"))
		if lo != nil || hi != nil {
			return &record.Range{Low: lo, High: hi}
		}
	}
	return nil
}

// observation maps an ObservationStatement and returns its entry's index,
// or -1 when it carries no code (nothing to say what it is).
func (p *parser) observation(n *xmltok.Node, c *compCtx, sc scope) int {
	code, national := statementCode(n.Child("code"))
	if code.IsZero() {
		return -1
	}
	e := p.newEntry(n, c)
	e.Code = code
	e.Value, e.ValueRange = valueOrRange(n.Child("value"))
	e.Range = referenceRange(n)
	e.Interpretation = interpretation(n.Child("interpretationCode"))
	e.Parent = sc.parent
	// A statement of intent (a due vaccination in mood INT, say) is a
	// plan: its effective date is the date planned or due, kept in
	// Effective for the mapper to show as the plan's occurrence, never as
	// the date something happened.
	e.Planned = planned(n)
	p.planDate(&e, n)
	k := key{n.Local, e.ID}
	kind, rule := p.classify(n, code, national)
	switch {
	case rule == record.RuleRelative || !national:
		e.Kind, e.NotShown = kind, rule
		p.absorbable[len(p.rec.Entries)] = true
	case noKnownAllergy(e.Code):
		e.Kind = record.KindAllergy
		e.Allergy = &record.AllergyInfo{Category: record.AllergyNoKnown}
		e.Status = record.StatusActive
	case sc.inReport:
		e.Kind = record.KindInvestigation
	default:
		e.Kind, e.NotShown = kind, rule
		switch e.Kind {
		case record.KindAllergy: // 14L../14M.. history of allergy recorded alone
			cat := record.AllergyOther
			if strings.HasPrefix(readBase(e.Code), "14L") {
				cat = record.AllergyDrug
			}
			e.Allergy = &record.AllergyInfo{Category: cat, AllergenUncoded: allergyHeading(e.Code)}
			e.Status = record.StatusActive
		case record.KindBloodPressure:
			if e.Planned {
				// A planned reading is not a reading.
				e.Kind, e.NotShown = record.KindNone, record.RuleExamination
				p.absorbable[len(p.rec.Entries)] = true
				break
			}
			i := p.add(bpPart(e), k)
			c.loose = append(c.loose, i)
			return i
		default:
			p.absorbable[len(p.rec.Entries)] = true
		}
	}
	return p.add(e, k)
}

func readBase(c record.Concept) string {
	if cd, ok := c.Find(record.SystemReadV2); ok {
		return record.ReadV2Base(cd.Code)
	}
	if cd, ok := c.Find(record.SystemCTV3); ok {
		if twin, ok := record.ReadTwin(cd.Code); ok {
			return twin
		}
	}
	return ""
}

// bpPart moves a systolic or diastolic value, its range and the half's code
// into their places: Code is left for a code of the whole reading.
func bpPart(e record.Entry) record.Entry {
	switch record.BloodPressurePart(e.Code) {
	case "systolic":
		e.SystolicCode, e.Code = e.Code, record.Concept{}
		e.Systolic, e.Value = mmHg(e.Value), nil
		e.SystolicRange, e.Range = e.Range, nil
	case "diastolic":
		e.DiastolicCode, e.Code = e.Code, record.Concept{}
		e.Diastolic, e.Value = mmHg(e.Value), nil
		e.DiastolicRange, e.Range = e.Range, nil
	}
	return e
}

// mmHg returns a blood pressure half's value: a reading with no unit (or
// unity) is in mm[Hg] by definition; one whose unit vets as mm[Hg] is
// written as mm[Hg]; any other unit is kept as SetUnit vetted it, never
// replaced.
func mmHg(q *record.Quantity) *record.Quantity {
	if q == nil {
		return nil
	}
	out := *q
	if q.Unit == "" && !q.UnitWithheld {
		out.SetUnit("mm[Hg]")
	} else if code, ok := record.UCUMCode(q.Unit); ok && code == "mm[Hg]" {
		out.SetUnit("mm[Hg]")
	}
	return &out
}

// pairLoose pairs systolic and diastolic parts recorded at the same time
// in one composition into one reading. A half whose partner recorded at the
// same time was withheld as confidential is withheld too.
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
			s.Diastolic, s.DiastolicCode, s.DiastolicRange = d.Diastolic, d.DiastolicCode, d.DiastolicRange
			s.Code = record.Concept{}
			used[si], used[di] = true, true
			if p.hidden[di] {
				p.hide(si) // a confidential half withholds the pair
			}
			p.mergeAway(di, s.ID)
			break
		}
	}
	for _, i := range c.loose {
		if used[i] || p.gone[i] && !p.hidden[i] {
			continue
		}
		if e := &p.rec.Entries[i]; e.Systolic == nil && e.Diastolic == nil {
			// A half with no number is no reading: kept, not shown.
			e.Kind, e.NotShown = record.KindNone, record.RuleNotInDataset
			e.Code = firstNonZero(e.SystolicCode, e.DiastolicCode)
			e.SystolicCode, e.DiastolicCode, e.SystolicRange, e.DiastolicRange = record.Concept{}, record.Concept{}, nil, nil
			p.absorbable[i] = true
		}
	}
}

// allergyHeading reports whether any coding of c is a national allergy
// heading rather than a coded allergen (record.AllergyHeading).
func allergyHeading(c record.Concept) bool {
	for _, cd := range c.Codings {
		if record.AllergyHeading(cd) {
			return true
		}
	}
	return false
}

// allergyCompound reports whether a compound is the GP2GP allergy
// structure: coded with a Read v2 / CTV3 allergy heading (14L..00 drug,
// SN53.00 other) or a SNOMED CT allergy heading, and holding the
// observation that records the allergy. A compound so coded that holds
// only other compounds is a container (its statements are read in place).
func allergyCompound(n *xmltok.Node, code record.Concept) bool {
	if !allergyHeading(code) {
		return false
	}
	for _, s := range children(n) {
		if s.Local == "ObservationStatement" {
			return true
		}
	}
	return false
}

// compound maps a CompoundStatement by what it is: allergy, blood
// pressure, laboratory report, battery or coded cluster, or a plain
// container (TOPIC, CATEGORY and others) whose statements are read in place.
func (p *parser) compound(n *xmltok.Node, c *compCtx, sc scope) []string {
	code, national := statementCode(n.Child("code"))
	class := n.Attr("classCode")
	cluster := (class == "BATTERY" || class == "CLUSTER") && !code.IsZero()
	switch {
	case national && allergyCompound(n, code):
		if id := p.allergy(n, c, code); id != "" {
			return []string{id}
		}
		return nil
	case national && record.BloodPressurePart(code) == "bp" || (class == "BATTERY" || class == "CLUSTER") && hasBPParts(n):
		return p.bloodPressure(n, c, code, sc)
	case cluster:
		e := p.newEntry(n, c)
		e.Code = code
		e.Parent = sc.parent
		e.Planned = planned(n)
		p.planDate(&e, n)
		k := key{n.Local, e.ID}
		kind, rule := p.classify(n, code, national)
		report := national && rule != record.RuleRelative &&
			(hasCode(code, record.SystemSNOMED, snomedLabReport) || class == "BATTERY" ||
				kind == record.KindInvestigation || sc.inReport && !hasCode(code, record.SystemSNOMED, snomedSpecimen))
		if report {
			// A battery, report or test group keeps its own code as the
			// parent of its results.
			e.Kind = record.KindInvestigation
			i := p.add(e, k)
			var members []string
			for _, s := range children(n) {
				members = append(members, p.statement(s, c, scope{parent: e.ID, inReport: true})...)
			}
			p.rec.Entries[i].Members = members
			return []string{e.ID}
		}
		// Any other coded cluster (a specimen inside a report, a template
		// heading) is an entry of the kind its code gives, and its
		// statements are read in place.
		e.Kind, e.NotShown = kind, rule
		if hasCode(code, record.SystemSNOMED, snomedSpecimen) {
			e.Kind, e.NotShown = record.KindNone, record.RuleNotInDataset
		}
		if e.Kind == record.KindBloodPressure || e.Kind == record.KindAllergy {
			// Structures, not codes, make these: a heading alone is neither.
			e.Kind, e.NotShown = record.KindNone, record.RuleNotInDataset
		}
		p.add(e, k)
		ids := []string{}
		for _, s := range children(n) {
			ids = append(ids, p.statement(s, c, sc)...)
		}
		if e.Kind == record.KindNone {
			return ids
		}
		return append([]string{e.ID}, ids...)
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
// it are read as usual. A confidential half withholds the whole reading:
// showing the other half alone would show part of a withheld reading.
func (p *parser) bloodPressure(n *xmltok.Node, c *compCtx, code record.Concept, sc scope) []string {
	secret := false
	e := p.newEntry(n, c)
	e.Kind = record.KindBloodPressure
	e.Code = code
	if record.BloodPressurePart(code) != "bp" {
		e.Code = record.Concept{} // not a code for the reading: none is invented
	}
	e.Parent = sc.parent
	self := key{n.Local, e.ID}
	ids := []string{e.ID}
	var rest []*xmltok.Node
	for _, s := range children(n) {
		if s.Local != "ObservationStatement" {
			rest = append(rest, s)
			continue
		}
		partCode := concept(s.Child("code"))
		part := record.BloodPressurePart(partCode)
		q := value(s.Child("value"))
		switch {
		case part == "systolic" && e.SystolicCode.IsZero():
			e.Systolic, e.SystolicCode, e.SystolicRange = mmHg(q), partCode, referenceRange(s)
		case part == "diastolic" && e.DiastolicCode.IsZero():
			e.Diastolic, e.DiastolicCode, e.DiastolicRange = mmHg(q), partCode, referenceRange(s)
		default:
			rest = append(rest, s)
			continue
		}
		p.merged[key{s.Local, p.idOf(s, c)}] = e.ID
		if confidential(s) {
			secret = true
			p.markWithheld(s, c)
		}
		if e.Interpretation.IsZero() {
			e.Interpretation = interpretation(s.Child("interpretationCode"))
		}
		if e.Effective.IsZero() || e.Effective == e.Recorded {
			if d, _ := interval(s.Child("effectiveTime")); !d.IsZero() {
				e.Effective = d
			}
		}
	}
	if e.Systolic == nil && e.Diastolic == nil {
		// A reading with neither number is no reading.
		e.Kind, e.NotShown = record.KindNone, record.RuleNotInDataset
		if e.Code.IsZero() {
			e.Code = firstNonZero(e.SystolicCode, e.DiastolicCode, code)
		}
	}
	if !e.Code.IsZero() || e.Kind == record.KindBloodPressure {
		i := p.add(e, self)
		if secret {
			p.hide(i)
		}
	}
	for _, s := range rest {
		ids = append(ids, p.statement(s, c, sc)...)
	}
	return ids
}

func firstNonZero(cs ...record.Concept) record.Concept {
	for _, c := range cs {
		if !c.IsZero() {
			return c
		}
	}
	return record.Concept{}
}

// allergy maps an allergy compound (14L..00 drug, SN53.00 other): the
// observation inside names the allergy, its value the allergen. An allergy
// whose observation carries only a local code (or none) keeps the
// heading's code; one whose allergen is local, uncoded or narrative only
// is still an allergy, marked AllergenUncoded. Other statements inside the
// compound are read as usual.
func (p *parser) allergy(n *xmltok.Node, c *compCtx, code record.Concept) string {
	var inner *xmltok.Node
	var rest []*xmltok.Node
	for _, s := range children(n) {
		if inner == nil && s.Local == "ObservationStatement" {
			inner = s
			continue
		}
		rest = append(rest, s)
	}
	src := n
	if inner != nil {
		src = inner
	}
	e := p.newEntry(src, c)
	compound := key{n.Local, p.idOf(n, c)}
	self := key{src.Local, e.ID}
	if inner != nil {
		p.merged[compound] = e.ID
		if c, national := statementCode(inner.Child("code")); national {
			e.Code = c
		}
	}
	if e.Code.IsZero() {
		e.Code = code
	}
	cat := record.AllergyOther
	if strings.HasPrefix(readBase(code), "14L") || hasCode(code, record.SystemSNOMED, "416098002", "419511003") {
		cat = record.AllergyDrug
	}
	if noKnownAllergy(e.Code) {
		cat = record.AllergyNoKnown
	}
	e.Kind = record.KindAllergy
	e.Allergy = &record.AllergyInfo{Category: cat}
	if inner != nil {
		if v := inner.Child("value"); v != nil && (xsiType(v) == "CD" || xsiType(v) == "CV" || xsiType(v) == "CE" || v.Attr("code") != "") {
			if sub := concept(v); !sub.IsZero() && !sameCode(sub, e.Code) {
				e.Allergy.Substance = sub
			}
		}
		e.Allergy.Confirmed = confirmed(inner.Child("code"))
		if aboutRelative(inner) {
			e.Kind, e.NotShown, e.Allergy = record.KindNone, record.RuleRelative, nil
		}
	}
	if e.Allergy != nil && cat != record.AllergyNoKnown {
		e.Allergy.AllergenUncoded = allergyHeading(e.Code) && e.Allergy.Substance.IsZero()
	}
	e.Status = record.StatusActive
	if !e.End.IsZero() {
		e.Status = record.StatusResolved
	}
	i := p.add(e, self)
	if inner != nil && confidential(inner) {
		// The observation that records the allergy is confidential: the
		// allergy is.
		p.hide(i)
		p.markWithheld(n, c)
	}
	for _, s := range rest {
		p.statement(s, c, scope{})
	}
	if p.hidden[i] {
		return ""
	}
	return e.ID
}

// confirmed reports whether an allergy's code carries the qualifier
// "confirmed present" (SNOMED CT 410605003). GP2GP has no other field that
// says an allergy was confirmed: statusCode COMPLETE is the state of the
// record entry, not its verification.
func confirmed(code *xmltok.Node) bool {
	for _, q := range code.All("qualifier") {
		for _, part := range []*xmltok.Node{q.Child("name"), q.Child("value")} {
			if part != nil && strings.TrimSpace(part.Attr("code")) == snomedConfirmedPresent &&
				nationalSystem(strings.TrimSpace(part.Attr("codeSystem"))) == record.SystemSNOMED {
				return true
			}
		}
	}
	return false
}

// medication maps a MedicationStatement: each ehrSupplyAuthorise is an
// authorisation, each ehrSupplyPrescribe an issue; an ehrSupplyDiscontinue
// stops the authorisation it points at. A drug coded only locally makes
// unclassifiable entries (kept, never shown).
func (p *parser) medication(n *xmltok.Node, c *compCtx) {
	stmtID := p.idOf(n, c)
	drugNode := drugCode(n)
	drug, national := statementCode(drugNode)
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
			secret := confidential(s)
			if secret {
				p.markWithheld(s, c)
			}
			switch s.Local {
			case "ehrSupplyAuthorise", "ehrSupplyPrescribe":
				if drug.IsZero() {
					continue // no drug code: nothing coded to show or count
				}
				e := p.newEntry(s, c)
				if e.Author == nil || e.Author == c.author {
					e.Author = base.Author
				}
				e.Code = drug
				var m *record.MedicationInfo
				if s.Local == "ehrSupplyAuthorise" {
					e.Kind = record.KindMedicationAuthorisation
					e.Status = record.StatusActive
					ended := strings.EqualFold(s.Child("statusCode").Attr("code"), "COMPLETE")
					if !e.End.IsZero() && (p.rec.Extracted.IsZero() || !e.End.T.After(p.rec.Extracted.T)) {
						ended = true
					}
					if ended {
						e.Status = record.StatusCompleted
					}
					m = &record.MedicationInfo{Dosage: dosage, Type: record.PrescriptionRepeat}
					if rn := s.Child("repeatNumber"); rn != nil {
						if v, err := strconv.Atoi(strings.TrimSpace(rn.Attr("value"))); err == nil && v >= 0 && v < 10000 {
							m.RepeatsAllowed = v
							if v == 0 {
								m.Type = record.PrescriptionAcute
							}
						}
					}
				} else {
					e.Kind = record.KindMedicationIssue
					e.Status = record.StatusCompleted
					m = &record.MedicationInfo{Dosage: dosage}
					if ref := s.Find("inFulfillmentOf", "priorMedicationRef"); ref != nil {
						m.Authorisation = idRoot(ref)
					}
				}
				m.Quantity, m.QuantityValue = supplyQuantity(s.Child("quantity"))
				e.Medication = m
				if !national {
					e.Kind, e.NotShown = record.KindNone, record.RuleUnclassifiable
				}
				i := p.add(e, key{s.Local, e.ID})
				p.medStatement[stmtID] = append(p.medStatement[stmtID], i)
				if secret {
					p.hide(i)
				}
			case "ehrSupplyDiscontinue":
				if secret {
					continue // a confidential discontinuation is not applied
				}
				when := tsAttr(s.Child("availabilityTime"))
				for _, rv := range s.All("reversalOf") {
					if ref := rv.Child("priorMedicationRef"); ref != nil {
						if id := idRoot(ref); id != "" {
							p.discontinued[key{"ehrSupplyAuthorise", id}] = when
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
// is part of the named dosage exception (record.DosageText); the number's
// own unit is vetted like any other (Quantity.SetUnit).
func supplyQuantity(n *xmltok.Node) (record.DosageText, *record.Quantity) {
	if n == nil || n.Attr("nullFlavor") != "" {
		return record.DosageText{}, nil
	}
	v := strings.TrimSpace(n.Attr("value"))
	if !isNumber(v) {
		return record.DosageText{}, nil
	}
	q := &record.Quantity{Value: v}
	unit := strings.TrimSpace(n.Attr("unit"))
	words := ""
	if t := n.Find("translation", "originalText"); t != nil && t.Text != "" {
		words = t.Text
	}
	if unit != "1" {
		q.SetUnit(unit)
	}
	text := v
	if words != "" {
		text += " " + words
	} else if q.Unit != "" {
		text += " " + q.Unit
	}
	return record.NewDosageText(text), q
}

// linkSet records a problem header; its code and links are resolved once
// the whole extract is read (the statements it names may come later).
func (p *parser) linkSet(n *xmltok.Node, c *compCtx) {
	lc := n.Child("code")
	e := p.newEntry(n, c)
	e.Kind = record.KindProblem
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
	pp := pendingProblem{unspecified: code == snomedUnspecifiedProblem}
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
	pp.index = p.add(e, key{n.Local, e.ID})
	p.linkSetCodes[pp.index], _ = statementCode(lc)
	p.problems = append(p.problems, pp)
}
