package ips

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"mig/adapters"
	"mig/adapters/record"
	"mig/fhir"
	"mig/internal/testenv"

	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	condpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/condition_go_proto"
)

const base = "https://mig.example.nhs.uk/fhir"

var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func mapper(t testing.TB, terms fhir.TermPolicy) *fhir.Mapper {
	t.Helper()
	ids, err := fhir.NewIDs(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return &fhir.Mapper{IDs: ids, Base: base, Terms: terms, Now: func() time.Time { return now }}
}

// story reads a synthetic extract as the gateway would, tags its views and
// maps it.
func story(t testing.TB, practice, format, nhs string, terms fhir.TermPolicy) (*record.Record, *fhir.Result) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "testdata", practice, nhs+".xml"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := adapters.Parse(format, bytes.NewReader(raw), record.ParseOptions{NHSNumber: nhs, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return rec, mapRecord(t, rec, terms)
}

func mapRecord(t testing.TB, rec *record.Record, terms fhir.TermPolicy) *fhir.Result {
	t.Helper()
	record.Tag(rec, record.DefaultViewContext(now))
	res, err := mapper(t, terms).Map(rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// under keeps what an agreement covering views lets through, as the
// entry filter does: an entry in any covered view.
func under(res *fhir.Result, views []record.View) []fhir.Resource {
	var out []fhir.Resource
	for _, rs := range res.Resources {
		for _, v := range views {
			if rs.Entry.InView(v) {
				out = append(out, rs)
				break
			}
		}
	}
	return out
}

func input(res *fhir.Result, views []record.View) Input {
	return Input{Base: base, Patient: res.Patient, Resources: under(res, views), Covered: views, Time: now,
		Author: Author{Name: "MIG - Medical Interoperability Gateway", Version: "test"}}
}

// build builds, marshals, validates as R4 and checks the structure.
func build(t *testing.T, in Input) ([]byte, *Checked) {
	t.Helper()
	doc, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	body, err := fhir.MarshalResource(doc.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Unmarshal(body); err != nil {
		t.Fatalf("the summary is not valid R4: %v", err)
	}
	chk, err := Check(body)
	if err != nil {
		t.Fatalf("the summary's structure: %v", err)
	}
	for typ, n := range doc.Released {
		if want := chk.Types[typ] + map[bool]int{true: 1}[typ == "Composition"]; n != want {
			t.Errorf("Released counts %d %s, the document holds %d", n, typ, want)
		}
	}
	if sum(doc.Released) != sum(chk.Types)+1 {
		t.Errorf("Released %v, the document holds %v and the Composition", doc.Released, chk.Types)
	}
	for _, div := range chk.Narratives {
		wellFormed(t, div)
	}
	return body, chk
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// wellFormed checks a narrative div parses as XML.
func wellFormed(t *testing.T, div string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(div))
	for {
		if _, err := dec.Token(); err == io.EOF {
			return
		} else if err != nil {
			t.Fatalf("narrative is not well-formed XHTML: %v\n%s", err, div)
		}
	}
}

func codesOf(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v struct {
		ResourceType string `json:"resourceType"`
		Code         struct {
			Coding []struct{ Code string } `json:"coding"`
		} `json:"code"`
		VaccineCode struct {
			Coding []struct{ Code string } `json:"coding"`
		} `json:"vaccineCode"`
		Medication struct {
			Coding []struct{ Code string } `json:"coding"`
		} `json:"medicationCodeableConcept"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var cs []string
	for _, c := range append(append(v.Code.Coding, v.VaccineCode.Coding...), v.Medication.Coding...) {
		cs = append(cs, c.Code)
	}
	return v.ResourceType + ":" + strings.Join(cs, ",")
}

// TestBuildStory: the equivalence story of each format, every view
// covered, makes the six sections with the story's items, a valid R4
// document whose structure holds, and leaves the mapped resources as they
// were.
func TestBuildStory(t *testing.T) {
	for _, tc := range []struct{ practice, format, nhs string }{
		{"A99901", "gp2gp", "9990001006"}, {"A99902", "emis", "9990002002"}, {"A99903", "tpp", "9990003009"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			_, res := story(t, tc.practice, tc.format, tc.nhs, fhir.TermPolicy{Filter: true})
			body, chk := build(t, input(res, record.AllViews()))
			want := []string{"10160-0", "48765-2", "11450-4", "11369-6", "30954-2", "8716-3"}
			if strings.Join(chk.Codes, " ") != strings.Join(want, " ") {
				t.Fatalf("sections %v, want %v", chk.Codes, want)
			}
			// The story's items, by code, in their sections.
			for code, items := range map[string][]string{
				"11450-4": {"44054006"},        // type 2 diabetes, the one active problem
				"48765-2": {"91936005"},        // penicillin allergy
				"10160-0": {"325278007"},       // metformin, current
				"11369-6": {"86198006"},        // influenza vaccination
				"30954-2": {"999791000000106"}, // HbA1c
				"8716-3":  {"85354-9"},         // blood pressure
			} {
				var got []string
				for _, r := range chk.Sections[code].Resources {
					got = append(got, codesOf(t, r))
				}
				for _, item := range items {
					if !strings.Contains(strings.Join(got, " "), item) {
						t.Errorf("section %s lacks %s: %v", code, item, got)
					}
				}
			}
			for _, gone := range []string{"263199001" /* resolved fracture */, "323509004" /* amoxicillin, ended */, "80146002" /* procedure */} {
				if bytes.Contains(body, []byte(gone)) {
					t.Errorf("the summary holds %s, which no section lists", gone)
				}
			}
			if n := chk.Types["Encounter"] + chk.Types["Procedure"] + chk.Types["Flag"] + chk.Types["ServiceRequest"]; n > 0 {
				t.Errorf("the summary holds resources no section lists: %v", chk.Types)
			}
			for _, s := range chk.Sections {
				if s.EmptyReason != "" || len(s.Notes) > 0 {
					t.Errorf("section %s: emptyReason %q notes %v, want neither", s.Title, s.EmptyReason, s.Notes)
				}
			}
			// Profiles claimed where met, on copies only.
			for _, p := range []string{ProfileCondition, ProfileAllergyIntolerance, ProfileImmunization} {
				if !bytes.Contains(body, []byte(p)) {
					t.Errorf("no resource claims %s", p)
				}
			}
			for _, rs := range append([]fhir.Resource{res.Patient}, res.Resources...) {
				b, err := fhir.MarshalResource(rs.Proto)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(b, []byte("uv-ips")) {
					t.Fatalf("building the summary changed the mapped %s", rs.Type)
				}
			}
		})
	}
}

// TestNarrativeFromEntries: every row of a section's narrative is made of
// what its entry shows: its display (or code), status and date; dosage
// text, though shown in the entries, is not in any narrative.
func TestNarrativeFromEntries(t *testing.T) {
	_, res := story(t, "A99901", "gp2gp", "9990001006", fhir.TermPolicy{Filter: true})
	body, chk := build(t, input(res, record.AllViews()))
	if !bytes.Contains(body, []byte("twice daily")) {
		t.Fatal("the story's dosage text is not in the document: the check below proves nothing")
	}
	for code, s := range chk.Sections {
		if strings.Contains(s.Div, "twice daily") {
			t.Errorf("section %s narrative holds dosage text", code)
		}
		for _, raw := range s.Resources {
			u, _ := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
			m, err := u.Unmarshal(raw)
			if err != nil {
				t.Fatal(err)
			}
			for _, cell := range row(m.(*bcrpb.ContainedResource)) {
				if cell != "" && !strings.Contains(s.Div, esc(cell)) {
					t.Errorf("section %s narrative lacks %q", code, cell)
				}
			}
		}
	}
	if !strings.Contains(chk.Sections["11450-4"].Div, "2012-05") {
		t.Errorf("the problem's onset (2012-05) is not in the narrative: %s", chk.Sections["11450-4"].Div)
	}
}

// TestNarrativeStrict: with no extract term allowed (strict, no
// terminology), rows show codes, never a term, and the document holds no
// free text of the extract.
func TestNarrativeStrict(t *testing.T) {
	_, res := story(t, "A99901", "gp2gp", "9990001006", fhir.TermPolicy{})
	body, chk := build(t, input(res, record.AllViews()))
	if bytes.Contains(body, []byte("FREETEXT-")) {
		t.Errorf("free text of the extract reached the summary")
	}
	div := chk.Sections["11450-4"].Div
	if strings.Contains(strings.ToLower(div), "diabetes") || !strings.Contains(div, "C10F.") {
		t.Errorf("strict mode: the problem row shows a term or no code: %s", div)
	}
}

// TestNarrativeEscapes: a display holding markup (from a terminology, the
// one source of displays in strict mode) is escaped, and the narrative
// stays well-formed.
func TestNarrativeEscapes(t *testing.T) {
	_, res := story(t, "A99901", "gp2gp", "9990001006", fhir.TermPolicy{Terminology: markup{}})
	_, chk := build(t, input(res, record.AllViews()))
	div := chk.Sections["11450-4"].Div
	if strings.Contains(div, "<b>") || !strings.Contains(div, "&lt;b&gt;&#34;sugar&#34; &amp; &#39;more&#39;&lt;/b&gt;") {
		t.Errorf("display not escaped: %s", div)
	}
}

// esc also keeps out what XML cannot hold.
func TestEscControl(t *testing.T) {
	if got := esc("a\x01b\xffc<"); got != "a b c&lt;" {
		t.Errorf("esc = %q", got)
	}
}

type markup struct{}

func (markup) Display(system, code string) (string, bool) {
	if code == "44054006" || code == "C10F." {
		return `<b>"sugar" & 'more'</b>`, true
	}
	return "", false
}

// TestCoverage: a section is present only when the agreement covers its
// view; the three required ones always are, with emptyReason withheld and
// a line saying so when not covered; the Composition names the optional
// ones left out; nothing of an uncovered view is in the document.
func TestCoverage(t *testing.T) {
	_, res := story(t, "A99901", "gp2gp", "9990001006", fhir.TermPolicy{Filter: true})
	required := []string{"10160-0", "48765-2", "11450-4"}
	for _, tc := range []struct {
		name     string
		views    []record.View
		sections []string
		withheld []string // sections with emptyReason withheld
		types    []string // resource types that must not be in the document
		notShown string   // Composition narrative's list of sections left out
	}{
		{"all views", record.AllViews(), []string{"10160-0", "48765-2", "11450-4", "11369-6", "30954-2", "8716-3"}, nil, nil, ""},
		{"summary only", []record.View{record.ViewSummary}, required, nil, []string{"Immunization"},
			NotSharedPrefix + "Immunisations, Results, Vital signs."},
		{"no summary", []record.View{record.ViewProcedures, record.ViewInvestigations, record.ViewExamination},
			[]string{"10160-0", "48765-2", "11450-4", "11369-6", "30954-2", "8716-3"}, required,
			[]string{"Condition", "AllergyIntolerance", "MedicationStatement", "MedicationRequest"}, ""},
		{"events only", []record.View{record.ViewEvents}, required, required,
			[]string{"Condition", "AllergyIntolerance", "MedicationStatement", "MedicationRequest", "Immunization", "Observation", "Encounter"},
			NotSharedPrefix + "Immunisations, Results, Vital signs."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, chk := build(t, input(res, tc.views))
			if strings.Join(chk.Codes, " ") != strings.Join(tc.sections, " ") {
				t.Fatalf("sections %v, want %v", chk.Codes, tc.sections)
			}
			for _, code := range chk.Codes {
				s := chk.Sections[code]
				w := contains(tc.withheld, code)
				if (s.EmptyReason == "withheld") != w {
					t.Errorf("section %s emptyReason %q, want withheld %v", code, s.EmptyReason, w)
				}
				if w && !strings.Contains(s.Div, NotCoveredText) {
					t.Errorf("section %s does not say it is not shared: %s", code, s.Div)
				}
				if !w && len(s.Entries) == 0 {
					t.Errorf("covered section %s lists nothing", code)
				}
			}
			for _, typ := range tc.types {
				if chk.Types[typ] > 0 {
					t.Errorf("%d %s outside the agreement's views in the document", chk.Types[typ], typ)
				}
			}
			if has := strings.Contains(chk.Narratives[0], NotSharedPrefix); has != (tc.notShown != "") || tc.notShown != "" && !strings.Contains(chk.Narratives[0], tc.notShown) {
				t.Errorf("Composition narrative %s, want %q", chk.Narratives[0], tc.notShown)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestWithheldSaid: what the access rules withheld is said in the section
// that would list it (emptyReason withheld when it was everything, a note
// when some), confidential items in every section present, and anything
// withheld on the Composition, never what or how many.
func TestWithheldSaid(t *testing.T) {
	rec, res := story(t, "A99901", "gp2gp", "9990001006", fhir.TermPolicy{Filter: true})
	var problem, allergy *record.Entry
	for i := range rec.Entries {
		e := &rec.Entries[i]
		if e.Kind == record.KindProblem && e.InView(record.ViewSummary) {
			problem = e
		}
		if e.Kind == record.KindAllergy && e.InView(record.ViewSummary) && e.Code.Has(record.Coding{System: record.SystemSNOMED, Code: "91936005"}) {
			allergy = e
		}
	}
	if problem == nil || allergy == nil {
		t.Fatal("the story's active problem or penicillin allergy is missing")
	}
	in := input(res, record.AllViews())
	var kept []fhir.Resource
	for _, rs := range in.Resources {
		if rs.Entry != problem && rs.Entry != allergy {
			kept = append(kept, rs)
		}
	}
	in.Resources, in.Withheld, in.RecordWithheld = kept, []*record.Entry{problem, allergy}, true
	body, chk := build(t, in)
	if p := chk.Sections["11450-4"]; p.EmptyReason != "withheld" || len(p.Notes) != 1 || p.Notes[0] != AllWithheldText || !strings.Contains(p.Div, AllWithheldText) {
		t.Errorf("problems: emptyReason %q notes %v, want withheld and the all-withheld note", p.EmptyReason, p.Notes)
	}
	if a := chk.Sections["48765-2"]; a.EmptyReason != "" || len(a.Entries) == 0 || len(a.Notes) != 1 || a.Notes[0] != SomeWithheldText || !strings.Contains(a.Div, SomeWithheldText) {
		t.Errorf("allergies: emptyReason %q %d entries notes %v, want entries and the some-withheld note", a.EmptyReason, len(a.Entries), a.Notes)
	}
	for _, code := range []string{"10160-0", "11369-6", "30954-2", "8716-3"} {
		if n := chk.Sections[code].Notes; len(n) > 0 {
			t.Errorf("section %s says %v though nothing of it was withheld", code, n)
		}
	}
	if bytes.Contains(body, []byte("91936005")) || bytes.Contains(body, []byte("44054006")) {
		t.Error("a withheld item's code is in the document")
	}
	if !strings.Contains(chk.Narratives[0], fhir.WithheldMessage) || !bytes.Contains(chk.Composition, []byte(ExtNote)) {
		t.Errorf("the Composition does not say something was withheld")
	}

	in.Confidential = true
	_, chk = build(t, in)
	for code, s := range chk.Sections {
		if !contains(s.Notes, ConfidentialText) || !strings.Contains(s.Div, ConfidentialText) {
			t.Errorf("section %s does not say confidential items were left out: %v", code, s.Notes)
		}
	}
}

// TestEmptyRecord: a record with nothing to list gives every covered
// section emptyReason unavailable and its "nothing recorded" line, and
// the required ones are still there.
func TestEmptyRecord(t *testing.T) {
	rec := &record.Record{Format: "gp2gp", Patient: record.Patient{NHSNumber: "9990001006",
		Name: record.NewHumanName("", []string{"Ann"}, "Example"), BirthDate: record.Date{T: time.Date(1950, 3, 14, 0, 0, 0, 0, time.UTC), P: record.PrecisionDay},
		Sex: record.SexFemale, PracticeODS: "A99901"}}
	res := mapRecord(t, rec, fhir.TermPolicy{})
	in := input(res, record.AllViews())
	in.Unclassified = true
	_, chk := build(t, in)
	if len(chk.Codes) != 6 {
		t.Fatalf("sections %v, want all six", chk.Codes)
	}
	for _, def := range Sections {
		s := chk.Sections[def.Code]
		if s.EmptyReason != "unavailable" || !strings.Contains(s.Div, def.Empty) || len(s.Notes) > 0 {
			t.Errorf("section %s: emptyReason %q, narrative %s", def.Code, s.EmptyReason, s.Div)
		}
	}
	if chk.Types["Patient"] != 1 || chk.Types["Device"] != 1 || sum(chk.Types) != 2 {
		t.Errorf("entries %v, want the Patient and the author", chk.Types)
	}
	if !strings.Contains(chk.Narratives[0], fhir.UnclassifiedMessage) {
		t.Errorf("the Composition does not say some items could not be shown")
	}
	if !bytes.Contains(chk.Patient, []byte(ProfilePatient)) {
		t.Errorf("a named patient with a birth date does not claim %s", ProfilePatient)
	}
}

// TestMedicationOnce: an acute issue is listed only when its
// authorisation is not: one medication, one entry.
func TestMedicationOnce(t *testing.T) {
	day := func(m time.Month, d int) record.Date {
		return record.Date{T: time.Date(2026, m, d, 0, 0, 0, 0, time.UTC), P: record.PrecisionDay}
	}
	drug := func(code string) record.Concept {
		return record.Concept{Codings: []record.Coding{{System: record.SystemSNOMED, Code: code}}}
	}
	rec := &record.Record{Format: "gp2gp", Patient: record.Patient{NHSNumber: "9990001006",
		Name: record.NewHumanName("", []string{"Ann"}, "Example"), PracticeODS: "A99901"}}
	rec.Entries = []record.Entry{
		// A current acute course and its issue: the statement only.
		{ID: "auth-new", Kind: record.KindMedicationAuthorisation, Status: record.StatusActive, Code: drug("323509004"), Effective: day(11, 10),
			Medication: &record.MedicationInfo{Type: record.PrescriptionAcute}},
		{ID: "issue-new", Kind: record.KindMedicationIssue, Code: drug("323509004"), Effective: day(11, 10),
			Medication: &record.MedicationInfo{Type: record.PrescriptionAcute, Authorisation: "auth-new"}},
		// An acute course begun too long ago to be current, issued lately: the issue.
		{ID: "auth-old", Kind: record.KindMedicationAuthorisation, Status: record.StatusActive, Code: drug("39732311000001104"), Effective: day(9, 1),
			Medication: &record.MedicationInfo{Type: record.PrescriptionAcute}},
		{ID: "issue-old", Kind: record.KindMedicationIssue, Code: drug("39732311000001104"), Effective: day(11, 15),
			Medication: &record.MedicationInfo{Type: record.PrescriptionAcute, Authorisation: "auth-old"}},
	}
	res := mapRecord(t, rec, fhir.TermPolicy{})
	_, chk := build(t, input(res, record.AllViews()))
	var got []string
	for _, r := range chk.Sections["10160-0"].Resources {
		got = append(got, codesOf(t, r))
	}
	want := "MedicationStatement:323509004 MedicationRequest:39732311000001104"
	if strings.Join(got, " ") != want {
		t.Errorf("medications %v, want %s", got, want)
	}
	if chk.Patient == nil || bytes.Contains(chk.Patient, []byte(ProfilePatient)) {
		t.Errorf("a patient with no birth date claims %s", ProfilePatient)
	}
}

// TestPruneReferences: a reference to a resource outside the document
// goes, an element left with nothing goes with it, and references that
// resolve, logical ones and fragments stay.
func TestPruneReferences(t *testing.T) {
	lit := func(s string) *d.Reference {
		return &d.Reference{Reference: &d.Reference_Uri{Uri: &d.String{Value: s}}}
	}
	cond := &condpb.Condition{
		Subject:   lit("Patient/p"),
		Encounter: lit("Encounter/e"),
		Asserter:  &d.Reference{Identifier: &d.Identifier{Value: &d.String{Value: "123456789012"}}},
		Evidence: []*condpb.Condition_Evidence{
			{Detail: []*d.Reference{lit("Observation/gone")}},
			{Detail: []*d.Reference{lit("Observation/o"), lit("Observation/gone"), lit("#x")}},
		},
	}
	cr := &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Condition{Condition: cond}}
	pruneReferences(cr, map[string]bool{"Patient/p": true, "Observation/o": true})
	if cond.Encounter != nil || cond.Subject == nil || cond.Asserter == nil {
		t.Errorf("encounter %v subject %v asserter %v: want the encounter only gone", cond.Encounter, cond.Subject, cond.Asserter)
	}
	if len(cond.Evidence) != 1 || len(cond.Evidence[0].Detail) != 2 ||
		cond.Evidence[0].Detail[0].GetUri().GetValue() != "Observation/o" || cond.Evidence[0].Detail[1].GetUri().GetValue() != "#x" {
		t.Errorf("evidence %v: want one element holding Observation/o and #x", cond.Evidence)
	}
}

// TestUUIDs: random UUIDs are version 4 and new each time; the gateway's
// Device id is the version 5 UUID of its URL (the value Python's
// uuid.uuid5(NAMESPACE_URL, ...) gives).
func TestUUIDs(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := newUUID(), newUUID()
	if !re.MatchString(a) || a == b {
		t.Errorf("newUUID %q, %q", a, b)
	}
	if got := nameUUID(base + "/Device/mig-gateway"); got != "76c44db6-78a5-5d6f-bff1-c75510f3813f" {
		t.Errorf("nameUUID = %s", got)
	}
}

// TestCheckFails: the structure check refuses documents that break the
// rules it states, so that the tests relying on it can fail.
func TestCheckFails(t *testing.T) {
	_, res := story(t, "A99901", "gp2gp", "9990001006", fhir.TermPolicy{Filter: true})
	good, _ := build(t, input(res, record.AllViews()))
	edit := func(fn func(b map[string]any)) []byte {
		var b map[string]any
		if err := json.Unmarshal(good, &b); err != nil {
			t.Fatal(err)
		}
		fn(b)
		out, _ := json.Marshal(b)
		return out
	}
	entries := func(b map[string]any) []any { return b["entry"].([]any) }
	res0 := func(b map[string]any, i int) map[string]any {
		return entries(b)[i].(map[string]any)["resource"].(map[string]any)
	}
	sections := func(b map[string]any) []any { return res0(b, 0)["section"].([]any) }
	for name, body := range map[string][]byte{
		"searchset":     edit(func(b map[string]any) { b["type"] = "searchset" }),
		"no identifier": edit(func(b map[string]any) { delete(b, "identifier") }),
		"Composition not first": edit(func(b map[string]any) {
			e := entries(b)
			e[0], e[1] = e[1], e[0]
		}),
		"duplicate fullUrl": edit(func(b map[string]any) {
			entries(b)[3].(map[string]any)["fullUrl"] = entries(b)[2].(map[string]any)["fullUrl"]
		}),
		"entry referenced twice": edit(func(b map[string]any) {
			s := sections(b)[0].(map[string]any)
			s["entry"] = append(s["entry"].([]any), s["entry"].([]any)[0])
		}),
		"entry not referenced": edit(func(b map[string]any) {
			s := sections(b)[0].(map[string]any)
			s["entry"] = s["entry"].([]any)[1:]
		}),
		"required section missing": edit(func(b map[string]any) { res0(b, 0)["section"] = sections(b)[1:] }),
		"emptyReason with entries": edit(func(b map[string]any) {
			sections(b)[0].(map[string]any)["emptyReason"] = map[string]any{"coding": []any{map[string]any{"system": SystemListEmptyReason, "code": "withheld"}}}
		}),
		"unresolved reference": edit(func(b map[string]any) {
			res0(b, 3)["encounter"] = map[string]any{"reference": "Encounter/nowhere"}
		}),
		"narrative not generated": edit(func(b map[string]any) {
			sections(b)[2].(map[string]any)["text"].(map[string]any)["status"] = "additional"
		}),
		"unknown section": edit(func(b map[string]any) {
			sections(b)[5].(map[string]any)["code"] = map[string]any{"coding": []any{map[string]any{"system": SystemLOINC, "code": "47519-4"}}}
		}),
	} {
		if _, err := Check(body); err == nil {
			t.Errorf("%s: Check accepted it", name)
		}
	}
}

// BenchmarkSummary: building and writing the summary of the long-history
// record (550+ entries) beside writing every resource of it as
// $everything does, in one run: the summary's cost as a ratio of that.
func BenchmarkSummary(b *testing.B) {
	_, res := story(b, "A99901", "gp2gp", "9990001030", fhir.TermPolicy{Filter: true})
	in := input(res, record.AllViews())
	b.Run("everything", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for _, rs := range append([]fhir.Resource{res.Patient}, res.Resources...) {
				if _, err := fhir.MarshalResource(copyOf(rs.Proto)); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("summary", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			doc, err := Build(in)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := fhir.MarshalResource(doc.Bundle); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestSharedSamples builds the summary from each real GP2GP sample (the
// NHS adaptor's inputs in ../shared/reference), under every view and under
// Summary alone: valid R4, the IPS structure, and nothing outside the
// agreed views.
func TestSharedSamples(t *testing.T) {
	dir := testenv.Reference(t, "gp2gp", "samples", "input")
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	if len(files) == 0 {
		t.Skip("no GP2GP samples in ../shared/reference/gp2gp/samples/input")
	}
	entries := 0
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := adapters.Parse("gp2gp", bytes.NewReader(raw), record.ParseOptions{Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			// The samples' NHS numbers are test numbers that fail the
			// check digit: map them offline, as migctl map does.
			record.Tag(rec, record.DefaultViewContext(now))
			m := mapper(t, fhir.TermPolicy{})
			m.Offline = true
			res, err := m.Map(rec, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, all := build(t, input(res, record.AllViews()))
			for _, n := range all.Types {
				entries += n
			}
			_, summary := build(t, input(res, []record.View{record.ViewSummary}))
			for typ := range summary.Types {
				switch typ {
				case "Patient", "Device", "AllergyIntolerance", "Condition", "MedicationStatement", "MedicationRequest", "Medication":
				default:
					t.Errorf("a Summary-only agreement let %s into the summary", typ)
				}
			}
		})
	}
	t.Logf("%d samples, %d summary entries under every view", len(files), entries)
	if entries == 0 {
		t.Error("no sample gave the summary any entry")
	}
}
