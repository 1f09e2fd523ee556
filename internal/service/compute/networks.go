package compute

import (
	"context"
	"encoding/json"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/store"
)

// NetworkRequest is one NIC asked for in a boot request: a network (and
// optionally a fixed address on it) or an existing port.
type NetworkRequest struct {
	NetworkID, PortID, FixedIP string
}

// Address is one address of a server as Nova's "addresses" shows it.
type Address struct {
	Network string // network name, the key of "addresses"
	MAC     string
	IP      string
	Version int
	Type    string // fixed or floating
}

// Networking is the networking service as the compute service uses it.
// Ports are made in the server's own create transaction, so a boot that
// fails leaves no port behind and a port never outlives its server's
// record.
type Networking interface {
	// ServerPortsTx creates or claims one port per request (auto: get me a
	// network) for the server and returns its NICs in order.
	ServerPortsTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, serverID, zone string, reqs []NetworkRequest, auto bool) ([]hostapi.NIC, error)
	// BindServerPortsTx binds the server's ports to the host it was placed on.
	BindServerPortsTx(ctx context.Context, tx *store.Tx, serverID, host string) error
	// ReleaseServerPortsTx deletes the ports made for the server and frees
	// the ones the user passed in.
	ReleaseServerPortsTx(ctx context.Context, tx *store.Tx, serverID string) error
	// ServerAddresses returns each server's addresses.
	ServerAddresses(ctx context.Context, serverIDs []string) (map[string][]Address, error)
}

// SetNetworking installs the networking service. Without one, servers
// get no NICs and explicit networks are refused.
func (s *Service) SetNetworking(n Networking) { s.networking = n }

// Networking returns the networking service, or nil.
func (s *Service) Networking() Networking { return s.networking }

// NICs decodes a server's NICs.
func NICs(v store.Server) []hostapi.NIC {
	if v.NICs == "" {
		return nil
	}
	var nics []hostapi.NIC
	_ = json.Unmarshal([]byte(v.NICs), &nics)
	return nics
}

// BindTx binds a server's ports to host, when it has any; the scheduler
// calls it in the transaction that places the server.
func (s *Service) BindTx(ctx context.Context, tx *store.Tx, v store.Server, host string) error {
	if s.networking == nil || v.NICs == "" {
		return nil
	}
	return s.networking.BindServerPortsTx(ctx, tx, v.ID, host)
}

// Addresses returns the addresses of the given servers (none without a
// networking service).
func (s *Service) Addresses(ctx context.Context, vs []store.Server) (map[string][]Address, error) {
	if s.networking == nil {
		return nil, nil
	}
	var ids []string
	for _, v := range vs {
		if v.NICs != "" {
			ids = append(ids, v.ID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return s.networking.ServerAddresses(ctx, ids)
}

// zoneOrDefault is the zone a port's device_owner names ("compute:nova").
func (s *Service) zoneOrDefault(zone string) string {
	if zone == "" {
		return s.cfg.DefaultZone
	}
	return zone
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
