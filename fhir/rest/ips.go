package rest

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"mig"
	"mig/adapters/record"
	"mig/consent"
	"mig/fhir"
	"mig/fhir/ips"
)

// gatewayName is the gateway as the author of the documents it writes.
const gatewayName = "MIG - Medical Interoperability Gateway"

// summary serves GET /fhir/Patient/{id}/$summary: the patient's
// International Patient Summary (IPS 2.0), a document Bundle built by
// fhir/ips from the record as this request may see it. It runs the
// $everything path: the same access rules (a request for the whole record,
// so any agreement covering some view admits it, and each entry is kept
// only if the agreement covers one of its views), the same audit (the
// AuditEvent's query names $summary), committed before the document leaves.
func (s *Server) summary(c echo.Context) error {
	id := c.Param("id")
	r := s.newRequest(c, consent.OpEverything, "Patient")
	if nhs, err := s.patientNHS(id); err == nil {
		r.NHSNumber = nhs
	}
	if _, err := s.start(c, r); err != nil {
		return done(err)
	}
	if err := summaryParams(c.QueryParams()); err != nil {
		return s.refuse(c, r, "request", err)
	}
	nhs, err := s.patientNHS(id)
	if err != nil {
		return s.refuse(c, r, "request", err)
	}
	res, err := s.patientData(c, r, nhs)
	if err != nil {
		return done(err)
	}
	// What the access rules withheld, asked of the chain again entry by
	// entry (the same decisions the mapping made), so that each section
	// says what it cannot list.
	ctx := c.Request().Context()
	var withheld []*record.Entry
	for i := range res.rec.Entries {
		e := &res.rec.Entries[i]
		if e.Kind != record.KindNone && e.NotShown.Shown() && !s.Chain.WillSee(ctx, r, e) {
			withheld = append(withheld, e)
		}
	}
	doc, err := ips.Build(ips.Input{
		Base:           s.Base,
		Patient:        res.Patient,
		Resources:      res.Resources,
		Covered:        r.AgreedViews(),
		Withheld:       withheld,
		Confidential:   res.rec.Withheld,
		RecordWithheld: res.Withheld || r.Withheld,
		Unclassified:   res.Unclassified,
		Time:           s.now(),
		Author:         ips.Author{Name: gatewayName, Version: s.Version},
	})
	if err != nil {
		return s.refuse(c, r, "mapping", &mig.Error{Code: mig.EINTERNAL, Message: "the patient summary could not be built", Err: err})
	}
	if r.Emergency {
		for _, e := range doc.Bundle.GetBundle().GetEntry() {
			markEmergency(e.GetResource())
		}
	}
	body, err := fhir.MarshalResource(doc.Bundle)
	if err != nil {
		return s.refuse(c, r, "mapping", &mig.Error{Code: mig.EINTERNAL, Message: "the patient summary could not be encoded", Err: err})
	}
	r.Released = doc.Released
	return s.release(c, r, http.StatusOK, contentType, body)
}

// summaryParams checks $summary's parameters: profile, if given, is the
// IPS Bundle profile (the one this server writes); _format is the
// negotiation's. Anything else, the IPS identifier and graph among them,
// is refused rather than ignored.
func summaryParams(p url.Values) error {
	for name, vals := range p {
		switch name {
		case "_format":
			continue
		case "profile":
			if err := onlyOnce(name, vals); err != nil {
				return err
			}
			if vals[0] != ips.ProfileBundle {
				return invalidParam("profile: this server writes only %s", ips.ProfileBundle)
			}
		default:
			return invalidParam("parameter %q is not supported on $summary; see GET /fhir/OperationDefinition/mig-summary", safeParam(name))
		}
	}
	return nil
}
