package record

// snomedRule maps a SNOMED CT sub-hierarchy to the kind (or the rule that
// keeps it out) that the Read-based dataset rules give the same concepts.
// Rows are tried in order: a more specific sub-hierarchy stands before the
// one that holds it.
type snomedRule struct {
	Ancestor string // SNOMED CT concept id of the sub-hierarchy's top
	Kind     Kind
	Rule     Rule   // RuleNone when Kind is shown
	Source   string // why: the Read chapter it matches, or the reason
}

// snomedRules is filled in by the terminology work (issue 11, item 5).
var snomedRules = []snomedRule{}
