package fhir

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mig/adapters"
	"mig/adapters/record"
	"mig/fhir/fhirjson/fhirjsontest"
	"mig/internal/testenv"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

// The gateway writes resources with fhirjson; jsonformat, which it used
// before, is the reference. These tests hold the two to the same bytes on
// every resource the gateway maps from the synthetic extracts, the shared
// GP2GP samples and every shared fragment, and on every resource of the
// golden files. The random and fuzzed resources are in fhirjson's tests.

// writerDoc is one extract of the writer's corpus.
type writerDoc struct {
	name, format string
	doc          []byte
}

// checkWriter maps each extract (with terms shown where they look coded,
// so displays are written) and compares, for every resource, fhirjson with
// jsonformat and MarshalResource with the reference. It returns how many
// resources it compared.
func checkWriter(t *testing.T, docs []writerDoc) int {
	t.Helper()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	m := &Mapper{IDs: mustIDs(t, 9), Base: "https://mig.invalid/fhir", Offline: true,
		Now: func() time.Time { return now }, Terms: TermPolicy{Filter: true}}
	n := 0
	for _, x := range docs {
		rec, err := adapters.Parse(x.format, bytes.NewReader(x.doc), record.ParseOptions{Now: func() time.Time { return now }})
		if err != nil {
			t.Errorf("%s: parse: %v", x.name, err)
			continue
		}
		record.Tag(rec, record.DefaultViewContext(now))
		res, err := m.Map(rec, nil)
		if err != nil {
			t.Errorf("%s: map: %v", x.name, err)
			continue
		}
		for _, r := range append([]Resource{res.Patient}, res.Resources...) {
			n++
			want, werr := fhirjsontest.Reference(r.Proto)
			if d := fhirjsontest.CompareTo(r.Proto, want, werr); d != "" {
				t.Errorf("%s, %s: fhirjson and jsonformat differ:\n%s", x.name, r.Type, d)
				continue
			}
			if werr != nil {
				t.Errorf("%s, %s: reference: %v", x.name, r.Type, werr)
				continue
			}
			got, err := MarshalResource(r.Proto)
			if err != nil {
				t.Errorf("%s, %s: %v", x.name, r.Type, err)
				continue
			}
			// MarshalResource as it was: jsonformat, then dropEmptyUnit.
			if d := fhirjsontest.Diff(dropEmptyUnit(want), got); d != "" {
				t.Errorf("%s, %s: MarshalResource is not the reference:\n%s", x.name, r.Type, d)
			}
		}
	}
	return n
}

func TestWriterSyntheticExtracts(t *testing.T) {
	var docs []writerDoc
	for _, p := range []struct{ dir, format string }{{"A99901", "gp2gp"}, {"A99902", "emis"}, {"A99903", "tpp"}} {
		files, _ := filepath.Glob(testenv.Testdata(t, p.dir, "*.xml"))
		if len(files) == 0 {
			t.Fatalf("no extracts in testdata/%s", p.dir)
		}
		for _, f := range files {
			docs = append(docs, writerDoc{p.dir + "/" + filepath.Base(f), p.format, readFile(t, f)})
		}
	}
	n := checkWriter(t, docs)
	t.Logf("%d extracts, %d resources written identically", len(docs), n)
	if n < 200 {
		t.Errorf("only %d resources compared", n)
	}
}

func TestWriterSharedSamples(t *testing.T) {
	dir := testenv.Reference(t, "gp2gp", "samples", "input")
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	if len(files) == 0 {
		t.Skip("no GP2GP samples in ../shared/reference/gp2gp/samples/input")
	}
	var docs []writerDoc
	for _, f := range files {
		docs = append(docs, writerDoc{"samples/" + filepath.Base(f), "gp2gp", readFile(t, f)})
	}
	n := checkWriter(t, docs)
	t.Logf("%d samples, %d resources written identically", len(docs), n)
	if n < 400 {
		t.Errorf("only %d resources compared", n)
	}
}

func TestWriterSharedFragments(t *testing.T) {
	dir := testenv.Reference(t, "gp2gp", "fragments")
	var docs []writerDoc
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".xml") {
			return nil
		}
		body := readFile(t, path)
		if doc := wrapGP2GPFragment(t, body); doc != nil {
			rel, _ := filepath.Rel(dir, path)
			docs = append(docs, writerDoc{rel, "gp2gp", doc})
		}
		return nil
	})
	if len(docs) < 300 {
		t.Fatalf("%d fragments are extracts or parts of one, want every one of them (over 300)", len(docs))
	}
	n := checkWriter(t, docs)
	t.Logf("%d fragments, %d resources written identically", len(docs), n)
}

// TestWriterGoldenFiles reads every resource of the golden files back
// (jsonformat's validating unmarshaller) and writes it both ways.
func TestWriterGoldenFiles(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.golden.json"))
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		var doc struct {
			ResourceType string `json:"resourceType"`
			Entry        []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		b := readFile(t, f)
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		bodies := []json.RawMessage{b}
		if doc.ResourceType == "Bundle" {
			bodies = bodies[:0]
			for _, e := range doc.Entry {
				bodies = append(bodies, e.Resource)
			}
		}
		for i, body := range bodies {
			cr, err := u.UnmarshalR4(body)
			if err != nil {
				t.Fatalf("%s resource %d: %v", f, i, err)
			}
			n++
			if d := fhirjsontest.Compare(cr); d != "" {
				t.Errorf("%s resource %d: fhirjson and jsonformat differ:\n%s", f, i, d)
			}
		}
	}
	t.Logf("%d golden files, %d resources written identically", len(files), n)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wrapGP2GPFragment(t *testing.T, body []byte) []byte {
	t.Helper()
	root, err := testenv.FragmentRoot(body)
	if err != nil {
		t.Fatalf("fragment: %v", err)
	}
	doc, _ := testenv.WrapFragment(root, body)
	return doc
}
