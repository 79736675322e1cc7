// Package decide is the sidecar's decision core: from one observation of
// a pod (Observation: the local server, the primary, the peers, the
// credentials, a seed under way) and the memory of earlier passes
// (Memory), Decide returns the actions to take, the readiness verdict and
// its situation code (Situation, one table in situation.go). It does no
// I/O: it imports only the standard library's pure packages, sqldialect
// (GTID sets, versions) and wire (the /status types); import_test.go
// keeps it so. Each situation it handles is a row of decide_test.go.
//
// The facts it needs are gathered by package bootstrap (observe.go), and
// its actions are run there (act.go); which costly facts a pass gathers
// is decided here too (NeedsDonor, PrimaryNeedsPeers), so that the two
// sides cannot drift apart.
package decide
