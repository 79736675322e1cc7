package podcluster

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/go-sql-driver/mysql"
)

func init() {
	// The driver logs dropped connections itself; the tests report what
	// matters.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
}

// Open returns a pool of connections to the pod's server through its
// published port as user. The address is looked up now: after the pod is
// rescheduled, open a new pool.
func (p *Pod) Open(ctx context.Context, user, password, database string) (*sql.DB, error) {
	addr, err := p.MySQLAddr(ctx)
	if err != nil {
		return nil, err
	}
	return OpenDB(addr, user, password, database)
}

// Root opens a pool as root.
func (p *Pod) Root(ctx context.Context) (*sql.DB, error) {
	return p.Open(ctx, "root", p.c.RootPassword, "")
}

// App opens a pool as the app user, in its database.
func (p *Pod) App(ctx context.Context) (*sql.DB, error) {
	return p.Open(ctx, AppUser, p.c.AppPassword, AppDatabase)
}

// WithRoot runs f with a root connection pool that is closed afterwards.
func (p *Pod) WithRoot(ctx context.Context, f func(*sql.DB) error) error {
	db, err := p.Root(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	return f(db)
}

// CreateAppSchema creates the app database, the app user (privileges on
// its database only) and the tables the tests write to. Run it once, on
// the primary: it replicates.
func (p *Pod) CreateAppSchema(ctx context.Context) error {
	return p.WithRoot(ctx, func(db *sql.DB) error {
		// The password holds only [a-z0-9-], checked here because
		// CREATE USER takes no placeholders.
		if strings.Trim(p.c.AppPassword, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return fmt.Errorf("app password has unexpected characters")
		}
		for _, stmt := range []string{
			"CREATE DATABASE " + AppDatabase,
			"CREATE USER '" + AppUser + "'@'%' IDENTIFIED BY '" + p.c.AppPassword + "'",
			"GRANT ALL ON " + AppDatabase + ".* TO '" + AppUser + "'@'%'",
			"CREATE TABLE " + AppDatabase + ".writes (id BIGINT PRIMARY KEY, v VARCHAR(64) NOT NULL)",
			"CREATE TABLE " + AppDatabase + ".markers (marker VARCHAR(64) PRIMARY KEY, server_id INT NOT NULL)",
		} {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("%s: %w", strings.SplitN(stmt, " IDENTIFIED", 2)[0], err)
			}
		}
		return nil
	})
}

// Flavor returns "mariadb" or "mysql" from SELECT VERSION().
func Flavor(ctx context.Context, db *sql.DB) (string, error) {
	var v string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		return "", err
	}
	if strings.Contains(strings.ToLower(v), "mariadb") {
		return "mariadb", nil
	}
	return "mysql", nil
}

// GTIDState returns what decides errant transactions: MariaDB's
// @@gtid_binlog_state or MySQL's @@gtid_executed.
func GTIDState(ctx context.Context, db *sql.DB) (flavor, state string, err error) {
	if flavor, err = Flavor(ctx, db); err != nil {
		return "", "", err
	}
	q := "SELECT @@GLOBAL.gtid_executed"
	if flavor == "mariadb" {
		q = "SELECT @@GLOBAL.gtid_binlog_state"
	}
	err = db.QueryRowContext(ctx, q).Scan(&state)
	return flavor, strings.TrimSpace(state), err
}

// TableDigest is an order-independent view of a table's content: the row
// count and a hash of every row in primary key order.
type TableDigest struct {
	Rows int
	Hash string
}

// Digest reads query (which must order its rows) and hashes every column
// of every row.
func Digest(ctx context.Context, db *sql.DB, query string) (TableDigest, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return TableDigest{}, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return TableDigest{}, err
	}
	h := sha256.New()
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var d TableDigest
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return TableDigest{}, err
		}
		for _, v := range vals {
			fmt.Fprintf(h, "%t:%d:%s|", v.Valid, len(v.String), v.String)
		}
		h.Write([]byte{'\n'})
		d.Rows++
	}
	if err := rows.Err(); err != nil {
		return TableDigest{}, err
	}
	d.Hash = hex.EncodeToString(h.Sum(nil))[:16]
	return d, nil
}

// IDs returns every id of AppDatabase.writes.
func IDs(ctx context.Context, db *sql.DB) (map[int64]bool, error) {
	rows, err := db.QueryContext(ctx, "SELECT id FROM "+AppDatabase+".writes")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids[id] = true
	}
	return ids, rows.Err()
}

// DatadirFingerprint identifies a data directory across server restarts:
// MySQL's @@server_uuid (generated when the datadir is initialised), or
// for MariaDB, which has none, the creation times of system tables written
// by mariadb-install-db.
func DatadirFingerprint(ctx context.Context, db *sql.DB) (string, error) {
	var uuid string
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.server_uuid").Scan(&uuid); err == nil && uuid != "" {
		return "server_uuid " + uuid, nil
	}
	rows, err := db.QueryContext(ctx, `SELECT TABLE_NAME, COALESCE(CAST(CREATE_TIME AS CHAR), 'null')
		FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = 'mysql' AND TABLE_NAME IN ('global_priv', 'db', 'proxies_priv', 'gtid_slave_pos')
		ORDER BY TABLE_NAME`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var name, created string
		if err := rows.Scan(&name, &created); err != nil {
			return "", err
		}
		parts = append(parts, name+"@"+created)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("no system tables to fingerprint")
	}
	return "created " + strings.Join(parts, " "), nil
}
