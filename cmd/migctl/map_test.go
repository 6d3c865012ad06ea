package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"mig/internal/testenv"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"mig/adapters"
	"mig/adapters/record"
	"mig/fhir"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

var update = flag.Bool("update", false, "rewrite cmd/migctl/testdata/map golden files")

// extract is one input of the map command.
type extract struct {
	path, format, nhs string
}

// syntheticExtracts lists our extracts; the folder gives the format.
func syntheticExtracts(t testing.TB) []extract {
	t.Helper()
	root := testenv.ModuleRoot(t)
	var out []extract
	for _, p := range []struct{ dir, format string }{{"A99901", "gp2gp"}, {"A99902", "emis"}, {"A99903", "tpp"}} {
		files, err := filepath.Glob(filepath.Join(root, "testdata", p.dir, "*.xml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no extracts in testdata/%s", p.dir)
		}
		for _, f := range files {
			out = append(out, extract{f, p.format, strings.TrimSuffix(filepath.Base(f), ".xml")})
		}
	}
	return out
}

// sampleExtracts lists the reference GP2GP samples, skipping t when absent.
func sampleExtracts(t testing.TB) []extract {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(testenv.ModuleRoot(t), "..", "shared", "reference", "gp2gp", "samples", "input", "*.xml"))
	if len(files) == 0 {
		t.Skip("reference samples (../shared/reference/gp2gp/samples) absent")
	}
	var out []extract
	for _, f := range files {
		out = append(out, extract{path: f, format: "gp2gp"})
	}
	return out
}

// sampleNHS is a valid NHS number of the 999 test range, given to the
// samples (see withNHSNumber).
const sampleNHS = "9990000018"

// sampleTarget is the samples' recordTarget patient id: a test-harness
// label, not an NHS number.
var sampleTarget = regexp.MustCompile(`(<patient classCode="PAT">\s*)<id root="2\.16\.840\.1\.113883\.2\.1\.3\.2\.4\.9" extension="Test Harness" />`)

// withNHSNumber returns a copy of the sample x, written under t.TempDir(),
// whose recordTarget carries sampleNHS. The reference samples name their
// patient "Test Harness" and hold no NHS number, and the mapper derives
// every id from one, so unchanged they cannot be mapped (TestMapSamplesAsGiven);
// the copy differs from the sample in that one element only.
func withNHSNumber(t testing.TB, x extract) extract {
	t.Helper()
	doc, err := os.ReadFile(x.path)
	if err != nil {
		t.Fatal(err)
	}
	if len(sampleTarget.FindAllIndex(doc, -1)) != 1 {
		t.Fatalf("%s: no single test-harness recordTarget to give an NHS number", filepath.Base(x.path))
	}
	doc = sampleTarget.ReplaceAll(doc, []byte(`${1}<id root="2.16.840.1.113883.2.1.4.1" extension="`+sampleNHS+`" />`))
	p := filepath.Join(t.TempDir(), filepath.Base(x.path))
	if err := os.WriteFile(p, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	return extract{path: p, format: x.format, nhs: sampleNHS}
}

// TestMapSamplesAsGiven maps the reference samples unchanged. It fails
// today: they hold no NHS number, and migctl map refuses a record without
// a valid one ("record: the patient's NHS number is not valid"), so the
// offline mapper cannot show what the gateway would make of them.
func TestMapSamplesAsGiven(t *testing.T) {
	for _, x := range sampleExtracts(t) {
		t.Run(filepath.Base(x.path), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(context.Background(), []string{"map", "--format", x.format, x.path}, &out, &errb); code != 0 {
				t.Errorf("migctl map exit %d: %s", code, strings.TrimSpace(errb.String()))
			}
		})
	}
}

// mapCmd runs migctl map on x and returns the Bundle.
func mapCmd(t testing.TB, x extract) []byte {
	t.Helper()
	var out, errb bytes.Buffer
	args := []string{"map", "--format", x.format, x.path}
	if x.nhs != "" {
		args = append(args, "--nhs", x.nhs)
	}
	if code := run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("migctl map %s: exit %d: %s", filepath.Base(x.path), code, errb.String())
	}
	return out.Bytes()
}

// decode reads JSON keeping numbers as written.
func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	return v
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func arr(v any) []any          { a, _ := v.([]any); return a }
func str(v any) string         { s, _ := v.(string); return s }

// resources returns the Bundle's entry resources.
func resources(bundle map[string]any) []map[string]any {
	var out []map[string]any
	for _, e := range arr(bundle["entry"]) {
		out = append(out, obj(obj(e)["resource"]))
	}
	return out
}

// goldenClock is when the goldens were written. A TPP authorisation's
// status is judged against the clock (adapters/tpp medStatus: an end date
// still to come is active, a past one completed or stopped), so the status
// of one ending after goldenClock changes with the day the test runs: the
// Ramipril authorisation of 9990003017 ends 2030-01-01 and turns from active
// to completed then. normaliseClock checks those statuses against the rule
// here and replaces them with a placeholder. (TPP's CareEndDate, the other
// clock-judged field, is in no synthetic extract; GP2GP and EMIS take
// statuses from the extract; the views record.Tag derives from the clock do
// not appear in FHIR output.)
var goldenClock = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

func normaliseClock(t *testing.T, format string, bundle map[string]any, now time.Time) {
	t.Helper()
	if format != "tpp" {
		return
	}
	for _, r := range resources(bundle) {
		var end string
		switch str(r["resourceType"]) {
		case "MedicationStatement":
			end = str(obj(r["effectivePeriod"])["end"])
		case "MedicationRequest":
			if str(r["intent"]) != "plan" {
				continue // issues are always completed
			}
			end = str(obj(obj(r["dispenseRequest"])["validityPeriod"])["end"])
		default:
			continue
		}
		if end == "" {
			continue // no end: active whatever the day
		}
		e, err := time.Parse("2006-01-02", end[:min(len(end), 10)])
		if err != nil {
			t.Fatalf("%s end %q: %v", r["resourceType"], end, err)
		}
		if !e.After(goldenClock) {
			continue // ended before the goldens were written: fixed for ever
		}
		st := str(r["status"])
		if e.After(now) != (st == "active") || st != "active" && st != "completed" && st != "stopped" {
			t.Errorf("%s ending %s has status %s on %s", r["resourceType"], end, st, now.Format(time.DateOnly))
		}
		r["status"] = "(judged against the clock)"
	}
}

// normalise replaces the Bundle's meta.lastUpdated and timestamp (the
// time of the run) after checking they are that time, and the clock-judged
// statuses, and returns sorted-key, indented JSON.
func normalise(t *testing.T, format string, b []byte, before, after time.Time) []byte {
	t.Helper()
	v := decode(t, b)
	for _, f := range []struct {
		name string
		m    map[string]any
		key  string
	}{{"meta.lastUpdated", obj(v["meta"]), "lastUpdated"}, {"timestamp", v, "timestamp"}} {
		ts, err := time.Parse(time.RFC3339, str(f.m[f.key]))
		if err != nil || ts.Before(before.Truncate(time.Second)) || ts.After(after) {
			t.Errorf("Bundle %s = %v, want the time of the run", f.name, f.m[f.key])
		}
		f.m[f.key] = "(time of the run)"
	}
	normaliseClock(t, format, v, before)
	out, err := json.MarshalIndent(v, "", "  ") // map keys come out sorted
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

// TestMapGolden maps every synthetic extract with the command and compares
// the Bundle with testdata/map/<NHS>.golden.json (-update rewrites them).
func TestMapGolden(t *testing.T) {
	for _, x := range syntheticExtracts(t) {
		t.Run(x.nhs, func(t *testing.T) {
			before := time.Now().UTC()
			b := mapCmd(t, x)
			got := normalise(t, x.format, b, before, time.Now().UTC())
			path := filepath.Join("testdata", "map", x.nhs+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/migctl -run TestMapGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Bundle differs from %s:\n%s", path, lineDiff(string(want), string(got)))
			}
		})
	}
}

// lineDiff shows the first lines where want and got differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 20; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}

// TestMapOutputValidR4 checks every Bundle, and every resource in it, with
// the validating R4 unmarshaller.
func TestMapOutputValidR4(t *testing.T) {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, x extract) {
		b := mapCmd(t, x)
		if _, err := u.Unmarshal(b); err != nil {
			t.Errorf("Bundle is not valid R4: %v", err)
		}
		for i, r := range resources(decode(t, b)) {
			rb, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := u.Unmarshal(rb); err != nil {
				t.Errorf("entry %d (%s) is not valid R4: %v", i, r["resourceType"], err)
			}
		}
		// bdl-7: one fullUrl, one entry.
		seen := map[string]bool{}
		for _, e := range arr(decode(t, b)["entry"]) {
			u := str(obj(e)["fullUrl"])
			if seen[u] {
				t.Errorf("two entries with fullUrl %s", u)
			}
			seen[u] = true
		}
	}
	for _, x := range syntheticExtracts(t) {
		t.Run(x.nhs, func(t *testing.T) { check(t, x) })
	}
	t.Run("samples", func(t *testing.T) {
		for _, x := range sampleExtracts(t) {
			t.Run(filepath.Base(x.path), func(t *testing.T) { check(t, withNHSNumber(t, x)) })
		}
	})
}

// gpcCounts counts what the sample comparison looks at.
type gpcCounts struct {
	Problems, MedicationStatements, MedicationRequests, Allergies, BloodPressures int
}

func codings(c map[string]any) []record.Coding {
	var out []record.Coding
	for _, cd := range arr(c["coding"]) {
		out = append(out, record.Coding{System: str(obj(cd)["system"]), Code: str(obj(cd)["code"])})
	}
	return out
}

func isProblem(r map[string]any) bool {
	for _, cat := range arr(r["category"]) {
		for _, cd := range codings(obj(cat)) {
			if cd.Code == "problem-list-item" {
				return true
			}
		}
	}
	return false
}

// Transfer-degraded codes the NHS adaptor puts in place of a local code.
var degraded = map[string]bool{"196411000000103": true, "196461000000101": true, "196421000000109": true}

// national reports whether a concept has a national, non-degraded code.
func national(c map[string]any) bool {
	for _, cd := range codings(c) {
		if (cd.System == record.SystemSNOMED || cd.System == record.SystemReadV2 || cd.System == record.SystemCTV3) && !degraded[cd.Code] {
			return true
		}
	}
	return false
}

// placeholder reports an id the NHS adaptor generated for a plan that is
// no ehrSupplyAuthorise of the extract.
func placeholder(id string) bool { return strings.HasPrefix(id, "00000000-0000-0000-0000-") }

// countOurs counts our Bundle.
func countOurs(bundle map[string]any) gpcCounts {
	var n gpcCounts
	for _, r := range resources(bundle) {
		switch str(r["resourceType"]) {
		case "Condition":
			if isProblem(r) {
				n.Problems++
			}
		case "MedicationStatement":
			n.MedicationStatements++
		case "MedicationRequest":
			n.MedicationRequests++
		case "AllergyIntolerance":
			n.Allergies++
		case "Observation":
			for _, p := range arr(obj(r["meta"])["profile"]) {
				if str(p) == "http://hl7.org/fhir/StructureDefinition/bp" {
					n.BloodPressures++
				}
			}
		}
	}
	return n
}

// countGPC counts the GP Connect STU3 bundle: all, and the items of the two
// documented deliberate differences (see TestMapSamples).
func countGPC(bundle map[string]any) (all, placeholders, localOnly gpcCounts) {
	meds := map[string]map[string]any{}
	for _, r := range resources(bundle) {
		if str(r["resourceType"]) == "Medication" {
			meds["Medication/"+str(r["id"])] = obj(r["code"])
		}
	}
	plans := map[string]string{} // plan id -> "placeholder", "local" or ""
	for _, r := range resources(bundle) {
		if str(r["resourceType"]) == "MedicationRequest" && str(r["intent"]) == "plan" {
			switch {
			case placeholder(str(r["id"])):
				plans[str(r["id"])] = "placeholder"
			case !national(meds[str(obj(r["medicationReference"])["reference"])]):
				plans[str(r["id"])] = "local"
			default:
				plans[str(r["id"])] = ""
			}
		}
	}
	for _, r := range resources(bundle) {
		switch str(r["resourceType"]) {
		case "Condition":
			if !isProblem(r) {
				continue
			}
			all.Problems++
			if !national(obj(r["code"])) {
				localOnly.Problems++
			}
		case "MedicationRequest", "MedicationStatement":
			ms := str(r["resourceType"]) == "MedicationStatement"
			kind := ""
			if ms {
				for _, ref := range arr(r["basedOn"]) {
					kind = plans[strings.TrimPrefix(str(obj(ref)["reference"]), "MedicationRequest/")]
				}
			} else {
				kind = plans[str(r["id"])]
			}
			if kind == "" && !national(meds[str(obj(r["medicationReference"])["reference"])]) {
				kind = "local"
			}
			c, p, l := &all.MedicationRequests, &placeholders.MedicationRequests, &localOnly.MedicationRequests
			if ms {
				c, p, l = &all.MedicationStatements, &placeholders.MedicationStatements, &localOnly.MedicationStatements
			}
			*c++
			switch kind {
			case "placeholder":
				*p++
			case "local":
				*l++
			}
		case "AllergyIntolerance":
			all.Allergies++
		case "Observation":
			members := 0
			for _, rel := range arr(r["related"]) {
				if str(obj(rel)["type"]) == "has-member" {
					members++
				}
			}
			if members > 0 && record.BloodPressurePart(record.Concept{Codings: codings(obj(r["code"]))}) == "bp" {
				all.BloodPressures++
			}
		}
	}
	return all, placeholders, localOnly
}

// TestMapSamples maps every reference GP2GP sample with the command and
// compares counts with the GP Connect STU3 bundle the NHS adaptor made from
// the same extract. The two documented deliberate differences (as in
// adapters/gp2gp's TestSamplesAgainstGPConnect) are asserted exactly, per
// sample: (1) the adaptor invents placeholder plans with all-zero ids (and
// a MedicationStatement for each) standing for no ehrSupplyAuthorise in the
// extract; we invent nothing. (2) An item whose only code is local has no
// national code, so we leave it out; the adaptor keeps it under a
// transfer-degraded code. Everything else must match.
func TestMapSamples(t *testing.T) {
	for _, x := range sampleExtracts(t) {
		name := strings.TrimSuffix(filepath.Base(x.path), ".xml")
		t.Run(name, func(t *testing.T) {
			ours := countOurs(decode(t, mapCmd(t, withNHSNumber(t, x))))
			b, err := os.ReadFile(filepath.Join(filepath.Dir(x.path), "..", "expected-gpconnect-stu3", name+"-output.json"))
			if err != nil {
				t.Fatal(err)
			}
			all, ph, local := countGPC(decode(t, b))
			want := gpcCounts{
				Problems:             all.Problems - local.Problems,
				MedicationStatements: all.MedicationStatements - ph.MedicationStatements - local.MedicationStatements,
				MedicationRequests:   all.MedicationRequests - ph.MedicationRequests - local.MedicationRequests,
				Allergies:            all.Allergies,
				BloodPressures:       all.BloodPressures,
			}
			if ours != want {
				t.Errorf("counts: ours %+v\nGP Connect %+v less placeholders %+v and local-only items %+v = %+v", ours, all, ph, local, want)
			}
			t.Logf("%s: %+v (GP Connect %+v, placeholders %+v, local-only %+v)", name, ours, all, ph, local)
		})
	}
}

// inputText is what an extract holds that must not reach the output.
type inputText struct {
	free     []string        // free text: never in the output
	dosage   map[string]bool // dosage and quantity text: only in the allowed places
	national []string        // GP2GP: terms of national codes, which the output may show
}

var markerRE = regexp.MustCompile(`FREETEXT-[A-Za-z0-9_-]*`)

// notText is the rule for strings too weak to check: pure numbers, dates
// and times, and code-like tokens (no space, with a digit: "C10F.", "14L2.",
// "EMISNQ..") also occur as codes, ids and values in the output and say
// nothing about the patient, so finding one there proves no leak.
var notText = regexp.MustCompile(`^[0-9 .:/+\-TZ]*$|^[^\s]*[0-9][^\s]*$`)

// collectText reads an extract independently of the adapters. GP2GP: the
// content of text, originalText, pertinentAnnotation and NarrativeStatement
// elements and the displayName of codes outside Read v2, CTV3 and SNOMED CT
// (local terms), less the dosage and quantity text (the text under
// pertinentMedicationDosage and a quantity's translation/originalText).
// Strings that are also the term of a national code in the same extract may
// appear as that code's display and are left out. EMIS and TPP: every
// FREETEXT- marker. Strings under 4 characters and those notText matches
// are ignored.
func collectText(t *testing.T, x extract, doc []byte) inputText {
	t.Helper()
	in := inputText{dosage: map[string]bool{}}
	keep := func(s string) bool {
		s = strings.TrimSpace(s)
		return len(s) >= 4 && !notText.MatchString(s)
	}
	if x.format != "gp2gp" {
		for _, m := range markerRE.FindAllString(string(doc), -1) {
			in.free = append(in.free, m)
		}
		return in
	}
	nationalOID := map[string]bool{"2.16.840.1.113883.2.1.6.2": true, "2.16.840.1.113883.2.1.3.2.4.14": true, "2.16.840.1.113883.2.1.3.2.4.15": true}
	nationalTerm := map[string]bool{}
	var free []string
	d := xml.NewDecoder(bytes.NewReader(doc))
	var stack []string
	var text [][]byte
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			name := tk.Name.Local
			stack = append(stack, name)
			text = append(text, nil)
			if depth > 0 || name == "text" || name == "originalText" || name == "pertinentAnnotation" || name == "NarrativeStatement" {
				depth++
			}
			var code, system, display string
			for _, a := range tk.Attr {
				switch a.Name.Local {
				case "code":
					code = a.Value
				case "codeSystem":
					system = a.Value
				case "displayName":
					display = strings.TrimSpace(a.Value)
				}
			}
			if code != "" && display != "" {
				if nationalOID[system] {
					nationalTerm[display] = true
				} else {
					free = append(free, display)
				}
			}
		case xml.CharData:
			if len(text) > 0 {
				text[len(text)-1] = append(text[len(text)-1], tk...)
			}
		case xml.EndElement:
			n := len(stack)
			s := strings.TrimSpace(string(text[n-1]))
			if depth > 0 && s != "" {
				if n >= 2 && stack[n-2] == "pertinentMedicationDosage" ||
					n >= 3 && stack[n-1] == "originalText" && stack[n-2] == "translation" && stack[n-3] == "quantity" {
					in.dosage[s] = true
				} else {
					free = append(free, s)
				}
			}
			if depth > 0 {
				depth--
			}
			stack, text = stack[:n-1], text[:n-1]
		}
	}
	for term := range nationalTerm {
		in.national = append(in.national, term)
	}
	for _, s := range free {
		s = strings.TrimSpace(s)
		if keep(s) && !nationalTerm[s] && !in.dosage[s] {
			in.free = append(in.free, s)
		}
	}
	return in
}

// outputString is a string value of the output, whether it sits where
// dosage or quantity text is allowed, and whether the mapper writes it
// from its own constants and codes (see outputStrings).
type outputString struct {
	path     string
	value    string
	dosageOK bool
	fixed    bool
}

// uriKeys hold URIs and references the mapper builds from constants and
// opaque ids: a word of the input found inside one ("Allergy" in
// .../AllergyIntolerance/...) is no leak.
var uriKeys = map[string]bool{"resourceType": true, "system": true, "url": true, "fullUrl": true, "reference": true, "profile": true}

// outputStrings walks the Bundle JSON. Besides URIs, two kinds of value are
// the mapper's own (fixed): the display of a coding outside SNOMED CT,
// Read v2 and CTV3 (LOINC and HL7 code systems, written by the mapper from
// constants: "Systolic blood pressure"), and the unit of a UCUM quantity
// and its code (a unit that passed record.SetUnit: valid UCUM or a unit
// string on our list, "mmHg", "mm[Hg]"). Free text matching one of them
// word for word is not a leak: such values are not checked at all.
func outputStrings(v any, parent map[string]any, path []string, out *[]outputString) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			outputStrings(c, x, append(path, k), out)
		}
	case []any:
		for _, c := range x {
			outputStrings(c, parent, append(path, "[]"), out)
		}
	case string:
		n := len(path)
		key := path[n-1]
		ok := n >= 3 && key == "text" && path[n-2] == "[]" && (path[n-3] == "dosage" || path[n-3] == "dosageInstruction")
		sys := str(parent["system"])
		fixed := uriKeys[key] ||
			key == "display" && sys != record.SystemSNOMED && sys != record.SystemReadV2 && sys != record.SystemCTV3 ||
			(key == "unit" || key == "code") && sys == "http://unitsofmeasure.org"
		*out = append(*out, outputString{path: strings.Join(path, "."), value: x, dosageOK: ok, fixed: fixed})
	}
}

// quantityTextOK marks the valueString of the quantity-text extension.
func quantityTextOK(v any, out *[]outputString) {
	switch x := v.(type) {
	case map[string]any:
		if str(x["url"]) == fhir.ExtMedicationQuantityText {
			if s, ok := x["valueString"].(string); ok {
				*out = append(*out, outputString{value: s, dosageOK: true})
			}
		}
		for _, c := range x {
			quantityTextOK(c, out)
		}
	case []any:
		for _, c := range x {
			quantityTextOK(c, out)
		}
	}
}

// leaks returns the free text of in found in the output, and dosage text
// outside the allowed places. A free string leaks when an output value is
// that string, or, for a FREETEXT- marker
// or a string of 12 characters or more (long enough not to be an ordinary
// word such as "Allergy" inside a display), when a value holds it and no
// national term of the extract does. The mapper's fixed values
// (outputStrings) are not checked. It returns lengths and paths
// only: the test must not print the text it looks for either.
func leaks(in inputText, bundle []byte) []string {
	var vals []outputString
	v := map[string]any{}
	_ = json.Unmarshal(bundle, &v)
	outputStrings(v, nil, nil, &vals)
	allowed := map[string]bool{}
	var q []outputString
	quantityTextOK(v, &q)
	for _, s := range q {
		allowed[s.value] = true
	}
	var out []string
	for _, s := range in.free {
		if in.dosage[s] {
			continue
		}
		inside := strings.HasPrefix(s, "FREETEXT-") || len(s) >= 12
		for _, term := range in.national {
			inside = inside && !strings.Contains(term, s)
		}
		for _, o := range vals {
			if o.fixed || o.value != s && !(inside && strings.Contains(o.value, s)) {
				continue
			}
			// A dosage-exception marker (EMIS/TPP) may sit in the
			// allowed places.
			if (o.dosageOK || allowed[o.value]) && strings.Contains(strings.ToUpper(s), "DOSAGE") {
				continue
			}
			out = append(out, fmt.Sprintf("%d-character free text in %s", len(s), o.path))
			break
		}
	}
	for s := range in.dosage {
		for _, o := range vals {
			if strings.Contains(o.value, s) && len(s) >= 12 && !o.dosageOK && !allowed[o.value] {
				out = append(out, fmt.Sprintf("%d-character dosage text in %s", len(s), o.path))
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestMapNoFreeText checks that no free text of any input (ours and the
// samples) reaches the command's output, dosage and quantity text aside.
func TestMapNoFreeText(t *testing.T) {
	check := func(t *testing.T, x extract) {
		doc, err := os.ReadFile(x.path)
		if err != nil {
			t.Fatal(err)
		}
		in := collectText(t, x, doc)
		if len(in.free) == 0 {
			t.Fatal("no free text found in the input: the collector is broken")
		}
		b := mapCmd(t, x)
		if x.format == "gp2gp" && bytes.Contains(b, []byte("FREETEXT-")) {
			t.Error("a FREETEXT- marker reached the output")
		}
		for _, l := range leaks(in, b) {
			t.Error(l)
		}
		// The check can fail: the same output with a free string
		// planted in a Condition's note must be caught.
		planted := bytes.Replace(b, []byte(`"resourceType":"Patient"`),
			[]byte(`"resourceType":"Patient","text":{"status":"generated","div":`+jsonString(in.free[0])+`}`), 1)
		if len(leaks(in, planted)) == 0 {
			t.Error("a planted free string was not caught")
		}
	}
	for _, x := range syntheticExtracts(t) {
		t.Run(x.nhs, func(t *testing.T) { check(t, x) })
	}
	t.Run("samples", func(t *testing.T) {
		for _, x := range sampleExtracts(t) {
			t.Run(filepath.Base(x.path), func(t *testing.T) { check(t, withNHSNumber(t, x)) })
		}
	})
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestMapErrors checks that a failing map exits 1 (or 2 for usage) with
// one line on stderr quoting nothing of the file.
func TestMapErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := filepath.Join(testenv.ModuleRoot(t), "testdata", "A99901", "9990001006.xml")
	goodDoc, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	malformed := write("malformed.xml", string(goodDoc[:len(goodDoc)/2])+"<FREETEXT-secret>FREETEXT-body</broken>")
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"malformed gp2gp", []string{"--format", "gp2gp", malformed}, 1},
		// Element names are the structure the error path names
		// (adapters/xmltok); text and attribute values are content.
		{"malformed emis", []string{"--format", "emis", write("m.xml", `<MedicalRecord><Registration><GUID a="FREETEXT-attr">FREETEXT-y`)}, 1},
		{"not xml tpp", []string{"--format", "tpp", write("n.xml", "FREETEXT-not xml at all")}, 1},
		{"doctype", []string{"--format", "gp2gp", write("d.xml", `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "FREETEXT-ent">]><x>&e;</x>`)}, 1},
		{"wrong format for the file", []string{"--format", "emis", good}, 1},
		{"unknown format", []string{"--format", "bogus", good}, 2},
		{"no format", []string{good}, 2},
		{"missing file", []string{"--format", "gp2gp", filepath.Join(dir, "absent.xml")}, 1},
		{"nhs mismatch", []string{"--format", "gp2gp", "--nhs", "9990001014", good}, 1},
		{"two files", []string{"--format", "gp2gp", good, good}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"map"}, tc.args...), &out, &errb)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, errb.String())
			}
			if out.Len() != 0 {
				t.Errorf("stdout holds %d bytes", out.Len())
			}
			msg := errb.String()
			if strings.Count(msg, "\n") != 1 || !strings.HasSuffix(msg, "\n") || !strings.HasPrefix(msg, "migctl map: ") {
				t.Errorf("stderr is not one line: %q", msg)
			}
			for _, bad := range []string{"FREETEXT", "Gpgp", "Ann", "9990001006", "<"} {
				if strings.Contains(msg, bad) {
					t.Errorf("stderr %q quotes the input (%q)", msg, bad)
				}
			}
		})
	}
}

// BenchmarkPipelineSamples measures the offline pipeline, stage by stage,
// on every reference GP2GP sample: parse (adapters/gp2gp through xmltok),
// map (record.Tag and Mapper.Map with a fixed key), encode with our writer
// (fhir.MarshalResource) and with google/fhir/go's jsonformat, the reference
// (every resource and the collection Bundle), and all three with ours.
// parse and all report MB/s of extract; encode reports MB/s of JSON
// written. make bench (cmd/internal/benchload) runs it and tabulates the
// ratios; nothing here asserts a time.
//
//	go test -run '^$' -bench PipelineSamples -benchmem ./cmd/migctl/
func BenchmarkPipelineSamples(b *testing.B) {
	ids, err := fhir.NewIDs(offlineKey)
	if err != nil {
		b.Fatal(err)
	}
	mapper := &fhir.Mapper{IDs: ids, Base: offlineBase}
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for _, x := range sampleExtracts(b) {
		doc, err := os.ReadFile(withNHSNumber(b, x).path)
		if err != nil {
			b.Fatal(err)
		}
		parse := func(b *testing.B) *record.Record {
			rec, err := adapters.Parse("gp2gp", bytes.NewReader(doc), record.ParseOptions{})
			if err != nil {
				b.Fatal(err)
			}
			return rec
		}
		mapRec := func(b *testing.B, rec *record.Record) *fhir.Result {
			record.Tag(rec, record.DefaultViewContext(now))
			res, err := mapper.Map(rec, nil)
			if err != nil {
				b.Fatal(err)
			}
			return res
		}
		encode := func(b *testing.B, res *fhir.Result, marshal func(*bcrpb.ContainedResource) ([]byte, error)) []byte {
			all := append([]fhir.Resource{res.Patient}, res.Resources...)
			entries := make([]fhir.BundleEntry, 0, len(all))
			for _, r := range all {
				j, err := marshal(r.Proto)
				if err != nil {
					b.Fatal(err)
				}
				entries = append(entries, fhir.BundleEntry{FullURL: offlineBase + "/" + r.Type + "/" + r.ID, Resource: j})
			}
			return fhir.Collection(nil, entries)
		}
		name := strings.TrimSuffix(filepath.Base(x.path), ".xml")
		b.Run(name+"/parse", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				parse(b)
			}
		})
		b.Run(name+"/map", func(b *testing.B) {
			rec := parse(b)
			b.ReportAllocs()
			for b.Loop() {
				mapRec(b, rec)
			}
		})
		for _, w := range []struct {
			name    string
			marshal func(*bcrpb.ContainedResource) ([]byte, error)
		}{{"ours", fhir.MarshalResource}, {"jsonformat", jsonformatReference}} {
			b.Run(name+"/encode/"+w.name, func(b *testing.B) {
				rec := parse(b)
				// A writer may rewrite the protos (jsonformat does): map
				// afresh for each round, outside the timer.
				out := encode(b, mapRec(b, rec), w.marshal)
				b.SetBytes(int64(len(out)))
				b.ReportAllocs()
				for b.Loop() {
					b.StopTimer()
					res := mapRec(b, rec)
					b.StartTimer()
					encode(b, res, w.marshal)
				}
			})
		}
		b.Run(name+"/all", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				encode(b, mapRec(b, parse(b)), fhir.MarshalResource)
			}
		})
	}
}

// jsonformatReference writes a resource with google/fhir/go's jsonformat,
// as fhir.MarshalResource did before its own writer (one marshaller,
// reused, as its pool did): the usual toolchain's encoder, for the
// benchmark's ratio. Benchmarks call it from one goroutine.
func jsonformatReference(res *bcrpb.ContainedResource) ([]byte, error) {
	if jsonformatMarshaller == nil {
		m, err := jsonformat.NewMarshaller(false, "", "", fhirversion.R4)
		if err != nil {
			return nil, err
		}
		jsonformatMarshaller = m
	}
	return jsonformatMarshaller.Marshal(res)
}

var jsonformatMarshaller *jsonformat.Marshaller

// TestMapReport: --report accounts, on standard error, for every item each
// extract held (shown, withheld, merged, set aside by a named rule, or not
// classifiable), prints no term or free text, and leaves standard output
// the same Bundle.
func TestMapReport(t *testing.T) {
	line := regexp.MustCompile(`entries read: (\d+) \(accounted for: (\d+)\)`)
	for _, x := range append(syntheticExtracts(t), sampleExtracts(t)...) {
		t.Run(filepath.Base(x.path), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(context.Background(), []string{"map", "--format", x.format, "--report", x.path}, &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			m := line.FindStringSubmatch(errb.String())
			if m == nil || m[1] != m[2] || m[1] == "0" {
				t.Errorf("report does not account for every item:\n%s", errb.String())
			}
			doc, err := os.ReadFile(x.path)
			if err != nil {
				t.Fatal(err)
			}
			in := collectText(t, x, doc)
			// Codes may be named (system and code); no other text of the
			// extract may appear.
			codeShaped := regexp.MustCompile(`^[A-Za-z0-9._-]{1,20}$`)
			for _, s := range append(append([]string(nil), in.free...), in.national...) {
				if len(s) >= 6 && !codeShaped.MatchString(s) && strings.Contains(errb.String(), s) {
					t.Errorf("the report shows %d characters of the extract's text", len(s))
				}
			}
			if !json.Valid(out.Bytes()) {
				t.Error("standard output is not the Bundle")
			}
		})
	}
}
