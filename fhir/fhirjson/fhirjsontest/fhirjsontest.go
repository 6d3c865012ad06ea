// Package fhirjsontest holds the reference fhirjson is held to, for tests
// only: google/fhir/go's jsonformat, configured as the gateway used it
// (compact, R4), and a comparison that shows any difference as a diff of
// the two documents with their keys sorted and numbers as written.
package fhirjsontest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"mig/fhir/fhirjson"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	"google.golang.org/protobuf/proto"
)

// Reference returns jsonformat's JSON of res: NewMarshaller(false, "", "",
// R4), as the gateway wrote resources before fhirjson. jsonformat rewrites
// references in the proto it is given, so it is given a copy.
func Reference(res *bcrpb.ContainedResource) ([]byte, error) {
	m, err := jsonformat.NewMarshaller(false, "", "", fhirversion.R4)
	if err != nil {
		return nil, err
	}
	return m.Marshal(proto.Clone(res))
}

// Compare writes res with fhirjson and with the reference and returns ""
// when both write the same bytes or both refuse it, otherwise what
// differs: a refusal by one only, a change fhirjson made to the proto, or
// a line diff of the two documents normalised (indented, keys sorted,
// numbers as written).
func Compare(res *bcrpb.ContainedResource) string {
	want, werr := Reference(res)
	return CompareTo(res, want, werr)
}

// CompareTo is Compare given the reference's answer for res (want, werr),
// for a caller that needs it too.
func CompareTo(res *bcrpb.ContainedResource, want []byte, werr error) string {
	before := snapshotOf(res)
	got, gerr := fhirjson.Marshal(res)
	if !before.same(res) {
		return "fhirjson.Marshal changed the proto it wrote"
	}
	switch {
	case werr != nil && gerr != nil:
		return ""
	case werr != nil:
		return fmt.Sprintf("jsonformat refuses (%v), fhirjson writes %d bytes", werr, len(got))
	case gerr != nil:
		return fmt.Sprintf("fhirjson refuses (%v), jsonformat writes %s", gerr, want)
	}
	return Diff(want, got)
}

// snapshot is a proto's state: its deterministic wire bytes, or a clone
// when it does not marshal (a string with invalid UTF-8).
type snapshot struct {
	wire  []byte
	clone proto.Message
}

var deterministic = proto.MarshalOptions{Deterministic: true}

func snapshotOf(m proto.Message) snapshot {
	if b, err := deterministic.Marshal(m); err == nil {
		return snapshot{wire: b}
	}
	return snapshot{clone: proto.Clone(m)}
}

func (s snapshot) same(m proto.Message) bool {
	if s.clone != nil {
		return proto.Equal(s.clone, m)
	}
	b, err := deterministic.Marshal(m)
	return err == nil && bytes.Equal(b, s.wire)
}

// Diff returns "" when got is want byte for byte, else a description:
// the first differing byte and a line diff of the two normalised.
func Diff(want, got []byte) string {
	if bytes.Equal(want, got) {
		return ""
	}
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "bytes differ at offset %d:\n  jsonformat: %s\n  fhirjson:   %s\n", i, around(want, i), around(got, i))
	w, werr := Normalise(want)
	g, gerr := Normalise(got)
	switch {
	case werr != nil:
		fmt.Fprintf(&b, "jsonformat's output is not JSON: %v\n", werr)
	case gerr != nil:
		fmt.Fprintf(&b, "fhirjson's output is not JSON: %v\n", gerr)
	case w == g:
		b.WriteString("the same after normalisation (key order or spacing only)\n")
	default:
		b.WriteString(lineDiff(w, g))
	}
	return b.String()
}

func around(b []byte, i int) string {
	lo, hi := max(0, i-60), min(len(b), i+60)
	return fmt.Sprintf("…%s…", b[lo:hi])
}

// Normalise returns doc indented with its object keys sorted and every
// number as written (80.000 stays 80.000).
func Normalise(doc []byte) (string, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return "", err
	}
	if d.More() {
		return "", fmt.Errorf("more than one JSON value")
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return out.String(), nil
}

// lineDiff returns the lines of a and b around their first difference,
// "-" for a (jsonformat), "+" for b (fhirjson).
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	i := 0
	for i < len(al) && i < len(bl) && al[i] == bl[i] {
		i++
	}
	j := 0
	for j < len(al)-i && j < len(bl)-i && al[len(al)-1-j] == bl[len(bl)-1-j] {
		j++
	}
	var s strings.Builder
	for k := max(0, i-3); k < i; k++ {
		s.WriteString("  " + al[k] + "\n")
	}
	for k := i; k < len(al)-j; k++ {
		s.WriteString("- " + al[k] + "\n")
	}
	for k := i; k < len(bl)-j; k++ {
		s.WriteString("+ " + bl[k] + "\n")
	}
	return s.String()
}
