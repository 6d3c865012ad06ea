package emis

import (
	"strings"
	"time"
	_ "time/tzdata" // Europe/London must load on hosts without a zone database

	"mig/adapters/record"
)

// london is the zone EMIS Web writes its local times in.
var london = mustZone("Europe/London")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic("emis: time zone " + name + ": " + err.Error())
	}
	return loc
}

// parseDate reads an EMIS Open date: dd/mm/yyyy, mm/yyyy or yyyy, optionally
// followed by " hh:mm" or " hh:mm:ss". datePart is the item's DatePart
// (EomMedicalRecord38.xsd: 0 dd/mm/yyyy, 1 mmmm/yyyy, 2 yyyy, 3 not known,
// 4 dd/mm/yyyy hh:mm:ss; absent or -1, EMIS's null, says nothing) and caps
// the precision; timeStr is the item's AssignedTime.
//
//   - DatePart 0 is a date without a time: a time written in the date text
//     is ignored, and only an AssignedTime gives the item a time.
//   - Otherwise the time written in the date text is used, or else the
//     AssignedTime.
//   - A time of exactly midnight (00:00 or 00:00:00) is how EMIS writes "no
//     time" and is no time, except under DatePart 4 (date and time).
//
// A value with a time is UK local time, converted to UTC. A value without
// one is its calendar day at midnight UTC with day precision (or its month
// or year with that precision): it is never converted, so a date-only value
// in British Summer Time stays on its day.
//
// The boolean is false when the text is not a valid date: callers then leave
// that date unset and keep the entry (design: a coded item matters more than
// its date; nothing of the bad text is kept or reported).
func parseDate(s, datePart, timeStr string) (record.Date, bool) {
	s = strings.TrimSpace(s)
	datePart = strings.TrimSpace(datePart)
	if datePart == "-1" {
		datePart = ""
	}
	if s == "" || datePart == "3" {
		return record.Date{}, true
	}
	datePortion, timePortion, _ := strings.Cut(s, " ")
	timePortion = strings.TrimSpace(timePortion)
	if datePart == "0" {
		timePortion = ""
	}
	if timePortion == "" {
		timePortion = strings.TrimSpace(timeStr)
	}
	if datePart != "4" && (timePortion == "00:00" || timePortion == "00:00:00") {
		timePortion = ""
	}
	parts := strings.Split(datePortion, "/")
	var y, m, d int
	var p record.Precision
	var ok bool
	switch len(parts) {
	case 3:
		d, ok = digits(parts[0], 1, 2)
		if !ok {
			return record.Date{}, false
		}
		if m, ok = digits(parts[1], 1, 2); !ok {
			return record.Date{}, false
		}
		if y, ok = digits(parts[2], 4, 4); !ok {
			return record.Date{}, false
		}
		p = record.PrecisionDay
	case 2:
		if m, ok = digits(parts[0], 1, 2); !ok {
			return record.Date{}, false
		}
		if y, ok = digits(parts[1], 4, 4); !ok {
			return record.Date{}, false
		}
		d, p = 1, record.PrecisionMonth
	case 1:
		if y, ok = digits(parts[0], 4, 4); !ok {
			return record.Date{}, false
		}
		m, d, p = 1, 1, record.PrecisionYear
	default:
		return record.Date{}, false
	}
	if y < 1800 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return record.Date{}, false
	}
	var hh, mm, ss int
	if p == record.PrecisionDay && timePortion != "" {
		tp := strings.Split(timePortion, ":")
		if len(tp) < 2 || len(tp) > 3 {
			return record.Date{}, false
		}
		if hh, ok = digits(tp[0], 1, 2); !ok || hh > 23 {
			return record.Date{}, false
		}
		if mm, ok = digits(tp[1], 2, 2); !ok || mm > 59 {
			return record.Date{}, false
		}
		p = record.PrecisionMinute
		if len(tp) == 3 {
			if ss, ok = digits(tp[2], 2, 2); !ok || ss > 59 {
				return record.Date{}, false
			}
			p = record.PrecisionSecond
		}
	}
	switch datePart {
	case "", "4":
	case "0":
		// a date, with a time only from AssignedTime (above)
	case "1":
		p = min(p, record.PrecisionMonth)
	case "2":
		p = min(p, record.PrecisionYear)
	default:
		return record.Date{}, false
	}
	switch p {
	case record.PrecisionYear:
		m, d = 1, 1
	case record.PrecisionMonth:
		d = 1
	}
	if p >= record.PrecisionMinute {
		t := time.Date(y, time.Month(m), d, hh, mm, ss, 0, london).UTC()
		return record.Date{T: t, P: p}, true
	}
	return record.Date{T: time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC), P: p}, true
}

func digits(s string, minLen, maxLen int) (int, bool) {
	if len(s) < minLen || len(s) > maxLen {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func daysIn(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
