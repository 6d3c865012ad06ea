package viewer

import (
	"fmt"
	"strings"
	"time"
)

// tab is one of the ten views.
type tab struct {
	View  string // the gateway's $mig-view name
	Label string
}

var tabs = []tab{
	{"summary", "Summary"}, {"problems", "Problems"}, {"diagnoses", "Diagnoses"},
	{"medication", "Medication"}, {"risks", "Risks and warnings"}, {"procedures", "Procedures"},
	{"investigations", "Investigations"}, {"examination", "Examination"}, {"events", "Events"},
	{"demographics", "Demographics"},
}

func tabLabel(view string) (string, bool) {
	for _, t := range tabs {
		if t.View == view {
			return t.Label, true
		}
	}
	return "", false
}

// Extension URLs the viewer reads.
const (
	extAllergenNotCoded  = "https://mig.example.nhs.uk/StructureDefinition/Extension-AllergenNotCoded"
	extQuantityText      = "https://mig.example.nhs.uk/StructureDefinition/Extension-MedicationQuantityText"
	snomedNoKnownAllergy = "716186003"
)

// Plain words for what is not shown.
const (
	msgWithheld      = "Some information has been withheld"
	msgNotShown      = "Some coded items could not be shown"
	msgIncomplete    = "The record could not be read completely: what is shown here may not be the whole record. Try again, or check with the GP practice."
	msgNoAllergies   = "No allergies recorded"
	msgNKA           = "No known allergies"
	msgAllergenNC    = "Allergen not coded: check with the GP practice"
	msgAllergiesNotC = "Allergies are not covered by your organisation's agreement"
)

// banner is the patient banner.
type banner struct {
	Name, NHS, BirthDate, Age, Sex, Practice string
}

func patientBanner(p *resource, now time.Time) *banner {
	if p == nil {
		return nil
	}
	b := &banner{Sex: statusText(p.Gender), BirthDate: showDate(p.BirthDate)}
	if len(p.Name) > 0 {
		n := p.Name[0]
		parts := append(append([]string{}, n.Given...), strings.ToUpper(n.Family))
		name := strings.Join(parts, " ")
		if len(n.Prefix) > 0 {
			name += " (" + strings.Join(n.Prefix, " ") + ")"
		}
		b.Name = name
	}
	for _, id := range p.Identifier {
		if id.System == "https://fhir.nhs.uk/Id/nhs-number" {
			b.NHS = formatNHS(id.Value)
		}
	}
	if t, err := time.Parse("2006-01-02", p.BirthDate); err == nil {
		b.Age = age(t, now)
	}
	for _, gp := range p.GeneralPractitioner {
		if gp.Identifier != nil {
			b.Practice = gp.Identifier.Value
		}
	}
	return b
}

func age(born, now time.Time) string {
	now = now.In(ukTime)
	y := now.Year() - born.Year()
	if now.Month() < born.Month() || now.Month() == born.Month() && now.Day() < born.Day() {
		y--
	}
	if y >= 2 {
		return fmt.Sprintf("%d years", y)
	}
	months := (now.Year()-born.Year())*12 + int(now.Month()-born.Month())
	if now.Day() < born.Day() {
		months--
	}
	if months < 0 {
		months = 0
	}
	return fmt.Sprintf("%d months", months)
}

// formatNHS writes an NHS number as 3 3 4 digits.
func formatNHS(s string) string {
	if len(s) != 10 {
		return s
	}
	return s[:3] + " " + s[3:6] + " " + s[6:]
}

// buildSections turns a view's Bundle into the tab's tables.
func buildSections(view string, b *bundle, asc bool) []section {
	var out []section
	switch view {
	case "summary":
		out = []section{problemsSection("active-problems", "Current problems", b, true),
			currentMedication(b), allergies(b), investigations("recent-tests", "Recent tests (last 12 months)", b)}
	case "problems":
		out = []section{problemsSection("active-problems", "Active problems", b, true), problemsSection("past-problems", "Past problems", b, false)}
	case "diagnoses":
		out = []section{diagnoses(b)}
	case "medication":
		out = medication(b)
	case "risks":
		out = []section{risks(b)}
	case "procedures":
		out = []section{procedures(b), immunisations(b)}
	case "investigations":
		out = []section{investigations("investigations", "Test results, ECG and imaging", b)}
	case "examination":
		out = []section{bloodPressure(b)}
	case "events":
		out = []section{encounters(b), referrals(b)}
	}
	for i := range out {
		out[i].sortRows(asc)
	}
	return out
}

func problemsSection(id, title string, b *bundle, active bool) section {
	s := section{ID: id, Title: title, Columns: []string{"Onset", "Problem", "Status", "Ended"}, Empty: "No " + strings.ToLower(title) + " recorded"}
	for _, r := range b.of("Condition") {
		if !r.hasCategory("problem-list-item") {
			continue
		}
		st := r.ClinicalStatus.firstCode()
		isActive := st == "active" || st == "recurrence" || st == "relapse"
		if isActive != active {
			continue
		}
		status := statusText(st)
		if v := r.VerificationStatus.firstCode(); v == "provisional" {
			status += " (provisional)"
		}
		onset := r.OnsetDateTime
		if onset == "" {
			onset = r.RecordedDate
		}
		s.Rows = append(s.Rows, row{Key: dateKey(onset), Cells: []cell{dateCell(onset), conceptCell(r.Code), {Text: status}, dateCell(r.AbatementDateTime)}})
	}
	return s
}

func diagnoses(b *bundle) section {
	s := section{ID: "diagnoses", Title: "Diagnoses", Columns: []string{"Date", "Diagnosis", "Status"}, Empty: "No diagnoses recorded"}
	for _, r := range b.of("Condition") {
		if !r.hasCategory("encounter-diagnosis") {
			continue
		}
		d := r.OnsetDateTime
		if d == "" {
			d = r.RecordedDate
		}
		s.Rows = append(s.Rows, row{Key: dateKey(d), Cells: []cell{dateCell(d), conceptCell(r.Code), {Text: statusText(r.ClinicalStatus.firstCode())}}})
	}
	return s
}

func dosage(r *resource) string {
	for _, d := range r.DosageInstruction {
		if d.Text != "" {
			return d.Text
		}
	}
	for _, d := range r.Dosage {
		if d.Text != "" {
			return d.Text
		}
	}
	return ""
}

func quantityText(r *resource) string {
	if r.DispenseRequest == nil {
		return ""
	}
	for _, e := range r.DispenseRequest.Extension {
		if e.URL == extQuantityText {
			return e.ValueString
		}
	}
	return ""
}

func course(r *resource) string {
	switch r.CourseOfTherapyType.firstCode() {
	case "continuous":
		return "Repeat"
	case "acute":
		return "Acute"
	case "seasonal":
		return "Seasonal"
	}
	return ""
}

// plans indexes authorisations (MedicationRequest intent plan) by id, for
// the dosage, quantity and type of a statement based on one.
func plans(b *bundle) map[string]*resource {
	out := map[string]*resource{}
	for _, r := range b.of("MedicationRequest") {
		if r.Intent == "plan" {
			out["MedicationRequest/"+r.ID] = r
		}
	}
	return out
}

func medicationRow(st *resource, plan map[string]*resource) row {
	start, end := "", ""
	if st.EffectivePeriod != nil {
		start, end = st.EffectivePeriod.Start, st.EffectivePeriod.End
	}
	if start == "" {
		start = st.DateAsserted
	}
	dose, qty, typ := dosage(st), "", ""
	var repeats string
	if len(st.basedOn()) > 0 {
		if p := plan[st.basedOn()[0]]; p != nil {
			if dose == "" {
				dose = dosage(p)
			}
			qty, typ = quantityText(p), course(p)
			if p.DispenseRequest != nil && p.DispenseRequest.NumberOfRepeatsAllowed != nil {
				repeats = fmt.Sprintf("%d repeats allowed", *p.DispenseRequest.NumberOfRepeatsAllowed)
			}
		}
	}
	return row{Key: dateKey(start), Cells: []cell{dateCell(start), conceptCell(st.MedicationCodeableConcept),
		{Text: dose}, {Text: qty, Note: repeats}, {Text: typ}, {Text: statusText(st.Status)}, dateCell(end)}}
}

var medColumns = []string{"Started", "Medicine", "Dosage", "Quantity", "Type", "Status", "Ended"}

func currentMedication(b *bundle) section {
	s := section{ID: "current-medication", Title: "Current medication", Columns: medColumns, Empty: "No current medication recorded"}
	plan := plans(b)
	for _, r := range b.of("MedicationStatement") {
		s.Rows = append(s.Rows, medicationRow(r, plan))
	}
	// Recent acute issues the Summary includes beyond the statements.
	for _, r := range b.of("MedicationRequest") {
		if r.Intent == "order" && len(r.basedOn()) == 0 {
			s.Rows = append(s.Rows, row{Key: dateKey(r.AuthoredOn), Cells: []cell{dateCell(r.AuthoredOn), conceptCell(r.MedicationCodeableConcept),
				{Text: dosage(r)}, {Text: quantityText(r)}, {Text: "Acute issue"}, {Text: statusText(r.Status)}, {}}})
		}
	}
	return s
}

func medication(b *bundle) []section {
	cur := section{ID: "current-medication", Title: "Current medication", Columns: medColumns, Empty: "No current medication recorded"}
	past := section{ID: "past-medication", Title: "Past medication", Columns: medColumns, Empty: "No past medication recorded"}
	issues := section{ID: "issues", Title: "Issues (prescriptions issued)", Columns: []string{"Issued", "Medicine", "Dosage", "Quantity", "Type"}, Empty: "No issues recorded"}
	plan := plans(b)
	for _, r := range b.of("MedicationStatement") {
		switch r.Status {
		case "completed", "stopped", "entered-in-error", "not-taken":
			past.Rows = append(past.Rows, medicationRow(r, plan))
		default:
			cur.Rows = append(cur.Rows, medicationRow(r, plan))
		}
	}
	for _, r := range b.of("MedicationRequest") {
		if r.Intent != "order" {
			continue
		}
		issues.Rows = append(issues.Rows, row{Key: dateKey(r.AuthoredOn), Cells: []cell{dateCell(r.AuthoredOn), conceptCell(r.MedicationCodeableConcept),
			{Text: dosage(r)}, {Text: quantityText(r)}, {Text: course(r)}}})
	}
	return []section{cur, past, issues}
}

func (r *resource) basedOn() []string {
	var out []string
	for _, ref := range r.BasedOn {
		out = append(out, ref.Reference)
	}
	return out
}

// allergies is the Summary's allergy table and its empty states: a coded
// "no known allergies" is said as such, never confused with nothing
// recorded, and "nothing recorded" is never said when something was
// withheld.
func allergies(b *bundle) section {
	s := section{ID: "allergies", Title: "Allergies and adverse reactions", Columns: []string{"Recorded", "Allergy", "Allergen", "Status"}}
	nka := false
	for _, r := range b.of("AllergyIntolerance") {
		if r.Code.has("http://snomed.info/sct", snomedNoKnownAllergy) {
			nka = true
			continue
		}
		allergen := cell{}
		for _, re := range r.Reaction {
			if re.Substance != nil {
				allergen = conceptCell(re.Substance)
			}
		}
		if r.hasExtension(extAllergenNotCoded) {
			allergen = cell{Text: msgAllergenNC, Flag: "warning"}
		}
		d := r.OnsetDateTime
		if d == "" {
			d = r.RecordedDate
		}
		s.Rows = append(s.Rows, row{Key: dateKey(d), Cells: []cell{dateCell(d), conceptCell(r.Code), allergen, {Text: statusText(r.ClinicalStatus.firstCode())}}})
	}
	switch {
	case len(s.Rows) > 0:
	case b.withheld():
		s.Empty = msgWithheld + ": there may be allergies that are not shown here."
	case nka:
		s.Empty = msgNKA
	default:
		s.Empty = msgNoAllergies
	}
	return s
}

func investigations(id, title string, b *bundle) section {
	s := section{ID: id, Title: title, Columns: []string{"Date", "Test", "Value", "Unit", "Range", "Flag"}, Empty: "No test results recorded"}
	members := map[string]bool{}
	for _, r := range b.of("Observation") {
		for _, m := range r.HasMember {
			members[m.Reference] = true
		}
	}
	for _, r := range b.of("Observation") {
		if r.hasCategory("vital-signs") {
			continue
		}
		v, u := showQuantity(r.ValueQuantity)
		if v == "" && r.ValueCodeableConcept != nil {
			v = r.ValueCodeableConcept.term()
		}
		if v == "" && r.ValueRange != nil {
			lo, lu := showQuantity(r.ValueRange.Low)
			hi, hu := showQuantity(r.ValueRange.High)
			switch {
			case lo != "" && hi != "":
				v, u = lo+" to "+hi, lu
				if u == "" {
					u = hu
				}
			case lo != "":
				v, u = "at least "+lo, lu
			case hi != "":
				v, u = "at most "+hi, hu
			}
		}
		if v == "" {
			v = r.ValueString
		}
		name := conceptCell(r.Code)
		if len(r.HasMember) > 0 {
			name.Note = fmt.Sprintf("Group of %d results", len(r.HasMember))
		}
		if members["Observation/"+r.ID] {
			name.Note = "Part of a group"
		}
		flag := interpretation(r)
		c := cell{Text: flag}
		if flag == "High" || flag == "Low" || flag == "Abnormal" {
			c.Flag = "abnormal"
		}
		s.Rows = append(s.Rows, row{Key: dateKey(r.EffectiveDateTime), Cells: []cell{dateCell(r.EffectiveDateTime), name, {Text: v}, {Text: u}, {Text: rangeText(r)}, c}})
	}
	return s
}

// bpReading is one blood pressure reading, for the table and the chart.
type bpReading struct {
	When                time.Time
	Date                string
	Systolic, Diastolic float64
	HasS, HasD          bool
}

func bpReadings(b *bundle) []bpReading {
	var out []bpReading
	for _, r := range b.of("Observation") {
		if !r.hasCategory("vital-signs") {
			continue
		}
		rd := bpReading{Date: r.EffectiveDateTime}
		rd.When, _ = parseAny(r.EffectiveDateTime)
		for _, c := range r.Component {
			v, err := c.ValueQuantity.float()
			if err != nil {
				continue
			}
			switch {
			case c.Code.has("http://loinc.org", "8480-6"):
				rd.Systolic, rd.HasS = v, true
			case c.Code.has("http://loinc.org", "8462-4"):
				rd.Diastolic, rd.HasD = v, true
			}
		}
		out = append(out, rd)
	}
	return out
}

func (q *quantity) float() (float64, error) {
	if q == nil {
		return 0, fmt.Errorf("no value")
	}
	return q.Value.Float64()
}

func parseAny(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date")
}

func bloodPressure(b *bundle) section {
	s := section{ID: "blood-pressure", Title: "Blood pressure", Columns: []string{"Date", "Reading", "Systolic", "Diastolic", "Unit"}, Empty: "No blood pressure readings recorded"}
	for _, r := range b.of("Observation") {
		if !r.hasCategory("vital-signs") {
			continue
		}
		var sys, dia, unit string
		for _, c := range r.Component {
			v, u := showQuantity(c.ValueQuantity)
			switch {
			case c.Code.has("http://loinc.org", "8480-6"):
				sys, unit = v, u
			case c.Code.has("http://loinc.org", "8462-4"):
				dia = v
				if unit == "" {
					unit = u
				}
			}
		}
		s.Rows = append(s.Rows, row{Key: dateKey(r.EffectiveDateTime), Cells: []cell{dateCell(r.EffectiveDateTime), conceptCell(r.Code), {Text: sys}, {Text: dia}, {Text: unit}}})
	}
	return s
}

func risks(b *bundle) section {
	s := section{ID: "risks", Title: "Risks and warnings", Columns: []string{"From", "Risk or warning", "Status"}, Empty: "No risks or warnings recorded"}
	for _, r := range b.of("Flag") {
		start := ""
		if r.Period != nil {
			start = r.Period.Start
		}
		s.Rows = append(s.Rows, row{Key: dateKey(start), Cells: []cell{dateCell(start), conceptCell(r.Code), {Text: statusText(r.Status)}}})
	}
	return s
}

func procedures(b *bundle) section {
	s := section{ID: "procedures", Title: "Operations and procedures", Columns: []string{"Date", "Procedure", "Status"}, Empty: "No procedures recorded"}
	for _, r := range b.of("Procedure") {
		s.Rows = append(s.Rows, row{Key: dateKey(r.PerformedDateTime), Cells: []cell{dateCell(r.PerformedDateTime), conceptCell(r.Code), {Text: statusText(r.Status)}}})
	}
	return s
}

func immunisations(b *bundle) section {
	s := section{ID: "immunisations", Title: "Immunisations", Columns: []string{"Date", "Vaccination", "Status"}, Empty: "No immunisations recorded"}
	for _, r := range b.of("Immunization") {
		s.Rows = append(s.Rows, row{Key: dateKey(r.OccurrenceDateTime), Cells: []cell{dateCell(r.OccurrenceDateTime), conceptCell(r.VaccineCode), {Text: statusText(r.Status)}}})
	}
	return s
}

func encounters(b *bundle) section {
	s := section{ID: "encounters", Title: "Encounters and admissions", Columns: []string{"Date", "Type", "Setting", "Status"}, Empty: "No encounters or admissions recorded"}
	for _, r := range b.of("Encounter") {
		start := ""
		if r.Period != nil {
			start = r.Period.Start
		}
		var typ *concept
		if len(r.Type) > 0 {
			typ = &r.Type[0]
		}
		setting := ""
		if r.Class != nil {
			switch r.Class.Code {
			case "AMB":
				setting = "Consultation"
			case "IMP":
				setting = "Admission"
			default:
				setting = r.Class.Display
			}
		}
		s.Rows = append(s.Rows, row{Key: dateKey(start), Cells: []cell{dateCell(start), conceptCell(typ), {Text: setting}, {Text: statusText(r.Status)}}})
	}
	return s
}

func referrals(b *bundle) section {
	s := section{ID: "referrals", Title: "Referrals", Columns: []string{"Date", "Referral", "Priority", "Status"}, Empty: "No referrals recorded"}
	for _, r := range b.of("ServiceRequest") {
		s.Rows = append(s.Rows, row{Key: dateKey(r.AuthoredOn), Cells: []cell{dateCell(r.AuthoredOn), conceptCell(r.Code), {Text: statusText(r.Priority)}, {Text: statusText(r.Status)}}})
	}
	return s
}

// demographics is the Demographics tab: the Patient as the gateway gave it
// (an address withheld for a sensitive patient is said so).
type demographics struct {
	Name, NHS, BirthDate, Sex, Practice string
	Address                             []string
}

func patientDemographics(p *resource) *demographics {
	if p == nil {
		return nil
	}
	d := &demographics{BirthDate: showDate(p.BirthDate), Sex: statusText(p.Gender)}
	if len(p.Name) > 0 {
		n := p.Name[0]
		d.Name = strings.TrimSpace(strings.Join(append(append(append([]string{}, n.Prefix...), n.Given...), n.Family), " "))
	}
	for _, id := range p.Identifier {
		if id.System == "https://fhir.nhs.uk/Id/nhs-number" {
			d.NHS = formatNHS(id.Value)
		}
	}
	for _, a := range p.Address {
		for _, l := range append(append([]string{}, a.Line...), a.City, a.District, a.PostalCode) {
			if l != "" {
				d.Address = append(d.Address, l)
			}
		}
	}
	for _, gp := range p.GeneralPractitioner {
		if gp.Identifier != nil {
			d.Practice = gp.Identifier.Value
		}
	}
	return d
}
