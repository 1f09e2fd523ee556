package object

import (
	"net/url"
	"slices"
	"strings"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
)

// Roles keystoneauth gives meaning to. OperatorRoles own their project's
// account; ResellerAdminRole owns every account; ReaderRoles may read
// their project's account.
var (
	OperatorRoles     = []string{auth.RoleMember, auth.RoleAdmin}
	ReaderRoles       = []string{auth.RoleReader}
	ResellerAdminRole = "ResellerAdmin"
)

// Caller is who sends a request: a token's bearer, or nobody (anonymous),
// with the Referer it sent; a verified TempURL or FormPost signature grants
// access without a token.
type Caller struct {
	Creds    *auth.Credentials // nil: anonymous
	Referrer string
	// Signed is set when a TempURL or FormPost signature authorised the
	// request for Account (the API checked it with Service.TempURLKeys),
	// or only for SignedContainer when it was signed with that container's
	// key.
	Signed          bool
	Account         string
	SignedContainer string
}

// Anonymous reports whether the caller has no token.
func (c *Caller) Anonymous() bool { return c == nil || c.Creds == nil }

// op is what a request does to what it names, for the ACL it is checked
// against: container listings and object reads use the read ACL, object
// writes the write ACL; account requests and container changes need an
// owner.
type op int

const (
	opAccount        op = iota // an account request: owners only
	opContainerRead            // list or HEAD a container: read ACL (listings need .rlistings for referrers)
	opContainerWrite           // PUT/POST/DELETE a container: owners only
	opObjectRead               // GET/HEAD an object: read ACL
	opObjectWrite              // PUT/POST/DELETE/COPY onto an object: write ACL
)

// grant is what authorize decided: Owner callers may see and change ACLs
// and other owner-only metadata.
type grant struct{ Owner bool }

// CleanACL validates and normalises an X-Container-Read or -Write value as
// Swift's clean_acl: items separated by commas, referrer designations
// (.r:host, .r:-host, .r:.domain, .r:*) only in read ACLs.
func CleanACL(header, value string) (string, error) {
	var out []string
	for raw := range strings.SplitSeq(value, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		first, second, ok := strings.Cut(raw, ":")
		if !ok {
			out = append(out, raw)
			continue
		}
		first, second = strings.TrimSpace(first), strings.TrimSpace(second)
		switch {
		case first == "" || !strings.HasPrefix(first, "."):
			out = append(out, raw)
		case first == ".r" || first == ".ref" || first == ".referer" || first == ".referrer":
			if strings.Contains(strings.ToLower(header), "write") {
				return "", textErr(400, "Referrers not allowed in write ACL: '%s'", raw)
			}
			neg := ""
			if strings.HasPrefix(second, "-") {
				neg, second = "-", strings.TrimSpace(second[1:])
			}
			if second != "*" && strings.HasPrefix(second, "*") {
				second = strings.TrimSpace(second[1:])
			}
			if second == "" || second == "." {
				return "", textErr(400, "No host/domain value after referrer designation in ACL: '%s'", raw)
			}
			out = append(out, ".r:"+neg+second)
		default:
			return "", textErr(400, "Unknown designator '%s' in ACL: '%s'", first, raw)
		}
	}
	return strings.Join(out, ","), nil
}

// parseACL splits a cleaned ACL into referrer designations (without .r:)
// and groups (project:user pairs, role names, .rlistings).
func parseACL(acl string) (referrers, groups []string) {
	for v := range strings.SplitSeq(acl, ",") {
		if v == "" {
			continue
		}
		if r, ok := strings.CutPrefix(v, ".r:"); ok {
			referrers = append(referrers, r)
		} else {
			groups = append(groups, v)
		}
	}
	return referrers, groups
}

// referrerAllowed applies referrer designations in order to the Referer's
// host, as Swift's referrer_allowed.
func referrerAllowed(referrer string, acl []string) bool {
	allow := false
	if len(acl) == 0 {
		return false
	}
	host := "unknown"
	if u, err := url.Parse(referrer); err == nil && u.Hostname() != "" {
		host = strings.ToLower(u.Hostname())
	}
	for m := range slices.Values(acl) {
		if neg, ok := strings.CutPrefix(m, "-"); ok {
			if neg == host || (strings.HasPrefix(neg, ".") && strings.HasSuffix(host, neg)) {
				allow = false
			}
		} else if m == "*" || m == host || (strings.HasPrefix(m, ".") && strings.HasSuffix(host, m)) {
			allow = true
		}
	}
	return allow
}

func hasAnyRole(c *auth.Credentials, roles []string) bool {
	for _, r := range c.Roles {
		for _, want := range roles {
			if strings.EqualFold(r.Name, want) {
				return true
			}
		}
	}
	return false
}

// authorize decides a request as Swift's keystoneauth does. acl is the
// container ACL the operation is checked against ("" for owner-only
// operations). It returns 401 for an anonymous caller and 403 for a
// token's bearer when access is denied.
func authorize(c *Caller, account string, o op, acl string, read bool) (grant, error) {
	denied := func() (grant, error) {
		if c.Anonymous() {
			return grant{}, oserr.Unauthorized("This server could not verify that you are authorized to access the document you requested: send a token in X-Auth-Token, or use a TempURL or a container with a public read ACL.")
		}
		return grant{}, oserr.Forbidden("Account %s belongs to another project and no ACL of this container admits project %s user %s.",
			account, c.Creds.ProjectID(), c.Creds.User.Name)
	}
	if c != nil && c.Signed {
		if c.Account == account && (o == opObjectRead || o == opObjectWrite) {
			return grant{}, nil
		}
		return denied()
	}
	referrers, groups := parseACL(acl)
	if c.Anonymous() {
		if !strings.HasPrefix(account, ResellerPrefix) {
			return denied()
		}
		if referrerAllowed(c.Referrer, referrers) && (o == opObjectRead || slices.Contains(groups, ".rlistings")) {
			return grant{}, nil
		}
		return denied()
	}
	cr := c.Creds
	if hasAnyRole(cr, []string{ResellerAdminRole}) {
		return grant{Owner: true}, nil
	}
	if len(groups) > 0 && aclMatches(cr, account, groups) {
		return grant{}, nil
	}
	if referrerAllowed(c.Referrer, referrers) && (o == opObjectRead || slices.Contains(groups, ".rlistings")) {
		return grant{}, nil
	}
	project := cr.ProjectID()
	if project == "" || account != ResellerPrefix+project {
		return denied()
	}
	if hasAnyRole(cr, OperatorRoles) {
		return grant{Owner: true}, nil
	}
	if read && hasAnyRole(cr, ReaderRoles) {
		return grant{}, nil
	}
	for _, r := range cr.Roles {
		if slices.ContainsFunc(groups, func(g string) bool { return strings.EqualFold(g, r.Name) }) {
			return grant{}, nil
		}
	}
	return denied()
}

// aclMatches matches project:user entries of an ACL against the caller, by
// id, by name (users and projects of the Default domain only, as
// keystoneauth allows names) or '*'.
func aclMatches(c *auth.Credentials, account string, groups []string) bool {
	projects := []string{c.ProjectID(), "*"}
	users := []string{c.User.ID, "*"}
	names := (c.UserDomain.ID == "" || c.UserDomain.ID == "default") && (c.ProjectDomain.ID == "" || c.ProjectDomain.ID == "default")
	if names && c.Project != nil {
		projects = append(projects, c.Project.Name)
		users = append(users, c.User.Name)
	}
	for _, p := range projects {
		if p == "" {
			continue
		}
		for _, u := range users {
			if u != "" && slices.Contains(groups, p+":"+u) {
				return true
			}
		}
	}
	return false
}
