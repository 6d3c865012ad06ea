package source_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"mig"
	"mig/adapters/record"
	"mig/adapters/source"
)

func TestPDSDemographics(t *testing.T) {
	body, err := os.ReadFile("testdata/pds-patient.json")
	if err != nil {
		t.Fatal(err)
	}
	var reqID string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqID = r.Header.Get("X-Request-ID")
		switch r.URL.Path {
		case "/FHIR/R4/Patient/" + nhsA:
			w.Header().Set("Content-Type", "application/fhir+json")
			w.Write(body)
		case "/FHIR/R4/Patient/" + nhsB: // answers with someone else
			w.Write(body)
		case "/FHIR/R4/Patient/9990002002":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	var ds source.DemographicsSource = source.NewPDS(srv.URL+"/FHIR/R4/", nil)
	ctx := context.Background()

	p, err := ds.Demographics(ctx, nhsA)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqID) != 36 {
		t.Errorf("X-Request-ID %q", reqID)
	}
	if p.NHSNumber != nhsA || p.Name.Family() != "Example" || p.Name.Prefix() != "Mrs" || !slices.Equal(p.Name.Given(), []string{"Ann", "Mary"}) {
		t.Errorf("name %+v", p.Name)
	}
	if p.Sex != record.SexFemale || p.BirthDate.P != record.PrecisionDay || !p.BirthDate.T.Equal(time.Date(1950, 3, 14, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("sex/birth %+v", p)
	}
	if !p.Deceased || p.DeceasedDate.P != record.PrecisionSecond || !p.DeceasedDate.T.Equal(time.Date(2026, 11, 20, 9, 15, 0, 0, time.UTC)) {
		t.Errorf("deceased %+v", p.DeceasedDate)
	}
	if !slices.Equal(p.Address.Lines(), []string{"1 Test Street", "Leeds", "West Yorkshire"}) || p.Address.PostalCode() != "LS1 1AA" {
		t.Errorf("address %+v", p.Address)
	}
	if p.PracticeODS != "A99901" || p.Sensitive {
		t.Errorf("gp %q sensitive %v", p.PracticeODS, p.Sensitive)
	}

	_, err = ds.Demographics(ctx, nhsC)
	wantErr(t, err, mig.ENOTFOUND, mig.IssuePatientNotFound, "", nhsC)
	_, err = ds.Demographics(ctx, nhsB)
	wantErr(t, err, mig.ECONFLICT, mig.IssueIdentityMismatch, "", nhsB, nhsA)
	_, err = ds.Demographics(ctx, "9990002002")
	wantErr(t, err, mig.EUNAVAILABLE, "", "PDS", "9990002002")
	_, err = ds.Demographics(ctx, "123")
	wantErr(t, err, mig.EINVALID, mig.IssueInvalidNHSNumber, "")
}

func TestPatientFromPDSSensitive(t *testing.T) {
	body, err := os.ReadFile("testdata/pds-patient.json")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, code := range []string{"R", "REDACTED"} {
		b := strings.Replace(string(body), `"code": "U", "display": "unrestricted"`, `"code": "`+code+`"`, 1)
		p, err := source.PatientFromPDS([]byte(b), nhsA, now)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Sensitive || !p.Address.IsZero() {
			t.Errorf("%s: sensitive %v address %+v", code, p.Sensitive, p.Address)
		}
	}
	// Without an official name the usual one is used; ended names never.
	b := strings.Replace(string(body), `"use": "official"`, `"use": "old"`, 1)
	p, err := source.PatientFromPDS([]byte(b), nhsA, now)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name.Family() != "Usual" {
		t.Errorf("name %+v", p.Name)
	}
	for name, bad := range map[string]string{
		"not a patient": `{"resourceType":"Bundle"}`,
		"not json":      `{`,
		"bad gender":    `{"resourceType":"Patient","id":"9990001006","gender":"robot"}`,
		"bad birth":     `{"resourceType":"Patient","id":"9990001006","birthDate":"14/03/1950"}`,
	} {
		_, err := source.PatientFromPDS([]byte(bad), nhsA, now)
		if mig.ErrorCode(err) != mig.EUNAVAILABLE || strings.Contains(err.Error(), "robot") || strings.Contains(err.Error(), "1950") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
