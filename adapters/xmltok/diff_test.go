package xmltok

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mig/internal/testenv"
)

// trace is everything a caller can observe of one decoding: each token with
// the line and path after it, then the final error.
type trace struct {
	toks []string
	err  string
}

func decodeTrace(data []byte, lim Limits, fast bool) trace {
	d := newDecoder(bytes.NewReader(data), lim, fast)
	var tr trace
	for i := 0; ; i++ {
		tok, err := d.Next()
		if err == io.EOF {
			tr.err = "EOF"
			return tr
		}
		if err != nil {
			var xe *Error
			if !errors.As(err, &xe) {
				tr.err = fmt.Sprintf("non-*Error %T %v", err, err)
				return tr
			}
			tr.err = fmt.Sprintf("line=%d path=%q reason=%q tooLarge=%v", xe.Line, xe.Path, xe.Reason, xe.TooLarge)
			return tr
		}
		tr.toks = append(tr.toks, fmt.Sprintf("%d %q %q %q %q line=%d path=%q", tok.Kind, tok.Space, tok.Local, tok.Attrs, tok.Text, d.Line(), d.Path()))
	}
}

// diffSeeds are the inputs of this package's tests and the synthetic
// extracts in testdata (read at test time).
func diffSeeds(tb testing.TB) [][]byte {
	var out [][]byte
	for _, s := range []string{
		`<a><b x="1">FREETEXT</b><c/></a>`, "\xEF\xBB\xBF<a/>", ``, `<a><b>t`, `<a><b>t</c></a>`,
		`<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>`, `<a>&nope;</a>`,
		`<?xml version="1.0" encoding="ISO-8859-1"?><a/>`, `<?xml version="1.0" encoding="utf8"?><a/>`,
		"<a>\xff\xfe</a>", strings.Repeat("<a>", 10) + strings.Repeat("</a>", 10),
		"<root>\n<child>\n<leaf></child></root>", `<a:b xmlns:a="u"/>`,
		`<r xmlns="urn:x" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><item id="1" xsi:type="CD"><code code="C10F." /><v>  58 </v></item></r>`,
		"<a x='&lt;&#x41;&#66;&amp;&quot;&apos;&gt;'>&#x10FFFF;<![CDATA[<not>]]]]><![CDATA[]]>\r\n\rx</a>",
		"<a><!-- c --><?pi data?>t]]>t</a>", `<a b="1" b="2"/>`, `<a/><b/>text`, "<a>\x01</a>", `<a>&#0;</a>`,
		`<x:a xmlns:x="u"></y:a>`, `<xml:a xml:lang="en"/>`, `<a xmlns:p="1"><p:b xmlns:p="2"/><p:c/></a>`,
		// More declarations in scope than the linear search takes, so
		// lookups go through the map: redeclared, undone, the default
		// namespace changed and restored, a prefix bound twice on one tag.
		`<r xmlns="d0" xmlns:a="1" xmlns:b="2" xmlns:c="3" xmlns:d="4" xmlns:e="5" xmlns:f="6" xmlns:g="7" xmlns:h="8">` +
			`<a:x a:y="1" xmlns:a="9" xmlns="d1"><x xmlns:i="10" i:z="2"/><h:w/></a:x><a:x/><x/>` +
			`<q xmlns:j="11" xmlns:j="12"><j:k/></q><i:x/></r>`,
		"<a>long text with no markup at all, then an \u00e9 and \u00e8 and a tab\there; and \"quotes\" 'both'</a>",
		`<a v="an attribute value longer than forty-eight bytes, so it is never interned" w='é' x="]]>"/>`,
	} {
		out = append(out, []byte(s))
	}
	// Small extracts only: the fuzzer minimises every new input, and a
	// megabyte one stalls it for minutes. TestDifferentialTestdata compares
	// every extract whole.
	for _, f := range []string{"A99901/9990001057.xml", "A99902/9990002037.xml", "A99903/9990003068.xml"} {
		b, err := os.ReadFile(testenv.Testdata(tb, f))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzDifferential feeds the same bytes to the fast path and to
// encoding/xml and fails on any difference a caller could see: tokens
// (names, namespaces, attributes in order, text), line and path after each
// token, accept/reject, and the error (reason, line, path, TooLarge).
// Documents over MaxBytes are not compared: the fast path refuses them before
// any token, encoding/xml streams tokens until its reader passes the limit
// (both TooLarge; TestOversizeBothRefuse).
func FuzzDifferential(f *testing.F) {
	for _, s := range diffSeeds(f) {
		f.Add(s, uint8(0), uint16(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, depth uint8, elems uint16) {
		lim := Limits{MaxDepth: int(depth), MaxElements: int(elems)}
		fast, std := decodeTrace(data, lim, true), decodeTrace(data, lim, false)
		if !reflect.DeepEqual(fast, std) {
			n := min(len(fast.toks), len(std.toks))
			i := 0
			for i < n && fast.toks[i] == std.toks[i] {
				i++
			}
			t.Fatalf("paths differ after %d equal tokens on %q:\nfast: %q ... %s\nstd:  %q ... %s",
				i, data, fast.toks[i:min(i+3, len(fast.toks))], fast.err, std.toks[i:min(i+3, len(std.toks))], std.err)
		}
	})
}

// TestDifferentialTestdata compares the two paths on every synthetic
// extract, and on the shared reference samples when present.
func TestDifferentialTestdata(t *testing.T) {
	files, _ := filepath.Glob(testenv.Testdata(t, "*", "*.xml"))
	if ref, err := filepath.Glob(filepath.Join(testenv.ModuleRoot(t), "..", "shared", "reference", "*", "*", "*", "*.xml")); err == nil {
		files = append(files, ref...)
	}
	if len(files) < 20 {
		t.Fatalf("only %d extracts found", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fast, std := decodeTrace(data, Limits{}, true), decodeTrace(data, Limits{}, false)
		if !reflect.DeepEqual(fast, std) {
			t.Errorf("%s: paths differ (fast %d tokens, %s; encoding/xml %d tokens, %s)", f, len(fast.toks), fast.err, len(std.toks), std.err)
		}
	}
	t.Logf("%d documents compared", len(files))
}

func TestOversizeBothRefuse(t *testing.T) {
	doc := []byte(`<a>` + strings.Repeat("<b>x</b>", 100) + `</a>`)
	for _, fast := range []bool{true, false} {
		tr := decodeTrace(doc, Limits{MaxBytes: 100}, fast)
		if !strings.Contains(tr.err, "tooLarge=true") || !strings.Contains(tr.err, "larger than 100 bytes") {
			t.Errorf("fast=%v: %s", fast, tr.err)
		}
	}
}

// TestBothPaths runs this package's tests on each path, whichever is the
// default: encoding/xml stays available for comparison (and for limits
// above fastMaxBytes).
func TestBothPaths(t *testing.T) {
	defer func(v bool) { useFast = v }(useFast)
	for _, fast := range []bool{true, false} {
		useFast = fast
		name := map[bool]string{true: "fast", false: "encoding-xml"}[fast]
		t.Run(name+"/errors", TestDecoderErrors)
		t.Run(name+"/path", TestErrorNamesPath)
		t.Run(name+"/readnode", TestReadNodeAndSkip)
		t.Run(name+"/deeptext", TestReadNodeDeepText)
	}
}

func TestIsNameASCII(t *testing.T) {
	for c := 0; c < 128; c++ {
		for _, s := range [][]byte{{byte(c)}, {'a', byte(c)}} {
			want := xmlIsName(s)
			if got := isName(s); got != want {
				t.Errorf("isName(%q) = %v, encoding/xml says %v", s, got, want)
			}
		}
	}
}
