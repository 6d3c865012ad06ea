package gp2gp

import (
	"bytes"
	"errors"
	"mig/internal/testenv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mig"
	"mig/adapters/record"
	"mig/adapters/xmltok"
)

// minimal is a tiny well-formed extract about 9990001006.
const minimal = `<?xml version="1.0" encoding="UTF-8"?>
<RCMR_IN030000UK06 xmlns="urn:hl7-org:v3"><ControlActEvent><subject><EhrExtract>
<availabilityTime value="20261120"/>
<recordTarget><patient><id root="2.16.840.1.113883.2.1.4.1" extension="9990001006"/></patient></recordTarget>
<component><ehrFolder>
<component><ehrComposition><id root="C1"/><code code="25671000000102" codeSystem="2.16.840.1.113883.2.1.3.2.4.15"/>
<availabilityTime value="20260101"/>
<component><ObservationStatement><id root="O1"/><code code="H33..00" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="Asthma"/>
<availabilityTime value="20260101"/></ObservationStatement></component>
</ehrComposition></component>
</ehrFolder></component></EhrExtract></subject></ControlActEvent></RCMR_IN030000UK06>`

func TestParseErrors(t *testing.T) {
	deep := strings.Replace(minimal, "<ObservationStatement>", strings.Repeat("<x>", 300)+"<ObservationStatement>", 1)
	deep = strings.Replace(deep, "</ObservationStatement>", "</ObservationStatement>"+strings.Repeat("</x>", 300), 1)
	tests := []struct {
		name      string
		doc       string
		opt       record.ParseOptions
		code      string
		issue     string
		wantInMsg string
	}{
		{"malformed XML", strings.Replace(minimal, "</ehrFolder>", "</ehrFolderX>", 1), record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract, "mismatched end tag"},
		{"truncated document", minimal[:len(minimal)/2], record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract, "unexpected end of document"},
		{"DOCTYPE with an entity", strings.Replace(minimal, "<RCMR_IN030000UK06", `<!DOCTYPE r [<!ENTITY x "FREETEXT-entity">]><RCMR_IN030000UK06`, 1), record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract, "DOCTYPE"},
		{"wrong NHS number", minimal, record.ParseOptions{NHSNumber: "9990001014"}, mig.ECONFLICT, mig.IssueIdentityMismatch, "not the one requested"},
		{"NHS number missing", strings.Replace(minimal, "2.16.840.1.113883.2.1.4.1", "2.16.840.1.113883.2.1.3.2.4.9", 1), record.ParseOptions{NHSNumber: "9990001006"}, mig.ECONFLICT, mig.IssueIdentityMismatch, "not the one requested"},
		{"no recordTarget", strings.Replace(minimal, "<recordTarget><patient><id root=\"2.16.840.1.113883.2.1.4.1\" extension=\"9990001006\"/></patient></recordTarget>", "", 1), record.ParseOptions{NHSNumber: "9990001006"}, mig.ECONFLICT, mig.IssueIdentityMismatch, "not the one requested"},
		{"non-UTF-8 encoding declared", strings.Replace(minimal, `encoding="UTF-8"`, `encoding="ISO-8859-1"`, 1), record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract, "UTF-8 only"},
		{"invalid UTF-8", strings.Replace(minimal, "Asthma", "Asth\xffma", 1), record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract, "UTF-8"},
		{"over the size limit", minimal, record.ParseOptions{Limits: xmltok.Limits{MaxBytes: 200}}, mig.ETOOLARGE, mig.IssueMalformedExtract, "larger than 200 bytes"},
		{"too deep", deep, record.ParseOptions{}, mig.ETOOLARGE, mig.IssueMalformedExtract, "nesting deeper than 256"},
		{"too many elements", minimal, record.ParseOptions{Limits: xmltok.Limits{MaxElements: 10}}, mig.ETOOLARGE, mig.IssueMalformedExtract, "more than 10 elements"},
		{"empty document", "", record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract, "empty document"},
		{"not an EHR extract", `<Bundle xmlns="http://hl7.org/fhir"/>`, record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract, "not an RCMR_IN030000UK06/UK07"},
		{"a second root element", minimal + "<RCMR_IN030000UK06/>", record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract, "content after the root element"},
		{"no EhrExtract", `<RCMR_IN030000UK06 xmlns="urn:hl7-org:v3"><id root="X"/></RCMR_IN030000UK06>`, record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract, "no EhrExtract"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse(strings.NewReader(tc.doc), tc.opt)
			if err == nil {
				t.Fatalf("want an error, got a record with %d entries", len(r.Entries))
			}
			var me *mig.Error
			if !errors.As(err, &me) {
				t.Fatalf("error %T is not a *mig.Error: %v", err, err)
			}
			if me.Code != tc.code || me.Issue != tc.issue {
				t.Errorf("got %s/%s, want %s/%s (%v)", me.Code, me.Issue, tc.code, tc.issue, err)
			}
			if !strings.Contains(me.Message, tc.wantInMsg) || !strings.HasPrefix(me.Message, "gp2gp extract") {
				t.Errorf("message %q: want it to start with the format and contain %q", me.Message, tc.wantInMsg)
			}
			for _, secret := range []string{"9990001006", "9990001014", "Asth", "FREETEXT"} {
				if strings.Contains(me.Message, secret) {
					t.Errorf("message %q carries content", me.Message)
				}
			}
		})
	}
}

// TestParseAccepts covers documents that must parse: the minimal extract
// with and without the NHS number asked for, a BOM, unknown elements and
// another namespace's elements, which are skipped.
func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		opt     record.ParseOptions
		entries int
	}{
		{"minimal", minimal, record.ParseOptions{}, 2},
		{"right NHS number", minimal, record.ParseOptions{NHSNumber: "9990001006"}, 2},
		{"byte order mark", "\xEF\xBB\xBF" + minimal, record.ParseOptions{}, 2},
		{"unknown elements", strings.Replace(minimal, "<availabilityTime value=\"20260101\"/>", `<availabilityTime value="20260101"/><futureThing a="1"><deep><deeper>x</deeper></deep></futureThing>`, 1), record.ParseOptions{}, 2},
		{"other namespace", strings.Replace(minimal, "<component><ehrFolder>", `<ext:note xmlns:ext="urn:example"><ext:component><ehrComposition/></ext:component></ext:note><component><ehrFolder>`, 1), record.ParseOptions{}, 2},
		{"UK07 root", strings.ReplaceAll(minimal, "RCMR_IN030000UK06", "RCMR_IN030000UK07"), record.ParseOptions{}, 2},
		{"unknown statement kind", strings.Replace(minimal, "<component><ObservationStatement>", "<component><FutureStatement><id root=\"F1\"/></FutureStatement></component><component><ObservationStatement>", 1), record.ParseOptions{}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse(strings.NewReader(tc.doc), tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Entries) != tc.entries {
				t.Errorf("got %d entries, want %d", len(r.Entries), tc.entries)
			}
			if r.Patient.NHSNumber != "9990001006" || r.Format != "gp2gp" {
				t.Errorf("patient %q format %q", r.Patient.NHSNumber, r.Format)
			}
		})
	}
}

// TestReadNodeDeep: an ehrComposition
// nested well past eight levels reads whole.
func TestReadNodeDeep(t *testing.T) {
	doc := strings.Replace(minimal, "<ObservationStatement>", strings.Repeat("<CompoundStatement classCode=\"CATEGORY\"><component>", 20)+"<ObservationStatement>", 1)
	doc = strings.Replace(doc, "</ObservationStatement>", "</ObservationStatement>"+strings.Repeat("</component></CompoundStatement>", 20), 1)
	r, err := Parse(strings.NewReader(doc), record.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Entries) != 2 || r.Entries[1].Kind != record.KindDiagnosis {
		t.Fatalf("got %+v", r.Entries)
	}
}

// FuzzParse: any input gives a record or a *mig.Error, never a panic, and
// no FREETEXT- marker of a seed ever reaches a record.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	root := testenv.ModuleRoot(f)
	seeds, _ := filepath.Glob(filepath.Join(root, "testdata", "A99901", "*.xml"))
	samples, _ := filepath.Glob(filepath.Join(root, "..", "shared", "reference", "gp2gp", "samples", "input", "*.xml"))
	for _, p := range append(seeds, samples...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		r, err := Parse(bytes.NewReader(doc), record.ParseOptions{Limits: xmltok.Limits{MaxBytes: 4 << 20}})
		if err != nil {
			var me *mig.Error
			if !errors.As(err, &me) {
				t.Fatalf("error %T is not a *mig.Error", err)
			}
			return
		}
		if out := dump(t, r, false); bytes.Contains(out, []byte("FREETEXT-")) {
			t.Fatal("free text reached the record")
		}
	})
}

// BenchmarkParse reads the largest reference sample.
func BenchmarkParse(b *testing.B) {
	path := testenv.Reference(b, "gp2gp", "samples", "input", "PWTP4.xml")
	doc, err := os.ReadFile(path)
	if err != nil {
		b.Skip("reference sample PWTP4.xml not present")
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(doc), record.ParseOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
