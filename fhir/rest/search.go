package rest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"mig"
	"mig/adapters/record"
	"mig/consent"
	"mig/fhir"
)

// searchParam is one search parameter a type supports.
type searchParam struct {
	Name, Type, Doc string
	match           func(e *record.Entry, typ, value string) (bool, error)
}

// clinicalTypes are the resource types the mapper produces, with their
// search parameters (besides patient, _count, _page, _format).
var clinicalTypes = map[string][]searchParam{
	"Patient":             nil,
	"Condition":           {clinicalStatus, conditionCategory, codeParam("code"), dateParam("onset-date")},
	"MedicationStatement": {medStatus, codeParam("code"), dateParam("effective")},
	"MedicationRequest":   {medStatus, intentParam, codeParam("code"), dateParam("authoredon")},
	"AllergyIntolerance":  {clinicalStatus, codeParam("code"), dateParam("date")},
	"Observation":         {observationCategory, codeParam("code"), componentCodeParam, dateParam("date")},
	"Procedure":           {codeParam("code"), dateParam("date")},
	"Immunization":        {codeParam("vaccine-code"), dateParam("date")},
	"Flag":                {dateParam("date")},
	"Encounter":           {codeParam("type"), dateParam("date")},
	"ServiceRequest":      {requestStatus, codeParam("code"), dateParam("authored")},
}

// typeNames lists the clinical types in a stable order.
func typeNames() []string {
	names := make([]string, 0, len(clinicalTypes))
	for n := range clinicalTypes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func invalidParam(format string, args ...any) error {
	e := mig.Errorf(mig.EINVALID, format, args...)
	e.Issue = mig.IssueInvalidParameter
	return e
}

var clinicalStatus = searchParam{Name: "clinical-status", Type: "token", Doc: "active | inactive | resolved",
	match: func(e *record.Entry, _, v string) (bool, error) {
		switch v {
		case "active":
			return e.Status == record.StatusActive || (e.Kind == record.KindAllergy && e.Status == record.StatusUnknown), nil
		case "inactive":
			return e.Status == record.StatusInactive, nil
		case "resolved":
			return e.Status == record.StatusResolved, nil
		}
		return false, invalidParam("clinical-status must be active, inactive or resolved")
	}}

var conditionCategory = searchParam{Name: "category", Type: "token", Doc: "problem-list-item | encounter-diagnosis",
	match: func(e *record.Entry, _, v string) (bool, error) {
		_, v = splitToken(v)
		switch v {
		case "problem-list-item":
			return e.Kind == record.KindProblem, nil
		case "encounter-diagnosis":
			return e.Kind == record.KindDiagnosis, nil
		}
		return false, invalidParam("category must be problem-list-item or encounter-diagnosis")
	}}

var observationCategory = searchParam{Name: "category", Type: "token", Doc: "vital-signs | laboratory | imaging",
	match: func(e *record.Entry, _, v string) (bool, error) {
		_, v = splitToken(v)
		switch v {
		case "vital-signs":
			return e.Kind == record.KindBloodPressure, nil
		case "laboratory", "imaging":
			return e.Kind == record.KindInvestigation && fhir.ObservationCategory(e) == v, nil
		}
		return false, invalidParam("category must be vital-signs, laboratory or imaging")
	}}

var medStatus = searchParam{Name: "status", Type: "token", Doc: "active | completed | stopped",
	match: func(e *record.Entry, _, v string) (bool, error) {
		var st string
		switch {
		case e.Kind == record.KindMedicationIssue:
			st = "completed"
		case e.Status == record.StatusCompleted:
			st = "completed"
		case e.Status == record.StatusStopped:
			st = "stopped"
		default:
			st = "active"
		}
		switch v {
		case "active", "completed", "stopped":
			return st == v, nil
		}
		return false, invalidParam("status must be active, completed or stopped")
	}}

var intentParam = searchParam{Name: "intent", Type: "token", Doc: "plan (authorisations) | order (issues)",
	match: func(e *record.Entry, _, v string) (bool, error) {
		switch v {
		case "plan":
			return e.Kind == record.KindMedicationAuthorisation, nil
		case "order":
			return e.Kind == record.KindMedicationIssue, nil
		}
		return false, invalidParam("intent must be plan or order")
	}}

var requestStatus = searchParam{Name: "status", Type: "token", Doc: "active | completed | revoked | unknown",
	match: func(e *record.Entry, _, v string) (bool, error) {
		switch v {
		case "active", "completed", "revoked", "unknown":
			return fhir.ServiceRequestStatus(e) == v, nil
		}
		return false, invalidParam("status must be active, completed, revoked or unknown")
	}}

func codeParam(name string) searchParam {
	return searchParam{Name: name, Type: "token", Doc: "[system|]code; Read v2 codes match with or without their term suffix",
		match: func(e *record.Entry, _, v string) (bool, error) {
			return matchCode(name, v, fhir.Codes(e))
		}}
}

// componentCodeParam finds blood pressure readings by the code of either
// half (LOINC 8480-6 / 8462-4, or the code the GP system recorded, e.g.
// Read 246Q. sitting systolic).
var componentCodeParam = searchParam{Name: "component-code", Type: "token",
	Doc: "[system|]code of a blood pressure half: LOINC 8480-6 / 8462-4 or the code as recorded",
	match: func(e *record.Entry, _, v string) (bool, error) {
		if e.Kind != record.KindBloodPressure {
			_, err := matchCode("component-code", v, record.Concept{})
			return false, err
		}
		sys := record.Concept{Codings: append(append([]record.Coding{{System: record.SystemLOINC, Code: "8480-6"}}, e.SystolicCode.Codings...),
			record.Coding{System: record.SystemLOINC, Code: "8462-4"})}
		sys.Codings = append(sys.Codings, e.DiastolicCode.Codings...)
		return matchCode("component-code", v, sys)
	}}

// matchCode reports whether a token search value names a coding of c.
func matchCode(name, v string, c record.Concept) (bool, error) {
	sys, code := splitToken(v)
	if code == "" {
		return false, invalidParam("%s needs a code", name)
	}
	for _, cd := range c.Codings {
		if sys != "" && cd.System != sys {
			continue
		}
		if cd.Code == code || (cd.System == record.SystemReadV2 && record.ReadV2Base(cd.Code) == record.ReadV2Base(code)) {
			return true, nil
		}
	}
	return false, nil
}

// dateDoc is what a date search parameter takes.
const dateDoc = "[eq|ne|gt|lt|ge|le|sa|eb]YYYY[-MM[-DD[Thh:mm[:ss[.fff]](Z|+hh:mm|-hh:mm)]]]; a date-time needs its zone"

func dateParam(name string) searchParam {
	return searchParam{Name: name, Type: "date", Doc: dateDoc,
		match: func(e *record.Entry, _, v string) (bool, error) {
			prefix, lo, hi, err := parseDate(v)
			if err != nil {
				return false, invalidParam("%s: %s", name, err.Error())
			}
			d := e.Effective
			if d.IsZero() {
				d = e.Recorded
			}
			if d.IsZero() {
				return false, nil
			}
			rlo, rhi := dateRange(d)
			return dateMatches(prefix, lo, hi, rlo, rhi), nil
		}}
}

// dateRange is the half-open interval a recorded date denotes at its
// precision: a date recorded to the day covers the whole day.
func dateRange(d record.Date) (lo, hi time.Time) {
	switch d.P {
	case record.PrecisionMinute:
		return d.T, d.T.Add(time.Minute)
	case record.PrecisionSecond:
		return d.T, d.T.Add(time.Second)
	}
	return d.T, d.Until()
}

// dateMatches reports whether a target range [rlo, rhi) relates to the
// search range [lo, hi) as the prefix says (FHIR R4 search, "date"):
// eq the search range contains the target, ne it does not, gt / lt the
// target reaches beyond / before the search range, ge / le either that or
// eq, sa the target starts after the search range ends, eb the target ends
// before it starts.
func dateMatches(prefix string, lo, hi, rlo, rhi time.Time) bool {
	eq := !rlo.Before(lo) && !rhi.After(hi)
	switch prefix {
	case "ne":
		return !eq
	case "gt":
		return rhi.After(hi)
	case "lt":
		return rlo.Before(lo)
	case "ge":
		return rhi.After(hi) || eq
	case "le":
		return rlo.Before(lo) || eq
	case "sa":
		return !rlo.Before(hi)
	case "eb":
		return !rhi.After(lo)
	default:
		return eq
	}
}

// datePrefixes are the FHIR date search prefixes served ("ap", approximately,
// is not: it has no exact meaning an audit reader could check).
var datePrefixes = map[string]bool{"eq": true, "ne": true, "gt": true, "lt": true, "ge": true, "le": true, "sa": true, "eb": true}

// parseDate reads a FHIR date search value into its prefix (eq when none is
// given) and the half-open interval [lo, hi) its precision denotes: a year,
// month or day (in UTC, as record dates are kept), or a date-time to the
// minute, second or fraction of a second, which must carry its zone (Z or
// an offset; a "+" sent unencoded in a URL arrives as a space and is read
// as "+").
func parseDate(v string) (prefix string, lo, hi time.Time, err error) {
	prefix = "eq"
	if len(v) >= 2 && datePrefixes[v[:2]] {
		prefix, v = v[:2], v[2:]
	}
	if len(v) > 10 && v[10] == 'T' {
		lo, hi, err = parseDateTime(v)
		if err != nil {
			return "", time.Time{}, time.Time{}, err
		}
		return prefix, lo, hi, nil
	}
	for _, f := range []struct {
		layout string
		add    func(time.Time) time.Time
	}{
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
	} {
		if len(v) == len(f.layout) {
			t, perr := time.Parse(f.layout, v)
			if perr == nil {
				return prefix, t, f.add(t), nil
			}
		}
	}
	return "", time.Time{}, time.Time{}, errDateSyntax
}

var errDateSyntax = mig.Errorf(mig.EINVALID, "dates must be YYYY, YYYY-MM, YYYY-MM-DD or a date-time YYYY-MM-DDThh:mm[:ss[.fff]] with its zone (Z, +hh:mm or -hh:mm), with an optional eq, ne, gt, lt, ge, le, sa or eb prefix")

// parseDateTime reads YYYY-MM-DDThh:mm[:ss[.f...]]zone into the interval
// its precision covers.
func parseDateTime(v string) (lo, hi time.Time, err error) {
	// An unencoded "+" in a query string is decoded as a space.
	if n := len(v); n > 6 && v[n-6] == ' ' && v[n-3] == ':' {
		v = v[:n-6] + "+" + v[n-5:]
	}
	zone := strings.IndexAny(v[11:], "Z+-")
	if zone < 0 {
		return lo, hi, mig.Errorf(mig.EINVALID, "a date-time must carry its zone: Z, +hh:mm or -hh:mm (URL-encode + as %%2B)")
	}
	clock := v[11 : 11+zone]
	step := time.Minute
	layout := "2006-01-02T15:04Z07:00"
	switch {
	case len(clock) == 5:
	case len(clock) == 8:
		step, layout = time.Second, "2006-01-02T15:04:05Z07:00"
	case len(clock) > 9 && len(clock) <= 18 && clock[8] == '.':
		step, layout = time.Second, "2006-01-02T15:04:05Z07:00"
		for range clock[9:] {
			step /= 10
		}
	default:
		return lo, hi, errDateSyntax
	}
	t, perr := time.Parse(layout, v)
	if perr != nil {
		return lo, hi, errDateSyntax
	}
	t = t.UTC()
	return t, t.Add(step), nil
}

func splitToken(v string) (system, code string) {
	if s, c, ok := strings.Cut(v, "|"); ok {
		return s, c
	}
	return "", v
}

// query is a parsed clinical search.
type query struct {
	filters []filter
	count   int
	offset  int
	shape   shaping
}

type filter struct {
	p      searchParam
	values []string // OR within one parameter occurrence (comma separated)
}

// common parameters every search takes.
var commonParams = map[string]bool{"_count": true, "_page": true, "_format": true, "patient": true, "_summary": true, "_elements": true}

// parseQuery checks every parameter against what typ supports: an unknown
// parameter is an error (strict handling), not silently ignored.
// scope is what a _page cursor must have been issued for (cursorScope).
func (s *Server) parseQuery(typ string, params url.Values, extra map[string]bool, scope string) (*query, error) {
	q := &query{count: s.DefaultCount}
	supported := map[string]searchParam{}
	for _, p := range clinicalTypes[typ] {
		supported[p.Name] = p
	}
	for name, vals := range params {
		if commonParams[name] || extra[name] {
			if err := onlyOnce(name, vals); err != nil {
				return nil, err
			}
			continue
		}
		p, ok := supported[name]
		if !ok {
			return nil, invalidParam("search parameter %q is not supported for %s; see GET /fhir/metadata", safeParam(name), typ)
		}
		for _, v := range vals {
			q.filters = append(q.filters, filter{p: p, values: strings.Split(v, ",")})
		}
	}
	sort.Slice(q.filters, func(i, j int) bool { return q.filters[i].p.Name < q.filters[j].p.Name })
	if vs, ok := params["_count"]; ok {
		// Present means given: an empty _count= is refused, not read as
		// the default, so the audit trail's query is what was served.
		v := ""
		if len(vs) > 0 {
			v = vs[0]
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > s.MaxCount {
			return nil, invalidParam("_count must be a whole number from 1 to %d", s.MaxCount)
		}
		q.count = n
	}
	if v := params.Get("_page"); v != "" {
		off, err := s.readCursor(v, scope, params)
		if err != nil {
			return nil, err
		}
		q.offset = off
	}
	var err error
	if q.shape, err = parseShaping(params); err != nil {
		return nil, err
	}
	// Check every value once, so a bad value is an error even when no
	// entry would have been tested against it.
	probe := &record.Entry{}
	for _, f := range q.filters {
		for _, v := range f.values {
			if _, err := f.p.match(probe, typ, v); err != nil {
				return nil, err
			}
		}
	}
	return q, nil
}

// matches reports whether an entry passes every filter.
func (q *query) matches(e *record.Entry, typ string) bool {
	if e == nil {
		return len(q.filters) == 0
	}
	for _, f := range q.filters {
		any := false
		for _, v := range f.values {
			if ok, _ := f.p.match(e, typ, v); ok {
				any = true
				break
			}
		}
		if !any {
			return false
		}
	}
	return true
}

func safeParam(name string) string {
	if len(name) > 40 {
		name = name[:40]
	}
	for _, r := range name {
		if !(r == '-' || r == '_' || r == ':' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "?"
		}
	}
	return name
}

// Paging cursors are opaque and bound to the search they page: the offset
// and an HMAC over the scope (the path, which names the type or the
// patient's operation, and the user it was issued to) and the query without
// _page. Each page is a full request that goes through access control and
// audit again.
func (s *Server) cursor(offset int, scope string, params url.Values) string {
	return s.cursor64(uint64(offset), scope, params)
}

// cursorScope is what a cursor is bound to besides its parameters: the
// search's path (POST .../_search and GET page alike) and the requester.
func cursorScope(path string, p *consent.Principal) string {
	path = strings.TrimSuffix(path, "/_search")
	if p == nil {
		return path
	}
	return path + "\x00" + p.UserID + "\x00" + p.OrgODS
}

func (s *Server) cursor64(pos uint64, scope string, params url.Values) string {
	b := make([]byte, 8, 20)
	binary.BigEndian.PutUint64(b, pos)
	b = append(b, s.cursorMAC(b[:8], scope, params)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) readCursor(v, scope string, params url.Values) (int, error) {
	pos, err := s.readCursor64(v, scope, params)
	if err != nil || pos > 1<<31 {
		return 0, invalidParam("_page is not a cursor this server issued for this search")
	}
	return int(pos), nil
}

func (s *Server) readCursor64(v, scope string, params url.Values) (uint64, error) {
	bad := invalidParam("_page is not a cursor this server issued for this search")
	// Strict: a cursor whose unused trailing bits were changed is not one
	// this server issued, even though it decodes to the same bytes.
	b, err := base64.RawURLEncoding.Strict().DecodeString(v)
	if err != nil || len(b) != 20 {
		return 0, bad
	}
	if !hmac.Equal(b[8:], s.cursorMAC(b[:8], scope, withoutPage(params))) {
		return 0, bad
	}
	return binary.BigEndian.Uint64(b[:8]), nil
}

func (s *Server) cursorMAC(off []byte, scope string, params url.Values) []byte {
	m := hmac.New(sha256.New, s.PageKey)
	m.Write(off)
	m.Write([]byte(strconv.Itoa(len(scope)) + ":" + scope + "&"))
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "_page" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		vs := append([]string(nil), params[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			m.Write([]byte(k + "=" + v + "&"))
		}
	}
	return m.Sum(nil)[:12]
}

// onlyOnce refuses a second value of a parameter that takes one: it would
// be silently ignored, and a reader of the audit trail could not tell which
// patient, page or view was meant.
func onlyOnce(name string, vals []string) error {
	if len(vals) > 1 {
		return invalidParam("search parameter %q may be given only once", safeParam(name))
	}
	return nil
}
