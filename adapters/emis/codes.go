package emis

import (
	"strconv"
	"strings"

	"mig/adapters/record"
	"mig/adapters/xmltok"
)

// Code schemes as EMIS Open writes them in <Scheme> and <MapScheme>.
const (
	schemeRead2           = "READ2"
	schemeCTV3            = "CTV3"
	schemeRead3           = "READ3"
	schemeSNOMED          = "SNOMED"
	schemeDMD             = "DMD"
	schemeEMISPreparation = "EMISPREPARATION"
)

// nationalSystem returns the code system URI of a national scheme, or "".
func nationalSystem(scheme string) string {
	switch strings.ToUpper(strings.TrimSpace(scheme)) {
	case schemeRead2:
		return record.SystemReadV2
	case schemeCTV3, schemeRead3:
		return record.SystemCTV3
	case schemeSNOMED, schemeDMD, "DM+D":
		return record.SystemSNOMED
	}
	return ""
}

// normaliseCode checks a code's shape for its system and returns it in the
// form the record keeps (Read v2 padded to five characters, its two-digit
// term suffix cut), or false when it cannot be a code of that system. EMIS
// writes local codes under READ2 too (EMISxxx, longer codes): those fail.
func normaliseCode(system, code string) (string, bool) {
	code = strings.TrimSpace(code)
	switch system {
	case record.SystemReadV2:
		if i := strings.IndexByte(code, '-'); i > 0 { // EMIS synonym suffix
			code = code[:i]
		}
		if len(code) == 7 && isDigit(code[5]) && isDigit(code[6]) {
			code = code[:5]
		}
		if len(code) == 0 || len(code) > 5 || !readChars(code) || code[0] == '.' {
			return "", false
		}
		for len(code) < 5 {
			code += "."
		}
		return code, true
	case record.SystemCTV3:
		if len(code) != 5 || !readChars(code) {
			return "", false
		}
		return code, true
	case record.SystemSNOMED:
		// A well-formed SCTID whose Verhoeff check digit is right: anything
		// else in a SNOMED slot is not a SNOMED code.
		if !record.ValidSCTID(code) {
			return "", false
		}
		return code, true
	}
	return "", false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func readChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.') {
			return false
		}
	}
	return true
}

// concept turns a <Code> (StringCodeType) or <PreparationID>
// (IntegerCodeType) element into a Concept: the code as entered first, then
// its map. Rules:
//   - a national code (READ2, CTV3, SNOMED) keeps its term;
//   - an EMIS preparation (drug) code is kept under SystemEMISDrug without a
//     term; its dictionary name goes onto the dm+d map coding, if any;
//   - any other code (EMIS local schemes, local codes written under READ2,
//     unknown schemes) is kept only when a national map accompanies it, and
//     its term is dropped: it is free text.
//
// A zero Concept means nothing usable was coded.
func concept(n *xmltok.Node) record.Concept {
	if n == nil {
		return record.Concept{}
	}
	value := strings.TrimSpace(txt(n, "Value"))
	scheme := strings.ToUpper(strings.TrimSpace(txt(n, "Scheme")))
	var c record.Concept

	var mapped record.Coding
	if sys := nationalSystem(txt(n, "MapScheme")); sys != "" {
		if code, ok := normaliseCode(sys, txt(n, "MapCode")); ok {
			mapped = coding(sys, code, record.Term{})
		}
	}

	switch {
	case scheme == schemeEMISPreparation:
		if !positiveInt(value) {
			break
		}
		c.Codings = append(c.Codings, record.Coding{System: record.SystemEMISDrug, Code: value})
		if mapped.System == record.SystemSNOMED {
			mapped.Term = record.NewTerm(txt(n, "Term"))
		}
	case nationalSystem(scheme) != "":
		sys := nationalSystem(scheme)
		if code, ok := normaliseCode(sys, value); ok {
			c.Codings = append(c.Codings, coding(sys, code, record.NewTerm(txt(n, "Term"))))
			break
		}
		fallthrough // a local code written under a national scheme
	default:
		if mapped.System == "" {
			return record.Concept{}
		}
		if record.CodeShaped(value) {
			c.Codings = append(c.Codings, record.Coding{System: record.SystemEMISLocal, Code: value})
		}
	}
	if mapped.System != "" && !c.Has(mapped) {
		c.Codings = append(c.Codings, mapped)
	}
	return c
}

// coding makes one national coding; a SNOMED CT code goes through
// record.SNOMEDCoding, so that a description id is never a concept code.
func coding(system, code string, term record.Term) record.Coding {
	if system == record.SystemSNOMED {
		return record.SNOMEDCoding(code, term)
	}
	return record.Coding{System: system, Code: code, Term: term}
}

// localConcept is the concept of a code that concept() left out: a local
// code (an EMIS scheme, or a local code written under a national scheme)
// with no national map. It keeps only the code, under SystemEMISLocal
// (never its term: free text), so that the item is accounted for as not
// classifiable; zero when there is no code-like value.
func localConcept(n *xmltok.Node) record.Concept {
	if n == nil {
		return record.Concept{}
	}
	value := strings.TrimSpace(txt(n, "Value"))
	if !record.CodeShaped(strings.TrimPrefix(value, "^")) {
		return record.Concept{}
	}
	return record.Concept{Codings: []record.Coding{{System: record.SystemEMISLocal, Code: value}}}
}

// withSNOMEDDescription reads an item's TermID ("SNOMED, READ to equivalent
// TERMID structure"): a SNOMED CT description id there is the description
// the item was recorded with. It goes onto the item's SNOMED coding as its
// DescriptionID (Code stays the concept id), or, when the item has no
// SNOMED coding, onto a new one that a loaded release can translate. A
// TermID that is not a valid description id is ignored.
func withSNOMEDDescription(c *record.Concept, termID *xmltok.Node) {
	if termID == nil {
		return
	}
	if s := strings.ToUpper(strings.TrimSpace(txt(termID, "Scheme"))); s != "" && s != schemeSNOMED {
		return
	}
	desc := strings.TrimSpace(txt(termID, "Value"))
	if !record.IsDescriptionID(desc) {
		return
	}
	for i := range c.Codings {
		cd := &c.Codings[i]
		if cd.System != record.SystemSNOMED {
			continue
		}
		if cd.DescriptionID == "" {
			cd.DescriptionID = desc
		}
		return
	}
	c.Codings = append(c.Codings, record.Coding{System: record.SystemSNOMED, DescriptionID: desc})
}

// drugAllergyHeading is Read v2 14L.. "H/O: drug allergy", the national
// heading of a drug allergy whose allergen is not coded.
var drugAllergyHeading = record.Coding{System: record.SystemReadV2, Code: "14L.."}

// allergyHeading reports whether c's code as entered is a generic allergy
// heading: the allergen, if any, is then not in the code. Translations do
// not decide (a specific code may be mapped to a generic concept).
func allergyHeading(c record.Concept) bool {
	return len(c.Codings) > 0 && record.AllergyHeading(c.Codings[0])
}

// aboutRelative reports whether an item is about a relative, not the
// patient: EventType 12 (family history); a family-member qualifier
// (QualifierList group 1, items 1-10: mother, father, sister, brother,
// aunt, uncle, grandparents); or a family history code (Read v2 chapter 12,
// its CTV3 twin, the SNOMED CT family history concepts: record.FamilyHistory).
func aboutRelative(n *xmltok.Node, c record.Concept) bool {
	if strings.TrimSpace(txt(n, "EventType")) == "12" {
		return true
	}
	for _, q := range n.FindAll("QualifierList", "Qualifier") {
		item, err := strconv.Atoi(strings.TrimSpace(txt(q, "QualifierItemID", "Value")))
		group := strings.TrimSpace(txt(q, "Group", "Value"))
		if err == nil && item >= 1 && item <= 10 && (group == "" || group == "1") {
			return true
		}
	}
	return record.FamilyHistory(c)
}

func positiveInt(s string) bool {
	n, err := strconv.ParseInt(s, 10, 64)
	return err == nil && n > 0
}

// noKnownAllergy is the set of codes that say "no known allergies" (SNOMED
// 716186003 no known allergy, 409137002 no known drug allergy, 428607008 no
// known environmental allergy, 429625007 no known food allergy).
var noKnownAllergy = record.CodeSet{
	record.CodeKey(record.SystemSNOMED, "716186003"): true,
	record.CodeKey(record.SystemSNOMED, "409137002"): true,
	record.CodeKey(record.SystemSNOMED, "428607008"): true,
	record.CodeKey(record.SystemSNOMED, "429625007"): true,
}

// allergyCategory decides an allergy's category from EMIS AllergyType
// (0 non-drug; 1-4 drug group, name, constituent, both) or, when absent,
// from the code (Read 14L.. drug allergy).
func allergyCategory(c record.Concept, allergyType string) string {
	if noKnownAllergy.Has(c) {
		return record.AllergyNoKnown
	}
	switch strings.TrimSpace(allergyType) {
	case "0":
		return record.AllergyOther
	case "1", "2", "3", "4":
		return record.AllergyDrug
	}
	for _, cd := range c.Codings {
		if cd.System == record.SystemReadV2 && strings.HasPrefix(cd.Code, "14L") {
			return record.AllergyDrug
		}
	}
	return record.AllergyOther
}

// txt returns the text of the element reached from n by the path of local
// names, or "" when there is none.
func txt(n *xmltok.Node, path ...string) string {
	if n = n.Find(path...); n == nil {
		return ""
	}
	return n.Text
}
