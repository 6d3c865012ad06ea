package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode"

	"mig"
	"mig/adapters/record"
	"mig/consent"
)

// The patient access report: "who has looked at my record". It is built
// from the audit trail (the live store and any archived segments), for one
// NHS number, and says for each access the day, the organisation, the
// role category, what was asked for and shown, the consent status and
// whether it was refused and why. Everything it says comes from codes the
// gateway wrote; the only strings it passes on are organisation names
// from the gateway's configuration and, only when configured, the user's
// name from the signed token, kept only in the shape of a name.
//
// Privacy by default: role, organisation and time together can single out
// one member of staff, so by default the report gives the day (UK) without
// the time, a role category (never the job title) and no names;
// accesses that then look the same on one day are one line with a count.

// Scanner reads a store's records in Seq order (an archived segment, which
// has no indexes, is read this way).
type Scanner interface {
	Scan(ctx context.Context, after uint64, fn func(*Stored) error) error
}

// PatientReportQuery says whose report, over which period, and what it shows.
type PatientReportQuery struct {
	NHSNumber string
	From, To  time.Time // accesses recorded in [From, To); zero: open
	// Practice, when set, keeps only accesses recorded while the patient
	// was registered at this practice (and refusals that never reached a
	// practice); the others are counted in ElsewhereLeftOut.
	Practice  string
	ShowTime  bool              // the time of day (UK, to the minute) beside the date
	ShowNames bool              // the user's name, when the token gave one in the shape of a name
	OrgNames  map[string]string // ODS code -> organisation name shown (from configuration)
	Now       time.Time         // when the report is made (default time.Now)
}

// PatientReport is the list of accesses to one patient's record.
type PatientReport struct {
	NHSNumber string
	From, To  time.Time // as asked (zero: open)
	Generated time.Time
	Practice  string // the practice the report is scoped to, if any
	ShowTime  bool
	ShowNames bool
	Accesses  []PatientAccess
	// UnauthenticatedLeftOut counts attempts naming the patient made
	// without a verified sign-in: whoever made them is not known, and
	// whatever their token claimed was not proven.
	UnauthenticatedLeftOut int
	// ElsewhereLeftOut counts accesses recorded while the patient was
	// registered at another practice (a report scoped to a practice).
	ElsewhereLeftOut int
}

// PatientAccess is one line of the report: one access, or several that
// look the same at the report's level of detail (Count).
type PatientAccess struct {
	Day     string  // YYYY-MM-DD, UK
	Time    string  // hh:mm, UK; "" unless the report shows times
	Org     string  // ODS code of the user's organisation
	OrgName string  // its configured name, if any
	Role    string  // role category code (RoleCategories)
	Name    string  // "" unless the report shows names
	Asked   []Part  // what the request asked for
	Shown   []Shown // what was released, by kind; none when refused
	Consent string  // given, refused, emergency, none, or "" when none applied
	Reason  string  // emergency reason code (consent.EmergencyReasons or "unspecified")
	Outcome string  // AccessAllowed, AccessRefused, AccessNotCompleted
	Rule    string  // the refusing or failing rule (RuleWords), when not allowed
	Count   int     // accesses this line stands for
}

// Part is one thing a request asked for: a view (PartView, a record.View
// code), a resource type (PartType) or an activity (PartActivity).
type Part struct {
	Kind string
	Code string
}

// Shown is how many items of one kind were released.
type Shown struct {
	Type  string // FHIR resource type (TypeWords)
	Count int
}

// Part kinds.
const (
	PartView     = "view"
	PartType     = "type"
	PartActivity = "activity"
)

// Access outcomes in the report.
const (
	AccessAllowed      = "allowed"
	AccessRefused      = "refused"
	AccessNotCompleted = "not-completed"
)

// Role categories: what a patient is told instead of the job title.
var RoleCategories = map[string]string{
	"clinician":              "Clinician",
	"nurse":                  "Nurse",
	"health-professional":    "Health professional",
	"midwife":                "Midwife",
	"student":                "Healthcare student",
	"admin":                  "Administrative or support staff",
	"information-governance": "Information governance (monitoring access to records)",
	"other":                  "Other staff",
}

// roleCategory maps a national RBAC role code (REFERENCE.md) to its
// category. Roles held by one person in an organisation (the Caldicott
// guardian) share a category with others, so the category never names them.
func roleCategory(code string) string {
	switch code {
	case "R8000":
		return "clinician"
	case "R8001":
		return "nurse"
	case "R8003":
		return "health-professional"
	case "R8016":
		return "midwife"
	case "R8004":
		return "student"
	case "R8008", "R8009":
		return "admin"
	case "R0001", "R5105":
		return "information-governance"
	}
	return "other"
}

// Activities: what a request did when it was not a view or a type.
var ActivityWords = map[string]string{
	"everything":     "Everything the sharing agreement covers",
	"view":           "A view of your record",
	"record":         "Part of your record",
	"consent-record": "Recorded a decision about viewing your record (consent or emergency)",
	"consent-search": "Looked up decisions about viewing your record",
	"audit-trail":    "The record of who has looked at your record (audit trail)",
	"access-report":  "This report of who has looked at your record",
	"launch":         "Opened your record from their clinical system",
	"summary":        "A summary of your record (International Patient Summary)",
	"other":          "A request naming you",
}

// TypeWords says each resource type the gateway serves in plain words.
var TypeWords = map[string]string{
	"Patient":             "Your details (name, date of birth, address)",
	"Condition":           "Problems and diagnoses",
	"MedicationStatement": "Medicines",
	"MedicationRequest":   "Prescriptions",
	"AllergyIntolerance":  "Allergies",
	"Observation":         "Tests, results and measurements",
	"Procedure":           "Procedures",
	"Immunization":        "Vaccinations",
	"Flag":                "Risks and warnings",
	"Encounter":           "Consultations and other events",
	"ServiceRequest":      "Referrals and plans",
	"Consent":             "Decisions about viewing your record",
	"AuditEvent":          "Records of access to your record",
	"Composition":         "A summary of your record",
	"Parameters":          "This report of who has looked at your record",
}

// ConsentWords says each consent status.
var ConsentWords = map[string]string{
	"given":     "your consent to view was recorded",
	"refused":   "you had refused consent to view",
	"emergency": "emergency access without consent",
	"none":      "no consent to view was recorded",
}

// EmergencyWords says each emergency access reason.
var EmergencyWords = map[string]string{
	consent.EmergencyUnconscious:     "you were unconscious",
	consent.EmergencyUnableToConsent: "you were unable to communicate",
	consent.EmergencyLackingCapacity: "you lacked capacity to consent",
	consent.EmergencySafeguarding:    "safeguarding",
	consent.EmergencyLifeThreatening: "a life-threatening emergency",
	"unspecified":                    "no reason recorded",
}

// RuleWords says, to the patient, why an access was refused or not completed.
var RuleWords = map[string]string{
	consent.RuleRole:          "their role does not allow them to see records",
	consent.RuleRecipient:     "their organisation is not in a sharing agreement",
	consent.RuleAgreement:     "no sharing agreement with your practice covered it",
	consent.RulePatientStatus: "your record was not available (registration status)",
	consent.RuleShareConsent:  "your practice has no consent from you to share your record",
	consent.RuleViewConsent:   "no consent from you to view was recorded (or emergency access was not permitted)",
	consent.RuleLaunch:        "it was outside the record their system had opened",
	"patient-resolution":      "your record was not available to their organisation",
	"registered-practice":     "they are not at your registered practice",
	"identity-mismatch":       "the record's identity could not be confirmed, so nothing was shown",
	"gp-system":               "your GP system could not be reached, so nothing was shown",
	"audit":                   "the access could not be recorded, so nothing was shown",
	"deny-by-default":         "no rule allowed it",
	"request":                 "the request was not valid",
	"mapping":                 "a fault in the gateway, so nothing was shown",
	"internal":                "a fault in the gateway, so nothing was shown",
	"other":                   "an access rule did not allow it",
}

// BuildPatientReport lists the accesses to q.NHSNumber's record recorded in
// the archived segments (any order) and the live store: the live store is
// searched by patient, segments are scanned. An event is in the report
// only when it names exactly that NHS number; unauthenticated attempts are
// counted, not listed.
func BuildPatientReport(ctx context.Context, live Store, archives []Scanner, q PatientReportQuery) (*PatientReport, error) {
	if !mig.ValidNHSNumber(q.NHSNumber) {
		return nil, &mig.Error{Code: mig.EINVALID, Issue: mig.IssueInvalidNHSNumber, Message: "NHS number must be 10 digits with a valid modulus 11 check digit"}
	}
	now := q.Now
	if now.IsZero() {
		now = time.Now()
	}
	rep := &PatientReport{NHSNumber: q.NHSNumber, From: q.From, To: q.To, Generated: now.UTC(),
		Practice: q.Practice, ShowTime: q.ShowTime, ShowNames: q.ShowNames}
	seen := map[uint64]bool{}
	var events []*Stored
	inRange := func(t time.Time) bool {
		return !t.Before(q.From) && (q.To.IsZero() || t.Before(q.To))
	}
	// An archived segment has no patient index: its bodies are read, and
	// only those holding the NHS number as a value are decoded.
	needle := []byte(`"value":"` + q.NHSNumber + `"`)
	for _, a := range archives {
		err := a.Scan(ctx, 0, func(st *Stored) error {
			if seen[st.Seq] || !bytes.Contains(st.Body, needle) {
				return nil
			}
			t, err := RecordedTime(st.Body)
			if err != nil {
				return fmt.Errorf("audit record %d: %w", st.Seq, err)
			}
			if inRange(t) {
				seen[st.Seq] = true
				events = append(events, st)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for after := uint64(0); ; {
		const page = 1000
		found, err := live.Search(ctx, Query{NHSNumber: q.NHSNumber, Since: q.From, Until: q.To, AfterSeq: after, Limit: page})
		if err != nil {
			return nil, err
		}
		for _, st := range found {
			after = st.Seq
			if !seen[st.Seq] {
				seen[st.Seq] = true
				events = append(events, st)
			}
		}
		if len(found) < page {
			break
		}
	}
	sort.Slice(events, func(i, j int) bool { return events[i].Seq < events[j].Seq })

	var rows []PatientAccess
	for _, st := range events {
		a, kept, err := accessOf(st.Body, &q)
		if err != nil {
			return nil, fmt.Errorf("audit record %d: %w", st.Seq, err)
		}
		switch kept {
		case keptUnauthenticated:
			rep.UnauthenticatedLeftOut++
		case keptElsewhere:
			rep.ElsewhereLeftOut++
		case keptYes:
			rows = append(rows, a)
		}
	}
	rep.Accesses = merge(rows)
	return rep, nil
}

type keep int

const (
	keptNo keep = iota
	keptYes
	keptUnauthenticated
	keptElsewhere
)

// accessOf reads one stored AuditEvent as a report line, with the report's
// detail, and says whether it belongs in the report.
func accessOf(body []byte, q *PatientReportQuery) (PatientAccess, keep, error) {
	var a PatientAccess
	d, err := Decode(body)
	if err != nil {
		return a, keptNo, err
	}
	if d.NHSNumber != q.NHSNumber {
		return a, keptNo, nil
	}
	rule, _, _ := strings.Cut(d.OutcomeDesc, " ")
	if d.UserID == "" && d.OrgODS == "" && d.RoleCode == "" || rule == consent.RuleAuthentication {
		// No verified principal: nobody known looked, and what a failed
		// token claimed is not evidence of anyone.
		return a, keptUnauthenticated, nil
	}
	if q.Practice != "" && d.Practice != "" && d.Practice != q.Practice {
		return a, keptElsewhere, nil
	}
	var ae auditEvent
	if err := json.Unmarshal(body, &ae); err != nil {
		return a, keptNo, invalid("body is not an AuditEvent")
	}
	op, resource, query := requestOf(&ae)

	local := d.Time.In(record.UKTime)
	a.Day = local.Format(time.DateOnly)
	if q.ShowTime {
		a.Time = local.Format("15:04")
	}
	if odsCode(d.OrgODS) {
		a.Org = d.OrgODS
		a.OrgName = orgName(q.OrgNames[d.OrgODS])
	}
	a.Role = roleCategory(d.RoleCode)
	if q.ShowNames {
		a.Name = personName(d.UserName)
	}
	a.Asked = asked(op, resource, query)
	switch d.Consent {
	case "given", "refused", "emergency", "none":
		a.Consent = d.Consent
	}
	if d.Emergency || a.Consent == "emergency" {
		a.Consent = "emergency"
		a.Reason = "unspecified"
		if _, ok := EmergencyWords[d.EmergencyReason]; ok {
			a.Reason = d.EmergencyReason
		}
	}
	switch a.Rule = knownRule(rule); {
	case d.Outcome == OutcomeSuccess:
		a.Outcome, a.Rule = AccessAllowed, ""
		a.Shown = shown(d.Released)
	case accessRules[a.Rule] || a.Rule == "other" && d.Type == TypeSecurity:
		// An access rule said no (some answer 404, the one not-found
		// answer, and are not security alerts: still a refusal).
		a.Outcome = AccessRefused
	default:
		a.Outcome = AccessNotCompleted // a bad request or a fault
	}
	a.Count = 1
	return a, keptYes, nil
}

// accessRules are the rules that refuse access (the others name a bad
// request or a fault).
var accessRules = map[string]bool{
	consent.RuleRole: true, consent.RuleRecipient: true, consent.RuleAgreement: true, consent.RulePatientStatus: true,
	consent.RuleShareConsent: true, consent.RuleViewConsent: true, consent.RuleLaunch: true,
	"patient-resolution": true, "registered-practice": true, "deny-by-default": true,
}

func knownRule(rule string) string {
	if _, ok := RuleWords[rule]; ok {
		return rule
	}
	return "other"
}

// requestOf reads the request's operation, requested type and query from
// an AuditEvent's entities.
func requestOf(ae *auditEvent) (op, resource, query string) {
	for _, en := range ae.Entity {
		switch {
		case en.Role != nil && en.Role.Code == "24":
			if b, err := base64.StdEncoding.DecodeString(en.Query); err == nil {
				query = string(b)
			}
		case en.Role == nil && en.What == nil:
			for _, dt := range en.Detail {
				switch dt.Type {
				case "operation":
					op = dt.ValueString
				case "requested-type":
					resource = dt.ValueString
				}
			}
		}
	}
	return op, resource, query
}

// asked says what a request asked for, from codes only: a view named in
// the query counts only if it is one of the ten views, a type only if the
// gateway serves it.
func asked(op, resource, query string) []Part {
	switch consent.Operation(op) {
	case consent.OpView:
		_, raw, _ := strings.Cut(query, "?")
		if p, err := url.ParseQuery(raw); err == nil {
			if v, ok := record.ParseView(p.Get("view")); ok {
				return []Part{{PartView, string(v)}}
			}
		}
		return []Part{{PartActivity, "view"}}
	case consent.OpEverything:
		// $summary (the IPS document) runs as $everything does.
		if path, _, _ := strings.Cut(query, "?"); strings.HasSuffix(path, "/$summary") {
			return []Part{{PartActivity, "summary"}}
		}
		return []Part{{PartActivity, "everything"}}
	case consent.OpRead, consent.OpSearch:
		if _, ok := TypeWords[resource]; ok {
			return []Part{{PartType, resource}}
		}
		return []Part{{PartActivity, "record"}}
	case consent.OpConsentRecord:
		return []Part{{PartActivity, "consent-record"}}
	case consent.OpConsentSearch:
		return []Part{{PartActivity, "consent-search"}}
	case consent.OpAuditSearch, consent.OpAuditExport:
		return []Part{{PartActivity, "audit-trail"}}
	case consent.OpAccessReport:
		return []Part{{PartActivity, "access-report"}}
	case consent.OpLaunchCreate, consent.OpLaunchRedeem:
		return []Part{{PartActivity, "launch"}}
	}
	return []Part{{PartActivity, "other"}}
}

// shown lists the released kinds the report can name, by type; other
// types (an OperationOutcome saying something was withheld) are not items
// of the record.
func shown(released map[string]int) []Shown {
	var out []Shown
	for t, n := range released {
		if _, ok := TypeWords[t]; ok && n > 0 {
			out = append(out, Shown{Type: t, Count: n})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// odsCode: an organisation code as ODS writes them.
func odsCode(s string) bool {
	if len(s) < 3 || len(s) > 10 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// orgName keeps a configured organisation name if it has the shape of one:
// letters, digits, spaces and & ' - . , ( ) /, at most 100 characters.
func orgName(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 100 {
		return ""
	}
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(" &'-.,()/", r)) {
			return ""
		}
	}
	return s
}

// personName keeps a user's name from the token only in the shape of a
// person's name: letters (any script), spaces, hyphens, apostrophes and
// full stops, no digits, at most 70 characters and six words. Anything
// else (a sentence, a number, markup) is not shown.
func personName(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" || len(s) > 70 || len(strings.Fields(s)) > 6 {
		return ""
	}
	letters := 0
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			letters++
		case strings.ContainsRune(" -'.", r):
		default:
			return ""
		}
	}
	if letters == 0 {
		return ""
	}
	return s
}

// key is what makes two lines the same at the report's level of detail.
func (a *PatientAccess) key() string {
	var b strings.Builder
	for _, s := range []string{a.Day, a.Time, a.Org, a.OrgName, a.Role, a.Name, a.Consent, a.Reason, a.Outcome, a.Rule} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	for _, p := range a.Asked {
		b.WriteString(p.Kind + ":" + p.Code)
		b.WriteByte(0)
	}
	return b.String()
}

// merge joins lines that look the same, adding their counts and what was
// shown, in the order of each line's first access.
func merge(rows []PatientAccess) []PatientAccess {
	idx := map[string]int{}
	var out []PatientAccess
	for _, r := range rows {
		k := r.key()
		i, ok := idx[k]
		if !ok {
			idx[k] = len(out)
			r.Shown = append([]Shown(nil), r.Shown...)
			out = append(out, r)
			continue
		}
		m := &out[i]
		m.Count += r.Count
		for _, s := range r.Shown {
			found := false
			for j := range m.Shown {
				if m.Shown[j].Type == s.Type {
					m.Shown[j].Count += s.Count
					found = true
				}
			}
			if !found {
				m.Shown = append(m.Shown, s)
			}
		}
		sort.Slice(m.Shown, func(a, b int) bool { return m.Shown[a].Type < m.Shown[b].Type })
	}
	return out
}

// Redact returns the report with less detail: times and names are dropped
// unless asked for, and lines that then look the same are merged. Asking
// for detail the report does not hold is an error.
func (r *PatientReport) Redact(showTime, showNames bool) (*PatientReport, error) {
	if showTime && !r.ShowTime {
		return nil, mig.Errorf(mig.EINVALID, "the report does not hold times of day")
	}
	if showNames && !r.ShowNames {
		return nil, mig.Errorf(mig.EINVALID, "the report does not hold names")
	}
	out := *r
	out.ShowTime, out.ShowNames = showTime, showNames
	rows := make([]PatientAccess, len(r.Accesses))
	copy(rows, r.Accesses)
	for i := range rows {
		if !showTime {
			rows[i].Time = ""
		}
		if !showNames {
			rows[i].Name = ""
		}
	}
	out.Accesses = merge(rows)
	return &out, nil
}
