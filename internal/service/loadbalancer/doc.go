// Package loadbalancer is the domain of the load-balancer service
// (Octavia v2): load balancers and their trees (listeners, pools, members,
// health monitors, L7 policies and rules) with Octavia's provisioning and
// operating statuses and its immutable-while-PENDING rule, quotas,
// providers, flavors and availability zones, and the desired state each
// host's agent applies (hostapi.LoadBalancerSet) and the reports that move
// the statuses.
//
// It sits in the service layer: it uses internal/store and declares what it
// needs of the networking service (Network: the VIP port and its security
// group), which internal/cloud adapts. docs/load-balancing.md describes the
// data plane.
package loadbalancer
