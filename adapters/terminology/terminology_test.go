package terminology_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mig"
	"mig/adapters/record"
	"mig/adapters/terminology"
)

func load(t *testing.T) *terminology.Map {
	t.Helper()
	m, err := terminology.Load("testdata/rcsctmap2_uk_test.txt", "testdata/ctv3sctmap2_uk_test.txt")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLookup(t *testing.T) {
	m := load(t)
	tests := []struct {
		system, code, want string
	}{
		{record.SystemReadV2, "C10F.", "44054006"},
		{record.SystemReadV2, "C10F.00", "44054006"},      // GP2GP code + term code
		{record.SystemReadV2, "9Nd7.", "887031000000108"}, // preferred term wins
		{record.SystemReadV2, "65E..", "86198006"},        // latest version active
		{record.SystemReadV2, "7611.", ""},                // latest version inactive
		{record.SystemReadV2, "8H4E.", ""},                // not assured
		{record.SystemReadV2, "246..", ""},                // ambiguous
		{record.SystemReadV2, "X40J5", ""},                // a CTV3 code
		{record.SystemCTV3, "X40J5", "44054006"},
		{record.SystemCTV3, "XaPbt", "999791000000106"},
		{record.SystemCTV3, "S23..", ""}, // inactive
		{record.SystemCTV3, "XE0Uc", ""}, // not assured
		{record.SystemSNOMED, "44054006", ""},
	}
	for _, tc := range tests {
		got, ok := m.Lookup(tc.system, tc.code)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%s %s: got %q %v, want %q", tc.system, tc.code, got, ok, tc.want)
		}
	}
	if r, c := m.Len(); r != 5 || c != 2 {
		t.Errorf("len %d %d", r, c)
	}
}

func coding(system, code string) record.Coding {
	return record.Coding{System: system, Code: code, Term: record.NewTerm("term")}
}

func TestFill(t *testing.T) {
	m := load(t)
	rec := &record.Record{Entries: []record.Entry{
		{ID: "1", Code: record.Concept{Codings: []record.Coding{coding(record.SystemReadV2, "C10F.")}}},
		{ID: "2", Code: record.Concept{Codings: []record.Coding{coding(record.SystemCTV3, "XaPbt")}}},
		{ID: "3", Code: record.Concept{Codings: []record.Coding{coding(record.SystemReadV2, "C10F."), coding(record.SystemSNOMED, "73211009")}}},
		{ID: "4", Code: record.Concept{Codings: []record.Coding{coding(record.SystemReadV2, "8H4E.")}},
			Referral: &record.ReferralInfo{Specialty: record.Concept{Codings: []record.Coding{coding(record.SystemReadV2, "9Nd7.")}}}},
		{ID: "5", Code: record.Concept{Codings: []record.Coding{coding(record.SystemEMISLocal, "C10F.")}}},
		{ID: "6", Code: record.Concept{Codings: []record.Coding{coding(record.SystemReadV2, "14L2.")}},
			Allergy: &record.AllergyInfo{Substance: record.Concept{Codings: []record.Coding{coding(record.SystemCTV3, "X40J5")}}}},
	}}
	if n := m.Fill(rec); n != 5 {
		t.Fatalf("filled %d, want 5", n)
	}
	want := map[string]string{"1": "44054006", "2": "999791000000106", "3": "73211009", "4": "", "5": "", "6": "91936005"}
	for _, e := range rec.Entries {
		got, ok := e.Code.Find(record.SystemSNOMED)
		if got.Code != want[e.ID] || ok != (want[e.ID] != "") {
			t.Errorf("entry %s: %+v", e.ID, got)
		}
		if ok && e.ID != "3" && !got.Term.IsZero() {
			t.Errorf("entry %s: filled coding has a term", e.ID)
		}
	}
	if sn := rec.Entries[2].Code.Codings; len(sn) != 2 {
		t.Errorf("entry with SNOMED changed: %+v", sn)
	}
	if c, _ := rec.Entries[3].Referral.Specialty.Find(record.SystemSNOMED); c.Code != "887031000000108" {
		t.Errorf("specialty %+v", c)
	}
	if c, _ := rec.Entries[5].Allergy.Substance.Find(record.SystemSNOMED); c.Code != "44054006" {
		t.Errorf("substance %+v", c)
	}
	if m.Fill(rec) != 0 {
		t.Error("second Fill added codings")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"empty":      "",
		"no columns": "a\tb\n1\t2\n",
		"bad target": "ReadCode\tConceptId\tIS_ASSURED\tMapStatus\nC10F.\tFREETEXT-x\t1\t1\n",
		"missing":    "ReadCode\tConceptId\tIS_ASSURED\tMapStatus\nC10F.\t44054006\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".txt")
		os.WriteFile(p, []byte(body), 0o600)
		_, err := terminology.Load(p)
		if mig.ErrorCode(err) != mig.EINVALID || strings.Contains(err.Error(), "FREETEXT") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := terminology.Load(filepath.Join(dir, "absent.txt")); mig.ErrorCode(err) != mig.EINVALID {
		t.Errorf("absent: %v", err)
	}
}
