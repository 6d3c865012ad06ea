package consent

import "mig/adapters/record"

// Sensitive-data categories (RCGP sensitive dataset, as used by the Summary
// Care Record "withheld items" exclusions; HIV/AIDS added as the care.data
// exclusions did).
const (
	SensitiveFertility   = "fertility-treatment"
	SensitiveGender      = "gender-reassignment"
	SensitiveSTI         = "sexually-transmitted-infection"
	SensitiveTermination = "termination-of-pregnancy"
	SensitiveHIV         = "hiv-aids"
)

// DefaultSensitiveCodes returns the shipped sensitive code sets. Entries
// coded with any of them are withheld from every response (the response
// says something was withheld, never what).
//
// Sources:
//   - Categories: RCGP sensitive dataset as applied to Summary Care Record
//     additional information (Cegedim Vision help centre, "Summary Care
//     Record withheld data": assisted fertilisation and IVF, sexually
//     transmitted diseases, termination of pregnancy, gender reassignment)
//     and the NHS Digital "GP summary exclusion" SNOMED CT subsets (assisted
//     fertilisation, gender related issues, sexually transmitted disease,
//     termination of pregnancy; DD4C published subset metadata). HIV/AIDS:
//     the GP extraction exclusions published for care.data (2014).
//   - Read v2 hierarchies follow Read v2 chapter A and L's ICD-9 alignment:
//     A9... syphilis and other venereal diseases (ICD-9 090-099, gonococcal
//     infection A98.. = 098); L05.. legally induced abortion (ICD-9 635),
//     L06.. illegally induced abortion (636), L07.. unspecified abortion
//     (637). Eu64. [X]gender identity disorders (ICD-10 F64, Read v2 "Eu"
//     chapter). HIV: A788. / A789. (human immunodeficiency virus disease)
//     and 43C3. (HIV positive). Each category is configurable: review the
//     lists against the current GP summary exclusion refsets before going
//     live.
//   - SNOMED CT codes are the top concepts of each category; the GP
//     summary exclusion refsets (which list descendants) should replace
//     them in configuration where the deployment holds the refset files.
func DefaultSensitiveCodes() CodeList {
	const scr = "NHS Digital GP summary exclusion subset / RCGP sensitive dataset"
	const readICD = "Read v2 hierarchy aligned to ICD-9/ICD-10 (see DefaultSensitiveCodes)"
	return CodeList{
		// Assisted fertilisation and IVF.
		{System: record.SystemSNOMED, Code: "52637005", Category: SensitiveFertility, Source: scr + ": In vitro fertilization (procedure)"},
		{System: record.SystemSNOMED, Code: "63487001", Category: SensitiveFertility, Source: scr + ": Assisted fertilization (procedure)"},
		// Gender reassignment.
		{System: record.SystemReadV2, Code: "Eu64.", Category: SensitiveGender, Source: readICD + ": [X]Gender identity disorders (ICD-10 F64)"},
		{System: record.SystemSNOMED, Code: "93461009", Category: SensitiveGender, Source: scr + ": Gender dysphoria (disorder)"},
		{System: record.SystemSNOMED, Code: "407377005", Category: SensitiveGender, Source: scr + ": Female-to-male transsexual (finding)"},
		{System: record.SystemSNOMED, Code: "407376001", Category: SensitiveGender, Source: scr + ": Male-to-female transsexual (finding)"},
		// Sexually transmitted infections.
		{System: record.SystemReadV2, Code: "A9...", Category: SensitiveSTI, Source: readICD + ": Syphilis and other venereal diseases (ICD-9 090-099)"},
		{System: record.SystemSNOMED, Code: "8098009", Category: SensitiveSTI, Source: scr + ": Sexually transmitted infectious disease (disorder)"},
		// Termination of pregnancy.
		{System: record.SystemReadV2, Code: "L05..", Category: SensitiveTermination, Source: readICD + ": Legally induced abortion (ICD-9 635)"},
		{System: record.SystemReadV2, Code: "L06..", Category: SensitiveTermination, Source: readICD + ": Illegally induced abortion (ICD-9 636)"},
		{System: record.SystemReadV2, Code: "L07..", Category: SensitiveTermination, Source: readICD + ": Unspecified abortion (ICD-9 637)"},
		{System: record.SystemSNOMED, Code: "57797005", Category: SensitiveTermination, Source: scr + ": Induced termination of pregnancy (procedure)"},
		{System: record.SystemSNOMED, Code: "386639001", Category: SensitiveTermination, Source: scr + ": Termination of pregnancy (procedure)"},
		// HIV/AIDS.
		{System: record.SystemReadV2, Code: "A788.", Category: SensitiveHIV, Source: readICD + ": Human immunodeficiency virus disease"},
		{System: record.SystemReadV2, Code: "A789.", Category: SensitiveHIV, Source: readICD + ": Human immunodeficiency virus disease resulting in other disease"},
		{System: record.SystemReadV2, Code: "43C3.", Category: SensitiveHIV, Source: readICD + ": HIV positive"},
		{System: record.SystemSNOMED, Code: "86406008", Category: SensitiveHIV, Source: "SNOMED CT: Human immunodeficiency virus infection (disorder)"},
		{System: record.SystemSNOMED, Code: "165816005", Category: SensitiveHIV, Source: "SNOMED CT: Human immunodeficiency virus positive (finding)"},
	}
}

// IsSensitive reports whether the entry is coded with a sensitive code
// (its own code, an allergy substance or a referral specialty).
func IsSensitive(m *Matcher, e *record.Entry) bool {
	if _, ok := m.Match(e.Code); ok {
		return true
	}
	if e.Allergy != nil {
		if _, ok := m.Match(e.Allergy.Substance); ok {
			return true
		}
	}
	if e.Referral != nil {
		if _, ok := m.Match(e.Referral.Specialty); ok {
			return true
		}
	}
	return false
}
