//go:build migbench

package xmltok

// UseEncodingXML makes NewDecoder read through encoding/xml, the usual
// toolchain, for the side-by-side benchmark (make bench). Compiled only into
// the benchmark build (-tags migbench); call it before any decoding starts.
func UseEncodingXML() { useFast = false }
