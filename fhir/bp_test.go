package fhir

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"mig/adapters/record"
)

// TestBloodPressureCode checks the codes of a blood pressure Observation:
// the code of the reading as a whole (as entered first, userSelected), then
// the profile's LOINC panel code; on each component the LOINC code of the
// half first, then the half's own codes as the GP system recorded them (as
// entered first, userSelected, with their terms as display).
func TestBloodPressureCode(t *testing.T) {
	rv2 := func(code, term string) record.Coding {
		return record.Coding{System: record.SystemReadV2, Code: code, Term: record.NewTerm(term)}
	}
	ctv3 := func(code, term string) record.Coding {
		return record.Coding{System: record.SystemCTV3, Code: code, Term: record.NewTerm(term)}
	}
	sct := func(code string) record.Coding { return record.Coding{System: record.SystemSNOMED, Code: code} }
	local := record.Coding{System: record.SystemEMISLocal, Code: "LOC1"}
	panel := record.SystemLOINC + "|85354-9|Blood pressure panel with all children optional"
	sys, dia := record.SystemLOINC+"|8480-6", record.SystemLOINC+"|8462-4"
	tests := []struct {
		name               string
		code, sysCd, diaCd []record.Coding
		want               []string // system|code[|display], in order; userSelected on the first non-LOINC
		wantSys, wantDia   []string
	}{
		{"GP2GP battery code and halves",
			[]record.Coding{rv2("246..00", "O/E - blood pressure reading"), sct("163020007")},
			[]record.Coding{rv2("2469.00", "O/E - Systolic BP reading"), sct("72313002")},
			[]record.Coding{rv2("246A.00", "O/E - Diastolic BP reading"), sct("1091811000000102")},
			[]string{record.SystemReadV2 + "|246..00|O/E - blood pressure reading", record.SystemSNOMED + "|163020007", panel},
			[]string{sys + "|Systolic blood pressure", record.SystemReadV2 + "|2469.00|O/E - Systolic BP reading", record.SystemSNOMED + "|72313002"},
			[]string{dia + "|Diastolic blood pressure", record.SystemReadV2 + "|246A.00|O/E - Diastolic BP reading", record.SystemSNOMED + "|1091811000000102"}},
		{"EMIS sitting halves, no code for the whole", nil,
			[]record.Coding{rv2("246Q.", "Sitting systolic blood pressure"), sct("407554009")},
			[]record.Coding{rv2("246R.", "Sitting diastolic blood pressure"), sct("407555005")},
			[]string{panel},
			[]string{sys + "|Systolic blood pressure", record.SystemReadV2 + "|246Q.|Sitting systolic blood pressure", record.SystemSNOMED + "|407554009"},
			[]string{dia + "|Diastolic blood pressure", record.SystemReadV2 + "|246R.|Sitting diastolic blood pressure", record.SystemSNOMED + "|407555005"}},
		{"TPP header, standing halves",
			[]record.Coding{ctv3("246..", "O/E - blood pressure reading")},
			[]record.Coding{ctv3("XaIwj", "Standing systolic blood pressure")},
			[]record.Coding{ctv3("XaIwk", "Standing diastolic blood pressure")},
			[]string{record.SystemCTV3 + "|246..|O/E - blood pressure reading", panel},
			[]string{sys + "|Systolic blood pressure", record.SystemCTV3 + "|XaIwj|Standing systolic blood pressure"},
			[]string{dia + "|Diastolic blood pressure", record.SystemCTV3 + "|XaIwk|Standing diastolic blood pressure"}},
		{"local code beside the battery code", []record.Coding{local, rv2("246..", "")}, nil, nil,
			[]string{record.SystemEMISLocal + "|LOC1", record.SystemReadV2 + "|246..", panel},
			[]string{sys + "|Systolic blood pressure"}, []string{dia + "|Diastolic blood pressure"}},
		{"no code", nil, nil, nil, []string{panel},
			[]string{sys + "|Systolic blood pressure"}, []string{dia + "|Diastolic blood pressure"}},
	}
	type coding struct {
		System, Code, Display string
		UserSelected          bool
	}
	check := func(t *testing.T, what string, cs []coding, want []string) {
		t.Helper()
		var got []string
		sawSource := false
		for _, c := range cs {
			s := c.System + "|" + c.Code
			if c.Display != "" {
				s += "|" + c.Display
			}
			got = append(got, s)
			first := c.System != record.SystemLOINC && !sawSource
			sawSource = sawSource || c.System != record.SystemLOINC
			if c.UserSelected != first {
				t.Errorf("%s: coding %s userSelected = %v", what, c.Code, c.UserSelected)
			}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at := record.Date{T: time.Date(2026, 9, 15, 9, 35, 0, 0, time.UTC), P: record.PrecisionMinute}
			rec := &record.Record{Patient: record.Patient{NHSNumber: "9990001006"}, Entries: []record.Entry{{
				ID: "bp", Kind: record.KindBloodPressure, Code: record.Concept{Codings: tc.code}, Effective: at,
				Systolic: &record.Quantity{Value: "142", Unit: "mm[Hg]"}, Diastolic: &record.Quantity{Value: "88", Unit: "mm[Hg]"},
				SystolicCode: record.Concept{Codings: tc.sysCd}, DiastolicCode: record.Concept{Codings: tc.diaCd},
			}}}
			res, bodies := mapAll(t, testMapper(t), tagged(rec), nil)
			if len(res.Resources) != 1 {
				t.Fatalf("%d resources, want 1", len(res.Resources))
			}
			validate(t, "blood pressure", bodies[1])
			var obs struct {
				Code      struct{ Coding []coding }
				Component []struct {
					Code          struct{ Coding []coding }
					ValueQuantity struct{ Value float64 }
				}
			}
			if err := json.Unmarshal(bodies[1], &obs); err != nil {
				t.Fatal(err)
			}
			check(t, "code", obs.Code.Coding, tc.want)
			if len(obs.Component) != 2 {
				t.Fatalf("components = %+v, want systolic then diastolic", obs.Component)
			}
			check(t, "systolic component", obs.Component[0].Code.Coding, tc.wantSys)
			check(t, "diastolic component", obs.Component[1].Code.Coding, tc.wantDia)
			if obs.Component[0].ValueQuantity.Value != 142 || obs.Component[1].ValueQuantity.Value != 88 {
				t.Errorf("component values %+v", obs.Component)
			}
		})
	}
}

// TestQuantityUCUM checks that a result's value and reference range carry
// the unit and its UCUM code when the unit is valid UCUM or a GP unit
// string with a UCUM equivalent, and that any other unit is left out and
// marked data-absent (never silently dropped, never shown as text).
func TestQuantityUCUM(t *testing.T) {
	tests := []struct {
		unit, wantCode string
		withheld       bool
	}{
		{"mmol/mol", "mmol/mol", false},
		{"mmol/L", "mmol/L", false},
		{"10*9/L", "10*9/L", false},
		{"g/L", "g/L", false},
		{"mmol/l", "mmol/L", false},  // a lab's spelling, on the GP list
		{"x10^9/L", "10*9/L", false}, // a lab's spelling, on the GP list
		{"tablet", "{tbl}", false},   // a dose unit
		{"", "", false},              // no unit
		{"mmHg", "mm[Hg]", false},    // UCUM writes mm[Hg]
		{"IU/L", "[IU]/L", false},    // UCUM writes [IU]/L
		{"umol/L", "umol/L", false},
		{"mL/min/{1.73_m2}", "mL/min/{1.73_m2}", false},
		{"kua/L", "", true},     // not UCUM, not on the list
		{"{ring me}", "", true}, // UCUM braces hold any text: only our list passes
		{"call 07700 900123", "", true},
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
			wantSystem, wantUnit := "", tc.unit
			if tc.wantCode != "" {
				wantSystem = SystemUCUM
			}
			if tc.withheld {
				wantUnit = ""
				if !strings.Contains(string(bodies[1]), `"_unit":{"extension":[{"url":"`+ExtDataAbsentReason+`","valueCode":"unsupported"}]}`) {
					t.Errorf("withheld unit not marked data-absent: %s", bodies[1])
				}
				if strings.Contains(string(bodies[1]), `"unit":""`) {
					t.Errorf("an empty unit string (FHIR strings are never empty): %s", bodies[1])
				}
			}
			for what, got := range map[string]struct{ Unit, System, Code string }{
				"value": obs.ValueQuantity, "range low": obs.ReferenceRange[0].Low, "range high": obs.ReferenceRange[0].High,
			} {
				if got.Unit != wantUnit || got.System != wantSystem || got.Code != tc.wantCode {
					t.Errorf("%s = %+v, want unit %q system %q code %q", what, got, wantUnit, wantSystem, tc.wantCode)
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
