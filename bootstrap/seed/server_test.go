package seed

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/internal/testserver"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testkit"
)

// Accounts the tests create on their donors. The backup account's password
// has everything an option file must quote.
const (
	seedUser     = "seed"
	seedPassword = `se'e"d\pw #;x`
	replUser     = "repl"
	replPassword = "repl-pw"
	testSecret   = "the-replication-password"
	// The pods the donor and the recipient are: a token names both.
	donorPod     = "mariadb-0"
	recipientPod = "mariadb-1"
)

// needServers skips unless real MariaDB servers and the backup tools can
// run here.
func needServers(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("seeding tests start real servers: skipped under -short")
	}
	if err := testserver.Available(); err != nil {
		t.Skipf("no real server: %v", err)
	}
	if testserver.ServerFlavor() != testserver.MariaDB {
		t.Skip("seeding by mariadb-backup is for MariaDB; MYSQLD names a MySQL server")
	}
	needTool(t, "mariadb-backup", "mbstream")
}

func resolvConf(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(p, []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// newServer prepares a MariaDB server with binary logs and GTIDs as the
// pods run them; it is not started.
func newServer(t *testing.T, addr string, serverID int) *testserver.Server {
	t.Helper()
	s := testserver.New(t, addr, resolvConf(t))
	cnf := fmt.Sprintf(`[mysqld]
server_id = %d
log_bin = mysql-bin
log_slave_updates = ON
gtid_strict_mode = ON
binlog_format = ROW
skip_name_resolve = ON
`, serverID)
	if err := os.WriteFile(filepath.Join(s.ConfDir, "seed-test.cnf"), []byte(cnf), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

func mustExec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func queryString(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var s sql.NullString
	if err := db.QueryRowContext(ctx, q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s.String
}

func sqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// createAccounts creates the backup account with the privileges Donor
// documents, and a replication account.
func createAccounts(t *testing.T, db *sql.DB, replica bool) {
	t.Helper()
	grants := "RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR"
	if replica {
		grants += ", SLAVE MONITOR, REPLICATION SLAVE ADMIN"
	}
	mustExec(t, db,
		"CREATE USER "+sqlString(seedUser)+"@'%' IDENTIFIED BY "+sqlString(seedPassword),
		"GRANT "+grants+" ON *.* TO "+sqlString(seedUser)+"@'%'",
		"CREATE USER "+sqlString(replUser)+"@'%' IDENTIFIED BY "+sqlString(replPassword),
		"GRANT REPLICATION SLAVE ON *.* TO "+sqlString(replUser)+"@'%'",
	)
}

// createData makes a few MiB in tables of three engines, over several
// transactions.
func createData(t *testing.T, db *sql.DB) {
	t.Helper()
	mustExec(t, db,
		"CREATE DATABASE shop",
		"CREATE TABLE shop.orders (id INT PRIMARY KEY, customer VARCHAR(64), note TEXT, amount DECIMAL(12,2), KEY (customer)) ENGINE=InnoDB",
		"INSERT INTO shop.orders SELECT seq, CONCAT('customer-', seq % 1000), REPEAT(MD5(seq), 8), seq * 1.5 FROM shop.seq_1_to_20000",
		"UPDATE shop.orders SET amount = amount + 1 WHERE id % 7 = 0",
		"CREATE TABLE shop.events (id INT PRIMARY KEY, what VARCHAR(100)) ENGINE=MyISAM",
		"INSERT INTO shop.events SELECT seq, CONCAT('event ', seq) FROM shop.seq_1_to_2000",
		// Not into an empty Aria table: MariaDB 10.11.19 replicas lose
		// such rows (binlog_format=ROW, more than one row event) in crash
		// recovery, and so in a backup, which is a crash image.
		"CREATE TABLE shop.audit (id INT PRIMARY KEY, who VARCHAR(100)) ENGINE=Aria",
		"INSERT INTO shop.audit VALUES (0, 'first')",
		"INSERT INTO shop.audit SELECT seq, CONCAT('who ', seq) FROM shop.seq_1_to_2000",
		"CREATE TABLE shop.writes (id INT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6)) ENGINE=InnoDB",
	)
}

var checkedTables = []string{"shop.orders", "shop.events", "shop.audit", "shop.writes", "mysql.global_priv"}

func checksums(t *testing.T, db *sql.DB, tables ...string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, "CHECKSUM TABLE "+strings.Join(tables, ", "))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var sum sql.NullInt64
		if err := rows.Scan(&name, &sum); err != nil {
			t.Fatal(err)
		}
		if !sum.Valid {
			t.Fatalf("CHECKSUM TABLE %s: NULL (no such table)", name)
		}
		out[name] = sum.Int64
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func slaveStatus(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		return nil, errors.Join(rows.Err(), errors.New("not a replica"))
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	m := map[string]string{}
	for i, c := range cols {
		m[c] = vals[i].String
	}
	return m, nil
}

// replicate makes replica follow primary from gtid (the seeded data's
// position), as the sidecar will.
func replicate(t *testing.T, replica *sql.DB, primary *testserver.Server, gtid string) {
	t.Helper()
	mustExec(t, replica,
		"SET GLOBAL gtid_slave_pos = "+sqlString(gtid),
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=3306, MASTER_USER=%s, MASTER_PASSWORD=%s, "+
			"MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1", sqlString(primary.Addr), sqlString(replUser), sqlString(replPassword)),
		"START SLAVE",
	)
}

// caughtUp waits until replica has applied everything primary logged, and
// fails at once if replication stopped on an error (a wrong start position
// shows as a duplicate key or a missing row here).
func caughtUp(t *testing.T, replica, primary *sql.DB) {
	t.Helper()
	want := queryString(t, primary, "SELECT @@gtid_binlog_pos")
	err := testkit.Eventually(t.Context(), 60*time.Second, "replica caught up with "+want, func(ctx context.Context) error {
		st, err := slaveStatus(ctx, replica)
		if err != nil {
			return err
		}
		if e := st["Last_SQL_Error"] + st["Last_IO_Error"]; e != "" && st["Last_IO_Errno"] != "2003" {
			return fmt.Errorf("%w: replication error: %s", testkit.ErrGiveUp, e)
		}
		var pos string
		if err := replica.QueryRowContext(ctx, "SELECT @@gtid_slave_pos").Scan(&pos); err != nil {
			return err
		}
		if pos != want {
			return fmt.Errorf("at %s", pos)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// writer inserts a row every few milliseconds until stopped: a donor under
// load while it is backed up.
func writer(t *testing.T, db *sql.DB) (stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	n := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if _, err := db.ExecContext(ctx, "INSERT INTO shop.writes (at) VALUES (NOW(6))"); err == nil {
				n++
			}
		}
	}()
	return func() int { cancel(); wg.Wait(); return n }
}

// logs is a logger whose output the test can search, echoed to the test's.
func logs(t *testing.T) (*slog.Logger, *testkit.SyncBuffer) {
	buf := &testkit.SyncBuffer{}
	return slog.New(slog.NewJSONHandler(io.MultiWriter(buf, t.Output()), nil)), buf
}

func noSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range []string{seedPassword, testSecret, replPassword} {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows a secret (%q)", what, secret)
		}
	}
}

func newDonor(s *testserver.Server, replica bool, log *slog.Logger) *Donor {
	return &Donor{
		Host: s.Addr, Port: 3306, User: seedUser,
		Password: func() string { return seedPassword },
		Secret:   func() string { return testSecret },
		Pod:      donorPod,
		Replica:  func() bool { return replica },
		DataDir:  s.DataDir,
		Log:      log,
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// cuttingProxy forwards connections to target and drops each after it has
// passed after bytes of the answer: a network failure mid-stream.
func cuttingProxy(t *testing.T, target string, after int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, c)
				io.CopyN(c, up, after)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestSeedFromPrimary backs up a primary under load and restores it: the
// failures first (nothing may change), then a restore whose swap crashes
// and is resumed, checked by the data and by replication from the GTID
// position; then a copy bigger than the memory bound, in a child process
// whose peak RSS is measured.
func TestSeedFromPrimary(t *testing.T) {
	needServers(t)
	t.Parallel()
	log, logBuf := logs(t)

	a := newServer(t, "127.0.77.1", 1)
	a.Start()
	adb := a.Root()
	t.Cleanup(func() { adb.Close() })
	createAccounts(t, adb, false)
	createData(t, adb)
	donor := newDonor(a, false, log)
	srv := httptest.NewServer(donor.Handler())
	t.Cleanup(srv.Close)
	url := srv.URL + "/backup"

	// A recipient's datadir with old data of its own: a failure must leave
	// it as it is.
	b := newServer(t, "127.0.77.2", 2)
	old := tree{"ibdata1": "old", "mysql/user.frm": "old", "olddb/t.ibd": "old", "mysql-bin.000001": "old binlog",
		"mysql-bin.index": "./mysql-bin.000001\n", "lost+found/": ""}
	writeTree(t, b.DataDir, old)
	unchanged := func(t *testing.T) {
		t.Helper()
		if d := cmp.Diff(old, readTree(t, b.DataDir)); d != "" {
			t.Errorf("datadir changed or staging left (-want +got):\n%s", d)
		}
	}
	idle := func(t *testing.T) {
		t.Helper()
		if err := testkit.Eventually(t.Context(), 30*time.Second, "donor free again", func(context.Context) error {
			if donor.busy.Load() {
				return errors.New("busy")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("wrong secret", func(t *testing.T) {
		_, err := (&Restore{DataDir: b.DataDir, DonorURL: url, Secret: "not-the-secret", Recipient: recipientPod, DonorPod: donorPod, Log: log}).Run(t.Context())
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("Run = %v, want ErrUnauthorized", err)
		}
		unchanged(t)
	})

	t.Run("backup fails on the donor", func(t *testing.T) {
		bad := newDonor(a, false, log)
		bad.Password = func() string { return "wrong " + seedPassword }
		bsrv := httptest.NewServer(bad.Handler())
		defer bsrv.Close()
		_, err := (&Restore{DataDir: b.DataDir, DonorURL: bsrv.URL + "/backup", Secret: testSecret, Recipient: recipientPod, DonorPod: donorPod, Log: log}).Run(t.Context())
		if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "Access denied") {
			t.Fatalf("Run = %v, want ErrIncomplete with the donor's reason", err)
		}
		t.Logf("failed backup: %v", err)
		noSecrets(t, "the error", err.Error())
		unchanged(t)
	})

	t.Run("stream cut halfway", func(t *testing.T) {
		proxy := cuttingProxy(t, strings.TrimPrefix(srv.URL, "http://"), 4<<20)
		start := time.Now()
		_, err := (&Restore{DataDir: b.DataDir, DonorURL: "http://" + proxy + "/backup", Secret: testSecret, Recipient: recipientPod, DonorPod: donorPod, Log: log}).Run(t.Context())
		if !errors.Is(err, ErrIncomplete) {
			t.Fatalf("Run = %v, want ErrIncomplete", err)
		}
		t.Logf("cut stream: %v after %s", err, time.Since(start).Round(time.Millisecond))
		unchanged(t)
		idle(t) // the donor noticed and stopped its mariadb-backup
	})

	t.Run("GTID state changed in flight", func(t *testing.T) {
		// The stream untouched, only the donor's gtid_binlog_state, which
		// the recipient would adopt (a position from which replication
		// skips or replays transactions): refused before prepare.
		rl := newRelay(t, srv.URL)
		var seen atomic.Value
		rl.set(func(_ []byte, tr http.Header) {
			seen.Store(tr.Get(TrailerBinlogState))
			tr.Set(TrailerBinlogState, "0-1-1")
		})
		_, err := (&Restore{DataDir: b.DataDir, DonorURL: rl.URL + "/backup", Secret: testSecret, Recipient: recipientPod, DonorPod: donorPod, Log: log}).Run(t.Context())
		if !errors.Is(err, ErrAltered) {
			t.Fatalf("Run = %v, want ErrAltered", err)
		}
		if state, _ := seen.Load().(string); !strings.HasPrefix(state, "0-1-") || state == "0-1-1" {
			t.Errorf("the donor's gtid_binlog_state on the way: %q, want its real one", state)
		}
		t.Logf("changed GTID state: %v", err)
		unchanged(t)
		idle(t)
	})

	t.Run("one backup at a time", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		req.Header.Set("Authorization", authFor(t, srv.URL, testSecret, recipientPod, donorPod))
		first, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if first.StatusCode != http.StatusOK {
			t.Fatalf("first request: %s", first.Status)
		}
		if n, err := strconv.ParseInt(first.Header.Get(HeaderEstimate), 10, 64); err != nil || n < 4<<20 {
			t.Errorf("estimate %q: want the size of the donor's data", first.Header.Get(HeaderEstimate))
		}
		// The running tool's arguments are visible to the whole node: no
		// password there.
		checkArgs(t)
		again := req.Clone(t.Context()) // with a token of its own: one is good once
		again.Header.Set("Authorization", authFor(t, srv.URL, testSecret, recipientPod, donorPod))
		second, err := http.DefaultClient.Do(again)
		if err != nil {
			t.Fatal(err)
		}
		second.Body.Close()
		if second.StatusCode != http.StatusServiceUnavailable || second.Header.Get("Retry-After") == "" {
			t.Errorf("second request: %s, Retry-After %q; want 503 with Retry-After", second.Status, second.Header.Get("Retry-After"))
		}
		first.Body.Close() // the recipient goes away: the donor frees its slot
		idle(t)
	})

	t.Run("restore, crash in the swap, resume", func(t *testing.T) {
		// A transaction of another server_id in domain 0 (a former
		// primary's, say): gtid_current_pos, and so the backup's position,
		// keeps only the domain's last GTID; the copy must get both.
		func() {
			conn, err := adb.Conn(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			for _, q := range []string{"SET SESSION server_id = 9", "INSERT INTO shop.writes (at) VALUES (NOW(6))", "SET SESSION server_id = 1"} {
				if _, err := conn.ExecContext(t.Context(), q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
		}()
		before := queryString(t, adb, "SELECT @@gtid_binlog_pos")
		stop := writer(t, adb)
		var mu sync.Mutex
		var progress []Progress
		progressFile := filepath.Join(t.TempDir(), "progress.json")
		var completed Result
		r := &Restore{DataDir: b.DataDir, DonorURL: url, Secret: testSecret, Recipient: recipientPod, DonorPod: donorPod, Log: log,
			Progress: func(p Progress) {
				mu.Lock()
				progress = append(progress, p)
				mu.Unlock()
				if err := WriteProgressFile(progressFile, p); err != nil {
					t.Error(err)
				}
			},
			Complete: func(r Result) error { completed = r; return nil },
			swapHook: func(op string) error {
				if op == "move mysql" {
					return errCrash
				}
				return nil
			},
		}
		_, err := r.Run(t.Context())
		n := stop()
		after := queryString(t, adb, "SELECT @@gtid_binlog_pos")
		if !errors.Is(err, errCrash) {
			t.Fatalf("Run = %v, want the simulated crash", err)
		}
		t.Logf("%d rows written during the backup; GTID %s before, %s after", n, before, after)
		if _, err := os.Stat(filepath.Join(b.DataDir, "mysql")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("mid-swap the datadir has a mysql directory: %v", err)
		}

		res, resumed, err := Resume(b.DataDir, log)
		if err != nil || !resumed {
			t.Fatalf("Resume = %v, %v", resumed, err)
		}
		if res.GTID == "" || res.GTID != completed.GTID || res.SHA256 != completed.SHA256 || res.Bytes < 4<<20 {
			t.Errorf("Resume's result %+v, Complete's %+v", res, completed)
		}
		if seqOf(t, res.GTID) < seqOf(t, before) || seqOf(t, res.GTID) > seqOf(t, after) {
			t.Errorf("copy's GTID %s is not between %s and %s", res.GTID, before, after)
		}
		names := listDir(t, b.DataDir)
		for _, gone := range []string{"olddb", "mysql-bin.000001", "mysql-bin.index", stagingName} {
			if slices.Contains(names, gone) {
				t.Errorf("%s still in the datadir: %v", gone, names)
			}
		}
		if !slices.Contains(names, "lost+found") {
			t.Errorf("lost+found removed: %v", names)
		}

		mu.Lock()
		phases := map[string]bool{}
		for _, p := range progress {
			phases[p.Phase] = true
		}
		last := progress[len(progress)-1]
		mu.Unlock()
		if !phases[PhaseFetch] || !phases[PhasePrepare] || !phases[PhaseSwap] {
			t.Errorf("phases reported: %v", phases)
		}
		if last.Bytes != res.Bytes || last.Estimate <= 0 || last.Rate <= 0 {
			t.Errorf("last progress %+v; result %d bytes", last, res.Bytes)
		}
		if p, err := ReadProgressFile(progressFile); err != nil || p.Phase != PhaseSwap {
			t.Errorf("progress file: %+v, %v", p, err)
		}

		if !strings.Contains(res.BinlogState, "0-9-") || !strings.Contains(res.BinlogState, res.GTID) {
			t.Errorf("the copy's binlog state %q lacks server_id 9 or its position %q", res.BinlogState, res.GTID)
		}

		b.Start()
		bdb := b.Root()
		defer bdb.Close()
		if got := queryString(t, bdb, "SELECT @@gtid_binlog_pos"); got != "" {
			t.Errorf("restored server has binary logs: gtid_binlog_pos %q", got)
		}
		// As the sidecar gives it (sqldialect.ApplySeedPosition).
		mustExec(t, bdb, "RESET MASTER", "SET GLOBAL gtid_binlog_state = "+sqlString(res.BinlogState))
		if got := queryString(t, bdb, "SELECT @@gtid_binlog_pos"); got != res.GTID {
			t.Errorf("gtid_binlog_pos %q after setting the copy's binlog state, want its position %q", got, res.GTID)
		}
		replicate(t, bdb, a, res.GTID)
		mustExec(t, adb, "INSERT INTO shop.writes (at) VALUES (NOW(6))", "UPDATE shop.orders SET note = 'after' WHERE id = 5")
		caughtUp(t, bdb, adb)
		donorState, copyState := queryString(t, adb, "SELECT @@gtid_binlog_state"), queryString(t, bdb, "SELECT @@gtid_binlog_state")
		if sub, err := sqldialect.MariaDBGTIDSubset(donorState, copyState); err != nil || !sub {
			t.Errorf("the restored server's gtid_binlog_state %q lacks some of the donor's %q (%v)", copyState, donorState, err)
		}
		if d := cmp.Diff(checksums(t, adb, checkedTables...), checksums(t, bdb, checkedTables...)); d != "" {
			t.Errorf("CHECKSUM TABLE (-donor +restored):\n%s", d)
		}
	})

	t.Run("bigger than the memory bound", func(t *testing.T) {
		mustExec(t, adb,
			"CREATE TABLE shop.big (id INT PRIMARY KEY, payload VARBINARY(2048)) ENGINE=InnoDB",
			"INSERT INTO shop.big SELECT seq, RANDOM_BYTES(1024) FROM shop.seq_1_to_40000",
		)
		want := queryString(t, adb, "SELECT @@gtid_current_pos")
		if got := queryString(t, adb, "SELECT @@gtid_binlog_pos"); got != want {
			t.Fatalf("gtid_binlog_pos %s, gtid_current_pos %s", got, want)
		}
		c := newServer(t, "127.0.77.3", 3)
		if err := os.Mkdir(c.DataDir, 0o750); err != nil {
			t.Fatal(err)
		}
		res, hwm := restoreInChild(t, url, c.DataDir)
		if res.GTID != want {
			t.Errorf("copy's GTID %q, donor's gtid_current_pos %q", res.GTID, want)
		}
		mb := float64(res.Bytes) / 1e6
		t.Logf("restored %.1f MB in %s: %.1f MB/s; recipient's peak RSS %.1f MiB",
			mb, res.Duration.Round(time.Millisecond), mb/res.Duration.Seconds(), float64(hwm)/1024)
		if res.Bytes < 64<<20 {
			t.Errorf("stream of %d bytes: want more than 64 MiB", res.Bytes)
		}
		if hwm > 32<<10 {
			t.Errorf("recipient's peak RSS %d KiB: want under 32 MiB", hwm)
		}
		c.Start()
		cdb := c.Root()
		defer cdb.Close()
		tables := append([]string{"shop.big"}, checkedTables...)
		if d := cmp.Diff(checksums(t, adb, tables...), checksums(t, cdb, tables...)); d != "" {
			t.Errorf("CHECKSUM TABLE (-donor +restored):\n%s", d)
		}
	})

	noSecrets(t, "the logs", logBuf.String())
}

// seqOf is the sequence number of domain 0 in a GTID list.
func seqOf(t *testing.T, gtids string) uint64 {
	t.Helper()
	for _, g := range strings.Split(gtids, ",") {
		f := strings.Split(g, "-")
		if len(f) == 3 && f[0] == "0" {
			n, err := strconv.ParseUint(f[2], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	return 0
}

// checkArgs looks at the command lines of this process's mariadb-backup
// children: the password must not be there.
func checkArgs(t *testing.T) {
	t.Helper()
	me := strconv.Itoa(os.Getpid())
	found := false
	err := testkit.Eventually(t.Context(), 10*time.Second, "mariadb-backup running", func(context.Context) error {
		procs, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, p := range procs {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			// pid (comm) state ppid ...
			s := string(b)
			i := strings.LastIndexByte(s, ')')
			if i < 0 || !strings.Contains(s[:i], "(mariadb-backup") {
				continue
			}
			if f := strings.Fields(s[i+1:]); len(f) < 2 || f[1] != me {
				continue
			}
			cmdline, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline"))
			args := strings.ReplaceAll(string(cmdline), "\x00", " ")
			t.Logf("mariadb-backup's arguments: %s", args)
			noSecrets(t, "mariadb-backup's arguments", args)
			if !strings.Contains(args, "--defaults-file=") {
				t.Errorf("no option file in %q", args)
			}
			found = true
		}
		if !found {
			return errors.New("no mariadb-backup child")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// The environment of the child process TestRestoreChild runs carries a
// restore to it.
const (
	childURL     = "SEED_TEST_CHILD_URL"
	childDataDir = "SEED_TEST_CHILD_DATADIR"
	childSecret  = "SEED_TEST_CHILD_SECRET"
	childPrefix  = "SEED-CHILD-RESULT "
)

type childReport struct {
	Result   Result
	Err      string
	VmHWMKiB int64
	StartKiB int64
}

// restoreInChild runs Restore in a fresh process (this test binary) and
// returns its result and peak RSS (VmHWM, KiB): the recipient's memory,
// without the donor's or the test's.
func restoreInChild(t *testing.T, url, dataDir string) (Result, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestRestoreChild$", "-test.v")
	cmd.Env = append(os.Environ(), childURL+"="+url, childDataDir+"="+dataDir, childSecret+"="+testSecret)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, childPrefix); i >= 0 {
			var rep childReport
			if err := json.Unmarshal([]byte(line[i+len(childPrefix):]), &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Err != "" {
				t.Fatalf("child: %s\n%s", rep.Err, out)
			}
			t.Logf("child's RSS at start %d KiB, peak %d KiB", rep.StartKiB, rep.VmHWMKiB)
			return rep.Result, rep.VmHWMKiB
		}
	}
	t.Fatalf("child reported nothing:\n%s", out)
	return Result{}, 0
}

// TestRestoreChild is the child process of restoreInChild; it does nothing
// in a normal run.
func TestRestoreChild(t *testing.T) {
	url := os.Getenv(childURL)
	if url == "" {
		t.Skip("the child process of TestSeedFromPrimary")
	}
	rep := childReport{StartKiB: procStatusKiB("VmHWM")}
	r := &Restore{DataDir: os.Getenv(childDataDir), DonorURL: url, Secret: os.Getenv(childSecret), Recipient: recipientPod, DonorPod: donorPod,
		Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	res, err := r.Run(t.Context())
	rep.Result, rep.VmHWMKiB = res, procStatusKiB("VmHWM")
	if err != nil {
		rep.Err = err.Error()
	}
	b, _ := json.Marshal(rep)
	fmt.Println(childPrefix + string(b))
}

// procStatusKiB reads a "Name: N kB" line of /proc/self/status.
func procStatusKiB(name string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return -1
}

// TestSeedFromReplica backs up a replica (--slave-info
// --safe-slave-backup) while its primary takes writes, restores it, and
// makes the copy replicate from the primary from the copy's GTID: a
// position off by one transaction would show as a replication error or
// different checksums.
func TestSeedFromReplica(t *testing.T) {
	needServers(t)
	t.Parallel()
	log, logBuf := logs(t)

	p := newServer(t, "127.0.77.10", 10)
	r := newServer(t, "127.0.77.11", 11)
	c := newServer(t, "127.0.77.12", 12)
	var wg sync.WaitGroup
	for _, s := range []*testserver.Server{p, r} {
		wg.Add(1)
		go func() { defer wg.Done(); s.Start() }()
	}
	wg.Wait()
	pdb, rdb := p.Root(), r.Root()
	t.Cleanup(func() { pdb.Close(); rdb.Close() })
	createAccounts(t, pdb, true)
	replicate(t, rdb, p, "")
	createData(t, pdb)
	caughtUp(t, rdb, pdb)

	srv := httptest.NewServer(newDonor(r, true, log).Handler())
	t.Cleanup(srv.Close)
	if err := os.Mkdir(c.DataDir, 0o750); err != nil {
		t.Fatal(err)
	}
	stop := writer(t, pdb)
	res, err := (&Restore{DataDir: c.DataDir, DonorURL: srv.URL + "/backup", Secret: testSecret, Recipient: recipientPod, DonorPod: donorPod, Log: log}).Run(t.Context())
	n := stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rows written on the primary during the backup; copy at %+v", n, res.Position)
	if res.Position.DonorSlavePos == "" {
		t.Errorf("no gtid_slave_pos from --slave-info: %+v", res.Position)
	}
	if st, err := slaveStatus(t.Context(), rdb); err != nil || st["Slave_SQL_Running"] != "Yes" {
		t.Errorf("the donor's applier is not running again after --safe-slave-backup: %v %v", st["Slave_SQL_Running"], err)
	}

	c.Start()
	cdb := c.Root()
	defer cdb.Close()
	replicate(t, cdb, p, res.GTID)
	caughtUp(t, cdb, pdb)
	caughtUp(t, rdb, pdb)
	want := checksums(t, pdb, checkedTables...)
	for name, db := range map[string]*sql.DB{"restored": cdb, "donor": rdb} {
		if d := cmp.Diff(want, checksums(t, db, checkedTables...)); d != "" {
			t.Errorf("CHECKSUM TABLE (-primary +%s):\n%s", name, d)
		}
	}
	noSecrets(t, "the logs", logBuf.String())
}
