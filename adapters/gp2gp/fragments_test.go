package gp2gp

import (
	"bytes"
	"encoding/xml"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"mig/adapters/record"
	"mig/adapters/xmltok"
	"mig/internal/testenv"
)

// The NHS GP2GP adaptor's unit-test fragments (../shared/reference/gp2gp/
// fragments, read in place) are the shapes real GP systems send. Every one
// that is an extract, or a piece of one, is wrapped in the smallest
// extract that holds it and parsed; its coded statements are counted here,
// independently of the adapter (with encoding/xml), and each must be
// accounted for.

// xnode is an element read with encoding/xml, for the independent count.
type xnode struct {
	local    string
	attrs    map[string]string
	children []*xnode
}

func (n *xnode) child(local string) *xnode {
	for _, c := range n.children {
		if c.local == local {
			return c
		}
	}
	return nil
}

func (n *xnode) find(path ...string) *xnode {
	for _, p := range path {
		if n = n.child(p); n == nil {
			return nil
		}
	}
	return n
}

func readTree(t *testing.T, doc []byte) *xnode {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	var stack []*xnode
	var root *xnode
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("encoding/xml: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			n := &xnode{local: tk.Name.Local, attrs: map[string]string{}}
			for _, a := range tk.Attr {
				if a.Name.Space == "" || a.Name.Space == "http://www.w3.org/2001/XMLSchema-instance" {
					n.attrs[a.Name.Local] = a.Value
				}
			}
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.children = append(top.children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	return root
}

// The statement elements of an extract (EHR Extract content model).
var fragStatementNames = map[string]bool{
	"ehrComposition": true, "ObservationStatement": true, "CompoundStatement": true,
	"MedicationStatement": true, "PlanStatement": true, "RequestStatement": true,
	"LinkSet": true, "NarrativeStatement": true, "ehrSupplyAuthorise": true,
	"ehrSupplyPrescribe": true, "ehrSupplyDiscontinue": true, "RegistrationStatement": true,
	"ExternalDocument": true,
}

var oidRe = regexp.MustCompile(`^[0-9]+(\.[0-9]+)+$`)

// codeCarries reports whether a code element (or one of its translations)
// carries a code in a national or local (OID) code system.
func codeCarries(n *xnode) bool {
	if n == nil {
		return false
	}
	ok := func(m *xnode) bool {
		return strings.TrimSpace(m.attrs["code"]) != "" && m.attrs["nullFlavor"] == "" &&
			len(strings.TrimSpace(m.attrs["code"])) <= 64 && oidRe.MatchString(strings.TrimSpace(m.attrs["codeSystem"]))
	}
	if ok(n) {
		return true
	}
	for _, c := range n.children {
		if c.local == "translation" && ok(c) {
			return true
		}
	}
	return false
}

// headingCodes are the allergy headings that make a compound the GP2GP
// allergy structure (by system OID).
var headingCodes = map[string]bool{
	oidReadV2 + "|14L..00": true, oidReadV2 + "|14M..00": true, oidReadV2 + "|SN53.00": true,
	oidReadV2 + "|14L..": true, oidReadV2 + "|14M..": true, oidReadV2 + "|SN53.": true,
	oidCTV3 + "|14L..": true, oidCTV3 + "|14M..": true, oidCTV3 + "|SN53.": true,
	oidSNOMED + "|416098002": true, oidSNOMED + "|419199007": true, oidSNOMED + "|609328004": true,
	oidSNOMED + "|420134006": true, oidSNOMED + "|418038007": true, oidSNOMED + "|419511003": true,
}

func allergyHeaded(code *xnode) bool {
	if code == nil {
		return false
	}
	if headingCodes[code.attrs["codeSystem"]+"|"+strings.TrimSpace(code.attrs["code"])] {
		return true
	}
	for _, c := range code.children {
		if c.local == "translation" && headingCodes[c.attrs["codeSystem"]+"|"+strings.TrimSpace(c.attrs["code"])] {
			return true
		}
	}
	return false
}

// holdsObservation reports whether a compound holds an ObservationStatement
// directly (component/ObservationStatement): the GP2GP allergy structure.
func holdsObservation(n *xnode) bool {
	for _, c := range n.children {
		if c.local == "component" && c.child("ObservationStatement") != nil {
			return true
		}
	}
	return false
}

func xid(n *xnode) string {
	id := n.child("id")
	if id == nil {
		return ""
	}
	root, ext := strings.TrimSpace(id.attrs["root"]), strings.TrimSpace(id.attrs["extension"])
	if root != "" && ext != "" {
		return root + ":" + ext
	}
	return root
}

// codedStatements lists, in document order, the coded clinical statements
// of an extract: what Record.Stats.Read must count.
func codedStatements(root *xnode) []key {
	var out []key
	var walk func(n *xnode, comp string, noid map[*xnode]string, drugCoded bool)
	walk = func(n *xnode, comp string, noid map[*xnode]string, drugCoded bool) {
		if n.local == "ehrComposition" {
			comp = xid(n)
			noid = map[*xnode]string{}
			count := 0
			var number func(m *xnode)
			number = func(m *xnode) {
				if m != n && fragStatementNames[m.local] && xid(m) == "" {
					count++
					noid[m] = "noid:" + comp + ":" + m.local + ":" + strconv.Itoa(count)
				}
				for _, c := range m.children {
					number(c)
				}
			}
			number(n)
		}
		id := xid(n)
		if id == "" && noid != nil {
			id = noid[n]
		}
		coded := false
		switch n.local {
		case "ObservationStatement", "PlanStatement", "RequestStatement", "LinkSet":
			coded = codeCarries(n.child("code"))
		case "CompoundStatement":
			cl := n.attrs["classCode"]
			coded = codeCarries(n.child("code")) && (cl == "BATTERY" || cl == "CLUSTER" || allergyHeaded(n.child("code")) && holdsObservation(n))
		case "ehrSupplyAuthorise", "ehrSupplyPrescribe":
			coded = drugCoded
		case "MedicationStatement":
			drugCoded = codeCarries(n.find("consumable", "manufacturedProduct", "manufacturedMaterial", "code"))
		}
		if coded {
			out = append(out, key{n.local, id})
		}
		for _, c := range n.children {
			walk(c, comp, noid, drugCoded)
		}
	}
	walk(root, "", nil, false)
	return out
}

// parseWhole parses doc as Parse does and returns the parser, for its
// bookkeeping, with the record.
func parseWhole(doc []byte, opt record.ParseOptions) (*parser, *record.Record, error) {
	p := newParser(opt)
	if err := p.run(xmltok.NewDecoder(bytes.NewReader(doc), opt.Limits)); err != nil {
		return nil, nil, err
	}
	r, err := p.finish()
	return p, r, err
}

// accountResult says how each coded statement of one input ended.
type accountResult struct {
	statements, entries, merged, withheld int
}

// account checks that every coded statement of doc is accounted for: an
// entry of a shown kind or a KindNone entry with its NotShown rule (by id:
// Finish may have given a different act under the same id "id#n"),
// merged into such an entry, or withheld. Duplicates are the repeats of a
// statement already accounted for.
func account(t *testing.T, doc []byte, p *parser, r *record.Record) accountResult {
	t.Helper()
	want := codedStatements(readTree(t, doc))
	// Every item read (Stats.Read, and the consultations no statement
	// counts) is an entry, withheld or a duplicate: what migctl map
	// --report accounts for.
	if got := len(r.Entries) + r.Stats.Withheld + r.Stats.Duplicate; got != r.Stats.Read {
		t.Errorf("%d items read (%d + %d consultations), %d accounted for (%d entries, %+v)",
			r.Stats.Read, r.Stats.Read, p.encUnits, got, len(r.Entries), r.Stats)
	}
	// Each coded statement makes an item, or is part of one (merged):
	// there are as many items as coded statements not merged, give or take
	// an item made only of uncoded statements.
	merged := 0
	for _, k := range want {
		if p.merged[k] != "" {
			merged++
		}
	}
	if r.Stats.Read < len(want)-merged {
		t.Errorf("Stats.Read %d: fewer items than the %d coded statements not merged into another", r.Stats.Read, len(want)-merged)
	}
	byID := map[string]*record.Entry{}
	for i := range r.Entries {
		e := &r.Entries[i]
		base := e.ID
		if j := strings.LastIndex(base, "#"); j > 0 {
			base = base[:j]
		}
		if byID[base] == nil {
			byID[base] = e
		}
		if e.Kind == record.KindNone && e.NotShown == record.RuleNone {
			t.Errorf("entry %s: KindNone without a NotShown rule", e.ID)
		}
		if e.Kind != record.KindNone && e.NotShown != record.RuleNone {
			t.Errorf("entry %s: shown kind %s with NotShown %s", e.ID, e.Kind, e.NotShown)
		}
		if e.Kind == record.KindBloodPressure && e.Systolic == nil && e.Diastolic == nil {
			t.Errorf("blood pressure %s shown with no number", e.ID)
		}
		if v := e.Value; v != nil && v.Unit != "" {
			if _, ok := record.UCUMCode(v.Unit); !ok {
				t.Errorf("entry %s: unit %q kept without vetting", e.ID, v.Unit)
			}
		}
		if e.Kind == record.KindAllergy && !isNational(e.Code) {
			t.Errorf("allergy %s without a national code", e.ID)
		}
		if e.Kind != record.KindNone && e.Kind != record.KindEncounter && e.Kind != record.KindBloodPressure && !isNational(e.Code) {
			t.Errorf("entry %s of kind %s shown without a national code", e.ID, e.Kind)
		}
	}
	withheld := map[string]bool{}
	for _, id := range r.WithheldIDs {
		withheld[id] = true
	}
	var res accountResult
	res.statements = len(want)
	for _, k := range want {
		switch {
		case p.withheld[k]:
			res.withheld++
			if !r.Withheld || r.Stats.Withheld == 0 {
				t.Errorf("%s %s withheld, but the record does not say so", k.typ, k.id)
			}
		case p.merged[k] != "":
			res.merged++
			to := p.merged[k]
			if byID[to] == nil && !withheld[to] {
				t.Errorf("%s %s merged into %s, which is neither an entry nor withheld", k.typ, k.id, to)
			}
		default:
			res.entries++
			if byID[k.id] == nil && !withheld[k.id] {
				t.Errorf("%s %s: coded statement not accounted for", k.typ, k.id)
			}
		}
	}
	if r.Withheld && r.Stats.Withheld == 0 {
		t.Error("Withheld set but nothing counted withheld")
	}
	return res
}

// fragmentRoot returns a document's root element name.
func fragmentRoot(t *testing.T, body []byte) string {
	t.Helper()
	root, err := testenv.FragmentRoot(body)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestFragments parses every fragment that is an extract or a piece of
// one, and accounts for each coded statement in it. Fragments that are not
// (message envelopes, an address or telecom alone) are listed with why.
func TestFragments(t *testing.T) {
	dir := testenv.Reference(t, "gp2gp", "fragments")
	var files []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".xml") {
			files = append(files, path)
		}
		return nil
	})
	sort.Strings(files)
	if len(files) < 300 {
		t.Fatalf("%d fragments found, want the 316 described in NOTICE.md", len(files))
	}
	var total accountResult
	parsed, dup := 0, 0
	skipped := map[string][]string{}
	for _, path := range files {
		rel, _ := filepath.Rel(dir, path)
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		root := fragmentRoot(t, body)
		doc, why := testenv.WrapFragment(root, body)
		if doc == nil {
			skipped[why] = append(skipped[why], rel)
			continue
		}
		t.Run(rel, func(t *testing.T) {
			p, r, err := parseWhole(doc, record.ParseOptions{})
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			res := account(t, doc, p, r)
			parsed++
			dup += r.Stats.Duplicate
			total.statements += res.statements
			total.entries += res.entries
			total.merged += res.merged
			total.withheld += res.withheld
		})
	}
	t.Logf("fragments: %d found, %d parsed, %d not extracts", len(files), parsed, len(files)-parsed)
	t.Logf("coded statements: %d (%d own entries, %d merged into another entry, %d withheld; %d entries dropped as duplicates)",
		total.statements, total.entries, total.merged, total.withheld, dup)
	for why, list := range skipped {
		t.Logf("not parsed (%s): %s", why, strings.Join(list, ", "))
	}
	// The fragments that are not extracts, and only those.
	notExtracts := 0
	for _, list := range skipped {
		notExtracts += len(list)
	}
	if notExtracts != 13 {
		t.Errorf("%d fragments not parsed, want 13 (4 COPC payloads, 3 ebXML envelopes, 4 addresses, 2 telecoms)", notExtracts)
	}
}

// TestExtractsAccounted accounts, the same way, for every coded statement
// of our synthetic extracts and of the reference sample extracts (whole
// records from a test practice).
func TestExtractsAccounted(t *testing.T) {
	files := ourFiles(t)
	if samples, _ := filepath.Glob(filepath.Join(testenv.ModuleRoot(t), "..", "shared", "reference", "gp2gp", "samples", "input", "*.xml")); len(samples) > 0 {
		files = append(files, samples...)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			doc, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			p, r, err := parseWhole(doc, record.ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			res := account(t, doc, p, r)
			t.Logf("%d coded statements: %d own entries, %d merged, %d withheld; %d duplicates",
				res.statements, res.entries, res.merged, res.withheld, r.Stats.Duplicate)
		})
	}
}
