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
	"errors"
	"fmt"
	"io"
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

type nsEntry struct {
	start        bool // an element (else a namespace undo record)
	space, local string
	ok           bool
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

	ns    map[string]string
	stk   []nsEntry
	names map[string]string
	cache [256]string
	tbuf  []byte
	abuf  []Attr

	// the token just read
	space, local string
	attrs        []Attr
	text         []byte
}

func newFastTok(buf []byte) *fastTok {
	return &fastTok{buf: buf, line: 1, ns: map[string]string{}, names: map[string]string{}}
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

// intern returns names as shared strings: a direct-mapped cache first
// (comparing bytes costs less than hashing them), then a map.
func (f *fastTok) intern(b []byte) string {
	h := (uint(len(b))*31 + uint(b[0])*7 + uint(b[len(b)-1])*3 + uint(b[len(b)/2])) & 255
	if s := f.cache[h]; s == string(b) && s != "" {
		return s
	}
	s, ok := f.names[string(b)]
	if !ok {
		s = string(b)
		if len(f.names) < 4096 {
			f.names[s] = s
		}
	}
	f.cache[h] = s
	return s
}

// next reads one token, as encoding/xml's Decoder.Token (Strict) would.
func (f *fastTok) next() (rawKind, error) {
	k, err := f.rawToken()
	if err != nil {
		if err == io.EOF && len(f.stk) > 0 {
			err = f.eof()
		}
		return 0, err
	}
	switch k {
	case rawStart:
		for _, a := range f.attrs {
			if a.Space == "xmlns" {
				v, ok := f.ns[a.Local]
				f.stk = append(f.stk, nsEntry{space: v, local: a.Local, ok: ok})
				f.ns[a.Local] = a.Value
			}
			if a.Space == "" && a.Local == "xmlns" {
				v, ok := f.ns[""]
				f.stk = append(f.stk, nsEntry{space: v, local: "", ok: ok})
				f.ns[""] = a.Value
			}
		}
		f.stk = append(f.stk, nsEntry{start: true, space: f.space, local: f.local})
		f.space = f.translate(f.space, f.local, true)
		for i := range f.attrs {
			f.attrs[i].Space = f.translate(f.attrs[i].Space, f.attrs[i].Local, false)
		}
	case rawEnd:
		if err := f.popElement(); err != nil {
			return 0, err
		}
	}
	return k, nil
}

func (f *fastTok) translate(space, local string, element bool) string {
	switch {
	case space == "xmlns":
		return space
	case space == "" && !element:
		return space
	case space == "xml":
		space = "http://www.w3.org/XML/1998/namespace"
	case space == "" && local == "xmlns":
		return space
	}
	if v, ok := f.ns[space]; ok {
		return v
	}
	return space // DefaultSpace is ""
}

func (f *fastTok) popElement() error {
	space, local := f.space, f.local
	n := len(f.stk)
	if n == 0 || !f.stk[n-1].start {
		return f.syntax("unexpected end element </" + local + ">")
	}
	s := f.stk[n-1]
	f.stk = f.stk[:n-1]
	switch {
	case s.local != local:
		return f.syntax("element <" + s.local + "> closed by </" + local + ">")
	case s.space != space:
		ns := space
		if space == "" {
			ns = `""`
		}
		return f.syntax("element <" + s.local + "> in space " + s.space +
			" closed by </" + local + "> in space " + ns)
	}
	f.space = f.translate(space, local, true)
	for len(f.stk) > 0 && !f.stk[len(f.stk)-1].start {
		e := f.stk[len(f.stk)-1]
		f.stk = f.stk[:len(f.stk)-1]
		if e.ok {
			f.ns[e.local] = e.space
		} else {
			delete(f.ns, e.local)
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
		f.space, f.local = f.closeSp, f.closeLoc
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
		space, local, ok := f.nsname()
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
			return 0, f.syntax("invalid characters between </" + local + " and >")
		}
		f.space, f.local = space, local
		return rawEnd, nil

	case '?':
		target, ok := f.name()
		if !ok {
			if f.err == nil {
				f.syntax("expected target name after <?")
			}
			return 0, f.err
		}
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
	space, local, ok := f.nsname()
	if !ok {
		if f.err == nil {
			f.syntax("expected element name after <")
		}
		return 0, f.err
	}
	attrs := f.abuf[:0]
	empty := false
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
		var a Attr
		if a.Space, a.Local, ok = f.nsname(); !ok {
			if f.err == nil {
				f.syntax("expected attribute name in element")
			}
			return 0, f.err
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
		a.Value = string(data)
		attrs = append(attrs, a)
	}
	f.abuf = attrs[:0]
	f.attrs = nil
	if len(attrs) > 0 {
		f.attrs = make([]Attr, len(attrs))
		copy(f.attrs, attrs)
	}
	if empty {
		f.needClose = true
		f.closeSp, f.closeLoc = space, local
	}
	f.space, f.local = space, local
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
		for i < len(buf) {
			c := stop[buf[i]]
			if c == 0 {
				i++
				continue
			}
			if c == 2 {
				check = true
				i++
				continue
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

func (f *fastTok) name() (string, bool) {
	s := f.pos
	if !f.readName() {
		return "", false
	}
	b := f.buf[s:f.pos]
	if !isName(b) {
		f.syntax("invalid XML name: " + string(b))
		return "", false
	}
	return f.intern(b), true
}

func (f *fastTok) nsname() (space, local string, ok bool) {
	s, ok := f.name()
	if !ok {
		return "", "", false
	}
	if strings.Count(s, ":") > 1 {
		return "", "", false
	} else if sp, lo, ok := strings.Cut(s, ":"); !ok || sp == "" || lo == "" {
		return "", s, true
	} else {
		return sp, lo, true
	}
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
