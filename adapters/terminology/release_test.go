package terminology_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mig"
	"mig/adapters/terminology"
)

// The RF2 subset in testdata is ours: real concept ids, our own terms
// (each ends "[test]"), synthetic description and relationship ids.
func rf2Files() terminology.RF2Files {
	return terminology.RF2Files{
		Concepts:        []string{"testdata/sct2_Concept_Snapshot_MIGTEST_20240401.txt"},
		Descriptions:    []string{"testdata/sct2_Description_Snapshot-en_MIGTEST_20240401.txt"},
		Relationships:   []string{"testdata/sct2_Relationship_Snapshot_MIGTEST_20240401.txt"},
		LanguageRefsets: []string{"testdata/der2_cRefset_LanguageSnapshot-en_MIGTEST_20240401.txt"},
	}
}

func loadRelease(t testing.TB) *terminology.Release {
	t.Helper()
	r, err := terminology.LoadRelease(rf2Files())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const retired = "9999991000000104" // synthetic, inactive in the subset

func TestReleaseIsA(t *testing.T) {
	r := loadRelease(t)
	for _, tc := range []struct {
		concept, ancestor string
		want              bool
	}{
		{"44054006", "73211009", true},  // parent
		{"44054006", "64572001", true},  // grandparent
		{"44054006", "404684003", true}, // further
		{"44054006", "138875005", true}, // root
		{"44054006", "44054006", true},  // itself
		{"73211009", "44054006", false}, // not downwards
		{"44054006", "71388002", false}, // finding site, not IS-A
		{"80146002", "64572001", false}, // inactive IS-A row
		{"80146002", "387713003", true},
		{"91936005", "609328004", true}, // two parents: both paths
		{"91936005", "419511003", true},
		{"91936005", "420134006", true},
		{"160303001", "243796009", true},
		{"160303001", "404684003", false},
		{"999791000000106", "363787002", true},
		{"123456789", "138875005", false}, // not an SCTID (check digit)
		{"86198006", "999999999", false},
		{"12345678901234567", "138875005", false}, // unknown
		{"", "", false},
	} {
		if got := r.IsA(tc.concept, tc.ancestor); got != tc.want {
			t.Errorf("IsA(%s, %s) = %v, want %v", tc.concept, tc.ancestor, got, tc.want)
		}
	}
	if got := strings.Join(r.Ancestors("91936005"), " "); got != "138875005 404684003 416098002 419511003 420134006 609328004" {
		t.Errorf("ancestors of 91936005: %s", got)
	}
	if c, d := r.Len(); c != 24 || d != 51 {
		t.Errorf("len %d concepts, %d descriptions", c, d)
	}
}

func TestReleaseDisplayAndDescriptions(t *testing.T) {
	r := loadRelease(t)
	for _, tc := range []struct {
		concept, want string
	}{
		{"44054006", "Type two diabetes [test]"},  // UK clinical refset wins over GB English
		{"91936005", "Penicillin allergy [test]"}, // preferred in GB English only
		{"73211009", ""},                        // preferred only in a refset not configured
		{"80146002", "Appendix removal [test]"}, // an inactive preferred row does not win
		{"999791000000106", "HbA1c level [test]"},
		{retired, ""},   // inactive concept: no display
		{"1234567", ""}, // not held
	} {
		got, ok := r.Display(tc.concept)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("Display(%s) = %q %v, want %q", tc.concept, got, ok, tc.want)
		}
		if strings.HasSuffix(got, "(fsn)") {
			t.Errorf("Display(%s) is a fully specified name", tc.concept)
		}
	}
	for _, tc := range []struct {
		desc, want string
	}{
		{"2010014", "44054006"}, // preferred synonym
		{"2012018", "44054006"}, // inactive description still names its concept
		{"2045018", "86198006"},
		{"2049012", "999791000000106"},
		{"2051011", retired},
		{"2099011", ""},  // not held (valid SCTID)
		{"2010015", ""},  // bad check digit
		{"44054006", ""}, // a concept id
	} {
		got, ok := r.ConceptOfDescription(tc.desc)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("ConceptOfDescription(%s) = %q %v, want %q", tc.desc, got, ok, tc.want)
		}
	}
	for _, tc := range []struct {
		concept string
		want    bool
	}{{"44054006", true}, {retired, false}, {"1234567", false}, {"", false}} {
		if got := r.Active(tc.concept); got != tc.want {
			t.Errorf("Active(%s) = %v", tc.concept, got)
		}
	}
}

func TestReleaseLanguagePreference(t *testing.T) {
	f := rf2Files()
	f.LanguageRefsetIDs = []string{terminology.RefsetGBEnglish}
	r, err := terminology.LoadRelease(f)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Display("44054006"); got != "T2DM GB wording [test]" {
		t.Errorf("GB English first: %q", got)
	}
	if _, ok := r.Display("999791000000106"); ok {
		t.Error("a UK-only preferred term shown under GB English")
	}
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadReleaseErrors(t *testing.T) {
	conceptHdr := "id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId\n"
	descHdr := "id\teffectiveTime\tactive\tmoduleId\tconceptId\tlanguageCode\ttypeId\tterm\tcaseSignificanceId\n"
	okConcept := "44054006\t20240401\t1\t900000000000207008\t900000000000074008\n"
	for _, tc := range []struct {
		name, concepts, descs, wantWhere string
	}{
		{"empty", "", "", "c.txt: empty file"},
		{"header", "FREETEXT-header\n", "", "c.txt line 1"},
		{"fields", conceptHdr + "44054006\tFREETEXT-x\n", "", "c.txt line 2"},
		{"check digit", conceptHdr + okConcept + "44054007\t20240401\t1\t900000000000207008\t900000000000074008\n", "", "c.txt line 3"},
		{"not a concept", conceptHdr + "2010014\t20240401\t1\t900000000000207008\t900000000000074008\n", "", "c.txt line 2"},
		{"active flag", conceptHdr + "44054006\t20240401\tFREETEXT\t900000000000207008\t900000000000074008\n", "", "c.txt line 2"},
		{"date", conceptHdr + "44054006\t2024-04-01\t1\t900000000000207008\t900000000000074008\n", "", "c.txt line 2"},
		{"term utf8", conceptHdr + okConcept, descHdr + "2010014\t20240401\t1\t900000000000207008\t44054006\ten\t900000000000013009\tFREETEXT-\xff\t900000000000448009\n", "d.txt line 2"},
		{"desc partition", conceptHdr + okConcept, descHdr + "44054006\t20240401\t1\t900000000000207008\t44054006\ten\t900000000000013009\tFREETEXT\t900000000000448009\n", "d.txt line 2"},
		{"long line", conceptHdr + strings.Repeat("FREETEXT", 200000) + "\n", "", "c.txt line 2"},
	} {
		dir := t.TempDir()
		f := terminology.RF2Files{
			Concepts:     []string{writeFile(t, dir, "c.txt", tc.concepts)},
			Descriptions: []string{writeFile(t, dir, "d.txt", tc.descs)},
		}
		if tc.descs == "" {
			f.Descriptions = nil
		}
		_, err := terminology.LoadRelease(f)
		if mig.ErrorCode(err) != mig.EINVALID || !strings.Contains(err.Error(), tc.wantWhere) || strings.Contains(err.Error(), "FREETEXT") {
			t.Errorf("%s: %v (want EINVALID naming %q)", tc.name, err, tc.wantWhere)
		}
	}
	if _, err := terminology.LoadRelease(terminology.RF2Files{Concepts: []string{"testdata/absent.txt"}}); mig.ErrorCode(err) != mig.EINVALID {
		t.Errorf("absent: %v", err)
	}
	if _, err := terminology.LoadRelease(terminology.RF2Files{}); mig.ErrorCode(err) != mig.EINVALID {
		t.Errorf("no concepts: %v", err)
	}
}

// A cycle cannot happen in a release, but a malformed file must not hang
// or crash the loader.
func TestReleaseCycle(t *testing.T) {
	dir := t.TempDir()
	c := "id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId\n" +
		"73211009\t20240401\t1\t900000000000207008\t900000000000074008\n" +
		"44054006\t20240401\t1\t900000000000207008\t900000000000074008\n" +
		"64572001\t20240401\t1\t900000000000207008\t900000000000074008\n"
	rel := "id\teffectiveTime\tactive\tmoduleId\tsourceId\tdestinationId\trelationshipGroup\ttypeId\tcharacteristicTypeId\tmodifierId\n" +
		"1001028\t20240401\t1\t900000000000207008\t44054006\t73211009\t0\t116680003\t900000000000011006\t900000000000451002\n" +
		"1002024\t20240401\t1\t900000000000207008\t73211009\t64572001\t0\t116680003\t900000000000011006\t900000000000451002\n" +
		"1003025\t20240401\t1\t900000000000207008\t64572001\t44054006\t0\t116680003\t900000000000011006\t900000000000451002\n"
	r, err := terminology.LoadRelease(terminology.RF2Files{
		Concepts:      []string{writeFile(t, dir, "c.txt", c)},
		Relationships: []string{writeFile(t, dir, "r.txt", rel)},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Where the cycle is broken depends on load order; the first concept's
	// own paths stand.
	if !r.IsA("73211009", "64572001") || !r.IsA("73211009", "44054006") {
		t.Error("paths from the first concept lost")
	}
	for _, a := range []string{"73211009", "44054006", "64572001"} {
		for _, b := range []string{"73211009", "44054006", "64572001"} {
			r.IsA(a, b) // answers, never hangs
		}
	}
}

func TestRubrics(t *testing.T) {
	r, err := terminology.LoadRubrics(nil, "http://example.org/not-read", "testdata/readv2_rubrics_test.txt")
	if mig.ErrorCode(err) != mig.EINVALID || r != nil {
		t.Errorf("unknown system: %v", err)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name, body, wantWhere string
	}{
		{"empty", "", "r.txt: empty file"},
		{"no columns", "FREETEXT\tx\n", "r.txt line 1"},
		{"bad code", "READCODE\tTERM\nFREETEXT-code\tterm\n", "r.txt line 2"},
		{"no term", "READCODE\tTERM\nC10F.\t\n", "r.txt line 2"},
		{"bad utf8", "READCODE\tTERM\nC10F.\tFREETEXT\xff\n", "r.txt line 2"},
	} {
		_, err := terminology.LoadRubrics(nil, "http://read.info/readv2", writeFile(t, dir, "r.txt", tc.body))
		if mig.ErrorCode(err) != mig.EINVALID || !strings.Contains(err.Error(), tc.wantWhere) || strings.Contains(err.Error(), "FREETEXT") {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// Without a preferred column the first row of a code stands.
	p := writeFile(t, dir, "plain.txt", "code|rubric\nC10F.|First [test]\nC10F.|Second [test]\n")
	r, err = terminology.LoadRubrics(nil, "http://read.info/readv2", p)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Display("http://read.info/readv2", "C10F."); got != "First [test]" {
		t.Errorf("plain: %q", got)
	}
}

func TestDMDErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, body, wantWhere string
	}{
		{"not xml", "FREETEXT", "x.xml line 1"},
		{"doctype", "<?xml version=\"1.0\"?>\n<!DOCTYPE x [<!ENTITY e \"FREETEXT\">]>\n<VTM/>", "x.xml line"},
		{"no id", "<V>\n<VTM><NM>FREETEXT</NM></VTM></V>", "x.xml line 2"},
		{"bad id", "<V>\n<VTM>\n<VTMID>FREETEXT</VTMID><NM>x</NM></VTM></V>", "x.xml line 3"},
		{"description id", "<V>\n<VMP><VPID>2010014</VPID><NM>x</NM></VMP></V>", "x.xml line 2"},
		{"empty name", "<V>\n<AMP><APID>325278007</APID>\n<NM> </NM></AMP></V>", "x.xml line 3"},
		{"unclosed", "<V>\n<AMP><APID>325278007</APID><NM>FREETEXT", "x.xml line 2"},
	} {
		_, err := terminology.LoadDMD(nil, writeFile(t, dir, "x.xml", tc.body))
		if mig.ErrorCode(err) != mig.EINVALID || !strings.Contains(err.Error(), tc.wantWhere) || strings.Contains(err.Error(), "FREETEXT") {
			t.Errorf("%s: %v (want %q)", tc.name, err, tc.wantWhere)
		}
	}
	d, err := terminology.LoadDMD(nil, "testdata/f_vmp2_test.xml")
	if err != nil || d.Len() != 2 {
		t.Errorf("vmp: %v %d", err, d.Len())
	}
}
