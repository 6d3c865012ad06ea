package ips

import (
	"html"
	"strings"
	"time"

	"mig/adapters/record"

	c "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	obspb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/observation_go_proto"
)

// The narrative (section.text, Composition.text) is generated, and never
// a new channel for free text: its cells are read only from the mapped
// resources' codes and the displays the mapper already chose under the
// term rules (fhir.TermPolicy), dates, status codes and vetted quantities,
// and from fixed words of ours. Nothing in it comes from a record that the
// section's entries do not already show; dosage text, the one free-text
// exception, is left to the entries. Every value is escaped for XHTML.

// table is a section's generated narrative: a header, one row per entry,
// then the section's statements (withheld, empty).
type table struct {
	head  []string
	rows  [][]string
	lines []string
}

// xhtml renders t as a FHIR narrative div.
func (t *table) xhtml() string {
	var b strings.Builder
	b.WriteString(`<div xmlns="http://www.w3.org/1999/xhtml">`)
	if len(t.rows) > 0 {
		b.WriteString("<table><thead><tr>")
		for _, h := range t.head {
			b.WriteString("<th>")
			b.WriteString(esc(h))
			b.WriteString("</th>")
		}
		b.WriteString("</tr></thead><tbody>")
		for _, r := range t.rows {
			b.WriteString("<tr>")
			for _, c := range r {
				b.WriteString("<td>")
				b.WriteString(esc(c))
				b.WriteString("</td>")
			}
			b.WriteString("</tr>")
		}
		b.WriteString("</tbody></table>")
	}
	for _, l := range t.lines {
		b.WriteString("<p>")
		b.WriteString(esc(l))
		b.WriteString("</p>")
	}
	b.WriteString("</div>")
	return b.String()
}

// esc escapes s for XHTML text, replacing what XML 1.0 cannot hold
// (control characters, invalid UTF-8) with a space.
func esc(s string) string {
	s = strings.ToValidUTF8(s, " ")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
			return ' '
		}
		return r
	}, s)
	return html.EscapeString(s)
}

const statusGenerated = c.NarrativeStatusCode_GENERATED

func narrative(div string) *d.Narrative {
	return &d.Narrative{Status: &d.Narrative_StatusCode{Value: statusGenerated}, Div: &d.Xhtml{Value: div}}
}

// systemLabels name the code systems a code is shown with when no display
// is shown for it.
var systemLabels = map[string]string{
	record.SystemSNOMED: "SNOMED CT",
	record.SystemReadV2: "Read v2",
	record.SystemCTV3:   "CTV3",
	record.SystemLOINC:  "LOINC",
}

// conceptText is what the narrative shows for a concept: the first
// display the mapper set, else the first code with its system's name.
func conceptText(cc *d.CodeableConcept) string {
	for _, cd := range cc.GetCoding() {
		if v := cd.GetDisplay().GetValue(); v != "" {
			return v
		}
	}
	for _, cd := range cc.GetCoding() {
		if code := cd.GetCode().GetValue(); code != "" {
			if l := systemLabels[cd.GetSystem().GetValue()]; l != "" {
				return l + " " + code
			}
			return "code " + code
		}
	}
	return ""
}

// codeOf is the code (not display) of a status concept.
func codeOf(cc *d.CodeableConcept) string {
	for _, cd := range cc.GetCoding() {
		if c := cd.GetCode().GetValue(); c != "" {
			return c
		}
	}
	return ""
}

// enumCode turns a proto enum name (ENTERED_IN_ERROR) into its FHIR code.
func enumCode(name string) string {
	if name == "INVALID_UNINITIALIZED" {
		return ""
	}
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

func dateText(dt *d.DateTime) string {
	if dt == nil {
		return ""
	}
	t := time.UnixMicro(dt.GetValueUs()).UTC()
	switch dt.GetPrecision() {
	case d.DateTime_YEAR:
		return t.Format("2006")
	case d.DateTime_MONTH:
		return t.Format("2006-01")
	}
	return t.Format("2006-01-02")
}

func periodStart(p *d.Period) string { return dateText(p.GetStart()) }

var comparators = map[string]string{"LESS_THAN": "<", "LESS_THAN_OR_EQUAL_TO": "<=", "GREATER_THAN_OR_EQUAL_TO": ">=", "GREATER_THAN": ">"}

func quantityText(q *d.Quantity) string {
	if q == nil {
		return ""
	}
	return valueText(comparators[q.GetComparator().GetValue().String()], q.GetValue(), q.GetUnit())
}

func simpleQuantityText(q *d.SimpleQuantity) string {
	if q == nil {
		return ""
	}
	return valueText("", q.GetValue(), q.GetUnit())
}

// valueText is a number with its comparator and its unit; a unit element
// without text is a unit the mapper withheld (it could not be vetted).
func valueText(comparator string, v *d.Decimal, unit *d.String) string {
	if v.GetValue() == "" {
		return ""
	}
	s := comparator + v.GetValue()
	switch {
	case unit.GetValue() != "":
		return s + " " + unit.GetValue()
	case unit != nil:
		return s + " (unit not shown)"
	}
	return s
}

func rangeText(r *d.Range) string {
	lo, hi := simpleQuantityText(r.GetLow()), simpleQuantityText(r.GetHigh())
	switch {
	case lo != "" && hi != "":
		return lo + " to " + hi
	case lo != "":
		return ">= " + lo
	case hi != "":
		return "<= " + hi
	}
	return ""
}

func observationValue(o *obspb.Observation) string {
	var v string
	switch {
	case o.GetValue().GetQuantity() != nil:
		v = quantityText(o.GetValue().GetQuantity())
	case o.GetValue().GetRange() != nil:
		v = rangeText(o.GetValue().GetRange())
	case o.GetValue().GetCodeableConcept() != nil:
		v = conceptText(o.GetValue().GetCodeableConcept())
	}
	var parts []string
	for _, comp := range o.GetComponent() {
		if q := quantityText(comp.GetValue().GetQuantity()); q != "" {
			parts = append(parts, conceptText(comp.GetCode())+" "+q)
		} else {
			parts = append(parts, conceptText(comp.GetCode())+" not recorded")
		}
	}
	if len(parts) > 0 {
		if v != "" {
			parts = append([]string{v}, parts...)
		}
		v = strings.Join(parts, "; ")
	}
	for _, in := range o.GetInterpretation() {
		if t := conceptText(in); t != "" {
			v += " (" + t + ")"
		}
	}
	if v == "" {
		return "no value recorded"
	}
	return v
}

func observationDate(o *obspb.Observation) string {
	if dt := o.GetEffective().GetDateTime(); dt != nil {
		return dateText(dt)
	}
	return periodStart(o.GetEffective().GetPeriod())
}

// row is the narrative row of one entry of a section.
func row(cr *bcrpb.ContainedResource) []string {
	switch {
	case cr.GetCondition() != nil:
		cond := cr.GetCondition()
		return []string{conceptText(cond.GetCode()), codeOf(cond.GetClinicalStatus()), dateText(cond.GetOnset().GetDateTime())}
	case cr.GetAllergyIntolerance() != nil:
		a := cr.GetAllergyIntolerance()
		since := dateText(a.GetOnset().GetDateTime())
		if since == "" {
			since = dateText(a.GetRecordedDate())
		}
		return []string{conceptText(a.GetCode()), codeOf(a.GetClinicalStatus()), since}
	case cr.GetMedicationStatement() != nil:
		m := cr.GetMedicationStatement()
		since := dateText(m.GetEffective().GetDateTime())
		if since == "" {
			since = periodStart(m.GetEffective().GetPeriod())
		}
		return []string{conceptText(m.GetMedication().GetCodeableConcept()), enumCode(m.GetStatus().GetValue().String()), since}
	case cr.GetMedicationRequest() != nil:
		m := cr.GetMedicationRequest()
		return []string{conceptText(m.GetMedication().GetCodeableConcept()), enumCode(m.GetStatus().GetValue().String()), dateText(m.GetAuthoredOn())}
	case cr.GetImmunization() != nil:
		im := cr.GetImmunization()
		when := dateText(im.GetOccurrence().GetDateTime())
		if when == "" {
			when = "date not recorded"
		}
		return []string{conceptText(im.GetVaccineCode()), when}
	case cr.GetObservation() != nil:
		o := cr.GetObservation()
		return []string{conceptText(o.GetCode()), observationValue(o), observationDate(o)}
	}
	return nil
}
