package record

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The types in this file are the only way text enters a Record. Their
// fields are unexported so a Record cannot be given free text by accident;
// their constructors may be called only by packages under adapters/
// (checked by leak_test.go). Adapters construct them from coded elements
// (the term beside a national code) and from demographic elements (names,
// addresses), never from narrative, annotation or comment elements.

// Term is the display the GP system gave for a national code.
type Term struct{ s string }

// NewTerm makes a Term. Only adapters call it, and only with the term that
// stands beside a national code in the extract.
func NewTerm(s string) Term { return Term{strings.TrimSpace(s)} }

func (t Term) String() string { return t.s }

// IsZero reports whether the term is empty.
func (t Term) IsZero() bool { return t.s == "" }

// Names and addresses come from demographic elements, and a hostile or
// buggy GP system can put a sentence in any of them. Each part is kept only
// if it has the shape of its kind (namePart, addressPart, postcode); a part
// that does not is dropped, never shown. PDS's demographics pass through
// the same constructors: real names and addresses fit.

// maxNamePart and maxAddressPart are PDS's field lengths (35 characters).
const (
	maxNamePart    = 35
	maxAddressPart = 35
)

// namePart: letters (any script), spaces, hyphens, apostrophes and full
// stops; no digits; at most 35 characters and five words.
func namePart(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > maxNamePart || len(strings.Fields(s)) > 5 {
		return false
	}
	for _, r := range s {
		if !(unicode.IsLetter(r) || r == ' ' || r == '-' || r == '\'' || r == '’' || r == '.') {
			return false
		}
	}
	return !strings.Contains(s, "..")
}

// addressPart: letters, digits, spaces and , . - ' / & ( ); at most 35
// characters and eight words; no run of seven or more digits, counting
// across spaces and hyphens (a phone or NHS number, not a house number).
func addressPart(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > maxAddressPart || len(strings.Fields(s)) > 8 {
		return false
	}
	digits := 0
	for _, r := range s {
		switch {
		case unicode.IsDigit(r):
			if digits++; digits >= 7 {
				return false
			}
		case r == ' ' || r == '-':
			// a run of digits goes on across these
		case unicode.IsLetter(r), strings.ContainsRune(",.'’/&()", r):
			digits = 0
		default:
			return false
		}
	}
	return true
}

// postcodeRE is a UK postcode (BS 7666), any case, the space optional.
var postcodeRE = regexp.MustCompile(`^(?i)[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$`)

func keep(s string, ok func(string) bool) string {
	if s = strings.TrimSpace(s); s == "" || !ok(s) {
		return ""
	}
	return s
}

// HumanName is a person's name from a demographic element.
type HumanName struct {
	prefix string
	given  []string
	family string
}

// NewHumanName makes a HumanName. Only adapters call it, with the parts of
// a structured name element.
func NewHumanName(prefix string, given []string, family string) HumanName {
	g := make([]string, 0, len(given))
	for _, s := range given {
		if s = keep(s, namePart); s != "" {
			g = append(g, s)
		}
	}
	return HumanName{prefix: keep(prefix, namePart), given: g, family: keep(family, namePart)}
}

func (n HumanName) Prefix() string  { return n.prefix }
func (n HumanName) Given() []string { return append([]string(nil), n.given...) }
func (n HumanName) Family() string  { return n.family }
func (n HumanName) IsZero() bool    { return n.prefix == "" && len(n.given) == 0 && n.family == "" }

// Address is a postal address from a demographic element.
type Address struct {
	lines      []string
	city       string
	district   string
	postalCode string
}

// NewAddress makes an Address. Only adapters call it, with the parts of a
// structured address element.
func NewAddress(lines []string, city, district, postalCode string) Address {
	l := make([]string, 0, len(lines))
	for _, s := range lines {
		if s = keep(s, addressPart); s != "" {
			l = append(l, s)
		}
	}
	return Address{lines: l, city: keep(city, addressPart), district: keep(district, addressPart),
		postalCode: keep(postalCode, postcodeRE.MatchString)}
}

func (a Address) Lines() []string    { return append([]string(nil), a.lines...) }
func (a Address) City() string       { return a.city }
func (a Address) District() string   { return a.district }
func (a Address) PostalCode() string { return a.postalCode }
func (a Address) IsZero() bool {
	return len(a.lines) == 0 && a.city == "" && a.district == "" && a.postalCode == ""
}

// DosageText is the one named free-text exception: a prescription's dosage
// instruction and quantity text, which clinicians need.
type DosageText struct{ s string }

// NewDosageText makes a DosageText. Only adapters call it, and only with a
// prescription's dosage instruction or quantity text.
func NewDosageText(s string) DosageText { return DosageText{strings.TrimSpace(s)} }

func (d DosageText) String() string { return d.s }
func (d DosageText) IsZero() bool   { return d.s == "" }
