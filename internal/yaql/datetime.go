package yaql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/exprvalue"
)

// Datetimes are time.Time values with a fixed offset (UTC unless an
// offset is given); timespans are time.Duration. Both leave an evaluation
// as the strings Python prints for them.

func (c *call) timespan(i int, def time.Duration) (time.Duration, error) {
	if !c.has(i) || c.args[i] == nil {
		return def, nil
	}
	d, ok := c.args[i].(time.Duration)
	if !ok {
		return 0, c.fail("%s must be a timespan, not a %s", c.pname(i), kind(c.args[i]))
	}
	return d, nil
}

func zone(offset time.Duration) *time.Location {
	if offset == 0 {
		return time.UTC
	}
	return time.FixedZone("", int(offset/time.Second))
}

func timeFuncs() []*builtin {
	return []*builtin{
		fn("now", "offset", 0, 1, func(c *call) (any, error) {
			off, err := c.timespan(0, 0)
			if err != nil {
				return nil, err
			}
			c.e.own = true
			return c.e.env.now().In(zone(off)), nil
		}),
		fn("utcnow", "", 0, 0, func(c *call) (any, error) {
			c.e.own = true
			return c.e.env.now().UTC(), nil
		}),
		fn("localtz", "", 0, 0, func(c *call) (any, error) {
			_, off := c.e.env.now().Zone()
			c.e.own = true
			return time.Duration(off) * time.Second, nil
		}),
		fn("utctz", "", 0, 0, func(c *call) (any, error) {
			c.e.own = true
			return time.Duration(0), nil
		}),
		// datetime(year, month, day[, hour, minute, second, microsecond,
		// offset]), datetime(timestamp[, offset]), datetime(string[, format])
		fn("datetime", "year|timestamp|string,month|offset|format,day,hour,minute,second,microsecond,offset", 1, 8, makeDatetime),
		fn("timespan", "days,hours,minutes,seconds,milliseconds,microseconds", 0, 6, func(c *call) (any, error) {
			units := []float64{86400e6, 3600e6, 60e6, 1e6, 1e3, 1}
			var us float64
			for i, u := range units {
				if !c.has(i) {
					continue
				}
				n, err := c.num(i)
				if err != nil {
					return nil, err
				}
				us += n.Float() * u
			}
			if math.Abs(us) > float64(math.MaxInt64/1000) {
				return nil, c.fail("timespan out of range")
			}
			c.e.own = true
			return time.Duration(math.Round(us)) * time.Microsecond, nil
		}),
		fn("format", "datetime,format", 2, 2, func(c *call) (any, error) {
			t, ok := c.args[0].(time.Time)
			if !ok {
				return nil, c.fail("formats a datetime, not a %s", kind(c.args[0]))
			}
			f, err := c.str(1)
			if err != nil {
				return nil, err
			}
			return strftime(t, f), nil
		}),
		fn("isDatetime", "value", 1, 1, func(c *call) (any, error) {
			_, ok := c.args[0].(time.Time)
			return ok, nil
		}),
		fn("isTimespan", "value", 1, 1, func(c *call) (any, error) {
			_, ok := c.args[0].(time.Duration)
			return ok, nil
		}),
	}
}

func makeDatetime(c *call) (any, error) {
	c.e.own = true
	switch x := c.args[0].(type) {
	case string:
		if c.has(1) && c.args[1] != nil {
			f, err := c.str(1)
			if err != nil {
				return nil, err
			}
			t, err := strptime(x, f)
			if err != nil {
				return nil, c.fail("the string does not match the format %q", f)
			}
			return t, nil
		}
		t, err := parseDatetime(x)
		if err != nil {
			return nil, c.fail("cannot read the string as a date and time (use ISO 8601, e.g. 2016-12-01 15:01:00, or give a format)")
		}
		return t, nil
	}
	if c.nargs() <= 2 {
		n, err := c.num(0)
		if err != nil {
			return nil, err
		}
		off, err := c.timespan(1, 0)
		if err != nil {
			return nil, err
		}
		sec, frac := math.Modf(n.Float())
		return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1000).In(zone(off)), nil
	}
	var f [7]int64
	for i := range f {
		v, err := c.int(i, 0)
		if err != nil {
			return nil, err
		}
		f[i] = v
	}
	off, err := c.timespan(7, 0)
	if err != nil {
		return nil, err
	}
	if f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] < 0 || f[3] > 23 || f[4] < 0 || f[4] > 59 || f[5] < 0 || f[5] > 59 || f[6] < 0 || f[6] > 999999 {
		return nil, c.fail("a date or time field is out of range")
	}
	t := time.Date(int(f[0]), time.Month(f[1]), int(f[2]), int(f[3]), int(f[4]), int(f[5]), int(f[6])*1000, zone(off))
	if t.Day() != int(f[2]) {
		return nil, c.fail("day is out of range for the month")
	}
	return t, nil
}

var datetimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
	time.RFC1123Z,
	time.RFC1123,
	time.ANSIC,
}

// parseDatetime reads the common ISO 8601 and RFC forms; a time without
// an offset is UTC.
func parseDatetime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range datetimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised date %q", s)
}

var strftimeLayout = map[byte]string{
	'Y': "2006", 'm': "01", 'd': "02", 'H': "15", 'M': "04", 'S': "05", 'y': "06",
	'b': "Jan", 'B': "January", 'a': "Mon", 'A': "Monday", 'p': "PM", 'I': "03",
	'z': "-0700", 'Z': "MST",
}

// strptime parses s by a Python strptime format.
func strptime(s, f string) (time.Time, error) {
	var layout strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 >= len(f) {
			layout.WriteByte(f[i])
			continue
		}
		i++
		switch d := f[i]; {
		case d == '%':
			layout.WriteByte('%')
		case d == 'f':
			// Go reads a fraction after the preceding '.' itself.
			layout.WriteString("999999")
		default:
			l, ok := strftimeLayout[d]
			if !ok {
				return time.Time{}, fmt.Errorf("unsupported directive %%%c", d)
			}
			layout.WriteString(l)
		}
	}
	l := strings.ReplaceAll(layout.String(), ".999999", ".999999999")
	return time.Parse(l, s)
}

// strftime formats t by a Python strftime format.
func strftime(t time.Time, f string) string {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 >= len(f) {
			b.WriteByte(f[i])
			continue
		}
		i++
		switch d := f[i]; d {
		case '%':
			b.WriteByte('%')
		case 'f':
			fmt.Fprintf(&b, "%06d", t.Nanosecond()/1000)
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 'w':
			b.WriteString(strconv.Itoa(int(t.Weekday())))
		case 'Z':
			if name, off := t.Zone(); name != "" || off == 0 {
				if off == 0 {
					b.WriteString("UTC")
				} else {
					b.WriteString(name)
				}
			}
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'c':
			b.WriteString(t.Format("Mon Jan _2 15:04:05 2006"))
		case 'x':
			b.WriteString(t.Format("01/02/06"))
		case 'X':
			b.WriteString(t.Format("15:04:05"))
		default:
			if l, ok := strftimeLayout[d]; ok {
				b.WriteString(t.Format(l))
			} else {
				b.WriteByte('%')
				b.WriteByte(d)
			}
		}
	}
	return b.String()
}

// timeAttr is the properties of datetimes (year ... timestamp) and
// timespans (days ... microseconds).
func timeAttr(v any, name string) (any, bool, error) {
	switch t := v.(type) {
	case time.Time:
		switch name {
		case "year":
			return int64(t.Year()), true, nil
		case "month":
			return int64(t.Month()), true, nil
		case "day":
			return int64(t.Day()), true, nil
		case "hour":
			return int64(t.Hour()), true, nil
		case "minute":
			return int64(t.Minute()), true, nil
		case "second":
			return int64(t.Second()), true, nil
		case "microsecond":
			return int64(t.Nanosecond() / 1000), true, nil
		case "weekday":
			return int64((t.Weekday() + 6) % 7), true, nil
		case "date":
			return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location()), true, nil
		case "time":
			return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond()/1000)*time.Microsecond, true, nil
		case "offset":
			_, off := t.Zone()
			return time.Duration(off) * time.Second, true, nil
		case "timestamp":
			return float64(t.UnixMicro()) / 1e6, true, nil
		case "utc":
			return t.UTC(), true, nil
		}
		return nil, false, evalErr("operator .", "a datetime has no attribute %q", name)
	case time.Duration:
		us := float64(t.Microseconds())
		switch name {
		case "microseconds":
			return t.Microseconds(), true, nil
		case "milliseconds":
			return us / 1e3, true, nil
		case "seconds":
			return us / 1e6, true, nil
		case "minutes":
			return us / 60e6, true, nil
		case "hours":
			return us / 3600e6, true, nil
		case "days":
			return us / 86400e6, true, nil
		}
		return nil, false, evalErr("operator .", "a timespan has no attribute %q", name)
	}
	return nil, false, nil
}

var _ = exprvalue.Kind
