package rest

import (
	"encoding/json"
	"net/url"
	"strings"

	"mig"
)

// shaping is what _summary and _elements ask of a search's answer.
type shaping struct {
	countOnly bool            // _summary=count: the total, no matches
	elements  map[string]bool // _elements: the top-level elements asked for; nil for all
}

// shapeParams are the parameters parseShaping reads.
var shapeParams = map[string]bool{"_summary": true, "_elements": true}

// parseShaping reads _summary (count only) and _elements (a comma-separated
// list of top-level element names). Anything else is refused, so the
// answer is what was asked.
func parseShaping(p url.Values) (shaping, error) {
	var sh shaping
	if vs, ok := p["_summary"]; ok {
		if err := onlyOnce("_summary", vs); err != nil {
			return sh, err
		}
		if vs[0] != "count" {
			return sh, invalidParam("_summary takes count only (a searchset with the total and no matches)")
		}
		sh.countOnly = true
	}
	if vs, ok := p["_elements"]; ok {
		if err := onlyOnce("_elements", vs); err != nil {
			return sh, err
		}
		if sh.countOnly {
			return sh, invalidParam("_elements and _summary=count cannot be combined")
		}
		sh.elements = map[string]bool{}
		for _, n := range strings.Split(vs[0], ",") {
			if !elementName(n) {
				return sh, invalidParam("_elements takes top-level element names separated by commas, such as code,onsetDateTime")
			}
			sh.elements[n] = true
		}
	}
	return sh, nil
}

func elementName(n string) bool {
	if n == "" || len(n) > 64 || n[0] < 'a' || n[0] > 'z' {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// alwaysKept are the elements _elements never drops from a resource of a
// type: its mandatory (min 1) and modifier elements in R4, so a subset
// still says whether a problem is active, refuted or entered in error.
// Every resource also keeps resourceType, id, meta (with meta.security),
// implicitRules and modifierExtension.
var alwaysKept = map[string][]string{
	"Patient":             {"active", "link"},
	"Condition":           {"clinicalStatus", "verificationStatus", "subject"},
	"AllergyIntolerance":  {"clinicalStatus", "verificationStatus", "patient"},
	"MedicationStatement": {"status", "medication", "subject"},
	"MedicationRequest":   {"status", "intent", "doNotPerform", "medication", "subject"},
	"Observation":         {"status", "code"},
	"Procedure":           {"status", "subject"},
	"Immunization":        {"status", "vaccineCode", "patient", "occurrence"},
	"Flag":                {"status", "code", "subject"},
	"Encounter":           {"status", "class"},
	"ServiceRequest":      {"status", "intent", "doNotPerform", "subject"},
	"Consent":             {"status", "scope", "category"},
	"Contract":            {"status"},
}

var keptByAll = []string{"resourceType", "id", "meta", "implicitRules", "modifierExtension"}

// subsetted is the meta.tag a subset carries (FHIR R4 search, _elements).
var subsetted = map[string]string{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED", "display": "subsetted"}

// subset keeps the elements asked for and those always kept, and tags the
// resource SUBSETTED. A choice element [x] is named without its type
// (onset keeps onsetDateTime); a primitive's extension (_status) goes
// with it.
func subset(body []byte, asked map[string]bool) ([]byte, error) {
	var res map[string]json.RawMessage
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, &mig.Error{Code: mig.EINTERNAL, Message: "a resource could not be subsetted", Err: err}
	}
	var typ string
	json.Unmarshal(res["resourceType"], &typ)
	keep := map[string]bool{}
	for n := range asked {
		keep[n] = true
	}
	for _, n := range keptByAll {
		keep[n] = true
	}
	for _, n := range alwaysKept[typ] {
		keep[n] = true
	}
	out := map[string]json.RawMessage{}
	for k, v := range res {
		if keep[elementOf(k, keep)] {
			out[k] = v
		}
	}
	var meta map[string]json.RawMessage
	if m, ok := out["meta"]; ok {
		if err := json.Unmarshal(m, &meta); err != nil {
			return nil, &mig.Error{Code: mig.EINTERNAL, Message: "a resource could not be subsetted", Err: err}
		}
	} else {
		meta = map[string]json.RawMessage{}
	}
	var tags []json.RawMessage
	if t, ok := meta["tag"]; ok {
		json.Unmarshal(t, &tags)
	}
	tag, _ := json.Marshal(subsetted)
	meta["tag"], _ = json.Marshal(append(tags, tag))
	out["meta"], _ = json.Marshal(meta)
	return json.Marshal(out)
}

// elementOf names the element a JSON key belongs to: _status is status's
// extension, onsetDateTime is onset[x] when onset is kept.
func elementOf(k string, keep map[string]bool) string {
	k = strings.TrimPrefix(k, "_")
	if keep[k] {
		return k
	}
	for i := 1; i < len(k); i++ {
		if k[i] >= 'A' && k[i] <= 'Z' && keep[k[:i]] && choiceElements[k[:i]] {
			return k[:i]
		}
	}
	return k
}

// choiceElements are the R4 choice elements [x] of the served types.
var choiceElements = map[string]bool{"onset": true, "abatement": true, "medication": true, "effective": true,
	"value": true, "occurrence": true, "performed": true, "deceased": true, "multipleBirth": true,
	"reported": true, "asNeeded": true}
