package consent

import (
	"time"

	"mig/adapters/record"
)

// ShareCodes are the coded entries that record a patient's consent or
// dissent to share the GP record. Codes match exactly (Read v2 term
// suffixes aside): sharing decisions are single codes, not hierarchies.
type ShareCodes struct {
	Consent CodeList `json:"consent"`
	Dissent CodeList `json:"dissent"`
}

// DefaultShareCodes returns the shipped consent and dissent codes.
//
// Sources:
//   - Read v2: Vision's GP Connect guidance (Cegedim help centre), as
//     collected in REFERENCE.md "Dataset rules": 9Nd7.00 consent given for
//     electronic record sharing, 93C0.00 consent given for upload to local
//     shared electronic record; 9Nd1.00 no consent for electronic record
//     sharing, 93C1.00 refused consent for upload to local shared electronic
//     record. The Summary Care Record codes (9Ndl./9Ndm./9Ndn./9Ndo.) are
//     about the national SCR and deliberately left out.
//   - CTV3: these Read v2 codes are carried unchanged by CTV3 (TPP records
//     9Nd7. as CTV3; MIG test data, ARCHITECTURE.md item 1); listed here as
//     CTV3 codes too.
//   - SNOMED CT: NHS Digital DocumentConsentSnCT subset (original id
//     43961000000137, as published in the NHS ITK / Integrated Urgent Care
//     domain message specifications): 425691002 consent given for
//     electronic record sharing, 417528008 consent given for upload to local
//     shared electronic record, 416409005 refused consent for upload to
//     local shared electronic record. 887031000000108 is the translation the
//     MIG test extracts carry for 9Nd7. (ARCHITECTURE.md item 1). No sourced
//     SNOMED equivalent of 9Nd1. was found: add it in configuration when
//     confirmed.
func DefaultShareCodes() ShareCodes {
	const cegedim = "Cegedim Vision GP Connect guidance (REFERENCE.md dataset rules)"
	const subset = "NHS Digital DocumentConsentSnCT subset 43961000000137"
	return ShareCodes{
		Consent: CodeList{
			{System: record.SystemReadV2, Code: "9Nd7.", Source: cegedim},
			{System: record.SystemReadV2, Code: "93C0.", Source: cegedim},
			{System: record.SystemCTV3, Code: "9Nd7.", Source: "CTV3 twin of Read v2 9Nd7. (MIG test data)"},
			{System: record.SystemCTV3, Code: "93C0.", Source: "CTV3 twin of Read v2 93C0."},
			{System: record.SystemSNOMED, Code: "425691002", Source: subset},
			{System: record.SystemSNOMED, Code: "417528008", Source: subset},
			{System: record.SystemSNOMED, Code: "887031000000108", Source: "MIG test data translation of 9Nd7. (ARCHITECTURE.md)"},
		},
		Dissent: CodeList{
			{System: record.SystemReadV2, Code: "9Nd1.", Source: cegedim},
			{System: record.SystemReadV2, Code: "93C1.", Source: cegedim},
			{System: record.SystemCTV3, Code: "9Nd1.", Source: "CTV3 twin of Read v2 9Nd1."},
			{System: record.SystemCTV3, Code: "93C1.", Source: "CTV3 twin of Read v2 93C1."},
			{System: record.SystemSNOMED, Code: "416409005", Source: subset},
		},
	}
}

// codeSet turns a CodeList into an exact-match record.CodeSet.
func codeSet(l CodeList) record.CodeSet {
	s := make(record.CodeSet, len(l))
	for _, r := range l {
		s[record.CodeKey(r.System, r.Code)] = true
	}
	return s
}

// ShareStatusOf returns the patient's consent to share as the record holds
// it: coded consent and dissent entries (of any Kind) and the GP system's
// sharing flags. The latest dated decision wins; a consent and a dissent on
// the same day give dissent. Undated decisions count as older than any
// dated one; among undated ones, dissent wins. Nothing recorded: ShareNone.
func ShareStatusOf(rec *record.Record, codes ShareCodes) ShareStatus {
	if rec == nil {
		return ShareNone
	}
	consent, dissent := codeSet(codes.Consent), codeSet(codes.Dissent)
	var (
		found  bool
		status ShareStatus
		latest time.Time // day of the winning decision (zero: undated)
	)
	decide := func(isConsent bool, d record.Date) {
		day := dayOf(d)
		s := ShareDissent
		if isConsent {
			s = ShareConsent
		}
		switch {
		case !found, day.After(latest):
			status, latest, found = s, day, true
		case day.Equal(latest) && s == ShareDissent:
			status = ShareDissent
		}
	}
	for i := range rec.Entries {
		e := &rec.Entries[i]
		d := e.Effective
		if d.IsZero() {
			d = e.Recorded
		}
		// A code in both lists (misconfiguration) counts as dissent.
		if dissent.Has(e.Code) {
			decide(false, d)
		} else if consent.Has(e.Code) {
			decide(true, d)
		}
	}
	for _, f := range rec.SharingFlags {
		decide(f.Consent, f.Date)
	}
	if !found {
		return ShareNone
	}
	return status
}

// dayOf cuts a date to its UTC day; an undated value is the zero time.
func dayOf(d record.Date) time.Time {
	if d.IsZero() {
		return time.Time{}
	}
	t := d.T.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
