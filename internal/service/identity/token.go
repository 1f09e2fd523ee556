package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// UserSelector names a user by id, or by name within a domain given by id or name.
type UserSelector struct {
	ID, Name, DomainID, DomainName string
}

// AuthRequest is one POST /v3/auth/tokens, decoded.
type AuthRequest struct {
	Methods  []string
	User     UserSelector // password method
	Password string
	Token    string // token method
	AppCred  *AppCredAuth
	Scope    Scope
}

// AppCredAuth is the application_credential method's input.
type AppCredAuth struct {
	ID, Name, Secret string
	User             UserSelector
}

// Scope is what a token is requested for. The zero Scope means "the user's
// default project if it has one, else unscoped"; Unscoped forces unscoped.
type Scope struct {
	ProjectID, ProjectName, ProjectDomainID, ProjectDomainName string
	DomainID, DomainName                                       string
	System, Unscoped                                           bool
	// TrustID scopes the token to a trust (OS-TRUST:trust): the trust's
	// project, with the trust's roles, for its trustee.
	TrustID string
}

func (sc Scope) project() bool { return sc.ProjectID != "" || sc.ProjectName != "" }
func (sc Scope) domain() bool  { return sc.DomainID != "" || sc.DomainName != "" }

// badCredentials is the one answer for any wrong user, password or secret,
// so the API does not tell which part was wrong.
var badCredentials = oserr.Unauthorized("The request you have made requires authentication: the user name, domain and password (or application credential id and secret) do not match; check them and try again.")

// Authenticate checks the methods in req and issues a token.
func (s *Service) Authenticate(ctx context.Context, req AuthRequest) (*auth.Credentials, error) {
	if len(req.Methods) == 0 {
		return nil, oserr.BadRequest("auth.identity.methods is empty; send [\"password\"], [\"token\"] or [\"application_credential\"].")
	}
	p := s.newPayload()
	now := p.issuedAt
	for _, m := range req.Methods {
		b := methodBit(m)
		if b == 0 {
			return nil, oserr.Unauthorized("Attempted to authenticate with an unsupported method %q; use password, token or application_credential.", m)
		}
		p.methods |= b
	}
	if p.methods&(p.methods-1) != 0 {
		return nil, oserr.Unauthorized("Send exactly one authentication method; multi-factor rules are not configured on this cloud.")
	}
	var defaultProject string
	switch req.Methods[0] {
	case "password":
		u, err := s.checkPassword(ctx, req.User, req.Password)
		if err != nil {
			return nil, err
		}
		p.userID, defaultProject = u.ID, u.DefaultProjectID
	case "token":
		parent, err := s.Validate(ctx, req.Token)
		if err != nil {
			return nil, err
		}
		if parent.AppCred != nil {
			return nil, oserr.Forbidden("A token issued for an application credential cannot be rescoped; authenticate with the application credential again.")
		}
		if parent.Trust != nil {
			return nil, oserr.Forbidden("You are not authorized to perform the requested action: Using trust-scoped token to create another token. Create a new trust-scoped token instead (authenticate as the trustee with the OS-TRUST:trust scope).")
		}
		p.userID, p.expiresAt = parent.User.ID, parent.Expires
		p.methods = methodBit("token")
		for _, m := range parent.Methods {
			p.methods |= methodBit(m)
		}
		// Keystone's audit chain: the id of the token the chain started
		// with, so revoking it reaches tokens rescoped more than once.
		p.auditIDs = []string{"", parent.AuditIDs[len(parent.AuditIDs)-1]}
		if req.Scope == (Scope{}) {
			// Keystone: a token without scope yields a copy of the parent's scope.
			switch {
			case parent.Project != nil:
				req.Scope.ProjectID = parent.Project.ID
			case parent.Domain != nil:
				req.Scope.DomainID = parent.Domain.ID
			case parent.System:
				req.Scope.System = true
			default:
				req.Scope.Unscoped = true
			}
		}
	case "application_credential":
		if req.AppCred == nil {
			return nil, oserr.BadRequest("auth.identity.application_credential is missing; send its id (or name and user) and secret.")
		}
		ac, err := s.checkAppCred(ctx, req.AppCred, now)
		if err != nil {
			return nil, err
		}
		if req.Scope.project() || req.Scope.domain() || req.Scope.System || req.Scope.TrustID != "" {
			return nil, oserr.Unauthorized("An application credential is already scoped to project %s; remove the scope from the request.", ac.ProjectID)
		}
		p.userID, p.appCredID = ac.UserID, ac.ID
		p.scope, p.scopeID = scopeProject, ac.ProjectID
		if ac.ExpiresAt != nil && ac.ExpiresAt.Before(p.expiresAt) {
			p.expiresAt = ac.ExpiresAt.Truncate(time.Microsecond)
		}
	}
	return s.issue(ctx, p, req.Scope, defaultProject)
}

// newPayload starts a token issued now.
func (s *Service) newPayload() payload {
	now := s.now().UTC().Truncate(time.Microsecond)
	return payload{issuedAt: now, expiresAt: now.Add(s.cfg.TokenTTL)}
}

// issue resolves the scope into p (unless p is already scoped, as for an
// application credential), signs the token, checks what it grants and,
// for a trust with limited uses, takes one use: only once the token is
// known to be good, so a refused request costs no use.
func (s *Service) issue(ctx context.Context, p payload, sc Scope, defaultProject string) (*auth.Credentials, error) {
	var limited bool
	if p.appCredID == "" {
		var err error
		if limited, err = s.resolveScope(ctx, &p, sc, defaultProject); err != nil {
			return nil, err
		}
	}
	p.auditIDs = append([]string{newAuditID()}, p.auditIDs[min(1, len(p.auditIDs)):]...)
	if len(p.auditIDs) == 2 && p.auditIDs[1] == "" {
		p.auditIDs = p.auditIDs[:1]
	}
	raw, err := s.keys.sign(p.marshal())
	if err != nil {
		return nil, fmt.Errorf("sign token: %w", err)
	}
	c, err := s.credentials(ctx, encodeToken(raw), p)
	if err != nil {
		if p.scope != scopeNone && oserr.Is(err, 401) {
			return nil, oserr.Unauthorized("%s", oserr.From(err).Message)
		}
		return nil, err
	}
	if limited {
		if err := s.consumeTrustUse(ctx, p.trustID); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// consumeTrustUse takes one use of a limited trust. It writes without
// moving the identity epoch: no cached authorisation depends on the count.
func (s *Service) consumeTrustUse(ctx context.Context, trustID string) error {
	var ok bool
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		ok, err = tx.ConsumeTrustUse(ctx, trustID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return oserr.Unauthorized("Could not find trust: %s; it was deleted while the token was issued.", trustID)
	}
	if err != nil {
		return err
	}
	if !ok {
		return oserr.Unauthorized("No remaining uses for trust: %s; ask the trustor for a new trust.", trustID)
	}
	return nil
}

func (s *Service) checkPassword(ctx context.Context, sel UserSelector, password string) (store.User, error) {
	var u store.User
	err := s.read(ctx, func(tx *store.Tx) error {
		var err error
		u, err = findUser(ctx, tx, sel)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && !checkSecret(u.PasswordHash, password)) {
		if errors.Is(err, store.ErrNotFound) {
			checkSecret("", password)
		}
		return u, badCredentials
	}
	if err != nil {
		return u, err
	}
	if !u.Enabled {
		return u, oserr.Unauthorized("User %s is disabled; ask an administrator to enable it.", u.Name)
	}
	if u.PasswordExpiresAt != nil && u.PasswordExpiresAt.Before(s.now()) {
		return u, oserr.Unauthorized("The password of user %s has expired; ask an administrator to set a new one.", u.Name)
	}
	return u, nil
}

// findUser resolves a selector; a missing or ambiguous one is ErrNotFound
// or a 400.
func findUser(ctx context.Context, tx *store.Tx, sel UserSelector) (store.User, error) {
	if sel.ID != "" {
		return tx.GetUser(ctx, sel.ID)
	}
	if sel.Name == "" {
		return store.User{}, oserr.BadRequest("Identify the user by id, or by name with a domain id or name.")
	}
	domainID := sel.DomainID
	if domainID == "" {
		if sel.DomainName == "" {
			return store.User{}, oserr.BadRequest("User %q is named without a domain; add user.domain.id or user.domain.name (e.g. \"Default\").", sel.Name)
		}
		d, err := tx.GetDomainByName(ctx, sel.DomainName)
		if err != nil {
			return store.User{}, err
		}
		domainID = d.ID
	}
	return tx.GetUserByName(ctx, domainID, sel.Name)
}

func (s *Service) checkAppCred(ctx context.Context, in *AppCredAuth, now time.Time) (store.AppCred, error) {
	var ac store.AppCred
	err := s.read(ctx, func(tx *store.Tx) error {
		if in.ID != "" {
			var err error
			ac, err = tx.GetAppCred(ctx, in.ID)
			return err
		}
		if in.Name == "" {
			return oserr.BadRequest("Identify the application credential by id, or by name with its user.")
		}
		u, err := findUser(ctx, tx, in.User)
		if err != nil {
			return err
		}
		ac, err = tx.GetAppCredByName(ctx, u.ID, in.Name)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		checkSecret("", in.Secret)
		return ac, badCredentials
	}
	if err != nil {
		return ac, err
	}
	if !checkSecret(ac.SecretHash, in.Secret) {
		return ac, badCredentials
	}
	if ac.ExpiresAt != nil && !ac.ExpiresAt.After(now) {
		return ac, oserr.Unauthorized("Application credential %s expired at %s; create a new one.", ac.ID, ac.ExpiresAt.Format(time.RFC3339))
	}
	return ac, nil
}

// resolveScope fills p's scope from the request, falling back to the
// user's default project. For a trust scope it reports whether the trust
// has limited uses (one is taken once the token is issued).
func (s *Service) resolveScope(ctx context.Context, p *payload, sc Scope, defaultProject string) (limited bool, err error) {
	n := 0
	for _, b := range []bool{sc.project(), sc.domain(), sc.System, sc.Unscoped, sc.TrustID != ""} {
		if b {
			n++
		}
	}
	if n > 1 {
		return false, oserr.BadRequest("Specify only one of project, domain, system or OS-TRUST:trust in auth.scope.")
	}
	err = s.read(ctx, func(tx *store.Tx) error {
		switch {
		case sc.TrustID != "":
			t, err := s.scopeTrust(ctx, tx, p.userID, sc.TrustID)
			if err != nil {
				return err
			}
			p.scope, p.scopeID, p.trustID = scopeProject, t.ProjectID, t.ID
			if t.ExpiresAt != nil && t.ExpiresAt.Before(p.expiresAt) {
				p.expiresAt = t.ExpiresAt.UTC().Truncate(time.Microsecond)
			}
			limited = t.RemainingUses != nil
		case sc.project():
			proj, err := findProject(ctx, tx, sc)
			if err != nil {
				return err
			}
			p.scope, p.scopeID = scopeProject, proj.ID
		case sc.domain():
			var d store.Domain
			var err error
			if sc.DomainID != "" {
				d, err = tx.GetDomain(ctx, sc.DomainID)
			} else {
				d, err = tx.GetDomainByName(ctx, sc.DomainName)
			}
			if errors.Is(err, store.ErrNotFound) {
				return oserr.Unauthorized("Could not find the domain to scope to (%s%s); check auth.scope.domain.", sc.DomainID, sc.DomainName)
			}
			if err != nil {
				return err
			}
			p.scope, p.scopeID = scopeDomain, d.ID
		case sc.System:
			p.scope, p.scopeID = scopeSystem, store.SystemAll
		case sc.Unscoped:
		case defaultProject != "":
			// Keystone falls back to an unscoped token if the default project is unusable.
			if proj, err := tx.GetProject(ctx, defaultProject); err == nil && proj.Enabled {
				if ids, err := effectiveRoleIDs(ctx, tx, p.userID, store.TargetProject, proj.ID); err == nil && len(ids) > 0 {
					p.scope, p.scopeID = scopeProject, proj.ID
				}
			}
		}
		return nil
	})
	return limited, err
}

// scopeTrust checks that userID may get a token scoped to trust id now: the
// trust exists, has not expired, has a use left, names a project and has
// userID as its trustee, and its trustor is enabled. (What the token grants
// is checked as for any token, by computeAuthz.)
func (s *Service) scopeTrust(ctx context.Context, tx *store.Tx, userID, id string) (store.Trust, error) {
	t, err := tx.GetTrust(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return t, oserr.Unauthorized("Could not find trust: %s; check auth.scope.OS-TRUST:trust.id.", id)
	}
	if err != nil {
		return t, err
	}
	switch {
	case t.ExpiresAt != nil && !s.now().Before(*t.ExpiresAt):
		return t, oserr.Unauthorized("Could not find trust: %s; it expired at %s, ask the trustor for a new one.", id, t.ExpiresAt.UTC().Format(time.RFC3339))
	case t.RemainingUses != nil && *t.RemainingUses <= 0:
		return t, oserr.Unauthorized("No remaining uses for trust: %s; ask the trustor for a new trust.", id)
	case t.TrusteeUserID != userID:
		return t, oserr.Forbidden("You are not authorized to perform the requested action: User is not a trustee of trust %s; authenticate as its trustee.", id)
	case t.ProjectID == "":
		return t, oserr.Forbidden("You are not authorized to perform the requested action: trust %s delegates no project, so no token can be scoped to it.", id)
	}
	trustor, err := tx.GetUser(ctx, t.TrustorUserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !trustor.Enabled) {
		return t, oserr.Forbidden("You are not authorized to perform the requested action: Trustor is disabled or deleted; trust %s issues no token.", id)
	}
	return t, err
}

func findProject(ctx context.Context, tx *store.Tx, sc Scope) (store.Project, error) {
	var proj store.Project
	var err error
	switch {
	case sc.ProjectID != "":
		proj, err = tx.GetProject(ctx, sc.ProjectID)
	case sc.ProjectDomainID != "":
		proj, err = tx.GetProjectByName(ctx, sc.ProjectDomainID, sc.ProjectName)
	case sc.ProjectDomainName != "":
		var d store.Domain
		if d, err = tx.GetDomainByName(ctx, sc.ProjectDomainName); err == nil {
			proj, err = tx.GetProjectByName(ctx, d.ID, sc.ProjectName)
		}
	default:
		return proj, oserr.BadRequest("Project %q is named without a domain; add auth.scope.project.domain.id or .name.", sc.ProjectName)
	}
	if errors.Is(err, store.ErrNotFound) {
		return proj, oserr.Unauthorized("Could not find the project to scope to (%s%s); check auth.scope.project.", sc.ProjectID, sc.ProjectName)
	}
	return proj, err
}

// Validate checks a token and returns what it grants. It is the hot path of
// every API request: Fernet decryption, map lookups for revocations and a
// cached authorisation; the store is read only when the identity epoch moved.
func (s *Service) Validate(ctx context.Context, token string) (*auth.Credentials, error) {
	raw := s.keys.open(decodeToken(token))
	if raw == nil {
		return nil, oserr.Unauthorized("The token is invalid: it was not issued by this cloud or is damaged; get a new one with 'openstack token issue'.")
	}
	p, err := unmarshalPayload(raw)
	if err != nil {
		return nil, oserr.Unauthorized("The token is invalid: its payload is not understood; get a new one.")
	}
	return s.credentials(ctx, token, p)
}

func (s *Service) credentials(ctx context.Context, token string, p payload) (*auth.Credentials, error) {
	if !s.now().Before(p.expiresAt) {
		return nil, oserr.Unauthorized("The token expired at %s; get a new one with 'openstack token issue'.", p.expiresAt.Format(time.RFC3339))
	}
	if err := s.refresh(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	revs := s.revs
	s.mu.RUnlock()
	if slices.ContainsFunc(p.auditIDs, func(a string) bool { return revs.revoked(store.RevokeAudit, a, p.issuedAt) }) ||
		revs.revoked(store.RevokeUser, p.userID, p.issuedAt) ||
		revs.revoked(store.RevokeAppCred, p.appCredID, p.issuedAt) ||
		(p.scope == scopeProject && revs.revoked(store.RevokeProject, p.scopeID, p.issuedAt)) ||
		(p.scope == scopeDomain && revs.revoked(store.RevokeDomain, p.scopeID, p.issuedAt)) {
		return nil, oserr.Unauthorized("The token has been revoked; get a new one with 'openstack token issue'.")
	}
	e, err := s.authorize(ctx, authzKey{userID: p.userID, scope: p.scope, scopeID: p.scopeID, appCredID: p.appCredID, trustID: p.trustID})
	if err != nil {
		return nil, err
	}
	if e.err != nil {
		return nil, e.err
	}
	if e.trust != nil {
		// As Keystone matches a user's revocation events against a token's
		// trustor too: the trustor's disabling or password change ends
		// the tokens issued for its trusts.
		if revs.revoked(store.RevokeUser, e.trust.TrustorID, p.issuedAt) {
			return nil, oserr.Unauthorized("The token has been revoked: its trustor's tokens were revoked; get a new one with the trust.")
		}
		if e.trustExpires != nil && !s.now().Before(*e.trustExpires) {
			return nil, oserr.Unauthorized("Trust %s expired at %s; ask the trustor for a new one.", e.trust.ID, e.trustExpires.UTC().Format(time.RFC3339))
		}
	}
	c := &auth.Credentials{
		Token: token, AuditIDs: p.auditIDs, Methods: p.methodNames(),
		IssuedAt: p.issuedAt, Expires: p.expiresAt,
		User: e.user, UserDomain: e.userDomain, PasswordExpiresAt: e.passwordExpiresAt,
		Project: e.project, ProjectDomain: e.projectDomain, Domain: e.domain,
		System: p.scope == scopeSystem, Roles: e.roles, AppCred: e.appCred, Trust: e.trust,
		IsAdminProject: e.isAdminProject,
	}
	return c, nil
}

// RevokeToken revokes one token (and, as Keystone does, every token
// rescoped from it) by its audit id.
func (s *Service) RevokeToken(ctx context.Context, c *auth.Credentials) error {
	return s.write(ctx, func(tx *store.Tx) error {
		return tx.AddRevocation(ctx, store.Revocation{
			Kind: store.RevokeAudit, Value: c.AuditIDs[0],
			// Now, not c.IssuedAt: tokens rescoped from c carry its audit
			// id but were issued later.
			IssuedBefore: s.now(), ExpiresAt: c.Expires,
		})
	})
}

// revoke records that tokens with kind=value issued until now are revoked.
func (s *Service) revoke(ctx context.Context, tx *store.Tx, kind, value string) error {
	now := s.now()
	if err := tx.PruneRevocations(ctx, now); err != nil {
		return err
	}
	return tx.AddRevocation(ctx, store.Revocation{Kind: kind, Value: value, IssuedBefore: now, ExpiresAt: now.Add(s.cfg.TokenTTL)})
}
