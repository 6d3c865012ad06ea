//go:build migbench

package fhir

import (
	"sync"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// UseJSONFormat makes MarshalResource write with google/fhir/go's
// jsonformat, pooled, as the gateway did before fhirjson: the usual
// toolchain, for the side-by-side benchmark (make bench). Compiled only into
// the benchmark build (-tags migbench); call it before serving. jsonformat
// rewrites references in the proto it writes, so each proto must be written
// once, by one goroutine, as before fhirjson: the benchmark runs it with the
// mapping cache off.
func UseJSONFormat() { writeResource = jsonformatWrite }

var jsonformatPool = sync.Pool{New: func() any {
	m, err := jsonformat.NewMarshaller(false, "", "", fhirversion.R4)
	if err != nil {
		return err
	}
	return m
}}

func jsonformatWrite(res *bcrpb.ContainedResource) ([]byte, error) {
	v := jsonformatPool.Get()
	m, ok := v.(*jsonformat.Marshaller)
	if !ok {
		return nil, v.(error)
	}
	defer jsonformatPool.Put(m)
	return m.Marshal(res)
}
