package ips

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Checked is what Check read of a summary document.
type Checked struct {
	// Sections by LOINC code, in document order in Codes.
	Sections map[string]CheckedSection
	Codes    []string
	// Types counts the entries by resource type, the Composition aside.
	Types map[string]int
	// Narratives are every narrative div of the Composition (its own
	// first, then each section's).
	Narratives []string
	// Composition and Patient are those resources' JSON.
	Composition, Patient json.RawMessage
}

// CheckedSection is one section as the document holds it.
type CheckedSection struct {
	Title       string
	Entries     []string          // full URLs of its entries
	Resources   []json.RawMessage // the entries' resources, in order
	EmptyReason string            // list-empty-reason code, "" for none
	Notes       []string          // section-note texts
	Div         string
}

// Check verifies a summary's structure as the IPS 2.0 profiles state it,
// which FHIR validators that do not know the profiles cannot: a document
// Bundle with identifier, timestamp and the IPS Bundle profile; the
// Composition first and nowhere else (bdl-ips-1), of type LOINC 60591-5,
// final, with subject, date, author, title and its profile; then the
// Patient; section codes known and each once, the required sections
// present, each with a title and generated XHTML narrative, entries of
// the types the section takes, entries or an emptyReason where required
// (ips-comp-1) and never both (cmp-2); full URLs on every entry and
// unique; every reference of the document resolving to an entry, and
// every entry but the Composition referenced exactly once by it (subject,
// author or one section entry).
func Check(body []byte) (*Checked, error) {
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Timestamp    string `json:"timestamp"`
		Meta         struct {
			Profile []string `json:"profile"`
		} `json:"meta"`
		Identifier struct {
			System string `json:"system"`
			Value  string `json:"value"`
		} `json:"identifier"`
		Entry []struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
			Search   json.RawMessage `json:"search"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if b.ResourceType != "Bundle" || b.Type != "document" {
		return nil, fmt.Errorf("a %s of type %q, want a document Bundle", b.ResourceType, b.Type)
	}
	if b.Identifier.System == "" || b.Identifier.Value == "" || b.Timestamp == "" {
		return nil, fmt.Errorf("a document Bundle needs an identifier (system and value) and a timestamp")
	}
	if !has(b.Meta.Profile, ProfileBundle) {
		return nil, fmt.Errorf("Bundle meta.profile %v lacks %s", b.Meta.Profile, ProfileBundle)
	}
	if len(b.Entry) < 2 {
		return nil, fmt.Errorf("%d entries: a summary holds at least the Composition and the Patient", len(b.Entry))
	}
	out := &Checked{Sections: map[string]CheckedSection{}, Types: map[string]int{}}
	byURL := map[string]json.RawMessage{}
	typeOf := map[string]string{}
	for i, e := range b.Entry {
		if e.FullURL == "" {
			return nil, fmt.Errorf("entry %d has no fullUrl", i)
		}
		if _, dup := byURL[e.FullURL]; dup {
			return nil, fmt.Errorf("fullUrl %s is on two entries", e.FullURL)
		}
		if len(e.Search) > 0 {
			return nil, fmt.Errorf("entry %d has search: a document's entries have none", i)
		}
		var r struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		}
		if err := json.Unmarshal(e.Resource, &r); err != nil || r.ResourceType == "" {
			return nil, fmt.Errorf("entry %d holds no resource", i)
		}
		if (i == 0) != (r.ResourceType == "Composition") {
			return nil, fmt.Errorf("entry %d is a %s: the Composition is the first entry and only there", i, r.ResourceType)
		}
		if i > 0 && !strings.HasSuffix(e.FullURL, "/"+r.ResourceType+"/"+r.ID) && !strings.HasPrefix(e.FullURL, "urn:uuid:") {
			return nil, fmt.Errorf("entry %d: fullUrl %s does not name its %s/%s", i, e.FullURL, r.ResourceType, r.ID)
		}
		byURL[e.FullURL] = e.Resource
		typeOf[e.FullURL] = r.ResourceType
		if i > 0 {
			out.Types[r.ResourceType]++
		}
	}
	if typeOf[b.Entry[1].FullURL] != "Patient" {
		return nil, fmt.Errorf("the second entry is a %s, want the Patient", typeOf[b.Entry[1].FullURL])
	}
	out.Composition, out.Patient = b.Entry[0].Resource, b.Entry[1].Resource

	var comp struct {
		Meta struct {
			Profile []string `json:"profile"`
		} `json:"meta"`
		Status string `json:"status"`
		Type   struct {
			Coding []struct{ System, Code string } `json:"coding"`
		} `json:"type"`
		Subject ref           `json:"subject"`
		Date    string        `json:"date"`
		Author  []ref         `json:"author"`
		Title   string        `json:"title"`
		Text    narrativeJSON `json:"text"`
		Section []struct {
			Title string `json:"title"`
			Code  struct {
				Coding []struct{ System, Code string } `json:"coding"`
			} `json:"code"`
			Text        narrativeJSON `json:"text"`
			Entry       []ref         `json:"entry"`
			EmptyReason struct {
				Coding []struct{ System, Code string } `json:"coding"`
			} `json:"emptyReason"`
			Extension []struct {
				URL             string `json:"url"`
				ValueAnnotation struct {
					Text string `json:"text"`
				} `json:"valueAnnotation"`
			} `json:"extension"`
			Section json.RawMessage `json:"section"`
		} `json:"section"`
	}
	if err := json.Unmarshal(b.Entry[0].Resource, &comp); err != nil {
		return nil, fmt.Errorf("Composition: %v", err)
	}
	if !has(comp.Meta.Profile, ProfileComposition) {
		return nil, fmt.Errorf("Composition meta.profile %v lacks %s", comp.Meta.Profile, ProfileComposition)
	}
	if len(comp.Type.Coding) == 0 || comp.Type.Coding[0].System != SystemLOINC || comp.Type.Coding[0].Code != CodeSummary {
		return nil, fmt.Errorf("Composition type %v, want LOINC %s", comp.Type.Coding, CodeSummary)
	}
	if comp.Status != "final" || comp.Date == "" || comp.Title == "" || len(comp.Author) == 0 {
		return nil, fmt.Errorf("Composition needs status final, date, title and author")
	}
	if err := comp.Text.check("Composition"); err != nil {
		return nil, err
	}
	out.Narratives = append(out.Narratives, comp.Text.Div)

	// Every entry but the Composition is referenced exactly once by it.
	refCount := map[string]int{}
	count := func(what string, r ref) error {
		if _, ok := byURL[r.Reference]; !ok {
			return fmt.Errorf("Composition %s %q does not resolve to an entry", what, r.Reference)
		}
		refCount[r.Reference]++
		return nil
	}
	if err := count("subject", comp.Subject); err != nil {
		return nil, err
	}
	if typeOf[comp.Subject.Reference] != "Patient" || comp.Subject.Reference != b.Entry[1].FullURL {
		return nil, fmt.Errorf("Composition subject %q is not the Patient entry", comp.Subject.Reference)
	}
	for _, a := range comp.Author {
		if err := count("author", a); err != nil {
			return nil, err
		}
	}
	for _, s := range comp.Section {
		if len(s.Code.Coding) != 1 || s.Code.Coding[0].System != SystemLOINC {
			return nil, fmt.Errorf("section %q: code %v, want one LOINC code", s.Title, s.Code.Coding)
		}
		code := s.Code.Coding[0].Code
		def, known := SectionByCode(code)
		if !known {
			return nil, fmt.Errorf("section code %s is not one this gateway writes", code)
		}
		if _, dup := out.Sections[code]; dup {
			return nil, fmt.Errorf("section %s twice", code)
		}
		if s.Title == "" || len(s.Section) > 0 {
			return nil, fmt.Errorf("section %s: a title is required and sub-sections are not allowed", code)
		}
		if err := s.Text.check("section " + code); err != nil {
			return nil, err
		}
		cs := CheckedSection{Title: s.Title, Div: s.Text.Div}
		if len(s.EmptyReason.Coding) > 0 {
			if s.EmptyReason.Coding[0].System != SystemListEmptyReason {
				return nil, fmt.Errorf("section %s: emptyReason system %s", code, s.EmptyReason.Coding[0].System)
			}
			cs.EmptyReason = s.EmptyReason.Coding[0].Code
		}
		if cs.EmptyReason != "" && len(s.Entry) > 0 {
			return nil, fmt.Errorf("section %s has entries and an emptyReason (cmp-2)", code)
		}
		if def.Required && cs.EmptyReason == "" && len(s.Entry) == 0 {
			return nil, fmt.Errorf("required section %s has neither entries nor emptyReason (ips-comp-1)", code)
		}
		for _, x := range s.Extension {
			if x.URL == ExtNote {
				cs.Notes = append(cs.Notes, x.ValueAnnotation.Text)
			}
		}
		for _, e := range s.Entry {
			if err := count("section "+code+" entry", e); err != nil {
				return nil, err
			}
			if t := typeOf[e.Reference]; !sectionTakes(def, t) {
				return nil, fmt.Errorf("section %s lists a %s", code, t)
			}
			cs.Entries = append(cs.Entries, e.Reference)
			cs.Resources = append(cs.Resources, byURL[e.Reference])
		}
		out.Sections[code] = cs
		out.Codes = append(out.Codes, code)
		out.Narratives = append(out.Narratives, s.Text.Div)
	}
	for _, def := range Sections {
		if _, ok := out.Sections[def.Code]; def.Required && !ok {
			return nil, fmt.Errorf("required section %s (%s) is missing", def.Code, def.Title)
		}
	}
	for _, e := range b.Entry[1:] {
		if n := refCount[e.FullURL]; n != 1 {
			return nil, fmt.Errorf("entry %s (%s) is referenced %d times by the Composition, want exactly once", e.FullURL, typeOf[e.FullURL], n)
		}
	}

	// Every reference inside the entries resolves inside the document.
	for _, e := range b.Entry[1:] {
		var v any
		if err := json.Unmarshal(e.Resource, &v); err != nil {
			return nil, err
		}
		var bad []string
		references(v, func(r string) {
			if !resolves(r, e.FullURL, byURL) {
				bad = append(bad, r)
			}
		})
		if len(bad) > 0 {
			sort.Strings(bad)
			return nil, fmt.Errorf("%s holds references that do not resolve in the document: %v", e.FullURL, bad)
		}
	}
	return out, nil
}

type ref struct {
	Reference string `json:"reference"`
}

type narrativeJSON struct {
	Status string `json:"status"`
	Div    string `json:"div"`
}

func (n narrativeJSON) check(what string) error {
	if n.Status != "generated" {
		return fmt.Errorf("%s: narrative status %q, want generated", what, n.Status)
	}
	if !strings.HasPrefix(n.Div, `<div xmlns="http://www.w3.org/1999/xhtml">`) || !strings.HasSuffix(n.Div, "</div>") {
		return fmt.Errorf("%s: narrative is not an XHTML div", what)
	}
	return nil
}

// sectionTakes reports whether a section lists resources of type t.
func sectionTakes(def Section, t string) bool {
	switch def.Key {
	case "medications":
		return t == "MedicationStatement" || t == "MedicationRequest"
	case "allergies":
		return t == "AllergyIntolerance"
	case "problems":
		return t == "Condition"
	case "immunizations":
		return t == "Immunization"
	case "results", "vital-signs":
		return t == "Observation"
	}
	return false
}

// references calls fn with every literal reference in a resource's JSON.
func references(v any, fn func(string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, w := range x {
			if s, ok := w.(string); ok && k == "reference" {
				fn(s)
				continue
			}
			references(w, fn)
		}
	case []any:
		for _, w := range x {
			references(w, fn)
		}
	}
}

// resolves reports whether a reference in the entry at fullURL names an
// entry: a fragment within the resource, an absolute URL or URN as it is,
// a relative Type/id against the base of a RESTful fullUrl.
func resolves(r, fullURL string, byURL map[string]json.RawMessage) bool {
	if strings.HasPrefix(r, "#") {
		return true
	}
	if _, ok := byURL[r]; ok {
		return true
	}
	if strings.Contains(r, ":") {
		return false
	}
	parts := strings.Split(fullURL, "/")
	if len(parts) < 3 || strings.HasPrefix(fullURL, "urn:") {
		return false
	}
	base := strings.Join(parts[:len(parts)-2], "/")
	_, ok := byURL[base+"/"+r]
	return ok
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
