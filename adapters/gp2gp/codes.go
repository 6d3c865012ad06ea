package gp2gp

import (
	"strconv"
	"strings"

	"mig/adapters/record"
	"mig/adapters/xmltok"
)

// Code system OIDs used in GP2GP code/@codeSystem (REFERENCE.md).
const (
	oidReadV2    = "2.16.840.1.113883.2.1.6.2"
	oidCTV3      = "2.16.840.1.113883.2.1.3.2.4.14"
	oidSNOMED    = "2.16.840.1.113883.2.1.3.2.4.15"
	oidEMISDrug  = "2.16.840.1.113883.2.1.6.9" // EMIS preparation codes
	oidNHSNumber = "2.16.840.1.113883.2.1.4.1"
)

// nationalSystem returns the URI of a national code system (the only ones
// whose terms may be kept), or "".
func nationalSystem(oid string) string {
	switch oid {
	case oidReadV2:
		return record.SystemReadV2
	case oidCTV3:
		return record.SystemCTV3
	case oidSNOMED:
		return record.SystemSNOMED
	}
	return ""
}

// localSystem names a local (practice or supplier) code system. Local codes
// are kept only beside a national code, and never with their terms.
func localSystem(oid string) string {
	if oid == oidEMISDrug {
		return record.SystemEMISDrug
	}
	if oid == "" || !isOID(oid) {
		return ""
	}
	return "urn:oid:" + oid
}

func isOID(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}

// concept reads a CD/CV element: the code as entered first, then its
// translations. Terms are kept only for national codes; local codings are
// kept (without term) only when a national coding accompanies them.
// originalText is never read. A SNOMED CT code goes through
// record.SNOMEDCoding, so a description id is never kept as a concept id.
func concept(n *xmltok.Node) record.Concept {
	c, national := codings(n)
	if !national {
		return record.Concept{}
	}
	return c
}

// statementCode reads a statement's code: concept's result when a national
// code is there; otherwise the local codings alone (without terms), so that
// a statement coded only locally is kept as an unclassifiable entry (never
// shown, counted by --report by system and code) instead of vanishing.
func statementCode(n *xmltok.Node) (c record.Concept, national bool) {
	return codings(n)
}

func codings(n *xmltok.Node) (record.Concept, bool) {
	if n == nil {
		return record.Concept{}, false
	}
	var c record.Concept
	national := false
	add := func(m *xmltok.Node) {
		code := strings.TrimSpace(m.Attr("code"))
		if code == "" || m.Attr("nullFlavor") != "" || len(code) > 64 {
			return
		}
		oid := strings.TrimSpace(m.Attr("codeSystem"))
		var cd record.Coding
		if sys := nationalSystem(oid); sys == record.SystemSNOMED {
			cd = record.SNOMEDCoding(code, record.NewTerm(m.Attr("displayName")))
			national = true
		} else if sys != "" {
			cd = record.Coding{System: sys, Code: code, Term: record.NewTerm(m.Attr("displayName"))}
			national = true
		} else if sys := localSystem(oid); sys != "" {
			cd = record.Coding{System: sys, Code: code}
		} else {
			return
		}
		if c.Has(cd) {
			return
		}
		c.Codings = append(c.Codings, cd)
	}
	add(n)
	for _, t := range n.All("translation") {
		add(t)
	}
	if national {
		return c, true
	}
	// Local codings only: kept without terms (they are free text).
	return c, false
}

// isNational reports whether c holds a national coding.
func isNational(c record.Concept) bool {
	for _, cd := range c.Codings {
		if cd.System == record.SystemReadV2 || cd.System == record.SystemCTV3 || cd.System == record.SystemSNOMED {
			return true
		}
	}
	return false
}

// sameCode reports whether a and b share a coding.
func sameCode(a, b record.Concept) bool {
	for _, x := range a.Codings {
		for _, y := range b.Codings {
			if x.System == y.System && x.Code == y.Code {
				return true
			}
		}
	}
	return false
}

// hasCode reports whether c holds a coding in system whose code (Read v2 cut
// to five characters) is one of codes.
func hasCode(c record.Concept, system string, codes ...string) bool {
	for _, cd := range c.Codings {
		if cd.System != system {
			continue
		}
		code := cd.Code
		if system == record.SystemReadV2 {
			code = record.ReadV2Base(code)
		}
		for _, want := range codes {
			if code == want {
				return true
			}
		}
	}
	return false
}

// noKnownAllergy reports whether c codes "no known allergies" (or a
// narrower "no known ... allergy"). SNOMED CT: 716186003 No known allergy,
// 409137002 No known drug allergy, 428607008 No known environmental
// allergy, 429625007 No known food allergy, 428197003 No known insect
// allergy, 716220001 No known animal allergy.
func noKnownAllergy(c record.Concept) bool {
	return hasCode(c, record.SystemSNOMED, "716186003", "409137002", "428607008", "429625007",
		"428197003", "716220001")
}

// quantity reads a PQ element's value and unit. GP2GP senders often write
// unit="1" (unity) and put the unit the laboratory reported in
// translation/originalText; the unit is then taken from there. Either way
// it goes through Quantity.SetUnit, which keeps only a vetted unit (valid
// UCUM or a known GP unit string) and otherwise marks the unit withheld:
// originalText is free text, and only a string on that fixed vocabulary is
// ever kept from it.
func quantity(n *xmltok.Node) *record.Quantity {
	if n == nil || n.Attr("nullFlavor") != "" {
		return nil
	}
	v := strings.TrimSpace(n.Attr("value"))
	if !isNumber(v) {
		return nil
	}
	q := &record.Quantity{Value: v}
	unit := strings.TrimSpace(n.Attr("unit"))
	if unit == "" || unit == "1" {
		for _, t := range n.All("translation") {
			if ot := t.Child("originalText"); ot != nil && ot.Text != "" {
				unit = ot.Text
				break
			}
		}
	}
	q.SetUnit(unit)
	return q
}

// value reads an observation's value as a quantity: PQ (also a value with
// no xsi:type but a number in its value attribute, which some senders
// write), or IVL_PQ. An interval with one bound is a result such as "<0.5"
// or ">90": its bound with a comparator ("<" or "<=" for high only, ">" or
// ">=" for low only; HL7 v3 bounds are inclusive unless inclusive="false").
// An interval with both bounds: equal bounds are that value; otherwise, as
// one number (a blood pressure half), at least its low bound (">=" or ">"),
// a true statement; a result keeps both bounds through valueOrRange.
func value(v *xmltok.Node) *record.Quantity {
	if v == nil || v.Attr("nullFlavor") != "" {
		return nil
	}
	switch xsiType(v) {
	case "PQ":
		return quantity(v)
	case "IVL_PQ":
		lo, hi := v.Child("low"), v.Child("high")
		lq, hq := quantity(lo), quantity(hi)
		switch {
		case lq != nil && hq != nil:
			if lq.Value == hq.Value {
				return lq
			}
			lq.Comparator = ">="
			if exclusive(lo) {
				lq.Comparator = ">"
			}
			return lq
		case lq != nil:
			lq.Comparator = ">="
			if exclusive(lo) {
				lq.Comparator = ">"
			}
			return lq
		case hq != nil:
			hq.Comparator = "<="
			if exclusive(hi) {
				hq.Comparator = "<"
			}
			return hq
		}
		if c := v.Child("center"); c != nil {
			return quantity(c)
		}
		return nil
	case "INT", "REAL":
		// A number with no unit (HL7 v3 INT, REAL).
		if s := strings.TrimSpace(v.Attr("value")); isNumber(s) {
			return &record.Quantity{Value: s}
		}
	case "":
		if v.Attr("value") != "" && v.Attr("code") == "" {
			return quantity(v)
		}
	}
	return nil
}

// valueOrRange reads a result's value: a quantity, or, for an interval with
// two different bounds, the interval itself (valueRange), so neither bound
// is lost. FHIR's Range has no comparator, so an exclusive bound there is
// kept as its number.
func valueOrRange(v *xmltok.Node) (*record.Quantity, *record.Range) {
	if v != nil && xsiType(v) == "IVL_PQ" && v.Attr("nullFlavor") == "" {
		lq, hq := quantity(v.Child("low")), quantity(v.Child("high"))
		if lq != nil && hq != nil && lq.Value != hq.Value {
			return nil, &record.Range{Low: lq, High: hq}
		}
	}
	return value(v), nil
}

func exclusive(n *xmltok.Node) bool {
	return strings.EqualFold(strings.TrimSpace(n.Attr("inclusive")), "false")
}

func isNumber(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil && !strings.ContainsAny(s, "xXnNiI_")
}

// xsiType returns the xsi:type of a value element, without any prefix.
// Some senders write the type without its namespace (type="CD"): read too.
func xsiType(n *xmltok.Node) string {
	t := ""
	for _, a := range n.Attrs {
		if a.Local == "type" && (a.Space == "http://www.w3.org/2001/XMLSchema-instance" || a.Space == "xsi" || a.Space == "") {
			t = a.Value
			if a.Space != "" {
				break
			}
		}
	}
	if i := strings.IndexByte(t, ':'); i >= 0 {
		t = t[i+1:]
	}
	return strings.TrimSpace(t)
}

// oidInterpretation is the GP2GP interpretation code system (NHS
// "Interpretation" codes: HI, LO, OR, HH, LL, AA, PA ...).
const oidInterpretation = "2.16.840.1.113883.2.1.6.5"

// interpretation maps a GP2GP interpretationCode to HL7 v3
// ObservationInterpretation, the coding the FHIR mapper shows: HI above
// high reference limit -> H; LO below low reference limit -> L; HH, LL, AA
// as themselves; PA potentially abnormal and OR outside reference range
// (abnormal) -> A; N normal. A code outside this table (or a nullFlavor)
// gives no interpretation: it is never guessed.
func interpretation(n *xmltok.Node) record.Concept {
	if n == nil || n.Attr("nullFlavor") != "" {
		return record.Concept{}
	}
	if sys := strings.TrimSpace(n.Attr("codeSystem")); sys != "" && sys != oidInterpretation {
		return record.Concept{}
	}
	code := map[string]string{"HI": "H", "LO": "L", "PA": "A", "OR": "A", "H": "H", "L": "L", "A": "A",
		"HH": "HH", "LL": "LL", "N": "N", "AA": "AA"}[strings.ToUpper(strings.TrimSpace(n.Attr("code")))]
	if code == "" {
		return record.Concept{}
	}
	return record.Concept{Codings: []record.Coding{{System: systemInterpretation, Code: code}}}
}

const systemInterpretation = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
