package record

import "time"

// View is one of the ten MIG views (REFERENCE.md). Each view is one rule in
// the table below: adding a view is adding one row here.
type View string

const (
	ViewSummary        View = "summary"
	ViewProblems       View = "problems"
	ViewDiagnoses      View = "diagnoses"
	ViewMedication     View = "medication"
	ViewRisks          View = "risks"
	ViewProcedures     View = "procedures"
	ViewInvestigations View = "investigations"
	ViewExamination    View = "examination"
	ViewEvents         View = "events"
	ViewDemographics   View = "demographics"
)

// ViewContext holds what the time-bound view rules need.
type ViewContext struct {
	Now         time.Time
	RecentTests time.Duration // Summary "recent tests": default 365 days
	RecentAcute time.Duration // Summary acute issues: default 28 days
}

// DefaultViewContext returns the periods REFERENCE.md names, at now.
func DefaultViewContext(now time.Time) ViewContext {
	return ViewContext{Now: now, RecentTests: 365 * 24 * time.Hour, RecentAcute: 28 * 24 * time.Hour}
}

// ViewRule says which entries a view holds. The Patient resource is in every
// view (it carries the identity every view's banner shows); Includes decides
// for entries.
type ViewRule struct {
	View     View
	Title    string
	Includes func(e *Entry, ctx ViewContext) bool
}

// Views is the table of the ten MIG views, in the order the viewer shows them.
var Views = []ViewRule{
	{ViewSummary, "Summary", inSummary},
	{ViewProblems, "Problems", kinds(KindProblem)},
	{ViewDiagnoses, "Diagnoses", kinds(KindDiagnosis)},
	{ViewMedication, "Medication", kinds(KindMedicationAuthorisation, KindMedicationIssue)},
	{ViewRisks, "Risks and warnings", kinds(KindRisk)},
	{ViewProcedures, "Procedures", kinds(KindProcedure, KindImmunisation)},
	{ViewInvestigations, "Investigations", kinds(KindInvestigation)},
	{ViewExamination, "Examination", kinds(KindBloodPressure)},
	{ViewEvents, "Events", kinds(KindEncounter, KindAdmission, KindReferral)},
	{ViewDemographics, "Demographics", func(*Entry, ViewContext) bool { return false }},
}

// ParseView returns the view named s.
func ParseView(s string) (View, bool) {
	for _, r := range Views {
		if string(r.View) == s {
			return r.View, true
		}
	}
	return "", false
}

// AllViews lists the ten views.
func AllViews() []View {
	v := make([]View, len(Views))
	for i, r := range Views {
		v[i] = r.View
	}
	return v
}

func kinds(ks ...Kind) func(*Entry, ViewContext) bool {
	return func(e *Entry, _ ViewContext) bool {
		for _, k := range ks {
			if e.Kind == k {
				return true
			}
		}
		return false
	}
}

// inSummary: active problems (confirmed, not potential ones), current medication (authorisations neither
// ended nor discontinued, plus acute issues in the recent-acute period),
// active allergies (and coded "no known allergies"), and investigations in
// the recent-tests period.
func inSummary(e *Entry, ctx ViewContext) bool {
	if e.Planned {
		return false // the Summary shows what is, not what is planned
	}
	switch e.Kind {
	case KindProblem:
		return e.Status == StatusActive && (e.Problem == nil || !e.Problem.Provisional)
	case KindMedicationAuthorisation:
		return currentAuthorisation(e, ctx)
	case KindMedicationIssue:
		return e.Medication != nil && e.Medication.Type == PrescriptionAcute && within(e.Effective, ctx.Now, ctx.RecentAcute)
	case KindAllergy:
		// Exactly the allergies the mapper shows as active.
		return e.Status == StatusActive || e.Status == StatusUnknown
	case KindInvestigation:
		return within(e.Effective, ctx.Now, ctx.RecentTests)
	}
	return false
}

// currentAuthorisation reports whether an authorisation is current medication:
// not discontinued or completed (an unknown status counts as current: better
// shown than missed), and not ended by its end date. An acute authorisation
// with no end date is a single course: it is current only while it started
// within the recent-acute period, as an acute issue is; otherwise a one-off
// course from years ago would stand in the Summary as a drug taken today.
func currentAuthorisation(e *Entry, ctx ViewContext) bool {
	if e.Status != StatusActive && e.Status != StatusUnknown {
		return false
	}
	if !e.End.IsZero() {
		// An end date covers its whole day (or month, or year).
		return !e.End.Until().Before(ctx.Now)
	}
	if e.Medication != nil && e.Medication.Type == PrescriptionAcute {
		return within(e.Effective, ctx.Now, ctx.RecentAcute)
	}
	return true
}

func within(d Date, now time.Time, period time.Duration) bool {
	if d.IsZero() {
		return false
	}
	return !d.T.Before(now.Add(-period)) && !d.T.After(now.Add(24*time.Hour))
}

// Tag sets every entry's Views from the view rules. It is called once per
// record, at mapping.
func Tag(r *Record, ctx ViewContext) {
	for i := range r.Entries {
		e := &r.Entries[i]
		e.Views = e.Views[:0]
		if e.NotShown == RuleContradicted {
			e.NotShown = RuleNone // judged again below
		}
		if e.Kind == KindNone {
			continue
		}
		for _, rule := range Views {
			if rule.Includes(e, ctx) {
				e.Views = append(e.Views, rule.View)
			}
		}
	}
	supersedeNoKnownAllergy(r)
}

// supersedeNoKnownAllergy takes a coded "no known allergies" out of the
// Summary when the record also holds an allergy the Summary shows: the two
// contradict each other, and the allergy is what a clinician must not miss.
// A "no known allergies" then stands in no view, so it is not shown, and is
// marked RuleContradicted: set aside by a rule, not withheld information.
func supersedeNoKnownAllergy(r *Record) {
	allergic := false
	for i := range r.Entries {
		e := &r.Entries[i]
		if e.Kind == KindAllergy && (e.Allergy == nil || e.Allergy.Category != AllergyNoKnown) && e.InView(ViewSummary) {
			allergic = true
			break
		}
	}
	if !allergic {
		return
	}
	for i := range r.Entries {
		e := &r.Entries[i]
		if e.Kind != KindAllergy || e.Allergy == nil || e.Allergy.Category != AllergyNoKnown {
			continue
		}
		kept := e.Views[:0]
		for _, v := range e.Views {
			if v != ViewSummary {
				kept = append(kept, v)
			}
		}
		e.Views = kept
		e.NotShown = RuleContradicted
	}
}
