package gp2gp

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mig/adapters/record"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden compares the record read from each synthetic extract with its
// golden dump (go test -run TestGolden -update rewrites them).
func TestGolden(t *testing.T) {
	for _, path := range ourFiles(t) {
		nhs := strings.TrimSuffix(filepath.Base(path), ".xml")
		t.Run(nhs, func(t *testing.T) {
			r := parseFile(t, path, record.ParseOptions{NHSNumber: nhs})
			got := dump(t, r, true)
			golden := filepath.Join("testdata", nhs+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("record differs from %s (run with -update after checking the change):\n%s", golden, firstDiff(want, got))
			}
		})
	}
}

func firstDiff(want, got []byte) string {
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n want: " + w + "\n  got: " + g
		}
	}
	return ""
}
