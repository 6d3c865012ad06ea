package testenv

import (
	"bytes"
	"os"
	"testing"
)

// FlipEvery flips bit 0 of the byte at off in every occurrence of pat in
// the file at path, as an insider editing a stopped gateway's store would
// (bbolt may keep stale copies in free pages, so every copy is flipped). It
// fails the test when pat is not in the file.
func FlipEvery(t testing.TB, path string, pat []byte, off int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := 0; ; {
		j := bytes.Index(b[i:], pat)
		if j < 0 {
			break
		}
		b[i+j+off] ^= 0x01
		i += j + len(pat)
		n++
	}
	if n == 0 {
		t.Fatalf("%q not in %s", pat, path)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
