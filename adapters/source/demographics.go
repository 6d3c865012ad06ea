package source

import (
	"context"
	"strings"
	"time"

	"mig"
	"mig/adapters/record"
)

// DemographicsSource is where a deployment reads registration details
// (name, birth date, sex, address, flags) from: a practice's Source, or the
// national PDS (PDS in pds.go). The lead picks one per deployment.
type DemographicsSource interface {
	Demographics(ctx context.Context, nhs string) (*record.Patient, error)
}

// PatientJSON is one entry of a practice's registration list, patients.json
// (ARCHITECTURE.md "Test data"), and the body of the HTTP protocol's
// GET {base}/patients/{nhs}.
type PatientJSON struct {
	NHSNumber    string      `json:"nhsNumber"`
	Name         NameJSON    `json:"name"`
	BirthDate    string      `json:"birthDate"`
	Sex          string      `json:"sex"`
	Address      AddressJSON `json:"address"`
	Deceased     bool        `json:"deceased"`
	DeceasedDate string      `json:"deceasedDate"`
	Deducted     bool        `json:"deducted"`
	Sensitive    bool        `json:"sensitive"`
}

// NameJSON is a structured name in patients.json.
type NameJSON struct {
	Prefix string   `json:"prefix"`
	Given  []string `json:"given"`
	Family string   `json:"family"`
}

// AddressJSON is a structured address in patients.json.
type AddressJSON struct {
	Lines      []string `json:"lines"`
	City       string   `json:"city"`
	District   string   `json:"district"`
	PostalCode string   `json:"postalCode"`
}

// Patient converts the entry to the neutral record.Patient; practice is the
// ODS code of the practice the list came from. The error (EINVALID) names
// the field, never its value.
func (p *PatientJSON) Patient(practice string) (*record.Patient, error) {
	out := &record.Patient{
		NHSNumber:   p.NHSNumber,
		Name:        record.NewHumanName(p.Name.Prefix, p.Name.Given, p.Name.Family),
		Address:     record.NewAddress(p.Address.Lines, p.Address.City, p.Address.District, p.Address.PostalCode),
		PracticeODS: practice,
		Deceased:    p.Deceased || p.DeceasedDate != "",
		Deducted:    p.Deducted,
		Sensitive:   p.Sensitive,
	}
	var err error
	if out.Sex, err = ParseSex(p.Sex); err != nil {
		return nil, err
	}
	if out.BirthDate, err = ParseDate(p.BirthDate); err != nil {
		return nil, fieldError("birthDate", err)
	}
	if out.DeceasedDate, err = ParseDate(p.DeceasedDate); err != nil {
		return nil, fieldError("deceasedDate", err)
	}
	return out, nil
}

// ParseSex reads an administrative gender code (FHIR codes; "" is unknown).
func ParseSex(s string) (record.Sex, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "male", "m":
		return record.SexMale, nil
	case "female", "f":
		return record.SexFemale, nil
	case "other", "o":
		return record.SexOther, nil
	case "", "unknown", "u":
		return record.SexUnknown, nil
	}
	return record.SexUnknown, mig.Errorf(mig.EINVALID, "sex: not an administrative gender code")
}

// ParseDate reads a FHIR date or dateTime (YYYY, YYYY-MM, YYYY-MM-DD,
// YYYY-MM-DDThh:mm[:ss][.fff]Z|±hh:mm) keeping its precision. "" is the zero
// Date.
func ParseDate(s string) (record.Date, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return record.Date{}, nil
	}
	layouts := []struct {
		layout string
		p      record.Precision
	}{
		{"2006", record.PrecisionYear},
		{"2006-01", record.PrecisionMonth},
		{"2006-01-02", record.PrecisionDay},
		{"2006-01-02T15:04Z07:00", record.PrecisionMinute},
		{time.RFC3339Nano, record.PrecisionSecond},
	}
	for _, l := range layouts {
		if t, err := time.Parse(l.layout, s); err == nil {
			return record.Date{T: t.UTC(), P: l.p}, nil
		}
	}
	return record.Date{}, mig.Errorf(mig.EINVALID, "not a FHIR date or dateTime")
}

// fieldError names the registration field a date error came from, keeping
// the gateway's error code and content-free message.
func fieldError(field string, err error) error {
	return &mig.Error{Code: mig.ErrorCode(err), Message: field + ": " + mig.ErrorMessage(err), Err: err}
}
