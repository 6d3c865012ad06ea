package fhir

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"mig/adapters/record"
)

// Which term a coding shows (rule 1: no free text reaches a client). A GP
// system can put a sentence in a national code's displayName, and a
// clinician can edit a term; so the term beside a code in an extract is
// never trusted as it is.
//
//   - With a terminology loaded (TermPolicy.Terminology), a code's display
//     comes only from it. The extract's term is ignored; a code the
//     terminology does not know is shown without a display.
//   - Without one, in strict mode (every -config deployment unless it says
//     otherwise), no term from an extract is shown.
//   - Without one, in filter mode (-dev, migctl map), a term is shown only if
//     it passes TermLooksCoded, a conservative filter of ours.
//
// Wherever an extract gave a term that is not shown, the coding carries
// data-absent-reason "masked" on its display, so a viewer says "term not
// available" beside the code rather than showing nothing silently.

// TermSource is a loaded terminology's display lookup
// (adapters/terminology.Terminology).
type TermSource interface {
	Display(system, code string) (string, bool)
}

// TermPolicy decides displays. The zero value is strict: no extract term.
type TermPolicy struct {
	// Terminology, when set, is the only source of displays.
	Terminology TermSource
	// Filter shows, when no terminology is loaded, an extract's term that
	// passes TermLooksCoded. Off: no extract term at all.
	Filter bool
}

// display returns the display of cd and whether a term the extract gave
// was suppressed.
func (p TermPolicy) display(cd record.Coding) (string, bool) {
	given := !cd.Term.IsZero()
	if p.Terminology != nil {
		if s, ok := p.Terminology.Display(cd.System, cd.Code); ok && s != "" {
			return s, false
		}
		return "", given
	}
	if !given {
		return "", false
	}
	if p.Filter && TermLooksCoded(cd.Term.String()) {
		return cd.Term.String(), false
	}
	return "", true
}

// MaxTermLength is the longest term the filter lets through, in
// characters. The longest preferred terms in the shared samples and the
// SNOMED CT immunisation list fit (TestTermFilterFalsePositives).
const MaxTermLength = 200

// TermLooksCoded is the filter mode's test of a term from an extract: it
// passes only what reads like a clinical term, and rejects
//   - anything longer than MaxTermLength, or of more than 25 words;
//   - control characters, quoting and markup characters (" ` { } \), and
//     < or > other than before a number ("<1u/day");
//   - a run of seven or more digits, allowing spaces, hyphens and dots
//     between them (phone numbers, NHS numbers, "943 476 5919");
//   - e-mail and web address shapes (@, ://, www., a dot inside a word
//     ending .com .uk .org .net .nhs);
//   - sentence-like punctuation: ! ? ; a full stop followed by a space and
//     a capital letter or a digit (a new sentence), or two full stops in a
//     row. Read terms abbreviate with full stops ("Measles/mumps/rubella
//     vaccn.", "Health ed. - smoking"), so a full stop alone passes.
//
// It is a filter, not a proof: a short phrase of ordinary words passes (the
// README says what risk is left). A loaded terminology removes the risk.
func TermLooksCoded(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > MaxTermLength || !utf8.ValidString(s) {
		return false
	}
	if len(strings.Fields(s)) > 25 {
		return false
	}
	digits := 0
	for i, r := range s {
		switch {
		case unicode.IsControl(r):
			return false
		case strings.ContainsRune("\"`{}\\!?;@", r):
			return false
		case r == '<' || r == '>':
			if next := s[i+1:]; next == "" || next[0] < '0' || next[0] > '9' {
				return false
			}
		case r >= '0' && r <= '9':
			digits++
			if digits >= 7 {
				return false
			}
		case r == ' ' || r == '-' || r == '.':
			// separators inside a digit run keep it going
		default:
			digits = 0
		}
		if r == '.' {
			next := s[i+1:]
			if strings.HasPrefix(next, ".") {
				return false
			}
			if len(next) >= 2 && next[0] == ' ' && (next[1] >= 'A' && next[1] <= 'Z' || next[1] >= '0' && next[1] <= '9') {
				return false
			}
		}
	}
	low := strings.ToLower(s)
	for _, bad := range []string{"://", "www.", "http"} {
		if strings.Contains(low, bad) {
			return false
		}
	}
	for _, w := range strings.Fields(low) {
		w = strings.Trim(w, ",:()[]/")
		for _, tld := range []string{".com", ".uk", ".org", ".net", ".nhs"} {
			if strings.HasSuffix(w, tld) && len(w) > len(tld) {
				return false
			}
		}
	}
	return true
}
