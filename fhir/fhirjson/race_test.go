//go:build race

package fhirjson_test

// raceEnabled: the race detector slows jsonformat and the generator about
// tenfold, so the property test writes fewer resources under it.
const raceEnabled = true
