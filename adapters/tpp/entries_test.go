package tpp

import (
	"fmt"
	"strings"
	"testing"

	"mig/adapters/record"
)

func cc(scheme, code string, extra string) string {
	return `<ClinicalCode><Code Scheme="` + scheme + `" Code="` + code + `" Term="t"/>` + extra + `</ClinicalCode>`
}

func event(uid, attrs, body string) string {
	return `<Event DateTime="2024-03-04T10:00:00" UserName="gp.one" EventUID="` + uid + `" ` + attrs + `>` + body + `</Event>`
}

// TestKinds checks how the structure and then the classifier decide an
// entry's kind and what the structure adds.
func TestKinds(t *testing.T) {
	type want struct {
		kind     record.Kind
		status   record.Status
		category string
		extra    string // what else to check, see below
	}
	tests := []struct {
		name string
		body string
		id   string
		want want
	}{
		{"problem header", cc("CTV3", "H33..", `<ProblemSeverity>Major Episode</ProblemSeverity>`), "E.1",
			want{record.KindProblem, record.StatusActive, "", "major"}},
		{"ended problem is past (inactive)", cc("CTV3", "S23..", `<ProblemSeverity>Minor Event</ProblemSeverity><ProblemEndDate>2015-06-01</ProblemEndDate>`), "E.1",
			want{record.KindProblem, record.StatusInactive, "", "minor"}},
		{"diagnosis by classifier", cc("CTV3", "G30..", ""), "E.1", want{record.KindDiagnosis, 0, "", ""}},
		{"family history is not the patient's", cc("CTV3", "G30..", `<IsFamilyHistory/>`), "E.1", want{record.KindNone, 0, "", ""}},
		{"family history beats problem", cc("CTV3", "G30..", `<ProblemSeverity>Major Episode</ProblemSeverity><IsFamilyHistory/>`), "E.1", want{record.KindNone, 0, "", ""}},
		{"allergy flag, other", cc("Snomed", "300916003", `<IsAllergy/>`), "E.1", want{record.KindAllergy, record.StatusActive, record.AllergyOther, ""}},
		{"drug sensitivity makes medication allergy", cc("Snomed", "294505008", `<IsAllergy/>`) + `<DrugSensitivity><Type>Drug</Type></DrugSensitivity>`, "E.1",
			want{record.KindAllergy, record.StatusActive, record.AllergyDrug, ""}},
		{"drug sensitivity with unflagged X code", cc("CTV3", "XaBcd", "") + `<DrugSensitivity><Type>Ingredient</Type></DrugSensitivity>`, "E.1",
			want{record.KindAllergy, record.StatusActive, record.AllergyDrug, ""}},
		{"14L code is a drug allergy by classifier", cc("CTV3", "14L2.", ""), "E.1", want{record.KindAllergy, record.StatusActive, record.AllergyDrug, ""}},
		{"no known allergy", cc("Snomed", "716186003", ""), "E.1", want{record.KindAllergy, record.StatusActive, record.AllergyNoKnown, ""}},
		{"X code with value is investigation", cc("CTV3", "XaPbt", `<Value>58</Value><Units>mmol/mol</Units>`), "E.1",
			want{record.KindInvestigation, 0, "", "58 mmol/mol"}},
		{"X code without value is not shown", cc("CTV3", "XaPbt", ""), "E.1", want{record.KindNone, 0, "", ""}},
		{"X code in a report event is investigation", cc("CTV3", "XE2q5", "") + `<Report><BatteryHeaders>x</BatteryHeaders></Report>`, "E.1",
			want{record.KindInvestigation, 0, "", ""}},
		{"chapter 2 code with value stays not shown", cc("CTV3", "22A..", `<Value>70</Value>`), "E.1", want{record.KindNone, 0, "", "70 "}},
		{"vaccination event makes immunisation", cc("Snomed", "1324681000000101", "") + `<Vaccination><Name>x</Name></Vaccination>`, "E.1",
			want{record.KindImmunisation, 0, "", ""}},
		{"vaccination event leaves a diagnosis alone", cc("CTV3", "G30..", "") + `<Vaccination><Name>x</Name></Vaccination>`, "E.1",
			want{record.KindDiagnosis, 0, "", ""}},
		{"immunisation by code", cc("CTV3", "65E..", ""), "E.1", want{record.KindImmunisation, 0, "", ""}},
		{"referral", cc("CTV3", "8H4E.", ""), "E.1", want{record.KindReferral, 0, "", "referral"}},
		{"admission", cc("CTV3", "8H2..", ""), "E.1", want{record.KindAdmission, 0, "", ""}},
		{"procedure", cc("CTV3", "7611.", ""), "E.1", want{record.KindProcedure, 0, "", ""}},
		{"risk from default set", cc("CTV3", "8CM1.", ""), "E.1", want{record.KindRisk, 0, "", ""}},
		{"consent code stays ordinary", cc("CTV3", "9Nd7.", ""), "E.1", want{record.KindNone, 0, "", ""}},
		{"dissent code stays ordinary", cc("CTV3", "9Nd1.", ""), "E.1", want{record.KindNone, 0, "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := parseString(t, doc(event("E", "", tt.body)))
			e := entry(t, rec, tt.id)
			if e.Kind != tt.want.kind || e.Status != tt.want.status {
				t.Errorf("kind, status = %v, %v; want %v, %v", e.Kind, e.Status, tt.want.kind, tt.want.status)
			}
			if tt.want.category != "" && (e.Allergy == nil || e.Allergy.Category != tt.want.category) {
				t.Errorf("allergy = %+v, want category %q", e.Allergy, tt.want.category)
			}
			switch x := tt.want.extra; {
			case x == "major" || x == "minor":
				if e.Problem == nil || e.Problem.Significance != x {
					t.Errorf("problem = %+v, want significance %q", e.Problem, x)
				}
			case x == "referral":
				if e.Referral == nil {
					t.Error("referral info missing")
				}
			case strings.Contains(x, " "):
				if e.Value == nil || e.Value.Value+" "+e.Value.Unit != x {
					t.Errorf("value = %+v, want %q", e.Value, x)
				}
			}
			if e.Organisation != "A99903" || e.Author == nil || e.Author.ID != "gp.one" {
				t.Errorf("organisation %q, author %+v", e.Organisation, e.Author)
			}
		})
	}
}

func TestBloodPressure(t *testing.T) {
	body := cc("CTV3", "2469.", `<Value>150</Value>`) + cc("CTV3", "246..", "") +
		cc("CTV3", "XaJ2F", `<Value>84</Value><Units>mm Hg</Units>`) + cc("CTV3", "246A.", `<Value>95</Value><Units>mmHg</Units>`) +
		cc("CTV3", "XaJ2E", `<Value>138</Value><Units>kPa</Units>`) + cc("CTV3", "XaIwj", `<Value>120</Value>`)
	rec := parseString(t, doc(event("E", "", body)))
	var got []string
	for _, e := range rec.Entries {
		q := func(q *record.Quantity) string {
			if q == nil {
				return "-"
			}
			return q.Value + q.Unit
		}
		got = append(got, fmt.Sprintf("%s %v %s %s/%s %s/%s", e.ID, e.Kind, codes(e.Code), q(e.Systolic), q(e.Diastolic),
			codes(e.SystolicCode), codes(e.DiastolicCode)))
	}
	want := []string{
		"E.1 blood-pressure read.info/ctv3|246..|t 150mm[Hg]/84mm[Hg] read.info/ctv3|2469.|t/read.info/ctv3|XaJ2F|t",
		"E.4 blood-pressure  138kPa/95mm[Hg] read.info/ctv3|XaJ2E|t/read.info/ctv3|246A.|t",
		"E.6 blood-pressure  120mm[Hg]/- read.info/ctv3|XaIwj|t/",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A header without readings is an ordinary entry.
	rec = parseString(t, doc(event("F", "", cc("CTV3", "246..", ""))))
	if e := entry(t, rec, "F.1"); e.Kind != record.KindBloodPressure || e.Systolic != nil {
		t.Errorf("lone header = %+v", e)
	}
}

func TestLocalCodes(t *testing.T) {
	body := `<ClinicalCode><Code Scheme="CTV3" Code="Y1234" Term="FREETEXT-a"/><Code Scheme="Snomed" Code="38341003" Term="Hypertension"/></ClinicalCode>` +
		`<ClinicalCode><Code Scheme="CTV3" Code="Y9876" Term="FREETEXT-b"/></ClinicalCode>` +
		`<ClinicalCode><Code Scheme="Other" Code="ABC" Term="FREETEXT-c"/></ClinicalCode>` +
		`<Medication><MedicationType>NHS medication</MedicationType><Drug FullName="FREETEXT-d" Scheme="Multilex" ProductID="123" PackID="4"/><Dose>x</Dose><Quantity>1</Quantity><StartDate>2024-01-01</StartDate><EndDate>2024-01-02</EndDate></Medication>`
	rec := parseString(t, doc(event("E", "", body)))
	if len(rec.Entries) != 4 {
		t.Fatalf("entries = %d, want 4 (local-only codes and the Multilex drug kept as not classifiable)", len(rec.Entries))
	}
	if got := codes(rec.Entries[0].Code); got != "fhir.hl7.org.uk/Id/tpp-local-codes|Y1234| snomed.info/sct|38341003|Hypertension" {
		t.Errorf("codes = %q", got)
	}
	// A local-only code is accounted for: its code, never its term, never shown.
	// A Multilex medicine, too: never dropped silently (its name is free
	// text, never kept).
	for i, want := range []string{"fhir.hl7.org.uk/Id/tpp-local-codes|Y9876|", "fhir.hl7.org.uk/Id/tpp-local-codes|ABC|", "fhir.hl7.org.uk/Id/tpp-local-codes|123|"} {
		e := rec.Entries[i+1]
		if got := codes(e.Code); got != want || e.Kind != record.KindNone || e.NotShown != record.RuleUnclassifiable {
			t.Errorf("local-only %d: %q %v %q", i, got, e.Kind, e.NotShown)
		}
	}
}

func med(drug, extra string) string {
	return `<Medication><MedicationType>NHS medication</MedicationType><Drug FullName="Drug" Scheme="Dmd" ProductID="` + drug +
		`"/><Dose>one daily</Dose><Quantity>28 tablet</Quantity>` + extra + `</Medication>`
}

func repeat(drug, extra string) string {
	return `<RepeatMedication><Drug FullName="Drug" Scheme="Dmd" ProductID="` + drug +
		`"/><Dose>one daily</Dose><Quantity>28 tablet</Quantity>` + extra + `<IssueDurationDays>28</IssueDurationDays><MedicationType>NHS medication</MedicationType></RepeatMedication>`
}

func TestMedication(t *testing.T) {
	events := event("A1", "", med("323509004", `<StartDate>2025-03-01</StartDate><EndDate>2025-03-08</EndDate>`)) +
		event("A2", "", med("323509004", `<StartDate>2025-04-01</StartDate><EndDate>2025-04-08</EndDate><EndReason>Side Effect</EndReason>`)) +
		event("A3", "", med("323509004", `<StartDate>2026-11-20</StartDate><EndDate>2026-11-30</EndDate>`)) +
		// issues come before and after their authorisations in the document
		event("I1", "", med("325278007", `<StartDate>2020-02-01</StartDate><EndDate>2020-03-01</EndDate><RepeatIssue/>`)) +
		event("R1", "", repeat("325278007", `<StartDate>2019-01-01</StartDate><EndDate>2020-12-31</EndDate><MaxIssues>6</MaxIssues>`)) +
		event("R2", "", repeat("325278007", `<StartDate>2021-01-01</StartDate><EndReason>Side Effect</EndReason>`)) +
		event("R3", "", repeat("319283006", `<StartDate>2019-01-01</StartDate><EndDate>2019-06-30</EndDate><EndReason>End of Course</EndReason>`)) +
		event("R4", "", repeat("318900007", `<StartDate>2019-01-01</StartDate><EndDate>2019-06-30</EndDate>`)) +
		event("I2", "", med("325278007", `<StartDate>2020-12-31</StartDate><EndDate>2021-01-28</EndDate><RepeatIssue/>`)) +
		event("I3", "", med("325278007", `<StartDate>2021-02-01</StartDate><EndDate>2021-03-01</EndDate><RepeatIssue/>`)) +
		event("I4", "", med("319283006", `<StartDate>2019-07-01</StartDate><EndDate>2019-08-01</EndDate><RepeatIssue/>`))
	rec := parseString(t, doc(events))
	tests := []struct {
		id     string
		kind   record.Kind
		status record.Status
		typ    string
		auth   string
		issued int
	}{
		{"A1.1", record.KindMedicationAuthorisation, record.StatusCompleted, record.PrescriptionAcute, "", 0},
		{"A1.1.issue", record.KindMedicationIssue, record.StatusCompleted, record.PrescriptionAcute, "A1.1", 0},
		{"A2.1", record.KindMedicationAuthorisation, record.StatusStopped, record.PrescriptionAcute, "", 0},
		{"A3.1", record.KindMedicationAuthorisation, record.StatusActive, record.PrescriptionAcute, "", 0},
		{"R1.1", record.KindMedicationAuthorisation, record.StatusCompleted, record.PrescriptionRepeat, "", 2},
		{"R2.1", record.KindMedicationAuthorisation, record.StatusActive, record.PrescriptionRepeat, "", 1},
		{"R3.1", record.KindMedicationAuthorisation, record.StatusCompleted, record.PrescriptionRepeat, "", 0},
		{"R4.1", record.KindMedicationAuthorisation, record.StatusCompleted, record.PrescriptionRepeat, "", 0},
		{"I1.1", record.KindMedicationIssue, record.StatusCompleted, record.PrescriptionRepeat, "R1.1", 0},
		{"I2.1", record.KindMedicationIssue, record.StatusCompleted, record.PrescriptionRepeat, "R1.1", 0},
		{"I3.1", record.KindMedicationIssue, record.StatusCompleted, record.PrescriptionRepeat, "R2.1", 0},
		{"I4.1", record.KindMedicationIssue, record.StatusCompleted, record.PrescriptionRepeat, "", 0},
	}
	for _, tt := range tests {
		e := entry(t, rec, tt.id)
		m := e.Medication
		if e.Kind != tt.kind || e.Status != tt.status || m == nil || m.Type != tt.typ || m.Authorisation != tt.auth || m.RepeatsIssued != tt.issued {
			t.Errorf("%s: kind %v status %v medication %+v; want %v %v %s auth %q issued %d", tt.id, e.Kind, e.Status, m, tt.kind, tt.status, tt.typ, tt.auth, tt.issued)
			continue
		}
		if m.Dosage.String() != "one daily" || m.Quantity.String() != "28 tablet" {
			t.Errorf("%s: dosage %q quantity %q", tt.id, m.Dosage, m.Quantity)
		}
	}
	if r1 := entry(t, rec, "R1.1"); r1.Medication.RepeatsAllowed != 6 || r1.Medication.DurationDays != 28 || r1.End.IsZero() {
		t.Errorf("R1.1 = %+v %+v", r1, r1.Medication)
	}
}

// TestReferences checks what is resolved by id after reading: users
// (Metadata comes last), sites, problems, encounters.
func TestReferences(t *testing.T) {
	events := event("P", "", cc("CTV3", "H33..", `<ProblemSeverity>Major Episode</ProblemSeverity>`)) +
		event("C", `Method="Face to face"`, cc("CTV3", "44J3.", `<Value>80</Value><LinkedProblemUID>P</LinkedProblemUID>`)+
			cc("CTV3", "G30..", `<LinkedProblemUID>P.1</LinkedProblemUID><LinkedProblemUID>nowhere</LinkedProblemUID>`)+
			`<Narrative><Line>x</Line></Narrative>`) +
		event("D", `Method="DNA"`, cc("CTV3", "7611.", "")) +
		event("L", "", cc("CTV3", "7611.", "")+`<LinkedProblemUID>P</LinkedProblemUID>`) +
		`<Event DateTime="2024-03-05T10:00:00" UserName="locum.z" EventUID="U">` + cc("CTV3", "7611.", "") + `</Event>` +
		`<Event>` + cc("CTV3", "7611.", "") + `</Event>`
	appts := `<Appointment><DateTime>2025-03-03T09:00:00</DateTime><Duration>10</Duration><Clinician>x</Clinician><UserName>gp.one</UserName><Site>Branch</Site><ClinicType>x</ClinicType><AppointmentUID>AP1</AppointmentUID><Status>Finished</Status></Appointment>` +
		`<Appointment><DateTime>2025-03-04T09:00:00</DateTime><Duration>10</Duration><Clinician>x</Clinician><UserName>gp.one</UserName><Site>A99903</Site><ClinicType>x</ClinicType><AppointmentUID>AP2</AppointmentUID><Status>Did Not Attend</Status></Appointment>` +
		`<Appointment><DateTime>2025-03-05T09:00:00</DateTime><Duration>10</Duration><Clinician>x</Clinician><UserName>gp.one</UserName><Site>Elsewhere</Site><ClinicType>x</ClinicType><AppointmentUID>AP3</AppointmentUID><Status>In Progress</Status></Appointment>` +
		`<Visit><DateTime>2025-04-01T14:00:00</DateTime><Duration>30</Duration><UserName>nurse.two</UserName><Status>Finished</Status><VisitUID>V1</VisitUID></Visit>` +
		`<Visit><DateTime>2025-04-02T14:00:00</DateTime><Duration>30</Duration><UserName>nurse.two</UserName><Status>Booked</Status><VisitUID>V2</VisitUID></Visit>`
	meta := `<Site><Name>Branch</Name><ID>A99903-B</ID></Site>` +
		`<User><Title>Dr</Title><FirstName>Gill</FirstName><MiddleNames>Ann Marie</MiddleNames><Surname>Doc</Surname><UserName>gp.one</UserName><Gender>F</Gender><Role>x</Role><RoleCode>S8000:G8000:R8000</RoleCode><AccessRights/><UserGroups/></User>`
	rec := parseString(t, doc(events, appts, meta))

	var ids []string
	for _, e := range rec.Entries {
		ids = append(ids, e.ID+":"+e.Kind.String()+":"+e.Encounter)
	}
	want := "P.1:problem: C:encounter: C.1:investigation:C C.2:diagnosis:C D.1:procedure: L.1:procedure: U.1:procedure: event-6.1:procedure: AP1:encounter: AP3:encounter: V1:encounter:"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("entries\n got %s\nwant %s", got, want)
	}
	if got := strings.Join(entry(t, rec, "P.1").Problem.Links, " "); got != "C.1 C.2 L.1" {
		t.Errorf("problem links = %q", got)
	}
	a := entry(t, rec, "C.1").Author
	if a == nil || a.ID != "gp.one" || a.Name.Family() != "Doc" || strings.Join(a.Name.Given(), " ") != "Gill Ann Marie" ||
		a.Name.Prefix() != "Dr" || codes(a.Role) != "fhir.nhs.uk/Id/sds-role-code|R8000|" {
		t.Errorf("author = %+v", a)
	}
	if a := entry(t, rec, "U.1").Author; a == nil || a.ID != "locum.z" || !a.Name.IsZero() {
		t.Errorf("unresolved author = %+v", a)
	}
	if a := entry(t, rec, "event-6.1").Author; a != nil || !entry(t, rec, "event-6.1").Effective.IsZero() {
		t.Errorf("event without user or date: author %+v", a)
	}
	for id, org := range map[string]string{"AP1": "A99903-B", "AP3": "A99903", "V1": "A99903", "C": "A99903"} {
		if got := entry(t, rec, id).Organisation; got != org {
			t.Errorf("%s organisation = %q, want %q", id, got, org)
		}
	}
	if a := entry(t, rec, "V1").Author; a == nil || a.ID != "nurse.two" {
		t.Errorf("visit author = %+v", a)
	}
}

func TestDemographics(t *testing.T) {
	d := `<Demographics><Title>Mrs</Title><FirstName>Ann</FirstName><MiddleNames>B  C</MiddleNames><Surname>Tpp</Surname><KnownAs>FREETEXT-k</KnownAs>
<DateOfBirth>1950-03-14</DateOfBirth><DateOfDeath>2026-01-02</DateOfDeath><Sex>F</Sex><EnglishSpeaker>Yes</EnglishSpeaker>
<Address><HouseName>Rose Cottage</HouseName><HouseNumber>1</HouseNumber><Road>Test Street</Road><Locality>Headingley</Locality><Town>Leeds</Town><County>West Yorkshire</County><Postcode>LS1 1AA</Postcode></Address>
<SMSConsent>Yes</SMSConsent><CareStartDate>2000-01-01</CareStartDate><CareEndDate>2026-01-03</CareEndDate><RegistrationType>GMS</RegistrationType></Demographics>`
	s := strings.Replace(doc(""), doc("")[strings.Index(doc(""), "<Demographics>"):strings.Index(doc(""), "</Demographics>")+len("</Demographics>")], d, 1)
	rec := parseString(t, s)
	p := rec.Patient
	if p.NHSNumber != "9990003017" || p.Name.Prefix() != "Mrs" || strings.Join(p.Name.Given(), "|") != "Ann|B|C" || p.Name.Family() != "Tpp" {
		t.Errorf("identity/name = %+v", p)
	}
	if p.BirthDate.P != record.PrecisionDay || p.BirthDate.T.Format("2006-01-02") != "1950-03-14" || p.Sex != record.SexFemale {
		t.Errorf("birth/sex = %+v %v", p.BirthDate, p.Sex)
	}
	if !p.Deceased || p.DeceasedDate.T.Format("2006-01-02") != "2026-01-02" || !p.Deducted || p.PracticeODS != "A99903" {
		t.Errorf("deceased/deducted/practice = %+v", p)
	}
	if got := strings.Join(p.Address.Lines(), "|") + "|" + p.Address.City() + "|" + p.Address.District() + "|" + p.Address.PostalCode(); got != "Rose Cottage|1 Test Street|Headingley|Leeds|West Yorkshire|LS1 1AA" {
		t.Errorf("address = %q", got)
	}
	if len(rec.SharingFlags) != 0 {
		t.Errorf("SMSConsent must not be a sharing flag: %+v", rec.SharingFlags)
	}
	// A care end date still to come is not a deduction.
	rec = parseString(t, strings.Replace(s, "2026-01-03", "2027-01-03", 1))
	if rec.Patient.Deducted {
		t.Error("future care end date counted as deducted")
	}
}
