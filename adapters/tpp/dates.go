package tpp

import (
	"strings"
	"time"

	"mig/adapters/record"
)

// dateLayouts are the lexical forms a SystmOne date may take: xs:dateTime
// (seconds, optional fraction, optional time zone), the same to the minute,
// xs:date (optional time zone), and, leniently, a year-month or a year
// alone, which SystmOne uses for partial dates in other exports.
var dateLayouts = []struct {
	layout string
	p      record.Precision // PrecisionSecond: decided from the value
}{
	{"2006-01-02T15:04:05.999999999Z07:00", record.PrecisionSecond},
	{"2006-01-02T15:04:05.999999999", record.PrecisionSecond},
	{"2006-01-02T15:04Z07:00", record.PrecisionMinute},
	{"2006-01-02T15:04", record.PrecisionMinute},
	{"2006-01-02Z07:00", record.PrecisionDay},
	{"2006-01-02", record.PrecisionDay},
	{"2006-01", record.PrecisionMonth},
	{"2006", record.PrecisionYear},
}

// ParseDate reads a SystmOne date or date-time into a record.Date with its
// precision. Times with a zone are converted to UTC; times without one are
// UK local time (record.UKTime), converted to UTC. A date-time whose seconds are zero has
// minute precision (SystmOne records clinical times to the minute), and one
// at exactly midnight, with or without seconds, has day precision
// (SystmOne writes date-only entries as midnight): it is kept as the
// calendar day written, at midnight UTC, never shifted by a time zone. ok
// is false for anything else.
func ParseDate(s string) (d record.Date, ok bool) {
	s = strings.TrimSpace(s)
	if len(s) < 4 || s[0] < '0' || s[0] > '9' {
		return record.Date{}, false
	}
	for _, l := range dateLayouts {
		if !plausible(s, l.layout) {
			continue
		}
		t, err := time.ParseInLocation(l.layout, s, record.UKTime)
		if err != nil {
			continue
		}
		p := l.p
		switch p {
		case record.PrecisionSecond:
			switch {
			case t.Nanosecond() != 0 || t.Second() != 0:
			case t.Hour() == 0 && t.Minute() == 0:
				p = record.PrecisionDay
			default:
				p = record.PrecisionMinute
			}
		case record.PrecisionMinute:
			// midnight to the minute is a date-only entry too: never
			// converted, so it cannot move to the day before in BST
			if t.Hour() == 0 && t.Minute() == 0 {
				p = record.PrecisionDay
			}
		}
		if p <= record.PrecisionDay {
			y, m, dd := t.Date() // the date as written, whatever its zone
			switch p {
			case record.PrecisionYear:
				m, dd = 1, 1
			case record.PrecisionMonth:
				dd = 1
			}
			return record.Date{T: time.Date(y, m, dd, 0, 0, 0, 0, time.UTC), P: p}, true
		}
		return record.Date{T: t.UTC(), P: p}, true
	}
	return record.Date{}, false
}

// plausible rejects values time.Parse would take loosely for a layout:
// the date part must be exactly as long as the layout's, and only
// date-times carry a T.
func plausible(s, layout string) bool {
	hasT := strings.IndexByte(layout, 'T') >= 0
	if hasT != (strings.IndexByte(s, 'T') >= 0) {
		return false
	}
	if !hasT {
		dateLen := len(layout)
		if i := strings.Index(layout, "Z07:00"); i >= 0 {
			dateLen = i
			return len(s) > dateLen && (s[dateLen] == 'Z' || s[dateLen] == '+' || s[dateLen] == '-')
		}
		return len(s) == dateLen
	}
	return true
}
