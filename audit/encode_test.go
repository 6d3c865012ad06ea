package audit_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"mig/audit"
)

var t0 = time.Date(2026, 11, 2, 9, 30, 15, 123e6, time.UTC)

func fullEvent() *audit.Event {
	return &audit.Event{
		Time: t0, Type: audit.TypeRest, Subtype: "read", Action: "R", Outcome: audit.OutcomeSuccess,
		UserID: "555000111222", UserName: "Dr Jo Tester", RoleCode: "R8000", RoleProfileID: "555000333444",
		OrgODS: "RX999", ClientID: "ed-client", SourceIP: "10.1.2.3", RequestID: "req-1", PurposeOfUse: "TREAT",
		NHSNumber: "9990001006", Practice: "A99901", AgreementID: "isa-1", Consent: "given",
		Released:  map[string]int{"Condition": 2, "AllergyIntolerance": 1, "Observation": 3},
		Operation: "read", Resource: "Patient",
	}
}

func validate(t *testing.T, body []byte) {
	t.Helper()
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Unmarshal(body); err != nil {
		t.Fatalf("AuditEvent does not validate: %v\n%s", err, body)
	}
}

func TestEncodeValidates(t *testing.T) {
	search := fullEvent()
	search.Subtype, search.Action, search.Query, search.Operation = "search-type", "E", "Condition?patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9990001006", "search"
	refused := fullEvent()
	refused.Type, refused.Outcome, refused.OutcomeDesc, refused.Released, refused.Consent = audit.TypeSecurity, audit.OutcomeSeriousFail, "share-consent NO_PATIENT_CONSENT", nil, "none"
	emerg := fullEvent()
	emerg.PurposeOfUse, emerg.Emergency, emerg.Consent = "ETREAT", "unconscious", "emergency"
	anon := &audit.Event{Time: t0, Subtype: "read", Action: "R", Outcome: audit.OutcomeSeriousFail, Type: audit.TypeSecurity, OutcomeDesc: "authentication unauthorized"}
	tests := []struct {
		name  string
		e     *audit.Event
		want  []string // substrings the JSON must hold
		avoid []string
	}{
		{"read", fullEvent(), []string{`"code":"rest"`, `"code":"read"`, `"action":"R"`, `"outcome":"0"`, `"code":"TREAT"`,
			`"system":"https://fhir.nhs.uk/Id/sds-user-id","value":"555000111222"`, `"code":"110153"`, `"code":"110152"`,
			`"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9990001006"`, `"type":"Condition","valueString":"2"`,
			`"requestor":true`, `"value":"req-1"`, `"code":"R8000"`, `"value":"RX999"`, `"address":"10.1.2.3"`, audit.ProfilePatientRead},
			[]string{"110127", "ETREAT", "110113"}},
		{"search", search, []string{`"code":"search-type"`, `"action":"E"`, `"code":"24"`,
			`"query":"` + base64.StdEncoding.EncodeToString([]byte(search.Query)) + `"`, audit.ProfilePatientQuery}, nil},
		{"refused", refused, []string{`"code":"110113"`, `"outcome":"8"`, `"outcomeDesc":"share-consent NO_PATIENT_CONSENT"`, `"valueString":"none"`},
			[]string{`"code":"4","display":"Domain Resource"`}},
		{"emergency", emerg, []string{`"code":"110127"`, `"code":"ETREAT"`, `"type":"emergency-reason","valueString":"unconscious"`}, []string{`"code":"TREAT"`}},
		{"no principal, no patient", anon, []string{`"requestor":true`, `"outcome":"8"`}, []string{"sds-user-id", "nhs-number"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, err := audit.Encode("0b6f5a0e-5d3c-4f7e-9a51-1f1d2c3b4a59", tc.e)
			if err != nil {
				t.Fatal(err)
			}
			validate(t, body)
			for _, w := range tc.want {
				if !bytes.Contains(body, []byte(w)) {
					t.Errorf("missing %s in\n%s", w, body)
				}
			}
			for _, a := range tc.avoid {
				if bytes.Contains(body, []byte(a)) {
					t.Errorf("unexpected %s in\n%s", a, body)
				}
			}
			// Canonical: the same event encodes to the same bytes (maps sorted).
			for i := 0; i < 20; i++ {
				again, _ := audit.Encode("0b6f5a0e-5d3c-4f7e-9a51-1f1d2c3b4a59", tc.e)
				if !bytes.Equal(again, body) {
					t.Fatal("encoding is not canonical")
				}
			}
			// Decode reads back what reports need.
			d, err := audit.Decode(body)
			if err != nil {
				t.Fatal(err)
			}
			if d.NHSNumber != tc.e.NHSNumber || d.UserID != tc.e.UserID || d.OrgODS != tc.e.OrgODS || !d.Time.Equal(tc.e.Time) ||
				d.Outcome != tc.e.Outcome || d.Emergency != (tc.e.PurposeOfUse == "ETREAT") || d.RequestID != tc.e.RequestID {
				t.Errorf("decode mismatch: %+v", d)
			}
			for k, v := range tc.e.Released {
				if d.Released[k] != v {
					t.Errorf("released %s = %d, want %d", k, d.Released[k], v)
				}
			}
			if rt, err := audit.RecordedTime(body); err != nil || !rt.Equal(tc.e.Time) {
				t.Errorf("RecordedTime = %v, %v", rt, err)
			}
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	tests := []struct {
		name string
		mod  func(e *audit.Event)
	}{
		{"no time", func(e *audit.Event) { e.Time = time.Time{} }},
		{"bad type", func(e *audit.Event) { e.Type = "other" }},
		{"bad subtype", func(e *audit.Event) { e.Subtype = "peek" }},
		{"bad action", func(e *audit.Event) { e.Action = "X" }},
		{"bad outcome", func(e *audit.Event) { e.Outcome = "3" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := fullEvent()
			tc.mod(e)
			if _, err := audit.Encode("id-1", e); !errors.Is(err, audit.ErrInvalidEvent) {
				t.Fatalf("err = %v, want ErrInvalidEvent", err)
			}
		})
	}
}

// The event shape has no place for clinical content or a patient's name:
// the only person named is the user, from the token.
func TestEncodeHoldsNoPatientText(t *testing.T) {
	body, err := audit.Encode("id-2", fullEvent())
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(body, &generic); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"FREETEXT-", "Example", "diabetes", "text", "narrative", "note", "birthDate"} {
		if strings.Contains(string(body), bad) {
			t.Errorf("AuditEvent holds %q", bad)
		}
	}
}
