// Package record is MIG's neutral coded record: what every adapter fills from
// a GP extract and the one FHIR mapper reads. It has no field that can hold
// free text. Terms, names, addresses and the dosage exception are distinct
// types (text.go) that only packages under adapters/ construct; a test in
// this package (leak_test.go) proves that nothing else does.
package record

import (
	"time"
	_ "time/tzdata" // Europe/London must load on hosts without a zone database
)

// Kind is what an entry is, decided by the adapter from the extract's
// structure first, then from its code (Classifier, REFERENCE.md "Dataset
// rules"). KindNone entries are kept (access control reads sharing-consent
// codes from them) but never shown.
type Kind uint8

const (
	KindNone                    Kind = iota
	KindProblem                      // problem header: GP2GP LinkSet, EMIS Problem, TPP problem
	KindDiagnosis                    // coded diagnosis (Read v2 A-Q, R, S) not itself a problem header
	KindMedicationAuthorisation      // a prescribing authorisation (acute or repeat)
	KindMedicationIssue              // one prescription issued
	KindAllergy                      // allergy or intolerance, or coded "no known allergies"
	KindBloodPressure                // one paired systolic/diastolic reading
	KindInvestigation                // a test result, or a battery/report grouping results
	KindProcedure                    // an operation or other procedure
	KindImmunisation                 // an immunisation given
	KindRisk                         // a risk or warning (configured code set, EMIS alerts)
	KindEncounter                    // a consultation
	KindAdmission                    // a hospital admission (Read 8H1./8H2.)
	KindReferral                     // a referral
)

var kindNames = [...]string{"none", "problem", "diagnosis", "medication-authorisation",
	"medication-issue", "allergy", "blood-pressure", "investigation", "procedure",
	"immunisation", "risk", "encounter", "admission", "referral"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Status is the clinical or workflow status of an entry.
type Status uint8

const (
	StatusUnknown   Status = iota
	StatusActive           // active problem, current authorisation, active allergy
	StatusInactive         // past problem, inactive allergy
	StatusResolved         // resolved problem or allergy
	StatusCompleted        // authorisation that ran its course (ended)
	StatusStopped          // authorisation discontinued
)

var statusNames = [...]string{"unknown", "active", "inactive", "resolved", "completed", "stopped"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "unknown"
}

// Precision is how much of a Date the source gave.
type Precision uint8

const (
	PrecisionNone Precision = iota
	PrecisionYear
	PrecisionMonth
	PrecisionDay
	PrecisionMinute
	PrecisionSecond
)

// Date is a point in time with the precision the source recorded. Times are
// kept in UTC; a date-only value has its time at midnight UTC.
type Date struct {
	T time.Time
	P Precision
}

// IsZero reports whether no date was given.
func (d Date) IsZero() bool { return d.P == PrecisionNone }

// Until returns the first instant after the period d names: an end date
// covers its whole day, month or year.
func (d Date) Until() time.Time {
	switch d.P {
	case PrecisionYear:
		return d.T.AddDate(1, 0, 0)
	case PrecisionMonth:
		return d.T.AddDate(0, 1, 0)
	case PrecisionDay:
		return d.T.AddDate(0, 0, 1)
	}
	return d.T
}

// Code system URIs (REFERENCE.md).
const (
	SystemReadV2 = "http://read.info/readv2"
	SystemCTV3   = "http://read.info/ctv3"
	SystemSNOMED = "http://snomed.info/sct" // also dm+d, which is SNOMED
	SystemLOINC  = "http://loinc.org"
	// SystemEMISDrug is EMIS Web's own preparation code (design: ours).
	SystemEMISDrug = "https://fhir.hl7.org.uk/Id/emis-drug-codes"
	// SystemEMISLocal and SystemTPPLocal hold practice or supplier local codes.
	// They are shown only with a national code beside them, and their terms
	// are never kept (they are free text).
	SystemEMISLocal = "https://fhir.hl7.org.uk/Id/emis-local-codes"
	SystemTPPLocal  = "https://fhir.hl7.org.uk/Id/tpp-local-codes"
)

// CodeShaped reports whether s has the shape of a code: 1 to 64 letters,
// digits, full stops, hyphens and underscores. A local code is kept (never
// its term) only in that shape: a code attribute can hold any text.
func CodeShaped(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Coding is one code with the term the GP system gave for it.
type Coding struct {
	System string
	Code   string
	Term   Term // zero for local codes: their terms are free text
	// DescriptionID is a SNOMED CT description id the source sent in place
	// of a concept id (SNOMEDCoding puts it here). Code is then empty until
	// a loaded release translates it to its concept; a coding with no Code
	// is never shown, and a shown one carries the description id in the
	// coding-sctdescid extension.
	DescriptionID string
}

// Concept is a coded concept: the code as entered first, then translations.
type Concept struct {
	Codings []Coding
}

// IsZero reports whether the concept has no coding.
func (c Concept) IsZero() bool { return len(c.Codings) == 0 }

// Has reports whether c already holds cd (same system, code and
// description id): adapters add a coding only once.
func (c Concept) Has(cd Coding) bool {
	for _, x := range c.Codings {
		if x.System == cd.System && x.Code == cd.Code && x.DescriptionID == cd.DescriptionID {
			return true
		}
	}
	return false
}

// Find returns the first coding in system, if any.
func (c Concept) Find(system string) (Coding, bool) {
	for _, cd := range c.Codings {
		if cd.System == system {
			return cd, true
		}
	}
	return Coding{}, false
}

// Quantity is a measured value. Value is a decimal number as written in the
// source (kept as text so that precision is not lost; adapters check that it
// is a number). Unit is set only through SetUnit, which keeps a unit only
// when it is valid UCUM or a unit string GP systems are known to use
// (units.go); a unit the source gave that fails that test is not kept, and
// UnitWithheld says so, so that a number is never shown as if it had no unit.
type Quantity struct {
	Value        string
	Unit         string
	Comparator   string // "", "<", "<=", ">=", ">"
	UnitWithheld bool   // the source gave a unit that could not be vetted
}

// Range is a reference range.
type Range struct {
	Low, High *Quantity
}

// Person is a clinician who authored an entry.
type Person struct {
	ID   string // SDS user id or the source's person id
	Name HumanName
	Role Concept
}

// ProblemInfo is what a problem header adds.
type ProblemInfo struct {
	Significance string   // "major", "minor" or ""
	Links        []string // IDs of entries linked to the problem
	// Provisional marks a problem the GP system records as potential, not
	// confirmed (EMIS ProblemStatus 3): shown as provisional, not in the
	// Summary.
	Provisional bool
}

// Prescription types.
const (
	PrescriptionAcute            = "acute"
	PrescriptionRepeat           = "repeat"
	PrescriptionRepeatDispensing = "repeat-dispensing"
)

// MedicationInfo is what a medication authorisation or issue adds.
type MedicationInfo struct {
	Dosage         DosageText // the named free-text exception: clinicians need the dose
	Quantity       DosageText // quantity as prescribed, e.g. "28 tablet"
	QuantityValue  *Quantity  // quantity as a number, where coded
	Type           string     // Prescription* constant
	Authorisation  string     // for an issue: ID of its authorisation
	RepeatsAllowed int        // for an authorisation; 0 = not stated
	RepeatsIssued  int
	DurationDays   int // expected supply duration, 0 = not stated
}

// Allergy categories.
const (
	AllergyDrug    = "medication"
	AllergyOther   = "other"
	AllergyNoKnown = "no-known" // coded "no known allergies": distinct from nothing recorded
)

// AllergyInfo is what an allergy adds.
type AllergyInfo struct {
	Category  string  // Allergy* constant
	Substance Concept // the allergen where coded apart from the allergy code
	Reaction  Concept // coded manifestation, if any
	// AllergenUncoded marks an allergy recorded under a national allergy
	// heading (Read 14L.., a SNOMED allergy concept) whose allergen is
	// local, uncoded or narrative only: still an allergy, shown with the
	// heading's code and the "allergen not coded" marker.
	AllergenUncoded bool
	// Confirmed is set only when the source says the allergy was
	// confirmed; otherwise verificationStatus is left unstated.
	Confirmed bool
}

// ReferralInfo is what a referral adds.
type ReferralInfo struct {
	Priority  string // "routine", "urgent", "asap", "stat" or ""
	Recipient string // ODS code of the organisation referred to, if given
	Specialty Concept
}

// Entry is one coded item of the record.
type Entry struct {
	ID        string // the source's id for the item (stable across extracts)
	Kind      Kind
	Code      Concept
	Status    Status
	Effective Date // when it happened, onset, or start
	End       Date // end, resolution, abatement
	Recorded  Date // when it was entered

	Value *Quantity
	// ValueRange is a result the source gave as an interval with two
	// different bounds (GP2GP IVL_PQ low and high): shown as valueRange, so
	// neither bound is lost. Value is nil then.
	ValueRange     *Range
	Range          *Range
	Interpretation Concept // coded abnormal flag (H, L, ...), if any

	// Planned marks a statement of intent (GP2GP moodCode INT, a recall, a
	// vaccination due, a planned operation): never shown as something that
	// happened. Kind still says what kind of thing is planned.
	Planned bool
	// NotShown says, for a KindNone entry, why it is not shown: the dataset
	// rule (Rule* constants) or RuleUnclassifiable. Reports and the
	// response's warning read it; it is never free text.
	NotShown Rule

	Systolic, Diastolic *Quantity // KindBloodPressure only, in mm[Hg]
	// SystolicRange and DiastolicRange are the halves' reference ranges.
	SystolicRange, DiastolicRange *Range
	// SystolicCode and DiastolicCode (KindBloodPressure only) are the codes
	// the GP system recorded for each half of the reading, as entered then
	// translations (they say, for one, whether it was taken sitting,
	// standing or lying); zero when the source gave none. Code holds only a
	// code of the whole reading.
	SystolicCode, DiastolicCode Concept

	Parent  string   // ID of the battery or report this result belongs to
	Members []string // IDs of a battery's or report's results
	// Battery marks a battery or report header (Finish sets it from
	// Members as the adapter read them): shown only while it holds a value
	// or a member that is shown.
	Battery bool

	Problem    *ProblemInfo
	Medication *MedicationInfo
	Allergy    *AllergyInfo
	Referral   *ReferralInfo

	Encounter    string // ID of the consultation (KindEncounter entry) it was recorded in
	Author       *Person
	Organisation string // ODS code of the organisation where it was recorded, if known

	// Views is filled once, by Tag, from the view rules in views.go.
	Views []View
}

// InView reports whether the entry is tagged with v.
func (e *Entry) InView(v View) bool {
	for _, w := range e.Views {
		if w == v {
			return true
		}
	}
	return false
}

// Sex is administrative gender.
type Sex uint8

const (
	SexUnknown Sex = iota
	SexMale
	SexFemale
	SexOther
)

func (s Sex) String() string {
	return [...]string{"unknown", "male", "female", "other"}[s]
}

// Patient is the identity and demographics the extract (or the deployment's
// demographics source) carries.
type Patient struct {
	NHSNumber    string
	Name         HumanName
	BirthDate    Date
	Sex          Sex
	Address      Address
	PracticeODS  string // registered GP practice
	Deceased     bool
	DeceasedDate Date
	Deducted     bool // no longer registered at the practice
	Sensitive    bool // flagged sensitive in demographics: address withheld
}

// Record is a patient's coded record as one adapter read it.
type Record struct {
	Format    string // adapter name: gp2gp, emis, tpp
	Extracted Date   // when the GP system produced the extract
	Patient   Patient
	Entries   []Entry
	// SharingFlags are the GP system's own record-sharing settings, where a
	// format has one that really is about sharing the record (not, say,
	// TPP's SMSConsent, which is about text messages). Coded consent and
	// dissent entries stay ordinary entries.
	SharingFlags []SharingFlag
	// Withheld is set when the adapter left out items the GP system marked
	// confidential. Responses say something was withheld, never what.
	Withheld bool
	// WithheldIDs are the source ids of the items left out as confidential
	// (Withhold adds them); Finish withholds what links to them.
	WithheldIDs []string
	// Stats counts what the adapter read, for migctl map --report.
	Stats Stats
}

// Stats is what an adapter counts while it reads an extract.
type Stats struct {
	Read      int // items read: coded clinical statements and consultations; a blood pressure pair is one
	Withheld  int // of those, left out as confidential (directly or through a link)
	Duplicate int // repeats of an act already read (same id, same content)
}

// SharingFlag is one record-sharing setting of the GP system.
type SharingFlag struct {
	Setting string // which setting, e.g. "tpp:sharing-out"
	Consent bool   // true: consent to share; false: dissent
	Date    Date   // when it was set, if the format says
}

// Index returns a map from entry ID to its position in Entries.
func (r *Record) Index() map[string]int {
	m := make(map[string]int, len(r.Entries))
	for i := range r.Entries {
		if r.Entries[i].ID != "" {
			m[r.Entries[i].ID] = i
		}
	}
	return m
}

// UKTime is the zone GP systems record wall-clock times in. Adapters read
// a time written without a zone as UK local time and keep it in UTC, so the
// same moment from any GP system is the same instant.
var UKTime = mustZone("Europe/London")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic("record: time zone " + name + ": " + err.Error())
	}
	return loc
}
