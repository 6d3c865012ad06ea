package terminology

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mig"
)

// checkLoadErr fails unless err is an EINVALID *mig.Error naming the file
// and quoting nothing of the content (seeds plant FREETEXT).
func checkLoadErr(t *testing.T, err error, name string) {
	t.Helper()
	var me *mig.Error
	if !errors.As(err, &me) || me.Code != mig.EINVALID {
		t.Fatalf("error %T %v: want an EINVALID *mig.Error", err, err)
	}
	if strings.Contains(err.Error(), "FREETEXT") {
		t.Fatalf("error quotes the file: %q", err.Error())
	}
	if !strings.Contains(me.Message, name) {
		t.Fatalf("error %q does not name the file", me.Message)
	}
}

// seedLines adds every data line of the RF2 testdata, tagged with its kind.
func seedLines(f *testing.F) {
	for k, name := range map[rf2Kind]string{
		rf2Concept:      "sct2_Concept_Snapshot_MIGTEST_20240401.txt",
		rf2Description:  "sct2_Description_Snapshot-en_MIGTEST_20240401.txt",
		rf2Relationship: "sct2_Relationship_Snapshot_MIGTEST_20240401.txt",
		rf2Language:     "der2_cRefset_LanguageSnapshot-en_MIGTEST_20240401.txt",
	} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for i := 0; sc.Scan(); i++ {
			if i > 0 && i < 6 {
				f.Add(uint8(k), strings.TrimRight(sc.Text(), "\r"))
			}
		}
	}
	for _, s := range []string{
		"FREETEXT", "", "\t\t\t\t", "44054006\t20240401\t1\t900000000000207008\tFREETEXT",
		"2010014\t20240401\t1\t900000000000207008\t44054006\ten\t900000000000013009\tFREETEXT\xff\t900000000000448009",
		"1\t2\t3\t4\t5\t6\t7\t8\t9\t10",
	} {
		f.Add(uint8(0), s)
		f.Add(uint8(1), s)
	}
}

// FuzzRF2Line parses one data line of each RF2 file kind, then the same
// line inside a whole file, through the builder: never a panic, and an
// error is content-free and names the file and line.
func FuzzRF2Line(f *testing.F) {
	seedLines(f)
	f.Fuzz(func(t *testing.T, kind uint8, line string) {
		k := rf2Kind(int(kind) % len(rf2Headers))
		fields, reason := parseRF2Line(k, line)
		if reason != "" {
			if fields != nil || strings.Contains(reason, "FREETEXT") {
				t.Fatalf("reason %q with fields %v", reason, fields)
			}
		} else if len(fields) != len(rf2Headers[k]) {
			t.Fatalf("%d fields", len(fields))
		}
		b := newReleaseBuilder(nil)
		fn := [...]func([]string) string{b.concept, b.description, b.relationship, b.language}[k]
		body := strings.Join(rf2Headers[k], "\t") + "\n" + line + "\n"
		if err := readRF2(strings.NewReader(body), "/x/rf2.txt", k, fn); err != nil {
			checkLoadErr(t, err, "rf2.txt line ")
			return
		}
		r := b.build()
		r.IsA("44054006", "64572001")
		r.ConceptOfDescription("2010014")
		r.Display("44054006")
	})
}

// FuzzRubrics loads arbitrary bytes as a rubric file of either system.
func FuzzRubrics(f *testing.F) {
	for _, name := range []string{"readv2_rubrics_test.txt", "ctv3_rubrics_test.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
		f.Add(b, false)
	}
	for _, s := range []string{"", "READCODE\tTERM\nFREETEXT\tx\n", "CODE|TERM\nC10F.|FREETEXT\xfe\n", "FREETEXT-header\n",
		"READCODE\tTERMCODE\tTERM\nC10F.\t00\t\nC10F.\t11\tFREETEXT\n"} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, b []byte, read bool) {
		system := "http://read.info/ctv3"
		if read {
			system = "http://read.info/readv2"
		}
		r := &Rubrics{read: map[string]rubric{}, ctv3: map[string]rubric{}}
		t2 := r.ctv3
		if read {
			t2 = r.read
		}
		if err := readRubrics(bytes.NewReader(b), "rubrics.txt", system, t2); err != nil {
			checkLoadErr(t, err, "rubrics.txt")
			return
		}
		for code := range t2 {
			if s, ok := r.Display(system, code); ok && s == "" {
				t.Fatal("empty display")
			}
		}
	})
}

// FuzzDMD reads arbitrary bytes as a dm+d XML file under small limits.
func FuzzDMD(f *testing.F) {
	for _, name := range []string{"f_vtm2_test.xml", "f_vmp2_test.xml", "f_amp2_test.xml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{"", "FREETEXT", "<VTM><VTMID>FREETEXT</VTMID><NM>x</NM></VTM>",
		"<A><AMP><APID>325278007</APID><NM>FREETEXT\xff</NM></AMP></A>",
		"<!DOCTYPE a [<!ENTITY x \"FREETEXT\">]><a>&x;</a>", "<a><VMP><VPID>325278007</VPID><NM>" + strings.Repeat("FREETEXT", 600) + "</NM></VMP></a>"} {
		f.Add([]byte(s))
	}
	lim := dmdLimits
	lim.MaxBytes, lim.MaxElements = 1<<20, 10000
	f.Fuzz(func(t *testing.T, b []byte) {
		names := map[uint64]string{}
		if err := readDMD(bytes.NewReader(b), "/d/dmd.xml", lim, names); err != nil {
			checkLoadErr(t, err, "dmd.xml")
			return
		}
		for _, n := range names {
			if n == "" {
				t.Fatal("empty name")
			}
		}
	})
}
