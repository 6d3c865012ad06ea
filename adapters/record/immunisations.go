package record

// snomedImmunisations is the shipped SNOMED CT immunisation code set.
var snomedImmunisations = map[string]bool{}
