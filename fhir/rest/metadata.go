package rest

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"mig/audit"
	"mig/fhir"
	"mig/fhir/ips"
)

// metadata serves the CapabilityStatement: exactly what this server
// supports. It is public, as FHIR servers' capability statements are.
func (s *Server) metadata(c echo.Context) error {
	body, err := fhir.Capabilities(s.capabilities())
	if err != nil {
		return s.writeError(c, err)
	}
	return c.Blob(http.StatusOK, contentType, body)
}

// countParam is the page size every search takes.
var countParam = fhir.CapabilitySearchParam{Name: "_count", Type: "number", Doc: "page size: 1-500, default 50; the next and previous links carry the _page cursor"}

// summaryParam and elementsParam shape a search's answer (not AuditEvent's).
var (
	summaryParam  = fhir.CapabilitySearchParam{Name: "_summary", Type: "token", Doc: "count only: a searchset with the total and no matches (warnings of withheld items are still said)"}
	elementsParam = fhir.CapabilitySearchParam{Name: "_elements", Type: "string", Doc: "top-level element names, comma separated (a choice element without its type: onset); mandatory and modifier elements and meta.security are always kept, and the subset is tagged SUBSETTED"}
)

// sdsUserSystem names users in AuditEvents (audit.SystemSDSUser).
const sdsUserSystem = audit.SystemSDSUser

func (s *Server) capabilities() fhir.CapabilityInput {
	in := fhir.CapabilityInput{
		SoftwareName:    "MIG - Medical Interoperability Gateway",
		SoftwareVersion: s.Version,
		Description:     "Read-only, coded-only view of patients' GP records, read live from the GP system, for organisations in an Information Sharing Agreement.",
		BaseURL:         s.Base,
		TokenURL:        s.TokenURL,
		AuthorizeURL:    s.AuthorizeURL,
	}
	patientParam := fhir.CapabilitySearchParam{Name: "patient", Type: "reference", Doc: "Patient/<id> (required)"}
	for _, typ := range typeNames() {
		res := fhir.CapabilityResource{Type: typ, Interactions: []string{"read", "search-type"}, SupportedProfiles: ips.SupportedProfiles[typ]}
		if typ == "Patient" {
			res.SearchParams = []fhir.CapabilitySearchParam{
				{Name: "identifier", Type: "token", Doc: nhsSystem + "|<NHS number> (required; POST /fhir/Patient/_search keeps it out of URLs)"},
				{Name: "birthdate", Type: "date", Doc: dateDoc + ": relates to the registered birth date as the prefix says"},
			}
			res.Operations = []fhir.CapabilityOperation{
				{Name: "everything", Definition: s.Base + "/OperationDefinition/mig-everything"},
				{Name: "mig-view", Definition: s.Base + "/OperationDefinition/mig-view"},
				{Name: "mig-access-report", Definition: s.Base + "/OperationDefinition/mig-access-report"},
				{Name: "summary", Definition: s.Base + "/OperationDefinition/mig-summary"},
			}
		} else {
			res.SearchParams = append(res.SearchParams, patientParam)
			for _, p := range clinicalTypes[typ] {
				res.SearchParams = append(res.SearchParams, fhir.CapabilitySearchParam{Name: p.Name, Type: p.Type, Doc: p.Doc})
			}
		}
		res.SearchParams = append(res.SearchParams, countParam, summaryParam, elementsParam)
		in.Resources = append(in.Resources, res)
	}
	in.Resources = append(in.Resources,
		fhir.CapabilityResource{Type: "Consent", Interactions: []string{"read", "search-type", "create"},
			SearchParams: []fhir.CapabilitySearchParam{
				{Name: "patient", Type: "reference", Doc: "Patient/<id>: the requester's own consents for the patient; or, with the :identifier modifier, " + nhsSystem + "|<NHS number>"},
				countParam, summaryParam, elementsParam,
			}},
		fhir.CapabilityResource{Type: "Contract", Interactions: []string{"read", "search-type"},
			SearchParams: []fhir.CapabilitySearchParam{countParam, summaryParam, elementsParam}},
		fhir.CapabilityResource{Type: "AuditEvent", Interactions: []string{"read", "search-type"},
			SearchParams: []fhir.CapabilitySearchParam{
				{Name: "patient", Type: "reference", Doc: "Patient/<id>; or, with the :identifier modifier, " + nhsSystem + "|<NHS number>"},
				{Name: "agent", Type: "reference", Doc: "the user: Practitioner/<SDS user id> or the bare SDS user id (events name users by identifier; no Practitioner resource is served); or, with the :identifier modifier, " + sdsUserSystem + "|<SDS user id>"},
				{Name: "date", Type: "date", Doc: "[eq|gt|lt|ge|le|sa|eb]YYYY[-MM[-DD[Thh:mm[:ss[.fff]](Z|+hh:mm|-hh:mm)]]]: when the event was recorded; repeat to bound both sides (ne is refused)"},
				{Name: "outcome", Type: "token", Doc: "0 | 4 | 8 | 12"},
				{Name: "subtype", Type: "token", Doc: "read | search-type | operation | create | 110127 ..."},
				countParam,
			},
			Operations: []fhir.CapabilityOperation{{Name: "export", Definition: "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"}}},
	)
	return in
}

// smartConfiguration serves the SMART App Launch discovery document, so
// clients (the browser viewer, migctl) find the identity provider.
func (s *Server) smartConfiguration(c echo.Context) error {
	doc := map[string]any{
		"issuer":                           s.Issuer,
		"token_endpoint":                   s.TokenURL,
		"authorization_endpoint":           s.AuthorizeURL,
		"grant_types_supported":            []string{"authorization_code"},
		"code_challenge_methods_supported": []string{"S256"},
		"capabilities":                     []string{"launch-standalone", "client-public", "context-standalone-patient"},
	}
	if s.Launch != nil {
		// EHR launch: the viewer takes iss and launch; the clinical system
		// creates the launch here, and the viewer redeems it as the user.
		// The patient context comes from the redeem endpoint, not from the
		// token response (the identity provider knows nothing of launches),
		// so context-ehr-patient is not claimed.
		doc["capabilities"] = append(doc["capabilities"].([]string), "launch-ehr")
		base := strings.TrimSuffix(s.Base, "/fhir")
		doc["mig_launch_endpoint"] = base + "/smart/launch"
		doc["mig_launch_redeem_endpoint"] = base + "/smart/launch/redeem"
		doc["mig_launch_endpoint_auth_methods_supported"] = []string{"private_key_jwt"}
	}
	if s.TokenURL == "" {
		delete(doc, "token_endpoint")
		delete(doc, "authorization_endpoint")
	}
	return c.JSON(http.StatusOK, doc)
}
