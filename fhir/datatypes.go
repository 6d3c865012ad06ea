package fhir

import (
	"regexp"

	"mig/adapters/record"

	c "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
)

// Systems and canonicals used in the resources we write (REFERENCE.md).
const (
	SystemNHSNumber         = "https://fhir.nhs.uk/Id/nhs-number"
	SystemODS               = "https://fhir.nhs.uk/Id/ods-organization-code"
	SystemSDSUser           = "https://fhir.nhs.uk/Id/sds-user-id"
	SystemSDSRoleProfile    = "https://fhir.nhs.uk/Id/sds-role-profile-id"
	SystemSpineErrorCode    = "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode"
	SystemUCUM              = "http://unitsofmeasure.org"
	SystemV3ActReason       = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	SystemV3ActCode         = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	SystemV3ParticipantType = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	SystemDataAbsentReason  = "http://terminology.hl7.org/CodeSystem/data-absent-reason"

	ExtNHSNumberVerification    = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
	SystemNHSNumberVerification = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
	// ExtMedicationQuantityText carries a prescription's quantity as the
	// prescriber wrote it, where it is not a coded number (design: ours,
	// after GP Connect's MedicationQuantityText extension).
	ExtMedicationQuantityText = "https://mig.example.nhs.uk/StructureDefinition/Extension-MedicationQuantityText"

	ukCoreProfile = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
	baseProfile   = "http://hl7.org/fhir/StructureDefinition/"
	// ProfileBP is the FHIR vital-signs blood pressure profile.
	ProfileBP = "http://hl7.org/fhir/StructureDefinition/bp"
)

// ukCoreTypes are the resource types UK Core profiles (those we write).
var ukCoreTypes = map[string]bool{
	"Patient": true, "Condition": true, "MedicationStatement": true, "MedicationRequest": true,
	"AllergyIntolerance": true, "Observation": true, "Procedure": true, "Immunization": true,
	"Flag": true, "Encounter": true, "ServiceRequest": true,
}

// Profile returns the canonical URL of the profile a resource of the type
// claims: UK Core where UK Core profiles the type, else the base resource.
func Profile(resourceType string) string {
	if ukCoreTypes[resourceType] {
		return ukCoreProfile + resourceType
	}
	return baseProfile + resourceType
}

func meta(profile string) *d.Meta {
	return &d.Meta{Profile: []*d.Canonical{{Value: profile}}}
}

func fstr(s string) *d.String { return &d.String{Value: s} }
func furi(s string) *d.Uri    { return &d.Uri{Value: s} }
func fcode(s string) *d.Code  { return &d.Code{Value: s} }

func coding(system, code, display string) *d.Coding {
	c := &d.Coding{System: furi(system), Code: fcode(code)}
	if display != "" {
		c.Display = fstr(display)
	}
	return c
}

func fixedConcept(system, code, display string) *d.CodeableConcept {
	return &d.CodeableConcept{Coding: []*d.Coding{coding(system, code, display)}}
}

// ExtSCTDescID carries the SNOMED CT description id a GP system sent,
// beside the concept it names (HL7's coding-sctdescid extension).
const ExtSCTDescID = "http://hl7.org/fhir/StructureDefinition/coding-sctdescid"

// codings converts a record concept: the code as entered first, marked
// userSelected, then its translations. Displays follow the term policy
// (terms.go); a term the extract gave that is not shown leaves the display
// marked data-absent "masked". Local codes carry no term. A SNOMED CT
// description id is never a code: a coding that has only one (no loaded
// release turned it into its concept) is left out, and one that has both
// carries the description id in ExtSCTDescID.
func (mp *mapping) codings(rc record.Concept) []*d.Coding {
	out := make([]*d.Coding, 0, len(rc.Codings))
	for i, cd := range rc.Codings {
		if !showable(rc.Codings[:i], cd) {
			continue
		}
		disp, suppressed := mp.m.Terms.display(cd)
		c := coding(cd.System, cd.Code, disp)
		if suppressed {
			c.Display = &d.String{Extension: []*d.Extension{dataAbsentExt("masked")}}
		}
		if i == 0 {
			c.UserSelected = &d.Boolean{Value: true}
		}
		if cd.DescriptionID != "" && cd.System == record.SystemSNOMED {
			c.Extension = []*d.Extension{{Url: furi(ExtSCTDescID),
				Value: &d.Extension_ValueX{Choice: &d.Extension_ValueX_Id{Id: &d.Id{Value: cd.DescriptionID}}}}}
		}
		out = append(out, c)
	}
	return out
}

// showable reports whether cd makes a coding: it has a system and a code,
// the code is not a SNOMED CT description id in the concept slot, and no
// earlier coding of the concept (before) is the same code.
func showable(before []record.Coding, cd record.Coding) bool {
	if cd.System == "" || cd.Code == "" {
		return false
	}
	if cd.System == record.SystemSNOMED && record.IsDescriptionID(cd.Code) {
		return false
	}
	return !dupCoding(before, cd)
}

// hasShowable reports whether any coding of rc is showable.
func hasShowable(rc record.Concept) bool {
	for i, cd := range rc.Codings {
		if showable(rc.Codings[:i], cd) {
			return true
		}
	}
	return false
}

func dupCoding(before []record.Coding, cd record.Coding) bool {
	for _, b := range before {
		if b.System == cd.System && b.Code == cd.Code {
			return true
		}
	}
	return false
}

// concept converts a record concept; nil when it has no coding.
func (mp *mapping) concept(rc record.Concept) *d.CodeableConcept {
	cs := mp.codings(rc)
	if len(cs) == 0 {
		return nil
	}
	return &d.CodeableConcept{Coding: cs}
}

// dateTime converts a record date keeping its precision; nil when absent. A
// minute precision (FHIR has none) prints with zero seconds.
func dateTime(rd record.Date) *d.DateTime {
	if rd.IsZero() {
		return nil
	}
	dt := &d.DateTime{ValueUs: rd.T.UTC().UnixMicro(), Timezone: "Z"}
	switch rd.P {
	case record.PrecisionYear:
		dt.Precision = d.DateTime_YEAR
	case record.PrecisionMonth:
		dt.Precision = d.DateTime_MONTH
	case record.PrecisionDay:
		dt.Precision = d.DateTime_DAY
	default:
		dt.Precision = d.DateTime_SECOND
		dt.ValueUs = rd.T.UTC().Truncate(1e9).UnixMicro()
	}
	return dt
}

// date converts a record date to a FHIR date (day precision at most).
func date(rd record.Date) *d.Date {
	if rd.IsZero() {
		return nil
	}
	t := rd.T.UTC()
	dt := &d.Date{Timezone: "Z"}
	switch rd.P {
	case record.PrecisionYear:
		dt.Precision = d.Date_YEAR
	case record.PrecisionMonth:
		dt.Precision = d.Date_MONTH
	default:
		dt.Precision = d.Date_DAY
	}
	dt.ValueUs = t.Truncate(24 * 60 * 60 * 1e9).UnixMicro()
	return dt
}

func period(start, end record.Date) *d.Period {
	if start.IsZero() && end.IsZero() {
		return nil
	}
	return &d.Period{Start: dateTime(start), End: dateTime(end)}
}

// literalRef is a reference to a resource we serve: Type/id.
func literalRef(resourceType, id string) *d.Reference {
	return &d.Reference{Reference: &d.Reference_Uri{Uri: fstr(resourceType + "/" + id)}}
}

// identRef is a logical reference by identifier (an organisation's ODS code,
// a practitioner's SDS user id): never a name.
func identRef(resourceType, system, value string) *d.Reference {
	return &d.Reference{Type: furi(resourceType), Identifier: &d.Identifier{System: furi(system), Value: fstr(value)}}
}

// odsRef references an organisation by ODS code; nil when none.
func odsRef(ods string) *d.Reference {
	if ods == "" {
		return nil
	}
	return identRef("Organization", SystemODS, ods)
}

// personRef references a clinician by SDS user id. Only an id that looks
// like an SDS user id (digits, 9 to 12 of them) is used: a supplier's own
// person id is not an SDS id, and a name is never sent. Nil otherwise.
func personRef(p *record.Person) *d.Reference {
	if p == nil || !sdsUserID(p.ID) {
		return nil
	}
	return identRef("Practitioner", SystemSDSUser, p.ID)
}

func sdsUserID(s string) bool {
	if len(s) < 9 || len(s) > 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// decimalRE is FHIR's decimal syntax.
var decimalRE = regexp.MustCompile(`^-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,17})?([eE][+-]?[0-9]{1,9})?$`)

func validDecimal(s string) bool { return decimalRE.MatchString(s) }

var comparators = map[string]bool{"<": true, "<=": true, ">=": true, ">": true}

// quantity converts a measured value; nil when absent or not a number. A
// unit is coded as UCUM where it is UCUM (or a GP unit string with a UCUM
// equivalent, record.UCUMCode); a unit the source gave that could not be
// vetted is left out and marked with data-absent-reason on unit, so the
// number is never read as unitless.
func quantity(q *record.Quantity) *d.Quantity {
	if q == nil || !validDecimal(q.Value) {
		return nil
	}
	out := &d.Quantity{Value: &d.Decimal{Value: q.Value}}
	out.Unit, out.System, out.Code = unit(q)
	if comparators[q.Comparator] {
		out.Comparator = comparator(q.Comparator)
	}
	return out
}

func simpleQuantity(q *record.Quantity) *d.SimpleQuantity {
	if q == nil || !validDecimal(q.Value) {
		return nil
	}
	out := &d.SimpleQuantity{Value: &d.Decimal{Value: q.Value}}
	out.Unit, out.System, out.Code = unit(q)
	return out
}

// unit gives a quantity's unit text and UCUM system and code. The record
// vets units when adapters set them (Quantity.SetUnit); the check is made
// again here so that no path can show an unvetted unit.
func unit(q *record.Quantity) (*d.String, *d.Uri, *d.Code) {
	if q.UnitWithheld {
		return unitAbsent(), nil, nil
	}
	if q.Unit == "" {
		return nil, nil, nil
	}
	code, ok := record.UCUMCode(q.Unit)
	if !ok {
		return unitAbsent(), nil, nil
	}
	return fstr(q.Unit), furi(SystemUCUM), fcode(code)
}

// ExtDataAbsentReason is the core data-absent-reason extension.
const ExtDataAbsentReason = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"

// unitAbsent is a unit element that holds no text, only the
// data-absent-reason "unsupported": the GP system gave a unit we do not
// show (not valid UCUM, nor a unit string we know).
func unitAbsent() *d.String {
	return &d.String{Extension: []*d.Extension{dataAbsentExt("unsupported")}}
}

// dataAbsentExt is the data-absent-reason extension with a code of its
// value set (unsupported, masked, unknown...).
func dataAbsentExt(code string) *d.Extension {
	return &d.Extension{Url: furi(ExtDataAbsentReason),
		Value: &d.Extension_ValueX{Choice: &d.Extension_ValueX_Code{Code: fcode(code)}}}
}

// dataAbsent is a concept that says the value is not known.
func dataAbsent() *d.CodeableConcept {
	return fixedConcept(SystemDataAbsentReason, "unknown", "Unknown")
}

func comparator(s string) *d.Quantity_ComparatorCode {
	v := map[string]c.QuantityComparatorCode_Value{
		"<": c.QuantityComparatorCode_LESS_THAN, "<=": c.QuantityComparatorCode_LESS_THAN_OR_EQUAL_TO,
		">=": c.QuantityComparatorCode_GREATER_THAN_OR_EQUAL_TO, ">": c.QuantityComparatorCode_GREATER_THAN,
	}[s]
	return &d.Quantity_ComparatorCode{Value: v}
}
