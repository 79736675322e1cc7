package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/internal/podcluster"
	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testkit"
)

// Log messages of a seed (bootstrap/act.go).
const (
	msgCloneStarted  = "seeding: started cloning the donor's data"
	msgSeedRequested = "seeding: asked the server container to restore a copy of the donor's data, and stopped the server"
	// A failed copy: MySQL's CLONE (sidecar), MariaDB's restore (seed-exec
	// in the server container, bootstrap/cmdseed.go).
	msgCloneFailed   = "seeding: clone failed"
	msgRestoreFailed = "seeding: the copy failed; starting the server on the data it has"
	// A complete copy.
	msgCloneDone   = "seeding: clone done"
	msgCopyInPlace = "seeding: copy in place"
)

// bulkMiB is how much data the seeding cases copy: enough that a copy is
// not a formality, little enough for three servers in one CI run.
const bulkMiB = 200

// seedTimeout bounds one seed of bulkMiB on a loaded two-core machine.
const seedTimeout = 6 * time.Minute

// lostDonorBound is how soon after its donor is deleted mid-copy a
// recipient must be ready, on every flavour (issue 17): the stall is
// noticed within SEED_STALL_TIMEOUT, and a copy of bulkMiB from another
// donor takes seconds.
const lostDonorBound = 90 * time.Second

// fillBulk writes bulkMiB of rows (1 MiB each, random text) on the primary.
func (s *suite) fillBulk(t *testing.T) {
	ctx := s.ctx
	start := time.Now()
	must(t, s.primary.WithRoot(ctx, func(db *sql.DB) error {
		if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS e2e.bulk (id INT AUTO_INCREMENT PRIMARY KEY, pad LONGTEXT NOT NULL) ENGINE=InnoDB"); err != nil {
			return err
		}
		for i := 0; i < bulkMiB; i++ {
			if _, err := db.ExecContext(ctx, "INSERT INTO e2e.bulk (pad) VALUES (REPEAT(SHA2(RAND(), 256), 16384))"); err != nil {
				return fmt.Errorf("row %d of e2e.bulk: %w", i, err)
			}
		}
		return nil
	}))
	t.Logf("wrote %d MiB into e2e.bulk on %s in %s", bulkMiB, s.primary.Name, time.Since(start).Round(time.Millisecond))
}

// purgeBinaryLogs waits until every replica holds the primary's data, then
// has the primary rotate and purge its binary logs: what it wrote so far
// can no longer be replicated, only copied.
func (s *suite) purgeBinaryLogs(t *testing.T) {
	ctx := s.ctx
	s.waitSameData(t, s.replicas...)
	var kept string
	must(t, s.primary.WithRoot(ctx, func(db *sql.DB) (err error) {
		kept, err = testkit.PurgeBinaryLogs(ctx, db, time.Minute, func(format string, args ...any) {
			t.Logf(s.primary.Name+": "+format, args...)
		})
		return err
	}))
	t.Logf("%s purged its binary logs; it keeps only %s", s.primary.Name, kept)
}

// waitSameData waits until each of pods holds the primary's rows.
func (s *suite) waitSameData(t *testing.T, pods ...*podcluster.Pod) {
	t.Helper()
	ctx := s.ctx
	pdb, err := s.primary.Root(ctx)
	must(t, err)
	defer pdb.Close()
	for _, r := range pods {
		must(t, testkit.Eventually(ctx, 2*time.Minute, r.Name+" holds the primary's rows", func(ctx context.Context) error {
			return r.WithRoot(ctx, func(rdb *sql.DB) error {
				q := "SELECT id, v FROM e2e.writes ORDER BY id"
				want, err := podcluster.Digest(ctx, pdb, q)
				if err != nil {
					return err
				}
				got, err := podcluster.Digest(ctx, rdb, q)
				if err != nil {
					return err
				}
				if got != want {
					return fmt.Errorf("%+v, primary %+v", got, want)
				}
				return nil
			})
		}))
	}
}

// sameChecksums checks that p's CHECKSUM TABLE of the test's tables is
// the primary's.
func (s *suite) sameChecksums(t *testing.T, p *podcluster.Pod) {
	t.Helper()
	want, err := checksums(s.ctx, s.primary)
	must(t, err)
	got, err := checksums(s.ctx, p)
	must(t, err)
	if got != want {
		t.Errorf("%s CHECKSUM TABLE: %s, primary %s", p.Name, got, want)
	}
}

// checksums returns CHECKSUM TABLE of e2e.bulk and e2e.writes on p.
func checksums(ctx context.Context, p *podcluster.Pod) (string, error) {
	var out []string
	err := p.WithRoot(ctx, func(db *sql.DB) error {
		rows, err := db.QueryContext(ctx, "CHECKSUM TABLE e2e.bulk, e2e.writes")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var table string
			var sum sql.NullInt64
			if err := rows.Scan(&table, &sum); err != nil {
				return err
			}
			if !sum.Valid {
				return fmt.Errorf("CHECKSUM TABLE %s: NULL (no such table)", table)
			}
			out = append(out, fmt.Sprintf("%s=%d", table, sum.Int64))
		}
		return rows.Err()
	})
	return strings.Join(out, " "), err
}

// writable reports whether p's server answers and takes application
// writes: @@read_only OFF and (MySQL) @@offline_mode OFF, which keeps
// every client without CONNECTION_ADMIN out while a clone replaces the
// data. A server that does not answer is not writable. /status is not
// asked: it reports read_only false while it cannot reach the server.
func (s *suite) writable(ctx context.Context, p *podcluster.Pod) bool {
	q := "SELECT @@GLOBAL.read_only, 0"
	if s.flavor == "mysql" {
		q = "SELECT @@GLOBAL.read_only, @@GLOBAL.offline_mode"
	}
	var ro, offline bool
	err := p.WithRoot(ctx, func(db *sql.DB) error {
		return db.QueryRowContext(ctx, q).Scan(&ro, &offline)
	})
	return err == nil && !ro && !offline
}

// holdsAcked reports which of the acknowledged writes p lacks, or that it
// cannot tell (an empty server has no e2e.writes).
func (s *suite) holdsAcked(ctx context.Context, p *podcluster.Pod) error {
	var ids map[int64]bool
	err := p.WithRoot(ctx, func(db *sql.DB) (err error) {
		ids, err = podcluster.IDs(ctx, db)
		return err
	})
	if err != nil {
		return fmt.Errorf("cannot read its writes: %w", err)
	}
	return s.lacksAcked(ids)
}

// seeded checks, from its sidecar's log, that p got its data by a copy
// (not by replaying binary logs) and returns the log line.
func seeded(t *testing.T, p *podcluster.Pod) map[string]any {
	t.Helper()
	out := p.Logs("sidecar").Stderr
	for _, msg := range []string{msgCloneStarted, msgSeedRequested} {
		if l := testkit.LogLines(out, msg); len(l) > 0 {
			return l[len(l)-1]
		}
	}
	t.Errorf("%s: its sidecar did not seed (no %q or %q line):\n%s", p.Name, msgCloneStarted, msgSeedRequested, podcluster.Tail(out, 30))
	return nil
}

// wipe deletes everything on p's claim (data and STATE_DIR) while its
// containers are gone, as a lost volume would.
func (s *suite) wipe(t *testing.T, p *podcluster.Pod) {
	t.Helper()
	_, err := s.c.RunAsRoot(s.ctx, "find /data /state -mindepth 1 -delete",
		podcluster.Mount{Volume: p.DataVolume, Target: "/data"},
		podcluster.Mount{Volume: p.StateVolume, Target: "/state"})
	must(t, err)
}

// writeAsOtherServer (MariaDB) makes the primary log one transaction
// under another server_id in domain 0, as a former primary's would be:
// the position of a backup (gtid_current_pos) keeps only a domain's last
// GTID, but a copy must hold every server_id's of its gtid_binlog_state.
func (s *suite) writeAsOtherServer(t *testing.T) {
	t.Helper()
	ctx := s.ctx
	must(t, s.primary.WithRoot(ctx, func(db *sql.DB) error {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		for _, q := range []string{"SET SESSION server_id = 4242", "INSERT INTO e2e.markers (marker, server_id) VALUES ('other-server-id', 4242)", "SET SESSION server_id = 100"} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	}))
}

// sameGTIDState checks that p holds exactly the primary's GTID state:
// gtid_executed (MySQL) or gtid_binlog_state (MariaDB), every server_id of
// every domain.
func (s *suite) sameGTIDState(t *testing.T, p *podcluster.Pod) {
	t.Helper()
	ctx := s.ctx
	var last string
	err := testkit.Eventually(ctx, time.Minute, p.Name+" holds the primary's GTID state", func(ctx context.Context) error {
		var flavor, theirs, mine string
		err := s.primary.WithRoot(ctx, func(db *sql.DB) (err error) {
			flavor, theirs, err = podcluster.GTIDState(ctx, db)
			return err
		})
		if err == nil {
			err = p.WithRoot(ctx, func(db *sql.DB) (err error) {
				_, mine, err = podcluster.GTIDState(ctx, db)
				return err
			})
		}
		if err != nil {
			return err
		}
		f := sqldialect.MySQL
		if flavor == "mariadb" {
			f = sqldialect.MariaDB
		}
		a, err := sqldialect.ParseGTIDSet(f, mine)
		if err != nil {
			return err
		}
		b, err := sqldialect.ParseGTIDSet(f, theirs)
		if err != nil {
			return err
		}
		if !a.Contains(b) || !b.Contains(a) {
			last = fmt.Sprintf("%q, primary %q", mine, theirs)
			return errors.New(last)
		}
		return nil
	})
	if err != nil {
		t.Errorf("%s's GTID state is not the primary's: %v", p.Name, err)
	}
}

// 6. A 4th pod joins after the primary purged its binary logs: it can only
// get the data by a copy, from a ready replica.
func (s *suite) newReplicaSeeded(t *testing.T) {
	ctx := s.ctx
	if s.flavor != "mysql" {
		s.writeAsOtherServer(t)
	}
	s.fillBulk(t)
	s.purgeBinaryLogs(t)
	p := s.c.Pod(3)
	start := time.Now()
	must(t, p.Start(ctx))
	if err := p.WaitReady(ctx, seedTimeout); err != nil {
		t.Fatalf("%v\n%s", err, podcluster.Tail(p.Logs("sidecar").Stderr, 30))
	}
	t.Logf("%s ready %s after its pod was created", p.Name, time.Since(start).Round(time.Millisecond))
	if l := seeded(t, p); l != nil {
		t.Logf("%s seeded from %v (%v)", p.Name, l["donor"], l["why"])
		if l["donor"] == s.primary.Name {
			t.Errorf("%s seeded from the primary, want a ready replica", p.Name)
		}
	}
	s.replicas = append(s.replicas, p)
	s.waitSameData(t, p)
	s.sameChecksums(t, p)
	s.sameGTIDState(t, p)
	if s.flavor == "mysql" {
		s.cloneNeedsCloneAccount(t, p)
	} else {
		s.backupAccountCannotRead(t, s.replicas[0])
	}
	s.checkInvariants(t)
}

// copyAccountPassword is the copy account's password as README's
// Credentials section gives it: the first 32 hex characters of
// HMAC-SHA256(seed secret, "mysql-bootstrap copy account password v1").
func copyAccountPassword(seedSecret string) string {
	m := hmac.New(sha256.New, []byte(seedSecret))
	m.Write([]byte("mysql-bootstrap copy account password v1"))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// backupAccountCannotRead: the seed just done ran mariadb-backup as the
// backup account (backup-server's log says so only by succeeding: root is
// no longer used); that account has mariadb-backup's privileges and no
// SELECT, and logs in only from the pod's own loopback address.
func (s *suite) backupAccountCannotRead(t *testing.T, donor *podcluster.Pod) {
	ctx := s.ctx
	must(t, s.primary.WithRoot(ctx, func(db *sql.DB) error {
		var hosts []string
		rows, err := db.QueryContext(ctx, "SELECT Host FROM mysql.user WHERE User = 'mysql-bootstrap-backup'")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var h string
			if err := rows.Scan(&h); err != nil {
				return err
			}
			hosts = append(hosts, h)
		}
		if len(hosts) != 1 || hosts[0] != "127.0.0.1" {
			t.Errorf("backup account hosts %v, want [127.0.0.1]", hosts)
		}
		return rows.Err()
	}))
	pw := copyAccountPassword(s.c.ReplicationPassword)
	run := func(query string) podcluster.Result {
		r, err := donor.Exec(ctx, "server", 30*time.Second, "mariadb", "--no-defaults", "-h127.0.0.1", "-P3306",
			"-umysql-bootstrap-backup", "-p"+pw, "-N", "-e", query)
		must(t, err)
		return r
	}
	if r := run("SHOW GRANTS"); r.Code != 0 || !strings.Contains(r.Stdout, "RELOAD") || strings.Contains(r.Stdout, "SELECT") {
		t.Errorf("the backup account on %s: exit %d, RELOAD %v, SELECT %v: %s", donor.Name, r.Code, strings.Contains(r.Stdout, "RELOAD"),
			strings.Contains(r.Stdout, "SELECT"), r.Stderr)
	} else {
		// Not the lines themselves: MariaDB shows the password's hash.
		t.Logf("the backup account on %s holds RELOAD and no SELECT", donor.Name)
	}
	r := run("SELECT COUNT(*) FROM e2e.bulk")
	if r.Code == 0 || !strings.Contains(r.Stderr, "1142") {
		t.Errorf("SELECT as the backup account on %s: exit %d, %s; want error 1142 (SELECT command denied)", donor.Name, r.Code, r.Output())
	} else {
		t.Logf("SELECT as the backup account refused: %s", strings.TrimSpace(r.Stderr))
	}
}

// cloneNeedsCloneAccount: the seed just done went through the clone
// account, which holds BACKUP_ADMIN; the replication account does not, so
// a CLONE with the replication password is refused by the donor for want
// of BACKUP_ADMIN. It is tried on a replica, whose super_read_only would
// stop a clone that got past the donor before it dropped anything.
func (s *suite) cloneNeedsCloneAccount(t *testing.T, seededPod *podcluster.Pod) {
	ctx := s.ctx
	if out := seededPod.Logs("sidecar").Stderr; !strings.Contains(out, "CLONE INSTANCE FROM 'mysql-bootstrap-clone'@") {
		t.Errorf("%s did not clone through the clone account:\n%s", seededPod.Name, podcluster.Tail(out, 30))
	}
	grants := func(db *sql.DB, account string) string {
		rows, err := db.QueryContext(ctx, "SHOW GRANTS FOR "+account)
		if err != nil {
			t.Errorf("SHOW GRANTS FOR %s: %v", account, err)
			return ""
		}
		defer rows.Close()
		var all []string
		for rows.Next() {
			var g string
			if err := rows.Scan(&g); err != nil {
				t.Error(err)
			}
			all = append(all, g)
		}
		return strings.Join(all, "\n")
	}
	must(t, s.primary.WithRoot(ctx, func(db *sql.DB) error {
		if g := grants(db, "'replication'@'%'"); strings.Contains(g, "BACKUP_ADMIN") || !strings.Contains(g, "REPLICATION SLAVE") {
			t.Errorf("the replication account's grants:\n%s", g)
		}
		if g := grants(db, "'mysql-bootstrap-clone'@'%'"); !strings.Contains(g, "BACKUP_ADMIN") || strings.Contains(g, "REPLICATION") || strings.Contains(g, "SELECT") {
			t.Errorf("the clone account's grants:\n%s", g)
		}
		// With verified TLS it requires TLS, as the replication account does.
		var sslType string
		if err := db.QueryRowContext(ctx, "SELECT ssl_type FROM mysql.user WHERE User = 'mysql-bootstrap-clone' AND Host = '%'").Scan(&sslType); err != nil {
			return err
		}
		if want := map[bool]string{true: "ANY", false: ""}[s.tls]; sslType != want {
			t.Errorf("the clone account's ssl_type %q, want %q (TLS %v)", sslType, want, s.tls)
		}
		return nil
	}))
	r := s.replicas[0]
	donor := strings.TrimSuffix(s.primary.Host(), ".") + ":3306"
	must(t, r.WithRoot(ctx, func(db *sql.DB) error {
		if _, err := db.ExecContext(ctx, "SET GLOBAL clone_valid_donor_list = '"+donor+"'"); err != nil {
			return err
		}
		_, err := db.ExecContext(ctx, "CLONE INSTANCE FROM 'replication'@'"+strings.TrimSuffix(s.primary.Host(), ".")+"':3306 IDENTIFIED BY "+sqldialect.QuoteString(s.c.ReplicationPassword))
		var me *mysql.MySQLError
		switch {
		case err == nil:
			t.Errorf("CLONE with the replication password worked on %s", r.Name)
		case !errors.As(err, &me) || !strings.Contains(me.Message, "BACKUP_ADMIN"):
			t.Errorf("CLONE with the replication password: %v, want a privilege error naming BACKUP_ADMIN", err)
		default:
			t.Logf("CLONE with the replication password refused: %v", err)
		}
		return nil
	}))
}

// 7. A replica's volume is lost under write load: the pod comes back empty
// and copies its data again.
func (s *suite) replicaWipedReseeds(t *testing.T) {
	ctx, r := s.ctx, s.replicas[1]
	w := s.startWriter(7)
	defer s.stopWriter(w)
	must(t, w.WaitAcked(ctx, 30, time.Time{}, 60*time.Second))
	r.Remove()
	s.wipe(t, r)
	start := time.Now()
	must(t, r.Start(ctx))
	if err := r.WaitReady(ctx, seedTimeout); err != nil {
		t.Fatalf("%v\n%s", err, podcluster.Tail(r.Logs("sidecar").Stderr, 30))
	}
	t.Logf("%s ready %s after it came back empty (writer: %s)", r.Name, time.Since(start).Round(time.Millisecond), w.Summary())
	seeded(t, r)
	must(t, w.WaitAcked(ctx, 30, time.Now(), 60*time.Second))
	s.stopWriter(w)
	s.checkInvariants(t)
}

// 8. The donor dies in the middle of a seed (its pod is deleted while it
// streams): the recipient's copy fails, what was copied is never started,
// and it seeds again from another donor, ending with the primary's data.
func (s *suite) donorKilledMidSeed(t *testing.T) {
	s.donorLostMidSeed(t, "deleted", lostDonorBound, func(p *podcluster.Pod) { p.Remove() },
		func(p *podcluster.Pod) { must(t, p.Start(s.ctx)) })
}

// donorLostMidSeed empties the first replica and, once it copies from a
// donor, loses that donor with lose (how is the case's word): the
// recipient's copy fails, what was copied is never started, and it seeds
// again from another donor within bound, ending with the primary's data;
// restore brings the donor back.
func (s *suite) donorLostMidSeed(t *testing.T, how string, bound time.Duration, lose, restore func(*podcluster.Pod)) {
	ctx, r := s.ctx, s.replicas[0]
	r.Remove()
	s.wipe(t, r)
	if s.flavor == "mysql" {
		// CLONE copies the 280 MiB in about a second here: too fast to
		// lose the donor in the middle. clone_max_data_bandwidth (MiB/s,
		// set on the recipient) stretches it to about ten.
		s.throttleClone(t, r, 30)
		defer s.throttleClone(t, r, 0)
	}
	var slowed []*podcluster.Pod
	unslow := func() {
		for _, p := range slowed {
			if err := p.LimitCPU(ctx, "backup", 0); err != nil {
				t.Errorf("%v", err)
			}
		}
		slowed = nil
	}
	if s.flavor != "mysql" {
		// With --parallel the stream of 280 MiB takes about 1.5 s, over
		// before the recipient's status shows it under way. A twentieth
		// of a core for every candidate donor's backup container (the
		// recipient picks one) stretches it to many seconds.
		for _, p := range s.pods() {
			if p != r {
				must(t, p.LimitCPU(ctx, "backup", 0.05))
				slowed = append(slowed, p)
			}
		}
		defer unslow()
	}
	must(t, r.Start(ctx))
	var donor *podcluster.Pod
	var at podcluster.SeedStatus
	must(t, testkit.Eventually(ctx, 2*time.Minute, r.Name+" copying from a donor", func(ctx context.Context) error {
		st, err := r.Status(ctx)
		if err != nil {
			return err
		}
		if st.Ready {
			return fmt.Errorf("%s is ready: the copy ended before it was seen under way: %w", r.Name, testkit.ErrGiveUp)
		}
		if st.Seed == nil || st.Seed.State != "running" || st.Seed.Donor == "" || st.Seed.Bytes == 0 ||
			st.Seed.Estimate > 0 && st.Seed.Bytes >= st.Seed.Estimate {
			return fmt.Errorf("no copy under way: %s", st.Reason)
		}
		for _, p := range s.pods() {
			if p.Name == st.Seed.Donor {
				donor, at = p, *st.Seed
				return nil
			}
		}
		return fmt.Errorf("the donor %q is not a pod of the suite: %w", st.Seed.Donor, testkit.ErrGiveUp)
	}))
	lose(donor)
	lost := time.Now()
	t.Logf("%s %s while %s copied from it (%s, %d of %d bytes)", donor.Name, how, r.Name, at.Phase, at.Bytes, at.Estimate)
	slowed = slices.DeleteFunc(slowed, func(p *podcluster.Pod) bool { return p == donor })
	unslow() // the next donor at full speed
	// A closed connection fails the copy at once; a silent donor is
	// noticed within SEED_STALL_TIMEOUT (30 s). The copy starts again
	// from another donor as soon as the failed one has ended (README:
	// Seeding).
	if err := r.WaitReady(ctx, bound-time.Since(lost)); err != nil {
		t.Fatalf("%s not ready %s after its donor was %s (want within %s): %v\n%s", r.Name,
			time.Since(lost).Round(time.Millisecond), how, bound, err, podcluster.Tail(r.Logs("sidecar").Stderr, 30))
	}
	t.Logf("%s ready %s after its donor was %s (bound %s)", r.Name, time.Since(lost).Round(time.Millisecond), how, bound)
	logs, failed, done := r.Logs("sidecar").Stderr, msgCloneFailed, msgCloneDone
	if s.flavor != "mysql" {
		logs, failed, done = r.Logs("server").Stderr, msgRestoreFailed, msgCopyInPlace
	}
	if l := testkit.LogLines(logs, failed); len(l) == 0 || l[0]["donor"] != donor.Name {
		t.Errorf("%s: want a %q line naming %s, got %v", r.Name, failed, donor.Name, l)
	} else {
		t.Logf("%s: %s from %s: %v", r.Name, failed, donor.Name, l[0]["error"])
	}
	for _, l := range testkit.LogLines(logs, done) {
		if l["donor"] == donor.Name {
			t.Errorf("%s: a copy from the %s %s was put in place: %v", r.Name, how, donor.Name, l)
		}
	}
	if l := seeded(t, r); l != nil {
		if l["donor"] == donor.Name {
			t.Errorf("%s's last seed was from the %s %s, want another donor", r.Name, how, donor.Name)
		}
		t.Logf("%s seeded again from %v", r.Name, l["donor"])
	}
	restore(donor)
	must(t, donor.WaitReady(ctx, 2*time.Minute))
	s.waitSameData(t, s.replicas...)
	s.sameChecksums(t, r)
	s.checkInvariants(t)
}

// throttleClone limits p's server to mibPerSecond of CLONE data from its
// next start (0: no limit), through a file of its own beside init's
// configuration (loose-: the image's first start runs --initialize, which
// does not load the clone plugin and refuses its variables).
func (s *suite) throttleClone(t *testing.T, p *podcluster.Pod, mibPerSecond int) {
	t.Helper()
	const f = "/config/zz-e2e-clone-bandwidth.cnf"
	script := "rm -f " + f
	if mibPerSecond > 0 {
		script = fmt.Sprintf("printf '[mysqld]\\nloose-clone_max_data_bandwidth = %d\\n' > %s && chmod 0644 %s", mibPerSecond, f, f)
	}
	_, err := s.c.RunAsRoot(s.ctx, script, podcluster.Mount{Volume: p.ConfigVolume, Target: "/config"})
	must(t, err)
}

// 9. The primary's volume is lost: mysql-0 comes back empty while its
// replicas hold the data. It must not take a write before it has copied
// every transaction from the most advanced replica.
func (s *suite) primaryWipedRecovers(t *testing.T) {
	ctx, p := s.ctx, s.primary
	w := s.startWriter(9)
	must(t, w.WaitAcked(ctx, 50, time.Time{}, 60*time.Second))
	s.stopWriter(w)
	s.waitSameData(t, s.replicas...)
	p.Remove()
	s.wipe(t, p)
	start := time.Now()
	must(t, p.Start(ctx))
	// Until the copy is in place it is read-only and not ready.
	var sawGuard bool
	err := testkit.Eventually(ctx, seedTimeout, p.Name+" writable and ready", func(ctx context.Context) error {
		st, err := p.Status(ctx)
		if err != nil {
			return err
		}
		if !st.Ready {
			if s.writable(ctx, p) {
				// The sidecar publishes its status after the pass that
				// made the server writable: between the two, a writable
				// server that holds every acknowledged write is the
				// expected moment; one that lacks any is the failure.
				if err := s.holdsAcked(ctx, p); err != nil {
					return fmt.Errorf("%s is writable while not ready (%s) and %v: %w", p.Name, st.Reason, err, testkit.ErrGiveUp)
				}
				return fmt.Errorf("%s is writable, holds every acknowledged write, not ready yet: %s", p.Name, st.Reason)
			}
			sawGuard = sawGuard || st.ReadOnly
			return errors.New(st.Reason)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, podcluster.Tail(p.Logs("sidecar").Stderr, 30))
	}
	t.Logf("%s ready %s after it came back empty (read-only while not ready: %v)", p.Name, time.Since(start).Round(time.Millisecond), sawGuard)
	if l := seeded(t, p); l != nil {
		t.Logf("%s recovered from %v (%v)", p.Name, l["donor"], l["why"])
	}
	w = s.startWriter(90)
	must(t, w.WaitAcked(ctx, 30, time.Time{}, 90*time.Second))
	s.stopWriter(w)
	s.checkInvariants(t)
}

// 10. The server's liveness probe (the manifest's exec of server-alive, run
// here as the kubelet would, once a second) does not depend on the sidecar
// or the root password: with the sidecar SIGKILLed and root's password
// changed, the server container is never restarted.
func (s *suite) livenessWithoutSidecar(t *testing.T) {
	ctx, r := s.ctx, s.replicas[0]
	before, err := r.ServerStartedAt(ctx)
	must(t, err)
	if res, err := r.Exec(ctx, "server", 10*time.Second, podcluster.ServerProbe...); err != nil || res.Code != 0 {
		t.Fatalf("%s: the liveness probe fails on a healthy server: exit %d %v: %s", r.Name, res.Code, err, res.Output())
	}
	live := r.WatchServer(&podcluster.Liveness{Period: time.Second, Threshold: 3, Command: podcluster.ServerProbe})
	defer live.Stop()

	must(t, r.KillSidecar(ctx))
	newRoot := "changed-" + s.c.RootPassword
	setRoot := func(old, pw string) error {
		db, err := r.Open(ctx, "root", old, "")
		if err != nil {
			return err
		}
		defer db.Close()
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		// Not binary-logged, and (MySQL) past super_read_only for a moment:
		// a person's change on this pod only.
		stmts := []string{"SET SESSION sql_log_bin = 0"}
		if s.flavor == "mysql" {
			stmts = append(stmts, "SET GLOBAL super_read_only = OFF")
		}
		stmts = append(stmts, "ALTER USER 'root'@'%' IDENTIFIED BY '"+strings.ReplaceAll(pw, "'", "''")+"'")
		if s.flavor == "mysql" {
			stmts = append(stmts, "SET GLOBAL super_read_only = ON")
		}
		for _, q := range stmts {
			if _, err := conn.ExecContext(ctx, strings.ReplaceAll(q, `\`, `\\`)); err != nil {
				return fmt.Errorf("%s: %w", strings.SplitN(q, " IDENTIFIED", 2)[0], err)
			}
		}
		return nil
	}
	must(t, setRoot(s.c.RootPassword, newRoot))
	// Ten probe periods: three failures in a row would have restarted it.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if n := live.Restarts(); n > 0 {
			t.Fatalf("%s: the liveness probe restarted the server %d time(s): %v", r.Name, n, live.Failures())
		}
		time.Sleep(250 * time.Millisecond)
	}
	after, err := r.ServerStartedAt(ctx)
	must(t, err)
	if !after.Equal(before) || len(live.Failures()) > 0 {
		t.Errorf("%s: server started at %s, now %s; probe failures %v", r.Name, before, after, live.Failures())
	}
	t.Logf("%s: sidecar killed and root password changed; the server kept running (started %s), liveness probes all passed", r.Name, before.Format(time.RFC3339))
	must(t, setRoot(newRoot, s.c.RootPassword))
	must(t, r.StartSidecar(ctx))
	must(t, r.WaitReady(ctx, time.Minute))
	s.checkInvariants(t)
}

// 11. mysql-0 comes back empty while a peer does not answer (its sidecar
// is down, its name still listed): mysql-0 stays read-only and not ready,
// naming the peer, until it answers; then it recovers.
func (s *suite) primaryWaitsForSilentPeer(t *testing.T) {
	ctx, p, silent := s.ctx, s.primary, s.replicas[len(s.replicas)-1]
	w := s.startWriter(11)
	must(t, w.WaitAcked(ctx, 30, time.Time{}, 60*time.Second))
	s.stopWriter(w)
	s.waitSameData(t, s.replicas...)
	_, err := silent.StopSidecar(ctx, 10*time.Second)
	must(t, err)
	p.Remove()
	s.wipe(t, p)
	must(t, p.Start(ctx))
	// Held while the peer is silent: never ready or writable, and once its
	// server is up (a first start takes a while on a loaded machine) the
	// reason names the silent pod, for 10 s of /status.
	ip, err := silent.IP(ctx)
	must(t, err)
	names := func(r string) bool { return strings.Contains(r, silent.Name) || strings.Contains(r, ip.String()) }
	var reason string
	var named time.Time
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) && (named.IsZero() || time.Since(named) < 10*time.Second) {
		st, err := p.Status(ctx)
		if err == nil {
			if st.Ready || s.writable(ctx, p) {
				t.Fatalf("%s ready %v, writable %v while %s does not answer: %s", p.Name, st.Ready, s.writable(ctx, p), silent.Name, st.Reason)
			}
			reason = st.Reason
			if named.IsZero() && names(reason) {
				named = time.Now()
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !names(reason) {
		t.Errorf("%s's reason does not name the silent %s (%s): %q", p.Name, silent.Name, ip, reason)
	}
	t.Logf("%s held while %s was silent: %q", p.Name, silent.Name, reason)
	must(t, silent.StartSidecar(ctx))
	start := time.Now()
	if err := p.WaitReady(ctx, seedTimeout); err != nil {
		t.Fatalf("%v\n%s", err, podcluster.Tail(p.Logs("sidecar").Stderr, 30))
	}
	t.Logf("%s recovered %s after %s answered", p.Name, time.Since(start).Round(time.Millisecond), silent.Name)
	seeded(t, p)
	s.checkInvariants(t)
}

// 12. mysql-0 is restored from an older copy of its own volume: it lacks
// what it acknowledged since, which its replicas hold, so it copies their
// data before it takes a write; no acknowledged write is lost.
func (s *suite) primaryRestoredFromOldCopy(t *testing.T) {
	ctx, p := s.ctx, s.primary
	snap := func(from, to string) string {
		return fmt.Sprintf("find %[2]s -mindepth 1 -delete && cp -a %[1]s/. %[2]s/", from, to)
	}
	oldData, oldState := p.DataVolume+"-old", p.StateVolume+"-old"
	mounts := []podcluster.Mount{
		{Volume: p.DataVolume, Target: "/data"}, {Volume: p.StateVolume, Target: "/state"},
		{Volume: oldData, Target: "/old-data"}, {Volume: oldState, Target: "/old-state"},
	}
	// A copy of the claim while the pod is away (a snapshot).
	p.Remove()
	_, err := s.c.RunAsRoot(ctx, snap("/data", "/old-data")+" && "+snap("/state", "/old-state"), mounts...)
	must(t, err)
	must(t, p.Start(ctx))
	must(t, p.WaitReady(ctx, 2*time.Minute))
	w := s.startWriter(12)
	must(t, w.WaitAcked(ctx, 100, time.Time{}, 60*time.Second))
	s.stopWriter(w)
	s.waitSameData(t, s.replicas...)
	// The volume is restored from the snapshot: the last 100 writes are
	// only on the replicas now.
	p.Remove()
	_, err = s.c.RunAsRoot(ctx, snap("/old-data", "/data")+" && "+snap("/old-state", "/state"), mounts...)
	must(t, err)
	must(t, p.Start(ctx))
	if err := p.WaitReady(ctx, seedTimeout); err != nil {
		t.Fatalf("%v\n%s", err, podcluster.Tail(p.Logs("sidecar").Stderr, 30))
	}
	seeded(t, p)
	s.checkInvariants(t)
}

// 13. A replica with transactions of its own that also needs transactions
// the primary purged is reported, never wiped. It leaves the suite.
func (s *suite) errantReplicaNotWiped(t *testing.T) {
	ctx, r := s.ctx, s.replicas[len(s.replicas)-1]
	marker := "errant-" + r.Name
	must(t, r.WithRoot(ctx, func(db *sql.DB) error {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		stmts := []string{"INSERT INTO e2e.markers (marker, server_id) VALUES ('" + marker + "', 0)"}
		if s.flavor == "mysql" {
			stmts = append([]string{"SET GLOBAL super_read_only = OFF"}, append(stmts, "SET GLOBAL super_read_only = ON")...)
		}
		for _, q := range stmts {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	}))
	r.RemoveContainers()
	s.replicas = s.replicas[:len(s.replicas)-1]
	w := s.startWriter(13)
	must(t, w.WaitAcked(ctx, 50, time.Time{}, 60*time.Second))
	s.stopWriter(w)
	s.purgeBinaryLogs(t)
	must(t, r.StartAfterSandbox(ctx))
	// 20 s of passes: never ready, never seeded, the errant row stays.
	var reason string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := r.Status(ctx); err == nil {
			if st.Ready {
				t.Fatalf("%s is ready with a transaction the primary lacks: %s", r.Name, st.Reason)
			}
			reason = st.Reason
		}
		time.Sleep(500 * time.Millisecond)
	}
	out := r.Logs("sidecar").Stderr
	if n := len(testkit.LogLines(out, msgCloneStarted)) + len(testkit.LogLines(out, msgSeedRequested)); n > 0 {
		t.Errorf("%s seeded over its own transaction (%d copies)", r.Name, n)
	}
	var n int
	must(t, r.WithRoot(ctx, func(db *sql.DB) error {
		return db.QueryRowContext(ctx, "SELECT COUNT(*) FROM e2e.markers WHERE marker = ?", marker).Scan(&n)
	}))
	if n != 1 {
		t.Errorf("%s lost its own row (%d rows)", r.Name, n)
	}
	t.Logf("%s with an errant transaction and purged needs: kept, not ready: %q", r.Name, reason)
	r.Remove()
	s.checkInvariants(t)
}

// replacedFirstID is the first id the replaced primary's writer uses (case
// 14); the ids of other cases' writers are case*1e6 + n, n < 1e6 (case 9's
// second writer: 90e6 + n).
const replacedFirstID = 14_000_000

// 14. The last case (it ends the cluster's history): mysql-0 comes back
// empty and a person forces it to take writes with its own (empty) data.
// The replicas hold transactions it lacks: they stop, are not ready, and
// do not resume on their own, even after the new primary has written more
// than they hold (MariaDB's sequence numbers pass theirs).
func (s *suite) replacedHistoryRefused(t *testing.T) {
	ctx, p := s.ctx, s.primary
	var before map[string]int
	before = map[string]int{}
	for _, r := range s.replicas {
		must(t, r.WithRoot(ctx, func(db *sql.DB) error {
			var n int
			err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM e2e.writes").Scan(&n)
			before[r.Name] = n
			return err
		}))
	}
	p.Remove()
	s.wipe(t, p)
	must(t, p.Start(ctx))
	must(t, testkit.Eventually(ctx, 2*time.Minute, p.Name+" sidecar answers", func(ctx context.Context) error {
		_, err := p.Status(ctx)
		return err
	}))
	res, err := p.Exec(ctx, "sidecar", 30*time.Second, "/mysql-bootstrap", "primary-override", "--use-own-data")
	if err != nil || res.Code != 0 {
		t.Fatalf("primary-override: exit %d %v: %s", res.Code, err, res.Output())
	}
	t.Logf("primary-override: %s", strings.TrimSpace(res.Output()))
	must(t, p.WaitReady(ctx, 2*time.Minute))
	must(t, p.CreateAppSchema(ctx))
	most := 0
	for _, n := range before {
		most = max(most, n)
	}
	w := podcluster.StartWriter(ctx, podcluster.WriterOptions{Open: p.App, FirstID: replacedFirstID, MaxRows: most + 1000, MaxTime: 4 * time.Minute})
	must(t, w.WaitAcked(ctx, most+600, time.Time{}, 3*time.Minute))
	w.Stop()
	// Ten more seconds of passes: no replica ready, none took the new
	// primary's rows.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range s.replicas {
			if st, err := r.Status(ctx); err == nil && st.Ready {
				t.Fatalf("%s is ready behind a primary whose history was replaced: %s", r.Name, st.Reason)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, r := range s.replicas {
		st, err := r.Status(ctx)
		must(t, err)
		var n int
		must(t, r.WithRoot(ctx, func(db *sql.DB) error {
			return db.QueryRowContext(ctx, "SELECT COUNT(*) FROM e2e.writes WHERE id BETWEEN ? AND ?", replacedFirstID, replacedFirstID+999_999).Scan(&n)
		}))
		if n > 0 {
			t.Errorf("%s applied %d rows of the replaced primary", r.Name, n)
		}
		t.Logf("%s: not ready, %q", r.Name, st.Reason)
	}
}
