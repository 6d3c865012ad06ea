package xmltok

import (
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
