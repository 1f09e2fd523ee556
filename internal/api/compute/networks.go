package compute

import (
	"encoding/json"
	"net"
	"net/http"

	"github.com/onestack/onestack/internal/store"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/compute"
)

// networkRequests decodes a boot request's "networks" list: each entry
// names a network ("uuid", optionally with "fixed_ip") or a port ("port"),
// with an optional device "tag" (2.32+, accepted and not used).
func networkRequests(raw json.RawMessage) ([]svc.NetworkRequest, error) {
	var nets []map[string]any
	if err := json.Unmarshal(raw, &nets); err != nil {
		return nil, oserr.BadRequest("Invalid input for field/attribute networks: expected a list of {\"uuid\"|\"port\"|\"fixed_ip\"}.")
	}
	out := make([]svc.NetworkRequest, 0, len(nets))
	for i, n := range nets {
		var r svc.NetworkRequest
		for k, v := range n {
			str, ok := v.(string)
			if !ok && v != nil {
				return nil, oserr.BadRequest("Invalid input for field/attribute networks[%d].%s: expected a string.", i, k)
			}
			switch k {
			case "uuid":
				r.NetworkID = str
			case "port":
				r.PortID = str
			case "fixed_ip":
				r.FixedIP = str
			case "tag":
			default:
				return nil, oserr.BadRequest("Invalid input for field/attribute networks[%d]: additional property %q is not allowed; use uuid, port, fixed_ip or tag.", i, k)
			}
		}
		switch {
		case r.NetworkID == "" && r.PortID == "":
			return nil, oserr.BadRequest("Invalid input for field/attribute networks[%d]: give a network (uuid) or a port (port).", i)
		case r.NetworkID != "" && uuid.Validate(r.NetworkID) != nil:
			return nil, oserr.BadRequest("Bad networks format: network uuid is not in proper format (%s).", r.NetworkID)
		case r.PortID != "" && uuid.Validate(r.PortID) != nil:
			return nil, oserr.BadRequest("Bad networks format: port uuid is not in proper format (%s).", r.PortID)
		case r.FixedIP != "" && net.ParseIP(r.FixedIP) == nil:
			return nil, oserr.BadRequest("Invalid fixed IP address (%s).", r.FixedIP)
		case r.FixedIP != "" && r.NetworkID == "":
			return nil, oserr.BadRequest("Invalid input for field/attribute networks[%d]: fixed_ip needs the network's uuid.", i)
		}
		out = append(out, r)
	}
	return out, nil
}

// addressesView renders Nova's "addresses": per network name, the server's
// fixed and floating addresses.
func addressesView(addrs []svc.Address) map[string]any {
	out := map[string]any{}
	for _, a := range addrs {
		list, _ := out[a.Network].([]any)
		out[a.Network] = append(list, map[string]any{
			"version": a.Version, "addr": a.IP,
			"OS-EXT-IPS:type": a.Type, "OS-EXT-IPS-MAC:mac_addr": a.MAC,
		})
	}
	return out
}

// addresses reads the addresses of a page of servers in one call. A
// networking service that cannot answer leaves "addresses" empty rather
// than failing the read; the failure is logged.
func (a *API) addresses(r *http.Request, vs []store.Server) map[string][]svc.Address {
	addrs, err := a.svc.Addresses(r.Context(), vs)
	if err != nil {
		a.log.Warn("cannot read server addresses from the networking service", "error", err)
	}
	return addrs
}
