package fhir

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"mig"
	"mig/adapters/record"
	"mig/consent"
)

func TestBundlesAndOutcomes(t *testing.T) {
	m := testMapper(t)
	res, bodies := mapAll(t, m, tagged(fixture()), nil)
	entries := []BundleEntry{{FullURL: m.FullURL("Patient", res.Patient.ID), Resource: bodies[0], Mode: ModeInclude}}
	for i, r := range res.Resources[:3] {
		entries = append(entries, BundleEntry{FullURL: m.FullURL(r.Type, r.ID), Resource: bodies[i+1], Mode: ModeMatch})
	}
	entries = append(entries, BundleEntry{Resource: WithheldWarning(), Mode: ModeOutcome})
	links := []Link{{"self", "https://mig.example.nhs.uk/fhir/Condition?patient=x"}, {"next", "https://mig.example.nhs.uk/fhir/Condition?patient=x&_page=2\"<>&"}}
	cases := []struct {
		name string
		b    []byte
	}{
		{"searchset", SearchSet(3, links, entries)},
		{"empty searchset", SearchSet(0, nil, nil)},
		{"collection", Collection(nil, entries)},
		{"outcome", OperationOutcome("error", "forbidden", mig.IssueNoPatientConsent, "share-consent: no consent to share is recorded")},
		{"outcome no details", OperationOutcome("error", "not-found", "", "")},
		{"withheld", WithheldWarning()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			validate(t, tc.name, tc.b)
			golden(t, strings.ReplaceAll(tc.name, " ", "-"), tc.b)
		})
	}
	var v map[string]any
	if err := json.Unmarshal(cases[0].b, &v); err != nil {
		t.Fatal(err)
	}
	if get(v, "total") != 3.0 || get(v, "entry", "1", "search", "mode") != "match" || get(v, "entry", "4", "search", "mode") != "outcome" ||
		get(v, "timestamp") != "2026-11-20T12:00:00Z" || get(v, "link", "1", "url") != links[1].URL {
		t.Errorf("searchset fields wrong: %s", cases[0].b)
	}
	if strings.Contains(string(cases[2].b), `"search"`) || strings.Contains(string(cases[2].b), `"total"`) {
		t.Error("collection has search modes or total")
	}
	w := string(WithheldWarning())
	for _, s := range []string{`"severity":"warning"`, `"code":"suppressed"`} {
		if !strings.Contains(w, s) {
			t.Errorf("withheld warning lacks %s", s)
		}
	}
}

func TestCapabilities(t *testing.T) {
	in := CapabilityInput{
		SoftwareName: "MIG", SoftwareVersion: "1.0.0", BaseURL: "https://mig.example.nhs.uk/fhir",
		Date: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), TokenURL: "https://idp.example/token",
		Resources: []CapabilityResource{
			{Type: "Patient", Interactions: []string{"read", "search-type"},
				SearchParams: []CapabilitySearchParam{{"identifier", "token", "NHS number: https://fhir.nhs.uk/Id/nhs-number|<number>"}},
				Operations: []CapabilityOperation{{"$everything", "http://hl7.org/fhir/OperationDefinition/Patient-everything"},
					{"summary", "https://mig.example.nhs.uk/fhir/OperationDefinition/mig-summary"}},
				SupportedProfiles: []string{"http://hl7.org/fhir/uv/ips/StructureDefinition/Patient-uv-ips"}},
			{Type: "AllergyIntolerance", Interactions: []string{"read", "search-type"},
				SearchParams: []CapabilitySearchParam{{"patient", "reference", ""}, {"date", "date", ""}}},
			{Type: "Observation", Profile: ProfileBP, Interactions: []string{"read"}},
			{Type: "Consent", Interactions: []string{"create", "read", "search-type"}},
		},
		Operations: []CapabilityOperation{{"mig-view", "https://mig.example.nhs.uk/OperationDefinition/mig-view"}},
	}
	b, err := Capabilities(in)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, "CapabilityStatement", b)
	golden(t, "capability", b)
	var v map[string]any
	_ = json.Unmarshal(b, &v)
	checks := map[string]any{
		"status": "active", "kind": "instance", "fhirVersion": "4.0.1",
		"rest.0.mode": "server", "rest.0.security.service.0.coding.0.code": "SMART-on-FHIR",
		"rest.0.resource.1.type": "AllergyIntolerance", "rest.0.resource.1.interaction.1.code": "search-type",
		"rest.0.resource.1.searchParam.0.type": "reference", "format.0": "json",
		"rest.0.resource.0.supportedProfile.0": "http://hl7.org/fhir/uv/ips/StructureDefinition/Patient-uv-ips",
		"rest.0.resource.0.operation.1.name":   "summary",
	}
	for p, want := range checks {
		if got := get(v, strings.Split(p, ".")...); got != want {
			t.Errorf("%s = %v, want %v", p, got, want)
		}
	}
	for _, bad := range []func(*CapabilityInput){
		func(c *CapabilityInput) { c.Resources[0].Type = "Nonsense" },
		func(c *CapabilityInput) { c.Resources[0].Interactions = []string{"explode"} },
		func(c *CapabilityInput) { c.Resources[0].SearchParams[0].Type = "fuzzy" },
		func(c *CapabilityInput) { c.BaseURL = "" },
		func(c *CapabilityInput) { c.Operations[0].Definition = "" },
	} {
		c := in
		c.Resources = append([]CapabilityResource(nil), in.Resources...)
		c.Resources[0].SearchParams = append([]CapabilitySearchParam(nil), in.Resources[0].SearchParams...)
		c.Operations = append([]CapabilityOperation(nil), in.Operations...)
		bad(&c)
		if _, err := Capabilities(c); mig.ErrorCode(err) != mig.EINVALID {
			t.Errorf("bad input accepted: %v", err)
		}
	}
}

func TestConsentResource(t *testing.T) {
	ids := mustIDs(t, 7)
	base := consent.ViewConsent{ID: "vc-1", NHSNumber: "9990001006", UserID: "123456789012", OrgODS: "RX999",
		Recorded: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), Start: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC),
		End: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	tests := []struct {
		name                  string
		given, emergency      bool
		reason                string
		wantType, wantPurpose string
		wantReason            any
		wantErr               string
	}{
		{"given", true, false, "", "permit", "TREAT", nil, ""},
		{"refused", false, false, "", "deny", "TREAT", nil, ""},
		{"emergency", false, true, consent.EmergencyUnconscious, "permit", "ETREAT", consent.EmergencyUnconscious, ""},
		{"bad reason", false, true, "FREETEXT-because", "", "", nil, mig.EINVALID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := base
			v.Given, v.Emergency, v.EmergencyReason = tc.given, tc.emergency, tc.reason
			cr, err := ConsentResource(&v, ids)
			if tc.wantErr != "" {
				if mig.ErrorCode(err) != tc.wantErr || strings.Contains(err.Error(), "FREETEXT") {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := MarshalResource(cr)
			if err != nil {
				t.Fatal(err)
			}
			validate(t, "Consent", b)
			golden(t, "consent-"+tc.name, b)
			var j map[string]any
			_ = json.Unmarshal(b, &j)
			checks := []struct {
				path string
				want any
			}{
				{"id", ids.Resource("9990001006", "Consent", "vc-1")},
				{"status", "active"}, {"scope.coding.0.code", "patient-privacy"}, {"category.0.coding.0.code", "59284-0"},
				{"patient.reference", "Patient/" + ids.Patient("9990001006")},
				{"provision.type", tc.wantType}, {"provision.purpose.0.code", tc.wantPurpose},
				{"provision.actor.0.role.coding.0.code", "PRCP"}, {"provision.actor.0.reference.identifier.value", "123456789012"},
				{"provision.actor.1.reference.identifier.system", SystemODS},
				{"provision.period.end", "2026-11-21T10:00:00Z"}, {"provision.code.0.coding.0.code", tc.wantReason},
			}
			for _, c := range checks {
				if got := get(j, strings.Split(c.path, ".")...); got != c.want {
					t.Errorf("%s = %v, want %v", c.path, got, c.want)
				}
			}
		})
	}
	bad := base
	bad.NHSNumber = "123"
	if _, err := ConsentResource(&bad, ids); mig.ErrorCode(err) != mig.EINVALID {
		t.Errorf("bad NHS number: %v", err)
	}
}

func TestParseConsent(t *testing.T) {
	ids := mustIDs(t, 7)
	pid := ids.Patient("9990001006")
	body := func(patient, provision string) []byte {
		return []byte(`{"resourceType":"Consent","status":"active",
			"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">FREETEXT-narrative</div>"},
			"scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}],"text":"FREETEXT-scope"},
			"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],
			"policyRule":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMPLIED"}]},
			"patient":` + patient + `,"provision":` + provision + `}`)
	}
	ref := `{"reference":"Patient/` + pid + `"}`
	nhs := `{"identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9990001006"}}`
	etreat := `{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"ETREAT"}`
	reason := func(code string) string {
		return `[{"coding":[{"system":"` + consent.EmergencyReasonCodeSystem + `","code":"` + code + `"}]}]`
	}
	tests := []struct {
		name     string
		body     []byte
		want     *ConsentRequest
		wantErr  string
		wantText string // in the error message
	}{
		{"permit by reference", body(ref, `{"type":"permit","period":{"start":"2026-11-20T10:00:00Z","end":"2026-11-21T10:00:00Z"}}`),
			&ConsentRequest{PatientID: pid, Permit: true, Start: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}, "", ""},
		{"deny by NHS number", body(nhs, `{"type":"deny"}`), &ConsentRequest{NHSNumber: "9990001006"}, "", ""},
		{"emergency", body(ref, `{"type":"permit","purpose":[`+etreat+`],"code":`+reason(consent.EmergencySafeguarding)+`}`),
			&ConsentRequest{PatientID: pid, Permit: true, Emergency: true, EmergencyReason: consent.EmergencySafeguarding}, "", ""},
		{"emergency bad reason", body(ref, `{"type":"permit","purpose":[`+etreat+`],"code":`+reason("FREETEXT-reason")+`}`), nil, mig.EINVALID, "provision.code[0].coding[0].code"},
		{"emergency no reason", body(ref, `{"type":"permit","purpose":[`+etreat+`]}`), nil, mig.EINVALID, "provision.code"},
		{"emergency deny", body(ref, `{"type":"deny","purpose":[`+etreat+`],"code":`+reason(consent.EmergencyUnconscious)+`}`), nil, mig.EINVALID, "provision.type"},
		{"reason without ETREAT", body(ref, `{"type":"permit","code":`+reason(consent.EmergencyUnconscious)+`}`), nil, mig.EINVALID, "ETREAT"},
		{"other purpose", body(ref, `{"type":"permit","purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"HMARKT"}]}`), nil, mig.EINVALID, "purpose[0].code"},
		{"no type", body(ref, `{}`), nil, mig.EINVALID, "provision.type"},
		{"bad NHS number", body(`{"identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9990001007"}}`, `{"type":"permit"}`), nil, mig.EINVALID, "NHS number"},
		{"other identifier", body(`{"identifier":{"system":"urn:x","value":"FREETEXT-x"}}`, `{"type":"permit"}`), nil, mig.EINVALID, "identifier.system"},
		{"period reversed", body(ref, `{"type":"permit","period":{"start":"2026-11-21","end":"2026-11-20"}}`), nil, mig.EINVALID, "period"},
		{"not a consent", []byte(`{"resourceType":"Basic","code":{"text":"FREETEXT-x"}}`), nil, mig.EINVALID, "Consent"},
		{"not json", []byte(`FREETEXT-{`), nil, mig.EINVALID, "not a valid"},
		{"unknown element", []byte(`{"resourceType":"Consent","FREETEXT-key":1}`), nil, mig.EINVALID, ""},
		{"status draft", []byte(strings.Replace(string(body(ref, `{"type":"permit"}`)), `"status":"active"`, `"status":"draft"`, 1)), nil, mig.EINVALID, "status"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseConsent(tc.body)
			if tc.wantErr != "" {
				if mig.ErrorCode(err) != tc.wantErr {
					t.Fatalf("err = %v, want %s", err, tc.wantErr)
				}
				msg := mig.ErrorMessage(err)
				if strings.Contains(msg, "FREETEXT") || strings.Contains(msg, "9990001007") || !strings.Contains(msg, tc.wantText) {
					t.Errorf("message %q (want it to name %q and quote nothing)", msg, tc.wantText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *got != *tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if n, err := got.Patient(ids); err != nil || n != "9990001006" {
				t.Errorf("Patient() = %s, %v", n, err)
			}
		})
	}
}

func TestContractResource(t *testing.T) {
	a := &consent.Agreement{ID: "isa-leeds-1", Title: "Leeds urgent care ISA", Providers: []string{"A99901", "A99902"},
		Recipients: []string{"RX999", "NX999"}, Views: []record.View{record.ViewSummary, record.ViewMedication},
		EmergencyAccess: []string{"RX999"}, ValidFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Version: 3,
		ChangedBy: "FREETEXT-admin", ChangedAt: time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)}
	for _, st := range []struct{ in, want string }{{consent.AgreementActive, "executed"}, {consent.AgreementDraft, "negotiable"},
		{consent.AgreementSuspended, "revoked"}, {consent.AgreementEnded, "terminated"}} {
		a.Status = st.in
		cr, err := ContractResource(a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := MarshalResource(cr)
		if err != nil {
			t.Fatal(err)
		}
		validate(t, "Contract", b)
		if strings.Contains(string(b), "FREETEXT") {
			t.Error("contract holds who changed it")
		}
		var j map[string]any
		_ = json.Unmarshal(b, &j)
		if get(j, "status") != st.want || get(j, "term", "2", "type", "coding", "0", "code") != "emergency-access" ||
			get(j, "term", "1", "type", "coding", "0", "code") != "medication" || get(j, "authority", "3", "identifier", "value") != "NX999" {
			t.Errorf("contract fields wrong: %s", b)
		}
		if st.in == consent.AgreementActive {
			golden(t, "contract", b)
		}
	}
	for _, bad := range []consent.Agreement{{ID: "bad id", Status: "active", Providers: a.Providers, Recipients: a.Recipients},
		{ID: "x", Status: "weird", Providers: a.Providers, Recipients: a.Recipients}, {ID: "x", Status: "active"}} {
		if _, err := ContractResource(&bad); mig.ErrorCode(err) != mig.EINVALID {
			t.Errorf("%+v accepted: %v", bad, err)
		}
	}
}

// TestMarshalConcurrent maps and marshals separate records from several
// goroutines (run with -race): each proto is marshalled once, by its owner.
func TestMarshalConcurrent(t *testing.T) {
	m := testMapper(t)
	want := string(collectionOf(t, m))
	done := make(chan string, 4)
	for i := 0; i < 4; i++ {
		go func() { done <- string(collectionOf(t, m)) }()
	}
	for i := 0; i < 4; i++ {
		if got := <-done; got != want {
			t.Error("concurrent mapping gave different output")
		}
	}
}

func collectionOf(t *testing.T, m *Mapper) []byte {
	res, err := m.Map(tagged(fixture()), nil)
	if err != nil {
		t.Error(err)
		return nil
	}
	var entries []BundleEntry
	for _, r := range append([]Resource{res.Patient}, res.Resources...) {
		b, err := MarshalResource(r.Proto)
		if err != nil {
			t.Error(err)
			return nil
		}
		entries = append(entries, BundleEntry{FullURL: m.FullURL(r.Type, r.ID), Resource: b})
	}
	return Collection(nil, entries)
}
