package terminology_test

import (
	"strings"
	"testing"

	"mig"
	"mig/adapters/record"
	"mig/adapters/terminology"
)

func fullConfig() terminology.Config {
	return terminology.Config{
		MapFiles:    []string{"testdata/rcsctmap2_uk_test.txt", "testdata/ctv3sctmap2_uk_test.txt"},
		ReadRubrics: []string{"testdata/readv2_rubrics_test.txt"},
		CTV3Rubrics: []string{"testdata/ctv3_rubrics_test.txt"},
		SNOMED:      rf2Files(),
		DMD:         []string{"testdata/f_vtm2_test.xml", "testdata/f_vmp2_test.xml", "testdata/f_amp2_test.xml"},
	}
}

func open(t *testing.T) *terminology.Terminology {
	t.Helper()
	tm, err := terminology.Open(fullConfig())
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestDisplay(t *testing.T) {
	tm := open(t)
	for _, tc := range []struct {
		system, code, want string
	}{
		{record.SystemSNOMED, "44054006", "Type two diabetes [test]"},
		{record.SystemSNOMED, "325278007", "Metformin 500mg tablets [test]"}, // dm+d VMP
		{record.SystemSNOMED, "323509004", "Amoxicillin 500mg capsules [test]"},
		{record.SystemSNOMED, "109081006", "Metformin [test]"}, // VTM
		{record.SystemSNOMED, "999901000001103", "Metformin 500mg tablets (Example Pharma) [test]"},
		{record.SystemSNOMED, "372567009", ""}, // an ingredient id in the VMP file: not a product name
		{record.SystemSNOMED, retired, ""},
		{record.SystemSNOMED, "2010014", ""},                         // a description id is not a concept
		{record.SystemReadV2, "C10F.", "Type two diabetes [test]"},   // preferred, longest term
		{record.SystemReadV2, "C10F.00", "Type two diabetes [test]"}, // GP2GP code + term code
		{record.SystemReadV2, "65E..", "Flu vaccination given at the practice [test]"},
		{record.SystemReadV2, "X40J5", ""},
		{record.SystemCTV3, "X40J5", "Type 2 diabetes [test]"}, // P beats the earlier S
		{record.SystemCTV3, "XaPbt", "HbA1c IFCC standardised level [test]"},
		{record.SystemCTV3, "C10F.", ""},
		{record.SystemLOINC, "85354-9", ""},
		{record.SystemSNOMED, "", ""},
	} {
		got, ok := tm.Display(tc.system, tc.code)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("Display(%s, %s) = %q %v, want %q", tc.system, tc.code, got, ok, tc.want)
		}
	}
	if got, ok := tm.ConceptOfDescription("2024013"); got != "91936005" || !ok {
		t.Errorf("ConceptOfDescription: %q %v", got, ok)
	}
	if !tm.IsA("91936005", "420134006") || tm.IsA("91936005", "64572001") || !tm.Active("91936005") || tm.Active(retired) {
		t.Error("IsA or Active")
	}
	var none *terminology.Terminology
	if _, ok := none.Display(record.SystemSNOMED, "44054006"); ok || none.IsA("1", "2") || none.Active("44054006") || none.Fill(&record.Record{}) != 0 {
		t.Error("nil Terminology answers")
	}
	empty, err := terminology.Open(terminology.Config{})
	if err != nil || empty.IsA("44054006", "64572001") {
		t.Errorf("empty: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	for name, cfg := range map[string]terminology.Config{
		"partial release": {SNOMED: terminology.RF2Files{Concepts: rf2Files().Concepts}},
		"bad map":         {MapFiles: []string{"testdata/absent.txt"}},
		"bad rubric":      {ReadRubrics: []string{"testdata/sct2_Concept_Snapshot_MIGTEST_20240401.txt"}},
		"bad ctv3 rubric": {CTV3Rubrics: []string{"testdata/absent.txt"}},
		"bad dmd":         {DMD: []string{"testdata/readv2_rubrics_test.txt"}},
	} {
		if _, err := terminology.Open(cfg); mig.ErrorCode(err) != mig.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func sct(code string) record.Coding { return record.SNOMEDCoding(code, record.Term{}) }

func entry(id string, kind record.Kind, rule record.Rule, cds ...record.Coding) record.Entry {
	return record.Entry{ID: id, Kind: kind, NotShown: rule, Code: record.Concept{Codings: cds}}
}

func TestTerminologyFill(t *testing.T) {
	tm := open(t)
	tm.Classifier = &record.Classifier{Hierarchy: tm}
	un := record.RuleUnclassifiable
	rec := &record.Record{Entries: []record.Entry{
		entry("desc-diagnosis", record.KindNone, un, sct("2010014")),             // description of 44054006
		entry("desc-allergy", record.KindNone, un, sct("2024013")),               // of 91936005
		entry("desc-family", record.KindNone, un, sct("2030013")),                // of 160303001
		entry("desc-observable", record.KindNone, un, sct("2049012")),            // of 999791000000106
		entry("desc-unknown", record.KindNone, un, sct("2099011")),               // not in the release
		entry("concept-only", record.KindNone, un, sct("80146002")),              // release hierarchy alone
		entry("structural", record.KindProblem, record.RuleNone, sct("2010014")), // never reclassified
		entry("ruled-out", record.KindNone, record.RuleHistory, sct("2038018")),  // never reclassified
		entry("read-mapped", record.KindNone, un, record.Coding{System: record.SystemCTV3, Code: "XaPbt"}),
		entry("local", record.KindNone, un, record.Coding{System: record.SystemEMISLocal, Code: "FREETEXT"}),
		entry("no-known", record.KindNone, un, sct("716186003")),
		entry("referral", record.KindNone, un, sct("3457005")),
	}}
	// A description id beside a Read code with a map: both resolve.
	both := entry("both", record.KindDiagnosis, record.RuleNone, sct("2099011"), record.Coding{System: record.SystemReadV2, Code: "C10F."})
	rec.Entries = append(rec.Entries, both)

	// Translated: 6 description ids (desc-diagnosis, -allergy, -family,
	// -observable, structural, ruled-out); mapped: read-mapped (CTV3) and
	// both (Read v2).
	if n := tm.Fill(rec); n != 8 {
		t.Errorf("filled %d, want 8", n)
	}
	want := map[string]struct {
		code string
		kind record.Kind
		rule record.Rule
	}{
		"desc-diagnosis":  {"44054006", record.KindDiagnosis, record.RuleNone},
		"desc-allergy":    {"91936005", record.KindAllergy, record.RuleNone},
		"desc-family":     {"160303001", record.KindNone, record.RuleRelative},
		"desc-observable": {"999791000000106", record.KindNone, un},
		"desc-unknown":    {"", record.KindNone, un},
		"concept-only":    {"80146002", record.KindProcedure, record.RuleNone},
		"structural":      {"44054006", record.KindProblem, record.RuleNone},
		"ruled-out":       {"80146002", record.KindNone, record.RuleHistory},
		"read-mapped":     {"999791000000106", record.KindNone, un}, // observable: stays unclassifiable
		"local":           {"", record.KindNone, un},
		"no-known":        {"716186003", record.KindAllergy, record.RuleNone},
		"referral":        {"3457005", record.KindReferral, record.RuleNone},
		"both":            {"", record.KindDiagnosis, record.RuleNone},
	}
	for _, e := range rec.Entries {
		w := want[e.ID]
		cd, _ := e.Code.Find(record.SystemSNOMED)
		if cd.Code != w.code || e.Kind != w.kind || e.NotShown != w.rule {
			t.Errorf("%s: code %q kind %v rule %q, want %q %v %q", e.ID, cd.Code, e.Kind, e.NotShown, w.code, w.kind, w.rule)
		}
		if strings.HasPrefix(e.ID, "desc-") && cd.DescriptionID == "" {
			t.Errorf("%s: description id dropped", e.ID)
		}
	}
	idx := rec.Index()
	if a := rec.Entries[idx["desc-allergy"]]; a.Allergy == nil || a.Allergy.Category != record.AllergyDrug || a.Status != record.StatusActive {
		t.Errorf("allergy completed as %+v %v", a.Allergy, a.Status)
	}
	if a := rec.Entries[idx["no-known"]]; a.Allergy == nil || a.Allergy.Category != record.AllergyNoKnown {
		t.Errorf("no known allergy completed as %+v", a.Allergy)
	}
	if a := rec.Entries[idx["referral"]]; a.Referral == nil {
		t.Error("referral without its part")
	}
	// "both": the description id stays untranslated, and the map adds the
	// SNOMED CT code beside it.
	b := rec.Entries[idx["both"]].Code.Codings
	if len(b) != 3 || b[2].System != record.SystemSNOMED || b[2].Code != "44054006" || b[0].Code != "" {
		t.Errorf("both: %+v", b)
	}
	if tm.Fill(rec) != 0 {
		t.Error("second Fill changed something")
	}

	// Without a Classifier, Fill translates but classifies nothing.
	tm.Classifier = nil
	rec2 := &record.Record{Entries: []record.Entry{entry("x", record.KindNone, un, sct("2010014"))}}
	tm.Fill(rec2)
	if e := rec2.Entries[0]; e.Code.Codings[0].Code != "44054006" || e.Kind != record.KindNone || e.NotShown != un {
		t.Errorf("no classifier: %+v", e)
	}
}
