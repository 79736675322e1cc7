package bootstrap

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
)

// secretFile is a password that follows its file: Kubernetes updates a
// mounted Secret in place (a symlink swap), so the file is read again on
// every refresh. A file that cannot be read, is empty or holds an invalid
// password keeps the last good value, and the problem is reported.
type secretFile struct {
	name     string // the variable, e.g. REPLICATION_PASSWORD
	file     string // its _FILE, or "" for a plain variable (never changes)
	validate func(string) error
	readFile func(string) ([]byte, error)

	mu      sync.Mutex
	value   Secret
	problem string
}

func newSecretFile(name, file string, initial Secret, validate func(string) error) *secretFile {
	return &secretFile{name: name, file: file, value: initial, validate: validate, readFile: os.ReadFile}
}

// Get returns the current value.
func (s *secretFile) Get() Secret {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.value
}

// Problem is why the last refresh kept the old value ("" when it did not).
func (s *secretFile) Problem() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.problem
}

// Refresh reads the file again and reports whether the value changed.
func (s *secretFile) Refresh() bool {
	if s.file == "" {
		return false
	}
	b, err := s.readFile(s.file)
	v := strings.TrimRight(string(b), "\r\n")
	problem := ""
	switch {
	case err != nil:
		problem = fmt.Sprintf("%s_FILE=%q cannot be read: %v (keeping the password read before)", s.name, s.file, unwrapPathError(err))
	case v == "":
		problem = fmt.Sprintf("%s_FILE=%q is empty (keeping the password read before)", s.name, s.file)
	case s.validate != nil:
		if verr := s.validate(v); verr != nil {
			problem = fmt.Sprintf("%s_FILE=%q holds an invalid password: %s (keeping the password read before)", s.name, s.file,
				strings.TrimPrefix(verr.Error(), sqldialect.ErrInvalidArgument.Error()+": "))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.problem = problem
	if problem != "" || Secret(v) == s.value {
		return false
	}
	s.value = Secret(v)
	return true
}

// credentials are the sidecar's two passwords.
type credentials struct {
	root, replication *secretFile

	mu sync.Mutex
	fp string // PasswordTag of replication's value, keyed by root's
}

func newCredentials(cfg *Config) *credentials {
	c := &credentials{
		root: newSecretFile("MYSQL_ROOT_PASSWORD", cfg.RootPasswordFile, cfg.RootPassword, nil),
		replication: newSecretFile("REPLICATION_PASSWORD", cfg.ReplicationPasswordFile, cfg.ReplicationPassword,
			sqldialect.CheckReplicationPassword),
	}
	c.fp = PasswordTag(cfg.RootPassword, cfg.ReplicationPassword)
	return c
}

// refresh reads both files again; it reports whether a password changed.
// The replication password's tag is keyed by the root password, so a
// change of either changes it.
func (c *credentials) refresh() (rootChanged, replicationChanged bool) {
	rootChanged = c.root.Refresh()
	if replicationChanged = c.replication.Refresh(); replicationChanged || rootChanged {
		fp := PasswordTag(c.root.Get(), c.replication.Get())
		c.mu.Lock()
		c.fp = fp
		c.mu.Unlock()
	}
	return rootChanged, replicationChanged
}

// facts are the credentials as decide sees them.
func (c *credentials) facts() decide.CredentialFacts {
	c.mu.Lock()
	f := decide.CredentialFacts{ReplicationFP: c.fp}
	c.mu.Unlock()
	for _, s := range []*secretFile{c.root, c.replication} {
		if p := s.Problem(); p != "" {
			if f.Problems == nil {
				f.Problems = map[string]string{}
			}
			f.Problems[s.name] = p
		}
	}
	return f
}

// passwordTagSalt and passwordTagKey separate the tags from any other
// hash of these passwords.
const (
	passwordTagSalt = "mysql-bootstrap password tag v2"
	passwordTagKey  = "mysql-bootstrap password tag key v2"
)

// PasswordTag tells pods of one deployment whether they hold the same
// password without telling anyone else anything about it: 8 bytes of
// PBKDF2-SHA256 (100 000 rounds) of the password, salted with an HMAC of
// the deployment's root password (MYSQL_ROOT_PASSWORD, the same Secret on
// every pod). Pods publish the tag of the password their replication
// channel uses, so the primary can tell when every replica has moved to a
// new one. Without the root password a tag can be neither computed nor
// checked: a guess at the replication password cannot be tested against
// it offline, and no table computed for one deployment serves another. A
// change of the root password changes every tag: until every pod reads
// the new one, the primary takes replicas for not yet moved (it waits, as
// for a rotation; nothing breaks).
func PasswordTag(root, s Secret) string {
	if s == "" {
		return ""
	}
	mac := hmac.New(sha256.New, []byte(root.Reveal()))
	mac.Write([]byte(passwordTagKey))
	salt := append([]byte(passwordTagSalt), mac.Sum(nil)...)
	key, err := pbkdf2.Key(sha256.New, s.Reveal(), salt, 100_000, 32)
	if err != nil {
		// Only FIPS mode's limits can refuse, and 32 bytes of SHA-256
		// with a long salt meet them.
		panic(err)
	}
	return hex.EncodeToString(key[:8])
}
