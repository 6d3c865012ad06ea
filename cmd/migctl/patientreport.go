package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"time"

	"mig"
	"mig/adapters/record"
	"mig/audit"
	"mig/cmd/internal/app"
)

// reportNow is the clock a patient report is dated by; tests fix it.
var reportNow = time.Now

// auditPatientReport answers a patient's "who has looked at my record":
// from a stopped gateway's data directory (and archived segments), or from
// a running gateway's $mig-access-report with a practice auditor's token.
func auditPatientReport(ctx context.Context, args []string, stdout io.Writer) error {
	fs := auditFlags("patient-report")
	data := fs.String("data", "", "the gateway's data directory (DIR/audit.db; the gateway must be stopped)")
	server := fs.String("server", "", "a running gateway's base URL: GET /fhir/Patient/$mig-access-report")
	token := fs.String("token", "", "with -server: a token of an auditor or access-report role of the patient's practice (default: $MIG_TOKEN)")
	nhs := fs.String("nhs", "", "the patient's NHS number")
	from := fs.String("from", "", "first day, YYYY-MM-DD (UK; default: the beginning)")
	to := fs.String("to", "", "last day, YYYY-MM-DD, included (UK; default: today)")
	format := fs.String("format", "text", "text, csv or html (a printable page)")
	showTime := fs.Bool("time", false, "show the time of day (default: the day only)")
	showNames := fs.Bool("names", false, "show users' names (default: none)")
	var archives listFlag
	fs.Var(&archives, "archive", "with -data: an archived audit segment (audit archive); repeat")
	configFile := fs.String("config", "", "with -data: the gateway's configuration, for organisation names and patientReport.archives")
	out := fs.String("o", "", "write the report to this file (default: standard output)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("patient-report takes flags only")
	}
	if !mig.ValidNHSNumber(*nhs) {
		return usagef("-nhs must be an NHS number: 10 digits with a valid check digit")
	}
	render := map[string]func(*audit.PatientReport, io.Writer) error{
		"text": (*audit.PatientReport).WriteText,
		"csv":  (*audit.PatientReport).WriteCSV,
		"html": (*audit.PatientReport).WriteHTML,
	}[*format]
	if render == nil {
		return usagef("-format must be text, csv or html")
	}
	q := audit.PatientReportQuery{NHSNumber: *nhs, ShowTime: *showTime, ShowNames: *showNames, Now: reportNow().UTC()}
	if *from != "" {
		if q.From, err = audit.UKDay(*from); err != nil {
			return usagef("-from must be a date, YYYY-MM-DD")
		}
	}
	if *to != "" {
		last, err := audit.UKDay(*to)
		if err != nil {
			return usagef("-to must be a date, YYYY-MM-DD")
		}
		q.To = last.In(record.UKTime).AddDate(0, 0, 1).UTC()
		if !q.To.After(q.From) {
			return usagef("-to must not be before -from")
		}
	}
	var rep *audit.PatientReport
	switch {
	case *data != "" && *server != "":
		return usagef("give -data or -server, not both")
	case *server != "":
		if len(archives) > 0 || *configFile != "" {
			return usagef("-archive and -config are for -data; the gateway reads its own")
		}
		c, err := newRemote(*server, *token)
		if err != nil {
			return err
		}
		if rep, err = remotePatientReport(ctx, c, *from, *to, q); err != nil {
			return err
		}
	case *data == "":
		return usagef("give -data DIR (gateway stopped) or -server URL")
	default:
		paths := []string(archives)
		if *configFile != "" {
			cfg, err := app.LoadConfig(*configFile)
			if err != nil {
				return err
			}
			q.OrgNames = cfg.ReportOrgNames()
			paths = append(append([]string{}, cfg.PatientReport.Archives...), paths...)
		}
		store, err := openAudit(*data, true)
		if err != nil {
			return err
		}
		defer store.Close()
		segments, closeAll, err := app.OpenReportArchives(paths)
		if err != nil {
			return err
		}
		defer closeAll()
		if rep, err = audit.BuildPatientReport(ctx, store, segments, q); err != nil {
			return err
		}
	}
	w, closeOut, err := output(*out, stdout)
	if err != nil {
		return err
	}
	err = render(rep, w)
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	return err
}

// remotePatientReport reads the report from a running gateway, which
// shows what its configuration allows; the flags then ask for no more
// than that, and the report keeps no more than the flags ask for.
func remotePatientReport(ctx context.Context, c *remote, from, to string, q audit.PatientReportQuery) (*audit.PatientReport, error) {
	v := url.Values{"identifier": {"https://fhir.nhs.uk/Id/nhs-number|" + q.NHSNumber}}
	if from != "" {
		v.Set("from", from)
	}
	if to != "" {
		v.Set("to", to)
	}
	resp, err := c.do(ctx, "GET", "/fhir/Patient/$mig-access-report?"+v.Encode(), nil, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("the gateway's answer could not be read")
	}
	rep, err := audit.ParsePatientReport(b)
	if err != nil {
		return nil, fmt.Errorf("the gateway's answer is not a patient access report")
	}
	if q.ShowTime && !rep.ShowTime {
		return nil, fmt.Errorf("the gateway does not give the time of day (its patientReport.showTime is off)")
	}
	if q.ShowNames && !rep.ShowNames {
		return nil, fmt.Errorf("the gateway does not give names (its patientReport.showNames is off)")
	}
	return rep.Redact(q.ShowTime, q.ShowNames)
}
