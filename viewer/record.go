package viewer

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// The FHIR JSON the viewer reads: only the elements it shows.

type coding struct {
	System       string `json:"system"`
	Code         string `json:"code"`
	Display      string `json:"display"`
	UserSelected bool   `json:"userSelected"`
}

type concept struct {
	Coding []coding `json:"coding"`
}

type extension struct {
	URL                  string   `json:"url"`
	ValueString          string   `json:"valueString"`
	ValueBoolean         *bool    `json:"valueBoolean"`
	ValueCode            string   `json:"valueCode"`
	ValueCodeableConcept *concept `json:"valueCodeableConcept"`
}

type quantity struct {
	Value      json.Number `json:"value"`
	Comparator string      `json:"comparator"`
	Unit       string      `json:"unit"`
	Code       string      `json:"code"`
	UnitExt    *struct {
		Extension []extension `json:"extension"`
	} `json:"_unit"`
}

type period struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type reference struct {
	Reference  string `json:"reference"`
	Identifier *struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"identifier"`
}

type resource struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Meta         struct {
		Security []coding `json:"security"`
	} `json:"meta"`
	Extension []extension `json:"extension"`

	Code                      *concept        `json:"code"`
	VaccineCode               *concept        `json:"vaccineCode"`
	MedicationCodeableConcept *concept        `json:"medicationCodeableConcept"`
	Category                  json.RawMessage `json:"category"`
	ClinicalStatus            *concept        `json:"clinicalStatus"`
	VerificationStatus        *concept        `json:"verificationStatus"`
	Status                    string          `json:"status"`
	Intent                    string          `json:"intent"`
	Priority                  string          `json:"priority"`

	OnsetDateTime      string  `json:"onsetDateTime"`
	AbatementDateTime  string  `json:"abatementDateTime"`
	RecordedDate       string  `json:"recordedDate"`
	EffectiveDateTime  string  `json:"effectiveDateTime"`
	EffectivePeriod    *period `json:"effectivePeriod"`
	AuthoredOn         string  `json:"authoredOn"`
	DateAsserted       string  `json:"dateAsserted"`
	PerformedDateTime  string  `json:"performedDateTime"`
	OccurrenceDateTime string  `json:"occurrenceDateTime"`
	Period             *period `json:"period"`

	ValueQuantity *quantity `json:"valueQuantity"`
	ValueString   string    `json:"valueString"`
	ValueRange    *struct {
		Low  *quantity `json:"low"`
		High *quantity `json:"high"`
	} `json:"valueRange"`
	ValueCodeableConcept *concept  `json:"valueCodeableConcept"`
	Interpretation       []concept `json:"interpretation"`
	ReferenceRange       []struct {
		Low  *quantity `json:"low"`
		High *quantity `json:"high"`
	} `json:"referenceRange"`
	Component []struct {
		Code          concept   `json:"code"`
		ValueQuantity *quantity `json:"valueQuantity"`
	} `json:"component"`
	HasMember []reference `json:"hasMember"`
	BasedOn   []reference `json:"basedOn"`

	DosageInstruction []struct {
		Text string `json:"text"`
	} `json:"dosageInstruction"`
	Dosage []struct {
		Text string `json:"text"`
	} `json:"dosage"`
	DispenseRequest *struct {
		Extension              []extension `json:"extension"`
		NumberOfRepeatsAllowed *int        `json:"numberOfRepeatsAllowed"`
		ValidityPeriod         *period     `json:"validityPeriod"`
	} `json:"dispenseRequest"`
	CourseOfTherapyType *concept `json:"courseOfTherapyType"`

	Class *coding   `json:"class"`
	Type  []concept `json:"type"`

	Reaction []struct {
		Substance *concept `json:"substance"`
	} `json:"reaction"`

	// Patient
	Name []struct {
		Prefix []string `json:"prefix"`
		Given  []string `json:"given"`
		Family string   `json:"family"`
	} `json:"name"`
	Gender     string `json:"gender"`
	BirthDate  string `json:"birthDate"`
	Identifier []struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"identifier"`
	Address []struct {
		Line       []string `json:"line"`
		City       string   `json:"city"`
		District   string   `json:"district"`
		PostalCode string   `json:"postalCode"`
	} `json:"address"`
	GeneralPractitioner []reference `json:"generalPractitioner"`

	// OperationOutcome
	Issue []struct {
		Code        string `json:"code"`
		Diagnostics string `json:"diagnostics"`
	} `json:"issue"`
}

// bundle is a searchset, all of its pages merged.
type bundle struct {
	Resources  []*resource
	Outcomes   []*resource
	Next       string
	Emergency  bool
	Incomplete bool // a page could not be read
}

func parseBundle(b []byte, h http.Header) (*bundle, error) {
	var raw struct {
		ResourceType string `json:"resourceType"`
		Link         []struct {
			Relation string `json:"relation"`
			URL      string `json:"url"`
		} `json:"link"`
		Entry []struct {
			Resource *resource `json:"resource"`
			Search   struct {
				Mode string `json:"mode"`
			} `json:"search"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(b, &raw); err != nil || raw.ResourceType != "Bundle" {
		return nil, fmt.Errorf("not a Bundle")
	}
	out := &bundle{Emergency: h != nil && h.Get("X-MIG-Emergency-Access") == "BTG"}
	for _, l := range raw.Link {
		if l.Relation == "next" {
			out.Next = l.URL
		}
	}
	for _, e := range raw.Entry {
		if e.Resource == nil {
			continue
		}
		for _, s := range e.Resource.Meta.Security {
			if s.Code == "BTG" {
				out.Emergency = true
			}
		}
		if e.Resource.ResourceType == "OperationOutcome" || e.Search.Mode == "outcome" {
			out.Outcomes = append(out.Outcomes, e.Resource)
			continue
		}
		out.Resources = append(out.Resources, e.Resource)
	}
	return out, nil
}

// merge adds a further page, keeping one Patient.
func (b *bundle) merge(p *bundle) {
	for _, r := range p.Resources {
		if r.ResourceType == "Patient" && b.patient() != nil {
			continue
		}
		b.Resources = append(b.Resources, r)
	}
	b.Outcomes = append(b.Outcomes, p.Outcomes...)
	b.Emergency = b.Emergency || p.Emergency
}

func (b *bundle) patient() *resource {
	for _, r := range b.Resources {
		if r.ResourceType == "Patient" {
			return r
		}
	}
	return nil
}

func (b *bundle) of(types ...string) []*resource {
	var out []*resource
	for _, r := range b.Resources {
		for _, t := range types {
			if r.ResourceType == t {
				out = append(out, r)
			}
		}
	}
	return out
}

// withheld reports the gateway's "something was withheld" outcome
// (issue code suppressed); notShown any other outcome note, which says
// coded items could not be shown.
func (b *bundle) withheld() bool {
	for _, o := range b.Outcomes {
		for _, i := range o.Issue {
			if i.Code == "suppressed" {
				return true
			}
		}
	}
	return false
}

func (b *bundle) notShown() bool {
	for _, o := range b.Outcomes {
		for _, i := range o.Issue {
			if i.Code != "suppressed" {
				return true
			}
		}
	}
	return false
}

// Code systems, as the viewer names them beside terms.
var systemNames = map[string]string{
	"http://snomed.info/sct":                     "SNOMED CT",
	"http://read.info/readv2":                    "Read v2",
	"http://read.info/ctv3":                      "CTV3",
	"http://loinc.org":                           "LOINC",
	"https://fhir.hl7.org.uk/Id/emis-drug-codes": "EMIS drug",
	"https://dmd.nhs.uk":                         "dm+d",
}

// term is a concept's term (the code as entered first, then any display),
// or "" when no term was given.
func (c *concept) term() string {
	if c == nil {
		return ""
	}
	for _, cd := range c.Coding {
		if cd.UserSelected && cd.Display != "" {
			return cd.Display
		}
	}
	for _, cd := range c.Coding {
		if cd.Display != "" && cd.System != "http://loinc.org" {
			return cd.Display
		}
	}
	for _, cd := range c.Coding {
		if cd.Display != "" {
			return cd.Display
		}
	}
	return ""
}

// codes lists a concept's codes as "Read v2 C10F.00", LOINC last.
func (c *concept) codes() []string {
	if c == nil {
		return nil
	}
	var out, loinc []string
	for _, cd := range c.Coding {
		if cd.Code == "" || cd.System == "http://terminology.hl7.org/CodeSystem/data-absent-reason" {
			continue
		}
		name, ok := systemNames[cd.System]
		if !ok {
			name = "Local"
		}
		s := name + " " + cd.Code
		if cd.System == "http://loinc.org" {
			loinc = append(loinc, s)
			continue
		}
		out = append(out, s)
	}
	return append(out, loinc...)
}

func (c *concept) has(system, code string) bool {
	if c == nil {
		return false
	}
	for _, cd := range c.Coding {
		if cd.System == system && cd.Code == code {
			return true
		}
	}
	return false
}

func (c *concept) firstCode() string {
	if c == nil || len(c.Coding) == 0 {
		return ""
	}
	return c.Coding[0].Code
}

// categories returns a resource's category codes (CodeableConcepts, or
// AllergyIntolerance's plain codes).
func (r *resource) categories() []string {
	var ccs []concept
	if json.Unmarshal(r.Category, &ccs) == nil {
		var out []string
		for _, c := range ccs {
			for _, cd := range c.Coding {
				out = append(out, cd.Code)
			}
		}
		return out
	}
	var codes []string
	_ = json.Unmarshal(r.Category, &codes)
	return codes
}

func (r *resource) hasCategory(code string) bool {
	for _, c := range r.categories() {
		if c == code {
			return true
		}
	}
	return false
}

func (r *resource) hasExtension(url string) bool {
	for _, e := range r.Extension {
		if e.URL == url {
			return e.ValueBoolean == nil || *e.ValueBoolean
		}
	}
	return false
}

// Dates. FHIR dates are YYYY, YYYY-MM, YYYY-MM-DD or a dateTime; shown as
// "15 Sep 2026", "Sep 2026", "2026", or with the UK local time.

var ukTime = loadUK()

func loadUK() *time.Location {
	if l, err := time.LoadLocation("Europe/London"); err == nil {
		return l
	}
	return time.UTC
}

func showDate(s string) string {
	switch len(s) {
	case 0:
		return ""
	case 4:
		return s
	case 7:
		if t, err := time.Parse("2006-01", s); err == nil {
			return t.Format("Jan 2006")
		}
	case 10:
		if t, err := time.Parse("2006-01-02", s); err == nil {
			return t.Format("2 Jan 2006")
		}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.In(ukTime).Format("2 Jan 2006 15:04")
	}
	return s
}

// dateKey sorts FHIR dates of any precision.
func dateKey(s string) string {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC().Format("2006-01-02T15:04:05")
	}
	return s
}

// cell is one table cell.
type cell struct {
	Text  string
	Codes []string
	Note  string // small print under the text
	Flag  string // a warning tag beside the text
	Key   string // sort key (dates)
}

type row struct {
	Cells []cell
	Key   string
}

// section is one table of a tab (or its empty state).
type section struct {
	ID      string
	Title   string
	Columns []string
	Rows    []row
	Empty   string   // said when there are no rows
	Notes   []string // said above the table
}

func (s *section) sortRows(asc bool) {
	sort.SliceStable(s.Rows, func(i, j int) bool {
		if asc {
			return s.Rows[i].Key < s.Rows[j].Key
		}
		return s.Rows[i].Key > s.Rows[j].Key
	})
}

func dateCell(s string) cell {
	return cell{Text: showDate(s), Key: dateKey(s)}
}

func conceptCell(c *concept) cell {
	t := c.term()
	if t == "" {
		t = "term not available"
	}
	return cell{Text: t, Codes: c.codes()}
}

// showQuantity renders a value with its comparator and unit; a unit the
// gateway withheld (a data-absent-reason on unit) is said so.
func showQuantity(q *quantity) (value, unit string) {
	if q == nil {
		return "", ""
	}
	value = q.Comparator + q.Value.String()
	unit = q.Unit
	if unit == "" {
		unit = q.Code
	}
	if q.UnitExt != nil {
		for _, e := range q.UnitExt.Extension {
			if strings.Contains(e.URL, "data-absent-reason") {
				unit = "unit withheld"
			}
		}
	}
	return value, unit
}

func interpretation(r *resource) string {
	for _, c := range r.Interpretation {
		for _, cd := range c.Coding {
			switch cd.Code {
			case "H", "HH", "HU":
				return "High"
			case "L", "LL", "LU":
				return "Low"
			case "A", "AA":
				return "Abnormal"
			case "N":
				return "Normal"
			case "":
			default:
				if cd.Display != "" {
					return cd.Display
				}
				return cd.Code
			}
		}
	}
	return ""
}

func rangeText(r *resource) string {
	if len(r.ReferenceRange) == 0 {
		return ""
	}
	rr := r.ReferenceRange[0]
	lo, lu := showQuantity(rr.Low)
	hi, hu := showQuantity(rr.High)
	unit := lu
	if unit == "" {
		unit = hu
	}
	switch {
	case lo != "" && hi != "":
		return strings.TrimSpace(lo + " to " + hi + " " + unit)
	case lo != "":
		return strings.TrimSpace("above " + lo + " " + unit)
	case hi != "":
		return strings.TrimSpace("below " + hi + " " + unit)
	}
	return ""
}

func statusText(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ReplaceAll(s, "-", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}
