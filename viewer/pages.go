package viewer

import (
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"mig"
)

// page is what every template gets.
type page struct {
	Title, Heading string
	Session        *session
	CSRF           string
	Message        string
	Warning        string
	Link, LinkText string
	IdleSeconds    int
	Back           string // the current path, for the idle refresh
	Now            string

	// Search and consent.
	Errors    map[string]string
	NHS       string
	Day       string
	Month     string
	Year      string
	BirthDate string
	Reasons   []reason
	Action    string
	Launched  bool

	// The record.
	Banner     *banner
	Emergency  bool
	Tabs       []tabLink
	View       string
	ViewLabel  string
	Sections   []section
	Chart      template.HTML
	Notes      []string
	Incomplete bool
	SortAsc    bool
	SortLink   string
	Demo       *demographics
	Refusal    string // why this tab is not shown

	// EHR simulator.
	Patients []simPatient
	Users    []simUser
}

type tabLink struct {
	Label, Href string
	Current     bool
}

type reason struct{ Code, Label string }

// Emergency reasons: the gateway's fixed list.
var emergencyReasons = []reason{
	{"unconscious", "The patient is unconscious"},
	{"unable-to-communicate", "The patient is unable to communicate"},
	{"lacks-capacity", "The patient lacks capacity to consent"},
	{"safeguarding", "A safeguarding concern"},
	{"life-threatening", "A life-threatening situation"},
}

func validReason(code string) bool {
	return slices.ContainsFunc(emergencyReasons, func(r reason) bool { return r.Code == code })
}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{"join": strings.Join}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(embedded, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(embedded, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(embedded, n)
		if err != nil {
			return nil, err
		}
		out[base] = t
	}
	return out, nil
}

// render fills in what every page shows (who is signed in, in which role
// and organisation; the CSRF token; the idle refresh) and writes the page.
func (v *Viewer) render(c echo.Context, status int, name string, p *page) error {
	if p.Session == nil {
		p.Session, _ = c.Get("session").(*session)
	}
	if p.Session != nil {
		p.CSRF = v.seal.csrf(p.Session.SID)
		p.IdleSeconds = int(v.cfg.IdleTimeout.Seconds()) + 2
		p.Back = c.Request().URL.Path
	}
	p.Now = v.cfg.Now().In(ukTime).Format("2 Jan 2006 15:04")
	t, ok := v.pages[name]
	if !ok {
		return errors.New("no template " + name)
	}
	c.Response().Header().Set("Content-Type", "text/html; charset=utf-8")
	c.Response().WriteHeader(status)
	return t.ExecuteTemplate(c.Response(), "layout.html", p)
}

func (v *Viewer) message(c echo.Context, status int, heading, msg, link string) error {
	p := &page{Title: heading, Heading: heading, Message: msg, Link: link, LinkText: "Continue"}
	if link == "/" {
		p.LinkText = "Go to the start"
	}
	return v.render(c, status, "message", p)
}

// home is the start page: sign in, or find a patient.
func (v *Viewer) home(c echo.Context) error {
	s := v.readSession(c.Request())
	if s == nil {
		return v.render(c, http.StatusOK, "start", &page{Title: "Shared Record Viewer"})
	}
	if v.idle(s, v.cfg.Now()) {
		return v.endSessionRedirect(c, "idle")
	}
	s.Seen = v.cfg.Now().Unix()
	if err := v.setSession(c.Response(), s); err != nil {
		return err
	}
	return v.render(c, http.StatusOK, "search", &page{Title: "Find a patient", Session: s})
}

// checkCSRF verifies a form's token against the session.
func (v *Viewer) checkCSRF(c echo.Context) bool {
	s, _ := c.Get("session").(*session)
	return s != nil && v.seal.csrfOK(s.SID, c.FormValue("csrf"))
}

func (v *Viewer) csrfRefused(c echo.Context) error {
	return v.message(c, http.StatusForbidden, "This form has expired", "The form could not be accepted (its security token did not match your sign-in). Go back, reload the page and try again.", "/")
}

// search validates NHS number (spaces allowed, modulus 11) and date of
// birth, both required, then asks the gateway.
func (v *Viewer) search(c echo.Context) error {
	if !v.checkCSRF(c) {
		return v.csrfRefused(c)
	}
	s := c.Get("session").(*session)
	p := &page{Title: "Find a patient", NHS: c.FormValue("nhs"), Day: c.FormValue("dob-day"),
		Month: c.FormValue("dob-month"), Year: c.FormValue("dob-year"), Errors: map[string]string{}}
	nhs := strings.Join(strings.Fields(p.NHS), "")
	switch {
	case nhs == "":
		p.Errors["nhs"] = "Enter the patient's NHS number"
	case len(nhs) != 10 || strings.Trim(nhs, "0123456789") != "":
		p.Errors["nhs"] = "NHS number must be 10 digits, like 943 476 5919"
	case !mig.ValidNHSNumber(nhs):
		p.Errors["nhs"] = "This is not a valid NHS number: check the digits"
	}
	dob, msg := parseDOB(p.Day, p.Month, p.Year, v.cfg.Now())
	if msg != "" {
		p.Errors["dob"] = msg
	}
	if len(p.Errors) > 0 {
		p.Title = "Error: " + p.Title
		return v.render(c, http.StatusBadRequest, "search", p)
	}
	pc := &patientCtx{SID: s.SID, NHS: nhs, BirthDate: dob}
	return v.openPatient(c, s, pc)
}

// openPatient asks the gateway for the patient: with consent to view
// already recorded in this episode the record opens; without, the consent
// screen; a refusal is explained.
func (v *Viewer) openPatient(c echo.Context, s *session, pc *patientCtx) error {
	b, err := v.gw.searchPatient(c.Request().Context(), s.Token, pc.Launch, pc.NHS, pc.BirthDate)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Issue == mig.IssueNoViewConsent {
			return c.Redirect(http.StatusSeeOther, "/p/"+v.sealCtx(pc)+"/consent")
		}
		return v.refusal(c, err, pc)
	}
	pat := b.patient()
	if pat == nil {
		return v.notFound(c)
	}
	pc.PatientID = pat.ID
	pc.Emergency = b.Emergency
	return c.Redirect(http.StatusSeeOther, "/p/"+v.sealCtx(pc)+"/summary")
}

func (v *Viewer) notFound(c echo.Context) error {
	return v.render(c, http.StatusNotFound, "message", &page{Title: "No patient found", Heading: "No patient found",
		Message: "No patient was found with that NHS number and date of birth, among the practices your organisation's agreements cover. Check both and search again.",
		Link:    "/", LinkText: "Search again"})
}

// parseDOB reads the three date fields.
func parseDOB(d, m, y string, now time.Time) (string, string) {
	if d == "" && m == "" && y == "" {
		return "", "Enter the patient's date of birth"
	}
	di, e1 := strconv.Atoi(strings.TrimSpace(d))
	mi, e2 := strconv.Atoi(strings.TrimSpace(m))
	yi, e3 := strconv.Atoi(strings.TrimSpace(y))
	if e1 != nil || e2 != nil || e3 != nil || yi < 1850 || yi > 9999 {
		return "", "Date of birth must be a real date, like 14 3 1950"
	}
	t := time.Date(yi, time.Month(mi), di, 0, 0, 0, 0, time.UTC)
	if t.Day() != di || int(t.Month()) != mi {
		return "", "Date of birth must be a real date, like 14 3 1950"
	}
	if t.After(now) {
		return "", "Date of birth must be in the past"
	}
	return t.Format("2006-01-02"), ""
}

// patientContext opens the tab's sealed patient context.
func (v *Viewer) patientContext(c echo.Context) (*patientCtx, *session, error) {
	s := c.Get("session").(*session)
	pc, ok := v.openCtx(c.Param("ctx"), s)
	if !ok {
		return nil, s, v.message(c, http.StatusBadRequest, "This page belongs to an earlier sign-in", "Find the patient again.", "/")
	}
	return pc, s, nil
}

func (v *Viewer) consentForm(c echo.Context) error {
	pc, _, err := v.patientContext(c)
	if pc == nil {
		return err
	}
	return v.renderConsent(c, http.StatusOK, pc, nil)
}

func (v *Viewer) renderConsent(c echo.Context, status int, pc *patientCtx, errs map[string]string) error {
	p := &page{Title: "Consent to view", NHS: formatNHS(pc.NHS), BirthDate: showDate(pc.BirthDate), Reasons: emergencyReasons,
		Action: "/p/" + c.Param("ctx") + "/consent", Errors: errs, Launched: pc.Launch != ""}
	if len(errs) > 0 {
		p.Title = "Error: " + p.Title
	}
	return v.render(c, status, "consent", p)
}

// recordConsent records the clinician's choice through the API.
func (v *Viewer) recordConsent(c echo.Context) error {
	if !v.checkCSRF(c) {
		return v.csrfRefused(c)
	}
	pc, s, err := v.patientContext(c)
	if pc == nil {
		return err
	}
	choice, reason := c.FormValue("choice"), c.FormValue("reason")
	switch {
	case choice != choiceGiven && choice != choiceRefused && choice != choiceEmergency:
		return v.renderConsent(c, http.StatusBadRequest, pc, map[string]string{"choice": "Choose what the patient decided, or emergency access"})
	case choice == choiceEmergency && !validReason(reason):
		return v.renderConsent(c, http.StatusBadRequest, pc, map[string]string{"reason": "Choose the reason for emergency access"})
	}
	if choice != choiceEmergency {
		reason = ""
	}
	emergency, err := v.gw.recordConsent(c.Request().Context(), s.Token, pc.Launch, pc.NHS, pc.BirthDate, choice, reason)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Issue == mig.IssuePatientNotFound {
			return v.render(c, http.StatusNotFound, "message", &page{Title: "No patient found", Heading: "Nothing was recorded",
				Message: "No patient has this NHS number with this date of birth, among the practices your organisation's agreements cover, so no consent was recorded. Check both and search again.",
				Link:    "/", LinkText: "Search again"})
		}
		return v.refusal(c, err, pc)
	}
	if choice == choiceRefused {
		return v.render(c, http.StatusOK, "message", &page{Title: "Consent refused", Heading: "The patient refused consent to view",
			Message: "Their refusal is recorded. Nothing from their GP record is shown.", Link: "/", LinkText: "Find another patient"})
	}
	pc.Emergency = emergency
	return v.openPatient(c, s, pc)
}

// showView shows one tab: the view read in full through the API (every
// page), its tables, and plain words for whatever is not shown.
func (v *Viewer) showView(c echo.Context) error {
	pc, s, err := v.patientContext(c)
	if pc == nil {
		return err
	}
	view := c.Param("view")
	label, ok := tabLabel(view)
	if !ok || pc.PatientID == "" {
		return echo.ErrNotFound
	}
	b, err := v.gw.view(c.Request().Context(), s.Token, pc.Launch, pc.PatientID, view)
	asc := c.QueryParam("sort") == "asc"
	sealed := c.Param("ctx")
	p := &page{Title: label, View: view, ViewLabel: label, SortAsc: asc, Emergency: pc.Emergency}
	for _, t := range tabs {
		p.Tabs = append(p.Tabs, tabLink{Label: t.Label, Href: "/p/" + sealed + "/" + t.View, Current: t.View == view})
	}
	p.SortLink = "/p/" + sealed + "/" + view + "?sort=asc"
	if asc {
		p.SortLink = "/p/" + sealed + "/" + view
	}
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status == http.StatusUnauthorized || ae.Issue == mig.IssuePatientNotFound {
			return v.refusal(c, err, pc, label)
		}
		// The other tabs may still be allowed: say why this one is not,
		// inside the tabs.
		p.Refusal = v.explain(c, ae, label)
		if view == "summary" && ae.Issue == mig.IssueNoOrganisationConsent {
			p.Sections = []section{{ID: "allergies", Title: "Allergies and adverse reactions", Empty: msgAllergiesNotC}}
		}
		return v.render(c, refusalStatus(ae), "record", p)
	}
	p.Banner = patientBanner(b.patient(), v.cfg.Now())
	p.Emergency = p.Emergency || b.Emergency
	if view == "demographics" {
		p.Demo = patientDemographics(b.patient())
	} else {
		p.Sections = buildSections(view, b, asc)
	}
	if view == "examination" {
		p.Chart = bpChart(bpReadings(b))
	}
	if b.withheld() {
		p.Notes = append(p.Notes, msgWithheld+" (for example a confidential item, a sensitive code, or something outside your organisation's agreement).")
	}
	if b.notShown() {
		p.Notes = append(p.Notes, msgNotShown+": check with the GP practice.")
	}
	p.Incomplete = b.Incomplete
	return v.render(c, http.StatusOK, "record", p)
}

// refusal explains, in plain and true words, why the gateway said no.
func (v *Viewer) refusal(c echo.Context, err error, pc *patientCtx, view ...string) error {
	var ae *apiError
	if !errors.As(err, &ae) {
		return err
	}
	switch {
	case ae.Issue == mig.IssuePatientNotFound:
		return v.notFound(c)
	case ae.Status == http.StatusUnauthorized:
		return v.endSessionRedirect(c, "expired")
	}
	label := ""
	if len(view) > 0 {
		label = view[0]
	}
	p := &page{Title: "Record not shown", Heading: "The record cannot be shown", Link: "/", LinkText: "Find another patient",
		Message: v.explain(c, ae, label)}
	return v.render(c, refusalStatus(ae), "message", p)
}

func refusalStatus(ae *apiError) int {
	if ae.Status < 400 || ae.Issue == "UNREACHABLE" {
		return http.StatusBadGateway
	}
	return ae.Status
}

// explain says why: NO_PATIENT_CONSENT never claims which of its two
// causes; NO_ORGANISATION_CONSENT names the organisation or the view.
func (v *Viewer) explain(c echo.Context, ae *apiError, view string) string {
	s, _ := c.Get("session").(*session)
	org := ""
	if s != nil {
		org = s.Org
	}
	switch ae.Issue {
	case mig.IssueNoPatientConsent:
		return "The patient's GP record does not allow sharing: no consent to share is recorded, or the patient has opted out."
	case mig.IssueNoOrganisationConsent:
		switch {
		case strings.Contains(ae.Diagnostics, "not in any active sharing agreement"):
			return "Your organisation (" + org + ") is not in any active Information Sharing Agreement, so no GP records can be shown to its staff."
		case view != "" && strings.Contains(ae.Diagnostics, "requested view"):
			return "The " + view + " view is not covered by your organisation's (" + org + ") Information Sharing Agreement with this patient's GP practice."
		}
		return "Your organisation's sharing agreement does not cover this: " + safeDiag(ae) + "."
	case mig.IssueNoViewConsent:
		return "The patient's consent to view is not recorded for this episode, or the patient refused."
	case mig.IssueAccessDenied:
		return "You are not allowed to see this: " + safeDiag(ae) + "."
	case mig.IssueGPSystemUnavailable:
		return "The patient's GP system is not answering right now, so the record cannot be read. Try again in a few minutes. (" + safeDiag(ae) + ")"
	case mig.IssueAuditUnavailable:
		return "The record is not shown because the access could not be recorded in the audit trail. Try again later."
	case mig.IssueDuplicatePatient:
		return "Two GP practices claim this NHS number, so the record is not shown. Check with the GP practice."
	case mig.IssueInvalidNHSNumber:
		return "The NHS number is not valid."
	case "UNREACHABLE":
		return "The Medical Interoperability Gateway could not be reached. Try again."
	}
	return "The gateway refused the request: " + safeDiag(ae) + "."
}

// safeDiag is the gateway's diagnostics (content-free by the gateway's
// rule; escaped by the template like everything else).
func safeDiag(err error) string {
	var ae *apiError
	if errors.As(err, &ae) && ae.Diagnostics != "" {
		return strings.TrimSuffix(ae.Diagnostics, ".")
	}
	return "no reason was given"
}
