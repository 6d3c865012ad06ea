package adapters_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"mig/adapters"
	"mig/adapters/record"
	"mig/adapters/source"
	"mig/fhir"
)

// The first patient of each synthetic practice tells the same clinical
// story (ARCHITECTURE.md, "The equivalence story") in its own format. Mapped
// through the one mapper, the three must give the same FHIR content: the
// same resources with the same SNOMED codes, statuses, dates and values.
// Ids, identifiers, names and the codes as entered (Read v2, CTV3, EMIS
// drug codes) are source-specific and left out of the comparison, and so
// are three things the GP systems record differently by nature: when an
// item was entered (recordedDate), the consultation's type, and the code of
// a blood pressure reading itself (a battery code or none: the FHIR bp
// profile's LOINC code is compared). A blood pressure component is compared
// by its LOINC code, the SNOMED codes of its half and its value.
//
// Beside the resources, each record's coded statements that are not shown
// are compared by rule, SNOMED code and date (statements coded only
// locally are format-specific and left out), so an item the story says is
// not shown (a relative's condition) is shown in none of the three.
//
// The comparison alone would pass if all three adapters lost an item in
// the same way, so storyMust pins, in every format, the lines the rules of
// issue 11 fix (items 14-16 of the story).
//
// The records are read the way the gateway reads them, through a Reader
// over directory sources, so demographics come from each practice's
// registration list (a GP2GP extract carries none of its own).
var storyExtracts = []struct{ format, path, nhs string }{
	{"gp2gp", "A99901/9990001006.xml", "9990001006"},
	{"emis", "A99902/9990002002.xml", "9990002002"},
	{"tpp", "A99903/9990003009.xml", "9990003009"},
}

// storyNow fixes "now" for the time-bound Summary rules.
var storyNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// storyMust lists summary lines each format must give, exactly: the story's
// items that restate a rule of issue 11 (ARCHITECTURE.md, items 14-16).
var storyMust = []string{
	// 14. A drug allergy under the national heading whose allergen is coded
	// only locally: the heading's code, the allergen-not-coded extension, no
	// verificationStatus (never "confirmed").
	"AllergyIntolerance views=summary code=416098002 clinicalStatus=active category=medication onsetDateTime=2018-04-16 " +
		"extension=https://mig.example.nhs.uk/StructureDefinition/Extension-AllergenNotCoded:true",
	// 15. A result in a unit on no list: the value kept, no unit text or
	// code, the unit marked with data-absent-reason.
	"Observation views=summary+investigations code=1005671000000105 status=final category=laboratory effectiveDateTime=2026-08-20 " +
		"value=5.2 unit=absent:unsupported",
	// 16. The mother's type 2 diabetes: not shown, as about a relative (and
	// the one diabetes Condition is the patient's own, item 2).
	"not-shown rule=about-a-relative code=44054006 date=2018-09-03",
}

func TestEquivalenceStory(t *testing.T) {
	ids, err := fhir.NewIDs(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	summaries := map[string][]string{}
	for _, x := range storyExtracts {
		practice := filepath.Dir(x.path)
		src, err := source.NewDir(source.DirOptions{ODS: practice, Path: filepath.Join("..", "testdata", practice),
			AccessLog: filepath.Join(t.TempDir(), "access.ndjson")})
		if err != nil {
			t.Fatal(err)
		}
		reader := &adapters.Reader{
			Practices: map[string]*source.Practice{practice: {ODS: practice, Format: x.format, Source: src}},
			Locator:   fixedLocator(practice),
		}
		rec, err := reader.Read(context.Background(), practice, x.nhs)
		if err != nil {
			t.Fatalf("%s: %v", x.format, err)
		}
		record.Tag(rec, record.DefaultViewContext(storyNow))
		res, err := (&fhir.Mapper{IDs: ids, Base: "https://mig.invalid/fhir"}).Map(rec, nil)
		if err != nil {
			t.Fatalf("%s: map: %v", x.format, err)
		}
		for _, r := range append([]fhir.Resource{res.Patient}, res.Resources...) {
			b, err := fhir.MarshalResource(r.Proto)
			if err != nil {
				t.Fatal(err)
			}
			summaries[x.format] = append(summaries[x.format], summarise(t, b, r.Views))
		}
		summaries[x.format] = append(summaries[x.format], notShown(rec)...)
		sort.Strings(summaries[x.format])
	}
	if os.Getenv("MIG_SHOW_STORY") != "" {
		for f, s := range summaries {
			t.Logf("%s:\n  %s", f, strings.Join(s, "\n  "))
		}
	}
	for _, x := range storyExtracts {
		have := map[string]int{}
		for _, l := range summaries[x.format] {
			have[l]++
		}
		for _, l := range storyMust {
			if have[l] != 1 {
				t.Errorf("%s: %d of the line the story fixes, want 1:\n  %s", x.format, have[l], l)
			}
		}
	}
	base := summaries["gp2gp"]
	for _, f := range []string{"emis", "tpp"} {
		if d := diff(base, summaries[f]); d != "" {
			t.Errorf("gp2gp and %s map the story differently:\n%s", f, d)
		}
	}
}

// summarise reduces a resource to what the story fixes: its type, views,
// SNOMED codes, statuses, dates (to the day), values and their units.
func summarise(t *testing.T, b []byte, views []record.View) string {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	typ := m["resourceType"].(string)
	var parts []string
	add := func(k string, v any) {
		if v != nil && v != "" {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	vs := make([]string, len(views))
	for i, v := range views {
		vs[i] = string(v)
	}
	if typ != "Patient" {
		add("views", strings.Join(vs, "+"))
	}
	for _, k := range []string{"code", "vaccineCode", "medicationCodeableConcept"} {
		if typ == "Observation" && k == "code" && codes(first(m["category"])) == "vital-signs" {
			add(k, loinc(m[k]))
			continue
		}
		add(k, snomed(m[k]))
	}
	for _, k := range []string{"clinicalStatus", "verificationStatus"} {
		add(k, codes(m[k]))
	}
	for _, k := range []string{"status", "intent", "gender", "birthDate", "courseOfTherapyType"} {
		if s, ok := m[k].(string); ok {
			add(k, s)
		} else {
			add(k, codes(m[k]))
		}
	}
	if c, ok := m["category"].([]any); ok {
		var cs []string
		for _, x := range c {
			if s, ok := x.(string); ok { // AllergyIntolerance.category is a code
				cs = append(cs, s)
				continue
			}
			cs = append(cs, codes(x))
		}
		add("category", strings.Join(cs, "+"))
	}
	for _, k := range []string{"onsetDateTime", "abatementDateTime", "effectiveDateTime", "authoredOn", "occurrenceDateTime", "performedDateTime"} {
		if s, ok := m[k].(string); ok {
			add(k, day(s))
		}
	}
	for _, k := range []string{"effectivePeriod", "period"} {
		if p, ok := m[k].(map[string]any); ok {
			add(k+".start", day(str(p["start"])))
			add(k+".end", day(str(p["end"])))
		}
	}
	if q, ok := m["valueQuantity"].(map[string]any); ok {
		add("value", quantity(q))
	}
	if cs, ok := m["component"].([]any); ok {
		for _, c := range cs {
			cm := c.(map[string]any)
			q, _ := cm["valueQuantity"].(map[string]any)
			add("component", fmt.Sprintf("%s:%v %v", loincSnomed(cm["code"]), q["value"], q["code"]))
		}
	}
	if d, ok := m["dosage"].([]any); ok && len(d) > 0 {
		add("dosage", d[0].(map[string]any)["text"])
	}
	if d, ok := m["dosageInstruction"].([]any); ok && len(d) > 0 {
		add("dosage", d[0].(map[string]any)["text"])
	}
	if n, ok := m["dispenseRequest"].(map[string]any); ok {
		add("repeats", n["numberOfRepeatsAllowed"])
	}
	if h, ok := m["hasMember"].([]any); ok {
		add("members", len(h))
	}
	add("extension", extensions(m["extension"]))
	return typ + " " + strings.Join(parts, " ")
}

// quantity reduces a Quantity to its comparator, value and UCUM code, or,
// where the unit was left out, the data-absent-reason its unit carries.
// The unit text is compared where there is no code.
func quantity(q map[string]any) string {
	s := str(q["comparator"]) + fmt.Sprint(q["value"])
	switch {
	case q["code"] != nil:
		s += " " + str(q["code"])
	case q["unit"] != nil:
		s += " unit-text=" + str(q["unit"])
	}
	if u, ok := q["_unit"].(map[string]any); ok {
		for _, e := range asList(u["extension"]) {
			if em := e.(map[string]any); em["url"] == "http://hl7.org/fhir/StructureDefinition/data-absent-reason" {
				s += " unit=absent:" + str(em["valueCode"])
			}
		}
	}
	return s
}

// extensions lists a resource's top-level extensions as url:value, sorted.
func extensions(v any) string {
	var out []string
	for _, e := range asList(v) {
		em := e.(map[string]any)
		for k, x := range em {
			if strings.HasPrefix(k, "value") {
				out = append(out, fmt.Sprintf("%s:%v", str(em["url"]), x))
			}
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// notShown lists the coded statements a record does not show, by rule,
// SNOMED code and day; statements without a SNOMED code (local codes, a
// format's own) are left out.
func notShown(rec *record.Record) []string {
	var out []string
	for i := range rec.Entries {
		e := &rec.Entries[i]
		if e.Kind != record.KindNone && e.NotShown.Shown() {
			continue
		}
		var sct []string
		for _, c := range e.Code.Codings {
			if c.System == record.SystemSNOMED && c.Code != "" {
				sct = append(sct, c.Code)
			}
		}
		if len(sct) == 0 {
			continue
		}
		sort.Strings(sct)
		date := ""
		if !e.Effective.IsZero() {
			date = e.Effective.T.Format("2006-01-02")
		}
		out = append(out, fmt.Sprintf("not-shown rule=%s code=%s date=%s", e.NotShown, strings.Join(sct, ","), date))
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }

func first(v any) any {
	if l, ok := v.([]any); ok && len(l) > 0 {
		return l[0]
	}
	return nil
}

func loinc(v any) string {
	cc, _ := v.(map[string]any)
	for _, c := range asList(cc["coding"]) {
		if cm := c.(map[string]any); cm["system"] == record.SystemLOINC {
			return "loinc:" + str(cm["code"])
		}
	}
	return ""
}

type fixedLocator string

func (l fixedLocator) Locate(context.Context, string) (string, error) { return string(l), nil }

func day(s string) string {
	if len(s) >= 10 {
		return s[:10]
	}
	return s
}

// snomed lists the SNOMED codes of a CodeableConcept, sorted.
func snomed(v any) string {
	cc, ok := v.(map[string]any)
	if !ok {
		if l, ok := v.([]any); ok && len(l) > 0 {
			return snomed(l[0])
		}
		return ""
	}
	var out []string
	for _, c := range asList(cc["coding"]) {
		cm := c.(map[string]any)
		if cm["system"] == record.SystemSNOMED {
			out = append(out, str(cm["code"]))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// loincSnomed lists the LOINC and SNOMED codes of a CodeableConcept,
// sorted: a blood pressure component's LOINC code and the SNOMED
// translation of the half's code as entered (Read v2 or CTV3, which are
// source-specific).
func loincSnomed(v any) string {
	cc, _ := v.(map[string]any)
	var out []string
	for _, c := range asList(cc["coding"]) {
		cm := c.(map[string]any)
		if cm["system"] == record.SystemLOINC || cm["system"] == record.SystemSNOMED {
			out = append(out, str(cm["code"]))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// codes lists every code of a CodeableConcept, sorted.
func codes(v any) string {
	cc, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	var out []string
	for _, c := range asList(cc["coding"]) {
		out = append(out, str(c.(map[string]any)["code"]))
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func asList(v any) []any { l, _ := v.([]any); return l }

func diff(a, b []string) string {
	count := map[string]int{}
	for _, s := range a {
		count[s]++
	}
	for _, s := range b {
		count[s]--
	}
	var out []string
	for s, n := range count {
		switch {
		case n > 0:
			out = append(out, "  only gp2gp: "+s)
		case n < 0:
			out = append(out, "  only other: "+s)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}
