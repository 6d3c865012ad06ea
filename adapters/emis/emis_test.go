package emis

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"mig/internal/testenv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mig"
	"mig/adapters/record"
	"mig/adapters/xmltok"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var extracts = []string{"9990002002", "9990002010", "9990002029", "9990002037", "9990002045", "9990002053", "9990002061"}

// practiceDir is the module's testdata/A99902.
func practiceDir(t testing.TB) string { return testenv.Testdata(t, "A99902") }

func readExtract(t testing.TB, nhs string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(practiceDir(t), nhs+".xml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parse(t testing.TB, b []byte, opt record.ParseOptions) *record.Record {
	t.Helper()
	r, err := Parse(bytes.NewReader(b), opt)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return r
}

// dump renders a record as deterministic JSON, text types through their
// accessors, so golden files and leak checks see everything a record holds.
func dump(r *record.Record, withDosage bool) []byte {
	date := func(d record.Date) any {
		if d.IsZero() {
			return nil
		}
		return d.T.Format(time.RFC3339) + " " + precisionName(d.P)
	}
	concept := func(c record.Concept) any {
		var out []map[string]string
		for _, cd := range c.Codings {
			m := map[string]string{"system": cd.System, "code": cd.Code, "term": cd.Term.String()}
			if cd.DescriptionID != "" {
				m["descriptionId"] = cd.DescriptionID
			}
			out = append(out, m)
		}
		return out
	}
	name := func(n record.HumanName) any {
		return map[string]any{"prefix": n.Prefix(), "given": n.Given(), "family": n.Family()}
	}
	var entries []any
	for _, e := range r.Entries {
		m := map[string]any{
			"id": e.ID, "kind": e.Kind.String(), "code": concept(e.Code), "status": e.Status.String(),
			"effective": date(e.Effective), "end": date(e.End), "recorded": date(e.Recorded),
			"value": e.Value, "range": e.Range, "interpretation": concept(e.Interpretation),
			"systolic": e.Systolic, "diastolic": e.Diastolic, "parent": e.Parent, "members": e.Members,
			"encounter": e.Encounter, "organisation": e.Organisation,
		}
		if e.Kind == record.KindBloodPressure {
			m["systolicCode"], m["diastolicCode"] = concept(e.SystolicCode), concept(e.DiastolicCode)
			if e.SystolicRange != nil || e.DiastolicRange != nil {
				m["systolicRange"], m["diastolicRange"] = e.SystolicRange, e.DiastolicRange
			}
		}
		if e.Planned {
			m["planned"] = true
		}
		if e.NotShown != record.RuleNone {
			m["notShown"] = string(e.NotShown)
		}
		if e.Author != nil {
			m["author"] = map[string]any{"id": e.Author.ID, "name": name(e.Author.Name), "role": concept(e.Author.Role)}
		}
		if e.Problem != nil {
			m["problem"] = e.Problem
		}
		if e.Allergy != nil {
			m["allergy"] = map[string]any{"category": e.Allergy.Category, "substance": concept(e.Allergy.Substance), "reaction": concept(e.Allergy.Reaction),
				"allergenUncoded": e.Allergy.AllergenUncoded, "confirmed": e.Allergy.Confirmed}
		}
		if e.Referral != nil {
			m["referral"] = map[string]any{"priority": e.Referral.Priority, "recipient": e.Referral.Recipient, "specialty": concept(e.Referral.Specialty)}
		}
		if mi := e.Medication; mi != nil {
			med := map[string]any{"quantityValue": mi.QuantityValue, "type": mi.Type, "authorisation": mi.Authorisation,
				"repeatsAllowed": mi.RepeatsAllowed, "repeatsIssued": mi.RepeatsIssued, "durationDays": mi.DurationDays}
			if withDosage {
				med["dosage"], med["quantity"] = mi.Dosage.String(), mi.Quantity.String()
			}
			m["medication"] = med
		}
		entries = append(entries, m)
	}
	p := r.Patient
	out := map[string]any{
		"format": r.Format, "extracted": date(r.Extracted), "withheld": r.Withheld, "sharingFlags": r.SharingFlags,
		"withheldIds": r.WithheldIDs, "stats": r.Stats,
		"patient": map[string]any{
			"nhsNumber": p.NHSNumber, "name": name(p.Name), "birthDate": date(p.BirthDate), "sex": p.Sex.String(),
			"address":     map[string]any{"lines": p.Address.Lines(), "city": p.Address.City(), "district": p.Address.District(), "postalCode": p.Address.PostalCode()},
			"practiceODS": p.PracticeODS, "deceased": p.Deceased, "deceasedDate": date(p.DeceasedDate), "deducted": p.Deducted,
		},
		"entries": entries,
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

func precisionName(p record.Precision) string {
	return [...]string{"none", "year", "month", "day", "minute", "second"}[p]
}

func TestGolden(t *testing.T) {
	for _, nhs := range extracts {
		t.Run(nhs, func(t *testing.T) {
			got := dump(parse(t, readExtract(t, nhs), record.ParseOptions{NHSNumber: nhs}), true)
			path := filepath.Join("testdata", nhs+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("record differs from %s (run go test -update and review the diff)", path)
			}
		})
	}
}

// TestNoFreeText: every extract carries FREETEXT- markers in every free-text
// field; none may reach the record, dosage and quantity text aside.
func TestNoFreeText(t *testing.T) {
	for _, nhs := range extracts {
		b := readExtract(t, nhs)
		if !bytes.Contains(b, []byte("FREETEXT-")) {
			t.Fatalf("%s: extract has no free-text marker", nhs)
		}
		if out := dump(parse(t, b, record.ParseOptions{}), false); bytes.Contains(out, []byte("FREETEXT-")) {
			i := bytes.Index(out, []byte("FREETEXT-"))
			t.Errorf("%s: free text in the record near %q", nhs, out[max(0, i-80):i])
		}
	}
	// The dosage exception is real: the marker in 9990002010's dosage shows.
	if out := dump(parse(t, readExtract(t, "9990002010"), record.ParseOptions{}), true); !bytes.Contains(out, []byte("FREETEXT-DOSAGE-1")) {
		t.Error("dosage text was not kept")
	}
}

func find(t *testing.T, r *record.Record, id string) *record.Entry {
	t.Helper()
	for i := range r.Entries {
		if r.Entries[i].ID == id {
			return &r.Entries[i]
		}
	}
	t.Fatalf("entry %s not found", id)
	return nil
}

func has(r *record.Record, id string) bool {
	for i := range r.Entries {
		if r.Entries[i].ID == id {
			return true
		}
	}
	return false
}

func day(y int, m time.Month, d int) record.Date {
	return record.Date{T: time.Date(y, m, d, 0, 0, 0, 0, time.UTC), P: record.PrecisionDay}
}

// TestStory checks the equivalence story item by item (ARCHITECTURE.md).
func TestStory(t *testing.T) {
	r := parse(t, readExtract(t, "9990002002"), record.ParseOptions{NHSNumber: "9990002002"})
	p := r.Patient
	if r.Format != "emis" || p.NHSNumber != "9990002002" || p.Name.Family() != "Emis" || p.Sex != record.SexFemale ||
		p.BirthDate != day(1950, 3, 14) || p.PracticeODS != "A99902" || p.Address.PostalCode() != "LS1 1AA" {
		t.Errorf("patient: %+v", p)
	}
	snomed := func(e *record.Entry) string { c, _ := e.Code.Find(record.SystemSNOMED); return c.Code }
	cases := []struct {
		id     string
		kind   record.Kind
		snomed string
		status record.Status
		eff    record.Date
	}{
		{"E2-CONSENT", record.KindNone, "887031000000108", record.StatusUnknown, day(2020, 1, 6)},
		{"E2-DIABETES", record.KindProblem, "44054006", record.StatusActive, day(2012, 5, 1)},
		{"E2-FRACTURE", record.KindProblem, "263199001", record.StatusInactive, day(2015, 2, 10)},
		{"A2-PENICILLIN", record.KindAllergy, "91936005", record.StatusActive, day(2001, 5, 2)},
		{"M2-METFORMIN", record.KindMedicationAuthorisation, "325278007", record.StatusActive, day(2024, 1, 10)},
		{"M2-AMOXICILLIN", record.KindMedicationAuthorisation, "323509004", record.StatusCompleted, day(2025, 3, 1)},
		{"I2-MET-1", record.KindMedicationIssue, "325278007", record.StatusCompleted, day(2026, 10, 1)},
		{"I2-MET-2", record.KindMedicationIssue, "325278007", record.StatusCompleted, day(2026, 11, 1)},
		{"I2-AMOX-1", record.KindMedicationIssue, "323509004", record.StatusCompleted, day(2025, 3, 1)},
		{"E2-HBA1C", record.KindInvestigation, "999791000000106", record.StatusUnknown, day(2026, 9, 15)},
		{"R2-DIABETOLOGY", record.KindReferral, "183530004", record.StatusUnknown, day(2026, 9, 15)},
		{"E2-FLU", record.KindImmunisation, "86198006", record.StatusUnknown, day(2026, 10, 5)},
		{"E2-APPENDIX", record.KindProcedure, "80146002", record.StatusUnknown, day(2010, 7, 20)},
		{"E2-PALLIATIVE", record.KindRisk, "414937009", record.StatusUnknown, day(2026, 6, 1)},
		{"A2-LOCALDRUG", record.KindAllergy, "416098002", record.StatusActive, day(2018, 4, 16)},
		{"E2-CHOLESTEROL", record.KindInvestigation, "1005671000000105", record.StatusUnknown, day(2026, 8, 20)},
		{"E2-FH-MOTHER", record.KindNone, "44054006", record.StatusUnknown, day(2018, 9, 3)},
	}
	for _, c := range cases {
		e := find(t, r, c.id)
		if e.Kind != c.kind || snomed(e) != c.snomed || e.Status != c.status || e.Effective != c.eff {
			t.Errorf("%s: kind %v snomed %s status %v effective %v", c.id, e.Kind, snomed(e), e.Status, e.Effective)
		}
	}
	if e := find(t, r, "E2-FRACTURE"); e.End != day(2015, 6, 1) {
		t.Errorf("fracture end %v", e.End)
	}
	if e := find(t, r, "M2-AMOXICILLIN"); e.End != day(2025, 3, 8) || e.Medication.Type != record.PrescriptionAcute ||
		e.Medication.Dosage.String() != "one capsule three times a day" || e.Medication.Quantity.String() != "21 capsule" {
		t.Errorf("amoxicillin %+v %+v", e, e.Medication)
	}
	met := find(t, r, "M2-METFORMIN")
	if mi := met.Medication; mi.Type != record.PrescriptionRepeat || mi.RepeatsAllowed != 6 ||
		mi.Dosage.String() != "one tablet twice daily" || mi.Quantity.String() != "56 tablet" {
		t.Errorf("metformin %+v", mi)
	}
	if c, _ := met.Code.Find(record.SystemEMISDrug); c.Code != "12345" || !c.Term.IsZero() {
		t.Errorf("EMIS drug coding %+v", c)
	}
	for _, id := range []string{"I2-MET-1", "I2-MET-2"} {
		if a := find(t, r, id).Medication.Authorisation; a != "M2-METFORMIN" {
			t.Errorf("%s authorisation %q", id, a)
		}
	}
	enc := find(t, r, "C2-CONSULT")
	wantEnc := record.Date{T: time.Date(2026, 9, 15, 9, 30, 0, 0, time.UTC), P: record.PrecisionSecond} // 10:30 BST
	if enc.Kind != record.KindEncounter || enc.Effective != wantEnc || enc.Organisation != "A99902" || enc.Author == nil || enc.Author.Name.Family() != "Practitioner" {
		t.Errorf("consultation %+v", enc)
	}
	var bps []*record.Entry
	for i := range r.Entries {
		if r.Entries[i].Kind == record.KindBloodPressure {
			bps = append(bps, &r.Entries[i])
		}
	}
	if len(bps) != 1 {
		t.Fatalf("%d blood pressure entries, want 1", len(bps))
	}
	bp := bps[0]
	if bp.Systolic == nil || bp.Systolic.Value != "142" || bp.Diastolic == nil || bp.Diastolic.Value != "88" ||
		bp.Systolic.Unit != "mm[Hg]" || bp.Encounter != "C2-CONSULT" || !bp.Code.IsZero() ||
		codeOf(bp.SystolicCode) != "2469.|72313002" || codeOf(bp.DiastolicCode) != "246A.|1091811000000102" {
		t.Errorf("blood pressure %+v", bp)
	}
	hb := find(t, r, "E2-HBA1C")
	if hb.Value.Value != "58" || hb.Value.Unit != "mmol/mol" || hb.Range.Low.Value != "20" || hb.Range.High.Value != "41" || hb.Encounter != "C2-CONSULT" {
		t.Errorf("hba1c %+v", hb)
	}
	if ref := find(t, r, "R2-DIABETOLOGY"); ref.Referral.Priority != "routine" || ref.Referral.Recipient != "RR8" || ref.Encounter != "C2-CONSULT" {
		t.Errorf("referral %+v", ref.Referral)
	}
	if links := find(t, r, "E2-DIABETES").Problem.Links; strings.Join(links, ",") != "E2-SYS,E2-HBA1C,M2-METFORMIN" {
		t.Errorf("problem links %v", links)
	}
	if has(r, "E2-DIA") {
		t.Error("merged diastolic kept")
	}
	// A local-only code is kept for accounting (not shown, unclassifiable),
	// with its code and without its term.
	if e := find(t, r, "E2-COMMENT"); e.Kind != record.KindNone || e.NotShown != record.RuleUnclassifiable ||
		codeOf(e.Code) != "EMISNQCO303" || !e.Code.Codings[0].Term.IsZero() {
		t.Errorf("local comment %+v", e)
	}
	if a := find(t, r, "A2-PENICILLIN").Allergy; a.Category != record.AllergyDrug || !a.Substance.IsZero() {
		t.Errorf("allergy %+v", a)
	}
	// 14: the drug allergy heading with an EMIS drug name as the allergen:
	// the allergen is not coded, and nothing says the allergy was confirmed.
	if a := find(t, r, "A2-LOCALDRUG").Allergy; a.Category != record.AllergyDrug || !a.AllergenUncoded || a.Confirmed || !a.Substance.IsZero() {
		t.Errorf("allergy, allergen not coded %+v", a)
	}
	// 15: a unit on no list: the value kept, the unit withheld.
	if v := find(t, r, "E2-CHOLESTEROL").Value; v == nil || v.Value != "5.2" || v.Unit != "" || !v.UnitWithheld {
		t.Errorf("cholesterol value %+v", v)
	}
	// 16: EventType 12, the mother's diabetes: about a relative.
	if e := find(t, r, "E2-FH-MOTHER"); e.NotShown != record.RuleRelative {
		t.Errorf("family history rule %q", e.NotShown)
	}
}

func TestParseDate(t *testing.T) {
	utc := func(y int, m time.Month, d, h, mi, s int, p record.Precision) record.Date {
		return record.Date{T: time.Date(y, m, d, h, mi, s, 0, time.UTC), P: p}
	}
	cases := []struct {
		s, part, tm string
		want        record.Date
		ok          bool
	}{
		{"14/03/1950", "", "", utc(1950, 3, 14, 0, 0, 0, record.PrecisionDay), true},
		{"14/03/1950", "0", "", utc(1950, 3, 14, 0, 0, 0, record.PrecisionDay), true},
		{"1/3/1950", "", "", utc(1950, 3, 1, 0, 0, 0, record.PrecisionDay), true},
		{"03/2005", "1", "", utc(2005, 3, 1, 0, 0, 0, record.PrecisionMonth), true},
		{"14/03/2005", "1", "", utc(2005, 3, 1, 0, 0, 0, record.PrecisionMonth), true},
		{"1998", "2", "", utc(1998, 1, 1, 0, 0, 0, record.PrecisionYear), true},
		{"14/03/1998", "2", "10:00", utc(1998, 1, 1, 0, 0, 0, record.PrecisionYear), true},
		{"14/03/1998", "3", "", record.Date{}, true},
		{"", "", "", record.Date{}, true},
		{"15/01/2026", "", "10:35", utc(2026, 1, 15, 10, 35, 0, record.PrecisionMinute), true},      // GMT
		{"15/09/2026", "0", "10:35", utc(2026, 9, 15, 9, 35, 0, record.PrecisionMinute), true},      // BST
		{"15/09/2026 10:30:15", "4", "", utc(2026, 9, 15, 9, 30, 15, record.PrecisionSecond), true}, // BST
		{"31/02/2021", "", "", record.Date{}, false},
		{"29/02/2024", "", "", utc(2024, 2, 29, 0, 0, 0, record.PrecisionDay), true},
		{"2024-02-01", "", "", record.Date{}, false},
		{"13/13/2024", "", "", record.Date{}, false},
		{"01/01/2024", "", "25:00", record.Date{}, false},
		{"01/01/2024", "", "10", record.Date{}, false},
		{"01/01/2024", "9", "", record.Date{}, false},
		{"FREETEXT-x", "", "", record.Date{}, false},
	}
	for _, c := range cases {
		got, ok := parseDate(c.s, c.part, c.tm)
		if ok != c.ok || got != c.want {
			t.Errorf("parseDate(%q, %q, %q) = %v %v, want %v %v", c.s, c.part, c.tm, got, ok, c.want, c.ok)
		}
	}
}

func node(t *testing.T, s string) *xmltok.Node {
	t.Helper()
	d := xmltok.NewDecoder(strings.NewReader(s), xmltok.Limits{})
	tok, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	n, err := d.ReadNode(tok)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestConcept(t *testing.T) {
	type cd struct{ sys, code, term string }
	cases := []struct {
		name, xml string
		want      []cd
	}{
		{"read2 with map", `<Code><Value>C10F.</Value><Scheme>READ2</Scheme><Term>Type 2 diabetes</Term><MapCode>44054006</MapCode><MapScheme>SNOMED</MapScheme></Code>`,
			[]cd{{record.SystemReadV2, "C10F.", "Type 2 diabetes"}, {record.SystemSNOMED, "44054006", ""}}},
		{"read2 unpadded", `<Code><Value>C10F</Value><Scheme>READ2</Scheme><Term>T</Term></Code>`, []cd{{record.SystemReadV2, "C10F.", "T"}}},
		{"read2 term suffix", `<Code><Value>137R.00</Value><Scheme>READ2</Scheme></Code>`, []cd{{record.SystemReadV2, "137R.", ""}}},
		{"read2 synonym", `<Code><Value>H33..-1</Value><Scheme>READ2</Scheme></Code>`, []cd{{record.SystemReadV2, "H33..", ""}}},
		{"ctv3", `<Code><Value>X40J5</Value><Scheme>CTV3</Scheme><Term>T</Term></Code>`, []cd{{record.SystemCTV3, "X40J5", "T"}}},
		{"snomed", `<Code><Value>44054006</Value><Scheme>SNOMED</Scheme><Term>T</Term></Code>`, []cd{{record.SystemSNOMED, "44054006", "T"}}},
		{"bad snomed", `<Code><Value>12ab</Value><Scheme>SNOMED</Scheme></Code>`, nil},
		{"local no map", `<Code><Value>EMISNQAB1</Value><Scheme>EMISCLINICAL</Scheme><Term>local</Term></Code>`, nil},
		{"local with map", `<Code><Value>EMISNQAB1</Value><Scheme>EMISCLINICAL</Scheme><Term>local</Term><MapCode>716186003</MapCode><MapScheme>SNOMED</MapScheme></Code>`,
			[]cd{{record.SystemEMISLocal, "EMISNQAB1", ""}, {record.SystemSNOMED, "716186003", ""}}},
		{"local under READ2", `<Code><Value>EMISNQAB1</Value><Scheme>READ2</Scheme><Term>local</Term></Code>`, nil},
		{"local under READ2 mapped", `<Code><Value>^ESCT1</Value><Scheme>READ2</Scheme><Term>local</Term><MapCode>7611.</MapCode><MapScheme>READ2</MapScheme></Code>`,
			[]cd{{record.SystemReadV2, "7611.", ""}}},
		{"drug with dmd", `<PreparationID><Value>12345</Value><Scheme>EMISPREPARATION</Scheme><Term>Metformin</Term><MapCode>325278007</MapCode><MapScheme>SNOMED</MapScheme></PreparationID>`,
			[]cd{{record.SystemEMISDrug, "12345", ""}, {record.SystemSNOMED, "325278007", "Metformin"}}},
		{"drug no map", `<PreparationID><Value>12345</Value><Scheme>EMISPREPARATION</Scheme><Term>Metformin</Term></PreparationID>`,
			[]cd{{record.SystemEMISDrug, "12345", ""}}},
		{"drug bad value", `<PreparationID><Value>-1</Value><Scheme>EMISPREPARATION</Scheme></PreparationID>`, nil},
		{"unknown scheme mapped", `<Code><Value>x1</Value><Scheme>READ4</Scheme><Term>t</Term><MapCode>44054006</MapCode><MapScheme>SNOMED</MapScheme></Code>`,
			[]cd{{record.SystemEMISLocal, "x1", ""}, {record.SystemSNOMED, "44054006", ""}}},
		{"empty", `<Code/>`, nil},
	}
	for _, c := range cases {
		var got []cd
		for _, x := range concept(node(t, c.xml)).Codings {
			got = append(got, cd{x.System, x.Code, x.Term.String()})
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: got %v, want %v", c.name, got, c.want)
			}
		}
	}
}

const minimal = `<?xml version="1.0" encoding="UTF-8"?>
<MedicalRecord xmlns="http://www.e-mis.com/emisopen/MedicalRecord">%s</MedicalRecord>`

func doc(body string) []byte { return []byte(strings.Replace(minimal, "%s", body, 1)) }

const reg = `<Registration><NhsNumber>999 000 2053</NhsNumber></Registration>`

// TestReferences: directories before or after the items, by GUID or RefID.
func TestReferences(t *testing.T) {
	people := `<PeopleList><Person><RefID>4</RefID><GUID>PG</GUID><FirstNames>A B</FirstNames><LastName>C</LastName></Person></PeopleList>`
	places := `<LocationList><Location><RefID>9</RefID><GUID>LG</GUID><NationalCode>Y12345</NationalCode></Location><Location><RefID>8</RefID><NationalCode>FREETEXT-bad code</NationalCode></Location></LocationList>`
	cons := func(author, loc string) string {
		return `<ConsultationList><Consultation><GUID>C1</GUID><AssignedDate>01/01/2020</AssignedDate><UserID>` + author +
			`</UserID><LocationID>` + loc + `</LocationID><ElementList><ConsultationElement><Event><GUID>E1</GUID><Code><Value>H33..</Value><Scheme>READ2</Scheme></Code></Event></ConsultationElement></ElementList></Consultation></ConsultationList>`
	}
	cases := []struct {
		name, body    string
		author, place string
	}{
		{"after by refid", reg + cons("<RefID>4</RefID>", "<RefID>9</RefID>") + people + places, "PG", "Y12345"},
		{"before by guid", reg + people + places + cons("<GUID>PG</GUID>", "<GUID>LG</GUID>"), "PG", "Y12345"},
		{"dangling", reg + cons("<RefID>5</RefID>", "<RefID>1</RefID>") + people + places, "", ""},
		{"not an ODS code", reg + cons("<RefID>4</RefID>", "<RefID>8</RefID>") + people + places, "PG", ""},
	}
	for _, c := range cases {
		r := parse(t, doc(c.body), record.ParseOptions{NHSNumber: "9990002053"})
		for _, id := range []string{"C1", "E1"} {
			e := find(t, r, id)
			gotAuthor := ""
			if e.Author != nil {
				gotAuthor = e.Author.ID
			}
			if id == "C1" && gotAuthor != c.author || e.Organisation != c.place {
				t.Errorf("%s %s: author %q place %q", c.name, id, gotAuthor, e.Organisation)
			}
		}
		if e := find(t, r, "E1"); e.Encounter != "C1" || e.Kind != record.KindDiagnosis {
			t.Errorf("%s: event %+v", c.name, e)
		}
	}
}

func TestErrors(t *testing.T) {
	good := readExtract(t, "9990002053")
	cases := []struct {
		name  string
		in    []byte
		opt   record.ParseOptions
		code  string
		issue string
	}{
		{"malformed", doc(reg + `<EventList><Event></EventList>`), record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"truncated", good[:len(good)/2], record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"empty", nil, record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"doctype entity", []byte(`<?xml version="1.0"?><!DOCTYPE MedicalRecord [<!ENTITY x "FREETEXT-entity">]><MedicalRecord xmlns="http://www.e-mis.com/emisopen/MedicalRecord">&x;</MedicalRecord>`),
			record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"latin-1 declared", []byte(`<?xml version="1.0" encoding="ISO-8859-1"?><MedicalRecord xmlns="http://www.e-mis.com/emisopen/MedicalRecord"/>`),
			record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"wrong root", []byte(`<PatientRecord/>`), record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"wrong namespace", []byte(`<MedicalRecord xmlns="urn:hl7-org:v3"/>`), record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"trailing content", append(append([]byte{}, good...), []byte("<x/>")...), record.ParseOptions{}, mig.EINVALID, mig.IssueMalformedExtract},
		{"wrong NHS number", good, record.ParseOptions{NHSNumber: "9990002002"}, mig.ECONFLICT, mig.IssueIdentityMismatch},
		{"NHS number missing", doc(`<EventList/>`), record.ParseOptions{NHSNumber: "9990002053"}, mig.ECONFLICT, mig.IssueIdentityMismatch},
		{"over the size limit", good, record.ParseOptions{Limits: xmltok.Limits{MaxBytes: 1024}}, mig.ETOOLARGE, mig.IssueMalformedExtract},
		{"too deep", doc(strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40)), record.ParseOptions{Limits: xmltok.Limits{MaxDepth: 20}}, mig.ETOOLARGE, mig.IssueMalformedExtract},
	}
	for _, c := range cases {
		r, err := Parse(bytes.NewReader(c.in), c.opt)
		var me *mig.Error
		if err == nil || r != nil || !errors.As(err, &me) || me.Code != c.code || me.Issue != c.issue {
			t.Errorf("%s: got %v, %v; want %s/%s", c.name, r, err, c.code, c.issue)
			continue
		}
		if strings.Contains(err.Error(), "FREETEXT") || strings.Contains(err.Error(), "999") {
			t.Errorf("%s: error message carries content: %v", c.name, err)
		}
	}
}

// TestBadDate: an invalid date leaves that date unset and keeps the entry.
func TestBadDate(t *testing.T) {
	r := parse(t, readExtract(t, "9990002010"), record.ParseOptions{})
	e := find(t, r, "E10-BADDATE")
	if !e.Effective.IsZero() || e.Kind != record.KindDiagnosis || !e.Recorded.IsZero() {
		t.Errorf("bad date entry %+v", e)
	}
	if e := find(t, r, "E10-UNKNOWNDATE"); !e.Effective.IsZero() {
		t.Errorf("DatePart 3 gave a date: %v", e.Effective)
	}
}

// TestEverything spot-checks 9990002010 beyond the golden file.
func TestEverything(t *testing.T) {
	r := parse(t, readExtract(t, "9990002010"), record.ParseOptions{})
	for _, id := range []string{"E10-NOCODE", "M10-MIXTURE", "ATT-1", "E10-DIA-2"} {
		if has(r, id) {
			t.Errorf("%s kept", id)
		}
	}
	// Local codes without a national map are accounted for, never shown.
	for _, id := range []string{"E10-LOCALNOMAP", "E10-LOCALASREAD", "AL10-LOCAL"} {
		if e := find(t, r, id); e.Kind != record.KindNone || e.NotShown != record.RuleUnclassifiable {
			t.Errorf("%s: kind %v not shown %q", id, e.Kind, e.NotShown)
		}
	}
	// A diary entry is planned: it keeps the kind (and rule) its code gives.
	if e := find(t, r, "D10"); !e.Planned || e.Kind != record.KindNone || e.NotShown != record.RuleAdministration {
		t.Errorf("diary entry %+v", e)
	}
	checks := []struct {
		id   string
		kind record.Kind
	}{
		{"E10-UNKNOWNNATIONAL", record.KindNone}, {"E10-LOCALMAPPED", record.KindNone}, {"E10-ADMISSION", record.KindAdmission},
		{"E10-REF-EVENT", record.KindReferral}, {"E10-ALLERGY-EVENT", record.KindAllergy}, {"E10-ALERT-EVENT", record.KindRisk},
		{"E10-DNACPR", record.KindRisk}, {"AL10-SAFEGUARD", record.KindRisk}, {"A10-NKA", record.KindAllergy},
		{"INV10-FBC", record.KindInvestigation}, {"E10-HB", record.KindInvestigation}, {"E10-TSH", record.KindInvestigation},
		{"E10-SYS-ONLY", record.KindBloodPressure}, {"E10-SYS-2", record.KindBloodPressure}, {"E10-IMM-CODE", record.KindImmunisation},
		{"M10-NOMAP", record.KindMedicationAuthorisation}, {"emis-referral-ref-5", record.KindReferral}, {"emis-consultation-ref-77", record.KindEncounter},
	}
	for _, c := range checks {
		if e := find(t, r, c.id); e.Kind != c.kind {
			t.Errorf("%s kind %v, want %v", c.id, e.Kind, c.kind)
		}
	}
	if a := find(t, r, "A10-NKA").Allergy; a.Category != record.AllergyNoKnown {
		t.Errorf("no known allergy category %q", a.Category)
	}
	if e := find(t, r, "A10-PAST"); e.Status != record.StatusInactive || e.Allergy.Substance.IsZero() {
		t.Errorf("past allergy %+v", e)
	}
	if e := find(t, r, "E10-SYS-2"); e.Systolic.Value != "125" || e.Diastolic.Value != "80" || !e.Code.IsZero() ||
		codeOf(e.SystolicCode) != "246N." || codeOf(e.DiastolicCode) != "246P." {
		t.Errorf("standing BP %+v", e)
	}
	if e := find(t, r, "E10-SYS-ONLY"); e.Systolic.Unit != "mm[Hg]" || e.Diastolic != nil || !e.Code.IsZero() ||
		codeOf(e.SystolicCode) != "2469." || !e.DiastolicCode.IsZero() {
		t.Errorf("unpaired systolic %+v", e)
	}
	if e := find(t, r, "INV10-FBC"); strings.Join(e.Members, ",") != "E10-HB,E10-WCC" || e.Encounter != "C10-MONTHONLY" {
		t.Errorf("report %+v", e)
	}
	if e := find(t, r, "E10-TSH"); e.Parent != "" {
		t.Errorf("result of an uncoded report has parent %q", e.Parent)
	}
	if e := find(t, r, "E10-MINUTES"); e.Value != nil {
		t.Errorf("non-numeric value kept: %+v", e.Value)
	}
	if e := find(t, r, "E10-LESSTHAN"); e.Value.Comparator != "<" {
		t.Errorf("comparator %+v", e.Value)
	}
	if e := find(t, r, "emis-referral-ref-5"); e.Referral.Priority != "urgent" || e.Referral.Recipient != "RR8" || !e.Referral.Specialty.IsZero() {
		t.Errorf("urgent referral %+v", e.Referral)
	}
	if e := find(t, r, "M10-DISPENSING"); e.Medication.Type != record.PrescriptionRepeatDispensing || e.Medication.Quantity.String() != "28 capsules" {
		t.Errorf("repeat dispensing %+v", e.Medication)
	}
	if e := find(t, r, "M10-STOPPED"); e.Status != record.StatusStopped || e.End != day(2020, 3, 3) {
		t.Errorf("stopped %+v", e)
	}
	if e := find(t, r, "I10-ORPHAN"); e.Medication.Authorisation != "" {
		t.Errorf("dangling authorisation kept: %q", e.Medication.Authorisation)
	}
	// ProblemStatus 2 is Health Admin/Health Promotion: not a clinical
	// problem, so the item is classified by its code (9OX..: not shown).
	if e := find(t, r, "E10-HEALTHADMIN"); e.Kind != record.KindNone || e.Problem != nil {
		t.Errorf("health admin entry %+v", e)
	}
}

// TestPotentialProblem: ProblemStatus 3 (Potential Problem) is an active
// problem marked provisional, kept out of the Summary.
func TestPotentialProblem(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(practiceDir(t), "9990002010.xml"))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(b), "<ProblemStatus>1</ProblemStatus><Significance>2</Significance>",
		"<ProblemStatus>3</ProblemStatus><Significance>2</Significance>", 1)
	if doc == string(b) {
		t.Fatal("the asthma problem's status was not found to change")
	}
	r, err := Parse(strings.NewReader(doc), record.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := find(t, r, "E10-ASTHMA")
	if e.Kind != record.KindProblem || e.Status != record.StatusActive || e.Problem == nil || !e.Problem.Provisional {
		t.Fatalf("potential problem %+v", e)
	}
	record.Tag(r, record.DefaultViewContext(time.Now()))
	if e := find(t, r, "E10-ASTHMA"); e.InView(record.ViewSummary) || !e.InView(record.ViewProblems) {
		t.Errorf("potential problem views %v, want problems only", e.Views)
	}
}

func TestConsentCodes(t *testing.T) {
	codes := func(nhs string) []string {
		var out []string
		for _, e := range parse(t, readExtract(t, nhs), record.ParseOptions{}).Entries {
			if c, ok := e.Code.Find(record.SystemReadV2); ok && strings.HasPrefix(c.Code, "9Nd") {
				out = append(out, c.Code+"@"+e.Effective.T.Format("2006-01-02"))
			}
		}
		return out
	}
	cases := map[string]string{
		"9990002002": "9Nd7.@2020-01-06", "9990002010": "9Nd7.@2019-03-12", "9990002029": "",
		"9990002037": "9Nd7.@2019-03-01,9Nd1.@2024-03-01", "9990002045": "9Nd7.@2012-01-02", "9990002053": "9Nd7.@2023-06-15", "9990002061": "9Nd7.@2021-02-02",
	}
	for nhs, want := range cases {
		if got := strings.Join(codes(nhs), ","); got != want {
			t.Errorf("%s: consent codes %q, want %q", nhs, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, nhs := range extracts {
		f.Add(readExtract(f, nhs))
	}
	f.Add(doc(reg + `<EventList><Event><Code><Value>2469.</Value><Scheme>READ2</Scheme></Code><NumericValue><Value>1e400</Value></NumericValue></Event></EventList>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(bytes.NewReader(b), record.ParseOptions{Limits: xmltok.Limits{MaxBytes: 1 << 20}})
		if err != nil {
			var me *mig.Error
			if r != nil || !errors.As(err, &me) {
				t.Fatalf("got %v, %T %v", r, err, err)
			}
			return
		}
		ids := map[string]bool{}
		for _, e := range r.Entries {
			if e.ID == "" {
				t.Fatal("entry without id")
			}
			ids[e.ID] = true
		}
		for _, e := range r.Entries {
			if e.Encounter != "" && !ids[e.Encounter] || e.Parent != "" && !ids[e.Parent] {
				t.Fatalf("dangling reference in %s", e.ID)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	in := readExtract(b, "9990002045")
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(in), record.ParseOptions{NHSNumber: "9990002045"}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestConfidentialityPolicy: an item, or a whole consultation, under an
// EMIS confidentiality policy is withheld, and the record says something
// was withheld; without a policy nothing is.
func TestConfidentialityPolicy(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(practiceDir(t), "9990002002.xml"))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Parse(strings.NewReader(string(b)), record.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if plain.Withheld {
		t.Fatal("a record with no policy says something was withheld")
	}
	for _, tc := range []struct {
		name, from, to string
		gone           []string // entry ids that must be withheld
	}{
		{"an event", "<GUID>E2-APPENDIX</GUID>", "<GUID>E2-APPENDIX</GUID><PolicyID>7</PolicyID>", []string{"E2-APPENDIX"}},
		{"a consultation", "<GUID>C2-CONSULT</GUID>", "<GUID>C2-CONSULT</GUID><PolicyID>3</PolicyID>", []string{"C2-CONSULT", "E2-SYS", "E2-HBA1C", "R2-DIABETOLOGY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(string(b), tc.from, tc.to, 1)
			if doc == string(b) {
				t.Fatalf("%s not found in the extract", tc.from)
			}
			r, err := Parse(strings.NewReader(doc), record.ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !r.Withheld {
				t.Error("the record does not say something was withheld")
			}
			ids := map[string]bool{}
			for _, e := range r.Entries {
				ids[e.ID] = true
			}
			for _, id := range tc.gone {
				if ids[id] {
					t.Errorf("%s is still in the record", id)
				}
			}
			if len(r.Entries) >= len(plain.Entries) {
				t.Errorf("%d entries, want fewer than %d", len(r.Entries), len(plain.Entries))
			}
		})
	}
}

// codeOf lists a concept's codes, "|"-separated, in order.
func codeOf(c record.Concept) string {
	var out []string
	for _, cd := range c.Codings {
		out = append(out, cd.Code)
	}
	return strings.Join(out, "|")
}
