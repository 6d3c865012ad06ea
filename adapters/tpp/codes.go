package tpp

import (
	"strings"

	"mig/adapters/record"
	"mig/adapters/xmltok"
)

// Code schemes of the Code element (TppPatientRecord.xsd CodeScheme) and
// drug schemes of the Drug element (DrugScheme).
const (
	schemeCTV3   = "CTV3"
	schemeSNOMED = "Snomed"
	drugDmd      = "Dmd"
)

// Concept builds a concept from Code elements (attributes Scheme, Code,
// Term), the first as entered and the rest as its translations. CTV3 maps
// to record.SystemCTV3 and Snomed to record.SystemSNOMED, with their terms.
// TPP local codes (CTV3 codes starting with Y, malformed codes, any other
// scheme) become record.SystemTPPLocal codings without their terms, and
// are kept only beside a national coding: ok is false when no national
// coding is left.
func Concept(codes []*xmltok.Node) (c record.Concept, ok bool) {
	for _, n := range codes {
		code := strings.TrimSpace(n.Attr("Code"))
		if code == "" {
			continue
		}
		cd := record.Coding{System: record.SystemTPPLocal, Code: code}
		switch n.Attr("Scheme") {
		case schemeCTV3:
			if nationalCTV3(code) {
				cd = record.Coding{System: record.SystemCTV3, Code: code, Term: record.NewTerm(n.Attr("Term"))}
			}
		case schemeSNOMED:
			if record.ValidSCTID(code) {
				// a description id goes to DescriptionID, never Code
				cd = record.SNOMEDCoding(code, record.NewTerm(n.Attr("Term")))
			}
		}
		if !c.Has(cd) {
			c.Codings = append(c.Codings, cd)
		}
	}
	for _, cd := range c.Codings {
		if cd.System != record.SystemTPPLocal {
			return c, true
		}
	}
	return record.Concept{}, false
}

// localConcept is the concept of Code elements that Concept left out (no
// national coding): their codes under record.SystemTPPLocal, without
// terms, so that the item is accounted for as not classifiable. Zero when
// no code looks like a code.
func localConcept(codes []*xmltok.Node) record.Concept {
	var c record.Concept
	for _, n := range codes {
		code := strings.TrimSpace(n.Attr("Code"))
		if !record.CodeShaped(code) {
			continue
		}
		cd := record.Coding{System: record.SystemTPPLocal, Code: code}
		if !c.Has(cd) {
			c.Codings = append(c.Codings, cd)
		}
	}
	return c
}

// drugAllergyHeading is CTV3 (and Read v2) 14L.. "H/O: drug allergy": the
// national heading a drug allergy or sensitivity whose allergen is not
// coded is recorded under in GP2GP (the degraded drug allergy shape in
// ../shared/reference/gp2gp/fragments/AllergyIntolerance).
var drugAllergyHeading = record.Coding{System: record.SystemCTV3, Code: "14L.."}

// allergyHeading reports whether c's code as entered is a generic allergy
// heading, so that the allergen is not in the code.
func allergyHeading(c record.Concept) bool {
	return len(c.Codings) > 0 && record.AllergyHeading(c.Codings[0])
}

// nationalCTV3 reports whether code is a national CTV3 code: five
// characters of letters, digits and dots, not in TPP's local Y range.
func nationalCTV3(code string) bool {
	if len(code) != 5 || code[0] == 'Y' {
		return false
	}
	for i := 0; i < 5; i++ {
		c := code[i]
		if !(c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// drugConcept maps a Drug element: a dm+d product is a SNOMED code with
// the drug's full name as its term. Multilex (a supplier dictionary) and
// anything else is not a national code: ok is false.
func drugConcept(n *xmltok.Node) (c record.Concept, key string, ok bool) {
	id := strings.TrimSpace(n.Attr("ProductID"))
	if n.Attr("Scheme") != drugDmd || !record.ValidSCTID(id) {
		return record.Concept{}, "", false
	}
	return record.Concept{Codings: []record.Coding{record.SNOMEDCoding(id, record.NewTerm(n.Attr("FullName")))}}, id, true
}

// hasReadTwin reports whether c's as-entered CTV3 code reads as a Read v2
// code, so that the classifier's chapter rules decided its kind.
func hasReadTwin(c record.Concept) bool {
	for _, cd := range c.Codings {
		if cd.System == record.SystemCTV3 {
			if _, ok := record.ReadTwin(cd.Code); ok {
				return true
			}
		}
	}
	return false
}

// readPrefix reports whether c has a CTV3 code with a Read twin starting
// with prefix.
func readPrefix(c record.Concept, prefix string) bool {
	for _, cd := range c.Codings {
		if cd.System == record.SystemCTV3 {
			if twin, ok := record.ReadTwin(cd.Code); ok && strings.HasPrefix(twin, prefix) {
				return true
			}
		}
	}
	return false
}

// noKnownAllergy are SNOMED CT situations recording that no allergy is
// known: 716186003 no known allergy, 409137002 no known drug allergy,
// 428607008 no known environmental allergy, 429625007 no known food
// allergy, 428197003 no known insect allergy.
var noKnownAllergy = map[string]bool{
	"716186003": true, "409137002": true, "428607008": true, "429625007": true, "428197003": true,
}

func isNoKnownAllergy(c record.Concept) bool {
	for _, cd := range c.Codings {
		if cd.System == record.SystemSNOMED && noKnownAllergy[cd.Code] {
			return true
		}
	}
	return false
}

// isDecimal reports whether s is an xs:decimal: optional sign, digits with
// at most one decimal point, at least one digit.
func isDecimal(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

// bpUnit normalises the ways a blood pressure unit is written to UCUM;
// no unit means SystmOne's default for the code, mm[Hg]. The result still
// goes through Quantity.SetUnit.
func bpUnit(u string) string {
	switch strings.ToLower(strings.ReplaceAll(u, " ", "")) {
	case "", "mmhg", "mm[hg]":
		return "mm[Hg]"
	}
	return u
}

// text returns the trimmed text of n's first child element name, or "".
func text(n *xmltok.Node, name string) string {
	if c := n.Child(name); c != nil {
		return c.Text
	}
	return ""
}
