package fhir

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"mig/adapters/record"
)

// TestBloodPressureCode checks the code of a blood pressure Observation:
// the codes naming the reading as a whole (as entered first), then the
// profile's LOINC panel code, and never the code of one of its halves,
// which would say the reading is its systolic (or diastolic) part.
func TestBloodPressureCode(t *testing.T) {
	rv2 := func(code string) record.Coding { return record.Coding{System: record.SystemReadV2, Code: code} }
	ctv3 := func(code string) record.Coding { return record.Coding{System: record.SystemCTV3, Code: code} }
	sct := func(code string) record.Coding { return record.Coding{System: record.SystemSNOMED, Code: code} }
	local := record.Coding{System: record.SystemEMISLocal, Code: "LOC1"}
	tests := []struct {
		name  string
		codes []record.Coding
		want  []string // system|code, in order; userSelected on the first
	}{
		{"GP2GP battery code", []record.Coding{rv2("246..00"), sct("163020007")},
			[]string{record.SystemReadV2 + "|246..00", record.SystemSNOMED + "|163020007", record.SystemLOINC + "|85354-9"}},
		{"EMIS paired halves", []record.Coding{rv2("2469."), sct("72313002"), rv2("246A."), sct("1091811000000102")},
			[]string{record.SystemLOINC + "|85354-9"}},
		{"TPP header with halves", []record.Coding{ctv3("246.."), ctv3("XaJ2E"), ctv3("XaJ2F")},
			[]string{record.SystemCTV3 + "|246..", record.SystemLOINC + "|85354-9"}},
		{"halves then a battery code", []record.Coding{rv2("2469."), rv2("246A."), rv2("246.."), sct("75367002")},
			[]string{record.SystemReadV2 + "|246..", record.SystemSNOMED + "|75367002", record.SystemLOINC + "|85354-9"}},
		{"translation of a half stays out", []record.Coding{rv2("246.."), rv2("2469."), sct("999999999")},
			[]string{record.SystemReadV2 + "|246..", record.SystemLOINC + "|85354-9"}},
		{"local code before the battery code", []record.Coding{local, rv2("246..")},
			[]string{record.SystemReadV2 + "|246..", record.SystemLOINC + "|85354-9"}},
		{"no code", nil, []string{record.SystemLOINC + "|85354-9"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at := record.Date{T: time.Date(2026, 9, 15, 9, 35, 0, 0, time.UTC), P: record.PrecisionMinute}
			rec := &record.Record{Patient: record.Patient{NHSNumber: "9990001006"}, Entries: []record.Entry{{
				ID: "bp", Kind: record.KindBloodPressure, Code: record.Concept{Codings: tc.codes}, Effective: at,
				Systolic: &record.Quantity{Value: "142", Unit: "mm[Hg]"}, Diastolic: &record.Quantity{Value: "88", Unit: "mm[Hg]"},
			}}}
			res, bodies := mapAll(t, testMapper(t), tagged(rec), nil)
			if len(res.Resources) != 1 {
				t.Fatalf("%d resources, want 1", len(res.Resources))
			}
			validate(t, "blood pressure", bodies[1])
			var obs struct {
				Code struct {
					Coding []struct {
						System, Code string
						UserSelected bool
					}
				}
				Component []struct {
					Code struct {
						Coding []struct{ System, Code string }
					}
				}
			}
			if err := json.Unmarshal(bodies[1], &obs); err != nil {
				t.Fatal(err)
			}
			var got []string
			for i, c := range obs.Code.Coding {
				got = append(got, c.System+"|"+c.Code)
				if c.UserSelected != (i == 0 && c.System != record.SystemLOINC) {
					t.Errorf("coding %d (%s) userSelected = %v", i, c.Code, c.UserSelected)
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("code = %v, want %v", got, tc.want)
			}
			if len(obs.Component) != 2 || obs.Component[0].Code.Coding[0].Code != loincSystolic || obs.Component[1].Code.Coding[0].Code != loincDiastolic {
				t.Errorf("components = %+v, want systolic then diastolic", obs.Component)
			}
		})
	}
}

// TestQuantityUCUM checks that a result's value and reference range carry
// the UCUM system and code when the unit written is a UCUM code, and only
// the unit text otherwise.
func TestQuantityUCUM(t *testing.T) {
	tests := []struct {
		unit, wantCode string
	}{
		{"mmol/mol", "mmol/mol"},
		{"mmol/L", "mmol/L"},
		{"10*9/L", "10*9/L"},
		{"g/L", "g/L"},
		{"mmol/l", ""}, // not UCUM's spelling: no code guessed
		{"tablet", ""}, // a form, not a unit
		{"", ""},       // no unit
		{"mmHg", ""},   // UCUM writes mm[Hg]
		{"IU/L", ""},   // UCUM writes [IU]/L
		{"umol/L", "umol/L"},
	}
	for _, tc := range tests {
		t.Run(tc.unit, func(t *testing.T) {
			q := &record.Quantity{Value: "58", Unit: tc.unit}
			rec := &record.Record{Patient: record.Patient{NHSNumber: "9990001006"}, Entries: []record.Entry{{
				ID: "t", Kind: record.KindInvestigation, Code: record.Concept{Codings: []record.Coding{{System: record.SystemReadV2, Code: "42W5."}}},
				Effective: record.Date{T: time.Date(2026, 9, 15, 0, 0, 0, 0, time.UTC), P: record.PrecisionDay},
				Value:     q, Range: &record.Range{Low: &record.Quantity{Value: "20", Unit: tc.unit}, High: &record.Quantity{Value: "41", Unit: tc.unit}},
			}}}
			_, bodies := mapAll(t, testMapper(t), tagged(rec), nil)
			validate(t, "observation", bodies[1])
			var obs struct {
				ValueQuantity  struct{ Unit, System, Code string }
				ReferenceRange []struct {
					Low, High struct{ Unit, System, Code string }
				}
			}
			if err := json.Unmarshal(bodies[1], &obs); err != nil {
				t.Fatal(err)
			}
			wantSystem := ""
			if tc.wantCode != "" {
				wantSystem = SystemUCUM
			}
			for what, got := range map[string]struct{ Unit, System, Code string }{
				"value": obs.ValueQuantity, "range low": obs.ReferenceRange[0].Low, "range high": obs.ReferenceRange[0].High,
			} {
				if got.Unit != tc.unit || got.System != wantSystem || got.Code != tc.wantCode {
					t.Errorf("%s = %+v, want unit %q system %q code %q", what, got, tc.unit, wantSystem, tc.wantCode)
				}
			}
		})
	}
}

// TestProvisionalProblem: a potential problem is a Condition with
// verificationStatus provisional, not confirmed.
func TestProvisionalProblem(t *testing.T) {
	ids, err := NewIDs(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	for _, provisional := range []bool{false, true} {
		rec := &record.Record{Patient: record.Patient{NHSNumber: "9990002010"}, Entries: []record.Entry{{
			ID: "p1", Kind: record.KindProblem, Status: record.StatusActive,
			Code:    record.Concept{Codings: []record.Coding{{System: record.SystemSNOMED, Code: "195967001"}}},
			Problem: &record.ProblemInfo{Provisional: provisional},
		}}}
		res, err := (&Mapper{IDs: ids}).Map(rec, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := MarshalResource(res.Resources[0].Proto)
		if err != nil {
			t.Fatal(err)
		}
		want := `"confirmed"`
		if provisional {
			want = `"provisional"`
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("provisional=%v: verificationStatus is not %s: %s", provisional, want, b)
		}
	}
}

// TestStaleAuthorisationStatus: an authorisation the GP system still calls
// active after its end date is shown as completed when the mapper has a
// clock, and as given without one.
func TestStaleAuthorisationStatus(t *testing.T) {
	ids, err := NewIDs(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	day := func(y int, m time.Month, d int) record.Date {
		return record.Date{T: time.Date(y, m, d, 0, 0, 0, 0, time.UTC), P: record.PrecisionDay}
	}
	for _, tc := range []struct {
		name  string
		end   record.Date
		clock bool
		want  string
	}{
		{"ended, with a clock", day(2026, 10, 1), true, `"completed"`},
		{"ends today, with a clock", day(2026, 11, 26), true, `"active"`},
		{"ended, no clock", day(2026, 10, 1), false, `"active"`},
		{"no end date", record.Date{}, true, `"active"`},
	} {
		rec := &record.Record{Patient: record.Patient{NHSNumber: "9990002010"}, Entries: []record.Entry{{
			ID: "a1", Kind: record.KindMedicationAuthorisation, Status: record.StatusActive, End: tc.end,
			Effective:  day(2026, 1, 1),
			Code:       record.Concept{Codings: []record.Coding{{System: record.SystemSNOMED, Code: "325278007"}}},
			Medication: &record.MedicationInfo{Type: record.PrescriptionRepeat},
		}}}
		m := &Mapper{IDs: ids}
		if tc.clock {
			m.Now = func() time.Time { return now }
		}
		res, err := m.Map(rec, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Resources {
			b, err := MarshalResource(r.Proto)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), `"status":`+tc.want) {
				t.Errorf("%s: %s status is not %s: %s", tc.name, r.Type, tc.want, b)
			}
		}
	}
}
