package fhirjson_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mig/fhir/fhirjson"
	"mig/fhir/fhirjson/fhirjsontest"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	obspb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/observation_go_proto"
)

// TestRandomResources writes random resources of every type the gateway
// emits (many each) and of every other R4 type (a few each) with both
// writers: the same bytes, or both refuse.
func TestRandomResources(t *testing.T) {
	perType, others := 200, 2
	if testing.Short() || raceEnabled {
		perType, others = 25, 1
	}
	seed := uint64(1)
	refused, written := 0, 0
	check := func(name string, cr *bcrpb.ContainedResource, seed uint64) {
		t.Helper()
		if d := fhirjsontest.Compare(cr); d != "" {
			t.Fatalf("%s, seed %d:\n%s", name, seed, d)
		}
		if _, err := fhirjson.Marshal(cr); err != nil {
			refused++
		} else {
			written++
		}
	}
	for _, name := range emitted {
		for i := 0; i < perType; i++ {
			seed++
			check(name, newGen(seed).resource(name), seed)
		}
	}
	od := (&bcrpb.ContainedResource{}).ProtoReflect().Descriptor().Oneofs().ByName("oneof_resource")
	for i := 0; i < od.Fields().Len(); i++ {
		name := string(od.Fields().Get(i).Message().Name())
		for j := 0; j < others; j++ {
			seed++
			check(name, newGen(seed).resource(name), seed)
		}
	}
	t.Logf("%d random resources written identically, %d refused by both", written, refused)
	if written < refused*4 {
		t.Errorf("%d written, %d refused: the generator makes too few writable resources", written, refused)
	}
}

// TestShapes pins, each on a small hand-made resource, what jsonformat
// does and fhirjson must: the exact bytes are the reference's, so each
// case also states what it shows.
func TestShapes(t *testing.T) {
	obs := func(o *obspb.Observation) *bcrpb.ContainedResource {
		return &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Observation{Observation: o}}
	}
	noValue := &d4pb.Extension{
		Url:   &d4pb.Uri{Value: "https://g.co/fhir/StructureDefinition/primitiveHasNoValue"},
		Value: &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Boolean{Boolean: &d4pb.Boolean{Value: true}}},
	}
	dar := &d4pb.Extension{
		Url:   &d4pb.Uri{Value: "http://hl7.org/fhir/StructureDefinition/data-absent-reason"},
		Value: &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Code{Code: &d4pb.Code{Value: "unsupported"}}},
	}
	cases := []struct {
		name string
		res  *bcrpb.ContainedResource
		want string // a fragment the output holds
	}{
		{"decimal as written", obs(&obspb.Observation{Value: &obspb.Observation_ValueX{Choice: &obspb.Observation_ValueX_Quantity{
			Quantity: &d4pb.Quantity{Value: &d4pb.Decimal{Value: "80.000"}}}}}), `"valueQuantity":{"value":80.000}`},
		{"typed reference", obs(&obspb.Observation{Subject: &d4pb.Reference{Reference: &d4pb.Reference_PatientId{
			PatientId: &d4pb.ReferenceId{Value: "p1", History: &d4pb.Id{Value: "2"}}}}}), `"subject":{"reference":"Patient/p1/_history/2"}`},
		{"fragment", obs(&obspb.Observation{Subject: &d4pb.Reference{Reference: &d4pb.Reference_Fragment{
			Fragment: &d4pb.String{Value: "c1"}}}}), `"subject":{"reference":"#c1"}`},
		{"status code", obs(&obspb.Observation{Status: &obspb.Observation_StatusCode{Value: 7}}), `"status":"entered-in-error"`},
		{"empty message", obs(&obspb.Observation{Code: &d4pb.CodeableConcept{}}), `"code":{}`},
		{"no value, extension kept", obs(&obspb.Observation{Value: &obspb.Observation_ValueX{Choice: &obspb.Observation_ValueX_Quantity{
			Quantity: &d4pb.Quantity{Unit: &d4pb.String{Extension: []*d4pb.Extension{noValue, dar}}}}}}),
			`"valueQuantity":{"_unit":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unsupported"}]}}`},
		{"empty string beside its extension", obs(&obspb.Observation{Value: &obspb.Observation_ValueX{Choice: &obspb.Observation_ValueX_Quantity{
			Quantity: &d4pb.Quantity{Unit: &d4pb.String{Extension: []*d4pb.Extension{dar}}}}}}), `,"unit":""`},
		{"escaping", obs(&obspb.Observation{Id: &d4pb.Id{Value: "<a&b>\u2028\x01\"\\\xff"}}), `"id":"<a&b>\u2028\u0001\"\\\ufffd"`},
		{"dateTime zone and precision", obs(&obspb.Observation{Effective: &obspb.Observation_EffectiveX{Choice: &obspb.Observation_EffectiveX_DateTime{
			DateTime: &d4pb.DateTime{ValueUs: 1_700_000_000_123_000, Timezone: "Europe/London", Precision: d4pb.DateTime_MILLISECOND}}}}),
			`"effectiveDateTime":"2023-11-14T22:13:20.123+00:00"`},
		{"instant in Z", obs(&obspb.Observation{Issued: &d4pb.Instant{ValueUs: 1_700_000_000_000_000, Timezone: "Z", Precision: d4pb.Instant_SECOND}}),
			`"issued":"2023-11-14T22:13:20Z"`},
		{"resourceType sorted among the keys", obs(&obspb.Observation{Id: &d4pb.Id{Value: "x"}, Status: &obspb.Observation_StatusCode{Value: 2}}),
			`{"id":"x","resourceType":"Observation","status":"preliminary"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if d := fhirjsontest.Compare(tc.res); d != "" {
				t.Fatal(d)
			}
			got, err := fhirjson.Marshal(tc.res)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(got), tc.want) {
				t.Errorf("got %s\nwant it to hold %s", got, tc.want)
			}
		})
	}
}

// TestRefusals: what jsonformat refuses, fhirjson refuses, with an error
// that names the field and never the value.
func TestRefusals(t *testing.T) {
	obs := func(o *obspb.Observation) *bcrpb.ContainedResource {
		return &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Observation{Observation: o}}
	}
	cases := map[string]*bcrpb.ContainedResource{
		"no resource":    {},
		"unset choice":   obs(&obspb.Observation{Value: &obspb.Observation_ValueX{}}),
		"bad decimal":    obs(&obspb.Observation{Value: &obspb.Observation_ValueX{Choice: &obspb.Observation_ValueX_Quantity{Quantity: &d4pb.Quantity{Value: &d4pb.Decimal{Value: "FREETEXT-1"}}}}}),
		"no precision":   obs(&obspb.Observation{Issued: &d4pb.Instant{ValueUs: 1, Timezone: "Z"}}),
		"bad time zone":  obs(&obspb.Observation{Issued: &d4pb.Instant{ValueUs: 1, Timezone: "FREETEXT-2", Precision: d4pb.Instant_SECOND}}),
		"unknown status": obs(&obspb.Observation{Status: &obspb.Observation_StatusCode{Value: 99}}),
	}
	for name, res := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := fhirjson.Marshal(res)
			if err == nil {
				t.Fatal("written")
			}
			if strings.Contains(err.Error(), "FREETEXT") {
				t.Errorf("error quotes the value: %v", err)
			}
			if name == "unknown status" {
				return // jsonformat panics on an enum number outside the value set
			}
			if _, rerr := fhirjsontest.Reference(res); rerr == nil {
				t.Errorf("jsonformat writes it, fhirjson refuses: %v", err)
			}
		})
	}
}

// TestConcurrent: one proto written from several goroutines gives the same
// bytes each time (run with -race: fhirjson never writes to the proto).
func TestConcurrent(t *testing.T) {
	cr := newGen(7).resource("Observation")
	want, err := fhirjson.Marshal(cr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []byte)
	for i := 0; i < 8; i++ {
		go func() {
			b, _ := fhirjson.Marshal(cr)
			done <- b
		}()
	}
	for i := 0; i < 8; i++ {
		if b := <-done; !bytes.Equal(b, want) {
			t.Fatalf("concurrent write differs:\n%s\n%s", b, want)
		}
	}
}

// FuzzWriterProto builds a resource of an emitted type from the fuzzer's
// bytes (they drive the random generator) and compares the writers.
func FuzzWriterProto(f *testing.F) {
	for i := 0; i < 16; i++ {
		f.Add([]byte{byte(i), byte(i * 7), 0xff, 0x10, byte(i * 31)})
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		g := &gen{r: &bytesEntropy{b: b[1:]}}
		cr := g.resource(emitted[int(b[0])%len(emitted)])
		if d := fhirjsontest.Compare(cr); d != "" {
			t.Fatal(d)
		}
	})
}

// FuzzWriterJSON reads the fuzzer's bytes as R4 JSON with jsonformat's
// unmarshaller and, when they parse, compares the writers on the resource.
// The seeds are the resources of fhir's golden files, one by one.
func FuzzWriterJSON(f *testing.F) {
	golden, _ := filepath.Glob(filepath.Join("..", "testdata", "*.golden.json"))
	for _, g := range golden {
		b, err := os.ReadFile(g)
		if err != nil {
			f.Fatal(err)
		}
		var doc struct {
			Entry []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if json.Unmarshal(b, &doc) != nil || len(doc.Entry) == 0 {
			f.Add(b)
			continue
		}
		for _, e := range doc.Entry {
			f.Add([]byte(e.Resource))
		}
	}
	f.Add([]byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":80.000,"_unit":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unsupported"}]}},"subject":{"reference":"Patient/1"},"effectiveDateTime":"2020-01-02T03:04:05.678+05:30"}`))
	u, err := jsonformat.NewUnmarshaller("Europe/London", fhirversion.R4)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cr, err := u.UnmarshalR4(b)
		if err != nil {
			return
		}
		if d := fhirjsontest.Compare(cr); d != "" {
			t.Fatalf("%s\ninput: %s", d, b)
		}
	})
}
