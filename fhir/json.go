package fhir

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"mig"
	"mig/fhir/fhirjson"

	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// MarshalResource returns the compact R4 JSON of res: what google/fhir/go's
// jsonformat writes (NewMarshaller(false, "", "", R4)), written by
// fhirjson at several times its speed, with dropEmptyUnit applied. It never
// writes to res: a proto may be written again, and from several
// goroutines. jsonformat stays the reference in tests (fhirjsontest).
func MarshalResource(res *bcrpb.ContainedResource) ([]byte, error) {
	if res == nil || res.GetOneofResource() == nil {
		return nil, mig.Errorf(mig.EINTERNAL, "no resource to marshal")
	}
	b, err := writeResource(res)
	if err != nil {
		// The error names a field, never a value; wrapped all the same.
		return nil, &mig.Error{Code: mig.EINTERNAL, Message: "a resource could not be written as FHIR JSON", Err: err}
	}
	return dropEmptyUnit(b), nil
}

// writeResource writes a resource: fhirjson. Only the benchmark build
// (-tags migbench, bench_toolchain.go) puts anything else here.
var writeResource = fhirjson.Marshal

// dropEmptyUnit removes the empty "unit" or "display" jsonformat writes
// beside one that holds only its data-absent-reason extension (unitAbsent,
// a masked display): FHIR strings are never empty, and "_unit" or
// "_display" alone is the R4 form. jsonformat sorts keys, so the empty
// string always follows a comma; a shown unit or display is never empty,
// and a JSON string cannot hold the unescaped pattern.
func dropEmptyUnit(b []byte) []byte {
	if bytes.Contains(b, []byte(`"_unit":`)) {
		b = bytes.ReplaceAll(b, []byte(`,"unit":""`), nil)
	}
	if bytes.Contains(b, []byte(`"_display":`)) {
		b = bytes.ReplaceAll(b, []byte(`,"display":""`), nil)
	}
	return b
}

// Link is a Bundle link (self, next, previous).
type Link struct {
	Relation string
	URL      string
}

// Search modes of a searchset entry.
const (
	ModeMatch   = "match"
	ModeInclude = "include"
	ModeOutcome = "outcome"
)

// BundleEntry is one entry of a Bundle: Resource is the resource's JSON
// (from MarshalResource, OperationOutcome or WithheldWarning), written as
// is. Mode is the search mode, searchset only.
type BundleEntry struct {
	FullURL  string
	Resource []byte
	Mode     string
}

// now is the clock of Bundle timestamps (tests replace it).
var now = time.Now

// SearchSet returns a searchset Bundle with the total number of matches,
// the links and the entries.
func SearchSet(total int, links []Link, entries []BundleEntry) []byte {
	return bundle("searchset", total, links, entries)
}

// Collection returns a collection Bundle of the entries (no total, no
// search modes): the shape of a whole-record ($everything-style) answer.
func Collection(links []Link, entries []BundleEntry) []byte {
	return bundle("collection", -1, links, entries)
}

func bundle(kind string, total int, links []Link, entries []BundleEntry) []byte {
	size := 160
	for _, e := range entries {
		size += len(e.Resource) + len(e.FullURL) + 64
	}
	b := bytes.NewBuffer(make([]byte, 0, size))
	b.WriteString(`{"resourceType":"Bundle","meta":{"lastUpdated":`)
	ts := now().UTC().Truncate(time.Second).Format(time.RFC3339)
	writeString(b, ts)
	b.WriteString(`},"type":`)
	writeString(b, kind)
	b.WriteString(`,"timestamp":`)
	writeString(b, ts)
	if total >= 0 {
		b.WriteString(`,"total":`)
		b.WriteString(strconv.Itoa(total))
	}
	if len(links) > 0 {
		b.WriteString(`,"link":[`)
		for i, l := range links {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"relation":`)
			writeString(b, l.Relation)
			b.WriteString(`,"url":`)
			writeString(b, l.URL)
			b.WriteByte('}')
		}
		b.WriteByte(']')
	}
	if len(entries) > 0 {
		b.WriteString(`,"entry":[`)
		for i, e := range entries {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('{')
			sep := false
			if e.FullURL != "" {
				b.WriteString(`"fullUrl":`)
				writeString(b, e.FullURL)
				sep = true
			}
			if len(e.Resource) > 0 {
				if sep {
					b.WriteByte(',')
				}
				b.WriteString(`"resource":`)
				b.Write(e.Resource)
				sep = true
			}
			if kind == "searchset" && e.Mode != "" {
				if sep {
					b.WriteByte(',')
				}
				b.WriteString(`"search":{"mode":`)
				writeString(b, e.Mode)
				b.WriteByte('}')
			}
			b.WriteByte('}')
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
	return b.Bytes()
}

// writeString writes s as a JSON string.
func writeString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s) // a string always marshals
	b.Write(q)
}

// spineCodeDisplay gives the display of the GP Connect style codes we send.
var spineCodeDisplay = map[string]string{
	mig.IssueNoPatientConsent:      "No patient consent to share",
	mig.IssueNoOrganisationConsent: "Organisation has not given consent to share",
	mig.IssueAccessDenied:          "Access denied",
	mig.IssuePatientNotFound:       "Patient not found",
	mig.IssueNoViewConsent:         "No consent to view recorded",
	mig.IssueInvalidParameter:      "Invalid parameter",
	mig.IssueInvalidNHSNumber:      "Invalid NHS number",
	mig.IssueBadRequest:            "Bad request",
	mig.IssueNotImplemented:        "Not implemented",
	mig.IssueInvalidResource:       "Invalid resource",
	mig.IssueGPSystemUnavailable:   "GP system unavailable",
	mig.IssueAuditUnavailable:      "Audit store unavailable",
	mig.IssueDuplicatePatient:      "Duplicate patient",
	mig.IssueIdentityMismatch:      "Identity mismatch",
	mig.IssueMalformedExtract:      "Malformed extract",
	"RESOURCE_NOT_FOUND":           "Resource not found",
	"INTERNAL_SERVER_ERROR":        "Internal server error",
}

// OperationOutcome returns an OperationOutcome with one issue. severity is
// fatal, error, warning or information; issueType an R4 issue-type code
// (invalid, forbidden, not-found, ...); detailsCode a GP Connect style code
// in the Spine-ErrorOrWarningCode system ("" for none); diagnostics a
// content-free message (mig.ErrorMessage), "" for none.
func OperationOutcome(severity, issueType, detailsCode, diagnostics string) []byte {
	b := bytes.NewBuffer(make([]byte, 0, 256))
	b.WriteString(`{"resourceType":"OperationOutcome","issue":[{"severity":`)
	writeString(b, severity)
	b.WriteString(`,"code":`)
	writeString(b, issueType)
	if detailsCode != "" {
		b.WriteString(`,"details":{"coding":[{"system":`)
		writeString(b, SystemSpineErrorCode)
		b.WriteString(`,"code":`)
		writeString(b, detailsCode)
		if disp := spineCodeDisplay[detailsCode]; disp != "" {
			b.WriteString(`,"display":`)
			writeString(b, disp)
		}
		b.WriteString(`}]}`)
	}
	if diagnostics != "" {
		b.WriteString(`,"diagnostics":`)
		writeString(b, diagnostics)
	}
	b.WriteString(`}]}`)
	return b.Bytes()
}

// WithheldMessage is the diagnostics of WithheldWarning.
const WithheldMessage = "Some items of this record were withheld: they are confidential, sensitive, or outside the sharing agreement."

// WithheldWarning returns the OperationOutcome that tells a client some
// items were left out, never what or how many.
func WithheldWarning() []byte {
	return OperationOutcome("warning", "suppressed", "", WithheldMessage)
}

// UnclassifiedMessage is the diagnostics of UnclassifiedWarning.
const UnclassifiedMessage = "Some coded items could not be shown here: check with the GP practice."

// UnclassifiedWarning returns the OperationOutcome that tells a client the
// record holds coded items no dataset rule could place (a code system or
// code we cannot classify): distinct from withheld, which is a decision.
func UnclassifiedWarning() []byte {
	return OperationOutcome("warning", "incomplete", "", UnclassifiedMessage)
}

// FullURL returns the fullUrl of a resource served at the mapper's base.
func (m *Mapper) FullURL(resourceType, id string) string {
	base := m.Base
	for len(base) > 0 && base[len(base)-1] == '/' {
		base = base[:len(base)-1]
	}
	return base + "/" + resourceType + "/" + id
}
