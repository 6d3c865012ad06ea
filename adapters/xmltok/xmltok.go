// Package xmltok is the one seam through which adapters read XML: a small
// streaming tokenizer with limits on size, depth and element count, and a
// bounded subtree reader. Adapters see Token and Node, never encoding/xml,
// so a faster tokenizer can replace this file without touching them.
//
// Safety: DOCTYPE declarations are rejected (so no entity can be declared,
// expanded or fetched), only UTF-8 (and its ASCII subset) is accepted, and
// error messages name a line and an element path, never document content.
//
// Two implementations sit behind the one API: encoding/xml (streaming) and
// a byte-slice tokenizer (fast.go) that ports encoding/xml's strict grammar
// and is held to it token for token, line for line, by FuzzDifferential.
// useFast chooses between them.
package xmltok

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Kind is a token's kind.
type Kind uint8

const (
	Start Kind = iota + 1 // start of an element
	End                   // end of an element
	Text                  // character data
)

// Attr is an attribute. Space is the namespace URI for prefixed attributes.
type Attr struct {
	Space, Local, Value string
}

// Token is one XML token. Text is valid only until the next call to Next.
type Token struct {
	Kind         Kind
	Space, Local string // element namespace URI and local name (Start, End)
	Attrs        []Attr // Start only
	Text         []byte // Text only
}

// Attr returns the value of the attribute with the local name, or "".
func (t Token) Attr(local string) string {
	for _, a := range t.Attrs {
		if a.Local == local {
			return a.Value
		}
	}
	return ""
}

// Limits bound what a document may cost to read.
type Limits struct {
	MaxBytes    int64 // document size
	MaxDepth    int   // element nesting
	MaxElements int   // elements in the document
}

// DefaultLimits are generous for real GP extracts (the largest reference
// sample is 1.2 MB, depth 20) and small enough to refuse abuse.
var DefaultLimits = Limits{MaxBytes: 64 << 20, MaxDepth: 256, MaxElements: 2_000_000}

func (l Limits) orDefault() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultLimits.MaxElements
	}
	return l
}

// Error is a malformed or over-limit document. Its message holds a line, an
// element path and a content-free reason.
type Error struct {
	Line     int
	Path     string
	Reason   string
	TooLarge bool // a limit was exceeded (rather than malformed XML)
}

func (e *Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d, in %s: %s", e.Line, e.Path, e.Reason)
}

// Decoder reads tokens from a document.
type Decoder struct {
	d        *xml.Decoder // the encoding/xml path (nil on the fast path)
	f        *fastTok     // the fast path (fast.go)
	ferr     *Error       // the fast path's refusal before any token (size, read error)
	lr       *limitReader
	lim      Limits
	stack    []string
	elements int
	nodes    nodeReader // ReadNode's working memory
}

// NewDecoder returns a Decoder reading r under lim (zero fields take
// DefaultLimits).
func NewDecoder(r io.Reader, lim Limits) *Decoder {
	return newDecoder(r, lim, useFast)
}

// newDecoder chooses the path: fast (fast.go) when asked and the limits
// let the document be held whole, encoding/xml otherwise.
func newDecoder(r io.Reader, lim Limits, fast bool) *Decoder {
	lim = lim.orDefault()
	if fast && lim.MaxBytes <= fastMaxBytes {
		return newFastDecoder(r, lim)
	}
	lr := &limitReader{r: r, n: lim.MaxBytes}
	br := bufio.NewReaderSize(lr, 64<<10)
	// Skip a UTF-8 byte order mark.
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3)
	}
	d := xml.NewDecoder(br)
	d.Strict = true
	d.CharsetReader = func(label string, input io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf-8", "utf8", "us-ascii", "ascii":
			return input, nil
		}
		return nil, errors.New("unsupported encoding")
	}
	return &Decoder{d: d, lr: lr, lim: lim}
}

// Line returns the current line of the input.
func (d *Decoder) Line() int {
	if d.d == nil {
		if d.f == nil {
			return 1
		}
		return d.f.lineNo()
	}
	line, _ := d.d.InputPos()
	return line
}

// Path returns the element path of the current position, e.g.
// "/RCMR_IN030000UK06/ControlActEvent/subject".
func (d *Decoder) Path() string {
	if len(d.stack) == 0 {
		return ""
	}
	return "/" + strings.Join(d.stack, "/")
}

// Depth returns the number of open elements.
func (d *Decoder) Depth() int { return len(d.stack) }

func (d *Decoder) errorf(tooLarge bool, format string, args ...any) *Error {
	return &Error{Line: d.Line(), Path: d.Path(), Reason: fmt.Sprintf(format, args...), TooLarge: tooLarge}
}

// Next returns the next token, or io.EOF after the root element closes.
// Comments and processing instructions are skipped; a DOCTYPE is an error.
func (d *Decoder) Next() (Token, error) {
	if d.d != nil {
		return d.nextStd()
	}
	// The fast path: the same rules over fastTok's tokens, here rather
	// than in a function of its own, which would copy every Token once more.
	if d.ferr != nil {
		return Token{}, d.ferr
	}
	f := d.f
	for {
		k, err := f.rawToken() // fastTok.next, inline
		if err == nil {
			switch k {
			case rawStart:
				f.pushElement()
			case rawEnd:
				err = f.popElement()
			}
		} else if err == io.EOF && len(f.stk) > 0 {
			err = f.eof()
		}
		if err != nil {
			if err == io.EOF {
				if len(d.stack) > 0 {
					return Token{}, d.errorf(false, "unexpected end of document")
				}
				if d.elements == 0 {
					return Token{}, &Error{Line: d.Line(), Reason: "empty document"}
				}
				return Token{}, io.EOF
			}
			return Token{}, d.errorf(false, "%s", reason(err))
		}
		switch k {
		case rawStart:
			d.elements++
			if d.elements > d.lim.MaxElements {
				return Token{}, d.errorf(true, "more than %d elements", d.lim.MaxElements)
			}
			if len(d.stack) >= d.lim.MaxDepth {
				return Token{}, d.errorf(true, "nesting deeper than %d", d.lim.MaxDepth)
			}
			d.stack = append(d.stack, f.safe)
			return Token{Kind: Start, Space: f.space, Local: f.local, Attrs: f.attrs}, nil
		case rawEnd:
			if len(d.stack) > 0 {
				d.stack = d.stack[:len(d.stack)-1]
			}
			return Token{Kind: End, Space: f.space, Local: f.local}, nil
		case rawText:
			if len(d.stack) == 0 {
				continue
			}
			return Token{Kind: Text, Text: f.text}, nil
		case rawDirective:
			return Token{}, d.errorf(false, "DOCTYPE and other declarations are not accepted")
		}
	}
}

// nextStd is Next on the encoding/xml path.
func (d *Decoder) nextStd() (Token, error) {
	for {
		tok, err := d.d.Token()
		if err != nil {
			if d.lr.over {
				return Token{}, d.errorf(true, "document larger than %d bytes", d.lim.MaxBytes)
			}
			if err == io.EOF {
				if len(d.stack) > 0 {
					return Token{}, d.errorf(false, "unexpected end of document")
				}
				if d.elements == 0 {
					return Token{}, &Error{Line: d.Line(), Reason: "empty document"}
				}
				return Token{}, io.EOF
			}
			return Token{}, d.errorf(false, "%s", reason(err))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			d.elements++
			if d.elements > d.lim.MaxElements {
				return Token{}, d.errorf(true, "more than %d elements", d.lim.MaxElements)
			}
			if len(d.stack) >= d.lim.MaxDepth {
				return Token{}, d.errorf(true, "nesting deeper than %d", d.lim.MaxDepth)
			}
			d.stack = append(d.stack, safeName(t.Name.Local))
			out := Token{Kind: Start, Space: t.Name.Space, Local: t.Name.Local}
			if len(t.Attr) > 0 {
				out.Attrs = make([]Attr, len(t.Attr))
				for i, a := range t.Attr {
					out.Attrs[i] = Attr{Space: a.Name.Space, Local: a.Name.Local, Value: a.Value}
				}
			}
			return out, nil
		case xml.EndElement:
			out := Token{Kind: End, Space: t.Name.Space, Local: t.Name.Local}
			if len(d.stack) > 0 {
				d.stack = d.stack[:len(d.stack)-1]
			}
			return out, nil
		case xml.CharData:
			if len(d.stack) == 0 {
				continue // whitespace around the root element
			}
			return Token{Kind: Text, Text: t}, nil
		case xml.Directive:
			return Token{}, d.errorf(false, "DOCTYPE and other declarations are not accepted")
		default: // comments, processing instructions
			continue
		}
	}
}

// Skip reads to the end of the element whose Start token was returned last
// (or the innermost open element).
func (d *Decoder) Skip() error {
	depth := len(d.stack)
	for len(d.stack) >= depth {
		if _, err := d.Next(); err != nil {
			if err == io.EOF {
				return d.errorf(false, "unexpected end of document")
			}
			return err
		}
	}
	return nil
}

// Node is an element read whole by ReadNode: for the small subtrees an
// adapter needs at once (one statement, one consultation), never a whole
// document.
type Node struct {
	Space, Local string
	Attrs        []Attr
	Children     []*Node
	Text         string // the element's own character data, trimmed
	Line         int
}

// ReadNode reads the element whose Start token start was just returned by
// Next, to its end, as a Node tree.
func (d *Decoder) ReadNode(start Token) (*Node, error) {
	s := &d.nodes
	s.open, s.textAt, s.kidsAt = s.open[:0], s.textAt[:0], s.kidsAt[:0]
	s.text, s.kids = s.text[:0], s.kids[:0]
	s.push(s.node(start, d.Line()))
	root := s.open[0]
	for len(s.open) > 0 {
		tok, err := d.Next()
		if err != nil {
			if err == io.EOF {
				return nil, d.errorf(false, "unexpected end of document")
			}
			return nil, err
		}
		switch tok.Kind {
		case Start:
			n := s.node(tok, d.Line())
			s.kids = append(s.kids, n)
			s.push(n)
		case End:
			s.pop()
		case Text:
			s.text = append(s.text, tok.Text...)
		}
	}
	return root, nil
}

// nodeReader is ReadNode's working memory, kept by the Decoder between
// calls. An open element's own text and children are the tail of text
// and kids from where it opened: a child's are removed when it closes,
// so its parent's stay contiguous. Nodes and Children slices are carved
// from slabs that only move forward, so nothing returned is reused.
type nodeReader struct {
	open           []*Node
	textAt, kidsAt []int
	text           []byte
	kids           []*Node
	slab           []Node
	kidSlab        []*Node
}

func (s *nodeReader) node(tok Token, line int) *Node {
	if len(s.slab) == 0 {
		s.slab = make([]Node, 64)
	}
	n := &s.slab[0]
	s.slab = s.slab[1:]
	n.Space, n.Local, n.Attrs, n.Line = tok.Space, tok.Local, tok.Attrs, line
	return n
}

func (s *nodeReader) push(n *Node) {
	s.open = append(s.open, n)
	s.textAt = append(s.textAt, len(s.text))
	s.kidsAt = append(s.kidsAt, len(s.kids))
}

// pop closes the innermost open element: its text, trimmed, and its
// children.
func (s *nodeReader) pop() {
	i := len(s.open) - 1
	n := s.open[i]
	if t := bytes.TrimSpace(s.text[s.textAt[i]:]); len(t) > 0 {
		n.Text = string(t)
	}
	if k := s.kids[s.kidsAt[i]:]; len(k) > 0 {
		if cap(s.kidSlab)-len(s.kidSlab) < len(k) {
			s.kidSlab = make([]*Node, 0, max(256, len(k)))
		}
		at := len(s.kidSlab)
		s.kidSlab = append(s.kidSlab, k...)
		n.Children = s.kidSlab[at:len(s.kidSlab):len(s.kidSlab)]
	}
	s.text, s.kids = s.text[:s.textAt[i]], s.kids[:s.kidsAt[i]]
	s.open, s.textAt, s.kidsAt = s.open[:i], s.textAt[:i], s.kidsAt[:i]
}

// Attr returns the value of the attribute with the local name, or "".
func (n *Node) Attr(local string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attrs {
		if a.Local == local {
			return a.Value
		}
	}
	return ""
}

// Child returns the first child element with the local name, or nil.
func (n *Node) Child(local string) *Node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.Local == local {
			return c
		}
	}
	return nil
}

// All returns the child elements with the local name.
func (n *Node) All(local string) []*Node {
	if n == nil {
		return nil
	}
	var out []*Node
	for _, c := range n.Children {
		if c.Local == local {
			out = append(out, c)
		}
	}
	return out
}

// Find follows a path of local names from n (first match at each step).
func (n *Node) Find(path ...string) *Node {
	for _, p := range path {
		n = n.Child(p)
		if n == nil {
			return nil
		}
	}
	return n
}

// FindAll returns every element reached by the path of local names.
func (n *Node) FindAll(path ...string) []*Node {
	if n == nil {
		return nil
	}
	cur := []*Node{n}
	for _, p := range path {
		var next []*Node
		for _, c := range cur {
			next = append(next, c.All(p)...)
		}
		cur = next
	}
	return cur
}

// Walk calls fn for n and every element below it, depth first, stopping
// below an element for which fn returns false.
func (n *Node) Walk(fn func(*Node) bool) {
	if n == nil || !fn(n) {
		return
	}
	for _, c := range n.Children {
		c.Walk(fn)
	}
}

// reason turns an encoding/xml error into a content-free reason.
func reason(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unsupported encoding"):
		return "unsupported character encoding (UTF-8 only)"
	case strings.Contains(msg, "unexpected EOF"):
		return "unexpected end of document"
	case strings.Contains(msg, "closed by") || strings.Contains(msg, "unexpected end element"):
		return "mismatched end tag"
	case strings.Contains(msg, "invalid UTF-8"):
		return "invalid UTF-8"
	case strings.Contains(msg, "entity"):
		return "undefined or invalid entity reference"
	case strings.Contains(msg, "illegal character"):
		return "illegal character"
	case strings.Contains(msg, "attribute"):
		return "malformed attribute"
	}
	return "not well-formed XML"
}

// safeName keeps an element name printable in errors: name characters only,
// at most 64 of them.
func safeName(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	ok := true
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			ok = false
			break
		}
	}
	if !ok {
		return "?"
	}
	return s
}

// limitReader fails once more than n bytes have been read.
type limitReader struct {
	r    io.Reader
	n    int64
	over bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		l.over = true
		return 0, errors.New("document too large")
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		l.over = true
		return n, errors.New("document too large")
	}
	return n, err
}

func newFastDecoder(r io.Reader, lim Limits) *Decoder {
	d := &Decoder{lim: lim}
	var buf []byte
	var err error
	if l, ok := r.(interface{ Len() int }); ok && int64(l.Len()) <= lim.MaxBytes {
		// bytes.Reader, strings.Reader, bytes.Buffer: one allocation.
		b := bytes.NewBuffer(make([]byte, 0, l.Len()+bytes.MinRead))
		_, err = b.ReadFrom(io.LimitReader(r, lim.MaxBytes+1))
		buf = b.Bytes()
	} else {
		buf, err = io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	}
	switch {
	case int64(len(buf)) > lim.MaxBytes:
		d.ferr = &Error{Line: 1, Reason: fmt.Sprintf("document larger than %d bytes", lim.MaxBytes), TooLarge: true}
	case err != nil:
		d.ferr = &Error{Line: 1, Reason: reason(err)}
	}
	buf = bytes.TrimPrefix(buf, []byte{0xEF, 0xBB, 0xBF})
	d.f = newFastTok(buf)
	return d
}
