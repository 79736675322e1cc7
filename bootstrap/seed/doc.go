// Package seed copies a MariaDB server's data to a new or emptied replica
// by a verified mariadb-backup stream: MariaDB has no clone plugin.
//
// The donor side (Donor.Handler) runs next to the donor's server, in a
// container of the server's image (it needs mariadb-backup) with the data
// volume mounted at the server's own datadir path. GET /backup streams
// `mariadb-backup --backup --stream=xbstream` of the local server and ends
// with HTTP trailers that say how it went: Seed-Status (ok or failed),
// Seed-Error (the tool's error, one line), Seed-Bytes,
// Seed-Gtid-Binlog-State and Seed-Mac, a MAC keyed by a secret both pods
// know of the request's nonce, the body, every other trailer and the
// headers the recipient reads (StreamMAC), checked before any of them is
// used. A request carries a single-use bearer token for one
// recipient and this donor (Token), made with a nonce from POST
// /seed/nonce and checked by the donor's Gate; one backup runs at a time.
// With a CA the listener is TLS (ServerTLS, the pod's own certificate) and
// the recipient verifies it for the donor's stable name (Restore.TLS)
// before it sends anything; without one the stream is plain HTTP,
// authenticated by the token and the MAC but not encrypted.
//
// The recipient side (Restore.Run) runs in the recipient's server
// container before its server starts. It extracts the stream with mbstream
// into a staging directory inside the data directory, computing the MAC
// and counting on the way, and trusts it only if the trailers agree. It then prepares
// the copy (mariadb-backup --prepare), reads the GTID position the copy
// holds (Position), marks the staging directory complete and swaps it into
// place. The swap is resumable (Resume): a crash at any point leaves either
// the old data (or an empty directory) with an incomplete staging
// directory that Resume deletes, or a complete staging directory whose
// swap Resume finishes.
//
// Memory stays bounded whatever the size of the data: both sides stream
// through fixed buffers (copyBufferSize); files are never held in memory.
package seed
