// Package bench drives a running onestack cloud through its public HTTP
// API the way many users at once would: it boots servers with concurrent
// clients, waits for them to become ACTIVE, times list and show, deletes
// them, and reports throughput, latency percentiles and the control
// plane's peak memory as one JSON document. A churn mode keeps creating
// and deleting at a steady rate and reports latency per minute and the
// database size, to show whether they stay flat.
//
// It sits beside cmd/onestack (which parses the flags into a Config) and
// imports no other onestack package: it is a client, and only ever talks
// to loopback addresses.
package bench
