// Package sqldialect turns what the sidecar wants to do to a MySQL or
// MariaDB server into SQL text for that server's flavour and version, and
// turns what the server answers back into typed values.
//
// It does no I/O: callers run [Statement.SQL] and the queries on their own
// connections and hand the results to the parsers here ([ParseVersion],
// [ParseReplicaStatus], [ClassifyGrants], [ParseGTIDSet]). That
// keeps every rendering decision golden-testable without a server.
//
// The differences it hides:
//
//   - MySQL 8.0.22 added START/STOP REPLICA and SHOW REPLICA STATUS, 8.0.23
//     added CHANGE REPLICATION SOURCE TO, and 8.4 removed the MASTER/SLAVE
//     forms; MariaDB accepts START/STOP REPLICA and SHOW REPLICA STATUS from
//     10.5.1 but keeps CHANGE MASTER TO and the Slave_/Master_ column names.
//   - MySQL positions replicas with SOURCE_AUTO_POSITION=1, MariaDB with
//     MASTER_USE_GTID=slave_pos (current_pos can break replication after a
//     local write).
//   - MySQL has super_read_only; MariaDB only read_only.
//   - MySQL has GTID_SUBSET/GTID_SUBTRACT on the server, MariaDB no such
//     functions: GTID sets of both are compared in Go ([GTIDSet]).
//
// # Secrets
//
// Statements that carry a password come as a [Statement] whose Redacted
// form replaces it with '<redacted>'. Log only Redacted (Statement's String,
// GoString and LogValue methods return it, so %v and slog do the right
// thing); SQL must never reach a log.
//
// # Names and passwords
//
// User and host names must be valid UTF-8 without control characters (NUL
// included); an empty host means '%' ([DefaultHost]). Passwords may hold any
// valid UTF-8 except NUL, quotes, backslashes and newlines included, and, as
// they are for replication accounts, at most 32 characters (MySQL's
// SOURCE_PASSWORD limit). Such errors wrap [ErrInvalidArgument] and never
// contain the password.
//
// # Quoting assumption
//
// CHANGE MASTER/REPLICATION SOURCE, CREATE USER and GRANT take no
// placeholders, so literals are escaped with [QuoteString]. The escaping is
// the backslash form, which is only correct when the session sql_mode does
// NOT contain NO_BACKSLASH_ESCAPES and the connection character set is
// utf8mb4 (or another ASCII-safe one such as utf8mb3 or latin1, never a
// multi-byte set like GBK or SJIS whose trailing bytes can be 0x5C). The
// sidecar's connections force such a session.
package sqldialect
