package fhir

import (
	"mig/adapters/record"

	c "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	obspb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/observation_go_proto"
)

// imaging reports whether an investigation's code is in Read v2 chapter 5
// (imaging), directly or as a CTV3 twin.
func imaging(rc record.Concept) bool {
	for _, cd := range rc.Codings {
		switch cd.System {
		case record.SystemReadV2:
			return cd.Code != "" && cd.Code[0] == '5'
		case record.SystemCTV3:
			if twin, ok := record.ReadTwin(cd.Code); ok {
				return twin[0] == '5'
			}
		}
	}
	return false
}

func (mp *mapping) investigation(e *record.Entry, id string) *obspb.Observation {
	code := mp.concept(e.Code)
	if code == nil {
		return nil
	}
	out := &obspb.Observation{
		Id:      &d.Id{Value: id},
		Meta:    meta(Profile("Observation")),
		Status:  &obspb.Observation_StatusCode{Value: c.ObservationStatusCode_FINAL},
		Code:    code,
		Subject: mp.patient,
	}
	if imaging(e.Code) {
		out.Category = []*d.CodeableConcept{fixedConcept(systemObsCategory, "imaging", "Imaging")}
	} else {
		out.Category = []*d.CodeableConcept{fixedConcept(systemObsCategory, "laboratory", "Laboratory")}
	}
	if dt := dateTime(e.Effective); dt != nil {
		out.Effective = &obspb.Observation_EffectiveX{Choice: &obspb.Observation_EffectiveX_DateTime{DateTime: dt}}
	}
	if q := quantity(e.Value); q != nil {
		out.Value = &obspb.Observation_ValueX{Choice: &obspb.Observation_ValueX_Quantity{Quantity: q}}
	} else if r := valueRange(e.ValueRange); r != nil {
		out.Value = &obspb.Observation_ValueX{Choice: &obspb.Observation_ValueX_Range{Range: r}}
	}
	if rr := referenceRange(e.Range); rr != nil {
		out.ReferenceRange = []*obspb.Observation_ReferenceRange{rr}
	}
	if ic := interpretation(e.Interpretation); ic != nil {
		out.Interpretation = []*d.CodeableConcept{ic}
	}
	if r := mp.refOfType(e.Encounter, "Encounter"); r != nil {
		out.Encounter = r
	}
	if r := personRef(e.Author); r != nil {
		out.Performer = []*d.Reference{r}
	}
	for _, mem := range e.Members {
		if r := mp.refOfType(mem, "Observation"); r != nil && mem != e.ID {
			out.HasMember = append(out.HasMember, r)
		}
	}
	return out
}

// referenceRange converts a reference range; nil when it has no bound
// that is a number.
func referenceRange(r *record.Range) *obspb.Observation_ReferenceRange {
	if r == nil {
		return nil
	}
	rr := &obspb.Observation_ReferenceRange{Low: simpleQuantity(r.Low), High: simpleQuantity(r.High)}
	if rr.Low == nil && rr.High == nil {
		return nil
	}
	return rr
}

// Interpretation code systems: HL7 v3 ObservationInterpretation (what FHIR
// shows) and the GP2GP interpretation codes (NHS OID), which an adapter
// may pass through as they were sent.
const (
	SystemV3Interpretation = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
	oidGP2GPInterpretation = "2.16.840.1.113883.2.1.6.5"
)

// gp2gpInterpretation translates GP2GP interpretation codes to v3: HI above
// the high reference limit -> H, LO below the low limit -> L, PA
// potentially abnormal and OR outside the reference range -> A; the
// critical and normal codes are the same in both.
var gp2gpInterpretation = map[string]string{"HI": "H", "LO": "L", "PA": "A", "OR": "A",
	"H": "H", "L": "L", "A": "A", "HH": "HH", "LL": "LL", "AA": "AA", "N": "N"}

// v3InterpretationDisplay are the v3 ObservationInterpretation displays of
// the codes we write (fixed words of the code system, not the extract's).
var v3InterpretationDisplay = map[string]string{"H": "High", "L": "Low", "A": "Abnormal",
	"HH": "Critical high", "LL": "Critical low", "AA": "Critical abnormal", "N": "Normal"}

// interpretation maps a result's coded flag to v3 ObservationInterpretation
// with its display; a code outside the table is not shown (never guessed).
func interpretation(rc record.Concept) *d.CodeableConcept {
	for _, cd := range rc.Codings {
		code := ""
		switch cd.System {
		case SystemV3Interpretation:
			code = cd.Code
		case oidGP2GPInterpretation, "urn:oid:" + oidGP2GPInterpretation:
			code = gp2gpInterpretation[cd.Code]
		}
		if disp, ok := v3InterpretationDisplay[code]; ok {
			return fixedConcept(SystemV3Interpretation, code, disp)
		}
	}
	return nil
}

// valueRange converts a result given as an interval; nil when neither
// bound is a number.
func valueRange(r *record.Range) *d.Range {
	if r == nil {
		return nil
	}
	out := &d.Range{Low: simpleQuantity(r.Low), High: simpleQuantity(r.High)}
	if out.Low == nil && out.High == nil {
		return nil
	}
	return out
}
