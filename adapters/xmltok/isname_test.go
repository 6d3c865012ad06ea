package xmltok

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"testing"
	"unicode"
	"unicode/utf8"
)

// xmlIsName is encoding/xml's isName over the copied tables, no ASCII
// shortcut: the reference for isName's shortcut.
func xmlIsName(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	c, n := utf8.DecodeRune(s)
	if c == utf8.RuneError && n == 1 || !unicode.Is(first, c) {
		return false
	}
	for n < len(s) {
		s = s[n:]
		c, n = utf8.DecodeRune(s)
		if c == utf8.RuneError && n == 1 || !unicode.Is(first, c) && !unicode.Is(second, c) {
			return false
		}
	}
	return true
}

// TestSWARSpecial holds textRun's eight-byte scan to its byte table: a
// word is passed over whole only when no byte in it needs a look, and
// the first flagged byte is the first that does.
func TestSWARSpecial(t *testing.T) {
	for _, quote := range []int{-1, '"', '\''} {
		q := swarLt
		if quote >= 0 {
			q = uint64(quote) * swarL
		}
		needsLook := func(c byte) bool {
			return c < 0x20 || c >= 0x80 || c == '<' || c == '&' || c == ']' || (quote >= 0 && c == byte(quote))
		}
		check := func(w [8]byte) {
			m := swarSpecial(binary.LittleEndian.Uint64(w[:]), q)
			first := 8
			for i, c := range w {
				if needsLook(c) {
					first = i
					break
				}
			}
			got := 8
			if m != 0 {
				got = bits.TrailingZeros64(m) >> 3
			}
			if got != first {
				t.Fatalf("quote %d, word %q: first flagged byte %d, want %d", quote, w[:], got, first)
			}
		}
		for c := 0; c < 256; c++ {
			for pos := 0; pos < 8; pos++ {
				w := [8]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}
				w[pos] = byte(c)
				check(w)
				// Every byte after it too, so borrows have something to spoil.
				for k := pos + 1; k < 8; k++ {
					w[k] = byte(c)
				}
				check(w)
			}
		}
		r := rand.New(rand.NewPCG(1, uint64(quote+2)))
		alphabet := []byte("aZ09 \t\n\r<>&;]\"'=/\x00\x01\x1f\x7f\x80\xc3\xa9\xff")
		for i := 0; i < 200000; i++ {
			var w [8]byte
			for k := range w {
				if r.IntN(3) == 0 {
					w[k] = alphabet[r.IntN(len(alphabet))]
				} else {
					w[k] = byte(r.IntN(256))
				}
			}
			check(w)
		}
	}
}
