package fhir

import (
	"errors"
	"strings"
	"testing"

	"mig"
	"mig/consent"
)

// FuzzParseConsent feeds arbitrary bodies to ParseConsent: it must never
// panic, every error must be an EINVALID *mig.Error, and no error message
// may quote the body. The seeds plant the marker FREETEXT in every kind of
// string value (narrative, texts, identifiers, codes, unknown keys), so a
// message echoing any of them is caught.
func FuzzParseConsent(f *testing.F) {
	ids := mustIDs(f, 7)
	pid := ids.Patient("9990001006")
	body := func(patient, provision string) string {
		return `{"resourceType":"Consent","status":"active",
			"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">FREETEXT-narrative</div>"},
			"scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}],"text":"FREETEXT-scope"},
			"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}],"text":"FREETEXT-category"}],
			"policyRule":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMPLIED"}]},
			"patient":` + patient + `,"provision":` + provision + `}`
	}
	ref := `{"reference":"Patient/` + pid + `","display":"FREETEXT-display"}`
	nhs := `{"identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9990001006"}}`
	etreat := `{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"ETREAT"}`
	reason := `[{"coding":[{"system":"` + consent.EmergencyReasonCodeSystem + `","code":"` + consent.EmergencyUnconscious + `"}],"text":"FREETEXT-reason"}]`
	seeds := []string{
		// valid: permit, deny, emergency with a reason
		body(ref, `{"type":"permit","period":{"start":"2026-11-20T10:00:00Z","end":"2026-11-21T10:00:00Z"}}`),
		body(nhs, `{"type":"deny"}`),
		body(ref, `{"type":"permit","purpose":[`+etreat+`],"code":`+reason+`}`),
		// broken ones
		body(ref, `{"type":"permit","purpose":[`+etreat+`],"code":[{"coding":[{"system":"`+consent.EmergencyReasonCodeSystem+`","code":"FREETEXT-code"}]}]}`),
		body(`{"identifier":{"system":"urn:FREETEXT-system","value":"FREETEXT-value"}}`, `{"type":"permit"}`),
		body(`{"identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"FREETEXT-nhs"}}`, `{"type":"permit"}`),
		body(ref, `{"type":"FREETEXT-type"}`),
		body(ref, `{"type":"permit","period":{"start":"FREETEXT-date"}}`),
		body(ref, `{"type":"permit","period":{"start":"2026-11-21","end":"2026-11-20"}}`),
		body(`{"reference":"FREETEXT-ref/1"}`, `{"type":"permit"}`),
		`{"resourceType":"Consent","FREETEXT-key":"FREETEXT-value"}`,
		`{"resourceType":"FREETEXT-type"}`,
		`{"resourceType":"Basic","code":{"text":"FREETEXT-x"}}`,
		`FREETEXT-{`,
		`{"resourceType":"Consent","status":"FREETEXT-status"}`,
		`{"resourceType":"Consent","status":"active","patient":{"reference":"Patient/FREETEXT-id"},"provision":{"type":"permit"}}`,
		``, `null`, `[]`, `{"resourceType":"Consent","status":"active","id":"FREETEXT-" }`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ParseConsent(b)
		if err == nil {
			if got == nil {
				t.Fatal("nil request without an error")
			}
			return
		}
		var me *mig.Error
		if !errors.As(err, &me) {
			t.Fatalf("error is %T, not *mig.Error", err)
		}
		if me.Code != mig.EINVALID {
			t.Fatalf("error code %s, want %s", me.Code, mig.EINVALID)
		}
		for _, msg := range []string{me.Message, me.Error()} {
			if strings.Contains(msg, "FREETEXT") {
				t.Fatalf("error message quotes the body: %q", msg)
			}
		}
	})
}
