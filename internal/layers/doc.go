// Package layers holds only a test: TestLayers fails when a package imports
// across the layers of the design (cmd/onestack -> internal/cloud, the
// wiring -> internal/api/<svc> -> internal/service/<svc> -> internal/store;
// controllers and agents beside them; drivers at the bottom), and prints
// each violation with the importing package, what it imports or names, and
// the rule it breaks.
//
// The rules, for the project's non-test code:
//   - internal/store imports no api, service, agent, controller, cloud or
//     driver package: it is the bottom of the control plane.
//   - internal/service/* imports no api, cloud or agent package.
//   - internal/driver/* imports no api, service, store or cloud package.
//   - internal/agent/* imports no api, service, store, controller or cloud
//     package: an agent reaches the control plane through hostapi only.
//   - internal/controller/* imports no api, cloud or agent package.
//   - internal/api/* imports no driver and no cloud package, and names
//     from internal/store only row types (the types a store read returns,
//     their fields, methods and constants): never store.DB, store.Tx, a
//     transaction or any other store function or variable, and no query,
//     filter, sort or paging type — that vocabulary belongs to the service
//     layer, which translates it for the store.
//
// Test files are not checked: tests may set up state through any layer.
package layers
