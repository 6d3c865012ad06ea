package record

import "strings"

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
		if s = strings.TrimSpace(s); s != "" {
			g = append(g, s)
		}
	}
	return HumanName{prefix: strings.TrimSpace(prefix), given: g, family: strings.TrimSpace(family)}
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
		if s = strings.TrimSpace(s); s != "" {
			l = append(l, s)
		}
	}
	return Address{lines: l, city: strings.TrimSpace(city), district: strings.TrimSpace(district),
		postalCode: strings.TrimSpace(postalCode)}
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
