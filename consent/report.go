package consent

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"time"

	"mig"
	"mig/adapters/record"
)

// Report groups: the patients the sharing programme asked practices to set
// to share.
const (
	GroupUnder16           = "under-16"
	Group75WithCarePlan    = "75-and-over-with-care-plan"
	GroupLongTermCondition = "long-term-condition"
)

// ReportConfig configures the consent report.
type ReportConfig struct {
	ChildAge   int      `json:"childAge"`   // under this age: the children group (16)
	ElderlyAge int      `json:"elderlyAge"` // this age and over, with a care plan (75)
	CarePlan   CodeList `json:"carePlanCodes"`
	// LongTermConditions are register codes; Category names the register.
	LongTermConditions CodeList `json:"longTermConditionCodes"`
	// ShareCodes decide who has consent recorded; nil = DefaultShareCodes.
	ShareCodes *ShareCodes `json:"shareCodes,omitempty"`
}

// DefaultReportConfig returns the shipped report configuration.
//
// Sources:
//   - Care plans: NHS England "Avoiding unplanned admissions enhanced
//     service: guidance and audit requirements" (2014), data section: Read
//     v2 8CSB. admission avoidance care plan agreed, 8CMG3 review of
//     admission avoidance care plan (CTV3 XabFm care plan agreed, as used in
//     SystmOne templates); QOF palliative care cluster PALCARE_COD (PCD
//     refset): 713673000 has end of life care plan, 1095151000000107 has
//     end of life advance care plan.
//   - Long-term conditions: QOF business rules register clusters (Read v2
//     era): DM_COD diabetes C10.., AST_COD asthma H33.., COPD_COD H3...
//     (the COPD cluster's chapter; its asthma members are covered by the
//     asthma register anyway), CHD_COD G3..., HF_COD G58.., CKD_COD 1Z1..
//     (CKD stages 3-5). CTV3 twins of these codes match through the Read v2
//     rules.
func DefaultReportConfig() ReportConfig {
	const des = "NHS England avoiding unplanned admissions ES guidance (2014)"
	const pal = "QOF PALCARE_COD (PCD refset)"
	const qof = "QOF business rules register cluster"
	return ReportConfig{
		ChildAge:   16,
		ElderlyAge: 75,
		CarePlan: CodeList{
			{System: record.SystemReadV2, Code: "8CSB.", Source: des + ": admission avoidance care plan agreed"},
			{System: record.SystemReadV2, Code: "8CMG3", Source: des + ": review of admission avoidance care plan"},
			{System: record.SystemCTV3, Code: "XabFm", Source: des + ": admission avoidance care plan agreed (CTV3)"},
			{System: record.SystemSNOMED, Code: "713673000", Source: pal + ": has end of life care plan"},
			{System: record.SystemSNOMED, Code: "1095151000000107", Source: pal + ": has end of life advance care plan"},
		},
		LongTermConditions: CodeList{
			{System: record.SystemReadV2, Code: "C10..", Category: "diabetes", Source: qof + " DM_COD"},
			{System: record.SystemReadV2, Code: "H33..", Category: "asthma", Source: qof + " AST_COD"},
			{System: record.SystemReadV2, Code: "H3...", Category: "copd", Source: qof + " COPD_COD"},
			{System: record.SystemReadV2, Code: "G3...", Category: "chd", Source: qof + " CHD_COD"},
			{System: record.SystemReadV2, Code: "G58..", Category: "heart-failure", Source: qof + " HF_COD"},
			{System: record.SystemReadV2, Code: "1Z1..", Category: "ckd", Source: qof + " CKD_COD"},
		},
	}
}

// ReportRow is one patient the practice should review.
type ReportRow struct {
	NHSNumber string
	Groups    []string
	AgeBand   string
}

// ConsentReportResult is the outcome of a consent report. Rows go only to
// the practice's own administrators (they hold NHS numbers); the summary
// holds counts only.
type ConsentReportResult struct {
	Generated time.Time
	Checked   int            // patients read
	Skipped   int            // deceased or deducted
	Failed    int            // records that could not be read
	Consent   int            // consent to share recorded
	Dissent   int            // dissent recorded
	None      int            // nothing recorded
	InGroups  map[string]int // group -> patients without consent in it
	Rows      []ReportRow
}

// ConsentReport lists the practice's patients in the groups practices were
// asked to set to share (children under 16; 75 and over with a care plan;
// a long-term condition register) who have no consent to share recorded.
// nhsNumbers calls fn for each registered patient; fetch reads one record.
// A record that cannot be read is counted, not fatal, unless the context
// ends.
func ConsentReport(ctx context.Context, nhsNumbers func(fn func(string) error) error,
	fetch func(ctx context.Context, nhs string) (*record.Record, error), cfg ReportConfig, now time.Time) (*ConsentReportResult, error) {
	if cfg.ChildAge == 0 && cfg.ElderlyAge == 0 {
		d := DefaultReportConfig()
		cfg.ChildAge, cfg.ElderlyAge = d.ChildAge, d.ElderlyAge
	}
	codes := DefaultShareCodes()
	if cfg.ShareCodes != nil {
		codes = *cfg.ShareCodes
	}
	carePlan, ltc := cfg.CarePlan.Compile(), cfg.LongTermConditions.Compile()
	res := &ConsentReportResult{Generated: now.UTC(), InGroups: map[string]int{}}
	err := nhsNumbers(func(nhs string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		res.Checked++
		rec, err := fetch(ctx, nhs)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			res.Failed++
			return nil
		}
		if rec == nil || rec.Patient.Deceased || rec.Patient.Deducted {
			res.Skipped++
			return nil
		}
		switch ShareStatusOf(rec, codes) {
		case ShareConsent:
			res.Consent++
			return nil
		case ShareDissent:
			res.Dissent++ // the patient decided: not for the practice to chase
			return nil
		}
		res.None++
		age, known := ageAt(rec.Patient.BirthDate, now)
		var groups []string
		if known && age < cfg.ChildAge {
			groups = append(groups, GroupUnder16)
		}
		if known && age >= cfg.ElderlyAge && hasCode(rec, carePlan) {
			groups = append(groups, Group75WithCarePlan)
		}
		if hasCode(rec, ltc) {
			groups = append(groups, GroupLongTermCondition)
		}
		if len(groups) == 0 {
			return nil
		}
		for _, g := range groups {
			res.InGroups[g]++
		}
		band := "unknown"
		if known {
			band = ageBand(age)
		}
		res.Rows = append(res.Rows, ReportRow{NHSNumber: rec.Patient.NHSNumber, Groups: groups, AgeBand: band})
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, &mig.Error{Code: mig.ETIMEOUT, Message: "consent report interrupted", Err: err}
		}
		return nil, err
	}
	sort.Slice(res.Rows, func(i, j int) bool { return res.Rows[i].NHSNumber < res.Rows[j].NHSNumber })
	return res, nil
}

func hasCode(rec *record.Record, m *Matcher) bool {
	for i := range rec.Entries {
		if _, ok := m.Match(rec.Entries[i].Code); ok {
			return true
		}
	}
	return false
}

// ageAt returns the age in whole years at now.
func ageAt(birth record.Date, now time.Time) (int, bool) {
	if birth.IsZero() || birth.T.After(now) {
		return 0, false
	}
	b, n := birth.T.UTC(), now.UTC()
	age := n.Year() - b.Year()
	if n.Month() < b.Month() || n.Month() == b.Month() && n.Day() < b.Day() {
		age--
	}
	return age, true
}

func ageBand(age int) string {
	switch {
	case age < 16:
		return "0-15"
	case age < 45:
		return "16-44"
	case age < 65:
		return "45-64"
	case age < 75:
		return "65-74"
	}
	return "75+"
}

// WriteCSV writes the rows: NHS number, groups (";"-separated), age band.
// It holds NHS numbers: it goes only to the practice's own administrators.
func (r *ConsentReportResult) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"nhs_number", "group", "age_band"}); err != nil {
		return err
	}
	for _, row := range r.Rows {
		g := ""
		for i, s := range row.Groups {
			if i > 0 {
				g += ";"
			}
			g += s
		}
		if err := cw.Write([]string{row.NHSNumber, g, row.AgeBand}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteSummary writes counts only (no NHS numbers).
func (r *ConsentReportResult) WriteSummary(w io.Writer) error {
	_, err := fmt.Fprintf(w, "consent report %s\npatients checked: %d\nskipped (deceased or deducted): %d\nunreadable: %d\nconsent to share: %d\ndissent: %d\nnothing recorded: %d\n",
		r.Generated.Format(time.RFC3339), r.Checked, r.Skipped, r.Failed, r.Consent, r.Dissent, r.None)
	if err != nil {
		return err
	}
	for _, g := range []string{GroupUnder16, Group75WithCarePlan, GroupLongTermCondition} {
		if _, err := fmt.Fprintf(w, "no consent recorded, %s: %d\n", g, r.InGroups[g]); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(w, "patients to review: %d\n", len(r.Rows))
	return err
}
