package app

import (
	"context"
	"fmt"

	"mig/audit"
	auditbolt "mig/audit/bolt"
	"mig/fhir/rest"
)

// PatientReportConfig is what the patient access report ("who has looked
// at my record", GET /fhir/Patient/$mig-access-report) shows. By default
// the day without the time, role categories and no names: an
// organisation, a role and a time together can identify a lone member of
// staff (README.md, "Who has looked at my record").
type PatientReportConfig struct {
	ShowTime  bool `json:"showTime"`  // the time of day (UK, to the minute) beside the day
	ShowNames bool `json:"showNames"` // users' names from their tokens, when in the shape of a name
	// Organisations names organisations for patients (ODS code -> name);
	// the practices' names (practices[].name) are added.
	Organisations map[string]string `json:"organisations"`
	// Archives are archived audit segments (migctl audit archive), read
	// as well as the live store.
	Archives []string `json:"archives"`
}

func (c *PatientReportConfig) validate() []string {
	var errs []string
	for ods := range c.Organisations {
		if !odsCode(ods) {
			errs = append(errs, "patientReport.organisations: "+fmt.Sprintf("%q", ods)+" is not an ODS code")
		}
	}
	for i, p := range c.Archives {
		if p == "" {
			errs = append(errs, fmt.Sprintf("patientReport.archives[%d] is empty", i))
		}
	}
	return errs
}

// ReportOrgNames are the organisation names the access report tells
// patients: patientReport.organisations, and each practice's name.
func (c *Config) ReportOrgNames() map[string]string {
	out := map[string]string{}
	for _, p := range c.Practices {
		if p.Name != "" {
			out[p.ODS] = p.Name
		}
	}
	for ods, name := range c.PatientReport.Organisations {
		out[ods] = name
	}
	return out
}

// OpenReportArchives opens archived audit segments read-only, in order.
// close closes those opened.
func OpenReportArchives(paths []string) (segments []audit.Scanner, close func(), err error) {
	var opened []*auditbolt.Store
	close = func() {
		for _, s := range opened {
			s.Close()
		}
	}
	for _, p := range paths {
		s, err := auditbolt.Open(p, auditbolt.Options{ReadOnly: true})
		if err != nil {
			close()
			return nil, nil, fmt.Errorf("audit archive segment %s: %v", p, err)
		}
		opened = append(opened, s)
		segments = append(segments, s)
	}
	return segments, close, nil
}

// accessReportOptions reads the patientReport configuration and opens the
// archived segments, which stay open (read-only) until the gateway stops.
func (m *Main) accessReportOptions(ctx context.Context) (rest.AccessReportOptions, error) {
	cfg := &m.Config
	segments, closeAll, err := OpenReportArchives(cfg.PatientReport.Archives)
	if err != nil {
		return rest.AccessReportOptions{}, err
	}
	m.goRun(func() { <-ctx.Done(); closeAll() })
	return rest.AccessReportOptions{ShowTime: cfg.PatientReport.ShowTime, ShowNames: cfg.PatientReport.ShowNames,
		OrgNames: cfg.ReportOrgNames(), Archives: segments}, nil
}
