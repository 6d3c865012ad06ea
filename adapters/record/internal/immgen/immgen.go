// Package immgen derives MIG's SNOMED CT immunisation code set (concept
// ids only, never terms) from the NHS patient-switching adaptor's list of
// immunisation concepts, and renders it as Go source for
// adapters/record/immunisations.go. The generator (./gen) and the record
// package's test share this code, so the test re-derives the set exactly
// as it was generated.
//
// The list is a CSV with columns "Concept Id", "Description" and "Safety
// Code". A spreadsheet rounded long ids in "Concept Id" to six significant
// digits (571511000119102 became 571511000000000) in 155 rows; "Safety
// Code" holds every id as text behind a tab. So each row's id is its
// Safety Code, and the Concept Id must either equal it or be exactly its
// six-significant-digit rounding (the known mangling); any other
// disagreement, or an id that fails the Verhoeff check or is not in a
// concept partition, rejects the row.
//
// Rows whose concept records that a vaccination was not given ("... not
// done", "... not given", "... vaccine not available": situations, not
// procedures) are kept apart, in the not-given set: an immunisation that
// did not happen must never be shown as one given. The description is read
// only to make that split; no term is written out.
package immgen

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"go/format"
	"io"
	"math/big"
	"sort"
	"strings"
)

// Source cites the list the set is derived from (reference/NOTICE.md).
const (
	SourceRepository = "NHSDigital/nia-patient-switching-standard-adaptor"
	SourceCommit     = "6d7e5711"
	SourcePath       = "docker/release-scripts/ps-mhs-e2e/snomed-immunization-loader/snomed_immunization_codes.csv"
	SourceLicence    = "MIT (NHS Digital); SNOMED CT identifiers remain under the SNOMED CT licence"
)

// Rejected is a row with no usable id: its line in the CSV and why (never
// its content).
type Rejected struct {
	Line   int
	Reason string
}

// Result is what Derive found.
type Result struct {
	Rows       int      // data rows read
	FromSafety int      // rows whose id came from Safety Code because Concept Id was mangled
	Given      []string // concept ids of immunisations given, sorted
	NotGiven   []string // concept ids recording a vaccination not given, sorted
	Rejected   []Rejected
}

// notGivenMarkers mark a description whose concept records that a
// vaccination did not happen.
var notGivenMarkers = []string{"not done", "not given", "not available"}

// Derive reads the CSV. valid is the SCTID check (record.ValidSCTID); it
// is passed in so that the record package's own test can call Derive
// without an import cycle.
func Derive(r io.Reader, valid func(string) bool) (*Result, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	hdr, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("line 1: no header: %v", err)
	}
	col := map[string]int{}
	for i, h := range hdr {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	ci, okC := col["concept id"]
	di, okD := col["description"]
	si, okS := col["safety code"]
	if !okC || !okD || !okS {
		return nil, errors.New("line 1: header lacks Concept Id, Description or Safety Code")
	}
	res := &Result{}
	given, notGiven := map[string]bool{}, map[string]bool{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		res.Rows++
		if len(rec) <= ci || len(rec) <= di || len(rec) <= si {
			res.Rejected = append(res.Rejected, Rejected{line, "missing column"})
			continue
		}
		cid, safety := strings.TrimSpace(rec[ci]), strings.TrimSpace(rec[si])
		id := safety
		switch {
		case safety == "" && cid != "":
			id = cid
		case cid == safety:
		case cid == RoundSignificant(safety, 6):
			res.FromSafety++
		default:
			res.Rejected = append(res.Rejected, Rejected{line, "Concept Id and Safety Code disagree"})
			continue
		}
		if !valid(id) || id[len(id)-2] != '0' {
			res.Rejected = append(res.Rejected, Rejected{line, "no valid concept id (Verhoeff check or partition)"})
			continue
		}
		desc := strings.ToLower(rec[di])
		ng := false
		for _, m := range notGivenMarkers {
			ng = ng || strings.Contains(desc, m)
		}
		if ng {
			notGiven[id] = true
		} else {
			given[id] = true
		}
	}
	for id := range notGiven {
		if given[id] {
			return nil, fmt.Errorf("concept %s is both given and not given", id)
		}
	}
	res.Given, res.NotGiven = sorted(given), sorted(notGiven)
	return res, nil
}

// RoundSignificant rounds a decimal digit string to n significant digits
// (half up), keeping its length, as a spreadsheet shows a long number.
// It returns "" for a string that is not all digits.
func RoundSignificant(s string, n int) string {
	if s == "" || len(s) <= n {
		return s
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || strings.ContainsAny(s, "+-") {
		return ""
	}
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(s)-n)), nil)
	half := new(big.Int).Rsh(scale, 1)
	q := new(big.Int).Div(new(big.Int).Add(v, half), scale)
	return q.Mul(q, scale).String()
}

func sorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) < len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

// header is written apart from the template so that go generate, which
// scans source lines, does not take it for this file's own directive.
const header = "// Code generated by go run ./internal/immgen/gen; DO NOT EDIT.\n\n" +
	"//" + "go:generate go run ./internal/immgen/gen -csv ../../../shared/reference/snomed/snomed_immunization_codes.csv -o immunisations.go\n"

// Render returns the Go source of immunisations.go for res.
func Render(res *Result) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(header)
	fmt.Fprintf(&b, `
package record

// Derived from the SNOMED CT immunisation concepts listed by
// %s @ %s,
// %s
// (licence: %s). Concept ids only: the
// list's terms are not copied. %d rows read; %d ids taken from the "Safety
// Code" column where a spreadsheet had rounded "Concept Id"; %d rows
// rejected. Every id passes the Verhoeff check and is in a concept
// partition (adapters/record/internal/immgen says how rows are read).

// snomedImmunisations is the shipped SNOMED CT immunisation code set:
// concepts recording an immunisation given (%d ids).
var snomedImmunisations = map[string]bool{
`, SourceRepository, SourceCommit, SourcePath, SourceLicence, res.Rows, res.FromSafety, len(res.Rejected), len(res.Given))
	for _, id := range res.Given {
		fmt.Fprintf(&b, "%q: true,\n", id)
	}
	fmt.Fprintf(&b, `}

// snomedImmunisationsNotGiven holds the listed concepts that record a
// vaccination NOT given (not done, dose not given, vaccine not available;
// %d ids). They are kept out of snomedImmunisations so that nothing not
// given is ever shown as an immunisation.
var snomedImmunisationsNotGiven = map[string]bool{
`, len(res.NotGiven))
	for _, id := range res.NotGiven {
		fmt.Fprintf(&b, "%q: true,\n", id)
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}
