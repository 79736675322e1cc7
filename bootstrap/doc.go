// Package bootstrap is mysql-bootstrap: the init container and the
// sidecar that give the MySQL and MariaDB pods of a StatefulSet their
// identity and their replication.
//
// Data flows one way:
//
//	environment -> Config (config.go: typed, validated, every problem at once)
//	            -> Identity (identity.go: pure; name, ordinal, role, server_id, stable names)
//	            -> init (cmdinit.go, servercnf.go: the server's configuration; with
//	               INIT_WAIT_FOR_PRIMARY a replica without data waits for the primary)
//	            -> sidecar (cmdsidecar.go, sidecar.go): a loop of passes (reconcile.go), each
//	               observe  (observe.go: every fact, read once; never fails, records what it could not read)
//	               decide   (package decide: pure; actions, readiness verdict, situation code,
//	                         problems; its Memory carries counters, back-off and what cannot
//	                         be observed again)
//	               act      (act.go: actions as statements of the server's dialect)
//	            -> Status (package wire) -> HTTP /healthz /readyz /status /metrics (httpapi.go)
//
// Package decide is the one place where the sidecar's decisions live: a
// replica's readiness, when to CHANGE, when to restart a thread, when to
// clean a new replica's first-start transactions; its import graph keeps
// it free of I/O. Its decide_test.go is a table of named situations that
// needs no server; observe and act are tested here against a scripted
// server (internal/fakesql). The SQL of each flavour and version is
// in the sqldialect package, DNS waits in dnswait; state that must outlive
// the sidecar (how fresh a replica's data is) goes to STATE_DIR (state.go).
//
// The command line is Run, driven by one table of commands (commands, in
// cli.go), each in a cmd*.go file of its own; cmd/mysql-bootstrap only
// wires it to the process.
package bootstrap
