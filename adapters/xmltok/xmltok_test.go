package xmltok

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func readAll(doc string, lim Limits) (int, error) {
	d := NewDecoder(strings.NewReader(doc), lim)
	n := 0
	for {
		tok, err := d.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if tok.Kind == Start {
			n++
		}
	}
}

func TestDecoderErrors(t *testing.T) {
	secret := "FREETEXT-secret"
	for _, tc := range []struct {
		name     string
		doc      string
		lim      Limits
		wantErr  string
		tooLarge bool
	}{
		{"ok", `<a><b x="1">` + secret + `</b><c/></a>`, Limits{}, "", false},
		{"bom", "\xEF\xBB\xBF<a/>", Limits{}, "", false},
		{"empty", ``, Limits{}, "empty document", false},
		{"truncated", `<a><b>` + secret, Limits{}, "unexpected end of document", false},
		{"mismatched", `<a><b>` + secret + `</c></a>`, Limits{}, "mismatched end tag", false},
		{"doctype", `<!DOCTYPE a [<!ENTITY e "` + secret + `">]><a>&e;</a>`, Limits{}, "DOCTYPE", false},
		{"external entity", `<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>`, Limits{}, "DOCTYPE", false},
		{"undefined entity", `<a>&` + "nope" + `;</a>`, Limits{}, "entity", false},
		{"latin1", `<?xml version="1.0" encoding="ISO-8859-1"?><a/>`, Limits{}, "encoding", false},
		{"bad utf8", "<a>\xff\xfe</a>", Limits{}, "UTF-8", false},
		{"too big", `<a>` + strings.Repeat("x", 200) + `</a>`, Limits{MaxBytes: 100}, "larger than 100 bytes", true},
		{"too deep", strings.Repeat("<a>", 10) + strings.Repeat("</a>", 10), Limits{MaxDepth: 5}, "deeper than 5", true},
		{"too many", `<a>` + strings.Repeat("<b/>", 20) + `</a>`, Limits{MaxElements: 10}, "more than 10 elements", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAll(tc.doc, tc.lim)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var xe *Error
			if !errors.As(err, &xe) {
				t.Fatalf("error %v (%T), want *Error", err, err)
			}
			if !strings.Contains(xe.Error(), tc.wantErr) {
				t.Fatalf("error %q does not say %q", xe.Error(), tc.wantErr)
			}
			if xe.TooLarge != tc.tooLarge {
				t.Fatalf("TooLarge = %v", xe.TooLarge)
			}
			if strings.Contains(xe.Error(), secret) || strings.Contains(xe.Error(), "passwd") {
				t.Fatalf("error leaks content: %q", xe.Error())
			}
		})
	}
}

func TestErrorNamesPath(t *testing.T) {
	_, err := readAll("<root>\n<child>\n<leaf></child></root>", Limits{})
	var xe *Error
	if !errors.As(err, &xe) {
		t.Fatal(err)
	}
	if xe.Line != 3 || !strings.Contains(xe.Path, "/root/child/leaf") {
		t.Fatalf("got line %d path %q", xe.Line, xe.Path)
	}
}

func TestReadNodeAndSkip(t *testing.T) {
	doc := `<r xmlns="urn:x" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	  <skip><deep><deeper/></deep></skip>
	  <item id="1" xsi:type="CD"><code code="C10F." /><value>  58 </value><value>59</value></item>
	  <after/>
	</r>`
	d := NewDecoder(strings.NewReader(doc), Limits{})
	var item *Node
	var after bool
	for {
		tok, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if tok.Kind != Start {
			continue
		}
		switch tok.Local {
		case "skip":
			if err := d.Skip(); err != nil {
				t.Fatal(err)
			}
		case "item":
			if item, err = d.ReadNode(tok); err != nil {
				t.Fatal(err)
			}
		case "after":
			after = true
			if d.Depth() != 2 {
				t.Fatalf("depth %d at <after>", d.Depth())
			}
		case "deep", "deeper", "code", "value":
			t.Fatalf("saw <%s>: Skip or ReadNode did not consume it", tok.Local)
		}
	}
	if !after || item == nil {
		t.Fatal("missed elements")
	}
	if item.Space != "urn:x" || item.Attr("id") != "1" || item.Attr("type") != "CD" {
		t.Fatalf("item attrs %+v", item)
	}
	if item.Find("code").Attr("code") != "C10F." {
		t.Fatal("Find code")
	}
	vals := item.All("value")
	if len(vals) != 2 || vals[0].Text != "58" || vals[1].Text != "59" {
		t.Fatalf("values %+v", vals)
	}
	if n := len(item.FindAll("value")); n != 2 {
		t.Fatalf("FindAll = %d", n)
	}
	count := 0
	item.Walk(func(*Node) bool { count++; return true })
	if count != 4 {
		t.Fatalf("Walk visited %d", count)
	}
	var nilNode *Node
	if nilNode.Child("x") != nil || nilNode.Attr("x") != "" || nilNode.Find("a", "b") != nil {
		t.Fatal("nil node helpers")
	}
}

// TestReadNodeDeepText reads text followed by nesting deeper than the
// initial buffer capacity (a crash the TPP fuzzer found).
func TestReadNodeDeepText(t *testing.T) {
	doc := "<r><i>t" + strings.Repeat("<a>x", 20) + strings.Repeat("</a>", 20) + "</i></r>"
	d := NewDecoder(strings.NewReader(doc), Limits{})
	for {
		tok, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		if tok.Kind == Start && tok.Local == "i" {
			n, err := d.ReadNode(tok)
			if err != nil {
				t.Fatal(err)
			}
			if n.Text != "t" || n.Find("a", "a", "a").Text != "x" {
				t.Fatalf("texts wrong: %q", n.Text)
			}
			return
		}
	}
}

func FuzzDecoder(f *testing.F) {
	for _, s := range []string{`<a><b x="1">t</b></a>`, `<a>`, `<!DOCTYPE a><a/>`, "\xEF\xBB\xBF<a/>", `<a:b xmlns:a="u"/>`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(strings.NewReader(string(data)), Limits{MaxBytes: 1 << 16, MaxDepth: 64, MaxElements: 1000})
		for i := 0; i < 5000; i++ {
			tok, err := d.Next()
			if err != nil {
				var xe *Error
				if err != io.EOF && !errors.As(err, &xe) {
					t.Fatalf("error of type %T: %v", err, err)
				}
				return
			}
			if tok.Kind == Start && i%3 == 0 {
				if _, err := d.ReadNode(tok); err != nil {
					return
				}
			}
		}
	})
}
