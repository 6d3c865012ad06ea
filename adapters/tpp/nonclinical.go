package tpp

import (
	"strconv"
	"strings"

	"mig/adapters/record"
	"mig/adapters/xmltok"
)

// attendedAppointment are the AppointmentStatus values of an appointment
// the patient came to: such an appointment is an encounter. Booked,
// cancelled, did-not-attend and walked-out ones are not.
var attendedAppointment = map[string]bool{
	"Arrived": true, "Waiting": true, "In Progress": true, "Finished": true,
}

// appointment reads one Appointment; an attended one is an encounter at
// its site. Clinician, clinic type, comments and flags are free text.
func (p *parser) appointment(t xmltok.Token) error {
	path := p.d.Path()
	n, err := p.d.ReadNode(t)
	if err != nil {
		return err
	}
	p.appts++
	if !attendedAppointment[strings.TrimSpace(text(n, "Status"))] {
		return nil
	}
	d, err := p.date(n, path, "DateTime")
	if err != nil {
		return err
	}
	id := strings.TrimSpace(text(n, "AppointmentUID"))
	if id == "" {
		id = "appointment-" + strconv.Itoa(p.appts)
	}
	i := p.add(record.Entry{ID: id, Kind: record.KindEncounter, Effective: d}, strings.TrimSpace(text(n, "UserName")))
	if site := strings.TrimSpace(text(n, "Site")); site != "" {
		p.siteRefs = append(p.siteRefs, ref{i, site})
	}
	return nil
}

// visit reads one (home) Visit; a finished one is an encounter.
func (p *parser) visit(t xmltok.Token) error {
	path := p.d.Path()
	n, err := p.d.ReadNode(t)
	if err != nil {
		return err
	}
	p.appts++
	if strings.TrimSpace(text(n, "Status")) != "Finished" {
		return nil
	}
	d, err := p.date(n, path, "DateTime")
	if err != nil {
		return err
	}
	id := strings.TrimSpace(text(n, "VisitUID"))
	if id == "" {
		id = "visit-" + strconv.Itoa(p.appts)
	}
	p.add(record.Entry{ID: id, Kind: record.KindEncounter, Effective: d}, strings.TrimSpace(text(n, "UserName")))
	return nil
}
