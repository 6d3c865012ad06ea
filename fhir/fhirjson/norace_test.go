//go:build !race

package fhirjson_test

const raceEnabled = false
