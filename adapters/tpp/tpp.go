// Package tpp reads TPP SystmOne PatientRecord XML (schema
// TppPatientRecord.xsd: root PatientRecord holding Identity, Demographics,
// Clinical events, NonClinical appointments and visits, and Metadata sites
// and users) into the neutral coded record.
//
// The document is streamed with xmltok: the parser walks containers token by
// token and reads one item at a time (one clinical code, one medication, one
// appointment...) with ReadNode. Elements that hold only free text
// (Narrative, Letter, Reminder, Recall, PatientPlan, CarePlan, Relationship,
// Report, Attachment, Activity, Task) are skipped unread; the free-text
// children of the items that are read (FreeText, Notes, Comments, local-code
// terms) are never copied into the record. References by id (users,
// sites, problems, the authorisation of a repeat issue) are resolved after
// the whole document has been read, and Record.Finish runs last (repeated
// events are one entry).
//
// Real-world shapes (issue 11): the schema has no confidentiality marker,
// so nothing is withheld here; entries link by the entry ids Finish follows
// (Encounter, Medication.Authorisation). Recalls and reminders are free
// text only, so nothing coded is a plan. Family history (IsFamilyHistory, a
// family history code) is KindNone, RuleRelative; a code with no national
// coding is kept as KindNone, not classifiable, with its local code only;
// an allergy under a generic heading, or a drug sensitivity whose allergen
// is local or named in free text only, is an allergy with its heading's
// code (14L.. when the source has none), AllergenUncoded. A date-only value
// (xs:date, or midnight) keeps its calendar day.
package tpp

import (
	"errors"
	"io"
	"strings"
	"time"

	"mig/adapters/record"
	"mig/adapters/xmltok"
)

// Format is the adapter name, Record.Format.
const Format = "tpp"

// Parse reads one SystmOne PatientRecord extract. Malformed or over-limit
// documents give record.MalformedError("tpp", ...); an extract about another
// patient than opt.NHSNumber (or without an NHS number when one is asked
// for) gives record.IdentityMismatch("tpp").
func Parse(r io.Reader, opt record.ParseOptions) (rec *record.Record, err error) {
	// Defence in depth: a panic while reading untrusted input fails this
	// extract, never the process.
	defer func() {
		if v := recover(); v != nil {
			rec, err = nil, record.MalformedError(Format, errReader)
		}
	}()
	p := &parser{
		d:      xmltok.NewDecoder(r, opt.Limits),
		opt:    opt,
		cl:     opt.Classifier,
		rec:    &record.Record{Format: Format},
		users:  map[string]*record.Person{},
		sites:  map[string]string{},
		evProb: map[string]string{},
		now:    opt.Clock()(),
	}
	if err := p.run(); err != nil {
		if err == errIdentity {
			return nil, record.IdentityMismatch(Format)
		}
		return nil, record.MalformedError(Format, err)
	}
	p.rec.Finish()
	return p.rec, nil
}

// errReader stands for a failure of the XML reader itself.
var errReader = errors.New("xml reader failure")

// errIdentity is returned inside the parser when the extract is about
// someone else; Parse turns it into the gateway error.
var errIdentity = &identityError{}

type identityError struct{}

func (*identityError) Error() string { return "identity mismatch" }

// parser holds the state of one Parse.
type parser struct {
	d   *xmltok.Decoder
	opt record.ParseOptions
	cl  *record.Classifier
	rec *record.Record
	now time.Time // opt.Now when Parse began: medication and registration status are judged against it

	ods         string // OrganisationID: the practice holding the record
	sawIdentity bool
	events      int // Event elements seen, for ids of events without EventUID
	appts       int

	users map[string]*record.Person // Metadata/User by UserName
	sites map[string]string         // Metadata/Site ID and Name -> ID

	// references resolved after the document is read
	authors  []ref             // entry index -> UserName
	siteRefs []ref             // entry index -> appointment Site
	links    []ref             // entry index -> LinkedProblemUID
	evProb   map[string]string // EventUID -> ID of the first problem recorded in it
	issues   []issueRef        // repeat issues awaiting their authorisation
	repeats  []authRef         // repeat authorisations
}

type ref struct {
	entry int
	id    string
}

// fail is a structural error at the current position, in xmltok's
// content-free form.
func (p *parser) fail(line int, path, reason string) error {
	return &xmltok.Error{Line: line, Path: path, Reason: reason}
}

func (p *parser) unexpectedEnd() error {
	return &xmltok.Error{Line: p.d.Line(), Path: p.d.Path(), Reason: "unexpected end of document"}
}

// each calls fn for the start of every child element of the element whose
// start was returned last, until that element ends. fn must consume the
// child whole (ReadNode, Skip or another each).
func (p *parser) each(fn func(t xmltok.Token) error) error {
	for {
		t, err := p.d.Next()
		if err != nil {
			if err == io.EOF {
				return p.unexpectedEnd()
			}
			return err
		}
		switch t.Kind {
		case xmltok.Start:
			if err := fn(t); err != nil {
				return err
			}
		case xmltok.End:
			return nil
		}
	}
}

func (p *parser) run() error {
	t, err := p.d.Next()
	if err != nil {
		if err == io.EOF {
			return p.unexpectedEnd()
		}
		return err
	}
	if t.Kind != xmltok.Start || t.Local != "PatientRecord" {
		return p.fail(p.d.Line(), p.d.Path(), "root element is not PatientRecord")
	}
	err = p.each(func(t xmltok.Token) error {
		switch t.Local {
		case "OrganisationID":
			n, err := p.d.ReadNode(t)
			if err != nil {
				return err
			}
			p.ods = strings.TrimSpace(n.Text)
			return nil
		case "Patient":
			return p.patient()
		case "Metadata":
			return p.metadata()
		}
		return p.d.Skip()
	})
	if err != nil {
		return err
	}
	if _, err := p.d.Next(); err != io.EOF {
		if err != nil {
			return err
		}
		return p.fail(p.d.Line(), p.d.Path(), "content after the root element")
	}
	if p.opt.NHSNumber != "" && p.rec.Patient.NHSNumber != p.opt.NHSNumber {
		return errIdentity
	}
	p.resolve()
	return nil
}

func (p *parser) patient() error {
	return p.each(func(t xmltok.Token) error {
		switch t.Local {
		case "Identity":
			return p.identity(t)
		case "Demographics":
			return p.demographics(t)
		case "Clinical":
			return p.each(func(t xmltok.Token) error {
				if t.Local == "Event" {
					return p.event(t)
				}
				return p.d.Skip()
			})
		case "NonClinical":
			return p.each(func(t xmltok.Token) error {
				switch t.Local {
				case "Appointment":
					return p.appointment(t)
				case "Visit":
					return p.visit(t)
				}
				return p.d.Skip() // Task: free text
			})
		}
		return p.d.Skip()
	})
}

// identity reads the NHS number and fails fast, before any clinical data
// is read, when it is not the one asked for.
func (p *parser) identity(t xmltok.Token) error {
	n, err := p.d.ReadNode(t)
	if err != nil {
		return err
	}
	if p.sawIdentity {
		return p.fail(n.Line, p.d.Path()+"/Identity", "more than one Identity")
	}
	p.sawIdentity = true
	nhs := strings.Join(strings.Fields(text(n, "NHSNumber")), "")
	p.rec.Patient.NHSNumber = nhs
	if p.opt.NHSNumber != "" && nhs != p.opt.NHSNumber {
		return errIdentity
	}
	return nil
}

func (p *parser) demographics(t xmltok.Token) error {
	path := p.d.Path()
	n, err := p.d.ReadNode(t)
	if err != nil {
		return err
	}
	pt := &p.rec.Patient
	var given []string
	given = append(given, text(n, "FirstName"))
	given = append(given, strings.Fields(text(n, "MiddleNames"))...)
	pt.Name = record.NewHumanName(text(n, "Title"), given, text(n, "Surname"))
	if pt.BirthDate, err = p.date(n, path, "DateOfBirth"); err != nil {
		return err
	}
	if pt.DeceasedDate, err = p.date(n, path, "DateOfDeath"); err != nil {
		return err
	}
	pt.Deceased = !pt.DeceasedDate.IsZero()
	switch text(n, "Sex") {
	case "M":
		pt.Sex = record.SexMale
	case "F":
		pt.Sex = record.SexFemale
	}
	if a := n.Child("Address"); a != nil {
		pt.Address = address(a)
	}
	end, err := p.date(n, path, "CareEndDate")
	if err != nil {
		return err
	}
	// A future care end date is a planned deduction: still registered.
	pt.Deducted = !end.IsZero() && !end.T.After(p.now)
	return nil
}

// address maps a structured Address: house name, house number and road,
// locality as lines; town, county, postcode.
func address(a *xmltok.Node) record.Address {
	street := strings.TrimSpace(text(a, "HouseNumber") + " " + text(a, "Road"))
	lines := []string{text(a, "HouseName"), street, text(a, "Locality")}
	return record.NewAddress(lines, text(a, "Town"), text(a, "County"), text(a, "Postcode"))
}

func (p *parser) metadata() error {
	return p.each(func(t xmltok.Token) error {
		switch t.Local {
		case "Site":
			n, err := p.d.ReadNode(t)
			if err != nil {
				return err
			}
			if id := strings.TrimSpace(text(n, "ID")); id != "" {
				p.sites[id] = id
				if name := strings.TrimSpace(text(n, "Name")); name != "" {
					if _, taken := p.sites[name]; !taken {
						p.sites[name] = id
					}
				}
			}
			return nil
		case "User":
			n, err := p.d.ReadNode(t)
			if err != nil {
				return err
			}
			p.user(n)
			return nil
		}
		return p.d.Skip()
	})
}

// SystemSDSRoleCode is the code system of national RBAC role codes
// (REFERENCE.md, NCRS role codes), used for a user's RoleCode.
const SystemSDSRoleCode = "https://fhir.nhs.uk/Id/sds-role-code"

// user keeps a staff member's id, structured name and national role code;
// the free-text Role, access rights and groups are not kept.
func (p *parser) user(n *xmltok.Node) {
	id := strings.TrimSpace(text(n, "UserName"))
	if id == "" {
		return
	}
	var given []string
	given = append(given, text(n, "FirstName"))
	given = append(given, strings.Fields(text(n, "MiddleNames"))...)
	person := &record.Person{ID: id, Name: record.NewHumanName(text(n, "Title"), given, text(n, "Surname"))}
	if rc := roleCode(text(n, "RoleCode")); rc != "" {
		person.Role = record.Concept{Codings: []record.Coding{{System: SystemSDSRoleCode, Code: rc}}}
	}
	p.users[id] = person
}

// roleCode returns the national role code (R followed by four digits) of a
// RoleCode, which may be a job role code alone or an SDS triple such as
// S8001:G8005:R8000 (its last part).
func roleCode(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) != 5 || s[0] != 'R' {
		return ""
	}
	for i := 1; i < 5; i++ {
		if s[i] < '0' || s[i] > '9' {
			return ""
		}
	}
	return s
}

// date reads the optional date child name of n; path is n's own element
// path, for errors.
func (p *parser) date(n *xmltok.Node, path, name string) (record.Date, error) {
	c := n.Child(name)
	if c == nil || c.Text == "" {
		return record.Date{}, nil
	}
	d, ok := ParseDate(c.Text)
	if !ok {
		return record.Date{}, p.fail(c.Line, path+"/"+name, "invalid date")
	}
	return d, nil
}
