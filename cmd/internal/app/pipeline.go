package app

import (
	"fmt"

	"mig/adapters"
	"mig/adapters/record"
	"mig/adapters/terminology"
	"mig/fhir"
)

// Term modes (Config.Terms).
const (
	TermsStrict = "strict" // no term from an extract; displays only from a loaded terminology
	TermsFilter = "filter" // without a terminology, an extract's term that passes fhir.TermLooksCoded
)

// Pipeline is what turns an extract into FHIR, built from the
// configuration: the dataset rules' classifier (the configured risk set;
// with a loaded SNOMED CT release, its hierarchy), the terminology step that
// runs after every parse (nil when none is configured), and the term policy
// the mapper follows. migd and `migctl map --config` share it, so the
// command prints what the gateway would send.
type Pipeline struct {
	Classifier *record.Classifier
	Translator adapters.Translator
	Terms      fhir.TermPolicy
	// NoDisplays is set when strict mode has no terminology with displays
	// to show: codes go out without terms (migd warns at start).
	NoDisplays bool
}

// ParsePipeline builds the Pipeline of cfg.
func ParsePipeline(cfg *Config) (*Pipeline, error) {
	p := &Pipeline{Classifier: classifier(cfg)}
	switch cfg.Terms {
	case "", TermsStrict:
	case TermsFilter:
		p.Terms.Filter = true
	default:
		return nil, fmt.Errorf("config: terms must be %q or %q", TermsStrict, TermsFilter)
	}
	if !cfg.Terminology.IsZero() {
		tm, err := terminology.Open(cfg.Terminology)
		if err != nil {
			return nil, fmt.Errorf("terminology: %v", err)
		}
		if tm.Release != nil {
			p.Classifier.Hierarchy = tm // SNOMED-only codes by sub-hierarchy
		}
		tm.Classifier = p.Classifier // Fill reclassifies what resolves late
		p.Translator = tm
		if tm.Release != nil || tm.Rubrics != nil || tm.DMD != nil {
			// Displays come only from the loaded terminology; maps alone
			// carry no terms.
			p.Terms.Terminology = tm
		}
	}
	p.NoDisplays = p.Terms.Terminology == nil && !p.Terms.Filter
	return p, nil
}
