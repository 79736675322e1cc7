package bootstrap

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/dnswait"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// ErrInvalidConfig marks every error caused by the environment or the pod
// name rather than by the world: the binary exits 2 for it.
var ErrInvalidConfig = errors.New("invalid configuration")

// configError is a list of problems found in the environment, reported in
// one line so that `kubectl logs` shows all of them at once.
type configError struct{ problems []string }

func (e *configError) Error() string   { return strings.Join(e.problems, "; ") }
func (e *configError) Is(t error) bool { return t == ErrInvalidConfig }

// invalidf returns an error classified as ErrInvalidConfig.
func invalidf(format string, args ...any) error {
	return &configError{problems: []string{fmt.Sprintf(format, args...)}}
}

// env is the environment as the binary reads it: strings with defaults. It
// is the single source of truth for the variables: --help, the README table
// and the manifest tests are derived from its tags. Typed parsing and
// validation happen in Load so every problem is reported with its variable.
type env struct {
	PodName                 string `env:"POD_NAME" help:"the pod's name, <statefulset>-<ordinal> (default: the hostname)"`
	PodNamespace            string `env:"POD_NAMESPACE" help:"the pod's namespace (default: from the pod's stable name in HOSTS_FILE, else the service account's namespace file, else default)"`
	ServiceName             string `env:"SERVICE_NAME" help:"the headless Service (clusterIP: None) named in the StatefulSet's serviceName (default: from the pod's stable name <pod>.<service>.<namespace>.svc.<domain>, which the kubelet writes into HOSTS_FILE; required where no such line exists)"`
	ClusterDomain           string `env:"CLUSTER_DOMAIN, default=cluster.local" help:"the cluster's DNS domain (unset: from the pod's stable name in HOSTS_FILE, else cluster.local)"`
	HostsFile               string `env:"HOSTS_FILE, default=/etc/hosts" help:"the hosts file in which the kubelet names the pod <pod>.<service>.<namespace>.svc.<domain>: where SERVICE_NAME, POD_NAMESPACE and CLUSTER_DOMAIN come from when unset, so that a renamed copy of the manifests (a kustomize namePrefix) needs no edits"`
	PrimaryHost             string `env:"PRIMARY_HOST" help:"the primary's stable DNS name (default: <statefulset>-0.<SERVICE_NAME>.<POD_NAMESPACE>.svc.<CLUSTER_DOMAIN>)"`
	Primary                 string `env:"PRIMARY, default=ordinal-0" help:"who the primary is: ordinal-0 (pod <statefulset>-0, always; no Kubernetes API access is needed) or kubernetes (the holder of the Lease named after the StatefulSet, which a switchover moves: needs the service account and Role the kubernetes-primary manifests ship; see README: The primary that can move)"`
	LeaseDuration           string `env:"LEASE_DURATION, default=10s" help:"PRIMARY=kubernetes: how long the primary's Lease stays its own without a renewal; the holder turns its server read-only once LEASE_DURATION - 2 x LEASE_RENEW_INTERVAL have passed since its last renewal began"`
	LeaseRenewInterval      string `env:"LEASE_RENEW_INTERVAL, default=2s" help:"PRIMARY=kubernetes: how often every sidecar reads the Lease and the holder renews it; at most LEASE_DURATION / 4"`
	Failover                string `env:"FAILOVER, default=off" help:"off or auto (PRIMARY=kubernetes with SEMI_SYNC=true only): when the primary's Lease expires, the most advanced replica, once every other replica has stopped receiving from the old primary and answers, takes the Lease and becomes writable; the old primary rejoins as a replica, its unacknowledged transactions replaced by a copy; see README: Automatic failover"`
	ServerIDBase            string `env:"SERVER_ID_BASE, default=100" help:"server_id = SERVER_ID_BASE + ordinal, must stay within 1..4294967295"`
	Flavor                  string `env:"FLAVOR, default=auto" help:"server flavour the init container writes configuration for: auto (one file both accept), mysql or mariadb"`
	MySQLHost               string `env:"MYSQL_HOST, default=127.0.0.1" help:"address of the local server the sidecar manages"`
	MySQLPort               string `env:"MYSQL_PORT, default=3306" help:"MySQL port of the local server, also used to reach the primary"`
	MySQLRootPassword       string `env:"MYSQL_ROOT_PASSWORD" secret:"true" help:"required (or its _FILE): password of the local server's root user"`
	MySQLRootPasswordFile   string `env:"MYSQL_ROOT_PASSWORD_FILE" help:"file holding the root password (wins over MYSQL_ROOT_PASSWORD)"`
	ReplicationUser         string `env:"REPLICATION_USER, default=replication" help:"the replication account"`
	ReplicationPassword     string `env:"REPLICATION_PASSWORD" secret:"true" help:"required (or its _FILE): the replication account's password"`
	ReplicationPasswordFile string `env:"REPLICATION_PASSWORD_FILE" help:"file holding the replication password (wins over REPLICATION_PASSWORD)"`
	SeedPassword            string `env:"SEED_PASSWORD" secret:"true" help:"optional (or its _FILE): the secret that keys the seed tokens and the stream's MAC between backup-server and seed-exec (MariaDB), from which the copy accounts' passwords are derived (MySQL's clone account, MariaDB's backup account), and that signs the request files in STATE_DIR (override.json, forget-peer.json, seed/request.json); when set, only it does, so the replication password alone cannot fetch a copy of the data (unset: the replication password); every pod must have the same"`
	SeedPasswordFile        string `env:"SEED_PASSWORD_FILE" help:"file holding the seed secret (wins over SEED_PASSWORD), read again for every copy"`
	ReplicationTLS          string `env:"REPLICATION_TLS, default=false" help:"true: replicas connect to the primary with TLS (SOURCE_SSL=1) instead of fetching its RSA key (GET_SOURCE_PUBLIC_KEY=1); without REPLICATION_TLS_CA_FILE the server's certificate is not verified"`
	ReplicationTLSCAFile    string `env:"REPLICATION_TLS_CA_FILE" help:"CA certificate(s), PEM: verified TLS for replication (SOURCE_SSL_VERIFY_SERVER_CERT=1) and for the sidecar's connections to the primary and peers; the server's certificate must name the pod's stable DNS name; the server container must see the file at the same path; implies REPLICATION_TLS and REQUIRE SSL on the replication account"`
	ReplicationTLSCertFile  string `env:"REPLICATION_TLS_CERT_FILE" help:"client certificate, PEM, presented with REPLICATION_TLS_CA_FILE (optional; needs REPLICATION_TLS_KEY_FILE)"`
	ReplicationTLSKeyFile   string `env:"REPLICATION_TLS_KEY_FILE" help:"private key of REPLICATION_TLS_CERT_FILE, PEM"`
	SeedTLSCertFile         string `env:"SEED_TLS_CERT_FILE" help:"MariaDB, backup-server: the certificate, PEM, that serves the seed stream over TLS on BACKUP_ADDR: this pod's server certificate (the server's ssl_cert), which names its stable DNS name; required by backup-server with REPLICATION_TLS_CA_FILE, against which seed-exec verifies it (needs SEED_TLS_KEY_FILE); read again at every connection"`
	SeedTLSKeyFile          string `env:"SEED_TLS_KEY_FILE" help:"private key of SEED_TLS_CERT_FILE, PEM (the server's ssl_key)"`
	ConfigDir               string `env:"CONFIG_DIR, default=/etc/mysql/conf.d" help:"where init writes the server configuration"`
	ConfigFile              string `env:"CONFIG_FILE, default=50-mysql-bootstrap.cnf" help:"name of the configuration file init writes in CONFIG_DIR"`
	DataDir                 string `env:"DATA_DIR, default=/var/lib/mysql" help:"the server's data directory"`
	StateDir                string `env:"STATE_DIR, default=/var/lib/mysql-bootstrap" help:"where the sidecar keeps what must survive its restarts (how fresh a replica's data is); on the data volume, so it goes with the data; a directory that does not exist keeps nothing"`
	WaitTimeout             string `env:"WAIT_TIMEOUT, default=10m" help:"how long init waits for the primary (INIT_WAIT_FOR_PRIMARY), and the sidecar for the local server"`
	InitWaitForPrimary      string `env:"INIT_WAIT_FOR_PRIMARY, default=false" help:"true: init of a replica whose data directory is empty waits until the primary's name resolves and its port answers before the server starts; false: the replica's server starts at once, not ready, and the sidecar connects replication when the primary answers (a name looked up before its pod has an address is cached as missing for up to 30 s by a default CoreDNS, which made a new cluster wait that long)"`
	ResolvConf              string `env:"RESOLV_CONF, default=/etc/resolv.conf" help:"resolver configuration (nameservers, search list, ndots) used for DNS waits"`
	HTTPAddr                string `env:"HTTP_ADDR, default=:8080" help:"sidecar HTTP listener (/healthz /readyz /status /metrics)"`
	ReconcileInterval       string `env:"RECONCILE_INTERVAL, default=5s" help:"how often the sidecar re-checks and repairs the server's role"`
	MaxReplicationLag       string `env:"MAX_REPLICATION_LAG, default=30s" help:"a replica whose data may be older than this is not ready: the time since the primary last held no transaction the replica has not applied (the sidecar reads the primary's GTIDs at every pass, so keep it well above RECONCILE_INTERVAL); Seconds_Behind_Source plays no part"`
	BinlogExpire            string `env:"BINLOG_EXPIRE, default=168h" help:"how long servers keep binary logs (binlog_expire_logs_seconds): shorter bounds their disk use but means more replicas that must be seeded instead of catching up"`
	SemiSync                string `env:"SEMI_SYNC, default=false" help:"true: semi-synchronous replication (AFTER_SYNC): the primary acknowledges a commit only once a replica has it, and waits for one without end (a primary with no replica connected takes no writes); init configures it, each sidecar enables the side its role needs; needs FLAVOR=mysql (MySQL 8.0.26+) or FLAVOR=mariadb; see README: The primary that can move"`
	AutoReseed              string `env:"AUTO_RESEED, default=true" help:"false: a replica with data that needs transactions the primary purged is reported, not re-seeded (new and emptied replicas are always seeded); a replica with transactions of its own is never re-seeded"`
	SeedTimeout             string `env:"SEED_TIMEOUT, default=6h" help:"how long one copy of a donor's data may take before it is abandoned and retried"`
	SeedStallTimeout        string `env:"SEED_STALL_TIMEOUT, default=30s" help:"a copy of a donor's data during which no byte moves for this long is abandoned (MySQL: KILL QUERY of the CLONE; MariaDB: the stream is dropped) and started again from another donor at once; a donor busy with another copy is left for another at once too"`
	BackupAddr              string `env:"BACKUP_ADDR, default=:8081" help:"MariaDB: where backup-server serves the verified mariadb-backup stream of this pod's data to seeding peers"`
	ToolsDir                string `env:"TOOLS_DIR" help:"init copies mysql-bootstrap here (a volume the pod shares), for seed-exec and backup-server in the server image (MariaDB seeding)"`
	LogFormat               string `env:"LOG_FORMAT, default=json" help:"json or text (log/slog, to stderr)"`
	LogLevel                string `env:"LOG_LEVEL, default=info" help:"debug, info, warn or error"`
}

// Variable describes one environment variable the binary reads.
type Variable struct {
	Name    string
	Default string
	Help    string
	Secret  bool
}

// Variables lists every environment variable the binary reads, in the
// order they are documented.
func Variables() []Variable {
	t := reflect.TypeOf(env{})
	vars := make([]Variable, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("env"), ",")
		v := Variable{Name: name, Help: f.Tag.Get("help"), Secret: f.Tag.Get("secret") == "true"}
		if d, ok := strings.CutPrefix(strings.TrimSpace(opts), "default="); ok {
			v.Default = d
		}
		vars = append(vars, v)
	}
	return vars
}

// Flavor selects which server the rendered configuration is for.
type Flavor string

// Flavors of server configuration.
const (
	FlavorAuto    Flavor = "auto"
	FlavorMySQL   Flavor = "mysql"
	FlavorMariaDB Flavor = "mariadb"
)

// Secret holds a password. It never prints itself, so a Config can be
// logged or formatted without leaking it.
type Secret string

// String implements fmt.Stringer without revealing the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "<redacted>"
}

// GoString implements fmt.GoStringer without revealing the value.
func (s Secret) GoString() string { return s.String() }

// MarshalText keeps the value out of JSON and text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the password for the one place that needs it: a DSN or an
// escaped statement.
func (s Secret) Reveal() string { return string(s) }

// Config is the validated configuration of every subcommand.
type Config struct {
	PodName             string
	PodNameFromHostname bool // POD_NAME was unset: error messages say so
	Namespace           string
	ServiceName         string
	ClusterDomain       string
	PrimaryHost         string // override; empty means derived
	// PrimaryMode is PRIMARY: PrimaryOrdinal0 or PrimaryKubernetes.
	PrimaryMode string
	// LeaseDuration and LeaseRenewInterval: PRIMARY=kubernetes.
	LeaseDuration, LeaseRenewInterval time.Duration
	// FailoverAuto is FAILOVER=auto: a replica takes an expired Lease.
	FailoverAuto        bool
	ServerIDBase        uint32
	Flavor              Flavor
	MySQLHost           string
	MySQLPort           int
	RootPassword        Secret
	RootPasswordFile    string // "" when from MYSQL_ROOT_PASSWORD
	ReplicationUser     string
	ReplicationPassword Secret
	// ReplicationPasswordFile is "" when from REPLICATION_PASSWORD.
	ReplicationPasswordFile string
	// SeedPassword keys MariaDB seed tokens and stream MACs when set
	// (SEED_PASSWORD); SeedPasswordFile is "" when from the variable.
	SeedPassword     Secret
	SeedPasswordFile string
	ReplicationTLS   bool
	// TLS: CA, client certificate and key files; empty when unset.
	TLSCAFile, TLSCertFile, TLSKeyFile string
	ConfigDir                          string
	ConfigFile                         string
	DataDir                            string
	StateDir                           string
	WaitTimeout                        time.Duration
	InitWaitForPrimary                 bool
	ResolvConf                         string
	HTTPAddr                           string
	ReconcileInterval                  time.Duration
	MaxReplicationLag                  time.Duration
	BinlogExpire                       time.Duration
	AutoReseed                         bool
	// SemiSync is SEMI_SYNC: semi-synchronous replication, configured by
	// init and enabled per role by the sidecar.
	SemiSync         bool
	SeedTimeout      time.Duration
	SeedStallTimeout time.Duration
	BackupAddr       string
	ToolsDir         string
	LogFormat        string
	LogLevel         string

	// SeedTLSCertFile and SeedTLSKeyFile serve backup-server's stream over
	// TLS; empty when unset.
	SeedTLSCertFile, SeedTLSKeyFile string
}

// Need says which optional parts of the configuration a subcommand cannot
// do without.
type Need struct {
	Service   bool // SERVICE_NAME (stable names)
	Passwords bool // root and replication passwords
}

// Loader reads the configuration. Its fields are the seams tests use to
// keep the process environment and the machine out of the picture.
type Loader struct {
	Lookuper      envconfig.Lookuper
	Hostname      func() (string, error)
	NamespaceFile string
	ReadFile      func(string) ([]byte, error)
	// Sleep pauses between reads of a hosts file the kubelet may be
	// rewriting (time.Sleep).
	Sleep func(time.Duration)
}

// DefaultNamespaceFile is where Kubernetes mounts the pod's namespace.
const DefaultNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

func (l Loader) withDefaults() Loader {
	if l.Lookuper == nil {
		l.Lookuper = envconfig.OsLookuper()
	}
	if l.Hostname == nil {
		l.Hostname = os.Hostname
	}
	if l.NamespaceFile == "" {
		l.NamespaceFile = DefaultNamespaceFile
	}
	if l.ReadFile == nil {
		l.ReadFile = os.ReadFile
	}
	if l.Sleep == nil {
		l.Sleep = time.Sleep
	}
	return l
}

// Load reads, parses and validates the environment, reporting every problem
// at once. It reads files (secrets, the namespace file) but changes nothing.
func (l Loader) Load(ctx context.Context, need Need) (*Config, error) {
	l = l.withDefaults()
	var raw env
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &raw, Lookuper: l.Lookuper}); err != nil {
		return nil, &configError{problems: []string{err.Error()}}
	}
	c := &Config{
		ServiceName:     raw.ServiceName,
		ClusterDomain:   strings.TrimSuffix(strings.ToLower(raw.ClusterDomain), "."),
		PrimaryHost:     strings.TrimSuffix(strings.ToLower(raw.PrimaryHost), "."),
		MySQLHost:       raw.MySQLHost,
		ReplicationUser: raw.ReplicationUser,
		ConfigDir:       raw.ConfigDir,
		ConfigFile:      raw.ConfigFile,
		DataDir:         raw.DataDir,
		StateDir:        raw.StateDir,
		ResolvConf:      raw.ResolvConf,
		HTTPAddr:        raw.HTTPAddr,
		LogFormat:       raw.LogFormat,
		LogLevel:        raw.LogLevel,
	}
	var p problems
	l.loadNames(raw, need, c, &p)
	loadServer(raw, c, &p)
	l.loadCredentials(raw, need, c, &p)
	loadPaths(raw, c, &p)
	loadTimings(raw, c, &p)
	loadListeners(raw, c, &p)
	if len(p) > 0 {
		return nil, &configError{problems: p}
	}
	return c, nil
}

// problems collects what is wrong with the environment, one line each.
type problems []string

// bad records a variable whose value is not what is expected.
func (p *problems) bad(name, value, want string) {
	*p = append(*p, fmt.Sprintf("%s=%q is invalid: expected %s", name, value, want))
}

// boolean parses a true/false variable into dst.
func (p *problems) boolean(name, value string, dst *bool) {
	if b, err := strconv.ParseBool(value); err != nil {
		p.bad(name, value, "true or false")
	} else {
		*dst = b
	}
}

// loadNames finds the pod's name and where it lives: POD_NAME (or the
// hostname), SERVICE_NAME, POD_NAMESPACE, CLUSTER_DOMAIN, PRIMARY_HOST.
// The pod name itself is checked by NewIdentity (ParsePodName), which
// knows what a StatefulSet's pod name looks like.
func (l Loader) loadNames(raw env, need Need, c *Config, p *problems) {
	c.PodName = raw.PodName
	if c.PodName == "" {
		h, err := l.Hostname()
		if err != nil {
			*p = append(*p, fmt.Sprintf("POD_NAME is not set and the hostname cannot be read: %v", err))
		}
		c.PodName, c.PodNameFromHostname = h, true
	}

	// The kubelet names a StatefulSet pod <pod>.<service>.<namespace>.svc.<domain>
	// in its hosts file: the Service, namespace and domain need not be
	// repeated in the manifests (where a renamed copy would get them wrong).
	var stable stableName
	if raw.ServiceName == "" || raw.PodNamespace == "" || !l.explicit("CLUSTER_DOMAIN") {
		// Without SERVICE_NAME the file is the only source: wait out a
		// rewrite. Otherwise it only refines defaults: read it once.
		rereads := 0
		if raw.ServiceName == "" {
			rereads = hostsRereads
		}
		stable = l.readStableName(raw.HostsFile, c.PodName, rereads)
	}
	if c.ServiceName == "" {
		c.ServiceName = stable.service
	}
	if !l.explicit("CLUSTER_DOMAIN") && stable.domain != "" {
		c.ClusterDomain = stable.domain
	}

	c.Namespace = raw.PodNamespace
	if c.Namespace == "" {
		c.Namespace = stable.namespace
	}
	if c.Namespace == "" {
		c.Namespace = "default"
		if b, err := l.ReadFile(l.NamespaceFile); err == nil && strings.TrimSpace(string(b)) != "" {
			c.Namespace = strings.TrimSpace(string(b))
		}
	}
	if !wire.IsDNSLabel(c.Namespace) {
		p.bad("POD_NAMESPACE", c.Namespace, "a DNS label (lowercase letters, digits and '-', at most 63)")
	}

	switch {
	case c.ServiceName == "" && need.Service:
		*p = append(*p, fmt.Sprintf("SERVICE_NAME is required: set it to the headless Service named in the StatefulSet's serviceName (HOSTS_FILE=%q names no %s.<service>.<namespace>.svc.<domain>)", raw.HostsFile, c.PodName))
	case raw.ServiceName != "" && !wire.IsDNSLabel(raw.ServiceName):
		p.bad("SERVICE_NAME", raw.ServiceName, "a Service name (lowercase letters, digits and '-', at most 63)")
	}
	if !isDomainName(c.ClusterDomain) {
		p.bad("CLUSTER_DOMAIN", raw.ClusterDomain, "a DNS domain such as cluster.local")
	}
	if c.PrimaryHost != "" && !isDomainName(c.PrimaryHost) {
		p.bad("PRIMARY_HOST", raw.PrimaryHost, "a DNS name such as mysql-0.mysql.default.svc.cluster.local")
	}
}

// loadServer reads which server this is and where it listens:
// SERVER_ID_BASE, FLAVOR, MYSQL_HOST, MYSQL_PORT.
func loadServer(raw env, c *Config, p *problems) {
	if n, err := strconv.ParseUint(raw.ServerIDBase, 10, 32); err != nil {
		p.bad("SERVER_ID_BASE", raw.ServerIDBase, "a whole number from 0 to 4294967295")
	} else {
		c.ServerIDBase = uint32(n)
	}
	switch f := Flavor(strings.ToLower(raw.Flavor)); f {
	case FlavorAuto, FlavorMySQL, FlavorMariaDB:
		c.Flavor = f
	default:
		p.bad("FLAVOR", raw.Flavor, "auto, mysql or mariadb")
	}
	if raw.MySQLHost == "" {
		p.bad("MYSQL_HOST", raw.MySQLHost, "a host name or address")
	}
	if n, err := strconv.Atoi(raw.MySQLPort); err != nil || n < 1 || n > 65535 {
		p.bad("MYSQL_PORT", raw.MySQLPort, "a port from 1 to 65535")
	} else {
		c.MySQLPort = n
	}
}

// loadCredentials reads the passwords (or their files), the replication
// account's name and the replication TLS settings.
func (l Loader) loadCredentials(raw env, need Need, c *Config, p *problems) {
	if s, problem := l.secret("MYSQL_ROOT_PASSWORD", raw.MySQLRootPassword, raw.MySQLRootPasswordFile, need.Passwords); problem != "" {
		*p = append(*p, problem)
	} else {
		c.RootPassword, c.RootPasswordFile = s, raw.MySQLRootPasswordFile
	}
	if s, problem := l.secret("REPLICATION_PASSWORD", raw.ReplicationPassword, raw.ReplicationPasswordFile, need.Passwords); problem != "" {
		*p = append(*p, problem)
	} else if err := sqldialect.CheckReplicationPassword(s.Reveal()); s != "" && err != nil {
		*p = append(*p, "REPLICATION_PASSWORD is invalid: "+strings.TrimPrefix(err.Error(), sqldialect.ErrInvalidArgument.Error()+": "))
	} else {
		c.ReplicationPassword, c.ReplicationPasswordFile = s, raw.ReplicationPasswordFile
	}
	if s, problem := l.secret("SEED_PASSWORD", raw.SeedPassword, raw.SeedPasswordFile, false); problem != "" {
		*p = append(*p, problem)
	} else {
		c.SeedPassword, c.SeedPasswordFile = s, raw.SeedPasswordFile
	}
	switch u := raw.ReplicationUser; {
	case u == "" || len(u) > 32 || strings.ContainsAny(u, "\x00'\"`\\@"):
		p.bad("REPLICATION_USER", u, "a user name of 1 to 32 characters without quotes, backslashes or '@'")
	case reservedUsers[strings.ToLower(u)]:
		p.bad("REPLICATION_USER", u, "a dedicated account, not root or a system account (the sidecar sets its password)")
	}
	p.boolean("REPLICATION_TLS", raw.ReplicationTLS, &c.ReplicationTLS)
	*p = append(*p, l.tlsFiles(raw, c)...)
}

// loadPaths checks the directories and files: TOOLS_DIR, CONFIG_DIR,
// DATA_DIR, STATE_DIR, RESOLV_CONF, HOSTS_FILE, CONFIG_FILE.
func loadPaths(raw env, c *Config, p *problems) {
	if raw.ToolsDir != "" {
		if !filepath.IsAbs(raw.ToolsDir) {
			p.bad("TOOLS_DIR", raw.ToolsDir, "an absolute path")
		}
		c.ToolsDir = raw.ToolsDir
	}
	for _, d := range []struct{ name, value string }{{"CONFIG_DIR", raw.ConfigDir}, {"DATA_DIR", raw.DataDir}, {"STATE_DIR", raw.StateDir}, {"RESOLV_CONF", raw.ResolvConf}, {"HOSTS_FILE", raw.HostsFile}} {
		if !filepath.IsAbs(d.value) {
			p.bad(d.name, d.value, "an absolute path")
		}
	}
	if f := raw.ConfigFile; f == "" || f != filepath.Base(f) || !strings.HasSuffix(f, ".cnf") || strings.HasPrefix(f, ".") {
		p.bad("CONFIG_FILE", f, "a file name ending in .cnf, without directories")
	}
}

// loadTimings reads the durations and the switches of waiting and
// seeding.
func loadTimings(raw env, c *Config, p *problems) {
	durations := []struct {
		name, value string
		min         time.Duration
		dst         *time.Duration
	}{
		{"WAIT_TIMEOUT", raw.WaitTimeout, time.Second, &c.WaitTimeout},
		{"RECONCILE_INTERVAL", raw.ReconcileInterval, 100 * time.Millisecond, &c.ReconcileInterval},
		{"MAX_REPLICATION_LAG", raw.MaxReplicationLag, time.Second, &c.MaxReplicationLag},
		{"BINLOG_EXPIRE", raw.BinlogExpire, time.Hour, &c.BinlogExpire},
		{"SEED_TIMEOUT", raw.SeedTimeout, time.Minute, &c.SeedTimeout},
		{"SEED_STALL_TIMEOUT", raw.SeedStallTimeout, 5 * time.Second, &c.SeedStallTimeout},
	}
	for _, d := range durations {
		v, err := time.ParseDuration(d.value)
		if err != nil || v < d.min {
			p.bad(d.name, d.value, fmt.Sprintf("a duration of at least %s such as 30s or 10m", d.min))
			continue
		}
		*d.dst = v
	}
	p.boolean("INIT_WAIT_FOR_PRIMARY", raw.InitWaitForPrimary, &c.InitWaitForPrimary)
	p.boolean("AUTO_RESEED", raw.AutoReseed, &c.AutoReseed)
	p.boolean("SEMI_SYNC", raw.SemiSync, &c.SemiSync)
	if c.SemiSync && strings.EqualFold(raw.Flavor, string(FlavorAuto)) {
		// MySQL needs the semisync plugins loaded, and a file both
		// flavours read cannot carry them: MariaDB (built-in semi-sync)
		// logs an error for each missing library at every start.
		p.bad("FLAVOR", raw.Flavor, "mysql or mariadb with SEMI_SYNC=true (MySQL must load the semi-sync plugins, which a file for both flavours cannot)")
	}
	loadPrimaryMode(raw, c, p)
}

// The values of PRIMARY.
const (
	// PrimaryOrdinal0: pod <statefulset>-0 is the primary, always.
	PrimaryOrdinal0 = "ordinal-0"
	// PrimaryKubernetes: the holder of the StatefulSet's Lease is.
	PrimaryKubernetes = "kubernetes"
)

// loadPrimaryMode reads PRIMARY and, for PRIMARY=kubernetes, the Lease's
// timings: the holder must be able to renew a few times, and to turn
// read-only, before its Lease can expire (LEASE_DURATION - 2 x
// LEASE_RENEW_INTERVAL is its read-only deadline).
func loadPrimaryMode(raw env, c *Config, p *problems) {
	switch m := strings.ToLower(raw.Primary); m {
	case PrimaryOrdinal0, PrimaryKubernetes:
		c.PrimaryMode = m
	default:
		p.bad("PRIMARY", raw.Primary, "ordinal-0 or kubernetes")
	}
	dur, errD := time.ParseDuration(raw.LeaseDuration)
	if errD != nil || dur < 4*time.Second || dur > 10*time.Minute || dur%time.Second != 0 {
		p.bad("LEASE_DURATION", raw.LeaseDuration, "whole seconds from 4s to 10m such as 10s")
	}
	renew, errR := time.ParseDuration(raw.LeaseRenewInterval)
	if errR != nil || renew < 100*time.Millisecond {
		p.bad("LEASE_RENEW_INTERVAL", raw.LeaseRenewInterval, "a duration of at least 100ms such as 2s")
	}
	if errD == nil && errR == nil && renew >= 100*time.Millisecond && renew*4 > dur {
		p.bad("LEASE_RENEW_INTERVAL", raw.LeaseRenewInterval, fmt.Sprintf("at most LEASE_DURATION / 4 (%s): the holder must renew several times, and turn read-only, before its Lease can expire", dur/4))
	}
	c.LeaseDuration, c.LeaseRenewInterval = dur, renew
	if c.PrimaryMode == PrimaryKubernetes && c.PrimaryHost != "" {
		*p = append(*p, "PRIMARY_HOST cannot be used with PRIMARY=kubernetes: the primary is whichever pod holds the Lease")
	}
	switch strings.ToLower(raw.Failover) {
	case "off":
	case "auto":
		c.FailoverAuto = true
		if c.PrimaryMode != PrimaryKubernetes {
			p.bad("FAILOVER", raw.Failover, "off unless PRIMARY=kubernetes: automatic failover moves the primary's Lease, which only exists in that mode")
		} else if !c.SemiSync {
			p.bad("FAILOVER", raw.Failover, "off unless SEMI_SYNC=true: without semi-synchronous replication the primary acknowledges writes no replica has yet, and a failover would lose them")
		}
	default:
		p.bad("FAILOVER", raw.Failover, "off or auto")
	}
}

// LeaseFenceAfter is how long after the start of its last successful
// renewal the Lease's holder turns its server read-only.
func (c *Config) LeaseFenceAfter() time.Duration { return c.LeaseDuration - 2*c.LeaseRenewInterval }

// loadListeners checks the addresses the sidecar listens on and its
// logging: BACKUP_ADDR, HTTP_ADDR, LOG_FORMAT, LOG_LEVEL.
func loadListeners(raw env, c *Config, p *problems) {
	if _, port, err := net.SplitHostPort(raw.BackupAddr); err != nil {
		p.bad("BACKUP_ADDR", raw.BackupAddr, "host:port such as :8081")
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		p.bad("BACKUP_ADDR", raw.BackupAddr, "host:port with a port from 1 to 65535")
	} else {
		c.BackupAddr = raw.BackupAddr
	}
	if _, port, err := net.SplitHostPort(raw.HTTPAddr); err != nil {
		p.bad("HTTP_ADDR", raw.HTTPAddr, "host:port such as :8080")
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.bad("HTTP_ADDR", raw.HTTPAddr, "host:port with a port from 0 to 65535")
	}
	if raw.LogFormat != "json" && raw.LogFormat != "text" {
		p.bad("LOG_FORMAT", raw.LogFormat, "json or text")
	}
	switch raw.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p.bad("LOG_LEVEL", raw.LogLevel, "debug, info, warn or error")
	}
}

// tlsFiles checks the TLS variables: absolute paths to readable PEM files,
// a certificate only with its key and a CA; a CA turns TLS on.
func (l Loader) tlsFiles(raw env, c *Config) []string {
	var p []string
	files := []struct {
		name, value string
		dst         *string
		block       string // a PEM block type the file must hold
	}{
		{"REPLICATION_TLS_CA_FILE", raw.ReplicationTLSCAFile, &c.TLSCAFile, "CERTIFICATE"},
		{"REPLICATION_TLS_CERT_FILE", raw.ReplicationTLSCertFile, &c.TLSCertFile, "CERTIFICATE"},
		{"REPLICATION_TLS_KEY_FILE", raw.ReplicationTLSKeyFile, &c.TLSKeyFile, "PRIVATE KEY"},
		{"SEED_TLS_CERT_FILE", raw.SeedTLSCertFile, &c.SeedTLSCertFile, "CERTIFICATE"},
		{"SEED_TLS_KEY_FILE", raw.SeedTLSKeyFile, &c.SeedTLSKeyFile, "PRIVATE KEY"},
	}
	for _, f := range files {
		if f.value == "" {
			continue
		}
		if !filepath.IsAbs(f.value) {
			p = append(p, fmt.Sprintf("%s=%q is invalid: expected an absolute path", f.name, f.value))
			continue
		}
		b, err := l.ReadFile(f.value)
		if err != nil {
			p = append(p, fmt.Sprintf("%s=%q cannot be read: %v", f.name, f.value, unwrapPathError(err)))
			continue
		}
		if !hasPEMBlock(b, f.block) {
			p = append(p, fmt.Sprintf("%s=%q is invalid: expected a PEM file with a %s", f.name, f.value, f.block))
			continue
		}
		*f.dst = f.value
	}
	switch {
	case (raw.ReplicationTLSCertFile == "") != (raw.ReplicationTLSKeyFile == ""):
		p = append(p, "REPLICATION_TLS_CERT_FILE and REPLICATION_TLS_KEY_FILE go together: set both or neither")
	case raw.ReplicationTLSCertFile != "" && raw.ReplicationTLSCAFile == "":
		p = append(p, "REPLICATION_TLS_CERT_FILE needs REPLICATION_TLS_CA_FILE: a client certificate is only sent over verified TLS")
	}
	switch {
	case (raw.SeedTLSCertFile == "") != (raw.SeedTLSKeyFile == ""):
		p = append(p, "SEED_TLS_CERT_FILE and SEED_TLS_KEY_FILE go together: set both or neither")
	case raw.SeedTLSCertFile != "" && raw.ReplicationTLSCAFile == "":
		p = append(p, "SEED_TLS_CERT_FILE needs REPLICATION_TLS_CA_FILE: recipients verify the seed stream's certificate against it, and without it they fetch over plain http")
	}
	if raw.ReplicationTLSCAFile != "" {
		if b, err := strconv.ParseBool(raw.ReplicationTLS); err == nil && !b && l.explicit("REPLICATION_TLS") {
			p = append(p, "REPLICATION_TLS=false contradicts REPLICATION_TLS_CA_FILE: unset one of them")
		}
		c.ReplicationTLS = true
	}
	return p
}

// explicit reports whether the variable is set in the environment (not
// only defaulted).
func (l Loader) explicit(name string) bool {
	_, ok := l.Lookuper.Lookup(name)
	return ok
}

// hasPEMBlock reports whether b holds a PEM block whose type ends in typ
// (so "PRIVATE KEY" matches RSA, EC and PKCS#8 keys).
func hasPEMBlock(b []byte, typ string) bool {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return false
		}
		if strings.HasSuffix(block.Type, typ) {
			return true
		}
	}
}

// reservedUsers are accounts the sidecar must never create or alter.
var reservedUsers = map[string]bool{
	"root": true, "mysql.sys": true, "mysql.session": true, "mysql.infoschema": true, "mariadb.sys": true,
}

// secret resolves a password from NAME_FILE (which wins) or NAME. The error
// names the variable and never the value.
func (l Loader) secret(name, value, file string, required bool) (Secret, string) {
	if file != "" {
		b, err := l.ReadFile(file)
		if err != nil {
			return "", fmt.Sprintf("%s_FILE=%q cannot be read: %v", name, file, unwrapPathError(err))
		}
		// Secrets mounted from files usually end in a newline.
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Sprintf("%s_FILE=%q is empty: expected the password", name, file)
		}
		return Secret(v), ""
	}
	if value == "" && required {
		return "", fmt.Sprintf("%s is required: set %s or %s_FILE", name, name, name)
	}
	return Secret(value), ""
}

// unwrapPathError drops the path that the message already shows.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// hostsRereads and hostsReread bound how long readStableName waits for
// the kubelet to finish rewriting the hosts file.
const (
	hostsRereads = 20
	hostsReread  = 100 * time.Millisecond
)

// readStableName reads the pod's stable name from the hosts file. The
// kubelet rewrites that file in place (it is bind-mounted into every
// container, so it cannot be renamed into place) each time it starts a
// container of the pod, and a read in that moment sees it empty or cut
// short: a file without the pod's line is read again, up to rereads times
// (about two seconds with hostsRereads). A file that cannot be read at all
// is not waited for.
func (l Loader) readStableName(file, pod string, rereads int) stableName {
	for i := 0; ; i++ {
		b, err := l.ReadFile(file)
		if err != nil {
			return stableName{}
		}
		if s, ok := stableNameFromHosts(b, pod); ok || i >= rereads {
			return s
		}
		l.Sleep(hostsReread)
	}
}

// stableName is what the kubelet's hosts file says of the pod.
type stableName struct{ service, namespace, domain string }

// stableNameFromHosts finds the pod's stable name in a hosts file: the
// kubelet writes "<ip> <pod>.<service>.<namespace>.svc.<domain> <pod>" for a
// pod with a hostname and a subdomain, which a StatefulSet gives each of its
// pods.
func stableNameFromHosts(hosts []byte, pod string) (stableName, bool) {
	if pod == "" {
		return stableName{}, false
	}
	for _, line := range strings.Split(string(hosts), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		for _, name := range fields[1:] {
			rest, ok := strings.CutPrefix(strings.ToLower(strings.TrimSuffix(name, ".")), pod+".")
			if !ok {
				continue
			}
			// <service>.<namespace>.svc.<domain>
			labels := strings.SplitN(rest, ".", 4)
			if len(labels) != 4 || labels[2] != "svc" || !wire.IsDNSLabel(labels[0]) || !wire.IsDNSLabel(labels[1]) || !isDomainName(labels[3]) {
				continue
			}
			return stableName{service: labels[0], namespace: labels[1], domain: labels[3]}, true
		}
	}
	return stableName{}, false
}

// isDomainName reports whether s is a DNS name the resolver can look up.
func isDomainName(s string) bool { return dnswait.ValidateName(s) == nil }
