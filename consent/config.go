package consent

import (
	"encoding/json"
	"time"

	"mig"
)

// Duration is a time.Duration written in JSON as a Go duration string
// ("8h", "30m").
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return mig.Errorf(mig.EINVALID, "duration: want a string such as \"8h\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return mig.Errorf(mig.EINVALID, "bad duration %q: use a positive duration such as \"30s\" or \"8h\"", s)
	}
	*d = Duration(v)
	return nil
}

// Config is the access-control part of the gateway configuration.
type Config struct {
	// ClinicalRoles are the national RBAC role codes that may read
	// patient data (REFERENCE.md: no official list says which roles are
	// clinical; design keeps it in configuration).
	ClinicalRoles []string `json:"clinicalRoles"`
	// AuditorRoles may search and export the audit log.
	AuditorRoles []string `json:"auditorRoles"`
	// AdminUsers are the SDS user ids allowed to change agreements.
	AdminUsers []string `json:"adminUsers"`
	// AccessReportRoles may, besides the auditor roles, read the access
	// report of a patient registered at their own organisation (the
	// practice staff who answer a patient's "who has looked at my record").
	AccessReportRoles []string `json:"accessReportRoles"`
	// Episode is how long a recorded consent to view lasts.
	Episode Duration `json:"episode"`
	// ShareCodes are the patient's consent/dissent to share codes.
	ShareCodes ShareCodes `json:"shareCodes"`
	// SensitiveCodes are withheld from every response.
	SensitiveCodes CodeList `json:"sensitiveCodes"`
	// Report configures the consent report for practices.
	Report ReportConfig `json:"report"`
}

// DefaultConfig returns the shipped configuration.
func DefaultConfig() Config {
	c := Config{
		ClinicalRoles:  []string{"R8000", "R8001", "R8003", "R8016"},
		AuditorRoles:   []string{"R0001", "R5105"},
		AdminUsers:     nil,
		Episode:        Duration(8 * time.Hour),
		ShareCodes:     DefaultShareCodes(),
		SensitiveCodes: DefaultSensitiveCodes(),
		Report:         DefaultReportConfig(),
	}
	// R8008 Admin/Clinical Support Access Role: the practice staff who
	// handle patients' requests for their information.
	c.AccessReportRoles = []string{"R8008"}
	return c
}

// EpisodeLength returns the configured episode, or 8 hours when unset.
func (c Config) EpisodeLength() time.Duration {
	if c.Episode <= 0 {
		return 8 * time.Hour
	}
	return time.Duration(c.Episode)
}

func contains(list []string, s string) bool {
	if s == "" {
		return false
	}
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
