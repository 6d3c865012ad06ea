package app

// Tools for TestHostileExtracts (hostile_test.go): walk an extract's XML
// generically, plant a distinct attack-shaped sentence in any attribute or
// text node, write the document back well-formed, and find any planted
// sentence (or a 12-character piece of one) in whatever the gateway emits.
//
// encoding/xml is used here on purpose: the rule "adapters read XML only
// through xmltok" is about adapter code, and this is a test's own editor.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// xtok is one raw token of an extract.
type xtok struct {
	tok xml.Token
}

// slot is one place a GP system could put text: an attribute (present, or
// added where a coded element could carry a term) or a text node.
type slot struct {
	Tok    int    // index of the token (StartElement or CharData)
	Attr   string // attribute name (prefix:local), "" for a text node
	Added  bool   // attribute absent from the original: written only when planted
	Path   string // element path, e.g. /RCMR_IN030000UK06/.../code
	Orig   string // original value
	Dosage bool   // a prescription's dosage or quantity text slot (the named exception)
}

// key names the slot's shape without positions: element path and attribute.
func (s slot) key() string {
	if s.Attr == "" {
		return s.Path + "#text"
	}
	return s.Path + "@" + s.Attr
}

// xdoc is a tokenised extract.
type xdoc struct {
	toks  []xtok
	slots []slot
}

func attrName(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

// termAttrFor: the term attribute a coded element of a format can carry;
// where an element has the code attribute and not the term, a slot is
// added for it, so a term our synthetic extracts leave out is tried too.
var termAttrFor = map[string][2]string{
	"gp2gp": {"code", "displayName"},
	"tpp":   {"Code", "Term"},
}

// parseXDoc tokenises doc (RawToken: prefixes kept as written) and lists
// its slots. dosage says which slots are the format's dosage or quantity
// text.
func parseXDoc(format string, doc []byte, dosage func(path, attr string) bool) (*xdoc, error) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	x := &xdoc{}
	var stack []string
	for {
		t, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		t = xml.CopyToken(t)
		i := len(x.toks)
		x.toks = append(x.toks, xtok{tok: t})
		switch v := t.(type) {
		case xml.StartElement:
			stack = append(stack, v.Name.Local)
			path := "/" + strings.Join(stack, "/")
			has := map[string]bool{}
			for _, a := range v.Attr {
				n := attrName(a.Name)
				has[n] = true
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue // namespace declarations are structure, not a string a mapper reads
				}
				x.slots = append(x.slots, slot{Tok: i, Attr: n, Path: path, Orig: a.Value, Dosage: dosage(path, n)})
			}
			if ta, ok := termAttrFor[format]; ok && has[ta[0]] && !has[ta[1]] {
				x.slots = append(x.slots, slot{Tok: i, Attr: ta[1], Added: true, Path: path, Dosage: dosage(path, ta[1])})
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if strings.TrimSpace(string(v)) == "" || len(stack) == 0 {
				continue
			}
			path := "/" + strings.Join(stack, "/")
			x.slots = append(x.slots, slot{Tok: i, Path: path, Orig: string(v), Dosage: dosage(path, "")})
		}
	}
	return x, nil
}

func escAttr(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\n':
			b.WriteString("&#xA;")
		case '\r':
			b.WriteString("&#xD;")
		case '\t':
			b.WriteString("&#x9;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func escText(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#xD;")
	return r.Replace(s)
}

// render writes the document back with the planted values (slot index ->
// text). replace, when not nil, is applied to every value written (a new
// NHS number for a copy registered as another patient).
func (x *xdoc) render(plant map[int]string, replace *strings.Replacer) []byte {
	type attrPlant struct {
		name, val string
		added     bool
	}
	attrs := map[int][]attrPlant{}
	texts := map[int]string{}
	for si, v := range plant {
		s := x.slots[si]
		if s.Attr == "" {
			texts[s.Tok] = v
		} else {
			attrs[s.Tok] = append(attrs[s.Tok], attrPlant{s.Attr, v, s.Added})
		}
	}
	rep := func(s string) string {
		if replace != nil {
			return replace.Replace(s)
		}
		return s
	}
	var b bytes.Buffer
	for i := 0; i < len(x.toks); i++ {
		switch v := x.toks[i].tok.(type) {
		case xml.ProcInst:
			fmt.Fprintf(&b, "<?%s %s?>", v.Target, v.Inst)
		case xml.Comment:
			fmt.Fprintf(&b, "<!--%s-->", v)
		case xml.Directive:
			fmt.Fprintf(&b, "<!%s>", v)
		case xml.StartElement:
			b.WriteString("<" + attrName(v.Name))
			for _, a := range v.Attr {
				n := attrName(a.Name)
				val := rep(a.Value)
				for _, p := range attrs[i] {
					if p.name == n && !p.added {
						val = p.val
					}
				}
				fmt.Fprintf(&b, ` %s="%s"`, n, escAttr(val))
			}
			for _, p := range attrs[i] {
				if p.added {
					fmt.Fprintf(&b, ` %s="%s"`, p.name, escAttr(p.val))
				}
			}
			if i+1 < len(x.toks) {
				if _, ok := x.toks[i+1].tok.(xml.EndElement); ok {
					b.WriteString("/>")
					i++
					continue
				}
			}
			b.WriteString(">")
		case xml.EndElement:
			b.WriteString("</" + attrName(v.Name) + ">")
		case xml.CharData:
			if p, ok := texts[i]; ok {
				b.WriteString(escText(p))
			} else {
				b.WriteString(escText(rep(string(v))))
			}
		}
	}
	return b.Bytes()
}

// Attack shapes. Each planted sentence is one of these with a marker
// unique to its format and slot; every one fails fhir.TermLooksCoded (a
// digit run, an address, markup or sentence punctuation), so in filter
// mode too nothing of it may show. Dosage slots get shapes of their own,
// sharing no 12-character piece with the others, because dosage text may
// show (in dosage text and the quantity-text extension only).
var (
	attackShapes = []string{
		"Disclosed abuse. Call 07700 900123 %s",
		"Contact at safe.house.%[1]s@refuge-mail.example now %[1]s",
		"See https://leaks.example/notes?id=%[1]s for the full story %[1]s",
		"Patient NHS 943 476 5919 lives with violent partner %s",
		"<script>alert('%[1]s')</script><img src=x onerror=steal()> %[1]s",
		"x'; DROP TABLE patients; -- \"%[1]s\" OR '1'='1 %[1]s",
	}
	dosageShapes = []string{
		"Dose: phone Jo on 01632 960001 today! %s",
		"Tablets; email pharmacist@dispensary.test %s",
		"Take <b onmouseover=pwn()>two</b> daily ref %s",
	}
)

// sentenceFor returns the planted sentence for slot n of a format.
func sentenceFor(tag string, n int, dosage bool) (sentence, marker string) {
	if dosage {
		marker = fmt.Sprintf("HOSTDOSE-%s-%d", tag, n)
		return fmt.Sprintf(dosageShapes[n%len(dosageShapes)], marker), marker
	}
	marker = fmt.Sprintf("HOSTILE-%s-%d", tag, n)
	return fmt.Sprintf(attackShapes[n%len(attackShapes)], marker), marker
}

// plantedText is where a planted sentence went: format, extract and slot.
type plantedText struct {
	Sentence string
	Where    string
	Dosage   bool
}

const leakWindow = 12

// markerRE finds markers in normalised text.
var markerRE = regexp.MustCompile(`host(ile|dose)-[a-z]-[0-9]+`)

// leakFinder finds planted sentences, or any 12-character piece of one, in
// text, comparing case-insensitively with runs of white space collapsed.
type leakFinder struct {
	windows map[string]int // normalised 12-character piece -> index in planted
	markers map[string]int // normalised marker -> index in planted
	planted []plantedText
	dosage  map[string]bool // pieces that only dosage sentences hold
	shared  []string        // pieces both a dosage and another sentence hold
	allowed int             // dosage text found where it is allowed
}

func newLeakFinder() *leakFinder {
	return &leakFinder{windows: map[string]int{}, markers: map[string]int{}, dosage: map[string]bool{}}
}

func normalise(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// add records a planted sentence.
func (f *leakFinder) add(p plantedText) {
	i := len(f.planted)
	f.planted = append(f.planted, p)
	n := normalise(p.Sentence)
	for _, m := range markerRE.FindAllString(n, -1) {
		f.markers[m] = i
	}
	for j := 0; j+leakWindow <= len(n); j++ {
		w := n[j : j+leakWindow]
		if old, ok := f.windows[w]; ok && f.planted[old].Dosage != p.Dosage {
			f.dosage[w] = false // shared with a non-dosage sentence: never allowed
			f.shared = append(f.shared, w)
			continue
		}
		if _, ok := f.windows[w]; !ok {
			f.windows[w] = i
			f.dosage[w] = p.Dosage
		}
	}
}

// hit is one planted piece found.
type hit struct {
	Piece   string
	Planted plantedText
}

// find returns the planted pieces in s (at most one per planted sentence)
// and whether every one of them is a dosage sentence's own.
func (f *leakFinder) find(s string) (hits []hit, dosageOnly bool) {
	n := normalise(s)
	dosageOnly = true
	seen := map[int]bool{}
	for _, m := range markerRE.FindAllString(n, -1) {
		p := plantedText{Where: "(unknown marker)", Dosage: strings.HasPrefix(m, "hostdose-")}
		if i, ok := f.markers[m]; ok {
			p = f.planted[i]
		}
		if !p.Dosage {
			dosageOnly = false
		}
		hits = append(hits, hit{Piece: m, Planted: p})
	}
	if len(hits) == 0 && (strings.Contains(n, "hostile-") || strings.Contains(n, "hostdose-")) {
		dosageOnly = false
		hits = append(hits, hit{Piece: "a HOSTILE- or HOSTDOSE- marker prefix", Planted: plantedText{Where: "(cut marker)"}})
	}
	markers := len(hits)
	for j := 0; j+leakWindow <= len(n); j++ {
		w := n[j : j+leakWindow]
		i, ok := f.windows[w]
		if !ok || seen[i] {
			continue
		}
		seen[i] = true
		if !f.dosage[w] {
			dosageOnly = false
		}
		if markers == 0 {
			// Pieces are shared by sentences of one shape: a marker, where
			// there is one, names the slot exactly.
			hits = append(hits, hit{Piece: w, Planted: f.planted[i]})
		}
	}
	return hits, dosageOnly
}

// leak is one planted text found where it must not be.
type leak struct {
	Where string // response, log, AuditEvent, notification, file
	Path  string // JSON path or header name
	Req   string // the request or file it was found in
	Hit   hit
}

func (l leak) String() string {
	return fmt.Sprintf("%s at %s: %q (planted at %s; e.g. %s)", l.Where, l.Path, l.Hit.Piece, l.Hit.Planted.Where, l.Req)
}

// dosagePathAllowed: the JSON paths (relative to a resource) where a
// prescription's dosage and quantity text is shown on purpose.
func dosagePathAllowed(path string) bool {
	switch path {
	case "MedicationRequest.dosageInstruction[].text",
		"MedicationRequest.dispenseRequest.extension[].valueString",
		"MedicationStatement.dosage[].text":
		return true
	}
	return false
}

// scanJSON walks every key and string of a JSON document and reports
// planted text; dosage text is allowed only on dosage paths. A string that
// is base64 (AuditEvent entity.query) is decoded and scanned too.
func (f *leakFinder) scanJSON(where string, body []byte) []leak {
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return f.scanText(where, "(not JSON)", string(body))
	}
	var out []leak
	var walk func(path string, v any)
	check := func(path, s string) {
		hits, dosageOnly := f.find(s)
		if len(hits) == 0 {
			return
		}
		if dosageOnly && dosagePathAllowed(path) {
			f.allowed++
			return
		}
		for _, h := range hits {
			out = append(out, leak{Where: where, Path: path, Hit: h})
		}
	}
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if rt, ok := x["resourceType"].(string); ok {
				path = rt
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				check(path+".(key)", k)
				walk(path+"."+k, x[k])
			}
		case []any:
			for _, c := range x {
				walk(path+"[]", c)
			}
		case string:
			check(path, x)
			if len(x) >= 16 && len(x)%4 == 0 {
				if b, err := base64.StdEncoding.DecodeString(x); err == nil {
					check(path+"(base64)", string(b))
				}
			}
		case json.Number:
			check(path, x.String())
		}
	}
	walk("", v)
	return out
}

// scanText reports any planted text (dosage text included: outside a
// response's dosage paths it is never allowed).
func (f *leakFinder) scanText(where, path, s string) []leak {
	hits, _ := f.find(s)
	out := make([]leak, 0, len(hits))
	for _, h := range hits {
		out = append(out, leak{Where: where, Path: path, Hit: h})
	}
	return out
}
