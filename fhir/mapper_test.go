package fhir

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mig"
	"mig/adapters/record"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

func init() {
	now = func() time.Time { return time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC) }
}

func testMapper(t testing.TB) *Mapper {
	return &Mapper{IDs: mustIDs(t, 7), Base: "https://mig.example.nhs.uk/fhir/", Terms: TermPolicy{Filter: true}}
}

func tagged(rec *record.Record) *record.Record {
	record.Tag(rec, record.DefaultViewContext(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)))
	return rec
}

// validate checks b with jsonformat's validating R4 unmarshaller.
func validate(t testing.TB, what string, b []byte) {
	t.Helper()
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Unmarshal(b); err != nil {
		t.Fatalf("%s is not valid R4: %v\n%s", what, err, b)
	}
}

// mapAll maps rec and returns the marshalled resources, Patient first.
func mapAll(t testing.TB, m *Mapper, rec *record.Record, keep func(*record.Entry) bool) (*Result, [][]byte) {
	t.Helper()
	res, err := m.Map(rec, keep)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, r := range append([]Resource{res.Patient}, res.Resources...) {
		b, err := MarshalResource(r.Proto)
		if err != nil {
			t.Fatalf("%s: %v", r.Type, err)
		}
		out = append(out, b)
	}
	return res, out
}

func collection(m *Mapper, res *Result, bodies [][]byte) []byte {
	all := append([]Resource{res.Patient}, res.Resources...)
	entries := make([]BundleEntry, len(all))
	for i, r := range all {
		entries[i] = BundleEntry{FullURL: m.FullURL(r.Type, r.ID), Resource: bodies[i]}
	}
	return Collection(nil, entries)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		t.Fatalf("%s: invalid JSON: %v", name, err)
	}
	pretty.WriteByte('\n')
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./fhir -update)", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("%s differs from %s (run go test ./fhir -update and review the diff)\n%s", name, path, pretty.Bytes())
	}
}

func TestMapGoldenAndValid(t *testing.T) {
	m := testMapper(t)
	res, bodies := mapAll(t, m, tagged(fixture()), nil)
	for i, b := range bodies {
		validate(t, "resource "+string(rune('0'+i%10)), b)
	}
	bundle := collection(m, res, bodies)
	validate(t, "collection bundle", bundle)
	golden(t, "record", bundle)
}

// parsed returns the resources as generic JSON, keyed by type then by the
// source id of their entry ("" for the Patient).
func parsed(t *testing.T, res *Result, bodies [][]byte) map[string]map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]map[string]any{}
	all := append([]Resource{res.Patient}, res.Resources...)
	for i, r := range all {
		var v map[string]any
		if err := json.Unmarshal(bodies[i], &v); err != nil {
			t.Fatal(err)
		}
		src := ""
		if r.Entry != nil {
			src = r.Entry.ID
		}
		if out[r.Type] == nil {
			out[r.Type] = map[string]map[string]any{}
		}
		out[r.Type][src] = v
	}
	return out
}

// get walks a generic JSON value by keys and indexes ("0").
func get(v any, path ...string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i := int(p[0] - '0')
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func TestMapFields(t *testing.T) {
	m := testMapper(t)
	rec := tagged(fixture())
	res, bodies := mapAll(t, m, rec, nil)
	r := parsed(t, res, bodies)
	ref := func(typ, src string) string { return typ + "/" + m.IDs.Resource("9990001006", typ, src) }
	pat := "Patient/" + m.IDs.Patient("9990001006")
	tests := []struct {
		typ, src string
		path     []string
		want     any
	}{
		{"Patient", "", []string{"identifier", "0", "system"}, SystemNHSNumber},
		{"Patient", "", []string{"identifier", "0", "extension", "0", "valueCodeableConcept", "coding", "0", "code"}, "01"},
		{"Patient", "", []string{"birthDate"}, "1950-03-14"},
		{"Patient", "", []string{"gender"}, "female"},
		{"Patient", "", []string{"address", "0", "postalCode"}, "LS1 1AA"},
		{"Patient", "", []string{"generalPractitioner", "0", "identifier", "value"}, "A99901"},
		{"Patient", "", []string{"meta", "profile", "0"}, "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"},
		{"Condition", "SRC-prob-dm", []string{"clinicalStatus", "coding", "0", "code"}, "active"},
		{"Condition", "SRC-prob-dm", []string{"category", "0", "coding", "0", "code"}, "problem-list-item"},
		{"Condition", "SRC-prob-dm", []string{"onsetDateTime"}, "2012-05"},
		{"Condition", "SRC-prob-dm", []string{"subject", "reference"}, pat},
		{"Condition", "SRC-prob-dm", []string{"code", "coding", "0", "code"}, "C10F."},
		{"Condition", "SRC-prob-dm", []string{"code", "coding", "0", "userSelected"}, true},
		{"Condition", "SRC-prob-dm", []string{"code", "coding", "1", "system"}, record.SystemSNOMED},
		{"Condition", "SRC-prob-dm", []string{"asserter", "identifier", "system"}, SystemSDSUser},
		{"Condition", "SRC-prob-dm", []string{"evidence", "0", "detail", "0", "reference"}, ref("Observation", "SRC-hba1c")},
		{"Condition", "SRC-prob-dm", []string{"evidence", "0", "detail", "1", "reference"}, ref("MedicationRequest", "SRC-auth-met")},
		{"Condition", "SRC-prob-dm", []string{"evidence", "0", "detail", "2"}, nil},
		{"Condition", "SRC-prob-frac", []string{"clinicalStatus", "coding", "0", "code"}, "resolved"},
		{"Condition", "SRC-prob-frac", []string{"abatementDateTime"}, "2015-06-01"},
		{"Condition", "SRC-prob-old", []string{"clinicalStatus", "coding", "0", "code"}, "inactive"},
		{"Condition", "SRC-prob-old", []string{"onsetDateTime"}, "1990"},
		{"Condition", "SRC-prob-unknown", []string{"clinicalStatus", "coding", "0", "code"}, "active"},
		{"Condition", "SRC-dx", []string{"category", "0", "coding", "0", "code"}, "encounter-diagnosis"},
		{"Condition", "SRC-dx", []string{"encounter", "reference"}, ref("Encounter", "SRC-cons")},
		{"Condition", "SRC-dx", []string{"clinicalStatus"}, nil},
		{"MedicationStatement", "SRC-auth-met", []string{"status"}, "active"},
		{"MedicationStatement", "SRC-auth-met", []string{"basedOn", "0", "reference"}, ref("MedicationRequest", "SRC-auth-met")},
		{"MedicationStatement", "SRC-auth-met", []string{"dosage", "0", "text"}, "one tablet twice daily"},
		{"MedicationStatement", "SRC-auth-met", []string{"effectivePeriod", "start"}, "2024-01-10"},
		{"MedicationStatement", "SRC-auth-amox", []string{"status"}, "completed"},
		{"MedicationStatement", "SRC-auth-stopped", []string{"status"}, "stopped"},
		{"MedicationStatement", "SRC-auth-unknown", []string{"status"}, "unknown"},
		{"MedicationRequest", "SRC-auth-met", []string{"intent"}, "plan"},
		{"MedicationRequest", "SRC-auth-met", []string{"status"}, "active"},
		{"MedicationRequest", "SRC-auth-met", []string{"courseOfTherapyType", "coding", "0", "code"}, "continuous"},
		{"MedicationRequest", "SRC-auth-met", []string{"dispenseRequest", "numberOfRepeatsAllowed"}, 6.0},
		{"MedicationRequest", "SRC-auth-met", []string{"dispenseRequest", "quantity", "value"}, 56.0},
		{"MedicationRequest", "SRC-auth-met", []string{"dispenseRequest", "extension", "0", "valueString"}, "56 tablet"},
		{"MedicationRequest", "SRC-auth-met", []string{"dosageInstruction", "0", "text"}, "one tablet twice daily"},
		{"MedicationRequest", "SRC-auth-amox", []string{"courseOfTherapyType", "coding", "0", "code"}, "acute"},
		{"MedicationRequest", "SRC-auth-amox", []string{"status"}, "completed"},
		{"MedicationRequest", "SRC-auth-stopped", []string{"status"}, "stopped"},
		{"MedicationRequest", "SRC-issue-met-0", []string{"intent"}, "order"},
		{"MedicationRequest", "SRC-issue-met-0", []string{"status"}, "completed"},
		{"MedicationRequest", "SRC-issue-met-0", []string{"authoredOn"}, "2026-10-01"},
		{"MedicationRequest", "SRC-issue-met-1", []string{"basedOn", "0", "reference"}, ref("MedicationRequest", "SRC-auth-met")},
		{"AllergyIntolerance", "SRC-allergy", []string{"clinicalStatus", "coding", "0", "code"}, "active"},
		{"AllergyIntolerance", "SRC-allergy", []string{"verificationStatus", "coding", "0", "code"}, "confirmed"},
		{"AllergyIntolerance", "SRC-allergy", []string{"category", "0"}, "medication"},
		{"AllergyIntolerance", "SRC-allergy", []string{"reaction", "0", "substance", "coding", "0", "code"}, "e3..."},
		{"AllergyIntolerance", "SRC-allergy", []string{"recordedDate"}, "2001-05-02"},
		{"AllergyIntolerance", "SRC-allergy-env", []string{"category", "0"}, "environment"},
		{"AllergyIntolerance", "SRC-allergy-env", []string{"clinicalStatus", "coding", "0", "code"}, "resolved"},
		{"AllergyIntolerance", "SRC-allergy-old", []string{"clinicalStatus", "coding", "0", "code"}, "inactive"},
		{"Observation", "SRC-bp", []string{"meta", "profile", "0"}, ProfileBP},
		{"Observation", "SRC-bp", []string{"category", "0", "coding", "0", "code"}, "vital-signs"},
		{"Observation", "SRC-bp", []string{"code", "coding", "2", "code"}, "85354-9"},
		{"Observation", "SRC-bp", []string{"component", "0", "code", "coding", "0", "code"}, "8480-6"},
		{"Observation", "SRC-bp", []string{"component", "0", "valueQuantity", "value"}, 142.0},
		{"Observation", "SRC-bp", []string{"component", "1", "code", "coding", "0", "code"}, "8462-4"},
		{"Observation", "SRC-bp", []string{"component", "1", "valueQuantity", "code"}, "mm[Hg]"},
		{"Observation", "SRC-bp", []string{"effectiveDateTime"}, "2026-09-15T10:35:00Z"},
		{"Observation", "SRC-bp-half", []string{"effectiveDateTime"}, "2026-08-01T08:15:42Z"},
		{"Observation", "SRC-bp-half", []string{"component", "1", "dataAbsentReason", "coding", "0", "code"}, "unknown"},
		{"Observation", "SRC-hba1c", []string{"category", "0", "coding", "0", "code"}, "laboratory"},
		{"Observation", "SRC-hba1c", []string{"valueQuantity", "value"}, 58.0},
		{"Observation", "SRC-hba1c", []string{"referenceRange", "0", "high", "value"}, 41.0},
		{"Observation", "SRC-hba1c", []string{"interpretation", "0", "coding", "0", "code"}, "H"},
		{"Observation", "SRC-wbc", []string{"valueQuantity", "comparator"}, "<"},
		{"Observation", "SRC-fbc", []string{"hasMember", "0", "reference"}, ref("Observation", "SRC-hb")},
		{"Observation", "SRC-fbc", []string{"hasMember", "1", "reference"}, ref("Observation", "SRC-wbc")},
		{"Observation", "SRC-fbc", []string{"hasMember", "2", "reference"}, ref("Observation", "SRC-withheld")},
		{"Observation", "SRC-fbc", []string{"hasMember", "3"}, nil},
		{"Observation", "SRC-xray", []string{"category", "0", "coding", "0", "code"}, "imaging"},
		{"Observation", "SRC-xray", []string{"performer"}, nil},
		{"Procedure", "SRC-proc", []string{"status"}, "completed"},
		{"Procedure", "SRC-proc", []string{"performedDateTime"}, "2010-07-20"},
		{"Immunization", "SRC-imm", []string{"occurrenceDateTime"}, "2026-10-05"},
		{"Immunization", "SRC-imm", []string{"status"}, "completed"},
		{"Immunization", "SRC-imm", []string{"primarySource"}, true},
		{"Flag", "SRC-risk", []string{"status"}, "active"},
		{"Flag", "SRC-risk-old", []string{"status"}, "inactive"},
		{"Flag", "SRC-risk-old", []string{"period", "end"}, "2012-01-01"},
		{"Encounter", "SRC-cons", []string{"status"}, "finished"},
		{"Encounter", "SRC-cons", []string{"class", "code"}, "AMB"},
		{"Encounter", "SRC-cons", []string{"serviceProvider", "identifier", "value"}, "A99901"},
		{"Encounter", "SRC-cons", []string{"participant", "0", "individual", "identifier", "value"}, "123456789012"},
		{"Encounter", "SRC-cons", []string{"period", "start"}, "2026-09-15T10:30:00Z"},
		{"Encounter", "SRC-adm", []string{"class", "code"}, "IMP"},
		{"ServiceRequest", "SRC-ref", []string{"intent"}, "order"},
		{"ServiceRequest", "SRC-ref", []string{"status"}, "active"},
		{"ServiceRequest", "SRC-ref", []string{"priority"}, "routine"},
		{"ServiceRequest", "SRC-ref", []string{"performer", "0", "identifier", "value"}, "RX999"},
		{"ServiceRequest", "SRC-ref", []string{"encounter", "reference"}, ref("Encounter", "SRC-cons")},
		{"ServiceRequest", "SRC-ref-done", []string{"status"}, "completed"},
		{"ServiceRequest", "SRC-ref-done", []string{"priority"}, "urgent"},
	}
	for _, tc := range tests {
		v, ok := r[tc.typ][tc.src]
		if !ok {
			t.Errorf("no %s for %s", tc.typ, tc.src)
			continue
		}
		if got := get(v, tc.path...); got != tc.want {
			t.Errorf("%s %s %s = %v, want %v", tc.typ, tc.src, strings.Join(tc.path, "."), got, tc.want)
		}
	}
	// Every entry but KindNone and the code-less one is mapped; an
	// authorisation gives two resources.
	counts := map[string]int{}
	for _, x := range res.Resources {
		counts[x.Type]++
	}
	// The coded "no known allergy" beside an active allergy is set aside
	// (contradicted), not withheld: three allergies, and no warning.
	want := map[string]int{"Condition": 5, "MedicationStatement": 4, "MedicationRequest": 7, "AllergyIntolerance": 3,
		"Observation": 8, "Procedure": 1, "Immunization": 2, "Flag": 2, "Encounter": 2, "ServiceRequest": 2}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%d %s, want %d", counts[k], k, n)
		}
	}
	if res.Withheld {
		t.Error("Withheld set with nothing withheld")
	}
	// Views come from the entry.
	for _, x := range res.Resources {
		if x.Entry == nil || len(x.Views) != len(x.Entry.Views) {
			t.Errorf("%s %s: views not the entry's", x.Type, x.ID)
		}
	}
	if len(res.Patient.Views) != len(record.Views) {
		t.Error("the Patient must be in every view")
	}
}

func TestMapIDsDistinctAndStable(t *testing.T) {
	m := testMapper(t)
	a, _ := mapAll(t, m, tagged(fixture()), nil)
	b, _ := mapAll(t, m, tagged(fixture()), nil)
	seen := map[string]bool{a.Patient.ID: true}
	for i, r := range a.Resources {
		if seen[r.ID] {
			t.Errorf("duplicate id %s (%s)", r.ID, r.Type)
		}
		seen[r.ID] = true
		if b.Resources[i].ID != r.ID {
			t.Errorf("id of %s not stable", r.Type)
		}
		nhs, typ, err := m.IDs.Decode(r.ID)
		if err != nil || nhs != "9990001006" || typ != r.Type {
			t.Errorf("Decode(%s) = %s %s %v", r.ID, nhs, typ, err)
		}
		if got, ok := a.Find(r.Type, r.ID); !ok || got.ID != r.ID {
			t.Errorf("Find(%s, %s) failed", r.Type, r.ID)
		}
	}
}

func TestMapWithheldAndSensitive(t *testing.T) {
	m := testMapper(t)
	tests := []struct {
		name         string
		recWithheld  bool
		sensitive    bool
		keep         func(*record.Entry) bool
		wantWithheld bool
	}{
		{"all kept", false, false, nil, false},
		{"record withheld", true, false, nil, true},
		{"keep rejects one", false, false, func(e *record.Entry) bool { return e.ID != "SRC-withheld" }, true},
		{"keep rejects only KindNone", false, false, func(e *record.Entry) bool { return e.Kind != record.KindNone }, false},
		{"sensitive patient", false, true, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := tagged(fixture())
			rec.Withheld = tc.recWithheld
			rec.Patient.Sensitive = tc.sensitive
			res, bodies := mapAll(t, m, rec, tc.keep)
			if res.Withheld != tc.wantWithheld {
				t.Errorf("Withheld = %v, want %v", res.Withheld, tc.wantWithheld)
			}
			all := bytes.Join(bodies, nil)
			if tc.sensitive == bytes.Contains(all, []byte("LS1 1AA")) || tc.sensitive == bytes.Contains(all, []byte("1 Test Street")) {
				t.Errorf("sensitive=%v but address present=%v", tc.sensitive, !tc.sensitive)
			}
			id := m.IDs.Resource("9990001006", "Observation", "SRC-withheld")
			if tc.keep != nil && tc.wantWithheld {
				if bytes.Contains(all, []byte(id)) {
					t.Error("a withheld entry's id is referenced")
				}
				if _, ok := res.Find("Observation", id); ok {
					t.Error("a withheld entry was mapped")
				}
			}
			for i, b := range bodies {
				validate(t, res.Patient.Type+string(rune('a'+i%26)), b)
			}
		})
	}
}

func TestMapPatientVariants(t *testing.T) {
	m := testMapper(t)
	tests := []struct {
		name   string
		change func(p *record.Patient)
		path   []string
		want   any
	}{
		{"deceased with date", func(p *record.Patient) { p.Deceased = true; p.DeceasedDate = day(2026, 1, 2) }, []string{"deceasedDateTime"}, "2026-01-02"},
		{"deceased no date", func(p *record.Patient) { p.Deceased = true }, []string{"deceasedBoolean"}, true},
		{"male", func(p *record.Patient) { p.Sex = record.SexMale }, []string{"gender"}, "male"},
		{"other", func(p *record.Patient) { p.Sex = record.SexOther }, []string{"gender"}, "other"},
		{"unknown sex", func(p *record.Patient) { p.Sex = record.SexUnknown }, []string{"gender"}, "unknown"},
		{"birth year only", func(p *record.Patient) { p.BirthDate = record.Date{T: p.BirthDate.T, P: record.PrecisionYear} }, []string{"birthDate"}, "1950"},
		{"birth month", func(p *record.Patient) { p.BirthDate = record.Date{T: p.BirthDate.T, P: record.PrecisionMonth} }, []string{"birthDate"}, "1950-03"},
		{"no name", func(p *record.Patient) { p.Name = record.HumanName{} }, []string{"name"}, nil},
		{"no practice", func(p *record.Patient) { p.PracticeODS = "" }, []string{"generalPractitioner"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := tagged(fixture())
			tc.change(&rec.Patient)
			_, bodies := mapAll(t, m, rec, nil)
			validate(t, "Patient", bodies[0])
			var v map[string]any
			if err := json.Unmarshal(bodies[0], &v); err != nil {
				t.Fatal(err)
			}
			if got := get(v, tc.path...); got != tc.want {
				t.Errorf("%v = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

func TestMapErrors(t *testing.T) {
	rec := tagged(fixture())
	rec.Patient.NHSNumber = "9990001007"
	if _, err := testMapper(t).Map(rec, nil); mig.ErrorCode(err) != mig.EINVALID {
		t.Errorf("invalid NHS number: %v", err)
	} else if strings.Contains(err.Error(), "9990001007") {
		t.Error("error message holds the NHS number")
	}
	if _, err := (&Mapper{}).Map(fixture(), nil); mig.ErrorCode(err) != mig.EINTERNAL {
		t.Errorf("no IDs: %v", err)
	}
	if _, err := testMapper(t).Map(nil, nil); mig.ErrorCode(err) != mig.EINVALID {
		t.Errorf("nil record: %v", err)
	}
}

// TestNoFreeText walks every string of the output: record text may appear
// only where it is allowed (terms as coding displays, names and addresses
// in the Patient, dosage and quantity text in prescriptions); clinicians'
// names, source ids and anything marked FREETEXT- never.
func TestNoFreeText(t *testing.T) {
	m := testMapper(t)
	rec := tagged(fixture())
	texts := map[string]string{} // record text -> category
	for _, e := range rec.Entries {
		for _, c := range []record.Concept{e.Code, e.Interpretation} {
			for _, cd := range c.Codings {
				texts[cd.Term.String()] = "term"
			}
		}
		if e.Allergy != nil {
			for _, cd := range append(e.Allergy.Substance.Codings, e.Allergy.Reaction.Codings...) {
				texts[cd.Term.String()] = "term"
			}
		}
		if e.Medication != nil {
			texts[e.Medication.Dosage.String()] = "dosage"
			texts[e.Medication.Quantity.String()] = "quantity"
		}
	}
	p := rec.Patient
	for _, s := range append(p.Name.Given(), p.Name.Family(), p.Name.Prefix()) {
		texts[s] = "name"
	}
	for _, s := range append(p.Address.Lines(), p.Address.City(), p.Address.District(), p.Address.PostalCode()) {
		texts[s] = "address"
	}
	delete(texts, "")
	allowed := func(cat string, path []string) bool {
		last := path[len(path)-1]
		joined := strings.Join(path, ".")
		switch cat {
		case "term":
			return last == "display"
		case "name":
			return path[0] == "Patient" && path[1] == "name"
		case "address":
			return path[0] == "Patient" && path[1] == "address"
		case "dosage":
			return last == "text" && (strings.Contains(joined, ".dosage.") || strings.Contains(joined, ".dosageInstruction."))
		case "quantity":
			return last == "valueString" && strings.Contains(joined, ".dispenseRequest.extension.")
		}
		return false
	}
	res, bodies := mapAll(t, m, rec, nil)
	found := map[string]bool{}
	for i, b := range bodies {
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		typ := res.Patient.Type
		if i > 0 {
			typ = res.Resources[i-1].Type
		}
		var walk func(v any, path []string)
		walk = func(v any, path []string) {
			switch x := v.(type) {
			case map[string]any:
				for k, c := range x {
					walk(c, append(path[:len(path):len(path)], k))
				}
			case []any:
				for _, c := range x {
					walk(c, path)
				}
			case string:
				if strings.Contains(x, "FREETEXT-") || strings.Contains(x, "SRC-") {
					t.Errorf("%s: %q must never be written", strings.Join(path, "."), x)
				}
				if cat, ok := texts[x]; ok {
					found[cat] = true
					if !allowed(cat, path) {
						t.Errorf("record %s text at %s", cat, strings.Join(path, "."))
					}
				}
			}
		}
		walk(v, []string{typ})
	}
	for _, cat := range []string{"term", "name", "address", "dosage", "quantity"} {
		if !found[cat] {
			t.Errorf("no %s text found: the test would not see a leak", cat)
		}
	}
}

func BenchmarkMapAndMarshal(b *testing.B) {
	m := testMapper(b)
	rec := generated(700)
	b.ReportAllocs()
	for b.Loop() {
		res, err := m.Map(rec, nil)
		if err != nil {
			b.Fatal(err)
		}
		all := append([]Resource{res.Patient}, res.Resources...)
		entries := make([]BundleEntry, len(all))
		for i, r := range all {
			body, err := MarshalResource(r.Proto)
			if err != nil {
				b.Fatal(err)
			}
			entries[i] = BundleEntry{FullURL: m.FullURL(r.Type, r.ID), Resource: body, Mode: ModeMatch}
		}
		_ = SearchSet(len(entries), nil, entries)
	}
}
