package consent

import (
	"strings"

	"mig/adapters/record"
)

// CodeRule is one configured code with where it comes from. For Read v2 a
// rule names a hierarchy: trailing dots are wildcards, so "L05.." matches
// L05.., L050., L0501 (and "L0500" with its term suffix). CTV3 and SNOMED
// rules match exactly; a CTV3 code that reads as its Read v2 twin (five
// characters, no leading X or Y: REFERENCE.md dataset rules) is also
// matched against the Read v2 rules.
type CodeRule struct {
	System   string `json:"system"`
	Code     string `json:"code"`
	Category string `json:"category,omitempty"`
	Source   string `json:"source,omitempty"`
}

// CodeList is a configurable code set.
type CodeList []CodeRule

// Matcher is a compiled CodeList.
type Matcher struct {
	exact    map[string]string // CodeKey -> category
	prefixes []readPrefix
}

type readPrefix struct {
	prefix, category string
}

// Compile builds the matcher of l.
func (l CodeList) Compile() *Matcher {
	m := &Matcher{exact: make(map[string]string, len(l))}
	for _, r := range l {
		if r.System == record.SystemReadV2 {
			p := strings.TrimRight(record.ReadV2Base(r.Code), ".")
			if p == "" {
				continue // a rule of dots alone would match everything
			}
			m.prefixes = append(m.prefixes, readPrefix{p, r.Category})
			continue
		}
		m.exact[record.CodeKey(r.System, r.Code)] = r.Category
	}
	return m
}

// Match reports whether any coding of c is in the list, with the category
// of the first rule that matched.
func (m *Matcher) Match(c record.Concept) (string, bool) {
	if m == nil {
		return "", false
	}
	for _, cd := range c.Codings {
		if cat, ok := m.exact[record.CodeKey(cd.System, cd.Code)]; ok {
			return cat, true
		}
		var read string
		switch cd.System {
		case record.SystemReadV2:
			read = record.ReadV2Base(cd.Code)
		case record.SystemCTV3:
			read, _ = record.ReadTwin(cd.Code)
		}
		if read == "" {
			continue
		}
		for _, p := range m.prefixes {
			if strings.HasPrefix(read, p.prefix) {
				return p.category, true
			}
		}
	}
	return "", false
}
