package emis

import (
	"bytes"
	"sort"
	"strings"
	"testing"
	"time"

	"mig/adapters/record"
)

// The tests in this file hold the rules of issue 11 for EMIS Open, with
// expectations written by hand (not regenerated): testdata/A99902/9990002061
// has the shapes of a real EMIS Open record (-1 in every unset policy and
// link field), and small documents test each rule alone.

func utcDate(y int, m time.Month, d, h, mi int, p record.Precision) record.Date {
	return record.Date{T: time.Date(y, m, d, h, mi, 0, 0, time.UTC), P: p}
}

// TestRealShapes: nothing is withheld for a -1 policy; each positive
// policy withholds its item and what links to it; every other rule of the
// issue holds on the same record.
func TestRealShapes(t *testing.T) {
	r := parse(t, readExtract(t, "9990002061"), record.ParseOptions{NHSNumber: "9990002061"})

	// Withheld: the items with a positive policy, and what links to them.
	wantWithheld := []string{
		"E61-SECRET", // PolicyID 5
		// a consultation with PolicyID 7 and all it holds (its BP pair is one reading)
		"C61-PRIVATE", "E61-PRIV-SYS", "M61-PRIV-COURSE",
		"I61-PRIV-ISSUE",           // an issue of that course (its own PolicyId is -1)
		"E61-SYS",                  // a pair (one reading) whose diastolic half has PolicyID 3
		"INV61-PRIVATE", "E61-ALT", // a report with PolicyID 6 and its result
		"E61-K",                      // one result with PolicyID 4 (its report stays)
		"R61-PRIVATE", "A61-PRIVATE", // a referral and an allergy with policies
		"M61-PRIVATE", "I61-OF-PRIVATE", // a course with PolicyId 12 and its issue
	}
	got := append([]string(nil), r.WithheldIDs...)
	sort.Strings(got)
	want := append([]string(nil), wantWithheld...)
	sort.Strings(want)
	if !r.Withheld || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("withheld %v (flag %v), want %v", got, r.Withheld, want)
	}
	for _, id := range append(wantWithheld, "E61-PRIV-DIA", "E61-DIA") {
		if has(r, id) {
			t.Errorf("%s is in the record", id)
		}
	}

	day := func(y int, m time.Month, d int) record.Date { return utcDate(y, m, d, 0, 0, record.PrecisionDay) }
	cases := []struct {
		id       string
		kind     record.Kind
		notShown record.Rule
		planned  bool
		eff      record.Date
	}{
		{"E61-CONSENT", record.KindNone, record.RuleAdministration, false, day(2021, 2, 2)},
		{"E61-ASTHMA", record.KindProblem, "", false, day(2015, 5, 4)},
		// DatePart 0 in British Summer Time: the calendar day, never the day before
		{"E61-BST-DAY", record.KindDiagnosis, "", false, day(2026, 6, 30)},
		{"E61-BST-MIDNIGHT", record.KindDiagnosis, "", false, day(2026, 7, 1)},      // "01/07/2026 00:00:00", DatePart 0
		{"E61-BST-MIDNIGHT-TIME", record.KindDiagnosis, "", false, day(2026, 7, 2)}, // AssignedTime 00:00 is no time
		// a real time (AssignedTime 00:30 BST) is UK local time: 23:30 UTC the day before
		{"E61-BST-TIME", record.KindDiagnosis, "", false, utcDate(2026, 7, 2, 23, 30, record.PrecisionMinute)},
		{"E61-MONTH", record.KindProcedure, "", false, utcDate(2003, 7, 1, 0, 0, record.PrecisionMonth)},
		{"E61-YEAR", record.KindDiagnosis, "", false, utcDate(1999, 1, 1, 0, 0, record.PrecisionYear)},
		// GroupID -1 is no group: halves of different days stay apart
		{"E61-SYS-ALONE", record.KindBloodPressure, "", false, utcDate(2026, 2, 1, 9, 0, record.PrecisionMinute)},
		{"E61-DIA-ALONE", record.KindBloodPressure, "", false, utcDate(2026, 3, 3, 10, 0, record.PrecisionMinute)},
		// SNOMED only, no release loaded: accounted for, not shown
		{"E61-DESC-AS-CODE", record.KindNone, record.RuleUnclassifiable, false, day(2024, 4, 4)},
		{"E61-TERMID", record.KindNone, record.RuleUnclassifiable, false, day(2024, 4, 5)},
		// about a relative
		{"E61-FH-EVENTTYPE", record.KindNone, record.RuleRelative, false, day(2024, 4, 6)},
		{"E61-FH-CODE", record.KindNone, record.RuleRelative, false, day(2024, 4, 7)},
		{"E61-FH-QUALIFIER", record.KindNone, record.RuleRelative, false, day(2024, 4, 8)},
		{"E61-NOT-FAMILY", record.KindDiagnosis, "", false, day(2024, 4, 9)}, // a laterality qualifier
		{"E61-ALLERGY-EVENT", record.KindAllergy, "", false, day(2024, 4, 10)},
		{"C61-OPEN", record.KindEncounter, "", false, day(2026, 6, 15)}, // "15/06/2026 00:00:00", DatePart 0
		{"E61-PEFR", record.KindInvestigation, "", false, day(2026, 6, 15)},
		{"R61-RESP", record.KindReferral, "", false, day(2026, 6, 15)},
		{"D61-FLU-DUE", record.KindImmunisation, "", true, day(2026, 10, 1)},
		{"D61-REVIEW", record.KindNone, record.RulePrevention, true, day(2027, 1, 15)},
		{"INV61-OPEN", record.KindInvestigation, "", false, day(2026, 5, 21)},
		{"E61-NA", record.KindInvestigation, "", false, day(2026, 5, 21)},
		{"A61-UNCODED", record.KindAllergy, "", false, day(2019, 3, 12)},
		{"A61-LOCALDRUG", record.KindAllergy, "", false, day(2019, 3, 13)},
		{"A61-LOCALOTHER", record.KindNone, record.RuleUnclassifiable, false, day(2019, 3, 14)},
		{"A61-CODED", record.KindAllergy, "", false, day(2019, 3, 15)},
		{"M61-RAMIPRIL", record.KindMedicationAuthorisation, "", false, day(2015, 5, 4)},
		{"M61-NOQTY", record.KindMedicationAuthorisation, "", false, day(2015, 5, 5)},
		{"I61-RAM-1", record.KindMedicationIssue, "", false, day(2026, 6, 1)},
		{"I61-NULLLINK", record.KindMedicationIssue, "", false, day(2026, 6, 2)},
		{"AL61-DNACPR", record.KindRisk, "", false, day(2026, 1, 1)},
	}
	if len(r.Entries) != len(cases) {
		t.Errorf("%d entries, want %d", len(r.Entries), len(cases))
	}
	for _, c := range cases {
		e := find(t, r, c.id)
		if e.Kind != c.kind || e.NotShown != c.notShown || e.Planned != c.planned || e.Effective != c.eff {
			t.Errorf("%s: kind %v notShown %q planned %v effective %v; want %v %q %v %v",
				c.id, e.Kind, e.NotShown, e.Planned, e.Effective, c.kind, c.notShown, c.planned, c.eff)
		}
	}

	// -1 links are no links.
	for _, id := range []string{"C61-OPEN", "E61-PEFR", "R61-RESP", "INV61-OPEN"} {
		if e := find(t, r, id); e.Author != nil || e.Organisation != "" {
			t.Errorf("%s: author %+v organisation %q from a -1 link", id, e.Author, e.Organisation)
		}
	}
	if ref := find(t, r, "R61-RESP"); ref.Referral.Recipient != "" || ref.Encounter != "C61-OPEN" {
		t.Errorf("referral %+v in %q", ref.Referral, ref.Encounter)
	}
	if a := find(t, r, "I61-NULLLINK").Medication.Authorisation; a != "" {
		t.Errorf("issue with MedicationLink -1 tied to %q", a)
	}
	if a := find(t, r, "I61-RAM-1").Medication.Authorisation; a != "M61-RAMIPRIL" {
		t.Errorf("issue authorisation %q", a)
	}
	if links := find(t, r, "E61-ASTHMA").Problem.Links; strings.Join(links, ",") != "E61-BST-DAY,E61-PEFR" {
		t.Errorf("problem links %v", links)
	}
	if mi := find(t, r, "M61-RAMIPRIL").Medication; mi.RepeatsAllowed != 0 || mi.DurationDays != 0 {
		t.Errorf("-1 counts read as counts: %+v", mi)
	}
	if mi := find(t, r, "M61-NOQTY").Medication; mi.QuantityValue != nil || !mi.Quantity.IsZero() {
		t.Errorf("-1 quantity kept: %+v", mi)
	}
	if p := find(t, r, "E61-ASTHMA").Problem; p.Significance != "major" || find(t, r, "E61-ASTHMA").End != (record.Date{}) {
		t.Errorf("problem %+v", p)
	}
	// The report keeps its visible result; the confidential one drops out.
	if m := find(t, r, "INV61-OPEN").Members; strings.Join(m, ",") != "E61-NA" {
		t.Errorf("report members %v", m)
	}
	// Unpaired halves keep their own value.
	if e := find(t, r, "E61-SYS-ALONE"); e.Systolic == nil || e.Systolic.Value != "128" || e.Diastolic != nil {
		t.Errorf("systolic alone %+v", e)
	}

	// Allergies.
	allergies := []struct {
		id        string
		code      string // codes as entered first
		substance string
		uncoded   bool
	}{
		{"E61-ALLERGY-EVENT", "14L..|416098002", "", true}, // heading, allergen in text only
		{"A61-UNCODED", "14L..|416098002", "", true},       // heading, EMIS drug name without a map
		{"A61-LOCALDRUG", "EMISNQDR1|14L..", "", true},     // local code, drug allergen named: the national heading
		{"A61-CODED", "14L..|416098002", "55503|387207008", false},
	}
	for _, a := range allergies {
		e := find(t, r, a.id)
		if codeOf(e.Code) != a.code || codeOf(e.Allergy.Substance) != a.substance || e.Allergy.AllergenUncoded != a.uncoded ||
			e.Allergy.Confirmed || e.Allergy.Category != record.AllergyDrug || e.Status != record.StatusActive {
			t.Errorf("%s: code %s substance %s %+v", a.id, codeOf(e.Code), codeOf(e.Allergy.Substance), *e.Allergy)
		}
		for _, cd := range e.Code.Codings {
			if cd.System == record.SystemEMISLocal && !cd.Term.IsZero() {
				t.Errorf("%s: local term kept", a.id)
			}
		}
	}

	// SNOMED description ids are never concept codes.
	if c := find(t, r, "E61-DESC-AS-CODE").Code.Codings; len(c) != 1 || c[0].Code != "" || c[0].DescriptionID != "9900612013" {
		t.Errorf("description id as code: %+v", c)
	}
	if c := find(t, r, "E61-TERMID").Code.Codings; len(c) != 1 || c[0].Code != "195967001" || c[0].DescriptionID != "9900614112" {
		t.Errorf("concept and TermID: %+v", c)
	}

	// Every item read is accounted for: 48 items (18 events, 2
	// consultations with 6 items, 2 reports with 3 results, 1 referral, 5
	// allergies, 3 courses, 4 issues, 1 diary entry, 1 alert), all coded,
	// of which 2 blood pressure pairs are 2 readings: 46 statements.
	if n := countItems(readExtract(t, "9990002061")); r.Stats.Read != n-2 || n != 48 {
		t.Errorf("Stats.Read %d, items in the extract %d, want 46 of 48", r.Stats.Read, n)
	}
	if r.Stats.Withheld != len(wantWithheld) || r.Stats.Duplicate != 0 {
		t.Errorf("stats %+v", r.Stats)
	}
}

// countItems counts the item elements of an EMIS Open document: what Parse
// reads into entries when each is coded.
func countItems(b []byte) int {
	n := 0
	for _, tag := range []string{"Event", "Consultation", "Investigation", "Referral", "Allergy", "Medication", "Issue", "Diary", "Alert"} {
		n += bytes.Count(b, []byte("<"+tag+">"))
	}
	return n
}

// TestAccounting: in every extract, each statement read (a blood pressure
// pair is one) is shown, not shown by a rule (kept with NotShown), withheld
// or a duplicate; and every KindNone entry says why.
func TestAccounting(t *testing.T) {
	for _, nhs := range extracts {
		r := parse(t, readExtract(t, nhs), record.ParseOptions{})
		for _, e := range r.Entries {
			if e.Kind == record.KindNone && e.NotShown == record.RuleNone {
				t.Errorf("%s %s: KindNone without a reason", nhs, e.ID)
			}
			if e.Kind != record.KindNone && e.NotShown != record.RuleNone {
				t.Errorf("%s %s: shown kind %v with a not-shown rule %q", nhs, e.ID, e.Kind, e.NotShown)
			}
			for _, cd := range e.Code.Codings {
				if cd.System == record.SystemSNOMED && cd.Code != "" && record.IsDescriptionID(cd.Code) {
					t.Errorf("%s %s: description id %s as a concept code", nhs, e.ID, cd.Code)
				}
			}
		}
		if got := len(r.Entries) + r.Stats.Withheld + r.Stats.Duplicate; got != r.Stats.Read {
			t.Errorf("%s: read %d, accounted for %d (%d entries, %+v)", nhs, r.Stats.Read, got, len(r.Entries), r.Stats)
		}
	}
}

// TestPolicy: only a positive PolicyID (or PolicyId) is a policy; -1, 0 and
// empty are EMIS's null link; a value that is no number fails closed.
func TestPolicy(t *testing.T) {
	cases := []struct {
		xml  string
		want bool
	}{
		{`<Event/>`, false},
		{`<Event><PolicyID>-1</PolicyID></Event>`, false},
		{`<Event><PolicyID> -1 </PolicyID></Event>`, false},
		{`<Event><PolicyID>0</PolicyID></Event>`, false},
		{`<Event><PolicyID></PolicyID></Event>`, false},
		{`<Medication><PolicyId>-1</PolicyId></Medication>`, false},
		{`<Event><PolicyID>1</PolicyID></Event>`, true},
		{`<Event><PolicyID>42</PolicyID></Event>`, true},
		{`<Medication><PolicyId>3</PolicyId></Medication>`, true},
		{`<Event><PolicyID>x</PolicyID></Event>`, true},
	}
	for _, c := range cases {
		if got := restricted(node(t, c.xml)); got != c.want {
			t.Errorf("%s: restricted %v, want %v", c.xml, got, c.want)
		}
	}
}

// TestNullLinks: a -1 (or 0, or all-zero GUID) id never refers to anything.
func TestNullLinks(t *testing.T) {
	cases := []struct {
		xml       string
		guid, ref string
	}{
		{`<X><RefID>-1</RefID></X>`, "", ""},
		{`<X><RefID>0</RefID></X>`, "", ""},
		{`<X><GUID>-1</GUID><RefID>-1</RefID></X>`, "", ""},
		{`<X><GUID>{00000000-0000-0000-0000-000000000000}</GUID></X>`, "", ""},
		{`<X><RefID>7</RefID></X>`, "", "7"},
		{`<X><GUID>G-1</GUID><RefID>-1</RefID></X>`, "G-1", ""},
		{`<X><RefID>FREETEXT-x</RefID></X>`, "", ""},
	}
	for _, c := range cases {
		if got := identOf(node(t, c.xml)); got.guid != c.guid || got.ref != c.ref {
			t.Errorf("%s: %+v, want guid %q ref %q", c.xml, got, c.guid, c.ref)
		}
	}
}

// TestDatePartZero: item 9 of issue 11, at the edges of British Summer Time.
func TestDatePartZero(t *testing.T) {
	cases := []struct {
		s, part, tm string
		want        record.Date
	}{
		{"29/03/2026", "0", "", utcDate(2026, 3, 29, 0, 0, record.PrecisionDay)},          // the day BST begins
		{"25/10/2026", "0", "", utcDate(2026, 10, 25, 0, 0, record.PrecisionDay)},         // the day it ends
		{"15/06/2026 00:00:00", "0", "", utcDate(2026, 6, 15, 0, 0, record.PrecisionDay)}, // a time in the text: DatePart 0 has none
		{"15/06/2026 10:20:00", "0", "", utcDate(2026, 6, 15, 0, 0, record.PrecisionDay)},
		{"15/06/2026", "0", "00:00", utcDate(2026, 6, 15, 0, 0, record.PrecisionDay)},
		{"15/06/2026", "0", "00:00:00", utcDate(2026, 6, 15, 0, 0, record.PrecisionDay)},
		{"15/06/2026", "0", "00:10", utcDate(2026, 6, 14, 23, 10, record.PrecisionMinute)}, // a real time, BST
		{"15/01/2026", "0", "00:10", utcDate(2026, 1, 15, 0, 10, record.PrecisionMinute)},  // GMT
		{"15/06/2026 00:00:00", "", "", utcDate(2026, 6, 15, 0, 0, record.PrecisionDay)},
		{"15/06/2026 00:00:00", "4", "", utcDate(2026, 6, 14, 23, 0, record.PrecisionSecond)}, // DatePart 4: a time
		{"15/06/2026", "-1", "", utcDate(2026, 6, 15, 0, 0, record.PrecisionDay)},
		{"06/2026", "1", "", utcDate(2026, 6, 1, 0, 0, record.PrecisionMonth)},
		{"30/06/2026 23:30:00", "1", "", utcDate(2026, 6, 1, 0, 0, record.PrecisionMonth)},
		{"2026", "2", "", utcDate(2026, 1, 1, 0, 0, record.PrecisionYear)},
	}
	for _, c := range cases {
		got, ok := parseDate(c.s, c.part, c.tm)
		if !ok || got != c.want {
			t.Errorf("parseDate(%q, %q, %q) = %v %v, want %v", c.s, c.part, c.tm, got, ok, c.want)
		}
	}
}

// TestWithheldLinks: confidentiality follows links (item 10), one shape
// at a time.
func TestWithheldLinks(t *testing.T) {
	ev := func(guid, policy, extra string) string {
		return `<Event><GUID>` + guid + `</GUID><AssignedDate>01/02/2026</AssignedDate><AssignedTime>10:00</AssignedTime><PolicyID>` + policy +
			`</PolicyID>` + extra + `</Event>`
	}
	read := func(code string) string { return `<Code><Value>` + code + `</Value><Scheme>READ2</Scheme></Code>` }
	drug := `<Drug><PreparationID><Value>12345</Value><Scheme>EMISPREPARATION</Scheme></PreparationID></Drug>`
	course := func(guid, policy string) string {
		return `<Medication><GUID>` + guid + `</GUID><AssignedDate>01/01/2026</AssignedDate>` + drug + `<Status>C</Status><PolicyId>` + policy + `</PolicyId></Medication>`
	}
	issue := func(guid, link string) string {
		return `<Issue><GUID>` + guid + `</GUID><AssignedDate>01/02/2026</AssignedDate>` + drug + `<PolicyId>-1</PolicyId><MedicationLink><GUID>` + link + `</GUID></MedicationLink></Issue>`
	}
	cases := []struct {
		name, body string
		kept, gone []string
		withheld   int // Stats.Withheld: a pair is one reading
	}{
		{"no policy anywhere", `<EventList>` + ev("E1", "-1", read("H33..")) + `</EventList>`, []string{"E1"}, nil, 0},
		{"withheld course withholds its issues",
			`<MedicationList>` + course("M1", "4") + course("M2", "-1") + `</MedicationList><IssueList>` + issue("I1", "M1") + issue("I2", "M2") + `</IssueList>`,
			[]string{"M2", "I2"}, []string{"M1", "I1"}, 2},
		{"issue before its course in the document",
			`<IssueList>` + issue("I1", "M1") + `</IssueList><MedicationList>` + course("M1", "4") + `</MedicationList>`,
			nil, []string{"M1", "I1"}, 2},
		{"withheld systolic withholds the pair",
			`<EventList>` + ev("S", "2", read("2469.")+`<GroupID>5</GroupID>`) + ev("D", "-1", read("246A.")+`<GroupID>5</GroupID>`) + `</EventList>`,
			nil, []string{"S", "D"}, 1},
		{"withheld diastolic withholds the pair",
			`<EventList>` + ev("S", "-1", read("2469.")+`<GroupID>5</GroupID>`) + ev("D", "2", read("246A.")+`<GroupID>5</GroupID>`) + `</EventList>`,
			nil, []string{"S", "D"}, 1},
		{"withheld report withholds its results",
			`<InvestigationList><Investigation><GUID>R</GUID>` + read("44I..") + `<AssignedDate>01/02/2026</AssignedDate><PolicyID>9</PolicyID><EventList>` +
				ev("N", "-1", read("44I5.")) + `</EventList></Investigation></InvestigationList>`,
			nil, []string{"R", "N"}, 2},
		{"withheld result leaves its report",
			`<InvestigationList><Investigation><GUID>R</GUID>` + read("44I..") + `<AssignedDate>01/02/2026</AssignedDate><PolicyID>-1</PolicyID><EventList>` +
				ev("N", "-1", read("44I5.")) + ev("K", "9", read("44I4.")) + `</EventList></Investigation></InvestigationList>`,
			[]string{"R", "N"}, []string{"K"}, 1},
		{"withheld consultation withholds its items",
			`<ConsultationList><Consultation><GUID>C</GUID><AssignedDate>01/02/2026</AssignedDate><PolicyID>3</PolicyID><ElementList><ConsultationElement>` +
				ev("E", "-1", read("H33..")) + `</ConsultationElement><ConsultationElement>` + course("M", "-1") + `</ConsultationElement></ElementList></Consultation></ConsultationList>` +
				`<IssueList>` + issue("I", "M") + `</IssueList>`,
			nil, []string{"C", "E", "M", "I"}, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := parse(t, doc(reg+c.body), record.ParseOptions{})
			for _, id := range c.kept {
				if !has(r, id) {
					t.Errorf("%s withheld", id)
				}
			}
			for _, id := range c.gone {
				if has(r, id) {
					t.Errorf("%s kept", id)
				}
			}
			if r.Withheld != (len(c.gone) > 0) || r.Stats.Withheld != c.withheld {
				t.Errorf("withheld %v, stats %+v, want %d withheld", r.Withheld, r.Stats, c.withheld)
			}
			for _, e := range r.Entries {
				for _, m := range e.Members {
					if !has(r, m) {
						t.Errorf("%s lists withheld member %s", e.ID, m)
					}
				}
			}
		})
	}
}

// TestIDsAcrossTypes: real extracts reuse ids across element types (item 7
// of issue 11). Links are looked up by element type and id, and entries of
// different types never share an id.
func TestIDsAcrossTypes(t *testing.T) {
	read := func(code string) string { return `<Code><Value>` + code + `</Value><Scheme>READ2</Scheme></Code>` }
	drug := `<Drug><PreparationID><Value>12345</Value><Scheme>EMISPREPARATION</Scheme></PreparationID></Drug>`
	body := reg +
		// a course with RefID 5 before a problem with RefID 5
		`<MedicationList><Medication><RefID>5</RefID><AssignedDate>01/01/2026</AssignedDate>` + drug + `<Status>C</Status></Medication>` +
		// a course whose GUID an event also has
		`<Medication><GUID>X</GUID><AssignedDate>01/01/2026</AssignedDate>` + drug + `<Status>C</Status></Medication></MedicationList>` +
		`<EventList><Event><GUID>X</GUID><AssignedDate>01/02/2026</AssignedDate>` + read("H33..") + `</Event>` +
		`<Event><RefID>5</RefID><AssignedDate>01/02/2026</AssignedDate>` + read("C10F.") + `<Problem><ProblemStatus>1</ProblemStatus></Problem></Event>` +
		`<Event><GUID>L</GUID><AssignedDate>01/03/2026</AssignedDate>` + read("42W5.") +
		`<ProblemLinkList><Link><Target><RefID>5</RefID></Target><LinkType>0</LinkType></Link></ProblemLinkList></Event></EventList>` +
		`<IssueList><Issue><GUID>I</GUID><AssignedDate>01/02/2026</AssignedDate>` + drug + `<MedicationLink><GUID>X</GUID></MedicationLink></Issue></IssueList>`
	r := parse(t, doc(body), record.ParseOptions{})
	ids := map[string]bool{}
	for _, e := range r.Entries {
		if ids[e.ID] {
			t.Errorf("two entries with id %s", e.ID)
		}
		ids[e.ID] = true
	}
	// the first item with a GUID keeps it; the event that reuses it is told apart
	if e := find(t, r, "X#event"); e.Kind != record.KindDiagnosis {
		t.Errorf("X#event is %v", e.Kind)
	}
	course := find(t, r, "X")
	if a := find(t, r, "I").Medication.Authorisation; a != course.ID || course.Kind != record.KindMedicationAuthorisation {
		t.Errorf("issue tied to %q, course %+v", a, course)
	}
	if links := find(t, r, "emis-event-ref-5").Problem.Links; strings.Join(links, ",") != "L" {
		t.Errorf("problem links %v", links)
	}
	if r.Stats.Duplicate != 0 {
		t.Errorf("stats %+v", r.Stats)
	}
}

// TestBloodPressureRanges: each half of a pair keeps its own reference
// range (item 13 of issue 11), paired or alone.
func TestBloodPressureRanges(t *testing.T) {
	half := func(guid, code, v, lo, hi string) string {
		return `<Event><GUID>` + guid + `</GUID><AssignedDate>01/02/2026</AssignedDate><AssignedTime>10:00</AssignedTime><PolicyID>-1</PolicyID>` +
			`<Code><Value>` + code + `</Value><Scheme>READ2</Scheme></Code><GroupID>3</GroupID><NumericValue><Value>` + v +
			`</Value><Units>mmHg</Units><NumericMinimum>` + lo + `</NumericMinimum><NumericMaximum>` + hi + `</NumericMaximum></NumericValue></Event>`
	}
	r := parse(t, doc(reg+`<EventList>`+half("S", "2469.", "150", "90", "140")+half("D", "246A.", "95", "60", "90")+`</EventList>`), record.ParseOptions{})
	bp := find(t, r, "S")
	if bp.SystolicRange == nil || bp.SystolicRange.Low.Value != "90" || bp.SystolicRange.High.Value != "140" || bp.SystolicRange.High.Unit != "mm[Hg]" ||
		bp.DiastolicRange == nil || bp.DiastolicRange.Low.Value != "60" || bp.DiastolicRange.High.Value != "90" || bp.Range != nil {
		t.Errorf("ranges %+v %+v %+v", bp.SystolicRange, bp.DiastolicRange, bp.Range)
	}
	r = parse(t, doc(reg+`<EventList>`+half("D", "246A.", "95", "60", "90")+`</EventList>`), record.ParseOptions{})
	if bp := find(t, r, "D"); bp.DiastolicRange == nil || bp.DiastolicRange.High.Value != "90" || bp.SystolicRange != nil {
		t.Errorf("lone diastolic ranges %+v %+v", bp.SystolicRange, bp.DiastolicRange)
	}
}
