package app

// Building the hostile practices for TestHostileExtracts: copies of the
// synthetic practices in which every attribute and text node of chosen
// extracts holds an attack-shaped sentence.

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"mig"
	"mig/adapters"
	"mig/adapters/record"
	"mig/consent"
)

// hostileFormat is one extract format and the extracts planted in it.
type hostileFormat struct {
	tag, format, ods string
	bases            []string // NHS numbers of the extracts planted
	control          string   // the equivalence patient: its diabetes terms stay real
	dosage           func(path, attr string) bool
	nextNHS          int // where new NHS numbers for variants are looked for
}

// controlTerms stay as written in the control extracts: in filter mode
// they must show (the test cannot pass by showing nothing).
var controlTerms = map[string]bool{"Type 2 diabetes mellitus": true, "Diabetes mellitus type 2": true}

func lastElem(path string) string { return path[strings.LastIndex(path, "/")+1:] }

var hostileFormats = []hostileFormat{
	{tag: "G", format: "gp2gp", ods: "A99901", bases: []string{"9990001006", "9990001014", "9990001103"}, control: "9990001006",
		nextNHS: 9990001500,
		dosage: func(path, attr string) bool {
			if attr != "" {
				return false
			}
			supply := strings.Contains(path, "/ehrSupplyAuthorise/") || strings.Contains(path, "/ehrSupplyPrescribe/")
			return strings.HasSuffix(path, "/pertinentMedicationDosage/text") ||
				supply && strings.HasSuffix(path, "/quantity/translation/originalText")
		}},
	{tag: "E", format: "emis", ods: "A99902", bases: []string{"9990002002", "9990002010", "9990002061"}, control: "9990002002",
		nextNHS: 9990002500,
		dosage: func(path, attr string) bool {
			switch lastElem(path) {
			case "Dosage", "Quantity", "QuantityUnits", "QuantityRepresentation":
				return attr == ""
			}
			return false
		}},
	{tag: "T", format: "tpp", ods: "A99903", bases: []string{"9990003009", "9990003017", "9990003076"}, control: "9990003009",
		nextNHS: 9990003500,
		dosage: func(path, attr string) bool {
			switch lastElem(path) {
			case "Dose", "Quantity":
				return attr == ""
			}
			return false
		}},
}

// hostilePatient is one extract the gateway will serve.
type hostilePatient struct {
	NHS, Format, Label string
	OK                 bool // a readable record; otherwise an error path
	Access             bool // planted where the adapter reads identity or share consent
	Control            bool
	Text               bool // terms and text planted, every entry still shown
	Shown              int  // entries shown from the unplanted extract
	Unregistered       bool // not in the registration list: the extract's demographics stand
}

// slotClass is what planting a sentence in one slot alone did.
type slotClass int

const (
	slotTolerated slotClass = iota // parses, same patient, same share consent
	slotRejected                   // the adapter refused the extract
	slotAccess                     // parses, but identity or share consent changed (4xx at the gateway)
)

// hostileBuild is the outcome of planting.
type hostileBuild struct {
	Patients []hostilePatient
	Finder   *leakFinder
	// Counts for the report.
	Written                                                   []string // sentences in the extracts served
	TextSlots                                                 int
	Slots, Planted, Read, Tolerated, Rejected, Access, Dosage int
	SlotKeys                                                  map[string]bool
	ParseErrorsChecked                                        int
	InProcessLeaks                                            []string
}

func parseAs(format, nhs string, doc []byte) (*record.Record, error) {
	return adapters.Parse(format, bytes.NewReader(doc), record.ParseOptions{NHSNumber: nhs,
		Now: func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }})
}

func samePatient(a, b *record.Record) bool {
	return patientDiff(a, b) == ""
}

// patientDiff says how a planted record would be answered differently
// from its base at the gateway (adapters.Reader's merge with the
// registration list, then the share-consent rule), or "".
func patientDiff(a, b *record.Record) string {
	pa, pb := a.Patient, b.Patient
	switch {
	case pa.NHSNumber != "" && pa.NHSNumber != pb.NHSNumber:
		return "NHS number"
	case !pa.BirthDate.IsZero() && !pa.BirthDate.T.Equal(pb.BirthDate.T):
		return "birth date"
	case pa.Deceased != pb.Deceased:
		return "deceased"
	case pa.Deducted != pb.Deducted:
		return "deducted"
	}
	codes := consent.DefaultShareCodes()
	if consent.ShareStatusOf(a, codes) != consent.ShareStatusOf(b, codes) {
		return "share consent"
	}
	return ""
}

// copyPractice copies a practice's files (not folders) into dst.
func copyPractice(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// register adds nhs to a practice's registration list as a copy of base's
// entry.
func register(t *testing.T, dir, base, nhs string) {
	t.Helper()
	p := filepath.Join(dir, "patients.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		if e["nhsNumber"] == base {
			c := map[string]any{}
			for k, v := range e {
				c[k] = v
			}
			c["nhsNumber"] = nhs
			list = append(list, c)
			out, _ := json.MarshalIndent(list, "", " ")
			if err := os.WriteFile(p, out, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("%s is not in %s", base, p)
}

// newNHS returns the next valid NHS number from *n that no practice uses.
func newNHS(t *testing.T, root string, n *int) string {
	t.Helper()
	for ; *n < 9990009000; *n++ {
		s := fmt.Sprint(*n)
		if !mig.ValidNHSNumber(s) {
			continue
		}
		used := false
		for _, p := range []string{"A99901", "A99902", "A99903"} {
			if _, err := os.Stat(filepath.Join(root, p, s+".xml")); err == nil {
				used = true
			}
		}
		if !used {
			*n++
			return s
		}
	}
	t.Fatal("no NHS number left")
	return ""
}

// buildHostile writes the hostile practices under root (a copy of
// testdata) and returns what was planted where.
func buildHostile(t *testing.T, testdata, root string) *hostileBuild {
	t.Helper()
	b := &hostileBuild{Finder: newLeakFinder(), SlotKeys: map[string]bool{}}
	for _, p := range []string{"A99901", "A99902", "A99903"} {
		copyPractice(t, filepath.Join(testdata, p), filepath.Join(root, p))
	}
	for fi := range hostileFormats {
		hf := &hostileFormats[fi]
		counter := 0
		dir := filepath.Join(root, hf.ods)
		for _, base := range hf.bases {
			b.buildOne(t, hf, dir, root, base, &counter)
		}
	}
	return b
}

func (b *hostileBuild) buildOne(t *testing.T, hf *hostileFormat, dir, root, base string, counter *int) {
	t.Helper()
	orig, err := os.ReadFile(filepath.Join(dir, base+".xml"))
	if err != nil {
		t.Fatal(err)
	}
	x, err := parseXDoc(hf.format, orig, hf.dosage)
	if err != nil {
		t.Fatalf("%s: %v", base, err)
	}
	// The writer must be faithful: unplanted, the copy reads as the original.
	want, err := parseAs(hf.format, base, orig)
	if err != nil {
		t.Fatalf("%s does not parse: %v", base, err)
	}
	baseRec, err := parseAs(hf.format, base, x.render(nil, nil))
	if err != nil {
		t.Fatalf("%s rewritten does not parse: %v", base, err)
	}
	if !reflect.DeepEqual(want, baseRec) {
		t.Fatalf("%s rewritten without planting reads differently: the XML writer is not faithful", base)
	}

	sentence := map[int]string{}
	var order, shareSlots []int
	share := map[string]bool{}
	for _, c := range consent.DefaultShareCodes().Consent {
		share[c.Code] = true
	}
	// The consent-to-share entries keep their structure, or the record is
	// refused whole (each slot alone is tolerated, but code and
	// translation together are the consent): their terms are planted
	// here, and one variant below plants all the rest of them.
	inShare := map[int]bool{}
	{
		var stack []int // token index of each open element
		entryStart := -1
		for ti, tk := range x.toks {
			switch v := tk.tok.(type) {
			case xml.StartElement:
				stack = append(stack, ti)
				for _, a := range v.Attr {
					if share[strings.TrimSpace(a.Value)] && entryStart < 0 {
						entryStart = shareEntry(x, stack)
					}
				}
			case xml.CharData:
				if share[strings.TrimSpace(string(v))] && entryStart < 0 {
					entryStart = shareEntry(x, stack)
				}
			case xml.EndElement:
				if len(stack) > 0 && stack[len(stack)-1] == entryStart {
					for si, s := range x.slots {
						if s.Tok >= entryStart && s.Tok <= ti {
							inShare[si] = true
						}
					}
					entryStart = -1
				}
				stack = stack[:len(stack)-1]
			}
		}
	}
	for i, s := range x.slots {
		if base == hf.control && controlTerms[strings.TrimSpace(s.Orig)] {
			continue // the control terms stay real
		}
		if inShare[i] && !termSlot(s) {
			shareSlots = append(shareSlots, i)
			continue
		}
		b.Slots++
		b.SlotKeys[hf.format+" "+s.key()] = true
		text, _ := sentenceFor(hf.tag, *counter, s.Dosage)
		*counter++
		sentence[i] = text
		b.Finder.add(plantedText{Sentence: text, Where: fmt.Sprintf("%s %s %s", hf.format, base, s.key()), Dosage: s.Dosage})
		if s.Dosage {
			b.Dosage++
		}
		order = append(order, i)
	}
	b.Planted += len(sentence)
	// Slots of one shape side by side: those the adapter refuses cluster.
	sort.SliceStable(order, func(a, c int) bool { return x.slots[order[a]].key() < x.slots[order[c]].key() })

	// Every slot planted at once; a set that does not read as the same
	// patient's record is halved until each part does, so each slot the
	// adapter refuses is found alone (group testing: a few hundred parses
	// rather than one per slot).
	var tolerated, refused []int
	class := map[int]slotClass{}
	try := func(g []int) (*record.Record, error) {
		plant := map[int]string{}
		for _, i := range g {
			plant[i] = sentence[i]
		}
		return parseAs(hf.format, base, x.render(plant, nil))
	}
	var split func(g []int)
	split = func(g []int) {
		if len(g) == 0 {
			return
		}
		rec, err := try(g)
		if err == nil && samePatient(rec, baseRec) {
			tolerated = append(tolerated, g...)
			return
		}
		if len(g) > 1 {
			split(g[:len(g)/2])
			split(g[len(g)/2:])
			return
		}
		i := g[0]
		refused = append(refused, i)
		if err != nil {
			class[i] = slotRejected
			b.Rejected++
			// The adapter's error, as the gateway would log it, holds none of it.
			b.ParseErrorsChecked++
			for _, l := range b.Finder.scanText("parse error", x.slots[i].key(), fmt.Sprintf("%v | %+v | %s", err, err, mig.ErrorMessage(err))) {
				b.InProcessLeaks = append(b.InProcessLeaks, l.String())
			}
			return
		}
		class[i] = slotAccess
		b.Access++
	}
	split(order)
	b.Tolerated += len(tolerated)
	for _, i := range tolerated {
		b.Written = append(b.Written, sentence[i])
	}

	// Two readable patients per extract. "terms and text": every slot that
	// holds words (terms, names, free text, dosage) planted while every
	// entry stays shown, at the extract's own NHS number; a slot that hides
	// an entry moves to the other. "every slot": everything the adapter
	// tolerates, at a new NHS number (entries whose codes, classes or
	// dates are sentences are not shown, but all of it is read).
	shown := shownCount(baseRec)
	var textSlots, textGroups, allGroups [][]int
	var words []int
	for _, i := range tolerated {
		if wordSlot(x.slots[i]) {
			words = append(words, i)
		}
	}
	var keep func(g []int)
	keep = func(g []int) {
		if len(g) == 0 {
			return
		}
		if rec, err := try(g); err == nil && samePatient(rec, baseRec) && shownCount(rec) == shown {
			textSlots = append(textSlots, g)
			return
		}
		if len(g) > 1 {
			keep(g[:len(g)/2])
			keep(g[len(g)/2:])
		}
	}
	keep(words)
	var text []int
	for _, g := range textSlots {
		text = append(text, g...)
	}
	if rec, err := try(text); err == nil && samePatient(rec, baseRec) && shownCount(rec) == shown {
		textGroups = [][]int{text}
	} else {
		textGroups = textSlots // rare: slots that hide entries only together
	}
	var merge func(g []int)
	merge = func(g []int) {
		if rec, err := try(g); (err == nil && samePatient(rec, baseRec)) || len(g) == 1 {
			allGroups = append(allGroups, g)
			return
		}
		merge(g[:len(g)/2])
		merge(g[len(g)/2:])
	}
	if len(tolerated) > 0 {
		merge(tolerated)
	}
	b.TextSlots += len(text)
	if len(textGroups) == 1 {
		// The same, with no registration-list entry: the extract's own
		// demographics stand (as when PDS does not know the patient), so
		// the patient's own name and address slots are planted too.
		plant := map[int]string{}
		for _, i := range text {
			plant[i] = sentence[i]
		}
		var demo []int
		for _, i := range tolerated {
			if p := x.slots[i].Path; strings.Contains(p, "/Registration/") || strings.Contains(p, "/Demographics/") || strings.Contains(p, "/recordTarget/") {
				demo = append(demo, i)
			}
		}
		if rec, err := try(append(append([]int{}, text...), demo...)); err == nil && samePatient(rec, baseRec) {
			for _, i := range demo {
				plant[i] = sentence[i]
			}
		}
		nhs := newNHS(t, root, &hf.nextNHS)
		if err := os.WriteFile(filepath.Join(dir, nhs+".xml"), x.render(plant, strings.NewReplacer(base, nhs)), 0o644); err != nil {
			t.Fatal(err)
		}
		b.Patients = append(b.Patients, hostilePatient{NHS: nhs, Format: hf.format, OK: true, Text: true, Shown: shown, Unregistered: true,
			Label: fmt.Sprintf("%s %s terms, text and demographics, not in the registration list (%d slots)", hf.format, base, len(plant))})
	}
	for gi, g := range append(textGroups, allGroups...) {
		plant := map[int]string{}
		for _, i := range g {
			plant[i] = sentence[i]
		}
		nhs := base
		var rep *strings.Replacer
		if gi > 0 {
			nhs = newNHS(t, root, &hf.nextNHS)
			rep = strings.NewReplacer(base, nhs)
			register(t, dir, base, nhs)
		}
		doc := x.render(plant, rep)
		if err := os.WriteFile(filepath.Join(dir, nhs+".xml"), doc, 0o644); err != nil {
			t.Fatal(err)
		}
		what, textPart := "every slot", gi < len(textGroups)
		if textPart {
			what = "terms and text"
		}
		b.Patients = append(b.Patients, hostilePatient{NHS: nhs, Format: hf.format, OK: true, Text: textPart,
			Control: base == hf.control && gi == 0, Shown: shown,
			Label: fmt.Sprintf("%s %s %s (%d slots)", hf.format, base, what, len(g))})
	}

	// Error paths: one variant per refused slot shape, as its own patient.
	seen := map[string]bool{}
	if len(shareSlots) > 0 {
		plant := map[int]string{}
		for _, i := range shareSlots {
			text, _ := sentenceFor(hf.tag, *counter, false)
			*counter++
			b.Finder.add(plantedText{Sentence: text, Where: fmt.Sprintf("%s %s %s", hf.format, base, x.slots[i].key())})
			b.Written = append(b.Written, text)
			plant[i] = text
			b.Slots++
			b.Planted++
		}
		nhs := newNHS(t, root, &hf.nextNHS)
		register(t, dir, base, nhs)
		if err := os.WriteFile(filepath.Join(dir, nhs+".xml"), x.render(plant, strings.NewReplacer(base, nhs)), 0o644); err != nil {
			t.Fatal(err)
		}
		b.Patients = append(b.Patients, hostilePatient{NHS: nhs, Format: hf.format, Access: true,
			Label: fmt.Sprintf("%s %s consent-to-share codes planted (%d slots)", hf.format, base, len(plant))})
	}
	for _, i := range refused {
		s := x.slots[i]
		k := s.key()
		if seen[k] {
			continue
		}
		seen[k] = true
		nhs := newNHS(t, root, &hf.nextNHS)
		register(t, dir, base, nhs)
		doc := x.render(map[int]string{i: sentence[i]}, strings.NewReplacer(base, nhs))
		b.Written = append(b.Written, sentence[i])
		if err := os.WriteFile(filepath.Join(dir, nhs+".xml"), doc, 0o644); err != nil {
			t.Fatal(err)
		}
		what := "rejected"
		if class[i] == slotAccess {
			what = "identity or consent changed"
		}
		b.Patients = append(b.Patients, hostilePatient{NHS: nhs, Format: hf.format, Access: class[i] == slotAccess,
			Label: fmt.Sprintf("%s %s %s: %s", hf.format, base, k, what)})
	}

	// Malformed documents around planted text: cut short inside a planted
	// element, and a mismatched end tag, both inside an element named by a
	// marker.
	all := map[int]string{}
	for _, i := range tolerated {
		all[i] = sentence[i]
	}
	full := x.render(all, nil)
	elemText, _ := sentenceFor(hf.tag, *counter, false)
	elem := fmt.Sprintf("HOSTILE-%s-%d", hf.tag, *counter)
	*counter++
	b.Finder.add(plantedText{Sentence: elemText, Where: fmt.Sprintf("%s %s malformed variant", hf.format, base)})
	b.Written = append(b.Written, elemText)
	var root0 string
	for _, tk := range x.toks {
		if se, ok := tk.tok.(xml.StartElement); ok {
			root0 = attrName(se.Name)
			break
		}
	}
	at := bytes.Index(full, []byte("<"+root0))
	cut := at + bytes.IndexByte(full[at:], '>') + 1 // after the root start tag
	inj := fmt.Sprintf(`<%s note="%s">%s`, elem, escAttr(elemText), escText(elemText))
	for vi, tail := range []string{"", fmt.Sprintf("</%sX>", elem)} {
		doc := append(append(append([]byte{}, full[:cut]...), inj+tail...), full[cut:]...)
		if vi == 0 {
			doc = append(append([]byte{}, full[:cut]...), inj+strings.Repeat(" ", 10)...)
		}
		nhs := newNHS(t, root, &hf.nextNHS)
		register(t, dir, base, nhs)
		doc = bytes.ReplaceAll(doc, []byte(base), []byte(nhs))
		if err := os.WriteFile(filepath.Join(dir, nhs+".xml"), doc, 0o644); err != nil {
			t.Fatal(err)
		}
		// Its error names the element path (the marker element): the
		// gateway must keep that from clients, logs and audit, which
		// the end-to-end scan checks.
		if _, err := parseAs(hf.format, nhs, doc); err == nil {
			t.Fatalf("%s: the malformed variant %d parses", base, vi)
		}
		b.Patients = append(b.Patients, hostilePatient{NHS: nhs, Format: hf.format,
			Label: fmt.Sprintf("%s %s malformed (%s)", hf.format, base, []string{"cut short", "mismatched end tag"}[vi])})
	}
}

// entryNames are the elements that hold one clinical statement, per format.
var entryNames = map[string]bool{"ObservationStatement": true, "Event": true}

// shareEntry returns the token index of the innermost open statement
// element.
func shareEntry(x *xdoc, stack []int) int {
	for i := len(stack) - 1; i >= 0; i-- {
		if se, ok := x.toks[stack[i]].tok.(xml.StartElement); ok && entryNames[se.Name.Local] {
			return stack[i]
		}
	}
	return -1
}

// termSlot: a slot that holds a term or text beside a code, never a code.
func termSlot(s slot) bool {
	switch s.Attr {
	case "displayName", "Term":
		return true
	case "":
		switch lastElem(s.Path) {
		case "Term", "DisplayTerm", "originalText", "DescriptiveText", "text":
			return true
		}
	}
	return false
}

// shownCount is how many entries of a record a mapper could show.
func shownCount(r *record.Record) int {
	n := 0
	for _, e := range r.Entries {
		if e.Kind != record.KindNone {
			n++
		}
	}
	return n
}

// wordSlot: a slot that holds words rather than a code, date, number, id
// or class: terms, names, free text and dosage.
func wordSlot(s slot) bool {
	o := strings.TrimSpace(s.Orig)
	return termSlot(s) || s.Added || s.Dosage || strings.ContainsAny(o, " ") || strings.HasPrefix(o, "FREETEXT")
}
