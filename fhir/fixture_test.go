package fhir

import (
	"fmt"
	"time"

	"mig/adapters/record"
)

// Test records are built here in Go: terms, names, addresses and dosage
// text are made with the record constructors, as an adapter would.

func day(y int, m time.Month, d int) record.Date {
	return record.Date{T: time.Date(y, m, d, 0, 0, 0, 0, time.UTC), P: record.PrecisionDay}
}

func minute(y int, m time.Month, d, hh, mm int) record.Date {
	return record.Date{T: time.Date(y, m, d, hh, mm, 0, 0, time.UTC), P: record.PrecisionMinute}
}

func read(code, term, snomed, snomedTerm string) record.Concept {
	c := record.Concept{Codings: []record.Coding{{System: record.SystemReadV2, Code: code, Term: record.NewTerm(term)}}}
	if snomed != "" {
		c.Codings = append(c.Codings, record.Coding{System: record.SystemSNOMED, Code: snomed, Term: record.NewTerm(snomedTerm)})
	}
	return c
}

func ctv3(code, term string) record.Concept {
	return record.Concept{Codings: []record.Coding{{System: record.SystemCTV3, Code: code, Term: record.NewTerm(term)}}}
}

// author has an SDS-like id and a name that must never be written.
var author = &record.Person{ID: "123456789012", Name: record.NewHumanName("Dr", []string{"FREETEXT-given"}, "FREETEXT-family")}

// localAuthor has a supplier's own person id: not referenced.
var localAuthor = &record.Person{ID: "FREETEXT-local-person-guid", Name: record.NewHumanName("", nil, "FREETEXT-local")}

// fixture is the equivalence story (ARCHITECTURE.md) plus the cases it does
// not reach: every kind, every status, every date precision.
func fixture() *record.Record {
	rec := &record.Record{
		Format:    "gp2gp",
		Extracted: minute(2026, 11, 20, 9, 0),
		Patient: record.Patient{
			NHSNumber:   "9990001006",
			Name:        record.NewHumanName("Mrs", []string{"Ann"}, "Gpgp"),
			BirthDate:   day(1950, 3, 14),
			Sex:         record.SexFemale,
			Address:     record.NewAddress([]string{"1 Test Street"}, "Leeds", "West Yorkshire", "LS1 1AA"),
			PracticeODS: "A99901",
		},
	}
	add := func(e record.Entry) { rec.Entries = append(rec.Entries, e) }
	add(record.Entry{ID: "SRC-consent", Kind: record.KindNone, Code: read("9Nd7.", "Consent given for electronic record sharing", "887031000000108", "Consent given for sharing"), Effective: day(2020, 1, 6)})
	add(record.Entry{ID: "SRC-prob-dm", Kind: record.KindProblem, Status: record.StatusActive,
		Code:      read("C10F.", "Type 2 diabetes mellitus", "44054006", "Diabetes mellitus type 2"),
		Effective: record.Date{T: time.Date(2012, 5, 1, 0, 0, 0, 0, time.UTC), P: record.PrecisionMonth},
		Recorded:  day(2012, 5, 3), Author: author,
		Problem: &record.ProblemInfo{Significance: "major", Links: []string{"SRC-hba1c", "SRC-auth-met", "SRC-missing"}}})
	add(record.Entry{ID: "SRC-prob-frac", Kind: record.KindProblem, Status: record.StatusResolved,
		Code:      read("S23..", "Fracture of lower end of radius", "263199001", "Fracture of distal end of radius"),
		Effective: day(2015, 2, 10), End: day(2015, 6, 1), Problem: &record.ProblemInfo{Significance: "minor"}})
	add(record.Entry{ID: "SRC-prob-old", Kind: record.KindProblem, Status: record.StatusInactive,
		Code:      read("H33..", "Asthma", "195967001", "Asthma"),
		Effective: record.Date{T: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), P: record.PrecisionYear}, Problem: &record.ProblemInfo{}})
	add(record.Entry{ID: "SRC-prob-unknown", Kind: record.KindProblem, Status: record.StatusUnknown,
		Code: read("G30..", "Acute myocardial infarction", "57054005", "Acute myocardial infarction"), Effective: day(2001, 3, 3)})
	add(record.Entry{ID: "SRC-allergy", Kind: record.KindAllergy, Status: record.StatusActive,
		Code:     read("14L2.", "H/O: penicillin allergy", "91936005", "Allergy to penicillin"),
		Recorded: day(2001, 5, 2), Effective: day(2001, 5, 2),
		Allergy: &record.AllergyInfo{Category: record.AllergyDrug, Substance: read("e3...", "Penicillins", "", ""), Confirmed: true}})
	add(record.Entry{ID: "SRC-allergy-env", Kind: record.KindAllergy, Status: record.StatusResolved,
		Code:    read("SN53.", "Allergy, unspecified", "", ""),
		Allergy: &record.AllergyInfo{Category: record.AllergyOther, Reaction: read("2F5..", "Urticaria", "", "")}})
	add(record.Entry{ID: "SRC-nka", Kind: record.KindAllergy, Status: record.StatusUnknown,
		Code: read("1151.", "No known allergies", "", ""), Recorded: day(2019, 4, 4), Allergy: &record.AllergyInfo{Category: record.AllergyNoKnown}})
	add(record.Entry{ID: "SRC-allergy-old", Kind: record.KindAllergy, Status: record.StatusInactive,
		Code: read("14L4.", "H/O: aspirin allergy", "293586001", "Allergy to aspirin"), Allergy: &record.AllergyInfo{Category: record.AllergyDrug}})
	add(record.Entry{ID: "SRC-auth-met", Kind: record.KindMedicationAuthorisation, Status: record.StatusActive,
		Code:      read("f41y.", "Metformin 500mg tablets", "325278007", "Metformin 500mg tablets"),
		Effective: day(2024, 1, 10), Author: author,
		Medication: &record.MedicationInfo{Dosage: record.NewDosageText("one tablet twice daily"), Quantity: record.NewDosageText("56 tablet"),
			QuantityValue: &record.Quantity{Value: "56", Unit: "tablet"}, Type: record.PrescriptionRepeat, RepeatsAllowed: 6, DurationDays: 28}})
	for i, when := range []record.Date{day(2026, 10, 1), day(2026, 11, 1)} {
		add(record.Entry{ID: fmt.Sprintf("SRC-issue-met-%d", i), Kind: record.KindMedicationIssue, Status: record.StatusCompleted,
			Code: read("f41y.", "Metformin 500mg tablets", "325278007", "Metformin 500mg tablets"), Effective: when,
			Medication: &record.MedicationInfo{Dosage: record.NewDosageText("one tablet twice daily"), Quantity: record.NewDosageText("56 tablet"),
				Type: record.PrescriptionRepeat, Authorisation: "SRC-auth-met"}})
	}
	add(record.Entry{ID: "SRC-auth-amox", Kind: record.KindMedicationAuthorisation, Status: record.StatusCompleted,
		Code:      read("e311.", "Amoxicillin 500mg capsules", "323509004", "Amoxicillin 500mg capsules"),
		Effective: day(2025, 3, 1), End: day(2025, 3, 8),
		Medication: &record.MedicationInfo{Dosage: record.NewDosageText("one capsule three times a day"), Quantity: record.NewDosageText("21 capsule"),
			Type: record.PrescriptionAcute}})
	add(record.Entry{ID: "SRC-issue-amox", Kind: record.KindMedicationIssue, Status: record.StatusCompleted,
		Code: read("e311.", "Amoxicillin 500mg capsules", "323509004", "Amoxicillin 500mg capsules"), Effective: day(2025, 3, 1),
		Medication: &record.MedicationInfo{Dosage: record.NewDosageText("one capsule three times a day"), Quantity: record.NewDosageText("21 capsule"),
			Type: record.PrescriptionAcute, Authorisation: "SRC-auth-amox"}})
	add(record.Entry{ID: "SRC-auth-stopped", Kind: record.KindMedicationAuthorisation, Status: record.StatusStopped,
		Code: read("bd3..", "Atenolol 50mg tablets", "", ""), Effective: day(2018, 2, 2), End: day(2019, 2, 2),
		Medication: &record.MedicationInfo{Type: record.PrescriptionRepeatDispensing}})
	add(record.Entry{ID: "SRC-auth-unknown", Kind: record.KindMedicationAuthorisation, Status: record.StatusUnknown,
		Code: read("di2..", "Simvastatin 20mg tablets", "", ""), Effective: day(2017, 7, 7)})
	add(record.Entry{ID: "SRC-cons", Kind: record.KindEncounter, Code: read("9N11.", "Seen in GP's surgery", "185320006", "Encounter in GP surgery"),
		Effective: minute(2026, 9, 15, 10, 30), End: minute(2026, 9, 15, 10, 45), Author: author, Organisation: "A99901"})
	add(record.Entry{ID: "SRC-bp", Kind: record.KindBloodPressure, Code: read("246..", "O/E - blood pressure reading", "75367002", "Blood pressure"),
		Effective: minute(2026, 9, 15, 10, 35), Systolic: &record.Quantity{Value: "142", Unit: "mm[Hg]"}, Diastolic: &record.Quantity{Value: "88", Unit: "mm[Hg]"},
		SystolicCode:  read("246Q.", "Sitting systolic blood pressure", "407554009", "Sitting systolic blood pressure"),
		DiastolicCode: read("246R.", "Sitting diastolic blood pressure", "407555005", "Sitting diastolic blood pressure"),
		Encounter:     "SRC-cons", Author: author})
	add(record.Entry{ID: "SRC-bp-half", Kind: record.KindBloodPressure, SystolicCode: read("2469.", "O/E - Systolic BP reading", "72313002", "Systolic arterial pressure"),
		Effective: record.Date{T: time.Date(2026, 8, 1, 8, 15, 42, 0, time.UTC), P: record.PrecisionSecond}, Systolic: &record.Quantity{Value: "150", Unit: "mm[Hg]"}})
	add(record.Entry{ID: "SRC-hba1c", Kind: record.KindInvestigation, Code: read("42W5.", "Haemoglobin A1c level - IFCC standardised", "999791000000106", "HbA1c level"),
		Effective: day(2026, 9, 15), Value: &record.Quantity{Value: "58", Unit: "mmol/mol"},
		Range:          &record.Range{Low: &record.Quantity{Value: "20", Unit: "mmol/mol"}, High: &record.Quantity{Value: "41", Unit: "mmol/mol"}},
		Interpretation: record.Concept{Codings: []record.Coding{{System: "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", Code: "H", Term: record.NewTerm("High")}}},
		Encounter:      "SRC-cons"})
	add(record.Entry{ID: "SRC-fbc", Kind: record.KindInvestigation, Code: read("424..", "Full blood count", "26604007", "Complete blood count"),
		Effective: day(2026, 6, 1), Members: []string{"SRC-hb", "SRC-wbc", "SRC-withheld"}})
	add(record.Entry{ID: "SRC-hb", Kind: record.KindInvestigation, Code: read("423..", "Haemoglobin estimation", "", ""), Parent: "SRC-fbc",
		Effective: day(2026, 6, 1), Value: &record.Quantity{Value: "131", Unit: "g/L"}})
	add(record.Entry{ID: "SRC-wbc", Kind: record.KindInvestigation, Code: read("42H..", "Total white cell count", "", ""), Parent: "SRC-fbc",
		Effective: day(2026, 6, 1), Value: &record.Quantity{Value: "3.5", Unit: "10*9/L", Comparator: "<"}})
	add(record.Entry{ID: "SRC-withheld", Kind: record.KindInvestigation, Code: read("43d5.", "HIV test", "", ""), Parent: "SRC-fbc", Effective: day(2026, 6, 1)})
	add(record.Entry{ID: "SRC-xray", Kind: record.KindInvestigation, Code: ctv3("535..", "Standard chest X-ray"), Effective: day(2023, 3, 3), Author: localAuthor})
	add(record.Entry{ID: "SRC-ref", Kind: record.KindReferral, Status: record.StatusActive, Code: read("8H4E.", "Referral to diabetologist", "183530004", "Referral to diabetologist"),
		Effective: day(2026, 9, 15), Encounter: "SRC-cons",
		Referral: &record.ReferralInfo{Priority: "routine", Recipient: "RX999", Specialty: read("", "", "", "")}})
	add(record.Entry{ID: "SRC-ref-done", Kind: record.KindReferral, Status: record.StatusCompleted, Code: read("8H77.", "Refer to orthopaedic surgeon", "", ""),
		Effective: day(2015, 2, 12), Referral: &record.ReferralInfo{Priority: "urgent"}})
	add(record.Entry{ID: "SRC-adm", Kind: record.KindAdmission, Code: read("8H2..", "Emergency hospital admission", "", ""), Effective: day(2015, 2, 10), End: day(2015, 2, 11), Organisation: "RX999"})
	add(record.Entry{ID: "SRC-imm", Kind: record.KindImmunisation, Code: read("65E..", "Influenza vaccination", "86198006", "Influenza vaccination"), Effective: day(2026, 10, 5), Recorded: day(2026, 10, 5)})
	add(record.Entry{ID: "SRC-imm-nodate", Kind: record.KindImmunisation, Code: read("65F1.", "Tetanus vaccination", "", "")})
	add(record.Entry{ID: "SRC-proc", Kind: record.KindProcedure, Code: read("7611.", "Appendicectomy", "80146002", "Appendicectomy"), Effective: day(2010, 7, 20)})
	add(record.Entry{ID: "SRC-risk", Kind: record.KindRisk, Status: record.StatusActive, Code: read("8CM1.", "On gold standards palliative care framework", "414937009", "On gold standards palliative care framework"),
		Effective: day(2026, 6, 1), Author: author})
	add(record.Entry{ID: "SRC-risk-old", Kind: record.KindRisk, Status: record.StatusInactive, Code: read("1JL..", "Violent patient", "", ""), Effective: day(2010, 1, 1), End: day(2012, 1, 1)})
	add(record.Entry{ID: "SRC-dx", Kind: record.KindDiagnosis, Code: read("H06z0", "Chest infection NOS", "", ""), Effective: day(2026, 9, 15), Encounter: "SRC-cons"})
	add(record.Entry{ID: "SRC-dx-dropped", Kind: record.KindDiagnosis})
	return rec
}

// generated returns a record of n entries cycling through the fixture's
// shown entries, with distinct ids.
func generated(n int) *record.Record {
	base := fixture()
	rec := &record.Record{Format: base.Format, Patient: base.Patient}
	shown := base.Entries[1:]
	for i := 0; len(rec.Entries) < n; i++ {
		e := shown[i%len(shown)]
		suffix := fmt.Sprintf("-%d", i/len(shown))
		e.ID += suffix
		if e.Encounter != "" {
			e.Encounter += suffix
		}
		rec.Entries = append(rec.Entries, e)
	}
	record.Tag(rec, record.DefaultViewContext(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)))
	return rec
}
