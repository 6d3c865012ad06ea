package app

import (
	"fmt"

	"mig/adapters"
	"mig/adapters/record"
	"mig/adapters/terminology"
)

// ParsePipeline builds what turns an extract into a classified record, from
// the configuration: the dataset rules' classifier (the configured risk
// set; with a loaded SNOMED CT release, its hierarchy) and the terminology
// step that runs after every parse (nil when none is configured). migd and
// `migctl map --config` share it, so the command prints what the gateway
// would send.
func ParsePipeline(cfg *Config) (*record.Classifier, adapters.Translator, error) {
	cl := classifier(cfg)
	if cfg.Terminology.IsZero() {
		return cl, nil, nil
	}
	tm, err := terminology.Open(cfg.Terminology)
	if err != nil {
		return nil, nil, fmt.Errorf("terminology: %v", err)
	}
	if tm.Release != nil {
		cl.Hierarchy = tm // SNOMED-only codes by sub-hierarchy
	}
	tm.Classifier = cl // Fill reclassifies what resolves late
	return cl, tm, nil
}
