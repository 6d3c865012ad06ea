package source

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"mig"
	"mig/adapters/record"
)

// PDS reads demographics from the Personal Demographics Service FHIR API
// (UK Core Patient): GET {base}/Patient/{nhs}. Authentication is the
// client's business (an http.Client whose transport adds the token).
type PDS struct {
	base   string
	client *http.Client
}

var _ DemographicsSource = (*PDS)(nil)

// pdsMaxBytes caps a PDS answer: one Patient resource.
const pdsMaxBytes = 1 << 20

// NewPDS returns a PDS client for base (e.g.
// https://int.api.service.nhs.uk/personal-demographics/FHIR/R4); a nil
// client uses one with a 10 s timeout.
func NewPDS(base string, client *http.Client) *PDS {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &PDS{base: strings.TrimRight(base, "/"), client: client}
}

// FHIR systems read from a PDS Patient.
const (
	systemNHSNumber       = "https://fhir.nhs.uk/Id/nhs-number"
	systemODS             = "https://fhir.nhs.uk/Id/ods-organization-code"
	systemConfidentiality = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
)

// pdsPatient is the part of a UK Core Patient the gateway reads.
type pdsPatient struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Meta         struct {
		Security []struct {
			System string `json:"system"`
			Code   string `json:"code"`
		} `json:"security"`
	} `json:"meta"`
	Identifier []struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"identifier"`
	Name []struct {
		Use    string   `json:"use"`
		Prefix []string `json:"prefix"`
		Given  []string `json:"given"`
		Family string   `json:"family"`
		Period *period  `json:"period"`
	} `json:"name"`
	Gender           string `json:"gender"`
	BirthDate        string `json:"birthDate"`
	DeceasedDateTime string `json:"deceasedDateTime"`
	DeceasedBoolean  *bool  `json:"deceasedBoolean"`
	Address          []struct {
		Use        string   `json:"use"`
		Line       []string `json:"line"`
		City       string   `json:"city"`
		District   string   `json:"district"`
		PostalCode string   `json:"postalCode"`
		Period     *period  `json:"period"`
	} `json:"address"`
	GeneralPractitioner []struct {
		Identifier struct {
			System string `json:"system"`
			Value  string `json:"value"`
		} `json:"identifier"`
	} `json:"generalPractitioner"`
}

type period struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// current reports whether a period (nil: always) includes now.
func (p *period) current(now time.Time) bool {
	if p == nil || p.End == "" {
		return true
	}
	end, err := ParseDate(p.End)
	if err != nil {
		return true
	}
	return !end.T.Before(now.Truncate(24 * time.Hour))
}

func pdsError(format string, args ...any) *mig.Error {
	return &mig.Error{Code: mig.EUNAVAILABLE, Issue: mig.IssueGPSystemUnavailable,
		Message: "PDS " + fmt.Sprintf(format, args...)}
}

// Demographics reads the patient from PDS. 404 (and 410, an invalidated
// number) give ENOTFOUND; a restricted (R) or redacted record sets
// Sensitive and leaves the address out.
func (p *PDS) Demographics(ctx context.Context, nhs string) (*record.Patient, error) {
	if err := checkNHS(nhs); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/Patient/"+nhs, nil)
	if err != nil {
		return nil, &mig.Error{Code: mig.EINTERNAL, Message: "PDS: cannot build request", Err: err}
	}
	req.Header.Set("Accept", "application/fhir+json")
	req.Header.Set("X-Request-ID", newUUID())
	resp, err := p.client.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, &mig.Error{Code: mig.ETIMEOUT, Issue: mig.IssueGPSystemUnavailable, Message: "PDS did not answer in time", Err: err}
		}
		e := pdsError("unreachable")
		e.Err = err
		return nil, e
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, &mig.Error{Code: mig.ENOTFOUND, Issue: mig.IssuePatientNotFound, Message: "PDS holds no patient with the NHS number requested"}
	case resp.StatusCode != http.StatusOK:
		return nil, pdsError("answered status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, pdsMaxBytes+1))
	if err != nil {
		e := pdsError("broke off the response")
		e.Err = err
		return nil, e
	}
	if len(b) > pdsMaxBytes {
		return nil, &mig.Error{Code: mig.ETOOLARGE, Issue: mig.IssueGPSystemUnavailable, Message: "PDS response over the size limit"}
	}
	return PatientFromPDS(b, nhs, time.Now())
}

// PatientFromPDS maps a UK Core Patient (PDS FHIR JSON) to record.Patient:
// the official name (else usual, else the first current one), birthDate,
// gender, the current home address, generalPractitioner's ODS code,
// deceasedDateTime, and meta.security R (restricted) or REDACTED as
// Sensitive. The Patient must carry nhs as its id or NHS number identifier.
func PatientFromPDS(b []byte, nhs string, now time.Time) (*record.Patient, error) {
	var r pdsPatient
	if err := json.Unmarshal(b, &r); err != nil || r.ResourceType != "Patient" {
		e := pdsError("sent something other than a Patient resource")
		e.Err = err
		return nil, e
	}
	same := r.ID == nhs
	for _, id := range r.Identifier {
		if id.System == systemNHSNumber {
			same = id.Value == nhs
		}
	}
	if !same {
		return nil, &mig.Error{Code: mig.ECONFLICT, Issue: mig.IssueIdentityMismatch,
			Message: "PDS answered with a patient other than the one requested"}
	}
	out := &record.Patient{NHSNumber: nhs}
	for _, s := range r.Meta.Security {
		if (s.System == "" || s.System == systemConfidentiality) && (s.Code == "R" || s.Code == "REDACTED") {
			out.Sensitive = true
		}
	}
	// Name: official first, then usual, then any current name.
	best := -1
	rank := func(use string) int {
		switch use {
		case "official":
			return 3
		case "usual":
			return 2
		case "old", "maiden", "nickname", "anonymous", "temp":
			return 0
		}
		return 1
	}
	for i, n := range r.Name {
		if !n.Period.current(now) || rank(n.Use) == 0 {
			continue
		}
		if best < 0 || rank(n.Use) > rank(r.Name[best].Use) {
			best = i
		}
	}
	if best >= 0 {
		n := r.Name[best]
		out.Name = record.NewHumanName(strings.Join(n.Prefix, " "), n.Given, n.Family)
	}
	var err error
	if out.Sex, err = ParseSex(r.Gender); err != nil {
		return nil, pdsError("sent a bad gender code")
	}
	if out.BirthDate, err = ParseDate(r.BirthDate); err != nil {
		return nil, pdsError("sent a bad birthDate")
	}
	if out.DeceasedDate, err = ParseDate(r.DeceasedDateTime); err != nil {
		return nil, pdsError("sent a bad deceasedDateTime")
	}
	out.Deceased = !out.DeceasedDate.IsZero() || (r.DeceasedBoolean != nil && *r.DeceasedBoolean)
	if !out.Sensitive {
		for _, a := range r.Address {
			if (a.Use == "home" || a.Use == "") && a.Period.current(now) {
				out.Address = record.NewAddress(a.Line, a.City, a.District, a.PostalCode)
				break
			}
		}
	}
	for _, gp := range r.GeneralPractitioner {
		if gp.Identifier.System == systemODS && gp.Identifier.Value != "" {
			out.PracticeODS = gp.Identifier.Value
			break
		}
	}
	return out, nil
}

// newUUID returns a random (version 4) UUID for X-Request-ID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
