package audit

import (
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"

	"mig/adapters/record"
)

// The patient access report for people: text, CSV and a printable HTML
// page, all from one set of lines in plain words. Every word is from the
// report's tables; the only other strings are organisation names from the
// configuration and, when shown, names in the shape of a name.

// reportLine is one access in plain words.
type reportLine struct {
	Date, Time, OrgCode, OrgName, Role, Name string
	Asked, Shown, Consent, Result, Reason    string
	Refused                                  bool
	Count                                    int
}

func (a *PatientAccess) line() reportLine {
	l := reportLine{Date: a.Day, Time: a.Time, OrgCode: a.Org, OrgName: a.OrgName, Role: RoleCategories[a.Role],
		Name: a.Name, Count: a.Count, Refused: a.Outcome != AccessAllowed}
	if l.OrgCode == "" {
		l.OrgCode = "-"
	}
	var asked []string
	for _, p := range a.Asked {
		asked = append(asked, PartWords(p))
	}
	l.Asked = strings.Join(asked, "; ")
	var shown []string
	for _, s := range a.Shown {
		shown = append(shown, fmt.Sprintf("%s (%d)", TypeWords[s.Type], s.Count))
	}
	l.Shown = strings.Join(shown, "; ")
	l.Consent = ConsentWords[a.Consent]
	if a.Consent == "emergency" {
		l.Consent += ": " + EmergencyWords[a.Reason]
	}
	l.Result = OutcomeWords[a.Outcome]
	if a.Outcome == AccessAllowed && len(a.Shown) == 0 {
		l.Result = "allowed, nothing to show"
	}
	if a.Outcome != AccessAllowed {
		l.Reason = RuleWords[a.Rule]
	}
	return l
}

// FormatNHSNumber writes an NHS number as 3 3 4 digits.
func FormatNHSNumber(n string) string {
	if len(n) != 10 {
		return n
	}
	return n[:3] + " " + n[3:6] + " " + n[6:]
}

// period says what the report covers.
func (r *PatientReport) period() string {
	from, to := r.FirstDay(), r.LastDay()
	switch {
	case from == "" && to == "":
		return "Every access recorded up to the day this report was made"
	case from == "":
		return "Accesses recorded up to " + to
	case to == "":
		return "Accesses recorded from " + from + " to the day this report was made"
	}
	return "Accesses recorded from " + from + " to " + to
}

func (r *PatientReport) made() string {
	return r.Generated.In(record.UKTime).Format("2006-01-02 15:04") + " (UK time)"
}

// About says what the report tells and what it keeps back, and why.
func (r *PatientReport) About() []string {
	out := []string{"This report lists each time your GP record was asked for through the Medical Interoperability " +
		"Gateway, allowed or refused: the day (UK), the organisation, the kind of staff role, what was asked for and shown, " +
		"whether your consent to view was recorded or emergency access was used, and why anything was refused. " +
		"It is made from the gateway's audit trail, and never says what your record holds."}
	var kept []string
	if !r.ShowTime {
		kept = append(kept, "the time of day")
	}
	if !r.ShowNames {
		kept = append(kept, "the names of staff")
	}
	kept = append(kept, "job titles (a kind of role is given instead)")
	out = append(out, "Kept back: "+strings.Join(kept, ", ")+". An organisation, a role and a time together can "+
		"point to one member of staff who works alone; the day and a kind of role tell you who looked without "+
		"singling anyone out. Accesses that look the same on one day are one line, with how many times. "+
		"Your practice can tell you more if you need it.")
	if r.Practice != "" {
		out = append(out, "This report covers accesses recorded while you were registered at your practice ("+r.Practice+").")
	}
	return out
}

// notes says what was counted but not listed.
func (r *PatientReport) notes() []string {
	var out []string
	if n := r.UnauthenticatedLeftOut; n > 0 {
		out = append(out, fmt.Sprintf("%s naming you without a verified sign-in %s not listed: nobody known made %s, and nothing was shown.",
			plural(n, "attempt", "attempts"), map[bool]string{true: "is", false: "are"}[n == 1], map[bool]string{true: "it", false: "them"}[n == 1]))
	}
	if n := r.ElsewhereLeftOut; n > 0 {
		out = append(out, fmt.Sprintf("%s recorded while you were registered at another practice %s not listed: that practice can tell you about %s.",
			plural(n, "access", "accesses"), map[bool]string{true: "is", false: "are"}[n == 1], map[bool]string{true: "it", false: "them"}[n == 1]))
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func times(n int) string {
	if n == 1 {
		return "once"
	}
	return strconv.Itoa(n) + " times"
}

// WriteText writes the report for reading on screen or paper.
func (r *PatientReport) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("Who has looked at your record\n\nNHS number: %s\n%s.\nReport made %s.\n", FormatNHSNumber(r.NHSNumber), r.period(), r.made())
	for _, p := range r.About() {
		ew.printf("\n%s\n", wrap(p, 78))
	}
	ew.printf("\n")
	if len(r.Accesses) == 0 {
		ew.printf("No access to your record is recorded in this period.\n")
	}
	for _, a := range r.Accesses {
		l := a.line()
		when := l.Date
		if l.Time != "" {
			when += " " + l.Time
		}
		org := l.OrgCode
		if l.OrgName != "" {
			org += " " + l.OrgName
		}
		ew.printf("%s  %s\n", when, org)
		who := l.Role
		if l.Name != "" {
			who += ", " + l.Name
		}
		ew.printf("  Who:       %s\n", who)
		ew.printf("  Asked for: %s\n", l.Asked)
		if l.Shown != "" {
			ew.printf("  Shown:     %s\n", l.Shown)
		}
		if l.Consent != "" {
			ew.printf("  Consent:   %s\n", l.Consent)
		}
		result := l.Result
		if l.Reason != "" {
			result += ": " + l.Reason
		}
		ew.printf("  Result:    %s, %s\n\n", result, times(l.Count))
	}
	for _, n := range r.notes() {
		ew.printf("%s\n", wrap(n, 78))
	}
	return ew.err
}

// wrap breaks s into lines of at most width characters at spaces.
func wrap(s string, width int) string {
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(s) {
		if i > 0 {
			if n+1+len(w) > width {
				b.WriteByte('\n')
				n = 0
			} else {
				b.WriteByte(' ')
				n++
			}
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}

// WriteCSV writes one row per line of the report, in plain words; the time
// and name columns are there only when the report shows them.
func (r *PatientReport) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := []string{"date"}
	if r.ShowTime {
		head = append(head, "time")
	}
	head = append(head, "organisation_code", "organisation_name", "role")
	if r.ShowNames {
		head = append(head, "name")
	}
	head = append(head, "asked_for", "shown", "consent", "result", "reason", "count")
	_ = cw.Write(head)
	for _, a := range r.Accesses {
		l := a.line()
		row := []string{l.Date}
		if r.ShowTime {
			row = append(row, l.Time)
		}
		row = append(row, l.OrgCode, l.OrgName, l.Role)
		if r.ShowNames {
			row = append(row, l.Name)
		}
		row = append(row, l.Asked, l.Shown, l.Consent, l.Result, l.Reason, strconv.Itoa(l.Count))
		for i := range row {
			row[i] = csvCell(row[i])
		}
		_ = cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

// csvCell keeps a spreadsheet from reading a cell as a formula.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

var reportPage = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Who has looked at your record</title>
<style>
body{font-family:Arial,Helvetica,sans-serif;color:#212b32;background:#fff;margin:2em auto;max-width:72em;padding:0 1em;line-height:1.45}
h1{font-size:1.7em;margin:0 0 .3em}
.meta{margin:0 0 1em}
table{border-collapse:collapse;width:100%;font-size:.92em;margin:1em 0}
th,td{border:1px solid #aeb7bd;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#e8edee}
tr.refused td{background:#fbeeee}
td.n{text-align:right;white-space:nowrap}
td.d{white-space:nowrap}
.note{font-size:.92em}
@page{size:A4 landscape;margin:14mm}
@media print{body{margin:0;max-width:none;font-size:9.5pt}thead{display:table-header-group}tr{page-break-inside:avoid}th{background:#e8edee;-webkit-print-color-adjust:exact;print-color-adjust:exact}}
</style>
</head>
<body>
<h1>Who has looked at your record</h1>
<p class="meta">NHS number <strong>{{.NHS}}</strong><br>{{.Period}}.<br>Report made {{.Made}}.</p>
{{range .About}}<p>{{.}}</p>
{{end}}{{if .Lines}}<table>
<thead><tr><th>Date</th>{{if .ShowTime}}<th>Time</th>{{end}}<th>Organisation</th><th>Role</th>{{if .ShowNames}}<th>Name</th>{{end}}<th>Asked for</th><th>Shown</th><th>Consent</th><th>Result</th><th>Times</th></tr></thead>
<tbody>
{{range .Lines}}<tr{{if .Refused}} class="refused"{{end}}><td class="d">{{.Date}}</td>{{if $.ShowTime}}<td class="d">{{.Time}}</td>{{end}}<td>{{.OrgCode}}{{if .OrgName}}<br>{{.OrgName}}{{end}}</td><td>{{.Role}}</td>{{if $.ShowNames}}<td>{{.Name}}</td>{{end}}<td>{{.Asked}}</td><td>{{.Shown}}</td><td>{{.Consent}}</td><td>{{.Result}}{{if .Reason}}: {{.Reason}}{{end}}</td><td class="n">{{.Count}}</td></tr>
{{end}}</tbody>
</table>
{{else}}<p><strong>No access to your record is recorded in this period.</strong></p>
{{end}}{{range .Notes}}<p class="note">{{.}}</p>
{{end}}</body>
</html>
`))

// WriteHTML writes a self-contained page (no scripts, no external files)
// that prints on A4; every value is escaped by html/template.
func (r *PatientReport) WriteHTML(w io.Writer) error {
	data := struct {
		NHS, Period, Made   string
		About, Notes        []string
		ShowTime, ShowNames bool
		Lines               []reportLine
	}{NHS: FormatNHSNumber(r.NHSNumber), Period: r.period(), Made: r.made(), About: r.About(), Notes: r.notes(),
		ShowTime: r.ShowTime, ShowNames: r.ShowNames}
	for _, a := range r.Accesses {
		data.Lines = append(data.Lines, a.line())
	}
	return reportPage.Execute(w, data)
}
