package bootstrap

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// option is one line of the [mysqld] group. MySQL-only and MariaDB-only
// options are written with the loose- prefix when one file must serve both
// flavours, so each server skips what it does not know instead of refusing
// to start.
type option struct {
	name    string
	value   string
	mysql   bool // understood by MySQL 8.0.26+
	mariadb bool // understood by MariaDB 10.5+
	// renamed is set on the options MySQL renamed in 8.0.26 (replica for
	// slave), under both names: for MySQL they keep the loose- prefix, so
	// that 8.0.22-8.0.25 (new name unknown) and later releases that drop
	// the old name still start, each applying the name it knows.
	renamed bool
	// explicit: written only when FLAVOR names the flavour (a file for
	// both cannot carry it: the other flavour would fail on it, not skip
	// it).
	explicit bool
	// loose: written with the loose- prefix for MySQL, so a server without
	// the option's plugin still starts.
	loose   bool
	comment string
}

// ServerConfig is what the server configuration depends on besides the
// pod's identity.
type ServerConfig struct {
	Flavor Flavor
	Port   int
	// DataInitialised: the data directory already holds a server's data
	// (this is not the server's first start).
	DataInitialised bool
	// BinlogExpire is how long binary logs are kept.
	BinlogExpire time.Duration
	// SemiSync is SEMI_SYNC: configure semi-synchronous replication
	// (FLAVOR mysql or mariadb only; Load refuses it with auto).
	SemiSync bool
}

// semiSyncTimeout is rpl_semi_sync_source_timeout (MariaDB:
// rpl_semi_sync_master_timeout) in milliseconds: the largest value both
// flavours accept, about 49 days.
const semiSyncTimeout = "4294967295"

// semiSyncOptions configure semi-synchronous replication, both sides off:
// the sidecar turns on the side the pod's role needs at run time (roles
// move), so a server never acts on a role it had before a restart.
func semiSyncOptions() []option {
	return []option{
		{name: "plugin_load_add", value: "semisync_source.so", mysql: true, explicit: true,
			comment: "SEMI_SYNC: semi-synchronous replication. MySQL 8.0.26+ has it in two plugins (MariaDB\n# has it built in); both are loaded on every pod, because its role can change."},
		{name: "plugin_load_add", value: "semisync_replica.so", mysql: true, explicit: true},
		{name: "rpl_semi_sync_source_wait_point", value: "AFTER_SYNC", mysql: true, explicit: true, loose: true,
			comment: "A commit becomes visible to other clients only once a replica acknowledged it\n# (AFTER_SYNC): nothing read on the primary can be lost with it."},
		{name: "rpl_semi_sync_source_wait_for_replica_count", value: "1", mysql: true, explicit: true, loose: true},
		{name: "rpl_semi_sync_source_timeout", value: semiSyncTimeout, mysql: true, explicit: true, loose: true,
			comment: "Wait for an acknowledgement without end (the largest value, about 49 days), and also\n# while no replica is connected: a fallback to asynchronous replication would\n# acknowledge writes only the primary holds, which a failover would lose."},
		{name: "rpl_semi_sync_source_wait_no_replica", value: "ON", mysql: true, explicit: true, loose: true},
		{name: "rpl_semi_sync_source_enabled", value: "OFF", mysql: true, explicit: true, loose: true,
			comment: "Off until the sidecar has checked the pod's role: it turns on the source side on\n# the primary (before it takes writes) and the replica side on replicas."},
		{name: "rpl_semi_sync_replica_enabled", value: "OFF", mysql: true, explicit: true, loose: true},
		{name: "rpl_semi_sync_master_wait_point", value: "AFTER_SYNC", mariadb: true, explicit: true,
			comment: "SEMI_SYNC: semi-synchronous replication (built into MariaDB). A commit becomes\n# visible to other clients only once a replica acknowledged it (AFTER_SYNC)."},
		{name: "rpl_semi_sync_master_timeout", value: semiSyncTimeout, mariadb: true, explicit: true,
			comment: "Wait for an acknowledgement without end (the largest value, about 49 days), and also\n# while no replica is connected: a fallback to asynchronous replication would\n# acknowledge writes only the primary holds, which a failover would lose."},
		{name: "rpl_semi_sync_master_wait_no_slave", value: "ON", mariadb: true, explicit: true},
		{name: "rpl_semi_sync_master_enabled", value: "OFF", mariadb: true, explicit: true,
			comment: "Off until the sidecar has checked the pod's role: it turns on the master side on\n# the primary (before it takes writes) and the slave side on replicas."},
		{name: "rpl_semi_sync_slave_enabled", value: "OFF", mariadb: true, explicit: true},
		{name: "rpl_semi_sync_slave_kill_conn_timeout", value: "1", mariadb: true, explicit: true,
			comment: "A stopping receiver logs in to its master to end its dump thread; a frozen or\n# vanished master holds that login for this long (default 5 s): a failover stops\n# every replica's receiver first (measured: STOP SLAVE IO_THREAD 1.0 s, not 2-8 s)."},
	}
}

// serverOptions lists what a careful operator sets on every pod, in the
// order they are written. Each comment says why.
func serverOptions(id Identity, sc ServerConfig) []option {
	port := sc.Port
	opts := []option{
		{name: "server_id", value: strconv.FormatUint(uint64(id.ServerID), 10), mysql: true, mariadb: true,
			comment: "Unique per pod and stable across restarts: SERVER_ID_BASE + ordinal."},
		{name: "report_host", value: id.PodHost, mysql: true, mariadb: true,
			comment: "The pod's stable name, shown by SHOW REPLICAS on the primary."},
		{name: "report_port", value: strconv.Itoa(port), mysql: true, mariadb: true},
		{name: "skip_name_resolve", value: "ON", mysql: true, mariadb: true,
			comment: "Client addresses change with every reschedule: never look them up."},
		{name: "log_bin", value: "mysql-bin", mysql: true, mariadb: true,
			comment: "Binary log under a name that does not depend on the pod's hostname."},
		{name: "relay_log", value: "relay-bin", mysql: true, mariadb: true},
		{name: "binlog_format", value: "ROW", mysql: false, mariadb: true,
			comment: "Row events replicate exactly (MySQL's default, and deprecated there)."},
		{name: "sync_binlog", value: "1", mysql: true, mariadb: true,
			comment: "An acknowledged commit is on disk in both the binary log and InnoDB."},
		{name: "innodb_flush_log_at_trx_commit", value: "1", mysql: true, mariadb: true},
		{name: "relay_log_recovery", value: "ON", mysql: true, mariadb: true,
			comment: "After a crash a replica refetches its relay log from the source by GTID."},
		{name: "gtid_mode", value: "ON", mysql: true,
			comment: "GTIDs let a replica find its position on any source (auto-positioning)."},
		{name: "enforce_gtid_consistency", value: "ON", mysql: true},
		{name: "gtid_strict_mode", value: "ON", mariadb: true,
			comment: "An errant local write stops replication instead of silently diverging."},
		{name: "log_replica_updates", renamed: true, value: "ON", mysql: true,
			comment: "Replicas log what they apply, so their GTID state can be compared with the primary's."},
		{name: "log_slave_updates", renamed: true, value: "ON", mysql: true, mariadb: true},
		{name: "skip_replica_start", renamed: true, value: "ON", mysql: true,
			comment: "A restarted replica waits for the sidecar to check it before replicating."},
		{name: "skip_slave_start", renamed: true, value: "ON", mysql: true, mariadb: true},
		{name: "replica_net_timeout", renamed: true, value: "5", mysql: true,
			comment: "Notice a vanished source within seconds (2.5 heartbeats of 2 s), not the default\n# minute: a replica cut off from its primary leaves the read Service soon after."},
		{name: "slave_net_timeout", renamed: true, value: "5", mysql: true, mariadb: true},
		{name: "binlog_expire_logs_seconds", value: strconv.FormatInt(int64(sc.BinlogExpire/time.Second), 10), mysql: true, mariadb: true,
			comment: "BINLOG_EXPIRE: kept long enough for a replica that was away to catch up;\n# one that needs more is seeded from a copy of a peer's data."},
		{name: "plugin_load_add", value: "mysql_clone.so", mysql: true, explicit: true,
			comment: "The clone plugin, which seeds a replica from a donor's data (MySQL)."},
		{name: "clone_donor_timeout_after_network_failure", value: "0", mysql: true, explicit: true, loose: true,
			comment: "A clone whose donor closes the connection (a deleted pod) fails at once instead of\n# retrying the lost donor for 5 minutes: the sidecar starts another from another donor.\n# One whose donor vanishes without closing it waits out its read timeout (never under\n# 30 s, whatever net_read_timeout says), and the sidecar stops it after SEED_STALL_TIMEOUT."},
		{name: "read_only", value: "ON", mysql: true, mariadb: true,
			comment: "Every pod starts read-only; the sidecar makes the primary writable once it has\n# checked its role, and makes MySQL replicas super_read_only at run time (doing\n# that here would break the images' first-start initialisation)."},
	}
	if sc.SemiSync {
		opts = append(opts, semiSyncOptions()...)
	}
	if sc.DataInitialised {
		opts = append(opts, option{name: "super_read_only", value: "ON", mysql: true,
			comment: "The data directory holds data, so this is not the image's first start: even\n# SUPER accounts cannot write until the sidecar has checked the pod's role."})
	}
	return opts
}

// RenderServerConfig returns the server configuration file for the pod.
// It depends only on its inputs, so re-running init writes the same bytes.
func RenderServerConfig(id Identity, sc ServerConfig) []byte {
	flavor := sc.Flavor
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Written by mysql-bootstrap init for pod %s (%s, server_id %d, flavour %s).\n", id.Pod, id.Role, id.ServerID, flavor)
	b.WriteString("# Do not edit: init rewrites this file on every start. Put your own settings in\n# another file of this directory that sorts after this one.\n")
	b.WriteString("[mysqld]\n")
	for _, o := range serverOptions(id, sc) {
		if o.value == "" || o.value == "0" && o.name == "binlog_expire_logs_seconds" {
			continue
		}
		if o.explicit && flavor == FlavorAuto {
			continue
		}
		prefix := ""
		switch flavor {
		case FlavorMySQL:
			if !o.mysql {
				continue
			}
			if o.renamed || o.loose {
				prefix = "loose-"
			}
		case FlavorMariaDB:
			if !o.mariadb {
				continue
			}
		default:
			if !(o.mysql && o.mariadb) || o.renamed {
				prefix = "loose-"
			}
		}
		if o.comment != "" {
			b.WriteString("\n# " + o.comment + "\n")
		}
		fmt.Fprintf(&b, "%s%s = %s\n", prefix, o.name, o.value)
	}
	return b.Bytes()
}

// configPath is where init writes the server configuration.
func configPath(c *Config) string { return filepath.Join(c.ConfigDir, c.ConfigFile) }

// dataDirInitialised is describeDataDir's word for a data directory that
// holds a server's system schema.
const dataDirInitialised = "initialised"

// describeDataDir says whether the server's data directory has been
// initialised, for init's log: a replica with data resumes, an empty one
// starts from nothing.
func describeDataDir(dir string) string {
	entries, err := os.ReadDir(dir)
	switch {
	case os.IsNotExist(err):
		return "missing"
	case err != nil:
		return "unreadable: " + unwrapPathError(err).Error()
	case len(entries) == 0:
		return "empty"
	}
	for _, e := range entries {
		if e.Name() == "mysql" && e.IsDir() {
			return dataDirInitialised
		}
	}
	names := make([]string, 0, 3)
	for _, e := range entries[:min(3, len(entries))] {
		names = append(names, e.Name())
	}
	return "not empty, no system schema yet (" + strings.Join(names, ", ") + ")"
}
