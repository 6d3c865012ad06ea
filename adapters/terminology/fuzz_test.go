package terminology

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mig"
)

// FuzzLoad writes arbitrary bytes as a map file and loads it: Load must
// never panic, and an error must be an EINVALID *mig.Error that names the
// file and line but quotes nothing of the content. The seeds plant the
// marker FREETEXT in headers, codes, targets and flags.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"rcsctmap2_uk_test.txt", "ctv3sctmap2_uk_test.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	readHdr := "MapId\tReadCode\tTermCode\tConceptId\tDescriptionId\tIS_ASSURED\tEffectiveDate\tMapStatus\n"
	ctvHdr := "MAPID\tCTV3_CONCEPTID\tCTV3_TERMID\tCTV3_TERMTYPE\tSCT_CONCEPTID\tSCT_DESCRIPTIONID\tMAPSTATUS\tEFFECTIVEDATE\tIS_ASSURED\r\n"
	for _, s := range []string{
		"",
		"\ufeff" + readHdr + "{A}\tC10F.\t00\t44054006\t1\t1\t20200401\t1\n",
		readHdr + "{A}\tC10F.\t00\tFREETEXT-target\t1\t1\t20200401\t1\n",
		readHdr + "{A}\tFREETEXT-code\t00\t44054006\t1\tFREETEXT-flag\t20200401\t1\n",
		readHdr + "{A}\tC10F.\t00\t\t1\t1\t20200401\t1\n",
		readHdr + "FREETEXT-line-without-tabs\n",
		ctvHdr + "{B}\tX40J5\tY1\tP\t44054006\t1\t1\t20200401\t1\r\n{B}\tX40J5\tY1\tFREETEXT-type\t12345678\t1\t1\t2021-04-01\t1\r\n",
		ctvHdr + "{B}\tX40J5\tY1\tP\t" + strings.Repeat("9", 19) + "\t1\t1\t20200401\t1\r\n",
		"FREETEXT-header\tonly\n",
		"MapId\tReadCode\tFREETEXT-column\n{A}\tC10F.\n",
		readHdr + strings.Repeat("FREETEXT-", 200) + "\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		// The name is ours, so any FREETEXT in an error came from the content.
		p := filepath.Join(dir, "map.txt")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		m, err := Load(p)
		if err == nil {
			if m == nil {
				t.Fatal("nil map without an error")
			}
			return
		}
		var me *mig.Error
		if !errors.As(err, &me) || me.Code != mig.EINVALID {
			t.Fatalf("error %T %v: want an EINVALID *mig.Error", err, err)
		}
		if strings.Contains(me.Message, "FREETEXT") || strings.Contains(err.Error(), "FREETEXT") {
			t.Fatalf("error quotes the file: %q", err.Error())
		}
		if !strings.Contains(me.Message, "map.txt") {
			t.Errorf("error %q does not name the file", me.Message)
		}
	})
}
