// Package ips builds the International Patient Summary (IPS 2.0, STU2) of a
// patient's GP record: a document Bundle whose first entry is the
// Composition, then the Patient, the gateway as the author (a Device), and
// every resource a section lists, each once.
//
// It works on the record as one request may see it (the mapper's resources
// once the access rules have filtered them) and adds nothing from the
// record that those resources do not already show: sections are drawn from
// the views the request's sharing agreement covers, their narrative only
// from the resources' codes, chosen displays, dates, statuses and values
// (narrative.go), and what was withheld is said in the document itself
// (ARCHITECTURE.md, "The patient summary").
package ips

import (
	"time"

	"mig"
	"mig/adapters/record"
	"mig/fhir"

	c "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	comppb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/composition_go_proto"
	devpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/device_go_proto"
	vs "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/valuesets_go_proto"
)

// Systems, codes and extensions the document uses.
const (
	SystemLOINC           = "http://loinc.org"
	SystemListEmptyReason = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
	// ExtNote is the core "note" extension (Annotation), which IPS 2.0
	// takes as section-note on Composition.section; the document also
	// carries it on the Composition for what concerns the whole record.
	ExtNote = "http://hl7.org/fhir/StructureDefinition/note"
	// CodeSummary is LOINC 60591-5, Patient summary Document.
	CodeSummary   = "60591-5"
	systemRFC3986 = "urn:ietf:rfc:3986"
)

// What a section says when it cannot list everything (fixed words of ours).
const (
	// NotCoveredText: a required section whose view the agreement does not
	// cover (emptyReason withheld).
	NotCoveredText = "Not shared: the sharing agreement does not cover this part of the GP record."
	// AllWithheldText: everything the section would list was withheld by
	// the access rules (emptyReason withheld).
	AllWithheldText = "Items of this kind were withheld under the access rules: none can be listed here."
	// SomeWithheldText: the section lists what is shown; some items were
	// withheld by the access rules.
	SomeWithheldText = "Some items of this kind were withheld under the access rules and are not listed."
	// ConfidentialText: the GP system marked items confidential and the
	// gateway left them out before any rule could say what they were; the
	// section cannot tell whether they were of its kind.
	ConfidentialText = "Items the GP practice marked confidential are never shared: some were left out of this record, and may be of this kind."
	// IntroText opens the Composition's narrative.
	IntroText = "International Patient Summary of the patient's GP record, read live from the GP system by MIG: what the sharing agreement lets the requesting organisation see, coded data only."
	// NotSharedPrefix opens the Composition narrative's list of optional
	// sections the agreement does not cover (they are left out).
	NotSharedPrefix = "Not shared under the sharing agreement, so not in this summary: "
)

// Author is the gateway, the author of every summary it writes.
type Author struct {
	Name    string // e.g. "MIG - Medical Interoperability Gateway"
	Version string // software version; "" for none
}

// Input is what a summary is built from.
type Input struct {
	// Base is the FHIR base URL: resources' fullUrls are Base/Type/id,
	// which their relative references resolve against.
	Base    string
	Patient fhir.Resource
	// Resources are the record's resources as this request may see them
	// (the mapper's result, filtered by the access rules).
	Resources []fhir.Resource
	// Covered are the views the request's sharing agreement covers.
	Covered []record.View
	// Withheld are the record's entries the access rules withheld; each
	// is said in the section that would list it.
	Withheld []*record.Entry
	// Confidential: the adapter left out items the GP system marked
	// confidential (record.Record.Withheld); said in every section present.
	Confidential bool
	// RecordWithheld: something of the record was withheld, for whatever
	// reason; said once for the whole document (fhir.WithheldMessage).
	RecordWithheld bool
	// Unclassified: the record holds coded items no rule could place
	// (fhir.UnclassifiedMessage).
	Unclassified bool
	Time         time.Time // when the summary is made
	Author       Author
	// NewID makes the document's identifier and Composition id; nil: a
	// random UUID each.
	NewID func() string
}

// Document is a built summary.
type Document struct {
	Bundle *bcrpb.ContainedResource
	// Released counts the resources in the document by type, for the
	// audit record.
	Released map[string]int
}

// sectionOut is a section as built, before it becomes a proto.
type sectionOut struct {
	def     Section
	entries []*bcrpb.ContainedResource
	refs    []string // Type/id of its entries
	urls    []string // their full URLs
	table   table
	reason  string // emptyReason code, "" for none
	notes   []string
	covered bool
}

// Build builds the summary document. The resources are copied: the
// document never changes what it was given.
func Build(in Input) (*Document, error) {
	if in.Patient.Proto == nil || in.Patient.ID == "" {
		return nil, mig.Errorf(mig.EINTERNAL, "summary: no Patient")
	}
	if in.Base == "" || in.Author.Name == "" {
		return nil, mig.Errorf(mig.EINTERNAL, "summary: base URL and author are required")
	}
	newID := in.NewID
	if newID == nil {
		newID = newUUID
	}
	covered := map[record.View]bool{}
	for _, v := range in.Covered {
		covered[v] = true
	}
	base := in.Base
	for len(base) > 0 && base[len(base)-1] == '/' {
		base = base[:len(base)-1]
	}

	// Pick each section's resources, in record order.
	var sections []*sectionOut
	var notShared []string
	inDoc := map[string]bool{}
	var picked []fhir.Resource
	add := func(rs fhir.Resource) {
		rel := rs.Type + "/" + rs.ID
		inDoc[rel], inDoc[base+"/"+rel] = true, true
		picked = append(picked, rs)
	}
	add(in.Patient)
	for _, def := range Sections {
		so := &sectionOut{def: def, covered: covered[def.View]}
		if !so.covered {
			if !def.Required {
				notShared = append(notShared, def.Title)
				continue
			}
			so.reason = "withheld"
			so.table.lines = []string{NotCoveredText}
			sections = append(sections, so)
			continue
		}
		var list []fhir.Resource
		auths := map[string]bool{}
		for _, rs := range in.Resources {
			if rs.Entry == nil || !def.holds(rs.Entry) || !def.lists(rs) || inDoc[rs.Type+"/"+rs.ID] {
				continue
			}
			list = append(list, rs)
			if rs.Entry.Kind == record.KindMedicationAuthorisation && rs.Entry.ID != "" {
				auths[rs.Entry.ID] = true
			}
		}
		withheld := false
		for _, e := range in.Withheld {
			if def.holds(e) {
				withheld = true
			}
		}
		for _, rs := range list {
			// An issue whose authorisation is listed is the same medication.
			if mi := rs.Entry.Medication; rs.Entry.Kind == record.KindMedicationIssue && mi != nil && auths[mi.Authorisation] {
				continue
			}
			add(rs)
			so.refs = append(so.refs, rs.Type+"/"+rs.ID)
			so.urls = append(so.urls, base+"/"+rs.Type+"/"+rs.ID)
		}
		switch {
		case len(so.refs) == 0 && withheld:
			so.reason = "withheld"
			so.notes = append(so.notes, AllWithheldText)
		case len(so.refs) == 0:
			so.reason = "unavailable"
			so.table.lines = append(so.table.lines, def.Empty)
		case withheld:
			so.notes = append(so.notes, SomeWithheldText)
		}
		if in.Confidential {
			so.notes = append(so.notes, ConfidentialText)
		}
		sections = append(sections, so)
	}

	// Copy what goes in, claim the IPS profiles it meets, and keep only
	// references that resolve inside the document.
	copies := map[string]*bcrpb.ContainedResource{}
	released := map[string]int{"Composition": 1, "Device": 1}
	var entries []*bcrpb.Bundle_Entry
	for _, rs := range picked {
		cp := copyOf(rs.Proto)
		claim(cp, ipsProfile(cp))
		pruneReferences(cp, inDoc)
		copies[rs.Type+"/"+rs.ID] = cp
		released[rs.Type]++
		entries = append(entries, &bcrpb.Bundle_Entry{FullUrl: &d.Uri{Value: base + "/" + rs.Type + "/" + rs.ID}, Resource: cp})
	}
	for _, so := range sections {
		so.table.head = so.def.Head
		for _, ref := range so.refs {
			so.table.rows = append(so.table.rows, row(copies[ref]))
		}
		so.table.lines = append(so.table.lines, so.notes...)
	}

	deviceID := nameUUID(base + "/Device/mig-gateway")
	compID := newID()
	comp := composition(in, compID, "urn:uuid:"+deviceID, base+"/"+in.Patient.Type+"/"+in.Patient.ID, sections, notShared)
	device := &devpb.Device{
		Id: &d.Id{Value: deviceID},
		DeviceName: []*devpb.Device_DeviceName{{Name: &d.String{Value: in.Author.Name},
			Type: &devpb.Device_DeviceName_TypeCode{Value: c.DeviceNameTypeCode_USER_FRIENDLY_NAME}}},
	}
	if in.Author.Version != "" {
		device.Version = []*devpb.Device_Version{{Value: &d.String{Value: in.Author.Version}}}
	}
	head := []*bcrpb.Bundle_Entry{
		{FullUrl: &d.Uri{Value: "urn:uuid:" + compID}, Resource: &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Composition{Composition: comp}}},
	}
	// The Patient, then the author, then the sections' entries.
	head = append(head, entries[0], &bcrpb.Bundle_Entry{FullUrl: &d.Uri{Value: "urn:uuid:" + deviceID},
		Resource: &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Device{Device: device}}})
	entries = append(head, entries[1:]...)

	b := &bcrpb.Bundle{
		Meta:       &d.Meta{Profile: []*d.Canonical{{Value: ProfileBundle}}},
		Identifier: &d.Identifier{System: &d.Uri{Value: systemRFC3986}, Value: &d.String{Value: "urn:uuid:" + newID()}},
		Type:       &bcrpb.Bundle_TypeCode{Value: c.BundleTypeCode_DOCUMENT},
		Timestamp:  &d.Instant{ValueUs: in.Time.UTC().Truncate(time.Second).UnixMicro(), Precision: d.Instant_SECOND, Timezone: "Z"},
		Entry:      entries,
	}
	return &Document{Bundle: &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Bundle{Bundle: b}}, Released: released}, nil
}

// composition builds the Composition: subject, date, the gateway as
// author, the sections, and a narrative of what the whole record withheld.
// Its references are absolute (the entries' full URLs, the author's URN):
// its own full URL is a URN, against which a relative reference would not
// resolve.
func composition(in Input, id, author, subject string, sections []*sectionOut, notShared []string) *comppb.Composition {
	comp := &comppb.Composition{
		Id:         &d.Id{Value: id},
		Meta:       &d.Meta{Profile: []*d.Canonical{{Value: ProfileComposition}}},
		Identifier: &d.Identifier{System: &d.Uri{Value: systemRFC3986}, Value: &d.String{Value: "urn:uuid:" + id}},
		Status:     &comppb.Composition_StatusCode{Value: c.CompositionStatusCode_FINAL},
		Type:       concept(SystemLOINC, CodeSummary, "Patient summary Document"),
		Subject:    literal(subject),
		Date:       &d.DateTime{ValueUs: in.Time.UTC().Truncate(time.Second).UnixMicro(), Precision: d.DateTime_SECOND, Timezone: "Z"},
		Author:     []*d.Reference{literal(author)},
		Title:      &d.String{Value: "International Patient Summary"},
		// Health information of the usual kind: what is more sensitive is
		// withheld, never sent under a stricter label.
		Confidentiality: &comppb.Composition_ConfidentialityCode{Value: vs.V3ConfidentialityClassificationValueSet_N},
	}
	intro := table{lines: []string{IntroText}}
	if len(notShared) > 0 {
		l := NotSharedPrefix
		for i, t := range notShared {
			if i > 0 {
				l += ", "
			}
			l += t
		}
		intro.lines = append(intro.lines, l+".")
	}
	if in.RecordWithheld {
		intro.lines = append(intro.lines, fhir.WithheldMessage)
		comp.Extension = append(comp.Extension, note(fhir.WithheldMessage))
	}
	if in.Unclassified {
		intro.lines = append(intro.lines, fhir.UnclassifiedMessage)
		comp.Extension = append(comp.Extension, note(fhir.UnclassifiedMessage))
	}
	comp.Text = narrative(intro.xhtml())
	for _, so := range sections {
		s := &comppb.Composition_Section{
			Title: &d.String{Value: so.def.Title},
			Code:  concept(SystemLOINC, so.def.Code, so.def.Display),
			Text:  narrative(so.table.xhtml()),
		}
		for _, n := range so.notes {
			s.Extension = append(s.Extension, note(n))
		}
		for _, u := range so.urls {
			s.Entry = append(s.Entry, literal(u))
		}
		if so.reason != "" {
			s.EmptyReason = concept(SystemListEmptyReason, so.reason, emptyReasonDisplay[so.reason])
		}
		comp.Section = append(comp.Section, s)
	}
	return comp
}

var emptyReasonDisplay = map[string]string{"withheld": "Information Withheld", "unavailable": "Unavailable"}

func concept(system, code, display string) *d.CodeableConcept {
	return &d.CodeableConcept{Coding: []*d.Coding{{System: &d.Uri{Value: system}, Code: &d.Code{Value: code}, Display: &d.String{Value: display}}}}
}

func literal(ref string) *d.Reference {
	return &d.Reference{Reference: &d.Reference_Uri{Uri: &d.String{Value: ref}}}
}

// note is the "note" extension with a fixed text of ours.
func note(text string) *d.Extension {
	return &d.Extension{Url: &d.Uri{Value: ExtNote},
		Value: &d.Extension_ValueX{Choice: &d.Extension_ValueX_Annotation{Annotation: &d.Annotation{Text: &d.Markdown{Value: text}}}}}
}
