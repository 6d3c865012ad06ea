package gp2gp

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"mig/internal/testenv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mig/adapters/record"
)

// freeTexts collects, with encoding/xml (independently of the adapter's
// reader), every string a record must never hold: the content of text,
// originalText, pertinentAnnotation and NarrativeStatement elements, place
// names, and the displayName of codes in non-national code systems. It
// also returns the displayNames of national codes (which the record may
// hold as terms) and the quantity unit words (the dosage exception).
func freeTexts(t *testing.T, doc []byte) (free []string, national, dosage map[string]bool) {
	t.Helper()
	national, dosage = map[string]bool{}, map[string]bool{}
	nationalOID := map[string]bool{oidReadV2: true, oidCTV3: true, oidSNOMED: true}
	d := xml.NewDecoder(bytes.NewReader(doc))
	var stack []string
	var text [][]byte
	freeDepth := 0 // >0 inside an element whose text is free text
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			name := tk.Name.Local
			parent := ""
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
			}
			stack = append(stack, name)
			text = append(text, nil)
			if name == "text" || name == "originalText" || name == "pertinentAnnotation" ||
				name == "NarrativeStatement" || (name == "name" && parent == "locatedPlace") || freeDepth > 0 {
				freeDepth++
			}
			var code, system, display string
			for _, a := range tk.Attr {
				switch a.Name.Local {
				case "code":
					code = a.Value
				case "codeSystem":
					system = a.Value
				case "displayName":
					display = a.Value
				}
			}
			if code != "" && display != "" {
				if nationalOID[system] {
					national[strings.TrimSpace(display)] = true
				} else {
					free = append(free, display)
				}
			}
		case xml.CharData:
			if len(text) > 0 {
				text[len(text)-1] = append(text[len(text)-1], tk...)
			}
		case xml.EndElement:
			s := strings.TrimSpace(string(text[len(text)-1]))
			n := len(stack)
			if freeDepth > 0 && s != "" {
				// The unit words of a supply quantity and the dosage
				// instruction are the named exception.
				if n >= 3 && stack[n-1] == "originalText" && stack[n-2] == "translation" && stack[n-3] == "quantity" ||
					n >= 2 && stack[n-2] == "pertinentMedicationDosage" {
					dosage[s] = true
				} else if _, vetted := record.UCUMCode(s); vetted && n >= 3 && stack[n-1] == "originalText" &&
					stack[n-2] == "translation" && (stack[n-3] == "value" || stack[n-3] == "low" || stack[n-3] == "high") {
					// A result's unit, given in originalText beside unit="1":
					// kept only when it is on the vetted unit vocabulary
					// (record.UCUMCode), so it is not free text; any other
					// string there is, and is checked.
					dosage[s] = true
				} else {
					free = append(free, s)
				}
			}
			if freeDepth > 0 {
				freeDepth--
			}
			stack = stack[:n-1]
			text = text[:len(text)-1]
		}
	}
	return free, national, dosage
}

// TestNoFreeText checks that no free text of any input (samples and ours)
// reaches the record: its full dump, dosage text aside, holds none of it.
// Strings that are also a national code's term in the same extract, or a
// dosage/quantity text, may appear legitimately and are not checked.
func TestNoFreeText(t *testing.T) {
	files := ourFiles(t)
	if samples, _ := filepath.Glob(filepath.Join(testenv.ModuleRoot(t), "..", "shared", "reference", "gp2gp", "samples", "input", "*.xml")); len(samples) > 0 {
		files = append(files, samples...)
	} else {
		t.Log("reference samples absent: checking our extracts only")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			doc, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			free, national, dosage := freeTexts(t, doc)
			if len(free) == 0 {
				t.Fatal("no free text found: the collector is broken")
			}
			r, err := Parse(bytes.NewReader(doc), record.ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			out := string(dump(t, r, false))
			if strings.Contains(out, "FREETEXT-") {
				t.Errorf("a FREETEXT- marker reached the record")
			}
			values := stringValues(t, []byte(out))
			checked := 0
			for _, s := range free {
				if national[s] || dosage[s] {
					continue
				}
				checked++
				if leaked(s, values, national) {
					t.Errorf("free text (%d chars) reached the record", len(s))
				}
			}
			if checked == 0 {
				t.Error("nothing left to check")
			}
		})
	}
}

// leaked reports whether free text s is in the record: as a whole string
// value, or (for a string long enough not to be an ordinary word) inside
// one, unless a national term holds it too.
func leaked(s string, values []string, national map[string]bool) bool {
	for _, v := range values {
		if v == s {
			return true
		}
	}
	if len(s) < 12 {
		return false
	}
	for term := range national {
		if strings.Contains(term, s) {
			return false
		}
	}
	for _, v := range values {
		if strings.Contains(v, s) {
			return true
		}
	}
	return false
}

// vocabulary are the dump's fields that hold the record's own enumerations
// ("allergy", "active", ...), not text from the extract.
var vocabulary = map[string]bool{"Kind": true, "Status": true, "AllergyCategory": true, "PrescriptionType": true,
	"Priority": true, "Significance": true, "Format": true}

// stringValues returns every string value (and the parts of the author
// summaries) in a dump.
func stringValues(t *testing.T, dumpText []byte) []string {
	t.Helper()
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
			out = append(out, strings.Split(x, "|")...)
		case []any:
			for _, y := range x {
				walk(y)
			}
		case map[string]any:
			for k, y := range x {
				if !vocabulary[k] {
					walk(y)
				}
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(dumpText))
	for {
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		walk(v)
	}
	return out
}

// TestMarkersEverywhere checks that each synthetic extract carries a
// FREETEXT- marker in every kind of free text the leak test relies on.
func TestMarkersEverywhere(t *testing.T) {
	for _, path := range ourFiles(t) {
		doc, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		found := map[string]bool{}
		d := xml.NewDecoder(bytes.NewReader(doc))
		var stack []string
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			switch tk := tok.(type) {
			case xml.StartElement:
				stack = append(stack, tk.Name.Local)
				for _, a := range tk.Attr {
					if a.Name.Local == "displayName" && strings.HasPrefix(a.Value, "FREETEXT-") {
						found["local displayName"] = true
					}
				}
			case xml.EndElement:
				stack = stack[:len(stack)-1]
			case xml.CharData:
				if !strings.Contains(string(tk), "FREETEXT-") {
					continue
				}
				in := strings.Join(stack, "/")
				switch {
				case strings.HasSuffix(in, "NarrativeStatement/text"):
					found["NarrativeStatement"] = true
				case strings.HasSuffix(in, "pertinentAnnotation/text"):
					found["pertinentAnnotation"] = true
				case strings.HasSuffix(in, "originalText"):
					found["originalText"] = true
				}
			}
		}
		for _, want := range []string{"NarrativeStatement", "pertinentAnnotation", "originalText", "local displayName"} {
			if !found[want] {
				t.Errorf("%s: no FREETEXT- marker in %s", filepath.Base(path), want)
			}
		}
	}
}
