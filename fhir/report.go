package fhir

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"mig/adapters/record"
)

// Report accounts for every coded statement of one extract: shown, withheld
// (and why), merged as a repeat, set aside by a dataset rule (which rule),
// or not classifiable (code system and code, never a term). migctl map
// --report prints it; tests check that it adds up to what the adapter read.
type Report struct {
	Read         int            // coded clinical statements the adapter read
	Shown        int            // entries that made at least one resource
	Written      map[string]int // resources by type (the Patient aside)
	Confidential int            // withheld for the GP system's confidentiality marking, or by a link to such an item
	Rejected     int            // withheld by the access rules (sensitive codes, views outside the agreement)
	Duplicates   int            // repeats of an act already read
	Rules        map[record.Rule]int
	// Unclassifiable lists "system|code" for each coded item no rule could
	// place, or that carries no code we can show.
	Unclassifiable []string
}

// Account builds the Report of rec as res mapped it.
func Account(rec *record.Record, res *Result) Report {
	rp := Report{Read: rec.Stats.Read, Written: map[string]int{}, Confidential: rec.Stats.Withheld,
		Duplicates: rec.Stats.Duplicate, Rules: map[record.Rule]int{}}
	if res == nil {
		return rp
	}
	rp.Rejected = res.Rejected
	shown := map[*record.Entry]bool{}
	for _, r := range res.Resources {
		rp.Written[r.Type]++
		shown[r.Entry] = true
	}
	rp.Shown = len(shown)
	for i := range rec.Entries {
		e := &rec.Entries[i]
		switch {
		case e.NotShown == record.RuleUnclassifiable:
			rp.Unclassifiable = append(rp.Unclassifiable, codeLabel(e.Code))
		case e.Kind == record.KindNone || !e.NotShown.Shown():
			rule := e.NotShown
			if rule == record.RuleNone {
				rule = record.RuleNotInDataset
			}
			rp.Rules[rule]++
		}
	}
	if res.EmptyReports > 0 {
		rp.Rules[record.RuleEmptyReport] += res.EmptyReports
	}
	for _, e := range res.Uncoded {
		rp.Unclassifiable = append(rp.Unclassifiable, codeLabel(e.Code))
	}
	sort.Strings(rp.Unclassifiable)
	return rp
}

// Accounted is how many read statements the report places somewhere.
// Entries of a shown kind that a battery or a view rule dropped are counted
// under Rules; an entry the adapter made without a coded statement behind
// it (a consultation) may make Accounted exceed Read.
func (rp Report) Accounted() int {
	n := rp.Shown + rp.Confidential + rp.Rejected + rp.Duplicates + len(rp.Unclassifiable)
	for _, c := range rp.Rules {
		n += c
	}
	return n
}

// knownSystems are the code systems a report names as they are; any other
// system string from an extract is shown as "other".
var knownSystems = map[string]bool{record.SystemReadV2: true, record.SystemCTV3: true,
	record.SystemSNOMED: true, record.SystemLOINC: true, record.SystemEMISDrug: true,
	record.SystemEMISLocal: true, record.SystemTPPLocal: true}

// codeLabel names a concept by its first code as "system|code". A code is
// printed only if it looks like a code (letters, digits and . - _, at most
// 20 characters): an extract's code attribute can hold any text.
func codeLabel(c record.Concept) string {
	if len(c.Codings) == 0 {
		return "no code"
	}
	cd := c.Codings[0]
	sys := cd.System
	if !knownSystems[sys] {
		sys = "other"
	}
	code := cd.Code
	if code == "" && cd.DescriptionID != "" {
		code = cd.DescriptionID + " (description id)"
	} else if len(code) > 20 || !record.CodeShaped(code) {
		code = "(not a code)"
	}
	return sys + "|" + code
}

// Write prints the report for one extract (named by label) as indented
// lines.
func (rp Report) Write(w io.Writer, label string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "report: %s\n", label)
	fmt.Fprintf(&b, "  entries read: %d (accounted for: %d)\n", rp.Read, rp.Accounted())
	fmt.Fprintf(&b, "  shown: %d entries as %s\n", rp.Shown, counts(rp.Written))
	fmt.Fprintf(&b, "  withheld: confidential %d, sensitive or outside the agreement %d\n", rp.Confidential, rp.Rejected)
	fmt.Fprintf(&b, "  repeats merged: %d\n", rp.Duplicates)
	rules := map[string]int{}
	for r, n := range rp.Rules {
		rules[string(r)] = n
	}
	fmt.Fprintf(&b, "  not shown by a dataset rule: %s\n", counts(rules))
	un := map[string]int{}
	for _, c := range rp.Unclassifiable {
		un[c]++
	}
	fmt.Fprintf(&b, "  not classifiable: %d%s\n", len(rp.Unclassifiable), func() string {
		if len(un) == 0 {
			return ""
		}
		return " (" + counts(un) + ")"
	}())
	_, err := io.WriteString(w, b.String())
	return err
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
