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
// originalText is never read.
func concept(n *xmltok.Node) record.Concept {
	if n == nil {
		return record.Concept{}
	}
	var c record.Concept
	national := false
	add := func(m *xmltok.Node) {
		code := strings.TrimSpace(m.Attr("code"))
		if code == "" || m.Attr("nullFlavor") != "" || len(code) > 64 {
			return
		}
		oid := m.Attr("codeSystem")
		cd := record.Coding{Code: code}
		if sys := nationalSystem(oid); sys != "" {
			cd.System = sys
			cd.Term = record.NewTerm(m.Attr("displayName"))
			national = true
		} else if sys := localSystem(oid); sys != "" {
			cd.System = sys
		} else {
			return
		}
		for _, have := range c.Codings {
			if have.System == cd.System && have.Code == cd.Code {
				return
			}
		}
		c.Codings = append(c.Codings, cd)
	}
	add(n)
	for _, t := range n.All("translation") {
		add(t)
	}
	if !national {
		return record.Concept{}
	}
	return c
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

// quantity reads a PQ element's value and unit (unit "1", unity, which
// GP2GP senders use when the real unit is only in free text, is dropped).
func quantity(n *xmltok.Node) *record.Quantity {
	if n == nil || n.Attr("nullFlavor") != "" {
		return nil
	}
	v := strings.TrimSpace(n.Attr("value"))
	if !isNumber(v) {
		return nil
	}
	q := &record.Quantity{Value: v}
	if u := strings.TrimSpace(n.Attr("unit")); u != "1" && len(u) <= 32 {
		q.Unit = u
	}
	return q
}

func isNumber(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil && !strings.ContainsAny(s, "xXnNiI_")
}

// xsiType returns the xsi:type of a value element, without any prefix.
func xsiType(n *xmltok.Node) string {
	for _, a := range n.Attrs {
		if a.Local == "type" && (a.Space == "http://www.w3.org/2001/XMLSchema-instance" || a.Space == "xsi") {
			t := a.Value
			if i := strings.IndexByte(t, ':'); i >= 0 {
				t = t[i+1:]
			}
			return t
		}
	}
	return ""
}

// interpretation maps a GP2GP interpretationCode to HL7 v3
// ObservationInterpretation.
func interpretation(n *xmltok.Node) record.Concept {
	if n == nil {
		return record.Concept{}
	}
	code := map[string]string{"HI": "H", "LO": "L", "PA": "A", "H": "H", "L": "L", "A": "A",
		"HH": "HH", "LL": "LL", "N": "N", "AA": "AA"}[strings.ToUpper(strings.TrimSpace(n.Attr("code")))]
	if code == "" {
		return record.Concept{}
	}
	return record.Concept{Codings: []record.Coding{{System: systemInterpretation, Code: code}}}
}

const systemInterpretation = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
