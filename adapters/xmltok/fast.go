package xmltok

// The fast path: a tokenizer over the whole document as one byte slice.
//
// Why hand-written rather than github.com/orisano/gosax (measured in issue 14
// at 320-520 MB/s with checks added): gosax is deliberately lax (no name,
// character, UTF-8 or entity checks, no namespaces, no line numbers), so
// every check xmltok promises would have to be rebuilt on top of its events
// anyway, and its laxness would have to be proven harmless case by case.
// This file instead ports encoding/xml's strict grammar (Go 1.26,
// src/encoding/xml/xml.go: rawToken, text, name, nsname, translate,
// popElement) onto a byte slice, byte for byte where it decides anything,
// with bulk scans for the common cases (runs of plain text, ASCII names,
// interned names, text returned without copying when it needs no decoding).
// Same grammar means same accept/reject, same tokens, same namespace
// resolution, same error messages (so reason() maps them alike) and the same
// line numbers (positions are kept exactly where encoding/xml's reader would
// stand). FuzzDifferential holds the two to that.
//
// The fast path reads the document whole (at most Limits.MaxBytes, so it is
// used only when MaxBytes <= fastMaxBytes; bigger limits, e.g. the dm+d
// terminology files, stream through encoding/xml). A document over MaxBytes
// is refused before its first token.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// fastMaxBytes is the largest MaxBytes for which the fast path (which holds
// the whole document in memory) is used.
const fastMaxBytes = 64 << 20

// useFast selects the fast path for NewDecoder (when the limits allow it).
var useFast = true

type rawKind uint8

const (
	rawStart rawKind = iota + 1
	rawEnd
	rawText
	rawDirective
	rawOther // comment, processing instruction
)

// nsEntry is an open element: its name as written, and how many
// namespace declarations it made (popElement undoes them).
type nsEntry struct {
	name  *nameEntry
	nbind int
}

// nsBind is a namespace declaration in scope, with the binding of its
// prefix it hides (for the map, once there is one).
type nsBind struct {
	prefix, uri string
	prev        string
	prevOK      bool
}

// nsMapAfter is how many declarations in scope a linear search takes
// before lookups go through a map (a document declaring thousands must not
// make every element cost thousands).
const nsMapAfter = 8

// nameEntry is an interned name, with what encoding/xml's nsname makes of
// it worked out once: ok when it has at most one colon, then its prefix
// and local part, and the local part as the error path shows it.
type nameEntry struct {
	full, space, local, safe string
	ok                       bool
}

type fastTok struct {
	buf  []byte
	pos  int
	err  error
	line int // line at linePos
	lpos int

	needClose bool
	closeSp   string
	closeLoc  string
	closeSafe string

	binds []nsBind          // declarations in scope, innermost last
	defNS string            // the default namespace in scope ("" for none)
	nsMap map[string]string // the same, once more than nsMapAfter
	stk   []nsEntry
	names map[string]*nameEntry
	cache [512]*nameEntry // direct-mapped in front of names
	vals  [512]string     // attribute values, direct-mapped
	tbuf  []byte
	slab  []Attr // Start tokens' Attrs are carved from it (len 0, cap free)

	// the token just read
	entry              *nameEntry // a start tag's name
	nsAttrs            bool       // a start tag has a prefixed or xmlns attribute
	space, local, safe string
	attrs              []Attr
	text               []byte
}

func newFastTok(buf []byte) *fastTok {
	return &fastTok{buf: buf, line: 1, names: map[string]*nameEntry{}}
}

// lineNo is encoding/xml's InputPos line: 1 + newlines before pos.
func (f *fastTok) lineNo() int {
	if f.pos >= f.lpos {
		f.line += bytes.Count(f.buf[f.lpos:f.pos], nl)
	} else {
		f.line -= bytes.Count(f.buf[f.pos:f.lpos], nl)
	}
	f.lpos = f.pos
	return f.line
}

var nl = []byte{'\n'}

func (f *fastTok) syntax(msg string) error {
	f.err = errors.New(msg)
	return f.err
}

func (f *fastTok) eof() error { return f.syntax("unexpected EOF") }

// lookup returns the interned entry of the name b, checking it (isName)
// the first time only: a direct-mapped cache first (comparing bytes costs
// less than hashing them), then a map. nil: b is not a name.
func (f *fastTok) lookup(b []byte) *nameEntry {
	h := hashBytes(b) & (uint(len(f.cache)) - 1)
	if e := f.cache[h]; e != nil && e.full == string(b) {
		return e
	}
	e := f.names[string(b)]
	if e == nil {
		if !isName(b) {
			return nil
		}
		e = newNameEntry(string(b))
		if len(f.names) < 4096 {
			f.names[e.full] = e
		}
	}
	f.cache[h] = e
	return e
}

// hashBytes is a cheap hash of a short byte string (non-empty): its first
// and last eight bytes (fewer when shorter) and its length, mixed by one
// multiplication; the top bits are the best, so callers mask after a shift.
func hashBytes(b []byte) uint {
	var x uint64
	switch n := len(b); {
	case n >= 8:
		x = binary.LittleEndian.Uint64(b) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(b[n-8:]), 29)
	case n >= 4:
		x = uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint32(b[n-4:]))<<32
	default:
		x = uint64(b[0]) | uint64(b[n/2])<<8 | uint64(b[n-1])<<16
	}
	x = (x ^ uint64(len(b))) * 0x9E3779B97F4A7C15
	return uint(x >> 40)
}

// newNameEntry splits a name as encoding/xml's nsname does.
func newNameEntry(s string) *nameEntry {
	e := &nameEntry{full: s}
	if strings.Count(s, ":") > 1 {
		return e
	}
	e.ok = true
	if sp, lo, found := strings.Cut(s, ":"); !found || sp == "" || lo == "" {
		e.local = s
	} else {
		e.space, e.local = sp, lo
	}
	e.safe = safeName(e.local)
	return e
}

// value returns an attribute value as a string, short ones through a
// direct-mapped cache: extracts repeat their codes, code systems and
// classes thousands of times.
func (f *fastTok) value(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > 48 {
		return string(b)
	}
	h := hashBytes(b) & (uint(len(f.vals)) - 1)
	if s := f.vals[h]; s == string(b) {
		return s
	}
	s := string(b)
	f.vals[h] = s
	return s
}

// lookupNS is the namespace a prefix is bound to, as encoding/xml's ns map
// holds it.
func (f *fastTok) lookupNS(prefix string) (string, bool) {
	if f.nsMap != nil {
		v, ok := f.nsMap[prefix]
		return v, ok
	}
	for i := len(f.binds) - 1; i >= 0; i-- {
		if f.binds[i].prefix == prefix {
			return f.binds[i].uri, true
		}
	}
	return "", false
}

// bind declares prefix as uri for the element just started, keeping the
// undo record popElement replays.
func (f *fastTok) bind(prefix, uri string) {
	v, ok := f.lookupNS(prefix)
	f.binds = append(f.binds, nsBind{prefix: prefix, uri: uri, prev: v, prevOK: ok})
	if prefix == "" {
		f.defNS = uri
	}
	if f.nsMap == nil && len(f.binds) > nsMapAfter {
		f.nsMap = make(map[string]string, 2*len(f.binds))
		for _, b := range f.binds {
			f.nsMap[b.prefix] = b.uri
		}
	} else if f.nsMap != nil {
		f.nsMap[prefix] = uri
	}
}

// pushElement opens the start tag just read: its namespace declarations,
// then its name's and attributes' namespaces. Decoder.Next calls rawToken,
// then pushElement or popElement: encoding/xml's Token (Strict).
func (f *fastTok) pushElement() {
	nb := 0
	if f.nsAttrs {
		for _, a := range f.attrs {
			if a.Space == "xmlns" {
				f.bind(a.Local, a.Value)
				nb++
			}
			if a.Space == "" && a.Local == "xmlns" {
				f.bind("", a.Value)
				nb++
			}
		}
	}
	f.stk = append(f.stk, nsEntry{name: f.entry, nbind: nb})
	f.space = f.translate(f.space, f.local, true)
	if f.nsAttrs {
		for i := range f.attrs {
			f.attrs[i].Space = f.translate(f.attrs[i].Space, f.attrs[i].Local, false)
		}
	}
}

// translate is encoding/xml's: the namespace of a prefix (space) as
// declared, the default namespace for an element without one.
func (f *fastTok) translate(space, local string, element bool) string {
	if space == "" {
		if !element || local == "xmlns" {
			return ""
		}
		return f.defNS // "" when none is declared (DefaultSpace is "")
	}
	switch space {
	case "xmlns":
		return space
	case "xml":
		space = "http://www.w3.org/XML/1998/namespace"
	}
	if v, ok := f.lookupNS(space); ok {
		return v
	}
	return space
}

func (f *fastTok) popElement() error {
	space, local := f.space, f.local
	n := len(f.stk)
	if n == 0 {
		return f.syntax("unexpected end element </" + local + ">")
	}
	s := f.stk[n-1]
	f.stk = f.stk[:n-1]
	switch {
	case s.name.local != local:
		return f.syntax("element <" + s.name.local + "> closed by </" + local + ">")
	case s.name.space != space:
		ns := space
		if space == "" {
			ns = `""`
		}
		return f.syntax("element <" + s.name.local + "> in space " + s.name.space +
			" closed by </" + local + "> in space " + ns)
	}
	f.space = f.translate(space, local, true)
	for ; s.nbind > 0; s.nbind-- {
		b := f.binds[len(f.binds)-1]
		f.binds = f.binds[:len(f.binds)-1]
		if b.prefix == "" {
			f.defNS = b.prev // "" when it was not declared
		}
		if f.nsMap != nil {
			if b.prevOK {
				f.nsMap[b.prefix] = b.prev
			} else {
				delete(f.nsMap, b.prefix)
			}
		}
	}
	return nil
}

func (f *fastTok) getc() (byte, bool) {
	if f.pos >= len(f.buf) {
		return 0, false
	}
	b := f.buf[f.pos]
	f.pos++
	return b, true
}

func (f *fastTok) mustgetc() (byte, bool) {
	if f.pos >= len(f.buf) {
		f.eof()
		return 0, false
	}
	b := f.buf[f.pos]
	f.pos++
	return b, true
}

func (f *fastTok) skipSpace() {
	for f.pos < len(f.buf) {
		switch f.buf[f.pos] {
		case ' ', '\r', '\n', '\t':
			f.pos++
		default:
			return
		}
	}
}

func (f *fastTok) rawToken() (rawKind, error) {
	if f.err != nil {
		return 0, f.err
	}
	if f.needClose {
		f.needClose = false
		f.space, f.local, f.safe = f.closeSp, f.closeLoc, f.closeSafe
		return rawEnd, nil
	}
	b, ok := f.getc()
	if !ok {
		return 0, io.EOF
	}
	if b != '<' {
		f.pos--
		data, ok := f.textRun(-1, false)
		if !ok {
			return 0, f.err
		}
		f.text = data
		return rawText, nil
	}
	if b, ok = f.mustgetc(); !ok {
		return 0, f.err
	}
	switch b {
	case '/':
		// Mostly the name of the element open: compare it rather than
		// read and look it up (the same bytes followed by a byte that
		// ends a name are the name readName would read).
		var e *nameEntry
		if n := len(f.stk); n > 0 {
			w := f.stk[n-1].name
			if end := f.pos + len(w.full); end < len(f.buf) && nameStop[f.buf[end]] && string(f.buf[f.pos:end]) == w.full {
				e, ok, f.pos = w, true, end
			}
		}
		if e == nil {
			e, ok = f.nsname()
		}
		if !ok {
			if f.err == nil {
				f.syntax("expected element name after </")
			}
			return 0, f.err
		}
		f.skipSpace()
		if b, ok = f.mustgetc(); !ok {
			return 0, f.err
		}
		if b != '>' {
			return 0, f.syntax("invalid characters between </" + e.local + " and >")
		}
		f.space, f.local, f.safe = e.space, e.local, e.safe
		return rawEnd, nil

	case '?':
		te, ok := f.name()
		if !ok {
			if f.err == nil {
				f.syntax("expected target name after <?")
			}
			return 0, f.err
		}
		target := te.full
		f.skipSpace()
		i := bytes.Index(f.buf[f.pos:], []byte("?>"))
		if i < 0 {
			f.pos = len(f.buf)
			return 0, f.eof()
		}
		data := f.buf[f.pos : f.pos+i]
		f.pos += i + 2
		if target == "xml" {
			content := string(data)
			ver := procInst("version", content)
			if ver != "" && ver != "1.0" {
				f.err = fmt.Errorf("xml: unsupported version %q; only version 1.0 is supported", ver)
				return 0, f.err
			}
			enc := procInst("encoding", content)
			if enc != "" && !strings.EqualFold(enc, "utf-8") {
				switch strings.ToLower(enc) {
				case "utf8", "us-ascii", "ascii":
				default:
					f.err = fmt.Errorf("xml: opening charset %q: %w", enc, errors.New("unsupported encoding"))
					return 0, f.err
				}
			}
		}
		return rawOther, nil

	case '!':
		if b, ok = f.mustgetc(); !ok {
			return 0, f.err
		}
		switch b {
		case '-':
			if b, ok = f.mustgetc(); !ok {
				return 0, f.err
			}
			if b != '-' {
				return 0, f.syntax("invalid sequence <!- not part of <!--")
			}
			i := bytes.Index(f.buf[f.pos:], []byte("--"))
			if i < 0 {
				f.pos = len(f.buf)
				return 0, f.eof()
			}
			f.pos += i + 2
			if b, ok = f.mustgetc(); !ok {
				return 0, f.err
			}
			if b != '>' {
				return 0, f.syntax(`invalid sequence "--" not allowed in comments`)
			}
			return rawOther, nil
		case '[':
			for i := 0; i < 6; i++ {
				if b, ok = f.mustgetc(); !ok {
					return 0, f.err
				}
				if b != "CDATA["[i] {
					return 0, f.syntax("invalid <![ sequence")
				}
			}
			data, ok := f.textRun(-1, true)
			if !ok {
				return 0, f.err
			}
			f.text = data
			return rawText, nil
		}
		return f.directive(b)
	}

	// A start tag.
	f.pos--
	e, ok := f.nsname()
	if !ok {
		if f.err == nil {
			f.syntax("expected element name after <")
		}
		return 0, f.err
	}
	// Attributes are read straight into the slab; a start tag with more
	// than the slab holds gets its own array from append.
	if cap(f.slab) < 16 {
		f.slab = make([]Attr, 0, 512)
	}
	attrs := f.slab
	empty := false
	nsAttrs := false
	for {
		f.skipSpace()
		if b, ok = f.mustgetc(); !ok {
			return 0, f.err
		}
		if b == '/' {
			empty = true
			if b, ok = f.mustgetc(); !ok {
				return 0, f.err
			}
			if b != '>' {
				return 0, f.syntax("expected /> in element")
			}
			break
		}
		if b == '>' {
			break
		}
		f.pos--
		ae, ok := f.nsname()
		if !ok {
			if f.err == nil {
				f.syntax("expected attribute name in element")
			}
			return 0, f.err
		}
		a := Attr{Space: ae.space, Local: ae.local}
		if ae.space != "" || ae.local == "xmlns" {
			nsAttrs = true
		}
		f.skipSpace()
		if b, ok = f.mustgetc(); !ok {
			return 0, f.err
		}
		if b != '=' {
			return 0, f.syntax("attribute name without = in element")
		}
		f.skipSpace()
		if b, ok = f.mustgetc(); !ok {
			return 0, f.err
		}
		if b != '"' && b != '\'' {
			return 0, f.syntax("unquoted or missing attribute value in element")
		}
		data, ok := f.textRun(int(b), false)
		if !ok {
			return 0, f.err
		}
		a.Value = f.value(data)
		attrs = append(attrs, a)
	}
	n := len(attrs)
	f.attrs = nil
	if n > 0 {
		f.attrs = attrs[:n:n]
		if n <= cap(f.slab) { // carved from the slab, not reallocated
			f.slab = f.slab[n:n]
		}
	}
	if empty {
		f.needClose = true
		f.closeSp, f.closeLoc, f.closeSafe = e.space, e.local, e.safe
	}
	f.entry, f.nsAttrs = e, nsAttrs
	f.space, f.local, f.safe = e.space, e.local, e.safe
	return rawStart, nil
}

// directive skips a <!...> declaration as encoding/xml reads it (the caller
// refuses it), b being its first byte.
func (f *fastTok) directive(b byte) (rawKind, error) {
	var ok bool
	inquote := byte(0)
	depth := 0
	for {
		if b, ok = f.mustgetc(); !ok {
			return 0, f.err
		}
		if inquote == 0 && b == '>' && depth == 0 {
			break
		}
	handle:
		switch {
		case b == inquote:
			inquote = 0
		case inquote != 0:
		case b == '\'' || b == '"':
			inquote = b
		case b == '>' && inquote == 0:
			depth--
		case b == '<' && inquote == 0:
			s := "!--"
			for i := 0; i < len(s); i++ {
				if b, ok = f.mustgetc(); !ok {
					return 0, f.err
				}
				if b != s[i] {
					depth++
					goto handle
				}
			}
			var b0, b1 byte
			for {
				if b, ok = f.mustgetc(); !ok {
					return 0, f.err
				}
				if b0 == '-' && b1 == '-' && b == '>' {
					break
				}
				b0, b1 = b1, b
			}
		}
	}
	return rawDirective, nil
}

// textRun reads character data (quote < 0), a quoted attribute value (quote
// is the quote byte) or a CDATA section's content, as encoding/xml's text.
func (f *fastTok) textRun(quote int, cdata bool) ([]byte, bool) {
	start := f.pos
	buf := f.buf
	// Fast path: a run needing no decoding, returned without a copy.
	if cdata {
		if i := bytes.Index(buf[start:], []byte("]]>")); i >= 0 && bytes.IndexByte(buf[start:start+i], '\r') < 0 {
			data := buf[start : start+i]
			f.pos = start + i + 3
			return data, f.checkChars(data)
		}
	} else {
		// One pass finds the end of the run and whether any byte needs
		// the rune check (non-ASCII or a control character).
		stop := &textStop
		if quote == '"' {
			stop = &dquoteStop
		} else if quote == '\'' {
			stop = &squoteStop
		}
		i := start
		check := false
		q := swarLt // the text's own stops, repeated: no quote
		if quote >= 0 {
			q = uint64(quote) * swarL
		}
		// Eight bytes at a time while none needs a look; then the first
		// that does, by the table.
	scan:
		for {
			for i+8 <= len(buf) {
				m := swarSpecial(binary.LittleEndian.Uint64(buf[i:]), q)
				if m == 0 {
					i += 8
					continue
				}
				i += bits.TrailingZeros64(m) >> 3
				switch stop[buf[i]] {
				case 1:
					break scan
				case 2:
					check = true
				}
				i++
			}
			for i < len(buf) {
				switch stop[buf[i]] {
				case 1:
					break scan
				case 2:
					check = true
				}
				i++
			}
			break
		}
		end := i
		switch {
		case quote < 0 && (i == len(buf) || buf[i] == '<'):
			f.pos = i
		case quote >= 0 && i < len(buf) && buf[i] == byte(quote):
			f.pos = i + 1
		default:
			return f.textSlow(quote, cdata)
		}
		data := buf[start:end]
		if !check {
			return data, true
		}
		return data, f.checkChars(data)
	}
	return f.textSlow(quote, cdata)
}

// SWAR (eight bytes in a uint64) constants for textRun: each byte of L
// is 1, of H 0x80.
const (
	swarL  = 0x0101010101010101
	swarH  = 0x8080808080808080
	swarLt = uint64(0x3C3C3C3C3C3C3C3C) // '<' in each byte
)

// swarSpecial flags (high bit of the byte) bytes of x that textRun must
// look at: below 0x20 (control characters, and tab, newline and carriage
// return, which the table sorts out), 0x80 and above (UTF-8 to check), '<',
// '&', ']' and the quote q (repeated in each byte). The lowest flag is
// always a true one (the borrow of a subtraction only flags bytes above a
// true one), which is all the caller uses.
func swarSpecial(x, q uint64) uint64 {
	// A byte equal to c is a zero byte of x^c: (v-L) &^ v flags zero
	// bytes; (x-0x20...) &^ x flags bytes below 0x20; x itself, 0x80 and
	// above. One mask at the end.
	lt, amp, rsb, qq := x^swarLt, x^0x2626262626262626, x^0x5D5D5D5D5D5D5D5D, x^q
	return ((x-0x2020202020202020)&^x | x | (lt-swarL)&^lt | (amp-swarL)&^amp | (rsb-swarL)&^rsb | (qq-swarL)&^qq) & swarH
}

// Byte classes for textRun's scan: 0 plain, 1 ends the fast run, 2 needs
// checkChars (non-ASCII, control characters).
var textStop, dquoteStop, squoteStop [256]uint8

func init() {
	for _, t := range []*[256]uint8{&textStop, &dquoteStop, &squoteStop} {
		for c := 0; c < 256; c++ {
			switch {
			case c == '<' || c == '&' || c == '\r' || c == ']':
				t[c] = 1
			case c >= utf8.RuneSelf || c < 0x20 && c != '\t' && c != '\n':
				t[c] = 2
			}
		}
	}
	dquoteStop['"'] = 1
	squoteStop['\''] = 1
}

// textSlow is encoding/xml's text, byte by byte.
func (f *fastTok) textSlow(quote int, cdata bool) ([]byte, bool) {
	var b0, b1 byte
	trunc := 0
	out := f.tbuf[:0]
Input:
	for {
		b, ok := f.getc()
		if !ok {
			if cdata {
				f.syntax("unexpected EOF in CDATA section")
				return nil, false
			}
			break Input
		}
		if quote < 0 && b0 == ']' && b1 == ']' && b == '>' {
			if cdata {
				trunc = 2
				break Input
			}
			f.syntax("unescaped ]]> not in CDATA section")
			return nil, false
		}
		if b == '<' && !cdata {
			if quote >= 0 {
				f.syntax("unescaped < inside quoted string")
				return nil, false
			}
			f.pos--
			break Input
		}
		if quote >= 0 && b == byte(quote) {
			break Input
		}
		if b == '&' && !cdata {
			amp := f.pos - 1
			var text string
			haveText := false
			if b, ok = f.mustgetc(); !ok {
				return nil, false
			}
			if b == '#' {
				if b, ok = f.mustgetc(); !ok {
					return nil, false
				}
				base := 10
				if b == 'x' {
					base = 16
					if b, ok = f.mustgetc(); !ok {
						return nil, false
					}
				}
				ds := f.pos - 1
				for '0' <= b && b <= '9' ||
					base == 16 && 'a' <= b && b <= 'f' ||
					base == 16 && 'A' <= b && b <= 'F' {
					if b, ok = f.mustgetc(); !ok {
						return nil, false
					}
				}
				if b != ';' {
					f.pos--
				} else {
					n, err := strconv.ParseUint(string(f.buf[ds:f.pos-1]), base, 64)
					if err == nil && n <= unicode.MaxRune {
						text = string(rune(n))
						haveText = true
					}
				}
			} else {
				f.pos--
				ns := f.pos
				if !f.readName() {
					if f.err != nil {
						return nil, false
					}
				}
				ne := f.pos
				if b, ok = f.mustgetc(); !ok {
					return nil, false
				}
				if b != ';' {
					f.pos--
				} else if name := f.buf[ns:ne]; isName(name) {
					switch string(name) {
					case "lt":
						text, haveText = "<", true
					case "gt":
						text, haveText = ">", true
					case "amp":
						text, haveText = "&", true
					case "apos":
						text, haveText = "'", true
					case "quot":
						text, haveText = `"`, true
					}
				}
			}
			if haveText {
				out = append(out, text...)
				b0, b1 = 0, 0
				continue Input
			}
			ent := string(f.buf[amp:f.pos])
			if ent[len(ent)-1] != ';' {
				ent += " (no semicolon)"
			}
			f.syntax("invalid character entity " + ent)
			return nil, false
		}
		if b == '\r' {
			out = append(out, '\n')
		} else if b1 == '\r' && b == '\n' {
			// skip \r\n: \n already written
		} else {
			out = append(out, b)
		}
		b0, b1 = b1, b
	}
	f.tbuf = out
	data := out[:len(out)-trunc]
	if data == nil {
		data = []byte{}
	}
	return data, f.checkChars(data)
}

// checkChars is encoding/xml's check of every rune: valid UTF-8 in the XML
// Char range.
func (f *fastTok) checkChars(data []byte) bool {
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				f.syntax(fmt.Sprintf("illegal character code %U", rune(c)))
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			f.syntax("invalid UTF-8")
			return false
		}
		if !isInCharacterRange(r) {
			f.syntax(fmt.Sprintf("illegal character code %U", r))
			return false
		}
		i += size
	}
	return true
}

func isInCharacterRange(r rune) bool {
	return r == 0x09 ||
		r == 0x0A ||
		r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

func isNameByte(c byte) bool {
	return 'A' <= c && c <= 'Z' ||
		'a' <= c && c <= 'z' ||
		'0' <= c && c <= '9' ||
		c == '_' || c == ':' || c == '.' || c == '-'
}

// readName advances over a name as encoding/xml's readName: false with no
// error when no name starts here, false with f.err at the end of input.
func (f *fastTok) readName() bool {
	b, ok := f.mustgetc()
	if !ok {
		return false
	}
	if b < utf8.RuneSelf && !isNameByte(b) {
		f.pos--
		return false
	}
	buf := f.buf
	for i := f.pos; i < len(buf); i++ {
		if nameStop[buf[i]] {
			f.pos = i
			return true
		}
	}
	f.pos = len(buf)
	f.eof()
	return false
}

// nameStop: the ASCII bytes that end a name (readName takes every other
// byte, the caller checks the runes).
var nameStop [256]bool

func init() {
	for c := 0; c < utf8.RuneSelf; c++ {
		nameStop[c] = !isNameByte(byte(c))
	}
}

// name reads a name as encoding/xml's name (readName, then isName).
func (f *fastTok) name() (*nameEntry, bool) {
	s := f.pos
	if !f.readName() {
		return nil, false
	}
	e := f.lookup(f.buf[s:f.pos])
	if e == nil {
		f.syntax("invalid XML name: " + string(f.buf[s:f.pos]))
		return nil, false
	}
	return e, true
}

// nsname reads a name as encoding/xml's nsname: false without an error
// for a name with more than one colon (the caller says what it expected).
func (f *fastTok) nsname() (*nameEntry, bool) {
	e, ok := f.name()
	if !ok || !e.ok {
		return nil, false
	}
	return e, true
}

func isName(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	ascii := true
	for _, c := range s {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		// first: ':' 'A'-'Z' '_' 'a'-'z'; then also '-' '.' '0'-'9'.
		c := s[0]
		if !(c == ':' || c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
		for _, c := range s[1:] {
			if !isNameByte(c) {
				return false
			}
		}
		return true
	}
	c, n := utf8.DecodeRune(s)
	if c == utf8.RuneError && n == 1 {
		return false
	}
	if !unicode.Is(first, c) {
		return false
	}
	for n < len(s) {
		s = s[n:]
		c, n = utf8.DecodeRune(s)
		if c == utf8.RuneError && n == 1 {
			return false
		}
		if !unicode.Is(first, c) && !unicode.Is(second, c) {
			return false
		}
	}
	return true
}

// procInst is encoding/xml's: the value of param="..." in s, or "".
func procInst(param, s string) string {
	param = param + "="
	lenp := len(param)
	i := 0
	var sep byte
	for i < len(s) {
		sub := s[i:]
		k := strings.Index(sub, param)
		if k < 0 || lenp+k >= len(sub) {
			return ""
		}
		i += lenp + k + 1
		if c := sub[lenp+k]; c == '\'' || c == '"' {
			sep = c
			break
		}
	}
	if sep == 0 {
		return ""
	}
	j := strings.IndexByte(s[i:], sep)
	if j < 0 {
		return ""
	}
	return s[i : i+j]
}
