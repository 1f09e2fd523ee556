// Package action has the built-in actions of Mistral workflows: the
// standard ones (std.noop, std.echo, std.fail, std.sleep, std.test_dict,
// std.async_noop, std.http, std.mistral_http, std.ssh, std.js) and the
// OpenStack actions (nova.*, glance.*, neutron.*, cinder.*, keystone.*,
// placement.*, octavia.*), which call onestack's own APIs with the
// workflow user's token.
//
// It is a leaf of the workflow layer: it imports the engine's action
// types and talks to the world over HTTP and SSH.
package action
