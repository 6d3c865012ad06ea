package xmltok

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mig/internal/testenv"
)

// readNodeRef is ReadNode as it was first written (a builder per open
// element, children appended): the reference the slab-backed ReadNode is
// held to.
func readNodeRef(d *Decoder, start Token) (*Node, error) {
	root := &Node{Space: start.Space, Local: start.Local, Attrs: start.Attrs, Line: d.Line()}
	stack := []*Node{root}
	text := []*strings.Builder{{}}
	for len(stack) > 0 {
		tok, err := d.Next()
		if err != nil {
			if err == io.EOF {
				return nil, d.errorf(false, "unexpected end of document")
			}
			return nil, err
		}
		top := stack[len(stack)-1]
		switch tok.Kind {
		case Start:
			n := &Node{Space: tok.Space, Local: tok.Local, Attrs: tok.Attrs, Line: d.Line()}
			top.Children = append(top.Children, n)
			stack = append(stack, n)
			text = append(text, &strings.Builder{})
		case End:
			top.Text = strings.TrimSpace(text[len(text)-1].String())
			stack = stack[:len(stack)-1]
			text = text[:len(text)-1]
		case Text:
			text[len(text)-1].Write(tok.Text)
		}
	}
	return root, nil
}

// readAt reads doc, taking every element that opens at depth whole, with
// ReadNode or the reference, and returns what a caller sees: each tree
// (printed, so that nil and empty slices compare alike), each token
// between, and the final error.
func readAt(doc []byte, depth int, ref bool) []string {
	d := NewDecoder(bytes.NewReader(doc), Limits{})
	var out []string
	for {
		tok, err := d.Next()
		if err != nil {
			return append(out, fmt.Sprint(err))
		}
		if tok.Kind == Start && d.Depth() == depth {
			var n *Node
			if ref {
				n, err = readNodeRef(d, tok)
			} else {
				n, err = d.ReadNode(tok)
			}
			if err != nil {
				return append(out, fmt.Sprint(err))
			}
			out = append(out, printNode(n))
			continue
		}
		out = append(out, fmt.Sprintf("%d %q %q %q %q", tok.Kind, tok.Space, tok.Local, tok.Attrs, tok.Text))
	}
}

func printNode(n *Node) string {
	var b strings.Builder
	var walk func(n *Node)
	walk = func(n *Node) {
		fmt.Fprintf(&b, "<%q %q %q line=%d text=%q>", n.Space, n.Local, n.Attrs, n.Line, n.Text)
		for _, c := range n.Children {
			walk(c)
		}
		b.WriteString("</>")
	}
	walk(n)
	return b.String()
}

// TestReadNodeSame: ReadNode builds the trees the reference builds, at
// every depth from 1 to 6, on every synthetic and reference extract.
func TestReadNodeSame(t *testing.T) {
	files, _ := filepath.Glob(testenv.Testdata(t, "*", "*.xml"))
	if ref, err := filepath.Glob(filepath.Join(testenv.ModuleRoot(t), "..", "shared", "reference", "*", "*", "*", "*.xml")); err == nil {
		files = append(files, ref...)
	}
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for depth := 1; depth <= 6; depth++ {
			if got, want := readAt(doc, depth, false), readAt(doc, depth, true); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s, depth %d: ReadNode differs from the reference", f, depth)
			}
		}
	}
}

// FuzzReadNode: the same on any input, errors included.
func FuzzReadNode(f *testing.F) {
	for _, s := range diffSeeds(f) {
		f.Add(s, uint8(2))
	}
	f.Add([]byte("<r><a> x <b>y</b> z <c/>\u00a0w\u00a0</a><a/></r>"), uint8(2))
	f.Fuzz(func(t *testing.T, doc []byte, depth uint8) {
		dp := int(depth%8) + 1
		if got, want := readAt(doc, dp, false), readAt(doc, dp, true); !reflect.DeepEqual(got, want) {
			t.Fatalf("depth %d: ReadNode differs from the reference on %q:\n%q\n%q", dp, doc, got, want)
		}
	})
}
