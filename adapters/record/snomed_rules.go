package record

// snomedRule maps a SNOMED CT sub-hierarchy to the kind (or the rule that
// keeps it out) that the Read-based dataset rules give the same concepts.
// Rows are tried in order: a more specific sub-hierarchy stands before the
// one that holds it.
type snomedRule struct {
	Ancestor string // SNOMED CT concept id of the sub-hierarchy's top
	Kind     Kind
	Rule     Rule   // RuleNone when Kind is shown
	Source   string // why: the Read chapter it matches, or the reason
}

// snomedRules classifies a SNOMED CT concept that no Read code, risk set,
// blood-pressure code or shipped code set decided, when a deployment has
// loaded a SNOMED CT release (Classifier.Hierarchy). Each row says which
// Read-based dataset rule (REFERENCE.md "Dataset rules", readKind) it
// carries over. Concept ids are the international release's (every
// Ancestor passes the Verhoeff check: snomed_test.go); the names in the
// comments are their fully specified names' meaning, not display text.
//
// Top-level hierarchies are too coarse on their own, so the specific
// sub-hierarchies come first: situations (243796009) hold family history,
// "history of", "declined", "not done" and "no known allergy"; clinical
// findings (404684003) hold disorders, which are diagnoses, beside
// symptoms and examination findings, which are not shown; procedures
// (71388002) hold administrative, encounter and referral codes beside
// operations.
//
// Deliberately not in the table, so such codes stay RuleUnclassifiable
// (reported, and the response warns that something coded could not be
// shown) rather than hidden under a rule or shown under a guessed kind:
//   - 363787002 observable entity: UK laboratory results since 2018 are
//     coded as observable entities (the Pathology Bounded Code List; the
//     equivalence story's HbA1c 999791000000106 is one), beside vital
//     signs and examination measurements. No sub-hierarchy we can cite
//     separates tests (Read 4, shown) from examination measurements (Read
//     2, hidden), and hiding a result is the worse error. An adapter that
//     knows from structure that an entry is a test result sets the kind
//     itself.
//   - an examination-finding sub-hierarchy of clinical finding: we could
//     not verify one concept that holds the "on examination" findings, so
//     they fall to the clinical-finding row (not shown, history-symptoms).
var snomedRules = []snomedRule{
	// Situations with explicit context: the specific ones first.
	{"57177007", KindNone, RuleRelative, // family history with explicit context
		"about a relative, not the patient (issue 11 item 8; Read 12.. family history is chapter 1, not shown)"},
	{"716186003", KindAllergy, RuleNone, // no known allergy
		"coded 'no known allergy' is an allergy entry (record.AllergyNoKnown), distinct from nothing recorded"},
	{"243796009", KindNone, RuleHistory, // situation with explicit context
		"history of, declined, not done and other context-bound statements are not events that happened to the patient: as Read chapter 1 (history), not shown"},

	// Allergy and propensity concepts are findings (some older ones
	// disorders): before the disorder row.
	{"609328004", KindAllergy, RuleNone, // allergic disposition
		"Read 14L../14M.. history of allergy -> allergy"},
	{"420134006", KindAllergy, RuleNone, // propensity to adverse reaction
		"Read 14L../14M.. allergy and adverse reaction -> allergy (intolerances included)"},

	// Clinical findings.
	{"64572001", KindDiagnosis, RuleNone, // disease (disorder)
		"Read A-Q, R, S: diagnoses, injuries and disorders"},
	{"404684003", KindNone, RuleHistory, // clinical finding
		"findings other than disorders and allergies are symptoms, history and examination findings: Read chapters 1 and 2, not shown"},

	// Procedures: administrative, encounter, referral and admission
	// codes before the procedure top.
	{"127785005", KindImmunisation, RuleNone, // administration of substance to produce immunity
		"Read 65.. immunisation"},
	{"3457005", KindReferral, RuleNone, // patient referral
		"Read 8H.. referral"},
	{"32485007", KindAdmission, RuleNone, // hospital admission
		"Read 8H1./8H2. admission"},
	{"308335008", KindNone, RuleAdministration, // patient encounter procedure
		"encounter codes are administration (Read 9...); consultations come from structure, not codes"},
	{"14734007", KindNone, RuleAdministration, // administrative procedure
		"Read chapter 9 administration"},
	{"5880005", KindNone, RuleExamination, // physical examination procedure
		"Read chapter 2 examination, not shown"},
	{"15220000", KindInvestigation, RuleNone, // laboratory test
		"Read chapter 4 laboratory procedures -> investigation"},
	{"363679005", KindInvestigation, RuleNone, // imaging
		"Read chapter 5 radiology -> investigation"},
	{"386053000", KindInvestigation, RuleNone, // evaluation procedure
		"Read chapter 3 and 4 diagnostic procedures and tests -> investigation"},
	{"387713003", KindProcedure, RuleNone, // surgical procedure
		"Read chapter 7 operations -> procedure"},
	{"409073007", KindNone, RulePrevention, // education
		"Read 67.. health education and counselling: chapter 6 other than 65, not shown"},
	{"20135006", KindNone, RulePrevention, // screening procedure
		"Read 68.. screening: chapter 6 other than 65, not shown"},
	{"169443000", KindNone, RulePrevention, // preventive procedure
		"Read chapter 6 preventive procedures other than 65 immunisation, not shown"},
	{"243120004", KindNone, RuleUnspecified, // regimes and therapies
		"care regimes, plans and programmes are not events the dataset shows (medication comes from structure only)"},
	{"71388002", KindProcedure, RuleNone, // procedure
		"Read chapter 8 (other than 8H) and 7: therapeutic and other procedures -> procedure"},

	// Other top-level hierarchies.
	{"419891008", KindNone, RuleAdministration, // record artifact
		"documents and record entries about the record: Read chapter 9 administration"},
	{"14679004", KindNone, RuleOccupation, // occupation
		"Read chapter 0 occupations"},
	{"48176007", KindNone, RuleUnspecified, // social context
		"social context other than occupation is outside the dataset"},
	{"272379006", KindNone, RuleExternalCause, // event
		"Read T and U: external causes of injury and events"},
	{"373873005", KindNone, RuleDrugCode, // pharmaceutical / biologic product
		"Read a-z drug codes: medication only through its structure"},
	{"105590001", KindNone, RuleUnspecified, // substance
		"a substance is not a record entry (allergens come through allergy structure)"},
	{"123037004", KindNone, RuleUnspecified, "body structure: outside the dataset"},
	{"410607006", KindNone, RuleUnspecified, "organism: outside the dataset"},
	{"260787004", KindNone, RuleUnspecified, "physical object: outside the dataset"},
	{"362981000", KindNone, RuleUnspecified, "qualifier value: outside the dataset"},
	{"123038009", KindNone, RuleUnspecified, "specimen: outside the dataset (specimens come through laboratory structure)"},
	{"254291000", KindNone, RuleUnspecified, "staging and scales: outside the dataset"},
	{"308916002", KindNone, RuleUnspecified, "environment or geographical location: outside the dataset"},
	{"78621006", KindNone, RuleUnspecified, "physical force: outside the dataset"},
	{"370115009", KindNone, RuleUnspecified, "special concept (navigational, inactive): outside the dataset"},
	{"900000000000441003", KindNone, RuleUnspecified, "SNOMED CT model component (metadata): outside the dataset"},
}
