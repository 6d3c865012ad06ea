package gp2gp

import (
	"strconv"
	"strings"
	"time"

	"mig/adapters/record"
	"mig/adapters/xmltok"
)

// parseTS reads an HL7 v3 TS value (YYYY, YYYYMM, YYYYMMDD, YYYYMMDDHH,
// YYYYMMDDHHMM, YYYYMMDDHHMMSS, optional .fraction, optional +/-ZZzz) into a
// Date with its precision. A value without a timezone is UK local time
// (record.UKTime), as in every adapter; either way it is kept in UTC. ok is false for a value that is not a valid TS.
func parseTS(s string) (record.Date, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return record.Date{}, false
	}
	loc := record.UKTime
	if i := strings.IndexAny(s, "+-"); i >= 0 {
		tz := s[i:]
		s = s[:i]
		if len(tz) != 5 || !digits(tz[1:]) {
			return record.Date{}, false
		}
		h, _ := strconv.Atoi(tz[1:3])
		m, _ := strconv.Atoi(tz[3:5])
		if h > 14 || m > 59 {
			return record.Date{}, false
		}
		off := h*3600 + m*60
		if tz[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		if i != 14 || !digits(s[i+1:]) || len(s) == i+1 {
			return record.Date{}, false
		}
		s = s[:i] // fractions of a second: kept at second precision
	}
	if !digits(s) {
		return record.Date{}, false
	}
	var p record.Precision
	var layout string
	switch len(s) {
	case 4:
		p, layout = record.PrecisionYear, "2006"
	case 6:
		p, layout = record.PrecisionMonth, "200601"
	case 8:
		p, layout = record.PrecisionDay, "20060102"
	case 10:
		p, layout = record.PrecisionMinute, "2006010215"
	case 12:
		p, layout = record.PrecisionMinute, "200601021504"
	case 14:
		p, layout = record.PrecisionSecond, "20060102150405"
	default:
		return record.Date{}, false
	}
	t, err := time.ParseInLocation(layout, s, loc)
	if err != nil {
		return record.Date{}, false
	}
	if p <= record.PrecisionDay {
		// A date without a time stays on its calendar day.
		t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	}
	return record.Date{T: t.UTC(), P: p}, true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// tsAttr reads the value attribute of a TS element (nullFlavor: no date).
func tsAttr(n *xmltok.Node) record.Date {
	if n == nil || n.Attr("nullFlavor") != "" {
		return record.Date{}
	}
	d, _ := parseTS(n.Attr("value"))
	return d
}

// interval reads an IVL_TS effectiveTime: start (center, else low) and end
// (high).
func interval(n *xmltok.Node) (start, end record.Date) {
	if n == nil {
		return
	}
	if d := tsAttr(n.Child("center")); !d.IsZero() {
		start = d
	} else if d := tsAttr(n.Child("low")); !d.IsZero() {
		start = d
	} else if n.Attr("value") != "" {
		start = tsAttr(n)
	}
	end = tsAttr(n.Child("high"))
	return
}
