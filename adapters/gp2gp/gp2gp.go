// Package gp2gp reads a GP2GP HL7v3 EHR Extract (RCMR_IN030000UK06 or
// RCMR_IN030000UK07, namespace urn:hl7-org:v3) into the neutral coded
// record. It streams the document with adapters/xmltok: the header
// elements and each ehrComposition are read whole one at a time with
// ReadNode; the document as a whole is never held as a tree.
//
// Free text (NarrativeStatement, text, originalText, pertinentAnnotation,
// local-code terms) is never read into the record; the one exception is a
// prescription's dosage instruction and quantity text (record.DosageText).
// Items marked confidential (UK07 confidentialityCode NOPAT) are read like
// any other and then left out, with what links to them (the contents of a
// confidential consultation, the issues of a confidential authorisation,
// both halves of a blood pressure reading, a problem naming a confidential
// statement); Record.Withhold is told of each item left out. Every coded
// statement ends in one item (an entry of its own, or merged into another's:
// a blood pressure half, an allergy compound and its observation, the
// condition a problem names); Stats.Read counts those items (a consultation
// is an item no statement counts), and each is an entry (a KindNone one
// says by NotShown why it is not shown), withheld, or a duplicate.
// Record.Finish runs last.
//
// Rules for the shapes real GP systems send (issue 11):
//   - Units: every unit goes through Quantity.SetUnit. unit="1" (unity)
//     with the laboratory's unit in translation/originalText takes the unit
//     from there; a unit that does not vet is left out and marked
//     (UnitWithheld), the number kept. originalText is free text: only a
//     string on SetUnit's fixed vocabulary is ever kept from it.
//   - Interval values (IVL_PQ) with one bound are results with a
//     comparator (<, <=, >, >=); with both, equal bounds are the value,
//     otherwise the low bound with >= or > (see value in codes.go).
//   - Moods other than an event (PlanStatement, moodCode INT, RQO, PRP...)
//     are plans: Planned, the kind their code gives, the due date in
//     Effective. Referrals (RequestStatement) and medication keep their
//     structural meaning.
//   - SNOMED CT codings go through record.SNOMEDCoding: a description id
//     is kept apart, never as a concept id.
//   - A statement about a relative (subject/personalRelationship) or coded
//     as family history is KindNone, RuleRelative; so is a problem naming
//     one.
//   - Ids: lookups about statements are keyed by element type and id; a
//     statement without an id gets one made from its composition's id and
//     its position ("noid:..."); the same act read twice is made one
//     identical entry for Record.Finish to keep once.
//   - Allergies under a national heading (14L.., SN53., SNOMED allergy
//     headings) whose observation or allergen is local, uncoded or
//     narrative only keep the heading's code with AllergenUncoded; Confirmed
//     only with the qualifier 410605003 "confirmed present".
//   - A coded BATTERY or CLUSTER is an entry with its own code: the parent
//     of its results when it is a report, battery or test group; otherwise
//     (a specimen, a template heading) its statements are read in place.
//   - A referral's status is active only when its statusCode says so.
package gp2gp

import (
	"io"
	"strings"

	"mig"
	"mig/adapters/record"
	"mig/adapters/xmltok"
)

// Format is the adapter's name (Record.Format, error messages).
const Format = "gp2gp"

const hl7NS = "urn:hl7-org:v3"

// Parse reads one GP2GP EHR Extract. Errors are *mig.Error: malformed or
// over-limit documents via record.MalformedError, an extract about another
// patient than opt.NHSNumber via record.IdentityMismatch.
func Parse(r io.Reader, opt record.ParseOptions) (*record.Record, error) {
	p := newParser(opt)
	if err := p.run(xmltok.NewDecoder(r, opt.Limits)); err != nil {
		return nil, err
	}
	return p.finish()
}

// errNotGP2GP is returned for a well-formed document that is not a GP2GP
// EHR Extract.
func notGP2GP(what string) error {
	return &mig.Error{Code: mig.EINVALID, Issue: mig.IssueMalformedExtract, Message: Format + " extract: " + what}
}

type parser struct {
	opt record.ParseOptions
	rec record.Record

	sawTarget  bool
	sawExtract bool
	agents     map[string]record.Person

	// Bookkeeping for the links resolved once every composition is read,
	// keyed by element type and id where the element type is known (see
	// key); entries by their index in rec.Entries, whose src says which
	// element each was read from.
	src          []key               // per entry: the element it was read from
	gone         map[int]bool        // entries merged into another (away) or withheld (hidden)
	away         map[int]bool        // entries merged into another: no item of their own
	hidden       map[int]bool        // entries withheld as confidential: Record.Withhold is told
	withheld     map[key]bool        // statements left out as confidential
	merged       map[key]string      // statement -> id of the entry that holds it
	encUnits     int                 // consultations made (shown or withheld), counted in Stats.Read too
	medStatement map[string][]int    // MedicationStatement id -> its entries
	absorbable   map[int]bool        // entries a problem may absorb (plain coded statements)
	requests     map[int]bool        // entries read from RequestStatements
	discontinued map[key]record.Date // authorisation -> when discontinued
	problems     []pendingProblem
	linkSetCodes map[int]record.Concept // a LinkSet entry's own code
}

type pendingProblem struct {
	index       int // the LinkSet's entry
	named       string
	links       []string
	unspecified bool // LinkSet coded 394776006 "Unspecified problem"
}

func newParser(opt record.ParseOptions) *parser {
	return &parser{
		opt:          opt,
		rec:          record.Record{Format: Format},
		agents:       map[string]record.Person{},
		gone:         map[int]bool{},
		away:         map[int]bool{},
		hidden:       map[int]bool{},
		withheld:     map[key]bool{},
		merged:       map[key]string{},
		medStatement: map[string][]int{},
		absorbable:   map[int]bool{},
		requests:     map[int]bool{},
		discontinued: map[key]record.Date{},
		linkSetCodes: map[int]record.Concept{},
	}
}

// run walks the document: it descends through the message wrappers and
// reads with ReadNode only the small pieces it needs.
func (p *parser) run(d *xmltok.Decoder) error {
	root, err := d.Next()
	if err != nil {
		return record.MalformedError(Format, err)
	}
	if root.Kind != xmltok.Start || root.Space != hl7NS ||
		(root.Local != "RCMR_IN030000UK06" && root.Local != "RCMR_IN030000UK07") {
		return notGP2GP("root element is not an RCMR_IN030000UK06/UK07 EHR Extract in the HL7 v3 namespace")
	}
	stack := []string{root.Local}
	for {
		tok, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return record.MalformedError(Format, err)
		}
		switch tok.Kind {
		case xmltok.End:
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				// The root closed: only the end of the document may follow.
				if _, err := d.Next(); err != io.EOF {
					if err != nil {
						return record.MalformedError(Format, err)
					}
					return notGP2GP("content after the root element")
				}
				return nil
			}
			continue
		case xmltok.Text:
			continue
		}
		parent := stack[len(stack)-1]
		grand := ""
		if len(stack) > 1 {
			grand = stack[len(stack)-2]
		}
		if tok.Space != hl7NS {
			if err := d.Skip(); err != nil {
				return record.MalformedError(Format, err)
			}
			continue
		}
		var handle func(*xmltok.Node) error
		switch {
		case parent == "EhrExtract" && tok.Local == "recordTarget":
			handle = p.recordTarget
		case parent == "EhrExtract" && tok.Local == "author":
			handle = p.extractAuthor
		case parent == "EhrExtract" && tok.Local == "availabilityTime":
			handle = func(n *xmltok.Node) error { p.rec.Extracted = tsAttr(n); return nil }
		case parent == "ehrFolder" && tok.Local == "responsibleParty":
			handle = p.directory
		case grand == "ehrFolder" && parent == "component" && tok.Local == "ehrComposition":
			handle = func(n *xmltok.Node) error { p.composition(n); return nil }
		}
		if tok.Local == "EhrExtract" {
			p.sawExtract = true
		}
		if handle == nil {
			stack = append(stack, tok.Local)
			continue
		}
		n, err := d.ReadNode(tok)
		if err != nil {
			return record.MalformedError(Format, err)
		}
		if err := handle(n); err != nil {
			return err
		}
	}
	return nil
}

// recordTarget reads the patient's NHS number and checks it against the
// one asked for, as early as the document allows.
func (p *parser) recordTarget(n *xmltok.Node) error {
	p.sawTarget = true
	for _, id := range n.FindAll("patient", "id") {
		if id.Attr("root") == oidNHSNumber {
			if v := strings.TrimSpace(id.Attr("extension")); mig.ValidNHSNumber(v) {
				p.rec.Patient.NHSNumber = v
			}
			break
		}
	}
	if p.opt.NHSNumber != "" && p.rec.Patient.NHSNumber != p.opt.NHSNumber {
		return record.IdentityMismatch(Format)
	}
	return nil
}

// extractAuthor reads the sending practice's ODS code.
func (p *parser) extractAuthor(n *xmltok.Node) error {
	if id := n.Find("AgentOrgSDS", "agentOrganizationSDS", "id"); id != nil {
		p.rec.Patient.PracticeODS = odsCode(id.Attr("extension"))
	}
	return nil
}

// odsCode keeps a value that looks like an ODS code (letters and digits).
func odsCode(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 12 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return ""
		}
	}
	return s
}

// directory reads the agentDirectory: the people who authored entries.
func (p *parser) directory(n *xmltok.Node) error {
	for _, ag := range n.FindAll("agentDirectory", "part", "Agent") {
		id := idRoot(ag)
		person := ag.Child("agentPerson")
		if id == "" || person == nil {
			continue
		}
		pr := record.Person{ID: id, Role: concept(ag.Child("code"))}
		if nm := person.Child("name"); nm != nil {
			var given []string
			for _, g := range nm.All("given") {
				given = append(given, g.Text)
			}
			prefix := ""
			if pf := nm.Child("prefix"); pf != nil {
				prefix = pf.Text
			}
			family := ""
			if f := nm.Child("family"); f != nil {
				family = f.Text
			}
			pr.Name = record.NewHumanName(prefix, given, family)
		}
		p.agents[id] = pr
	}
	return nil
}

// person returns a copy of the directory entry for an agent id.
func (p *parser) person(id string) *record.Person {
	if id == "" {
		return nil
	}
	if pr, ok := p.agents[id]; ok {
		return &pr
	}
	return &record.Person{ID: id}
}

// finish resolves the links between entries and returns the record.
func (p *parser) finish() (*record.Record, error) {
	if !p.sawExtract {
		return nil, notGP2GP("no EhrExtract element")
	}
	if p.opt.NHSNumber != "" && !p.sawTarget {
		return nil, record.IdentityMismatch(Format)
	}
	p.resolve()
	rec := p.rec
	rec.Finish()
	return &rec, nil
}

// idRoot returns an element's first id (root, with the extension when
// there is one).
func idRoot(n *xmltok.Node) string {
	id := n.Child("id")
	if id == nil {
		return ""
	}
	root := strings.TrimSpace(id.Attr("root"))
	if ext := strings.TrimSpace(id.Attr("extension")); ext != "" && root != "" {
		return root + ":" + ext
	}
	return root
}
