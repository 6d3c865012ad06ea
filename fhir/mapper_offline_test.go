package fhir

import (
	"strings"
	"testing"

	"mig/adapters/record"
)

// TestOfflineWithoutNHSNumber: only Offline mapping takes a record with no
// NHS number, and then the Patient carries no NHS number identifier.
func TestOfflineWithoutNHSNumber(t *testing.T) {
	ids, err := NewIDs(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	rec := &record.Record{Entries: []record.Entry{{ID: "e1", Kind: record.KindProcedure,
		Code: record.Concept{Codings: []record.Coding{{System: record.SystemSNOMED, Code: "80146002"}}}}}}
	if _, err := (&Mapper{IDs: ids}).Map(rec, nil); err == nil {
		t.Fatal("the gateway's mapper mapped a record without an NHS number")
	}
	res, err := (&Mapper{IDs: ids, Offline: true}).Map(rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := MarshalResource(res.Patient.Proto)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "nhs-number") || strings.Contains(string(b), offlineNHS) {
		t.Fatalf("offline Patient names an NHS number: %s", b)
	}
	if len(res.Resources) != 1 || res.Resources[0].ID == "" || res.Patient.ID == "" {
		t.Fatalf("offline mapping gave %d resources, ids %q %q", len(res.Resources), res.Patient.ID, res.Resources[0].ID)
	}
}
