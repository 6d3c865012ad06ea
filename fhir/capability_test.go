package fhir

import (
	"testing"

	"mig"
)

// A modifier is not a search parameter: declaring patient:identifier as one
// is refused, so the CapabilityStatement names parameters only.
func TestCapabilitiesModifierNotParameter(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{{"patient", true}, {"_count", true}, {"patient:identifier", false}, {"agent:identifier", false}} {
		in := CapabilityInput{SoftwareName: "x", BaseURL: "http://x/fhir", Resources: []CapabilityResource{{Type: "AuditEvent",
			Interactions: []string{"search-type"}, SearchParams: []CapabilitySearchParam{{Name: tc.name, Type: "reference"}}}}}
		_, err := Capabilities(in)
		if (err == nil) != tc.ok || (err != nil && mig.ErrorCode(err) != mig.EINVALID) {
			t.Errorf("%s: err %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
