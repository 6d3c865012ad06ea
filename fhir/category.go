package fhir

import "mig/adapters/record"

// ObservationCategory is the Observation.category code the mapper gives an
// investigation entry ("imaging" for Read v2 chapter 5, else
// "laboratory"), so searches by category agree with what is returned.
func ObservationCategory(e *record.Entry) string {
	if e.Kind == record.KindBloodPressure {
		return "vital-signs"
	}
	if imaging(e.Code) {
		return "imaging"
	}
	return "laboratory"
}
