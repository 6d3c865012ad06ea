package main

import (
	"fmt"
	"html"
	"strings"
)

// Code system OIDs.
const (
	oidRead   = "2.16.840.1.113883.2.1.6.2"
	oidSNOMED = "2.16.840.1.113883.2.1.3.2.4.15"
	oidLocal  = "2.16.840.1.113883.2.1.6.3" // a supplier's local scheme
	oidDrug   = "2.16.840.1.113883.2.1.6.9" // EMIS preparation codes
)

// cd is a coded value: the code as entered and its translations.
type cd struct {
	sys, code, display string
	orig               string // originalText (free text)
	trans              []cd
}

func read(code, display string, snomed ...string) cd {
	c := cd{sys: oidRead, code: code, display: display}
	if len(snomed) > 0 {
		c.trans = append(c.trans, cd{sys: oidSNOMED, code: snomed[0], display: display})
	}
	return c
}

func sct(code, display string) cd { return cd{sys: oidSNOMED, code: code, display: display} }

func (c cd) withOrig(s string) cd { c.orig = s; return c }

func esc(s string) string { return html.EscapeString(s) }

// xml writes the element name with the code.
func (c cd) xml(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<%s code="%s" codeSystem="%s" displayName="%s"`, name, esc(c.code), c.sys, esc(c.display))
	if c.orig == "" && len(c.trans) == 0 {
		b.WriteString("/>")
		return b.String()
	}
	b.WriteString(">")
	if c.orig != "" {
		fmt.Fprintf(&b, "<originalText>%s</originalText>", esc(c.orig))
	}
	for _, t := range c.trans {
		fmt.Fprintf(&b, `<translation code="%s" codeSystem="%s" displayName="%s"/>`, esc(t.code), t.sys, esc(t.display))
	}
	fmt.Fprintf(&b, "</%s>", name)
	return b.String()
}

// ids makes deterministic GUIDs per patient.
type ids struct {
	seed string
	n    int
}

func (g *ids) next() string {
	g.n++
	return fmt.Sprintf("%s-0000-4000-8000-%012X", g.seed, g.n)
}

// doc builds one extract.
type doc struct {
	nhs, ods, extracted string
	uk07                bool
	id                  ids
	agent               string
	comps               []string
}

func newDoc(nhs, extracted string, uk07 bool) *doc {
	d := &doc{nhs: nhs, ods: "A99901", extracted: extracted, uk07: uk07, id: ids{seed: "A" + nhs[3:10]}}
	d.agent = d.id.next()
	return d
}

func effective(ts string) string {
	if ts == "" {
		return `<effectiveTime><center nullFlavor="NI"/></effectiveTime>`
	}
	return fmt.Sprintf(`<effectiveTime><center value="%s"/></effectiveTime>`, ts)
}

func interval(low, high string) string {
	s := "<effectiveTime>"
	if low != "" {
		s += fmt.Sprintf(`<low value="%s"/>`, low)
	}
	if high != "" {
		s += fmt.Sprintf(`<high value="%s"/>`, high)
	}
	return s + "</effectiveTime>"
}

func avail(ts string) string { return fmt.Sprintf(`<availabilityTime value="%s"/>`, ts) }

func nopat(on bool) string {
	if !on {
		return ""
	}
	return `<confidentialityCode code="NOPAT" codeSystem="2.16.840.1.113883.4.642.3.47" displayName="no disclosure to patient, family or caregivers without attending provider's authorization"/>`
}

func comp(s string) string { return `<component typeCode="COMP">` + s + `</component>` }

// composition adds an ehrComposition (a consultation) holding statements.
func (d *doc) composition(id string, code cd, ts string, confidential bool, stmts ...string) {
	var b strings.Builder
	b.WriteString(`<component typeCode="COMP"><ehrComposition classCode="COMPOSITION" moodCode="EVN">`)
	fmt.Fprintf(&b, `<id root="%s"/>`, id)
	b.WriteString(code.xml("code"))
	b.WriteString(`<statusCode code="COMPLETE"/>`)
	b.WriteString(effective(ts))
	b.WriteString(avail(ts))
	if d.uk07 {
		b.WriteString(nopat(confidential))
	}
	fmt.Fprintf(&b, `<author typeCode="AUT" contextControlCode="OP"><time value="%s"/><agentRef classCode="AGNT"><id root="%s"/></agentRef></author>`, ts, d.agent)
	fmt.Fprintf(&b, `<location typeCode="LOC"><locatedEntity classCode="LOCE"><code code="394730007" codeSystem="%s" displayName="Healthcare related organisation"/><locatedPlace classCode="PLC" determinerCode="INSTANCE"><name>FREETEXT-%s-place</name></locatedPlace></locatedEntity></location>`, oidSNOMED, d.nhs)
	fmt.Fprintf(&b, `<Participant2 typeCode="RESP" contextControlCode="OP"><agentRef classCode="AGNT"><id root="%s"/></agentRef></Participant2>`, d.agent)
	for _, s := range stmts {
		b.WriteString(comp(s))
	}
	b.WriteString(`</ehrComposition></component>`)
	d.comps = append(d.comps, b.String())
}

// consultation code: SNOMED 25671000000102 Surgery consultation note.
var surgery = sct("25671000000102", "Surgery consultation note")

// record code for non-consultation data: SNOMED 196401000000100.
var nonConsult = sct("196401000000100", "Non-consultation data")

type pq struct{ value, unit string }

type obsOpt struct {
	value        *pq
	low, high    string // reference range
	interp       string
	valueCD      *cd
	annotation   string
	confidential bool
	effective    string // when the effectiveTime differs from availability
	mood         string // moodCode when not EVN (INT: intended, a plan)
	rawValue     string // a value element written as given (IVL_PQ, unity units)
	rangeUnit    string // the reference range's unit when there is no PQ value
	relative     *cd    // subject/personalRelationship: the statement is about this relative
}

// obs is an ObservationStatement.
func (d *doc) obs(id string, code cd, ts string, o obsOpt) string {
	var b strings.Builder
	mood := "EVN"
	if o.mood != "" {
		mood = o.mood
	}
	fmt.Fprintf(&b, `<ObservationStatement classCode="OBS" moodCode="%s"><id root="%s"/>`, mood, id)
	b.WriteString(code.xml("code"))
	b.WriteString(`<statusCode code="COMPLETE"/>`)
	eff := ts
	if o.effective != "" {
		eff = o.effective
	}
	b.WriteString(effective(eff))
	b.WriteString(avail(ts))
	if d.uk07 {
		b.WriteString(nopat(o.confidential))
	}
	if o.relative != nil {
		b.WriteString(`<subject typeCode="SBJ"><personalRelationship classCode="PRS">` + o.relative.xml("code") + `</personalRelationship></subject>`)
	}
	if o.value != nil {
		fmt.Fprintf(&b, `<value xsi:type="PQ" value="%s" unit="%s"/>`, o.value.value, esc(o.value.unit))
	}
	b.WriteString(o.rawValue)
	if o.valueCD != nil {
		s := o.valueCD.xml("value")
		b.WriteString(strings.Replace(s, "<value ", `<value xsi:type="CD" `, 1))
	}
	if o.interp != "" {
		fmt.Fprintf(&b, `<interpretationCode code="%s" codeSystem="2.16.840.1.113883.2.1.6.5"/>`, o.interp)
	}
	if o.annotation != "" {
		fmt.Fprintf(&b, `<pertinentInformation typeCode="PERT"><sequenceNumber value="+1"/><pertinentAnnotation classCode="OBS" moodCode="EVN"><text>%s</text></pertinentAnnotation></pertinentInformation>`, esc(o.annotation))
	}
	if o.low != "" || o.high != "" {
		b.WriteString(`<referenceRange typeCode="REFV"><referenceInterpretationRange classCode="OBS" moodCode="EVN.CRT"><text>` + esc("FREETEXT-"+d.nhs+"-range") + `</text><value>`)
		unit := o.rangeUnit
		if o.value != nil {
			unit = o.value.unit
		}
		if o.low != "" {
			fmt.Fprintf(&b, `<low value="%s" unit="%s"/>`, o.low, esc(unit))
		}
		if o.high != "" {
			fmt.Fprintf(&b, `<high value="%s" unit="%s"/>`, o.high, esc(unit))
		}
		b.WriteString(`</value></referenceInterpretationRange></referenceRange>`)
	}
	b.WriteString(`</ObservationStatement>`)
	return b.String()
}

func (d *doc) narrative(ts, text string) string {
	return fmt.Sprintf(`<NarrativeStatement classCode="OBS" moodCode="EVN"><id root="%s"/><text>%s</text><statusCode code="COMPLETE"/>%s</NarrativeStatement>`,
		d.id.next(), esc(text), avail(ts))
}

// compound is a CompoundStatement of the class holding statements.
func (d *doc) compound(id, class string, code cd, ts string, confidential bool, stmts ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<CompoundStatement classCode="%s" moodCode="EVN"><id root="%s"/>`, class, id)
	b.WriteString(code.xml("code"))
	b.WriteString(`<statusCode code="COMPLETE"/>`)
	b.WriteString(effective(ts))
	b.WriteString(avail(ts))
	if d.uk07 {
		b.WriteString(nopat(confidential))
	}
	for _, s := range stmts {
		b.WriteString(`<component typeCode="COMP" contextConductionInd="true">` + s + `</component>`)
	}
	b.WriteString(`</CompoundStatement>`)
	return b.String()
}

// bp is a blood pressure battery (Read 246..00).
func (d *doc) bp(ts, sys, dia string) string {
	return d.compound(d.id.next(), "BATTERY", read("246..00", "O/E - blood pressure reading", "163020007"), ts, false,
		d.obs(d.id.next(), read("2469.00", "O/E - Systolic BP reading", "72313002").withOrig("FREETEXT-"+d.nhs+"-sysorig"), ts, obsOpt{value: &pq{sys, "mm[Hg]"}}),
		d.obs(d.id.next(), read("246A.00", "O/E - Diastolic BP reading", "1091811000000102"), ts, obsOpt{value: &pq{dia, "mm[Hg]"}}))
}

// allergy is an allergy compound: 14L..00 (drug) or SN53.00 (other).
func (d *doc) allergy(drug bool, ts string, code cd, allergen *cd) string {
	head := read("14L..00", "H/O: drug allergy")
	if !drug {
		head = read("SN53.00", "Allergy, unspecified")
	}
	return d.compound(d.id.next(), "CATEGORY", head, ts, false,
		d.obs(d.id.next(), code, ts, obsOpt{valueCD: allergen, annotation: "FREETEXT-" + d.nhs + "-allergynote"}))
}

type supply struct {
	id, ts, low, high string
	repeats           int // -1: none given
	qty, unit         string
	active            bool
	confidential      bool // NOPAT on the ehrSupplyAuthorise (UK07 only)
}

// medAuth is a MedicationStatement holding one ehrSupplyAuthorise.
func (d *doc) medAuth(drug cd, dosage string, s supply) string {
	status := "COMPLETE"
	if s.active {
		status = "ACTIVE"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<MedicationStatement classCode="SBADM" moodCode="INT"><id root="%s"/><statusCode code="%s"/>%s%s`, d.id.next(), status, interval(s.low, s.high), avail(s.ts))
	b.WriteString(consumable(drug, s))
	fmt.Fprintf(&b, `<component typeCode="COMP"><ehrSupplyAuthorise classCode="SPLY" moodCode="INT"><id root="%s"/><code code="9bG0.00" codeSystem="%s" displayName="NHS prescription"/><statusCode code="%s"/>%s%s`,
		s.id, oidRead, status, interval(s.low, s.high), avail(s.ts))
	if d.uk07 {
		b.WriteString(nopat(s.confidential))
	}
	if s.repeats >= 0 {
		fmt.Fprintf(&b, `<repeatNumber value="%d"/>`, s.repeats)
	}
	b.WriteString(qty(s))
	fmt.Fprintf(&b, `<pertinentInformation typeCode="PERT"><pertinentSupplyAnnotation classCode="OBS" moodCode="EVN"><text>FREETEXT-%s-pharmacy</text></pertinentSupplyAnnotation></pertinentInformation>`, d.nhs)
	b.WriteString(`</ehrSupplyAuthorise></component>`)
	b.WriteString(dose(dosage))
	b.WriteString(`</MedicationStatement>`)
	return b.String()
}

func consumable(drug cd, s supply) string {
	return `<consumable typeCode="CSM"><manufacturedProduct classCode="MANU"><manufacturedMaterial classCode="MMAT" determinerCode="KIND">` +
		drug.xml("code") + qty(s) + `</manufacturedMaterial></manufacturedProduct></consumable>`
}

func qty(s supply) string {
	return fmt.Sprintf(`<quantity value="%s" unit="1"><translation value="%s"><originalText>%s</originalText></translation></quantity>`, s.qty, s.qty, esc(s.unit))
}

func dose(text string) string {
	return `<pertinentInformation typeCode="PERT"><pertinentMedicationDosage classCode="SBADM" moodCode="RMD"><text>` + esc(text) + `</text></pertinentMedicationDosage></pertinentInformation>`
}

// medIssue is a MedicationStatement holding one ehrSupplyPrescribe tied to
// its authorisation.
func (d *doc) medIssue(drug cd, dosage string, s supply, auth string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<MedicationStatement classCode="SBADM" moodCode="ORD"><id root="%s"/><statusCode code="COMPLETE"/>%s%s`, d.id.next(), effective(s.ts), avail(s.ts))
	b.WriteString(consumable(drug, s))
	fmt.Fprintf(&b, `<component typeCode="COMP"><ehrSupplyPrescribe classCode="SPLY" moodCode="RQO"><id root="%s"/><code code="394823007" codeSystem="%s" displayName="NHS Prescription"/><statusCode code="COMPLETE"/>%s`,
		s.id, oidSNOMED, avail(s.ts))
	b.WriteString(qty(s))
	fmt.Fprintf(&b, `<inFulfillmentOf typeCode="FLFS"><priorMedicationRef classCode="SBADM" moodCode="INT"><id root="%s"/></priorMedicationRef></inFulfillmentOf>`, auth)
	b.WriteString(`</ehrSupplyPrescribe></component>`)
	b.WriteString(dose(dosage))
	b.WriteString(`</MedicationStatement>`)
	return b.String()
}

// medStop is a MedicationStatement holding an ehrSupplyDiscontinue.
func (d *doc) medStop(drug cd, ts, auth string) string {
	s := supply{qty: "1", unit: "pack"}
	return fmt.Sprintf(`<MedicationStatement classCode="SBADM" moodCode="ORD"><id root="%s"/><statusCode code="COMPLETE"/>%s%s%s`+
		`<component typeCode="COMP"><ehrSupplyDiscontinue classCode="SPLY" moodCode="RQO"><id root="%s"/><code code="EMISDISC1" codeSystem="%s" displayName="FREETEXT-%s-stopreason"/><statusCode code="COMPLETE"/>%s`+
		`<reversalOf typeCode="REV"><priorMedicationRef classCode="SBADM" moodCode="ORD"><id root="%s"/></priorMedicationRef></reversalOf>`+
		`<pertinentInformation typeCode="PERT"><pertinentSupplyAnnotation classCode="OBS" moodCode="EVN"><text>FREETEXT-%s-stopnote</text></pertinentSupplyAnnotation></pertinentInformation>`+
		`</ehrSupplyDiscontinue></component></MedicationStatement>`,
		d.id.next(), effective(ts), avail(ts), consumable(drug, s), d.id.next(), oidLocal, d.nhs, avail(ts), auth, d.nhs)
}

// linkSet is a problem: code 394774009 active / 394775005 inactive /
// 394776006 unspecified; major = qualifier 386134007.
func (d *doc) linkSet(status string, major bool, low, high, named string, links ...string) string {
	codes := map[string]string{"active": "394774009", "inactive": "394775005", "unspecified": "394776006"}
	sig := `<qualifier inverted="false"><name code="394847000" codeSystem="` + oidSNOMED + `" displayName="Unspecified significance"/></qualifier>`
	if major {
		sig = `<qualifier inverted="false"><name code="386134007" codeSystem="` + oidSNOMED + `" displayName="Significant"/></qualifier>`
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<LinkSet classCode="OBS" moodCode="EVN"><id root="%s"/><code code="%s" codeSystem="%s" displayName="Problem"><originalText>FREETEXT-%s-problemtext</originalText>%s</code><statusCode code="COMPLETE"/>%s%s`,
		d.id.next(), codes[status], oidSNOMED, d.nhs, sig, interval(low, high), avail(low))
	for _, l := range links {
		fmt.Fprintf(&b, `<component typeCode="COMP"><statementRef classCode="OBS" moodCode="EVN"><id root="%s"/></statementRef></component>`, l)
	}
	fmt.Fprintf(&b, `<conditionNamed typeCode="NAME" inversionInd="true"><namedStatementRef classCode="OBS" moodCode="EVN"><id root="%s"/></namedStatementRef></conditionNamed></LinkSet>`, named)
	return b.String()
}

func (d *doc) plan(id string, code cd, ts string) string {
	return fmt.Sprintf(`<PlanStatement classCode="OBS" moodCode="INT"><id root="%s"/>%s<text>FREETEXT-%s-plantext</text><statusCode code="ACTIVE"/>%s%s</PlanStatement>`,
		id, code.xml("code"), d.nhs, effective(ts), avail(ts))
}

// request is a RequestStatement (referral); priority 394848005 routine,
// 394849002 urgent.
func (d *doc) request(id string, code cd, ts, priority string) string {
	return fmt.Sprintf(`<RequestStatement classCode="OBS" moodCode="RQO"><id root="%s"/>%s<text>FREETEXT-%s-referraltext</text><statusCode code="COMPLETE"/>%s%s<priorityCode code="%s" codeSystem="%s" displayName="Priority"/></RequestStatement>`,
		id, code.xml("code"), d.nhs, effective(ts), avail(ts), priority, oidSNOMED)
}

// requestStatus is a RequestStatement with the statusCode given ("" for
// none).
func (d *doc) requestStatus(id string, code cd, ts, priority, status string) string {
	sc := ""
	if status != "" {
		sc = `<statusCode code="` + status + `"/>`
	}
	return fmt.Sprintf(`<RequestStatement classCode="OBS" moodCode="RQO"><id root="%s"/>%s<text>FREETEXT-%s-referral-%s</text>%s%s%s<priorityCode code="%s" codeSystem="%s" displayName="Priority"/></RequestStatement>`,
		id, code.xml("code"), d.nhs, id[len(id)-3:], sc, effective(ts), avail(ts), priority, oidSNOMED)
}

// allergyWith is an allergy compound whose observation is coded as given
// (a local code, say) with the allergen given (or none), under a 14L..00
// heading.
func (d *doc) allergyWith(compoundID, obsID, ts string, code cd, allergen *cd) string {
	return d.compound(compoundID, "CATEGORY", read("14L..00", "H/O: drug allergy"), ts, false,
		d.obs(obsID, code, ts, obsOpt{valueCD: allergen, annotation: "FREETEXT-" + d.nhs + "-allergynote-" + obsID[len(obsID)-3:]}))
}

// bpHalfConfidential is a blood pressure battery whose systolic half is
// NOPAT (UK07).
func (d *doc) bpHalfConfidential(ts, sys, dia string) string {
	return d.compound(d.id.next(), "BATTERY", read("246..00", "O/E - blood pressure reading", "163020007"), ts, false,
		d.obs(d.id.next(), read("2469.00", "O/E - Systolic BP reading", "72313002"), ts, obsOpt{value: &pq{sys, "mm[Hg]"}, confidential: true}),
		d.obs(d.id.next(), read("246A.00", "O/E - Diastolic BP reading", "1091811000000102"), ts, obsOpt{value: &pq{dia, "mm[Hg]"}}))
}

// unity is a PQ value written with unit="1" and the laboratory's unit in
// translation/originalText, as GP2GP senders do.
func unity(value, unit string) string {
	return fmt.Sprintf(`<value xsi:type="PQ" value="%s" unit="1"><translation value="%s"><originalText>%s</originalText></translation></value>`, value, value, esc(unit))
}

// oneSided is an IVL_PQ value with one bound ("low" or "high").
func oneSided(bound, value, unit string, inclusive bool) string {
	return fmt.Sprintf(`<value xsi:type="IVL_PQ"><%s value="%s" unit="%s" inclusive="%t"/></value>`, bound, value, esc(unit), inclusive)
}

// render writes the whole extract.
func (d *doc) render() string {
	root := "RCMR_IN030000UK06"
	if d.uk07 {
		root = "RCMR_IN030000UK07"
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	fmt.Fprintf(&b, `<%s xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`+"\n", root)
	fmt.Fprintf(&b, `<id root="%s"/><creationTime value="%s"/><versionCode code="V3NPfIT3.1.10"/><interactionId root="2.16.840.1.113883.2.1.3.2.4.12" extension="%s"/>`+"\n", d.id.next(), d.extracted, root)
	fmt.Fprintf(&b, `<ControlActEvent classCode="CACT" moodCode="EVN"><subject typeCode="SUBJ" contextConductionInd="false"><EhrExtract classCode="EXTRACT" moodCode="EVN"><id root="%s"/><statusCode code="COMPLETE"/><availabilityTime value="%s"/>`+"\n", d.id.next(), d.extracted)
	fmt.Fprintf(&b, `<recordTarget typeCode="RCT"><patient classCode="PAT"><id root="2.16.840.1.113883.2.1.4.1" extension="%s"/></patient></recordTarget>`+"\n", d.nhs)
	org := fmt.Sprintf(`<AgentOrgSDS classCode="AGNT"><agentOrganizationSDS classCode="ORG" determinerCode="INSTANCE"><id root="1.2.826.0.1285.0.1.10" extension="%s"/></agentOrganizationSDS></AgentOrgSDS>`, d.ods)
	fmt.Fprintf(&b, `<author typeCode="AUT"><time value="%s"/><signatureCode code="S"/><signatureText>X</signatureText>%s</author>`+"\n", d.extracted, org)
	fmt.Fprintf(&b, `<component typeCode="COMP"><ehrFolder classCode="FOLDER" moodCode="EVN"><id root="%s"/><statusCode code="COMPLETE"/><effectiveTime><low value="19500314"/><high value="%s"/></effectiveTime><availabilityTime value="%s"/>`+"\n", d.id.next(), d.extracted, d.extracted)
	fmt.Fprintf(&b, `<author typeCode="AUT"><time value="%s"/><signatureCode code="S"/><signatureText>X</signatureText>%s</author>`+"\n", d.extracted, org)
	fmt.Fprintf(&b, `<responsibleParty typeCode="RESP"><agentDirectory classCode="AGNT"><part typeCode="PART"><Agent classCode="AGNT"><id root="%s"/><id root="2.16.840.1.113883.2.1.4.2" extension="G9999998"/><code code="309394004" codeSystem="%s" displayName="General Practitioner Principal"><originalText>FREETEXT-%s-role</originalText></code><agentPerson classCode="PSN" determinerCode="INSTANCE"><name><prefix>Dr</prefix><given>Test</given><family>Clinician</family></name></agentPerson></Agent></part></agentDirectory></responsibleParty>`+"\n",
		d.agent, oidSNOMED, d.nhs)
	for _, c := range d.comps {
		b.WriteString(c)
		b.WriteString("\n")
	}
	b.WriteString(`</ehrFolder></component></EhrExtract></subject></ControlActEvent>` + "\n")
	fmt.Fprintf(&b, "</%s>\n", root)
	return b.String()
}

// freeText is the free text every extract carries: a narrative, an
// annotation, an originalText and a local code's term, each with a unique
// FREETEXT- marker. withWeight adds a local code with a national
// translation (kept, without its term).
func (d *doc) freeText(ts string, withWeight bool) []string {
	out := []string{
		d.narrative(ts, "FREETEXT-"+d.nhs+"-narrative: patient discussed private matters"),
		d.obs(d.id.next(), cd{sys: oidLocal, code: "LOC" + d.nhs[6:], display: "FREETEXT-" + d.nhs + "-localonly"}, ts,
			obsOpt{annotation: "FREETEXT-" + d.nhs + "-annotation"}),
	}
	if withWeight {
		out = append(out, d.obs(d.id.next(), cd{sys: oidLocal, code: "LOCW" + d.nhs[6:], display: "FREETEXT-" + d.nhs + "-localterm",
			trans: []cd{read("22A..00", "O/E - weight", "162763007").withOrig("FREETEXT-" + d.nhs + "-weightorig")}}, ts,
			obsOpt{value: &pq{"71", "kg"}}))
	}
	return out
}

// freeTextConsultation adds a consultation holding the free text.
func (d *doc) freeTextConsultation(ts string) {
	d.composition(d.id.next(), surgery.withOrig("FREETEXT-"+d.nhs+"-consultorig"), ts, false, d.freeText(ts, true)...)
}
