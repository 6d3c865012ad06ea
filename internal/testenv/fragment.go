package testenv

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"regexp"
)

// GP2GP fragments (../shared/reference/gp2gp/fragments) are pieces of
// extracts: the adapter and the mapper tests wrap each in the smallest
// extract that holds it, through these two.

// The smallest GP2GP extract around each kind of fragment. The code a
// bare value is given (Read v2 44...: an investigation) and the drug a bare
// supply act is given are ours.
const (
	wrapOpen   = `<RCMR_IN030000UK06 xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><ControlActEvent><subject>`
	wrapClose  = `</subject></ControlActEvent></RCMR_IN030000UK06>`
	extractOp  = `<EhrExtract classCode="EXTRACT" moodCode="EVN"><id root="FRAGMENT-EXTRACT"/><availabilityTime value="20261120"/>`
	extractCl  = `</EhrExtract>`
	folderOp   = `<component><ehrFolder classCode="FOLDER" moodCode="EVN">`
	folderCl   = `</ehrFolder></component>`
	compOp     = `<component><ehrComposition classCode="COMPOSITION" moodCode="EVN"><id root="FRAGMENT-COMPOSITION"/><availabilityTime value="20261101"/><component>`
	compCl     = `</component></ehrComposition></component>`
	valueOp    = `<ObservationStatement classCode="OBS" moodCode="EVN"><id root="FRAGMENT-VALUE"/><code code="44...00" codeSystem="2.16.840.1.113883.2.1.6.2" displayName="Blood chemistry"/><availabilityTime value="20261101"/>`
	valueCl    = `</ObservationStatement>`
	medOp      = `<MedicationStatement classCode="SBADM" moodCode="INT"><id root="FRAGMENT-MED"/><consumable><manufacturedProduct><manufacturedMaterial><code code="320000009" codeSystem="2.16.840.1.113883.2.1.3.2.4.15" displayName="Simvastatin 40mg tablets"/></manufacturedMaterial></manufacturedProduct></consumable><component>`
	medCl      = `</component></MedicationStatement>`
	directOpen = `<component><ehrFolder classCode="FOLDER" moodCode="EVN"><responsibleParty>`
	directCl   = `</responsibleParty></ehrFolder></component>`
)

// XMLDecl matches an XML declaration (with a byte-order mark) at the start
// of a document, which a wrapped fragment must lose.
var XMLDecl = regexp.MustCompile(`^\s*(\x{FEFF})?\s*<\?xml[^>]*\?>`)

// WrapFragment returns the fragment as a whole extract, or why it is not
// one.
func WrapFragment(root string, body []byte) ([]byte, string) {
	b := XMLDecl.ReplaceAll(body, nil)
	s := string(b)
	switch root {
	case "RCMR_IN030000UK06", "RCMR_IN030000UK07":
		return body, ""
	case "EhrExtract":
		return []byte(wrapOpen + s + wrapClose), ""
	case "ehrComposition":
		return []byte(wrapOpen + extractOp + folderOp + `<component>` + s + `</component>` + folderCl + extractCl + wrapClose), ""
	case "ObservationStatement", "CompoundStatement", "MedicationStatement", "NarrativeStatement",
		"PlanStatement", "RequestStatement", "LinkSet":
		return []byte(wrapOpen + extractOp + folderOp + compOp + s + compCl + folderCl + extractCl + wrapClose), ""
	case "value":
		return []byte(wrapOpen + extractOp + folderOp + compOp + valueOp + s + valueCl + compCl + folderCl + extractCl + wrapClose), ""
	case "ehrSupplyAuthorise", "ehrSupplyPrescribe":
		return []byte(wrapOpen + extractOp + folderOp + compOp + medOp + s + medCl + compCl + folderCl + extractCl + wrapClose), ""
	case "agentDirectory":
		return []byte(wrapOpen + extractOp + directOpen + s + directCl + extractCl + wrapClose), ""
	case "patient":
		return []byte(wrapOpen + extractOp + `<recordTarget>` + s + `</recordTarget>` + extractCl + wrapClose), ""
	case "COPC_IN000001UK01":
		return nil, "COPC common-content message (large-message continuation or fragment index): a message envelope, not an extract"
	case "Envelope":
		return nil, "ebXML (SOAP) envelope: transport, not an extract"
	case "addr", "telecom":
		return nil, "an address or telecom datatype alone: part of an agent or place, holds no statement"
	}
	return nil, "root element " + root + " is not part of an EHR Extract"
}

// FragmentRoot returns a document's root element name (encoding/xml).
func FragmentRoot(body []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if err != nil {
			return "", fmt.Errorf("no root element: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name.Local, nil
		}
	}
}
