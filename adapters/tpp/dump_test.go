package tpp

import (
	"encoding/json"
	"time"

	"mig/adapters/record"
)

// The dump is a deterministic JSON view of a Record, text types read
// through their accessors, for golden files and leak checks.

type dCoding struct {
	System string `json:"system"`
	Code   string `json:"code"`
	Term   string `json:"term,omitempty"`
	DescID string `json:"descriptionId,omitempty"`
}

type dDate struct {
	T string `json:"t"`
	P int    `json:"p"`
}

type dName struct {
	Prefix string   `json:"prefix,omitempty"`
	Given  []string `json:"given,omitempty"`
	Family string   `json:"family,omitempty"`
}

type dPerson struct {
	ID   string    `json:"id"`
	Name *dName    `json:"name,omitempty"`
	Role []dCoding `json:"role,omitempty"`
}

type dMedication struct {
	Dosage         string           `json:"dosage,omitempty"`
	Quantity       string           `json:"quantity,omitempty"`
	QuantityValue  *record.Quantity `json:"quantityValue,omitempty"`
	Type           string           `json:"type"`
	Authorisation  string           `json:"authorisation,omitempty"`
	RepeatsAllowed int              `json:"repeatsAllowed,omitempty"`
	RepeatsIssued  int              `json:"repeatsIssued,omitempty"`
	DurationDays   int              `json:"durationDays,omitempty"`
}

type dEntry struct {
	ID             string              `json:"id"`
	Kind           string              `json:"kind"`
	Code           []dCoding           `json:"code,omitempty"`
	Status         string              `json:"status"`
	Effective      *dDate              `json:"effective,omitempty"`
	End            *dDate              `json:"end,omitempty"`
	Recorded       *dDate              `json:"recorded,omitempty"`
	Value          *record.Quantity    `json:"value,omitempty"`
	Range          *record.Range       `json:"range,omitempty"`
	Interpretation []dCoding           `json:"interpretation,omitempty"`
	Systolic       *record.Quantity    `json:"systolic,omitempty"`
	Diastolic      *record.Quantity    `json:"diastolic,omitempty"`
	SystolicCode   []dCoding           `json:"systolicCode,omitempty"`
	DiastolicCode  []dCoding           `json:"diastolicCode,omitempty"`
	Parent         string              `json:"parent,omitempty"`
	Members        []string            `json:"members,omitempty"`
	Problem        *record.ProblemInfo `json:"problem,omitempty"`
	Medication     *dMedication        `json:"medication,omitempty"`
	Allergy        *dAllergy           `json:"allergy,omitempty"`
	Referral       *dReferral          `json:"referral,omitempty"`
	Encounter      string              `json:"encounter,omitempty"`
	Author         *dPerson            `json:"author,omitempty"`
	Organisation   string              `json:"organisation,omitempty"`
	Planned        bool                `json:"planned,omitempty"`
	NotShown       string              `json:"notShown,omitempty"`
}

type dAllergy struct {
	Category        string    `json:"category"`
	Substance       []dCoding `json:"substance,omitempty"`
	Reaction        []dCoding `json:"reaction,omitempty"`
	AllergenUncoded bool      `json:"allergenUncoded,omitempty"`
	Confirmed       bool      `json:"confirmed,omitempty"`
}

type dReferral struct {
	Priority  string    `json:"priority,omitempty"`
	Recipient string    `json:"recipient,omitempty"`
	Specialty []dCoding `json:"specialty,omitempty"`
}

type dAddress struct {
	Lines      []string `json:"lines,omitempty"`
	City       string   `json:"city,omitempty"`
	District   string   `json:"district,omitempty"`
	PostalCode string   `json:"postalCode,omitempty"`
}

type dPatient struct {
	NHSNumber    string   `json:"nhsNumber"`
	Name         *dName   `json:"name,omitempty"`
	BirthDate    *dDate   `json:"birthDate,omitempty"`
	Sex          string   `json:"sex"`
	Address      dAddress `json:"address"`
	PracticeODS  string   `json:"practiceODS"`
	Deceased     bool     `json:"deceased"`
	DeceasedDate *dDate   `json:"deceasedDate,omitempty"`
	Deducted     bool     `json:"deducted"`
	Sensitive    bool     `json:"sensitive"`
}

type dFlag struct {
	Setting string `json:"setting"`
	Consent bool   `json:"consent"`
	Date    *dDate `json:"date,omitempty"`
}

type dRecord struct {
	Format       string       `json:"format"`
	Extracted    *dDate       `json:"extracted,omitempty"`
	Patient      dPatient     `json:"patient"`
	Entries      []dEntry     `json:"entries"`
	SharingFlags []dFlag      `json:"sharingFlags,omitempty"`
	Withheld     bool         `json:"withheld"`
	WithheldIDs  []string     `json:"withheldIds,omitempty"`
	Stats        record.Stats `json:"stats"`
}

func dumpDate(d record.Date) *dDate {
	if d.IsZero() {
		return nil
	}
	return &dDate{T: d.T.Format(time.RFC3339Nano), P: int(d.P)}
}

func dumpConcept(c record.Concept) []dCoding {
	var out []dCoding
	for _, cd := range c.Codings {
		out = append(out, dCoding{cd.System, cd.Code, cd.Term.String(), cd.DescriptionID})
	}
	return out
}

func dumpName(n record.HumanName) *dName {
	if n.IsZero() {
		return nil
	}
	return &dName{n.Prefix(), n.Given(), n.Family()}
}

// dump renders rec; withDosage false leaves out the dosage exception, for
// the free-text check.
func dump(rec *record.Record, withDosage bool) []byte {
	out := dRecord{Format: rec.Format, Extracted: dumpDate(rec.Extracted), Withheld: rec.Withheld, Entries: []dEntry{},
		WithheldIDs: rec.WithheldIDs, Stats: rec.Stats}
	p := rec.Patient
	out.Patient = dPatient{NHSNumber: p.NHSNumber, Name: dumpName(p.Name), BirthDate: dumpDate(p.BirthDate),
		Sex: p.Sex.String(), PracticeODS: p.PracticeODS, Deceased: p.Deceased, DeceasedDate: dumpDate(p.DeceasedDate),
		Deducted: p.Deducted, Sensitive: p.Sensitive,
		Address: dAddress{p.Address.Lines(), p.Address.City(), p.Address.District(), p.Address.PostalCode()}}
	for _, f := range rec.SharingFlags {
		out.SharingFlags = append(out.SharingFlags, dFlag{f.Setting, f.Consent, dumpDate(f.Date)})
	}
	for _, e := range rec.Entries {
		d := dEntry{ID: e.ID, Kind: e.Kind.String(), Code: dumpConcept(e.Code), Status: e.Status.String(),
			Effective: dumpDate(e.Effective), End: dumpDate(e.End), Recorded: dumpDate(e.Recorded),
			Value: e.Value, Range: e.Range, Interpretation: dumpConcept(e.Interpretation),
			Systolic: e.Systolic, Diastolic: e.Diastolic, SystolicCode: dumpConcept(e.SystolicCode),
			DiastolicCode: dumpConcept(e.DiastolicCode), Parent: e.Parent, Members: e.Members,
			Problem: e.Problem, Encounter: e.Encounter, Organisation: e.Organisation,
			Planned: e.Planned, NotShown: string(e.NotShown)}
		if m := e.Medication; m != nil {
			d.Medication = &dMedication{QuantityValue: m.QuantityValue, Type: m.Type, Authorisation: m.Authorisation,
				RepeatsAllowed: m.RepeatsAllowed, RepeatsIssued: m.RepeatsIssued, DurationDays: m.DurationDays}
			if withDosage {
				d.Medication.Dosage, d.Medication.Quantity = m.Dosage.String(), m.Quantity.String()
			}
		}
		if a := e.Allergy; a != nil {
			d.Allergy = &dAllergy{a.Category, dumpConcept(a.Substance), dumpConcept(a.Reaction), a.AllergenUncoded, a.Confirmed}
		}
		if r := e.Referral; r != nil {
			d.Referral = &dReferral{r.Priority, r.Recipient, dumpConcept(r.Specialty)}
		}
		if a := e.Author; a != nil {
			d.Author = &dPerson{a.ID, dumpName(a.Name), dumpConcept(a.Role)}
		}
		out.Entries = append(out.Entries, d)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}
