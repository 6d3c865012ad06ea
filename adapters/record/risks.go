package record

// riskCode is one code of the default risks-and-warnings set, with where it
// comes from.
type riskCode struct {
	System, Code, Source string
}

// Sources cited below:
//   - SCR inclusion dataset, resuscitation status: the Care Connect / NHS
//     end-of-life "CPR status" Flag guidance lists 450475007/450476008 as the
//     advised codes and 304252001/304253006 as other codes in the Summary
//     Care Record inclusion dataset. Only the "not for" decisions are risks.
//   - QOF palliative care register: business rules cluster PALCARE_COD (NHS
//     Digital Primary Care Domain reference set "Palliative care codes"),
//     Read v2 era code 8CM1. "On gold standards palliative care framework"
//     (CTV3 twin 8CM1.), SNOMED codes as published in the PCD refset cluster
//     (opencodelists nhsd-primary-care-domain-refsets/palcare_cod).
//   - Safeguarding: RCGP safeguarding e-learning "Part 4: Documenting
//     safeguarding concerns and information", table of essential
//     safeguarding codes (SNOMED / Read v2 / CTV3), and the RCGP
//     "Safeguarding coding information" (June 2017) list, which names
//     vulnerable adult 417430008.
//   - Child protection plan Read v2 / CTV3 pairs 13Iv./XaOnx, 13Iy./XaPkF:
//     the same RCGP table; confirmed by CCG safeguarding coding guidance
//     ("Computer coding for safeguarding children", January 2016).
//
// Violent-patient markers: no national code list could be sourced (NHS
// Security Management Service guidance leaves markers to local systems, and
// EMIS records them as alerts, which adapters already map to risks). Add
// local codes in configuration (risks.codes) with their source.
var defaultRisks = []riskCode{
	// Resuscitation decisions (SCR inclusion dataset).
	{SystemSNOMED, "304253006", "SNOMED CT: Not for resuscitation (finding); SCR inclusion dataset"},
	{SystemSNOMED, "450476008", "SNOMED CT: Not for attempted cardiopulmonary resuscitation (finding); SCR inclusion dataset, advised code"},

	// End of life / palliative care register (QOF PALCARE_COD).
	{SystemReadV2, "8CM1.", "QOF palliative care register cluster (PALCARE_COD): On gold standards palliative care framework"},
	{SystemCTV3, "8CM1.", "QOF palliative care register cluster (PALCARE_COD), CTV3 twin"},
	{SystemSNOMED, "414937009", "PCD refset cluster PALCARE_COD: On gold standards palliative care framework"},
	{SystemSNOMED, "526631000000108", "PCD refset cluster PALCARE_COD: On end of life care register"},
	{SystemSNOMED, "713673000", "PCD refset cluster PALCARE_COD: Has end of life care plan"},
	{SystemSNOMED, "1095151000000107", "PCD refset cluster PALCARE_COD: Has end of life advance care plan"},
	{SystemSNOMED, "511401000000102", "PCD refset cluster PALCARE_COD: Last days of life"},
	{SystemSNOMED, "395103003", "PCD refset cluster PALCARE_COD: Final days pathway"},
	{SystemSNOMED, "162608008", "PCD refset cluster PALCARE_COD: Terminal illness - late stage"},

	// Safeguarding concerns: children (RCGP safeguarding codes table).
	{SystemSNOMED, "836881000000105", "RCGP safeguarding codes: Child is cause for safeguarding concern"},
	{SystemReadV2, "13WX.", "RCGP safeguarding codes: Child is cause for safeguarding concern (Read v2)"},
	{SystemCTV3, "XaZJs", "RCGP safeguarding codes: Child is cause for safeguarding concern (CTV3)"},
	{SystemSNOMED, "1064961000000107", "RCGP safeguarding codes: Child in family is safeguarding concern"},
	{SystemCTV3, "XafeJ", "RCGP safeguarding codes: Child in family is safeguarding concern (CTV3; no Read v2 map)"},
	{SystemSNOMED, "878111000000109", "RCGP safeguarding codes: Unborn child is cause for safeguarding concern"},
	{SystemReadV2, "13If0", "RCGP safeguarding codes: Unborn child is cause for safeguarding concern (Read v2)"},
	{SystemCTV3, "XaaNV", "RCGP safeguarding codes: Unborn child is cause for safeguarding concern (CTV3)"},
	{SystemSNOMED, "342191000000101", "RCGP safeguarding codes: Subject to child protection plan"},
	{SystemReadV2, "13Iv.", "RCGP safeguarding codes: Subject to child protection plan (Read v2)"},
	{SystemCTV3, "XaOnx", "RCGP safeguarding codes: Subject to child protection plan (CTV3)"},
	{SystemSNOMED, "375041000000100", "RCGP safeguarding codes: Family member subject of child protection plan"},
	{SystemReadV2, "13Iy.", "RCGP safeguarding codes: Family member subject to child protection plan (Read v2)"},
	{SystemCTV3, "XaPkF", "CCG safeguarding children coding guidance: Family member subject to child protection plan (CTV3)"},

	// Safeguarding concerns: adults (RCGP safeguarding coding information, 2017).
	{SystemSNOMED, "417430008", "RCGP safeguarding coding information (2017): Vulnerable adult (finding)"},
}

// DefaultRisks returns the shipped risks-and-warnings code set.
func DefaultRisks() CodeSet {
	s := make(CodeSet, len(defaultRisks))
	for _, r := range defaultRisks {
		s[CodeKey(r.System, r.Code)] = true
	}
	return s
}
