package gp2gp

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mig/adapters/record"
	"mig/fhir"
	"mig/internal/testenv"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

// TestFragmentsMapToValidR4 maps every real-world shape the adapter reads
// (the shared fragments, wrapped as extracts, and the reference samples)
// all the way to FHIR, as migctl map does: every resource passes
// google/fhir/go's validating unmarshaller, no two entries share a
// fullUrl (bdl-7), no unit is empty, and the not-shown report accounts for
// every item read.
func TestFragmentsMapToValidR4(t *testing.T) {
	var docs []struct {
		name string
		doc  []byte
	}
	dir := testenv.Reference(t, "gp2gp", "fragments")
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".xml") {
			return nil
		}
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if doc, _ := testenv.WrapFragment(fragmentRoot(t, body), body); doc != nil {
			rel, _ := filepath.Rel(dir, path)
			docs = append(docs, struct {
				name string
				doc  []byte
			}{rel, doc})
		}
		return nil
	})
	samples, _ := filepath.Glob(filepath.Join(dir, "..", "samples", "input", "*.xml"))
	for _, s := range samples {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, struct {
			name string
			doc  []byte
		}{"samples/" + filepath.Base(s), b})
	}
	if len(docs) < 300 {
		t.Fatalf("%d extracts, want every fragment that is one and the samples", len(docs))
	}
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := fhir.NewIDs(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	m := &fhir.Mapper{IDs: ids, Base: "https://mig.invalid/fhir", Offline: true, Now: func() time.Time { return now }}
	resources, unclassified := 0, 0
	for _, x := range docs {
		t.Run(x.name, func(t *testing.T) {
			rec, err := Parse(bytes.NewReader(x.doc), record.ParseOptions{Now: func() time.Time { return now }})
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			record.Tag(rec, record.DefaultViewContext(now))
			res, err := m.Map(rec, nil)
			if err != nil {
				t.Fatalf("map: %v", err)
			}
			seen := map[string]bool{}
			for _, r := range append([]fhir.Resource{res.Patient}, res.Resources...) {
				url := r.Type + "/" + r.ID
				if seen[url] {
					t.Errorf("two entries with fullUrl %s", url)
				}
				seen[url] = true
				b, err := fhir.MarshalResource(r.Proto)
				if err != nil {
					t.Fatalf("%s: %v", r.Type, err)
				}
				if _, err := u.Unmarshal(b); err != nil {
					t.Errorf("%s is not valid R4: %v", r.Type, err)
				}
				if bytes.Contains(b, []byte(`"unit":""`)) {
					t.Errorf("%s has an empty unit", r.Type)
				}
			}
			resources += len(res.Resources)
			if res.Unclassified {
				unclassified++
			}
			if rp := fhir.Account(rec, res); rp.Accounted() != rp.Read {
				var b strings.Builder
				_ = rp.Write(&b, x.name)
				t.Errorf("the report accounts for %d of %d items read:\n%s", rp.Accounted(), rp.Read, b.String())
			}
		})
	}
	t.Logf("%d extracts mapped to %d resources; %d carry the could-not-be-shown warning", len(docs), resources, unclassified)
}
