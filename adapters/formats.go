package adapters

import (
	"io"
	"sort"

	"mig"
	"mig/adapters/emis"
	"mig/adapters/gp2gp"
	"mig/adapters/record"
	"mig/adapters/tpp"
)

// ParseFunc is an adapter's entry point.
type ParseFunc func(r io.Reader, opt record.ParseOptions) (*record.Record, error)

// formats is the registry: a new GP system is one folder under adapters/
// and one line here.
var formats = map[string]ParseFunc{
	"gp2gp": gp2gp.Parse,
	"emis":  emis.Parse,
	"tpp":   tpp.Parse,
}

// Formats lists the supported extract formats.
func Formats() []string {
	names := make([]string, 0, len(formats))
	for n := range formats {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Supported reports whether format names an adapter.
func Supported(format string) bool { _, ok := formats[format]; return ok }

// Parse reads an extract of the named format.
func Parse(format string, r io.Reader, opt record.ParseOptions) (*record.Record, error) {
	parse, ok := formats[format]
	if !ok {
		return nil, mig.Errorf(mig.EINVALID, "unknown extract format %q (supported: gp2gp, emis, tpp)", format)
	}
	return parse(r, opt)
}
