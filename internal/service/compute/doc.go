// Package compute is Nova's domain logic: servers and their state machine,
// flavors, keypairs, server groups, compute hosts (services and
// hypervisors), aggregates and availability zones, quotas, and the instance
// actions and events that explain what happened to each server.
//
// It sits in the service layer. It records desired state in the store; the
// scheduler (controller/scheduler) places servers and the host agents
// (agent) make guests match, reporting observed state back through Report.
// No message bus: waking a reconciler is a notification on the Hub, and a
// missed notification only delays work until the next resync.
package compute
