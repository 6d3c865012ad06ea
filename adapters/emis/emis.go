// Package emis reads EMIS Web's EMIS Open MedicalRecord XML (namespace
// http://www.e-mis.com/emisopen/MedicalRecord, schema EomMedicalRecord38.xsd)
// into the neutral coded record.
//
// The document is streamed: the decoder walks the top-level lists and reads
// one list item (an event, a consultation element, a medication course, a
// person...) at a time with ReadNode. People and locations are directories
// the items point into by GUID or RefID; they may come before or after the
// items, so references are resolved once the document has been read. Only
// ids and coded or structured fields are kept from them.
//
// What becomes what:
//   - Registration: the Patient (NHS number, name, birth date, sex, address);
//     the registered practice is the ODS code (NationalCode) of the location
//     that Originator/Organisation points at.
//   - Any coded item carrying a <Problem> element is a problem (KindProblem):
//     its code is the item's own code, ProblemStatus 1 active, 0 past
//     (StatusInactive), Significance 1 major, 2 minor, EndDate the end; items
//     whose ProblemLinkList targets it are its Problem.Links.
//   - EventList events: EventType 13 immunisation, 10 alert (risk), 11
//     allergy, 8 referral; otherwise the kind comes from the code
//     (record.Classifier). Numeric values keep operator, units and range;
//     Abnormal=1 is the interpretation "A". Systolic and diastolic readings of
//     one GroupID, or of the same date and time in the same consultation,
//     pair into one KindBloodPressure entry, each half's code kept as its
//     SystolicCode or DiastolicCode (EMIS codes no whole reading: Code is
//     zero).
//   - ConsultationList: each consultation is a KindEncounter entry; the items
//     in its ElementList are read like their top-level kin and carry its id
//     in Entry.Encounter.
//   - InvestigationList: an investigation is a KindInvestigation report; the
//     events below it are its results (Parent / Members).
//   - ReferralList: KindReferral (Urgency 0 routine, 1 and 2 urgent, 3 dated
//     = routine; recipient = ODS code of the Provider location).
//   - AllergyList: KindAllergy (AllergyType 0 other, 1-4 drug; a coded "no
//     known allergy" is AllergyNoKnown).
//   - AlertList: KindRisk.
//   - MedicationList: KindMedicationAuthorisation (Status C active, P past =
//     completed, N = stopped; PrescriptionType ACUTE / REPEAT / AUTOMATIC,
//     ServiceType A repeat dispensing; AuthorisedIssue = repeats allowed);
//     IssueList: KindMedicationIssue tied to its course by MedicationLink/GUID.
//   - DiaryList (and a consultation's Diary): recalls and planned items keep
//     the kind their code gives and are Planned.
//   - About a relative (EventType 12, a family-member qualifier, a family
//     history code): KindNone, RuleRelative.
//
// EMIS writes -1, its null link, in every id, link and policy field that is
// unset (PolicyID, RefID, GroupID, MedicationLink...): -1, 0 and empty never
// refer to anything (nullLink). Only a positive PolicyID puts an item under
// a confidentiality policy: it is withheld (Record.Withhold), and so is what
// links to it (Record.Finish, called last).
//
// Free text (DescriptiveText, DisplayTerm, comments, notes, RxText,
// PharmacyText, advice, terms of local codes...) is never read into the
// record; dosage and quantity text are the one exception (record.DosageText).
// An item coded only locally (no national map) is kept as a KindNone entry,
// not classifiable, with its code and without its term, so that it is
// accounted for; an item with no code at all is left out, except
// consultations and medication, whose structure says what they are. A date
// that does not parse is left unset; the item is kept. Stats.Read counts
// every statement read (a blood pressure pair is one).
package emis

import (
	"io"
	"strconv"
	"strings"

	"mig/adapters/record"
	"mig/adapters/xmltok"
)

// Namespace is the EMIS Open MedicalRecord namespace.
const Namespace = "http://www.e-mis.com/emisopen/MedicalRecord"

// Format is the adapter's name in record.Record.Format and in errors.
const Format = "emis"

// Parse reads an EMIS Open MedicalRecord document. Malformed or over-limit
// input gives record.MalformedError; when opt.NHSNumber is set and the
// extract's NHS number differs or is missing, record.IdentityMismatch.
func Parse(r io.Reader, opt record.ParseOptions) (*record.Record, error) {
	p := &parser{
		d:      xmltok.NewDecoder(r, opt.Limits),
		opt:    opt,
		rec:    &record.Record{Format: Format},
		people: map[string]person{},
		places: map[string]string{},
	}
	if err := p.run(); err != nil {
		return nil, err
	}
	if opt.NHSNumber != "" && p.rec.Patient.NHSNumber != opt.NHSNumber {
		return nil, record.IdentityMismatch(Format)
	}
	p.resolve()
	p.rec.Finish()
	return p.rec, nil
}

// ident is an IdentType: a GUID and/or a RefID unique within its kind.
type ident struct{ guid, ref string }

func identOf(n *xmltok.Node) ident {
	if n == nil {
		return ident{}
	}
	id := ident{guid: strings.TrimSpace(txt(n, "GUID")), ref: strings.TrimSpace(txt(n, "RefID"))}
	if nullLink(id.guid) {
		id.guid = ""
	}
	if !positiveInt(id.ref) {
		id.ref = "" // RefID is an integer; -1 and 0 are EMIS's null link
	}
	return id
}

// nullLink reports whether an EMIS id or link value is EMIS's "no link":
// empty, -1 (EMIS writes -1 in every unset id, link and policy field), 0,
// or the all-zero GUID. Such a value never refers to an item.
func nullLink(s string) bool {
	s = strings.Trim(strings.TrimSpace(s), "{}")
	if s == "" {
		return true
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n <= 0
	}
	return strings.Trim(s, "0-") == ""
}

func (id ident) zero() bool { return id.guid == "" && id.ref == "" }

// keys are the directory keys an ident can be found under.
func (id ident) keys() []string {
	var k []string
	if id.guid != "" {
		k = append(k, "g:"+id.guid)
	}
	if id.ref != "" {
		k = append(k, "r:"+id.ref)
	}
	return k
}

// person is what is kept of a PeopleList entry.
type person struct {
	id   string
	name record.HumanName
}

// meta is what the parser needs about an entry until references resolve.
type meta struct {
	self      ident
	author    ident // AuthorID / UserID / AuthorisedUserID: PeopleList
	location  ident // consultation LocationID: LocationList
	provider  ident // referral Provider: LocationList
	problems  []ident
	medLink   string // issue: MedicationLink GUID
	bpPart    string // "systolic" / "diastolic" for a reading to pair
	bpKey     string
	bpValue   *record.Quantity
	bpRange   *record.Range
	drop      bool
	withheld  bool // under a confidentiality policy, itself or through its consultation or report
	encounter int  // index of the consultation entry, -1 if none
	report    int  // index + 1 of the investigation report it is a result of, 0 if none
}

type parser struct {
	d      *xmltok.Decoder
	opt    record.ParseOptions
	rec    *record.Record
	meta   []meta
	people map[string]person
	places map[string]string // location key -> ODS code
	origin ident             // Originator/Organisation
	seq    int
	// guidType is the element type that first had each GUID.
	guidType map[string]string
}

// ctx is where an item sits: in a consultation, under an investigation.
type ctx struct {
	encounter int  // entry index of the consultation, -1 if none
	parent    int  // entry index of the investigation report, -1 if none
	withheld  bool // the investigation holding it is under a confidentiality policy
}

var top = ctx{encounter: -1, parent: -1}

func (p *parser) malformed(reason string) error {
	return record.MalformedError(Format, &xmltok.Error{Line: p.d.Line(), Path: p.d.Path(), Reason: reason})
}

func ours(t xmltok.Token) bool { return t.Space == Namespace || t.Space == "" }

func (p *parser) run() error {
	tok, err := p.next()
	if err != nil {
		return err
	}
	if tok.Kind != xmltok.Start || tok.Local != "MedicalRecord" || !ours(tok) {
		return p.malformed("root element is not an EMIS Open MedicalRecord")
	}
	for {
		tok, err := p.next()
		if err != nil {
			return err
		}
		switch tok.Kind {
		case xmltok.End:
			// The root closed: the decoder must report a clean end.
			if _, err := p.d.Next(); err != io.EOF {
				if err == nil {
					return p.malformed("content after the root element")
				}
				return record.MalformedError(Format, err)
			}
			return nil
		case xmltok.Start:
			if err := p.section(tok); err != nil {
				return err
			}
		}
	}
}

// next wraps Decoder.Next, turning an early end into a malformed error.
func (p *parser) next() (xmltok.Token, error) {
	tok, err := p.d.Next()
	if err == io.EOF {
		return tok, p.malformed("unexpected end of document")
	}
	if err != nil {
		return tok, record.MalformedError(Format, err)
	}
	return tok, nil
}

func (p *parser) readNode(tok xmltok.Token) (*xmltok.Node, error) {
	n, err := p.d.ReadNode(tok)
	if err != nil {
		return nil, record.MalformedError(Format, err)
	}
	return n, nil
}

func (p *parser) skip() error {
	if err := p.d.Skip(); err != nil {
		return record.MalformedError(Format, err)
	}
	return nil
}

// section handles one child of MedicalRecord.
func (p *parser) section(tok xmltok.Token) error {
	if !ours(tok) {
		return p.skip()
	}
	switch tok.Local {
	case "Registration":
		n, err := p.readNode(tok)
		if err != nil {
			return err
		}
		p.registration(n)
		if p.opt.NHSNumber != "" && p.rec.Patient.NHSNumber != p.opt.NHSNumber {
			return record.IdentityMismatch(Format) // fail fast: read no more
		}
		return nil
	case "EventList":
		return p.list("Event", func(n *xmltok.Node) { p.event(n, top) })
	case "ConsultationList":
		return p.consultations()
	case "InvestigationList":
		return p.list("Investigation", func(n *xmltok.Node) { p.investigation(n, top) })
	case "ReferralList":
		return p.list("Referral", func(n *xmltok.Node) { p.referral(n, top) })
	case "AllergyList":
		return p.list("Allergy", func(n *xmltok.Node) { p.allergy(n, top) })
	case "AlertList":
		return p.list("Alert", func(n *xmltok.Node) { p.alert(n, top) })
	case "DiaryList":
		return p.list("Diary", func(n *xmltok.Node) { p.diary(n, top) })
	case "MedicationList":
		return p.list("Medication", func(n *xmltok.Node) { p.medication(n, top, false) })
	case "IssueList":
		return p.list("Issue", func(n *xmltok.Node) { p.medication(n, top, true) })
	case "PeopleList":
		return p.list("Person", p.person)
	case "LocationList":
		return p.list("Location", p.location)
	case "Originator":
		n, err := p.readNode(tok)
		if err != nil {
			return err
		}
		p.origin = identOf(n.Child("Organisation"))
		return nil
	case "MessageInformation":
		n, err := p.readNode(tok)
		if err != nil {
			return err
		}
		if d, ok := parseDate(txt(n, "DateCreated"), "", txt(n, "TimeCreated")); ok {
			p.rec.Extracted = d
		}
		return nil
	}
	return p.skip()
}

// list reads the items named item of the list element just opened, one at
// a time, and skips anything else in it.
func (p *parser) list(item string, fn func(*xmltok.Node)) error {
	for {
		tok, err := p.next()
		if err != nil {
			return err
		}
		switch tok.Kind {
		case xmltok.End:
			return nil
		case xmltok.Start:
			if tok.Local != item || !ours(tok) {
				if err := p.skip(); err != nil {
					return err
				}
				continue
			}
			n, err := p.readNode(tok)
			if err != nil {
				return err
			}
			fn(n)
		}
	}
}

// consultations streams a ConsultationList: each consultation's header
// fields are read one by one, its ElementList one element at a time.
func (p *parser) consultations() error {
	for {
		tok, err := p.next()
		if err != nil {
			return err
		}
		switch tok.Kind {
		case xmltok.End:
			return nil
		case xmltok.Start:
			if tok.Local != "Consultation" || !ours(tok) {
				if err := p.skip(); err != nil {
					return err
				}
				continue
			}
			if err := p.consultation(); err != nil {
				return err
			}
		}
	}
}

func (p *parser) consultation() error {
	idx := p.add(record.Entry{Kind: record.KindEncounter}, meta{encounter: -1})
	head := &xmltok.Node{Local: "Consultation"}
	c := ctx{encounter: idx, parent: -1}
	for {
		tok, err := p.next()
		if err != nil {
			return err
		}
		if tok.Kind == xmltok.End {
			break
		}
		if tok.Kind != xmltok.Start {
			continue
		}
		if tok.Local == "ElementList" && ours(tok) {
			if err := p.list("ConsultationElement", func(n *xmltok.Node) { p.element(n, c) }); err != nil {
				return err
			}
			continue
		}
		n, err := p.readNode(tok)
		if err != nil {
			return err
		}
		head.Children = append(head.Children, n)
	}
	if restricted(head) {
		// A confidential consultation: withhold it and everything in it
		// (resolve leaves them out, and Finish whatever links to them).
		for i := idx; i < len(p.meta); i++ {
			p.meta[i].withheld = true
		}
	}
	m := &p.meta[idx]
	m.self = identOf(head)
	m.author = identOf(head.Child("UserID"))
	m.location = identOf(head.Child("LocationID"))
	e := &p.rec.Entries[idx]
	e.ID = p.entryID("Consultation", m.self)
	e.Effective = date(txt(head, "AssignedDate"), txt(head, "DatePart"), "")
	e.Recorded = date(txt(head, "OriginalAuthor", "SystemDate"), "", "")
	for i := idx + 1; i < len(p.rec.Entries); i++ {
		if p.meta[i].encounter == idx {
			p.rec.Entries[i].Encounter = e.ID
		}
	}
	return nil
}

// element is one ConsultationElement: exactly one item.
func (p *parser) element(n *xmltok.Node, c ctx) {
	for _, ch := range n.Children {
		switch ch.Local {
		case "Event":
			p.event(ch, c)
		case "Medication":
			p.medication(ch, c, false)
		case "Referral":
			p.referral(ch, c)
		case "Allergy":
			p.allergy(ch, c)
		case "Investigation":
			p.investigation(ch, c)
		case "Diary":
			p.diary(ch, c)
		}
	}
}

// add appends an entry with its metadata and returns its index. Every item
// read into an entry counts in Stats.Read (a blood pressure pair, two
// items, is one reading: pairBloodPressure takes one back): each is later
// shown, not shown by a rule (KindNone, NotShown), withheld, or a
// duplicate, so that a report can account for every one.
func (p *parser) add(e record.Entry, m meta) int {
	if e.Kind == record.KindNone && e.NotShown == record.RuleNone {
		e.NotShown = record.RuleUnclassifiable
	}
	p.rec.Stats.Read++
	p.rec.Entries = append(p.rec.Entries, e)
	p.meta = append(p.meta, m)
	return len(p.rec.Entries) - 1
}

// entryID is the item's GUID, else an id made from its type and RefID, else
// a sequence number. A GUID an item of another type already has (real
// extracts reuse ids across element types) gets its type as a suffix, so
// that entries of different types never share an id and links (which
// resolve to entry ids) name the right one.
func (p *parser) entryID(typ string, id ident) string {
	if id.guid != "" {
		if p.guidType == nil {
			p.guidType = map[string]string{}
		}
		if t, ok := p.guidType[id.guid]; ok && t != typ {
			return id.guid + "#" + strings.ToLower(typ)
		}
		p.guidType[id.guid] = typ
		return id.guid
	}
	p.seq++
	if id.ref != "" {
		return "emis-" + strings.ToLower(typ) + "-ref-" + id.ref
	}
	return "emis-" + strings.ToLower(typ) + "-" + strconv.Itoa(p.seq)
}

func (p *parser) registration(n *xmltok.Node) {
	pt := &p.rec.Patient
	pt.NHSNumber = strings.Join(strings.Fields(txt(n, "NhsNumber")), "")
	pt.Name = record.NewHumanName(txt(n, "Title"), strings.Fields(txt(n, "FirstNames")), txt(n, "FamilyName"))
	pt.BirthDate = date(txt(n, "DateOfBirth"), "", "")
	switch strings.ToUpper(strings.TrimSpace(txt(n, "Sex"))) {
	case "M", "MALE":
		pt.Sex = record.SexMale
	case "F", "FEMALE":
		pt.Sex = record.SexFemale
	case "I", "O", "OTHER", "INDETERMINATE":
		pt.Sex = record.SexOther
	}
	if a := n.Child("Address"); a != nil {
		pt.Address = record.NewAddress(
			[]string{txt(a, "HouseNameFlat"), txt(a, "Street"), txt(a, "Village")},
			txt(a, "Town"), txt(a, "County"), txt(a, "PostCode"))
	}
	if dd := n.Child("DateOfDeath"); dd != nil && dd.Text != "" {
		pt.Deceased = true
		pt.DeceasedDate = date(dd.Text, "", "")
	}
	if strings.TrimSpace(txt(n, "Dead")) == "1" {
		pt.Deceased = true
	}
	if d := n.Child("DeductedDate"); d != nil && d.Text != "" {
		pt.Deducted = true
	}
}

func (p *parser) person(n *xmltok.Node) {
	id := identOf(n)
	pr := person{id: id.guid, name: record.NewHumanName(txt(n, "Title"), strings.Fields(txt(n, "FirstNames")), txt(n, "LastName"))}
	if pr.id == "" && id.ref != "" {
		pr.id = "emis-person-ref-" + id.ref
	}
	for _, k := range id.keys() {
		p.people[k] = pr
	}
}

func (p *parser) location(n *xmltok.Node) {
	ods := strings.TrimSpace(txt(n, "NationalCode"))
	if !odsShape(ods) {
		return
	}
	for _, k := range identOf(n).keys() {
		p.places[k] = ods
	}
}

// odsShape reports whether s looks like an ODS code: 3 to 10 letters and
// digits.
func odsShape(s string) bool {
	if len(s) < 3 || len(s) > 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isDigit(c) || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// date parses an EMIS date, leaving it unset when it does not parse.
func date(s, part, tm string) record.Date {
	d, _ := parseDate(s, part, tm)
	return d
}
