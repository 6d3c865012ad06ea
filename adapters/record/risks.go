package record

// riskCode is one code of the default risks-and-warnings set, with where it
// comes from.
type riskCode struct {
	System, Code, Source string
}

// defaultRisks is the shipped risks-and-warnings code set. Operators replace
// it in configuration (risks.codes). Each code names its source.
var defaultRisks = []riskCode{
	// Resuscitation decisions.
	{SystemSNOMED, "304253006", "SNOMED CT: Not for resuscitation (finding)"},
	{SystemSNOMED, "450476008", "SNOMED CT: Not for attempted cardiopulmonary resuscitation (finding)"},
	// End of life / palliative care register.
	{SystemReadV2, "8CM1.", "QOF palliative care register cluster (PALCARE_COD): On gold standards palliative care framework"},
	{SystemCTV3, "8CM1.", "QOF palliative care register cluster (PALCARE_COD), CTV3 twin"},
}

// DefaultRisks returns the shipped risks-and-warnings code set.
func DefaultRisks() CodeSet {
	s := make(CodeSet, len(defaultRisks))
	for _, r := range defaultRisks {
		s[CodeKey(r.System, r.Code)] = true
	}
	return s
}
