package rest

import (
	"encoding/json"

	"mig"
)

// ExtStatedBirthDate, on a Consent being recorded, carries the patient's
// date of birth as the clinician was given it (valueDate, YYYY-MM-DD).
// When present, the gateway records the consent only if it matches the
// registered date of birth of the NHS number named, so that a mistyped NHS
// number never gets a consent record. The Shared Record Viewer always sends
// it.
const ExtStatedBirthDate = "https://mig.example.nhs.uk/StructureDefinition/Extension-StatedBirthDate"

// statedBirthDate reads ExtStatedBirthDate from a Consent body already
// accepted by fhir.ParseConsent: "" when absent.
func statedBirthDate(body []byte) (string, error) {
	var cn struct {
		Extension []struct {
			URL       string  `json:"url"`
			ValueDate *string `json:"valueDate"`
		} `json:"extension"`
	}
	if err := json.Unmarshal(body, &cn); err != nil {
		return "", invalidConsent("Consent: body could not be read")
	}
	found := ""
	for _, e := range cn.Extension {
		if e.URL != ExtStatedBirthDate {
			continue
		}
		if found != "" {
			return "", invalidConsent("Consent.extension: the stated birth date may be given once")
		}
		if e.ValueDate == nil || !fullDate(*e.ValueDate) {
			return "", invalidConsent("Consent.extension: the stated birth date must be a valueDate YYYY-MM-DD")
		}
		found = *e.ValueDate
	}
	return found, nil
}

func invalidConsent(msg string) error {
	return &mig.Error{Code: mig.EINVALID, Issue: mig.IssueInvalidResource, Message: msg}
}

// birthDateMismatch is the answer when the stated date of birth is not the
// NHS number's: the one "not found" answer, so that it tells nothing about
// which NHS numbers exist, and nothing is recorded.
func birthDateMismatch() error { return mig.PatientNotFound() }
