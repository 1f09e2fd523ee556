package placement

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/onestack/onestack/internal/microversion"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/placement"
)

func badQuery(format string, args ...any) error {
	return oserr.BadRequest("Invalid query string parameters: "+format, args...).WithType(svc.CodeBadQuery)
}

// checkQuery rejects parameters outside allowed, as Placement's query
// schemas (additionalProperties: false) do.
func checkQuery(q url.Values, allowed ...string) error {
	for k := range q {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return badQuery("'%s' was unexpected: this request takes no query parameters.", k)
			}
			return badQuery("'%s' was unexpected; the parameters allowed at this microversion are %s.", k, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// parseResources reads "VCPU:2,MEMORY_MB:1024".
func parseResources(val string) (map[string]int64, error) {
	if strings.TrimSpace(val) == "" {
		return nil, oserr.BadRequest("Badly formed resources parameter. Expected resources query string parameter in form: ?resources=VCPU:2,MEMORY_MB:1024. Got: empty string.")
	}
	out := map[string]int64{}
	for _, part := range strings.Split(val, ",") {
		rc, amount, ok := strings.Cut(part, ":")
		if !ok || strings.Contains(amount, ":") {
			return nil, oserr.BadRequest("Badly formed resources parameter. Expected resources query string parameter in form: ?resources=VCPU:2,MEMORY_MB:1024. Got: %s.", part)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(amount), 10, 64)
		if err != nil {
			return nil, oserr.BadRequest("Requested resource %s expected positive integer amount. Got: %s.", rc, amount)
		}
		if n < 1 {
			return nil, oserr.BadRequest("Requested resource %s requires amount >= 1. Got: %d.", rc, n)
		}
		out[strings.TrimSpace(rc)] = n
	}
	return out, nil
}

// parseRequired reads the values of a required parameter: "T1,!T2" and,
// from 1.39, "in:T3,T4" and repeated parameters (before 1.39 the last one
// wins). It returns any-of trait sets to AND, and forbidden traits.
func parseRequired(values []string, v microversion.Version) ([][]string, []string, error) {
	allowForbidden, allowAny := v.AtLeast(mv(22)), v.AtLeast(mv(39))
	if !allowAny && len(values) > 1 {
		values = values[len(values)-1:]
	}
	var required [][]string
	var forbidden []string
	for _, val := range values {
		if rest, ok := strings.CutPrefix(val, "in:"); ok {
			if !allowAny {
				return nil, nil, badQuery("The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' only supported since microversion 1.39. Got: %s.", val)
			}
			var set []string
			for _, t := range strings.Split(rest, ",") {
				t = strings.TrimSpace(t)
				if t == "" {
					return nil, nil, badQuery("Expected 'required' parameter value of the form: in:HW_CPU_X86_VMX,CUSTOM_MAGIC. Got an empty trait in: %s.", val)
				}
				if strings.HasPrefix(t, "!") {
					return nil, nil, badQuery("The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' does not support forbidden traits. Got: %s.", val)
				}
				set = append(set, t)
			}
			required = append(required, set)
			continue
		}
		for _, t := range strings.Split(val, ",") {
			t = strings.TrimSpace(t)
			name := strings.TrimLeft(t, "!")
			if name == "" {
				return nil, nil, badQuery("Expected 'required' parameter value of the form: HW_CPU_X86_VMX,!CUSTOM_MAGIC. Got an empty trait in: %s.", val)
			}
			if name != t {
				if !allowForbidden {
					return nil, nil, badQuery("Expected 'required' parameter value of the form: HW_CPU_X86_VMX,CUSTOM_MAGIC (forbidden traits need microversion 1.22). Got: %s.", val)
				}
				forbidden = append(forbidden, name)
				continue
			}
			required = append(required, []string{t})
		}
	}
	return required, forbidden, nil
}

// conflicting returns the any-of sets every trait of which is forbidden.
func conflicting(required [][]string, forbidden []string) []string {
	var out []string
	for _, set := range required {
		if !slices.ContainsFunc(set, func(t string) bool { return !slices.Contains(forbidden, t) }) {
			out = append(out, strings.Join(set, ", "))
		}
	}
	return out
}

// parseMemberOf reads member_of values: "AGG", "in:A,B", and from 1.32
// "!AGG" and "!in:A,B". Several parameters need 1.24.
func parseMemberOf(values []string, v microversion.Version, key string) ([][]string, []string, error) {
	if len(values) > 1 && !v.AtLeast(mv(24)) {
		return nil, nil, oserr.BadRequest("Multiple %s parameters are not supported before microversion 1.24; combine them with in:A,B.", key)
	}
	var required [][]string
	var forbidden []string
	for _, val := range values {
		if strings.Contains(val, ",") && !strings.HasPrefix(val, "in:") && !strings.HasPrefix(val, "!in:") {
			return nil, nil, oserr.BadRequest("Multiple values for 'member_of' must be prefixed with the 'in:' or '!in:' keyword using the valid microversion. Got: %s.", val)
		}
		neg := strings.HasPrefix(val, "!")
		body := strings.TrimPrefix(strings.TrimPrefix(val, "!"), "in:")
		var set []string
		for _, u := range strings.Split(body, ",") {
			n, ok := svc.NormalizeUUID(strings.TrimSpace(u))
			if !ok {
				return nil, nil, badQuery("Expected 'member_of' parameter to contain valid UUID(s). Got: %s.", u)
			}
			set = append(set, n)
		}
		if neg {
			if !v.AtLeast(mv(32)) {
				return nil, nil, oserr.BadRequest("Forbidden %s parameters are not supported in the specified microversion; forbidden aggregates need 1.32.", key)
			}
			forbidden = append(forbidden, set...)
			continue
		}
		required = append(required, set)
	}
	return required, forbidden, nil
}

func parseUUIDParam(name, val string) (string, error) {
	n, ok := svc.NormalizeUUID(strings.TrimSpace(val))
	if !ok {
		return "", badQuery("Expected '%s' parameter to be a format of uuid. Got: %s.", name, val)
	}
	return n, nil
}
