package ips

import (
	"testing"

	"mig/adapters/record"
	"mig/fhir"
)

// FuzzCheck: the structure check reads any bytes without panicking, and
// what it accepts is a document with the Composition's sections and the
// Patient.
func FuzzCheck(f *testing.F) {
	_, res := story(f, "A99901", "gp2gp", "9990001006", fhir.TermPolicy{Filter: true})
	doc, err := Build(input(res, record.AllViews()))
	if err != nil {
		f.Fatal(err)
	}
	body, err := fhir.MarshalResource(doc.Bundle)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(body)
	f.Add([]byte(`{"resourceType":"Bundle","type":"document","entry":[{"fullUrl":"x","resource":{"resourceType":"Composition"}}]}`))
	f.Add([]byte(`{"entry":[{"resource":{"section":[{"entry":[{"reference":1}]}]}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		chk, err := Check(b)
		if err != nil {
			return
		}
		if chk.Types["Patient"] < 1 || len(chk.Codes) != len(chk.Sections) || chk.Composition == nil {
			t.Fatalf("accepted a document without its Patient or sections: %+v", chk)
		}
	})
}
