package record

import "strings"

// Classifier decides an entry's kind from its code when the extract's
// structure does not (REFERENCE.md "Dataset rules"). Adapters call KindOf
// only after the structural kinds (problem, medication, allergy, referral,
// consultation, immunisation element) have been ruled out.
type Classifier struct {
	// Risks is the configured risks-and-warnings code set, keyed by
	// CodeKey(system, code). Nil means DefaultRisks().
	Risks CodeSet
	// Hierarchy, when a deployment loads a SNOMED CT release, classifies
	// SNOMED-only codes by the sub-hierarchy table (snomed_rules.go).
	Hierarchy Hierarchy
}

// Hierarchy answers SNOMED CT subsumption from a loaded release.
type Hierarchy interface {
	// IsA reports whether concept is ancestor or one of its descendants
	// (active IS-A relationships, transitively).
	IsA(concept, ancestor string) bool
}

// Rule names why an entry is not shown (Entry.NotShown): a dataset rule, a
// structural reason, or RuleUnclassifiable. Rules are fixed words, never
// text from an extract.
type Rule string

const (
	RuleNone Rule = ""
	// RuleUnclassifiable: no national code, or a code no rule we hold
	// decides (a SNOMED-only code without a loaded release, say). Responses
	// say "some coded items could not be shown here".
	RuleUnclassifiable Rule = "unclassifiable"
	RuleDrugCode       Rule = "drug-code"            // Read a-z: medication only through its structure
	RuleHistory        Rule = "history-symptoms"     // Read chapter 1, SNOMED situations and symptoms
	RuleExamination    Rule = "examination-finding"  // Read chapter 2 other than blood pressure
	RulePrevention     Rule = "preventive-procedure" // Read chapter 6 other than 65 (immunisations)
	RuleAdministration Rule = "administration"       // Read chapter 9, record and consent administration
	RuleOccupation     Rule = "occupation"           // Read chapter 0
	RuleExternalCause  Rule = "external-cause"       // Read T, U: causes of injury
	RuleUnspecified    Rule = "unspecified"          // Read Z and others outside the dataset
	RuleRelative       Rule = "about-a-relative"     // subject is not the patient (family history)
	RuleNotInDataset   Rule = "not-in-dataset"       // a structure the dataset does not show
	// RuleContradicted: a coded "no known allergy" beside a recorded
	// allergy (views.go): set aside, not withheld.
	RuleContradicted Rule = "contradicted"
	// RuleEmptyReport: a battery or report left with no value and no member
	// shown (its members withheld or not results): not sent on its own.
	RuleEmptyReport Rule = "empty-report"
)

// Shown reports whether a rule lets an entry be shown (RuleNone).
func (r Rule) Shown() bool { return r == RuleNone }

// CodeSet is a set of codes keyed by CodeKey.
type CodeSet map[string]bool

// CodeKey is the key of a code in a CodeSet. Read v2 codes are cut to their
// five-character form, so "9Nd7.00" and "9Nd7." are the same key.
func CodeKey(system, code string) string {
	if system == SystemReadV2 {
		code = ReadV2Base(code)
	}
	return system + "|" + code
}

// Has reports whether any coding of c is in the set.
func (s CodeSet) Has(c Concept) bool {
	for _, cd := range c.Codings {
		if s[CodeKey(cd.System, cd.Code)] {
			return true
		}
	}
	return false
}

// ReadV2Base cuts a Read v2 code with a two-digit term suffix ("137R.00")
// to its five-character code ("137R.").
func ReadV2Base(code string) string {
	if len(code) == 7 {
		return code[:5]
	}
	return code
}

// allergyHeadings are the generic allergy codes that do not name the
// allergen: Read v2 and CTV3 14L.. H/O: drug allergy, 14M.. H/O: non-drug
// allergy, SN53. allergy, unspecified; SNOMED CT 416098002 drug allergy,
// 419511003 propensity to adverse reaction to drug, 420134006 propensity to
// adverse reaction, 418038007 propensity to adverse reaction to substance,
// 419199007 allergy to substance, 609328004 allergic disposition, 59037007
// drug intolerance.
var allergyHeadings = CodeSet{
	CodeKey(SystemReadV2, "14L.."): true, CodeKey(SystemReadV2, "14M.."): true, CodeKey(SystemReadV2, "SN53."): true,
	CodeKey(SystemCTV3, "14L.."): true, CodeKey(SystemCTV3, "14M.."): true, CodeKey(SystemCTV3, "SN53."): true,
	CodeKey(SystemSNOMED, "416098002"): true, CodeKey(SystemSNOMED, "419511003"): true,
	CodeKey(SystemSNOMED, "420134006"): true, CodeKey(SystemSNOMED, "418038007"): true,
	CodeKey(SystemSNOMED, "419199007"): true, CodeKey(SystemSNOMED, "609328004"): true,
	CodeKey(SystemSNOMED, "59037007"): true,
}

// AllergyHeading reports whether cd is a generic allergy heading: an
// allergy recorded under it does not name its allergen in the code.
func AllergyHeading(cd Coding) bool {
	code := cd.Code
	if cd.System == SystemCTV3 {
		code = ReadV2Base(code) // GP2GP writes CTV3 with a term suffix too
	}
	return allergyHeadings[CodeKey(cd.System, code)]
}

// FamilyHistory reports whether c codes family history, a statement about
// a relative, never the patient's own: Read v2 chapter 12 (and its CTV3
// twin); SNOMED CT 57177007 family history with explicit context, 416471007
// family history of clinical finding, 281666001 family history of
// disorder. Adapters give such entries RuleRelative.
func FamilyHistory(c Concept) bool {
	for _, cd := range c.Codings {
		switch cd.System {
		case SystemReadV2:
			if strings.HasPrefix(ReadV2Base(cd.Code), "12") {
				return true
			}
		case SystemCTV3:
			if twin, ok := ReadTwin(cd.Code); ok && strings.HasPrefix(twin, "12") {
				return true
			}
		case SystemSNOMED:
			switch cd.Code {
			case "57177007", "416471007", "281666001":
				return true
			}
		}
	}
	return false
}

// ReadTwin returns the Read v2 code a CTV3 code reads as: a five-character
// CTV3 code that does not start with X or Y is its Read v2 twin.
func ReadTwin(ctv3 string) (string, bool) {
	if len(ctv3) != 5 || ctv3[0] == 'X' || ctv3[0] == 'Y' {
		return "", false
	}
	return ctv3, true
}

// bpReadCodes are the Read v2 (and CTV3 twin) blood pressure codes; the
// CTV3-only ones follow (REFERENCE.md, "Blood pressure").
var bpReadCodes = map[string]string{
	"246..": "bp", "246C.": "bp", "246D.": "bp", "246E.": "bp",
	"2469.": "systolic", "246N.": "systolic", "246Q.": "systolic", "246S.": "systolic",
	"246A.": "diastolic", "246P.": "diastolic", "246R.": "diastolic", "246T.": "diastolic",
}

var bpCTV3Codes = map[string]string{
	"XaJ2E": "systolic", "XaJ2F": "diastolic", "XaIwj": "systolic", "XaIwk": "diastolic",
	"XaJ2G": "systolic", "XaJ2H": "diastolic", "XaKFx": "systolic", "XaKFw": "diastolic",
	"XaF4d": "systolic", "XaF4e": "diastolic",
}

// bpSNOMEDCodes: 75367002 blood pressure, 163030003 systolic, 163031004
// diastolic, 271649006 systolic BP, 271650006 diastolic BP, 72313002
// systolic arterial pressure, 1091811000000102 diastolic arterial pressure.
var bpSNOMEDCodes = map[string]string{
	"75367002": "bp", "163020007": "bp", "163030003": "systolic", "163031004": "diastolic",
	"271649006": "systolic", "271650006": "diastolic", "72313002": "systolic",
	"1091811000000102": "diastolic", "407554009": "systolic", "407555005": "diastolic",
	"407556006": "systolic", "407557002": "diastolic",
}

// BloodPressurePart says whether c codes a blood pressure reading ("bp"),
// its systolic part ("systolic"), its diastolic part ("diastolic"), or none ("").
func BloodPressurePart(c Concept) string {
	for _, cd := range c.Codings {
		switch cd.System {
		case SystemReadV2:
			if p := bpReadCodes[ReadV2Base(cd.Code)]; p != "" {
				return p
			}
		case SystemCTV3:
			if p := bpReadCodes[cd.Code]; p != "" {
				return p
			}
			if p := bpCTV3Codes[cd.Code]; p != "" {
				return p
			}
		case SystemSNOMED:
			if p := bpSNOMEDCodes[cd.Code]; p != "" {
				return p
			}
		}
	}
	return ""
}

// KindOf returns the kind c's code gives under the dataset rules, or
// KindNone (Classify says why).
func (cl *Classifier) KindOf(c Concept) Kind {
	k, _ := cl.Classify(c)
	return k
}

// Classify returns the kind c's code gives under the dataset rules, or
// KindNone with the rule that keeps it out. Risks come first: a code in the
// risk set is a risk whatever its chapter. Then blood pressure, then the
// Read v2 chapter rules (a CTV3 code through its Read twin), then SNOMED CT:
// our shipped code sets (immunisations), then, with a loaded release, the
// sub-hierarchy table (snomed_rules.go). A code none of these decides is
// RuleUnclassifiable: never dropped silently.
func (cl *Classifier) Classify(c Concept) (Kind, Rule) {
	risks := DefaultRisks()
	if cl != nil && cl.Risks != nil {
		risks = cl.Risks
	}
	if risks.Has(c) {
		return KindRisk, RuleNone
	}
	if BloodPressurePart(c) != "" {
		return KindBloodPressure, RuleNone
	}
	for _, cd := range c.Codings {
		switch cd.System {
		case SystemReadV2:
			return readKind(ReadV2Base(cd.Code))
		case SystemCTV3:
			if twin, ok := ReadTwin(cd.Code); ok {
				return readKind(twin)
			}
		}
	}
	var h Hierarchy
	if cl != nil {
		h = cl.Hierarchy
	}
	for _, cd := range c.Codings {
		if cd.System != SystemSNOMED || cd.Code == "" {
			continue
		}
		if k, r, ok := snomedKind(cd.Code, h); ok {
			return k, r
		}
	}
	return KindNone, RuleUnclassifiable
}

// readKind applies the Read v2 chapter rules to a five-character code.
func readKind(code string) (Kind, Rule) {
	if code == "" {
		return KindNone, RuleUnclassifiable
	}
	c := code[0]
	switch {
	case c >= 'a' && c <= 'z':
		return KindNone, RuleDrugCode // shown only as medication structure
	case c >= 'A' && c <= 'Q', c == 'R', c == 'S':
		return KindDiagnosis, RuleNone
	case c == '3', c == '4', c == '5':
		return KindInvestigation, RuleNone
	case c == '7':
		return KindProcedure, RuleNone
	case strings.HasPrefix(code, "65"):
		return KindImmunisation, RuleNone
	case strings.HasPrefix(code, "8H1"), strings.HasPrefix(code, "8H2"):
		return KindAdmission, RuleNone
	case strings.HasPrefix(code, "8H"):
		return KindReferral, RuleNone
	case c == '8':
		return KindProcedure, RuleNone
	case strings.HasPrefix(code, "14L"), strings.HasPrefix(code, "14M"):
		return KindAllergy, RuleNone
	case c == '0':
		return KindNone, RuleOccupation
	case c == '1':
		return KindNone, RuleHistory
	case c == '2':
		return KindNone, RuleExamination
	case c == '6':
		return KindNone, RulePrevention
	case c == '9':
		return KindNone, RuleAdministration
	case c == 'T', c == 'U':
		return KindNone, RuleExternalCause
	}
	return KindNone, RuleUnspecified
}
