package record

// SNOMED CT identifiers (SNOMED CT Technical Implementation Guide, 6.1-6.6):
// an SCTID is 6 to 18 digits, with no leading zero; its last digit is a
// Verhoeff check digit; the two digits before it are the partition
// identifier: x0 a concept, x1 a description, x2 a relationship (x = 0 for
// the international namespace, 1 for an extension's).

// ValidSCTID reports whether s is a well-formed SCTID with a correct
// Verhoeff check digit.
func ValidSCTID(s string) bool {
	if len(s) < 6 || len(s) > 18 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return Verhoeff(s)
}

// SCTPartition returns an SCTID's partition digit for its kind: '0' for a
// concept, '1' a description, '2' a relationship; 0 when s is too short.
func SCTPartition(s string) byte {
	if len(s) < 3 {
		return 0
	}
	return s[len(s)-2]
}

// IsDescriptionID reports whether s is a valid SCTID in a description
// partition (01 or 11).
func IsDescriptionID(s string) bool {
	return ValidSCTID(s) && SCTPartition(s) == '1' && (s[len(s)-3] == '0' || s[len(s)-3] == '1')
}

// SNOMEDCoding makes the coding for a code a source sent as SNOMED CT. A
// description id is never a concept id: it goes to DescriptionID and Code
// stays empty until a loaded release translates it.
//
// A code that is not a valid SCTID (wrong shape or check digit) is not a
// SNOMED CT code at all: the coding comes back without a code, and is never
// shown.
func SNOMEDCoding(code string, term Term) Coding {
	if !ValidSCTID(code) {
		return Coding{System: SystemSNOMED}
	}
	if IsDescriptionID(code) {
		return Coding{System: SystemSNOMED, DescriptionID: code, Term: term}
	}
	return Coding{System: SystemSNOMED, Code: code, Term: term}
}

var verhoeffD = [10][10]byte{
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
	{2, 3, 4, 0, 1, 7, 8, 9, 5, 6}, {3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
	{4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
	{6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
	{8, 7, 6, 5, 9, 3, 2, 1, 0, 4}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
}

var verhoeffP = [8][10]byte{
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
	{5, 8, 0, 3, 7, 9, 6, 1, 4, 2}, {8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
	{9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
	{2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8},
}

// Verhoeff reports whether the digit string s ends in its correct Verhoeff
// check digit.
func Verhoeff(s string) bool {
	var c byte
	for i := 0; i < len(s); i++ {
		d := s[len(s)-1-i]
		if d < '0' || d > '9' {
			return false
		}
		c = verhoeffD[c][verhoeffP[i%8][d-'0']]
	}
	return c == 0 && len(s) > 0
}

// snomedKind classifies a SNOMED CT concept id: our shipped sets first
// (immunisations), then, with a loaded release h, the sub-hierarchy table
// (snomed_rules.go), most specific row first. ok is false when nothing we
// hold decides.
func snomedKind(code string, h Hierarchy) (Kind, Rule, bool) {
	if snomedImmunisations[code] {
		return KindImmunisation, RuleNone, true
	}
	if snomedImmunisationsNotGiven[code] {
		// "not done", "declined", "not available": never shown as given.
		// Read v2 records these in chapter 9 (e.g. 9OX.. influenza
		// vaccination declined), an administration rule.
		return KindNone, RuleAdministration, true
	}
	if h == nil {
		return KindNone, RuleNone, false
	}
	for _, r := range snomedRules {
		if h.IsA(code, r.Ancestor) {
			return r.Kind, r.Rule, true
		}
	}
	return KindNone, RuleNone, false
}
