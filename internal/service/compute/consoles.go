package compute

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"sync"
	"time"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
)

// SerialDialer connects to a guest's serial console on its host.
type SerialDialer func(ctx context.Context, host, serverID string) (net.Conn, error)

// SetSerialDialer installs how serial consoles are reached (nil: no host
// has an interactive console).
func (s *Service) SetSerialDialer(d SerialDialer) { s.serial = d }

// ConsoleTokenTTL is how long a console URL works (Nova's
// [consoleauth]token_ttl).
const ConsoleTokenTTL = 10 * time.Minute

// consoleTokens are the console URLs handed out, by the SHA-256 of their
// token (the token itself is never kept). They live in this process: a
// URL works on the controller that issued it.
type consoleTokens struct {
	mu sync.Mutex
	m  map[string]ConsoleToken
}

// ConsoleToken is what a console URL's token grants.
type ConsoleToken struct {
	ServerID, Host string
	Expires        time.Time
}

func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// RemoteConsole hands out a serial console URL token for a server, as
// Nova's os-remote-consoles. Only the serial protocol exists here (guests
// have no display): other protocols are "unavailable", as Nova answers
// when a console type is disabled.
func (s *Service) RemoteConsole(ctx context.Context, c *auth.Credentials, id, protocol, typ string) (string, error) {
	v, err := s.Get(ctx, c, id)
	if err != nil {
		return "", err
	}
	if protocol != "serial" {
		return "", oserr.BadRequest("Unavailable console type %s: guests here have no display; use the serial console (openstack console url show --serial).", typ)
	}
	if typ != "serial" {
		return "", oserr.BadRequest("Invalid console type %s: the serial protocol's type is serial.", typ)
	}
	if v.Host == "" || v.VMState != VMActive {
		return "", oserr.Conflict("Instance %s is not ready: it is %s; a serial console needs a running server.", id, Status(v.VMState, v.TaskState))
	}
	if s.serial == nil {
		return "", oserr.BadRequest("Unavailable console type serial: host %s serves no interactive console (its guests are not real: the fake hypervisor); use the console log.", v.Host)
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := hex.EncodeToString(b)
	now := s.Now()
	s.tokens.mu.Lock()
	defer s.tokens.mu.Unlock()
	if s.tokens.m == nil {
		s.tokens.m = map[string]ConsoleToken{}
	}
	for k, t := range s.tokens.m {
		if now.After(t.Expires) {
			delete(s.tokens.m, k)
		}
	}
	s.tokens.m[tokenKey(token)] = ConsoleToken{ServerID: v.ID, Host: v.Host, Expires: now.Add(ConsoleTokenTTL)}
	return token, nil
}

// LookupConsoleToken returns what a console token grants, or a 404 when it
// is unknown or expired.
func (s *Service) LookupConsoleToken(token string) (ConsoleToken, error) {
	s.tokens.mu.Lock()
	t, ok := s.tokens.m[tokenKey(token)]
	s.tokens.mu.Unlock()
	if !ok || s.Now().After(t.Expires) {
		return ConsoleToken{}, oserr.NotFound("The token '%s' is invalid or has expired; ask for a new console URL.", token)
	}
	return t, nil
}

// OpenSerial connects to the serial console a token grants.
func (s *Service) OpenSerial(ctx context.Context, token string) (net.Conn, ConsoleToken, error) {
	t, err := s.LookupConsoleToken(token)
	if err != nil {
		return nil, t, err
	}
	conn, err := s.serial(ctx, t.Host, t.ServerID)
	if err != nil {
		return nil, t, oserr.Conflict("The serial console of instance %s cannot be reached on host %s: %v.", t.ServerID, t.Host, err)
	}
	return conn, t, nil
}
