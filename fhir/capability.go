package fhir

import (
	"strings"
	"time"
	"unicode"

	"mig"

	c "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	cspb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/capability_statement_go_proto"
	vs "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/valuesets_go_proto"
)

// CapabilityInput is what the server supports, for Capabilities.
type CapabilityInput struct {
	SoftwareName    string
	SoftwareVersion string
	Description     string    // implementation description; default names the software
	BaseURL         string    // implementation.url
	Date            time.Time // statement date; zero: now
	TokenURL        string    // OAuth token endpoint (SMART oauth-uris); "" for none
	AuthorizeURL    string    // OAuth authorize endpoint, if any
	Resources       []CapabilityResource
	// Operations are system-level operations (e.g. $mig-view at the base).
	Operations []CapabilityOperation
}

// CapabilityResource is one resource type the server serves.
type CapabilityResource struct {
	Type    string // FHIR resource type, e.g. "Condition"
	Profile string // canonical of the profile; "" = Profile(Type)
	// SupportedProfiles are further profiles its resources may claim where
	// a use case asks for them (the IPS profiles, in $summary documents).
	SupportedProfiles []string
	Interactions      []string // type interactions: read, search-type, create, ...
	SearchParams      []CapabilitySearchParam
	Operations        []CapabilityOperation
}

// CapabilitySearchParam is one search parameter.
type CapabilitySearchParam struct {
	Name string // e.g. "patient"
	Type string // number, date, string, token, reference, composite, quantity, uri, special
	Doc  string
}

// CapabilityOperation is one operation.
type CapabilityOperation struct {
	Name       string // without the $
	Definition string // canonical of the OperationDefinition
}

const (
	systemRestfulSecurity = "http://terminology.hl7.org/CodeSystem/restful-security-service"
	extOAuthURIs          = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
)

// upperSnake turns a FHIR code or type name into the proto enum name:
// "AllergyIntolerance" -> "ALLERGY_INTOLERANCE", "search-type" -> "SEARCH_TYPE".
func upperSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '-':
			b.WriteByte('_')
		case unicode.IsUpper(r) && i > 0:
			b.WriteByte('_')
			b.WriteRune(r)
		default:
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return b.String()
}

// Capabilities returns the server's R4 CapabilityStatement as JSON. An
// unknown resource type, interaction or search parameter type is EINVALID.
func Capabilities(in CapabilityInput) ([]byte, error) {
	date := in.Date
	if date.IsZero() {
		date = now()
	}
	desc := in.Description
	if desc == "" {
		desc = in.SoftwareName
	}
	if in.SoftwareName == "" || in.BaseURL == "" {
		return nil, mig.Errorf(mig.EINVALID, "capabilities: software name and base URL are required")
	}
	cs := &cspb.CapabilityStatement{
		Status:         &cspb.CapabilityStatement_StatusCode{Value: c.PublicationStatusCode_ACTIVE},
		Date:           &d.DateTime{ValueUs: date.UTC().Truncate(time.Second).UnixMicro(), Timezone: "Z", Precision: d.DateTime_SECOND},
		Kind:           &cspb.CapabilityStatement_KindCode{Value: c.CapabilityStatementKindCode_INSTANCE},
		Software:       &cspb.CapabilityStatement_Software{Name: fstr(in.SoftwareName)},
		Implementation: &cspb.CapabilityStatement_Implementation{Description: fstr(desc), Url: &d.Url{Value: in.BaseURL}},
		FhirVersion:    &cspb.CapabilityStatement_FhirVersionCode{Value: c.FHIRVersionCode_V_4_0_1},
		Format:         []*cspb.CapabilityStatement_FormatCode{{Value: "json"}},
	}
	if in.SoftwareVersion != "" {
		cs.Software.Version = fstr(in.SoftwareVersion)
	}
	rest := &cspb.CapabilityStatement_Rest{Mode: &cspb.CapabilityStatement_Rest_ModeCode{Value: c.RestfulCapabilityModeCode_SERVER}}
	if in.TokenURL != "" {
		sec := &cspb.CapabilityStatement_Rest_Security{
			Service: []*d.CodeableConcept{fixedConcept(systemRestfulSecurity, "SMART-on-FHIR", "SMART-on-FHIR")},
		}
		ext := &d.Extension{Url: furi(extOAuthURIs)}
		ext.Extension = append(ext.Extension, &d.Extension{Url: furi("token"),
			Value: &d.Extension_ValueX{Choice: &d.Extension_ValueX_Uri{Uri: furi(in.TokenURL)}}})
		if in.AuthorizeURL != "" {
			ext.Extension = append(ext.Extension, &d.Extension{Url: furi("authorize"),
				Value: &d.Extension_ValueX{Choice: &d.Extension_ValueX_Uri{Uri: furi(in.AuthorizeURL)}}})
		}
		sec.Extension = []*d.Extension{ext}
		rest.Security = sec
	}
	for _, r := range in.Resources {
		t, ok := c.ResourceTypeCode_Value_value[upperSnake(r.Type)]
		if !ok {
			return nil, mig.Errorf(mig.EINVALID, "capabilities: unknown resource type %q", r.Type)
		}
		profile := r.Profile
		if profile == "" {
			profile = Profile(r.Type)
		}
		cr := &cspb.CapabilityStatement_Rest_Resource{
			Type:    &cspb.CapabilityStatement_Rest_Resource_TypeCode{Value: c.ResourceTypeCode_Value(t)},
			Profile: &d.Canonical{Value: profile},
		}
		for _, p := range r.SupportedProfiles {
			cr.SupportedProfile = append(cr.SupportedProfile, &d.Canonical{Value: p})
		}
		for _, i := range r.Interactions {
			v, ok := vs.TypeRestfulInteractionValueSet_Value_value[upperSnake(i)]
			if !ok {
				return nil, mig.Errorf(mig.EINVALID, "capabilities: unknown interaction %q", i)
			}
			cr.Interaction = append(cr.Interaction, &cspb.CapabilityStatement_Rest_Resource_ResourceInteraction{
				Code: &cspb.CapabilityStatement_Rest_Resource_ResourceInteraction_CodeType{Value: vs.TypeRestfulInteractionValueSet_Value(v)}})
		}
		for _, p := range r.SearchParams {
			v, ok := c.SearchParamTypeCode_Value_value[upperSnake(p.Type)]
			if !ok || p.Name == "" {
				return nil, mig.Errorf(mig.EINVALID, "capabilities: search parameter %q has unknown type %q", p.Name, p.Type)
			}
			if strings.Contains(p.Name, ":") {
				// A modifier (patient:identifier) is not a parameter: R4
				// declares parameters by name, and says its modifiers in
				// the parameter's documentation.
				return nil, mig.Errorf(mig.EINVALID, "capabilities: search parameter %q names a modifier: declare %q and document the modifier", p.Name, p.Name[:strings.Index(p.Name, ":")])
			}
			sp := &cspb.CapabilityStatement_Rest_Resource_SearchParam{Name: fstr(p.Name),
				Type: &cspb.CapabilityStatement_Rest_Resource_SearchParam_TypeCode{Value: c.SearchParamTypeCode_Value(v)}}
			if p.Doc != "" {
				sp.Documentation = &d.Markdown{Value: p.Doc}
			}
			cr.SearchParam = append(cr.SearchParam, sp)
		}
		for _, o := range r.Operations {
			op, err := operation(o)
			if err != nil {
				return nil, err
			}
			cr.Operation = append(cr.Operation, op)
		}
		rest.Resource = append(rest.Resource, cr)
	}
	for _, o := range in.Operations {
		op, err := operation(o)
		if err != nil {
			return nil, err
		}
		rest.Operation = append(rest.Operation, op)
	}
	cs.Rest = []*cspb.CapabilityStatement_Rest{rest}
	return MarshalResource(&bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_CapabilityStatement{CapabilityStatement: cs}})
}

func operation(o CapabilityOperation) (*cspb.CapabilityStatement_Rest_Resource_Operation, error) {
	if o.Name == "" || o.Definition == "" {
		return nil, mig.Errorf(mig.EINVALID, "capabilities: an operation needs a name and a definition")
	}
	return &cspb.CapabilityStatement_Rest_Resource_Operation{Name: fstr(strings.TrimPrefix(o.Name, "$")),
		Definition: &d.Canonical{Value: o.Definition}}, nil
}
