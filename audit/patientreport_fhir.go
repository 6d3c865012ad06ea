package audit

import (
	"encoding/json"
	"sort"
	"time"

	"mig"
	"mig/adapters/record"
)

// Code systems of the patient access report, as a FHIR Parameters
// resource (the answer of GET /fhir/Patient/$mig-access-report).
const (
	SystemMigView           = "https://mig.example.nhs.uk/CodeSystem/mig-view"
	SystemResourceTypes     = "http://hl7.org/fhir/resource-types"
	SystemRoleCategory      = "https://mig.example.nhs.uk/CodeSystem/staff-role-category"
	SystemAccessActivity    = "https://mig.example.nhs.uk/CodeSystem/access-activity"
	SystemViewConsentStatus = "https://mig.example.nhs.uk/CodeSystem/view-consent-status"
	SystemAccessOutcome     = "https://mig.example.nhs.uk/CodeSystem/access-outcome"
	SystemAccessRule        = "https://mig.example.nhs.uk/CodeSystem/access-rule"
)

// OutcomeWords says each access outcome.
var OutcomeWords = map[string]string{
	AccessAllowed:      "shown",
	AccessRefused:      "refused",
	AccessNotCompleted: "not completed",
}

// ViewWords says a view, from the view table.
func ViewWords(v string) string {
	for _, r := range record.Views {
		if string(r.View) == v {
			return r.Title + " view"
		}
	}
	return ActivityWords["view"]
}

// PartWords says one thing a request asked for.
func PartWords(p Part) string {
	switch p.Kind {
	case PartView:
		return ViewWords(p.Code)
	case PartType:
		if w, ok := TypeWords[p.Code]; ok {
			return w
		}
	case PartActivity:
		if w, ok := ActivityWords[p.Code]; ok {
			return w
		}
	}
	return ActivityWords["other"]
}

// param is one Parameters.parameter (or part), in the few value types the
// report uses.
type param struct {
	Name            string      `json:"name"`
	ValueBoolean    *bool       `json:"valueBoolean,omitempty"`
	ValueInteger    *int        `json:"valueInteger,omitempty"`
	ValueString     string      `json:"valueString,omitempty"`
	ValueDate       string      `json:"valueDate,omitempty"`
	ValueDateTime   string      `json:"valueDateTime,omitempty"`
	ValueTime       string      `json:"valueTime,omitempty"`
	ValueIdentifier *identifier `json:"valueIdentifier,omitempty"`
	ValueCoding     *coding     `json:"valueCoding,omitempty"`
	Part            []param     `json:"part,omitempty"`
}

type parameters struct {
	ResourceType string  `json:"resourceType"`
	Parameter    []param `json:"parameter"`
}

func pBool(name string, v bool) param { return param{Name: name, ValueBoolean: &v} }
func pInt(name string, v int) param   { return param{Name: name, ValueInteger: &v} }
func pCoding(name, system, code, display string) param {
	return param{Name: name, ValueCoding: &coding{System: system, Code: code, Display: display}}
}

// FirstDay and LastDay are the report's period as UK days ("" when open):
// From is the first day's start, To the start of the day after the last.
func (r *PatientReport) FirstDay() string {
	if r.From.IsZero() {
		return ""
	}
	return r.From.In(record.UKTime).Format(time.DateOnly)
}

// LastDay is the last day the report covers ("" when open).
func (r *PatientReport) LastDay() string {
	if r.To.IsZero() {
		return ""
	}
	return r.To.Add(-time.Nanosecond).In(record.UKTime).Format(time.DateOnly)
}

// UKDay returns the start of the UK day s (YYYY-MM-DD).
func UKDay(s string) (time.Time, error) {
	t, err := time.ParseInLocation(time.DateOnly, s, record.UKTime)
	if err != nil {
		return time.Time{}, mig.Errorf(mig.EINVALID, "a date must be YYYY-MM-DD")
	}
	return t.UTC(), nil
}

// Parameters returns the report as a FHIR R4 Parameters resource: the
// patient, the period, what the report shows, the counts left out, and one
// access parameter per line, every detail a coding of ours (displays in
// plain words) but the organisation's configured name and, when shown, the
// user's name.
func (r *PatientReport) Parameters() ([]byte, error) {
	p := parameters{ResourceType: "Parameters"}
	add := func(x param) { p.Parameter = append(p.Parameter, x) }
	add(param{Name: "patient", ValueIdentifier: &identifier{System: SystemNHSNumber, Value: r.NHSNumber}})
	add(param{Name: "generated", ValueDateTime: r.Generated.UTC().Truncate(time.Second).Format(time.RFC3339)})
	if d := r.FirstDay(); d != "" {
		add(param{Name: "periodStart", ValueDate: d})
	}
	if d := r.LastDay(); d != "" {
		add(param{Name: "periodEnd", ValueDate: d})
	}
	if r.Practice != "" {
		add(param{Name: "practice", ValueIdentifier: &identifier{System: SystemODS, Value: r.Practice}})
	}
	add(pBool("showsTime", r.ShowTime))
	add(pBool("showsNames", r.ShowNames))
	add(pInt("unauthenticatedLeftOut", r.UnauthenticatedLeftOut))
	add(pInt("elsewhereLeftOut", r.ElsewhereLeftOut))
	for _, a := range r.Accesses {
		x := param{Name: "access"}
		part := func(y param) { x.Part = append(x.Part, y) }
		part(param{Name: "date", ValueDate: a.Day})
		if a.Time != "" {
			part(param{Name: "time", ValueTime: a.Time + ":00"})
		}
		if a.Org != "" {
			part(param{Name: "organization", ValueIdentifier: &identifier{System: SystemODS, Value: a.Org}})
		}
		if a.OrgName != "" {
			part(param{Name: "organizationName", ValueString: a.OrgName})
		}
		part(pCoding("role", SystemRoleCategory, a.Role, RoleCategories[a.Role]))
		if a.Name != "" {
			part(param{Name: "name", ValueString: a.Name})
		}
		for _, k := range a.Asked {
			sys := map[string]string{PartView: SystemMigView, PartType: SystemResourceTypes, PartActivity: SystemAccessActivity}[k.Kind]
			part(pCoding("asked", sys, k.Code, PartWords(k)))
		}
		for _, s := range a.Shown {
			part(param{Name: "shown", Part: []param{pCoding("type", SystemResourceTypes, s.Type, TypeWords[s.Type]), pInt("count", s.Count)}})
		}
		if a.Consent != "" {
			part(pCoding("consent", SystemViewConsentStatus, a.Consent, ConsentWords[a.Consent]))
		}
		if a.Reason != "" {
			part(pCoding("emergencyReason", SystemEmergencyReason, a.Reason, EmergencyWords[a.Reason]))
		}
		part(pCoding("outcome", SystemAccessOutcome, a.Outcome, OutcomeWords[a.Outcome]))
		if a.Rule != "" {
			part(pCoding("reason", SystemAccessRule, a.Rule, RuleWords[a.Rule]))
		}
		part(pInt("count", a.Count))
		add(x)
	}
	return json.Marshal(&p)
}

// ParsePatientReport reads a report from its Parameters form (as a gateway
// answered it). It keeps codes only where the report's tables know them
// (an unknown one reads as "other"), and names only in the shape the
// report shows them, so what it renders is what this build would have said.
func ParsePatientReport(b []byte) (*PatientReport, error) {
	var p parameters
	bad := func(what string) error {
		return mig.Errorf(mig.EINVALID, "not a patient access report: %s", what)
	}
	if err := json.Unmarshal(b, &p); err != nil || p.ResourceType != "Parameters" {
		return nil, bad("not a Parameters resource")
	}
	r := &PatientReport{}
	code := func(x param) string {
		if x.ValueCoding == nil {
			return ""
		}
		return x.ValueCoding.Code
	}
	for _, x := range p.Parameter {
		switch x.Name {
		case "patient":
			if x.ValueIdentifier == nil || !mig.ValidNHSNumber(x.ValueIdentifier.Value) {
				return nil, bad("no valid NHS number")
			}
			r.NHSNumber = x.ValueIdentifier.Value
		case "generated":
			t, err := time.Parse(time.RFC3339, x.ValueDateTime)
			if err != nil {
				return nil, bad("bad generated time")
			}
			r.Generated = t.UTC()
		case "periodStart", "periodEnd":
			t, err := UKDay(x.ValueDate)
			if err != nil {
				return nil, bad("bad " + x.Name + " date")
			}
			if x.Name == "periodStart" {
				r.From = t
			} else {
				r.To = t.In(record.UKTime).AddDate(0, 0, 1).UTC()
			}
		case "practice":
			if x.ValueIdentifier != nil && odsCode(x.ValueIdentifier.Value) {
				r.Practice = x.ValueIdentifier.Value
			}
		case "showsTime":
			r.ShowTime = x.ValueBoolean != nil && *x.ValueBoolean
		case "showsNames":
			r.ShowNames = x.ValueBoolean != nil && *x.ValueBoolean
		case "unauthenticatedLeftOut":
			if x.ValueInteger != nil && *x.ValueInteger >= 0 {
				r.UnauthenticatedLeftOut = *x.ValueInteger
			}
		case "elsewhereLeftOut":
			if x.ValueInteger != nil && *x.ValueInteger >= 0 {
				r.ElsewhereLeftOut = *x.ValueInteger
			}
		case "access":
			a := PatientAccess{Count: 1}
			for _, y := range x.Part {
				switch y.Name {
				case "date":
					if _, err := time.Parse(time.DateOnly, y.ValueDate); err != nil {
						return nil, bad("bad access date")
					}
					a.Day = y.ValueDate
				case "time":
					t, err := time.Parse("15:04:05", y.ValueTime)
					if err != nil {
						return nil, bad("bad access time")
					}
					a.Time = t.Format("15:04")
				case "organization":
					if y.ValueIdentifier != nil && odsCode(y.ValueIdentifier.Value) {
						a.Org = y.ValueIdentifier.Value
					}
				case "organizationName":
					a.OrgName = orgName(y.ValueString)
				case "role":
					a.Role = "other"
					if _, ok := RoleCategories[code(y)]; ok {
						a.Role = code(y)
					}
				case "name":
					a.Name = personName(y.ValueString)
				case "asked":
					a.Asked = append(a.Asked, partOf(y.ValueCoding))
				case "shown":
					var s Shown
					for _, z := range y.Part {
						switch z.Name {
						case "type":
							s.Type = code(z)
						case "count":
							if z.ValueInteger != nil {
								s.Count = *z.ValueInteger
							}
						}
					}
					if _, ok := TypeWords[s.Type]; ok && s.Count > 0 {
						a.Shown = append(a.Shown, s)
					}
				case "consent":
					if _, ok := ConsentWords[code(y)]; ok {
						a.Consent = code(y)
					}
				case "emergencyReason":
					a.Reason = "unspecified"
					if _, ok := EmergencyWords[code(y)]; ok {
						a.Reason = code(y)
					}
				case "outcome":
					if _, ok := OutcomeWords[code(y)]; !ok {
						return nil, bad("unknown outcome")
					}
					a.Outcome = code(y)
				case "reason":
					a.Rule = knownRule(code(y))
				case "count":
					if y.ValueInteger == nil || *y.ValueInteger < 1 {
						return nil, bad("bad count")
					}
					a.Count = *y.ValueInteger
				}
			}
			if a.Day == "" || a.Outcome == "" || a.Role == "" {
				return nil, bad("an access without date, role or outcome")
			}
			if !r.ShowTime {
				a.Time = ""
			}
			if !r.ShowNames {
				a.Name = ""
			}
			sort.Slice(a.Shown, func(i, j int) bool { return a.Shown[i].Type < a.Shown[j].Type })
			r.Accesses = append(r.Accesses, a)
		}
	}
	if r.NHSNumber == "" {
		return nil, bad("no patient")
	}
	return r, nil
}

// partOf reads an asked coding back; anything unknown is "other".
func partOf(c *coding) Part {
	other := Part{PartActivity, "other"}
	if c == nil {
		return other
	}
	switch c.System {
	case SystemMigView:
		if v, ok := record.ParseView(c.Code); ok {
			return Part{PartView, string(v)}
		}
	case SystemResourceTypes:
		if _, ok := TypeWords[c.Code]; ok {
			return Part{PartType, c.Code}
		}
	case SystemAccessActivity:
		if _, ok := ActivityWords[c.Code]; ok {
			return Part{PartActivity, c.Code}
		}
	}
	return other
}
