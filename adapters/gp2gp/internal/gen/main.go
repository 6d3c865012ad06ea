// Command gen writes the synthetic GP2GP extracts of practice A99901
// (testdata/A99901/<NHS number>.xml). Run it through `go generate
// ./adapters/gp2gp`; its output is committed. Every extract is made up:
// codes are real Read v2 / SNOMED CT codes, people and events are not.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
)

func main() {
	out := flag.String("out", "../../testdata/A99901", "output directory")
	flag.Parse()
	docs := []*doc{story(), everyKind(), confidentialItems(), longHistory(), dissent(), noConsent(),
		sensitive(), ordinary("9990001073", "20261120"), ordinary("9990001081", "20261120"), realWorld()}
	for _, d := range docs {
		path := filepath.Join(*out, d.nhs+".xml")
		if err := os.WriteFile(path, []byte(d.render()), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

var (
	consent     = read("9Nd7.00", "Consent given for electronic record sharing", "887031000000108")
	dissentCode = read("9Nd1.00", "No consent for electronic record sharing")
	metformin   = cd{sys: oidDrug, code: "METF500EMIS", display: "FREETEXT-local-metformin",
		trans: []cd{read("f41y.00", "Metformin 500mg tablets"), sct("325278007", "Metformin 500mg tablets")}}
	amoxicillin = cd{sys: oidRead, code: "e311.00", display: "Amoxicillin 500mg capsules",
		trans: []cd{sct("323509004", "Amoxicillin 500mg capsules")}}
	amlodipine  = read("bl1A.00", "Amlodipine 5mg tablets", "319283006")
	simvastatin = read("bxd5.00", "Simvastatin 40mg tablets", "320000009")
	hba1c       = read("42W5.00", "Haemoglobin A1c level - IFCC standardised", "999791000000106")
)

// story is 9990001006, the equivalence story (ARCHITECTURE.md).
func story() *doc {
	d := newDoc("9990001006", "20261120093000", false)
	d.composition(d.id.next(), nonConsult, "20200106", false, d.obs(d.id.next(), consent, "20200106", obsOpt{}))
	dm := d.id.next()
	d.composition(d.id.next(), nonConsult, "20120501", false,
		d.obs(dm, read("C10F.00", "Type 2 diabetes mellitus", "44054006"), "20120501", obsOpt{annotation: "FREETEXT-9990001006-dmnote"}),
		d.linkSet("active", true, "20120501", "", dm))
	fr := d.id.next()
	d.composition(d.id.next(), nonConsult, "20150210", false,
		d.obs(fr, read("S23..00", "Fracture of lower end of radius", "263199001"), "20150210", obsOpt{}),
		d.linkSet("inactive", false, "20150210", "20150601", fr))
	pen := sct("764146007", "Penicillin")
	d.composition(d.id.next(), nonConsult, "20010502", false,
		d.allergy(true, "20010502", read("14L2.00", "H/O: penicillin allergy", "91936005"), &pen))
	auth := d.id.next()
	d.composition(d.id.next(), nonConsult, "20240110", false,
		d.medAuth(metformin, "one tablet twice daily", supply{id: auth, ts: "20240110", low: "20240110", repeats: 6, qty: "56", unit: "tablet", active: true}))
	for _, ts := range []string{"20261001", "20261101"} {
		d.composition(d.id.next(), nonConsult, ts, false,
			d.medIssue(metformin, "one tablet twice daily", supply{id: d.id.next(), ts: ts, qty: "56", unit: "tablet"}, auth))
	}
	amox := d.id.next()
	d.composition(d.id.next(), nonConsult, "20250301", false,
		d.medAuth(amoxicillin, "one capsule three times a day", supply{id: amox, ts: "20250301", low: "20250301", high: "20250308", repeats: 0, qty: "21", unit: "capsule"}),
		d.medIssue(amoxicillin, "one capsule three times a day", supply{id: d.id.next(), ts: "20250301", qty: "21", unit: "capsule"}, amox))
	d.composition(d.id.next(), surgery.withOrig("FREETEXT-9990001006-consultation"), "202609151030", false, append(d.freeText("202609151030", false),
		d.bp("202609151035", "142", "88"),
		d.obs(d.id.next(), hba1c, "20260915", obsOpt{value: &pq{"58", "mmol/mol"}, low: "20", high: "41", interp: "HI",
			annotation: "FREETEXT-9990001006-labcomment"}),
		d.request(d.id.next(), read("8H4E.00", "Referral to diabetologist", "183530004"), "20260915", "394848005"))...)
	d.composition(d.id.next(), nonConsult, "20261005", false,
		d.obs(d.id.next(), read("65E..00", "Influenza vaccination", "86198006"), "20261005", obsOpt{}))
	d.composition(d.id.next(), nonConsult, "20100720", false,
		d.obs(d.id.next(), read("7611.00", "Appendicectomy", "80146002"), "20100720", obsOpt{}))
	d.composition(d.id.next(), nonConsult, "20260601", false,
		d.obs(d.id.next(), read("8CM1.00", "On gold standards palliative care framework", "414937009"), "20260601", obsOpt{}))
	// 14: a drug allergy under the national heading whose allergen the
	// practice coded only locally (a local code as the observation's value).
	d.composition(d.id.next(), nonConsult, "20180416", false,
		d.allergyWith(d.id.next(), d.id.next(), "20180416", read("14L..00", "H/O: drug allergy", "416098002"),
			&cd{sys: oidLocal, code: "DRGLOC6", display: "FREETEXT-9990001006-localdrug"}))
	// 15: a result in the laboratory's own unit (originalText beside
	// unit="1"), which is on no list: the value is kept, the unit is not.
	d.composition(d.id.next(), nonConsult, "20260820", false,
		d.obs(d.id.next(), read("44P..00", "Serum cholesterol", "1005671000000105"), "20260820",
			obsOpt{rawValue: unity("5.2", "FREETEXT-9990001006-labunit")}))
	// 16: the mother's type 2 diabetes (subject/personalRelationship): about
	// a relative, never the patient's own condition.
	mother := sct("72705000", "Mother")
	d.composition(d.id.next(), nonConsult, "20180903", false,
		d.obs(d.id.next(), read("C10F.00", "Type 2 diabetes mellitus", "44054006"), "20180903",
			obsOpt{relative: &mother, annotation: "FREETEXT-9990001006-relativenote"}))
	return d
}

// everyKind is 9990001014: every entry kind.
func everyKind() *doc {
	d := newDoc("9990001014", "20261120", false)
	d.composition(d.id.next(), nonConsult, "20190301", false, d.obs(d.id.next(), consent, "20190301", obsOpt{}))
	// Laboratory report with two batteries.
	d.composition(d.id.next(), nonConsult, "20260402", false,
		d.compound(d.id.next(), "CLUSTER", sct("16488004", "Laboratory report"), "20260402", false,
			d.compound(d.id.next(), "BATTERY", read("424..00", "Full blood count - FBC", "26604007"), "20260402", false,
				d.obs(d.id.next(), read("423..00", "Haemoglobin estimation", "104142005"), "20260402", obsOpt{value: &pq{"128", "g/L"}, low: "115", high: "165"}),
				d.obs(d.id.next(), read("42H..00", "Total white cell count", "767002"), "20260402", obsOpt{value: &pq{"11.2", "10*9/L"}, low: "4.0", high: "11.0", interp: "HI"}),
				d.narrative("20260402", "FREETEXT-9990001014-labnarrative")),
			d.compound(d.id.next(), "BATTERY", read("44I..00", "Serum electrolytes", "252167001"), "20260402", false,
				d.obs(d.id.next(), read("44I5.00", "Serum sodium", "104934005"), "20260402", obsOpt{value: &pq{"131", "mmol/L"}, low: "133", high: "146", interp: "LO"}),
				d.obs(d.id.next(), read("44I4.00", "Serum potassium", "59573005"), "20260402", obsOpt{value: &pq{"4.1", "mmol/L"}, low: "3.5", high: "5.3"}))))
	// Hypertension problem linked to a reading and a medication.
	bpID := d.id.next()
	d.composition(d.id.next(), surgery, "202501101015", false,
		d.compound(bpID, "BATTERY", read("246..00", "O/E - blood pressure reading", "163020007"), "202501101015", false,
			d.obs(d.id.next(), read("2469.00", "O/E - Systolic BP reading", "72313002"), "202501101015", obsOpt{value: &pq{"168", "mm[Hg]"}}),
			d.obs(d.id.next(), read("246A.00", "O/E - Diastolic BP reading", "1091811000000102"), "202501101015", obsOpt{value: &pq{"101", "mm[Hg]"}})))
	d.composition(d.id.next(), surgery, "202603031000", false, d.bp("202603031000", "138", "84"))
	// Two loose parts recorded at the same time pair into one reading.
	d.composition(d.id.next(), surgery, "202607071120", false,
		d.compound(d.id.next(), "CATEGORY", cd{sys: oidLocal, code: "CATEX1", display: "FREETEXT-9990001014-category"}, "202607071120", false,
			d.obs(d.id.next(), read("246Q.00", "Sitting systolic blood pressure", "407554009"), "202607071120", obsOpt{value: &pq{"131", "mm[Hg]"}}),
			d.obs(d.id.next(), read("246R.00", "Sitting diastolic blood pressure", "407555005"), "202607071120", obsOpt{value: &pq{"79", "mm[Hg]"}})))
	htn := d.id.next()
	amlo := d.id.next()
	medStmtAuth := d.medAuth(amlodipine, "one daily", supply{id: amlo, ts: "20250110", low: "20250110", repeats: 12, qty: "28", unit: "tablet", active: true})
	d.composition(d.id.next(), surgery, "20250110", false,
		d.obs(htn, read("G20..00", "Essential hypertension", "59621000"), "20250110", obsOpt{}),
		medStmtAuth,
		d.linkSet("active", true, "20250110", "", htn, bpID, amlo))
	d.composition(d.id.next(), nonConsult, "20250210", false,
		d.medIssue(amlodipine, "one daily", supply{id: d.id.next(), ts: "20250210", qty: "28", unit: "tablet"}, amlo))
	d.composition(d.id.next(), nonConsult, "20250310", false,
		d.medIssue(amlodipine, "one daily", supply{id: d.id.next(), ts: "20250310", qty: "28", unit: "tablet"}, amlo))
	// A discontinued authorisation.
	simva := d.id.next()
	d.composition(d.id.next(), nonConsult, "20220105", false,
		d.medAuth(simvastatin, "one at night", supply{id: simva, ts: "20220105", low: "20220105", repeats: 6, qty: "28", unit: "tablet", active: true}))
	d.composition(d.id.next(), nonConsult, "20230601", false, d.medStop(simvastatin, "20230601", simva))
	// An inactive, minor problem.
	asthma := d.id.next()
	d.composition(d.id.next(), surgery, "20050315", false,
		d.obs(asthma, read("H33..00", "Asthma", "195967001"), "20050315", obsOpt{}),
		d.linkSet("inactive", false, "20050315", "20180101", asthma))
	// Coded no known allergies and another allergy.
	latex := sct("111088007", "Latex")
	d.composition(d.id.next(), nonConsult, "20150601", false,
		d.obs(d.id.next(), sct("716186003", "No known allergy"), "20150601", obsOpt{}))
	d.composition(d.id.next(), nonConsult, "20240601", false,
		d.allergy(false, "20240601", read("SN53100", "Latex allergy", "300916003"), &latex))
	// Plan, referral (linked to its documents by a 394776006 LinkSet, which
	// is not a problem), admission, risk, diagnosis, procedure, immunisation.
	ref := d.id.next()
	d.composition(d.id.next(), surgery, "20260801", false,
		d.plan(d.id.next(), read("66AS.00", "Diabetic annual review", "170777000"), "20270801"),
		d.request(ref, read("8H77.00", "Refer to cardiologist", "183519002"), "20260801", "394849002"),
		d.linkSet("unspecified", false, "20260801", "", ref, ref),
		d.obs(d.id.next(), read("H06z000", "Acute bronchitis", "10509002"), "20260801", obsOpt{}))
	d.composition(d.id.next(), nonConsult, "20260815", false,
		d.obs(d.id.next(), read("8H1..00", "Admission to hospital", "32485007"), "20260815", obsOpt{}))
	d.composition(d.id.next(), nonConsult, "20260901", false,
		d.obs(d.id.next(), sct("450476008", "Not for attempted cardiopulmonary resuscitation"), "20260901", obsOpt{}))
	d.composition(d.id.next(), nonConsult, "20100720", false,
		d.obs(d.id.next(), read("7611.00", "Appendicectomy", "80146002"), "20100720", obsOpt{}))
	d.composition(d.id.next(), surgery, "20261002", false,
		d.obs(d.id.next(), read("65E..00", "Influenza vaccination", "86198006"), "20261002", obsOpt{}),
		d.obs(d.id.next(), read("229..00", "O/E - height", "50373000"), "20261002", obsOpt{value: &pq{"172", "cm"}}))
	d.freeTextConsultation("20261110")
	return d
}

// confidentialItems is 9990001022 (UK07): a NOPAT statement (named by a
// problem) and a NOPAT whole consultation.
func confidentialItems() *doc {
	d := newDoc("9990001022", "20261120", true)
	d.composition(d.id.next(), nonConsult, "20190301", false, d.obs(d.id.next(), consent, "20190301", obsOpt{}))
	hidden := d.id.next()
	d.composition(d.id.next(), surgery, "20240202", false,
		d.obs(hidden, read("E2B..00", "Depressive disorder NEC", "35489007"), "20240202", obsOpt{confidential: true}),
		d.linkSet("active", true, "20240202", "", hidden),
		d.obs(d.id.next(), read("H06z000", "Acute bronchitis", "10509002"), "20240202", obsOpt{}))
	auth := d.id.next()
	d.composition(d.id.next(), surgery, "20240505", true,
		d.obs(d.id.next(), read("E200.00", "Anxiety states", "197480006"), "20240505", obsOpt{}),
		d.medAuth(read("dn1..00", "Sertraline 50mg tablets", "321944001"), "one daily", supply{id: auth, ts: "20240505", low: "20240505", repeats: 3, qty: "28", unit: "tablet", active: true}))
	d.composition(d.id.next(), surgery, "202406061000", false, d.bp("202406061000", "124", "76"))
	d.freeTextConsultation("20261110")
	return d
}

// longHistory is 9990001030: 26 years of consultations, readings, results
// and repeat prescriptions (500+ entries).
func longHistory() *doc {
	d := newDoc("9990001030", "20261120", false)
	d.composition(d.id.next(), nonConsult, "20000110", false, d.obs(d.id.next(), consent, "20000110", obsOpt{}))
	dm := d.id.next()
	d.composition(d.id.next(), nonConsult, "20010301", false,
		d.obs(dm, read("C10F.00", "Type 2 diabetes mellitus", "44054006"), "20010301", obsOpt{}),
		d.linkSet("active", true, "20010301", "", dm))
	auth := d.id.next()
	d.composition(d.id.next(), nonConsult, "20010301", false,
		d.medAuth(metformin, "one tablet twice daily", supply{id: auth, ts: "20010301", low: "20010301", repeats: 999, qty: "56", unit: "tablet", active: true}))
	for y := 2000; y <= 2026; y++ {
		for q := 0; q < 4; q++ {
			month := 1 + q*3
			day := 1 + (y+q)%27
			ts := fmt.Sprintf("%04d%02d%02d", y, month, day)
			tm := fmt.Sprintf("%s%02d%02d", ts, 9+(y+q)%8, (y*7+q*13)%60)
			sys := fmt.Sprint(120 + (y*3+q*7)%40)
			dia := fmt.Sprint(70 + (y+q*5)%20)
			hb := fmt.Sprint(45 + (y*5+q)%30)
			d.composition(d.id.next(), surgery, tm, false,
				d.bp(tm, sys, dia),
				d.obs(d.id.next(), hba1c, ts, obsOpt{value: &pq{hb, "mmol/mol"}, low: "20", high: "41"}),
				d.obs(d.id.next(), read("22A..00", "O/E - weight", "162763007"), ts, obsOpt{value: &pq{fmt.Sprint(70 + (y+q)%9), "kg"}}),
				d.narrative(ts, fmt.Sprintf("FREETEXT-9990001030-%d-%d", y, q)))
			if y >= 2001 && !(y == 2001 && q == 0) {
				d.composition(d.id.next(), nonConsult, ts, false,
					d.medIssue(metformin, "one tablet twice daily", supply{id: d.id.next(), ts: ts, qty: "56", unit: "tablet"}, auth))
			}
		}
		if y%5 == 0 {
			d.composition(d.id.next(), surgery, fmt.Sprintf("%04d1015", y),
				false, d.obs(d.id.next(), read("65E..00", "Influenza vaccination", "86198006"), fmt.Sprintf("%04d1015", y), obsOpt{}))
		}
	}
	d.freeTextConsultation("20261110")
	return d
}

// dissent is 9990001049: consent 9Nd7. then dissent 9Nd1. recorded later.
func dissent() *doc {
	d := newDoc("9990001049", "20261120", false)
	d.composition(d.id.next(), nonConsult, "20190101", false, d.obs(d.id.next(), consent, "20190101", obsOpt{}))
	d.composition(d.id.next(), surgery, "20200505", false,
		d.obs(d.id.next(), read("H06z000", "Acute bronchitis", "10509002"), "20200505", obsOpt{}))
	d.composition(d.id.next(), nonConsult, "20220301", false, d.obs(d.id.next(), dissentCode, "20220301", obsOpt{}))
	d.freeTextConsultation("20261110")
	return d
}

// noConsent is 9990001057: an ordinary record with no sharing consent.
func noConsent() *doc {
	d := newDoc("9990001057", "20261120", false)
	d.composition(d.id.next(), surgery, "202105051000", false,
		d.bp("202105051000", "130", "80"),
		d.obs(d.id.next(), read("H06z000", "Acute bronchitis", "10509002"), "20210505", obsOpt{}))
	d.freeTextConsultation("20261110")
	return d
}

// sensitive is 9990001065: a sexually transmitted infection and a
// termination of pregnancy among ordinary items; consent given.
func sensitive() *doc {
	d := newDoc("9990001065", "20261120", false)
	d.composition(d.id.next(), nonConsult, "20190301", false, d.obs(d.id.next(), consent, "20190301", obsOpt{}))
	d.composition(d.id.next(), surgery, "20230411", false,
		d.obs(d.id.next(), read("A98..00", "Gonococcal infections", "15628003"), "20230411", obsOpt{}))
	d.composition(d.id.next(), nonConsult, "20240120", false,
		d.obs(d.id.next(), read("7E070.0", "Termination of pregnancy", "57797005"), "20240120", obsOpt{}))
	d.composition(d.id.next(), surgery, "202405051000", false,
		d.bp("202405051000", "118", "72"),
		d.obs(d.id.next(), read("H06z000", "Acute bronchitis", "10509002"), "20240505", obsOpt{}))
	d.freeTextConsultation("20261110")
	return d
}

// ordinary is a small consented record (9990001073 deceased, 9990001081
// deducted: demographics in patients.json).
func ordinary(nhs, extracted string) *doc {
	d := newDoc(nhs, extracted, false)
	d.composition(d.id.next(), nonConsult, "20180301", false, d.obs(d.id.next(), consent, "20180301", obsOpt{}))
	asthma := d.id.next()
	d.composition(d.id.next(), surgery, "202002021000", false,
		d.obs(asthma, read("H33..00", "Asthma", "195967001"), "20200202", obsOpt{}),
		d.linkSet("active", false, "20200202", "", asthma),
		d.bp("202002021000", "128", "82"))
	auth := d.id.next()
	d.composition(d.id.next(), nonConsult, "20200202", false,
		d.medAuth(read("c13U.00", "Salbutamol 100micrograms/dose inhaler", "320176004"), "two puffs when required",
			supply{id: auth, ts: "20200202", low: "20200202", repeats: 6, qty: "1", unit: "inhaler", active: true}),
		d.medIssue(read("c13U.00", "Salbutamol 100micrograms/dose inhaler", "320176004"), "two puffs when required",
			supply{id: d.id.next(), ts: "20200202", qty: "1", unit: "inhaler"}, auth))
	d.freeTextConsultation("20261110")
	return d
}

// realWorld is 9990001103 (UK07): the shapes real GP systems send (issue
// 11), in our own words and codes. Results with the unit only in
// originalText beside unit="1" (valid, braced and free text), one-sided
// interval values, plans (PlanStatement, moodCode INT), a SNOMED CT
// description id (301485011, a description of Asthma) as a code, the same
// allergy in two consultations (compound and observation sharing an id),
// two different statements under one id, a relative's condition and a
// family history code, a confidential authorisation with an issue filed
// elsewhere, a confidential blood pressure half, a confidential battery
// member, a confidential consultation, allergies under 14L..00 whose
// allergen is local or narrative only, a battery with interpretation
// codes, and referrals active, completed, nullified and without a status.
func realWorld() *doc {
	d := newDoc("9990001103", "20261120", true)
	d.composition(d.id.next(), nonConsult, "20200301", false, d.obs(d.id.next(), consent, "20200301", obsOpt{}))

	// A liver function battery: units from originalText, interpretation
	// codes, one member confidential.
	d.composition(d.id.next(), surgery, "20260510", false,
		d.compound(d.id.next(), "BATTERY", read("44D..00", "Liver function tests"), "20260510", false,
			d.obs(d.id.next(), read("44G3.00", "ALT/SGPT serum level"), "20260510", obsOpt{rawValue: unity("34", "U/L"), low: "0", high: "40", rangeUnit: "U/L"}),
			d.obs(d.id.next(), read("44E..00", "Serum bilirubin level"), "20260510", obsOpt{rawValue: unity("25", "umol/L"), low: "0", high: "21", rangeUnit: "umol/L", interp: "HI"}),
			d.obs(d.id.next(), read("44M4.00", "Serum albumin"), "20260510", obsOpt{value: &pq{"31", "g/L"}, low: "35", high: "50", interp: "LO",
				annotation: "FREETEXT-9990001103-albumincomment"}),
			d.obs(d.id.next(), read("44G4.00", "Gamma GT level"), "20260510", obsOpt{value: &pq{"88", "U/L"}, interp: "OR", confidential: true})),
		// One-sided values: eGFR above 90, CRP below 5.
		d.obs(d.id.next(), read("451E.00", "GFR calculated abbreviated MDRD"), "20260510", obsOpt{rawValue: oneSided("low", "90", "mL/min/1.73m2", false)}),
		d.obs(d.id.next(), read("44CS.00", "Serum C reactive protein level"), "20260510", obsOpt{rawValue: oneSided("high", "5", "mg/L", false)}),
		// Units that cannot be vetted: a braced annotation of the sender's
		// own and free text in the unit's place.
		d.obs(d.id.next(), read("44P..00", "Serum cholesterol"), "20260510", obsOpt{rawValue: unity("5.2", "{lab units}")}),
		d.obs(d.id.next(), hba1c, "20260510", obsOpt{rawValue: unity("48", "FREETEXT-9990001103-unit")}))

	// Plans: a due vaccination (PlanStatement) and a planned operation
	// (an ObservationStatement in mood INT).
	d.composition(d.id.next(), surgery, "20261015", false,
		d.plan(d.id.next(), read("65E..00", "Influenza vaccination", "86198006"), "20271001"),
		d.obs(d.id.next(), read("7611.00", "Appendicectomy", "80146002"), "20261015", obsOpt{mood: "INT", effective: "20270120"}))

	// A SNOMED CT description id where a concept id belongs; two
	// different statements under one id.
	same := d.id.next()
	d.composition(d.id.next(), surgery, "20250605", false,
		d.obs(d.id.next(), sct("301485011", "Asthma"), "20250605", obsOpt{}),
		d.obs(same, read("H06z000", "Acute bronchitis", "10509002"), "20250605", obsOpt{}),
		d.obs(same, read("H01..00", "Acute sinusitis", "15805002"), "20250605", obsOpt{}))

	// The same allergy statement filed in two consultations (the compound
	// and its observation share one id, as real senders write it).
	pen := sct("764146007", "Penicillin")
	allergy := d.id.next()
	for _, ts := range []string{"20190410", "20240410"} {
		d.composition(d.id.next(), surgery, ts, false,
			d.compound(allergy, "CATEGORY", read("14L..00", "H/O: drug allergy"), "20190410", false,
				d.obs(allergy, read("14L2.00", "H/O: penicillin allergy", "91936005"), "20190410", obsOpt{valueCD: &pen})))
	}
	// Allergies under the national heading whose allergen is a local code,
	// or narrative only.
	d.composition(d.id.next(), nonConsult, "20220202", false,
		d.allergyWith(d.id.next(), d.id.next(), "20220202", cd{sys: oidLocal, code: "ALGLOC1", display: "FREETEXT-9990001103-localallergy"},
			&cd{sys: oidLocal, code: "DRGLOC1", display: "FREETEXT-9990001103-localdrug"}),
		d.allergyWith(d.id.next(), d.id.next(), "20220202", cd{sys: oidLocal, code: "ALGLOC2", display: "FREETEXT-9990001103-narrativeallergy"}, nil))

	// About relatives: the mother's diabetes, a family history code.
	mother := sct("72705000", "Mother")
	d.composition(d.id.next(), surgery, "20230303", false,
		d.obs(d.id.next(), read("C10F.00", "Type 2 diabetes mellitus", "44054006"), "20230303", obsOpt{relative: &mother}),
		d.obs(d.id.next(), read("12C..00", "FH: Ischaemic heart disease"), "20230303", obsOpt{}))

	// Confidentiality that follows links: an authorisation and its issue
	// filed in another consultation; a reading whose systolic half is
	// confidential; a whole confidential consultation.
	ser := read("dn1..00", "Sertraline 50mg tablets", "321944001")
	auth := d.id.next()
	d.composition(d.id.next(), surgery, "20250801", false,
		d.medAuth(ser, "one daily", supply{id: auth, ts: "20250801", low: "20250801", repeats: 3, qty: "28", unit: "tablet", active: true, confidential: true}))
	d.composition(d.id.next(), nonConsult, "20250901", false,
		d.medIssue(ser, "one daily", supply{id: d.id.next(), ts: "20250901", qty: "28", unit: "tablet"}, auth))
	d.composition(d.id.next(), surgery, "202509021000", false, d.bpHalfConfidential("202509021000", "162", "98"))
	d.composition(d.id.next(), surgery, "20251010", true,
		d.obs(d.id.next(), read("E200.00", "Anxiety states", "197480006"), "20251010", obsOpt{}))
	d.composition(d.id.next(), surgery, "202510201000", false, d.bp("202510201000", "128", "79"))

	// Referrals: open, completed, nullified, and with no status.
	d.composition(d.id.next(), surgery, "20260701", false,
		d.requestStatus(d.id.next(), read("8H77.00", "Refer to cardiologist", "183519002"), "20260701", "394849002", "ACTIVE"),
		d.requestStatus(d.id.next(), read("8H4E.00", "Referral to diabetologist", "183530004"), "20260701", "394848005", "COMPLETE"),
		d.requestStatus(d.id.next(), read("8H77.00", "Refer to cardiologist", "183519002"), "20260701", "394848005", "NULLIFIED"),
		d.requestStatus(d.id.next(), read("8H4E.00", "Referral to diabetologist", "183530004"), "20260701", "394848005", ""))
	d.freeTextConsultation("20261110")
	return d
}
