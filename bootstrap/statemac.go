package bootstrap

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Files in STATE_DIR that one process writes for another to obey (a
// person's override.json and forget-peer request, the sidecar's seed
// request) are signed: on MariaDB the server container mounts STATE_DIR
// read-write (seed-exec reports its progress there), so SQL with the FILE
// privilege (SELECT … INTO OUTFILE as the server's user) could otherwise
// plant one. Each carries "mac": HMAC-SHA256, keyed by stateKey(secret),
// of the file's name and the JSON of its fields with "mac" empty (Go's
// encoding of the struct: fixed field order, so writer and reader compute
// the same bytes). The secret is the seed secret (seedSecret:
// SEED_PASSWORD, else the replication password), the one every container
// of a pod already shares; it keys nothing directly, and neither it nor
// the key is ever written, logged or shown: only MACs are.

// stateKeyLabel derives the key of state file MACs from the seed secret,
// apart from the seed tokens' key (seed.Key).
const stateKeyLabel = "mysql-bootstrap state file v1"

// overrideMaxAge is how long a person's override stays usable: an older
// one is ignored (and reported), so a choice made for one situation is
// not applied to a later one.
const overrideMaxAge = time.Hour

// stateKey derives the key of state file MACs: HMAC-SHA256(secret,
// "mysql-bootstrap state file v1").
func stateKey(secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(stateKeyLabel))
	return m.Sum(nil)
}

// stateMAC is the MAC of a state file's canonical content, hex.
func stateMAC(secret, name string, canonical []byte) string {
	m := hmac.New(sha256.New, stateKey(secret))
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write(canonical)
	return hex.EncodeToString(m.Sum(nil))
}

// errNoStateSecret: nothing to sign or check a state file with.
var errNoStateSecret = errors.New("no secret to sign state files with (REPLICATION_PASSWORD, or SEED_PASSWORD when set)")

// signState sets *mac, the MAC field of v, to the MAC of v's JSON with
// the field empty; name is the file's name (a MAC made for one file is
// worth nothing for another).
func signState(secret, name string, v any, mac *string) error {
	if secret == "" {
		return errNoStateSecret
	}
	*mac = ""
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	*mac = stateMAC(secret, name, b)
	return nil
}

// checkState checks the MAC of v as read from the file name; *mac keeps
// what was read. The error says why it is not to be obeyed, in words for
// a person, beginning with the file's name.
func checkState(secret, name string, v any, mac *string) error {
	got := *mac
	if got == "" {
		return fmt.Errorf("%s is not signed by this StatefulSet's secret (it has no MAC: written by something else, or by an earlier version)", name)
	}
	if secret == "" {
		return fmt.Errorf("%s cannot be checked: %w", name, errNoStateSecret)
	}
	*mac = ""
	b, err := json.Marshal(v)
	*mac = got
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if !hmac.Equal([]byte(stateMAC(secret, name, b)), []byte(got)) {
		return fmt.Errorf("%s is not signed by this StatefulSet's secret (written by something else, or before the secret changed)", name)
	}
	return nil
}

// writeSigned signs v (its MAC field is *mac) and writes it to path.
func writeSigned(path, name, secret string, v any, mac *string) error {
	if err := signState(secret, name, v, mac); err != nil {
		return err
	}
	return writeJSON(path, v)
}

// sidecarSeedSecret is seedSecret for the sidecar, whose reconciler
// refreshes the replication password at every pass and must see a change
// itself (it recomputes the password's tag then): the current
// value is used as it is. SEED_PASSWORD, which only these MACs use in the
// sidecar, is read again at every call.
func sidecarSeedSecret(cfg *Config, creds *credentials) func() string {
	if cfg.SeedPassword == "" {
		return func() string { return creds.replication.Get().Reveal() }
	}
	return seedSecret(cfg, creds)
}
