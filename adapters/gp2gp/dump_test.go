package gp2gp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mig/internal/testenv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mig/adapters/record"
)

// The dump is a deterministic JSON image of a Record, text types included
// (through their accessors), for golden files and leak checks.

type dCoding struct {
	System, Code, Term string
	DescriptionID      string `json:",omitempty"`
}

type dQuantity struct {
	Value, Unit, Comparator string `json:",omitempty"`
	UnitWithheld            bool   `json:",omitempty"`
}

type dEntry struct {
	ID, Kind, Status         string
	Planned                  bool   `json:",omitempty"`
	NotShown                 string `json:",omitempty"`
	Code                     []dCoding
	Effective, End, Recorded string     `json:",omitempty"`
	Value                    *dQuantity `json:",omitempty"`
	RangeLow, RangeHigh      *dQuantity `json:",omitempty"`
	Interpretation           []dCoding  `json:",omitempty"`
	Systolic, Diastolic      *dQuantity `json:",omitempty"`
	SystolicRangeLow         *dQuantity `json:",omitempty"`
	SystolicRangeHigh        *dQuantity `json:",omitempty"`
	DiastolicRangeLow        *dQuantity `json:",omitempty"`
	DiastolicRangeHigh       *dQuantity `json:",omitempty"`
	SystolicCode             []dCoding  `json:",omitempty"`
	DiastolicCode            []dCoding  `json:",omitempty"`
	Parent                   string     `json:",omitempty"`
	Members                  []string   `json:",omitempty"`
	Significance             string     `json:",omitempty"`
	Links                    []string   `json:",omitempty"`
	Dosage, QuantityText     string     `json:",omitempty"`
	QuantityValue            *dQuantity `json:",omitempty"`
	PrescriptionType         string     `json:",omitempty"`
	Authorisation            string     `json:",omitempty"`
	RepeatsAllowed           int        `json:",omitempty"`
	RepeatsIssued            int        `json:",omitempty"`
	AllergyCategory          string     `json:",omitempty"`
	Substance, Reaction      []dCoding  `json:",omitempty"`
	AllergenUncoded          bool       `json:",omitempty"`
	Confirmed                bool       `json:",omitempty"`
	Priority, Recipient      string     `json:",omitempty"`
	Encounter, Organisation  string     `json:",omitempty"`
	Author                   string     `json:",omitempty"`
}

type dRecord struct {
	Format, Extracted      string
	NHSNumber, PracticeODS string
	Name                   []string
	Address                []string
	Withheld               bool
	WithheldIDs            []string `json:",omitempty"`
	Stats                  record.Stats
	Entries                []dEntry `json:",omitempty"`
}

func dDate(d record.Date) string {
	if d.IsZero() {
		return ""
	}
	layouts := map[record.Precision]string{record.PrecisionYear: "2006", record.PrecisionMonth: "2006-01",
		record.PrecisionDay: "2006-01-02", record.PrecisionMinute: "2006-01-02T15:04Z", record.PrecisionSecond: time.RFC3339}
	return d.T.UTC().Format(layouts[d.P])
}

func dCodings(c record.Concept) []dCoding {
	var out []dCoding
	for _, cd := range c.Codings {
		out = append(out, dCoding{cd.System, cd.Code, cd.Term.String(), cd.DescriptionID})
	}
	return out
}

// roleSummary prints a role's codings as {system code term}.
func roleSummary(c record.Concept) string {
	type sct struct{ System, Code, Term string }
	var out []sct
	for _, cd := range c.Codings {
		out = append(out, sct{cd.System, cd.Code, cd.Term.String()})
	}
	return fmt.Sprint(out)
}

func dQ(q *record.Quantity) *dQuantity {
	if q == nil {
		return nil
	}
	return &dQuantity{q.Value, q.Unit, q.Comparator, q.UnitWithheld}
}

// dump returns the record's JSON image. withDosage false leaves out the
// dosage exception (for free-text checks).
func dump(t testing.TB, r *record.Record, withDosage bool) []byte {
	t.Helper()
	dr := dRecord{Format: r.Format, Extracted: dDate(r.Extracted), NHSNumber: r.Patient.NHSNumber,
		PracticeODS: r.Patient.PracticeODS, Withheld: r.Withheld, WithheldIDs: r.WithheldIDs, Stats: r.Stats}
	n := r.Patient.Name
	dr.Name = append(append([]string{n.Prefix()}, n.Given()...), n.Family())
	a := r.Patient.Address
	dr.Address = append(append(a.Lines(), a.City(), a.District()), a.PostalCode())
	for _, e := range r.Entries {
		de := dEntry{ID: e.ID, Kind: e.Kind.String(), Status: e.Status.String(), Planned: e.Planned, NotShown: string(e.NotShown), Code: dCodings(e.Code),
			Effective: dDate(e.Effective), End: dDate(e.End), Recorded: dDate(e.Recorded), Value: dQ(e.Value),
			Interpretation: dCodings(e.Interpretation), Systolic: dQ(e.Systolic), Diastolic: dQ(e.Diastolic),
			SystolicCode: dCodings(e.SystolicCode), DiastolicCode: dCodings(e.DiastolicCode),
			Parent: e.Parent, Members: e.Members, Encounter: e.Encounter, Organisation: e.Organisation}
		if e.Range != nil {
			de.RangeLow, de.RangeHigh = dQ(e.Range.Low), dQ(e.Range.High)
		}
		if e.SystolicRange != nil {
			de.SystolicRangeLow, de.SystolicRangeHigh = dQ(e.SystolicRange.Low), dQ(e.SystolicRange.High)
		}
		if e.DiastolicRange != nil {
			de.DiastolicRangeLow, de.DiastolicRangeHigh = dQ(e.DiastolicRange.Low), dQ(e.DiastolicRange.High)
		}
		if p := e.Problem; p != nil {
			de.Significance, de.Links = p.Significance, p.Links
		}
		if m := e.Medication; m != nil {
			if withDosage {
				de.Dosage, de.QuantityText = m.Dosage.String(), m.Quantity.String()
			}
			de.QuantityValue, de.PrescriptionType, de.Authorisation = dQ(m.QuantityValue), m.Type, m.Authorisation
			de.RepeatsAllowed, de.RepeatsIssued = m.RepeatsAllowed, m.RepeatsIssued
		}
		if al := e.Allergy; al != nil {
			de.AllergyCategory, de.Substance, de.Reaction = al.Category, dCodings(al.Substance), dCodings(al.Reaction)
			de.AllergenUncoded, de.Confirmed = al.AllergenUncoded, al.Confirmed
		}
		if rf := e.Referral; rf != nil {
			de.Priority, de.Recipient = rf.Priority, rf.Recipient
		}
		if p := e.Author; p != nil {
			de.Author = strings.Join([]string{p.ID, p.Name.Prefix(), strings.Join(p.Name.Given(), " "), p.Name.Family(), roleSummary(p.Role)}, "|")
		}
		dr.Entries = append(dr.Entries, de)
	}
	// One line per entry: small files, readable diffs.
	entries := dr.Entries
	dr.Entries = nil
	head, err := json.MarshalIndent(dr, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.Write(head)
	b.WriteString("\n")
	for _, e := range entries {
		line, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteString("\n")
	}
	return b.Bytes()
}

// sampleFiles returns the reference GP2GP samples, skipping when absent.
func sampleFiles(t testing.TB) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(testenv.Reference(t, "gp2gp", "samples", "input"), "*.xml"))
	if len(files) == 0 {
		t.Skip("reference GP2GP samples not present in ../shared/reference/gp2gp/samples/input")
	}
	return files
}

// ourFiles returns the synthetic extracts of practice A99901.
func ourFiles(t testing.TB) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(testenv.ModuleRoot(t), "testdata", "A99901", "*.xml"))
	if len(files) != 10 {
		t.Fatalf("want 10 synthetic extracts in testdata/A99901, found %d", len(files))
	}
	return files
}

func parseFile(t testing.TB, path string, opt record.ParseOptions) *record.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := Parse(f, opt)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	return r
}
