// Command gen writes adapters/record/immunisations.go from the NHS
// patient-switching adaptor's immunisation list (read in place from
// ../shared/reference, never copied). It reports rows read, ids taken from
// the Safety Code column, and every rejected row by line.
//
//	cd adapters/record && go generate ./...
package main

import (
	"flag"
	"fmt"
	"os"

	"mig/adapters/record"
	"mig/adapters/record/internal/immgen"
)

func main() {
	in := flag.String("csv", "../../../shared/reference/snomed/snomed_immunization_codes.csv", "the immunisation list")
	out := flag.String("o", "immunisations.go", "the Go file to write")
	flag.Parse()
	f, err := os.Open(*in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "immgen:", err)
		os.Exit(1)
	}
	defer f.Close()
	res, err := immgen.Derive(f, record.ValidSCTID)
	if err != nil {
		fmt.Fprintln(os.Stderr, "immgen:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "immgen: %d rows read; %d ids from Safety Code; %d immunisations given, %d not given; %d rows rejected\n",
		res.Rows, res.FromSafety, len(res.Given), len(res.NotGiven), len(res.Rejected))
	for _, r := range res.Rejected {
		fmt.Fprintf(os.Stderr, "immgen: rejected line %d: %s\n", r.Line, r.Reason)
	}
	src, err := immgen.Render(res)
	if err != nil {
		fmt.Fprintln(os.Stderr, "immgen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "immgen:", err)
		os.Exit(1)
	}
}
