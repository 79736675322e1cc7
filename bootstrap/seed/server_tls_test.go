package seed

import (
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mysql-bootstrap/mysql-bootstrap/internal/testtls"
)

// TestSeedOverTLS copies a real MariaDB server's data over TLS, as
// backup-server serves it with a CA configured: the recipient verifies
// the donor's certificate for its stable name and refuses a donor whose
// certificate names another pod, before the donor runs any backup; the
// verified copy starts and holds the donor's data.
func TestSeedOverTLS(t *testing.T) {
	needServers(t)
	t.Parallel()
	log, logBuf := logs(t)

	a := newServer(t, "127.0.77.20", 20)
	a.Start()
	adb := a.Root()
	t.Cleanup(func() { adb.Close() })
	createAccounts(t, adb, false)
	createData(t, adb)

	ca := testtls.NewCA(t)
	cert, key := ca.Issue(t, "donor", tlsDonorHost)
	otherCert, otherKey := ca.Issue(t, "other", tlsOtherHost)
	var backups atomic.Int64
	count := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/backup" {
				backups.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	}
	good := serveDonor(t, serverTLS(t, cert, key), count(newDonor(a, false, log).Handler()))
	wrong := serveDonor(t, serverTLS(t, otherCert, otherKey), count(newDonor(a, false, log).Handler()))
	url := "https://" + tlsDonorHost + ":8081/backup"

	b := newServer(t, "127.0.77.21", 21)
	old := tree{"ibdata1": "old", "mysql/user.frm": "old"}
	writeTree(t, b.DataDir, old)

	_, err := (&Restore{DataDir: b.DataDir, DonorURL: url, Secret: testSecret, Recipient: recipientPod, DonorPod: donorPod, Log: log,
		Client: routedClient(wrong), TLS: caPool(t, ca)}).Run(t.Context())
	if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), tlsDonorHost) {
		t.Fatalf("Run from a donor with another pod's certificate = %v, want ErrUntrusted", err)
	}
	if n := backups.Load(); n != 0 {
		t.Errorf("%d backup requests reached a donor the recipient did not verify", n)
	}
	if d := cmp.Diff(old, readTree(t, b.DataDir)); d != "" {
		t.Errorf("the refused copy changed the datadir (-want +got):\n%s", d)
	}

	res, err := (&Restore{DataDir: b.DataDir, DonorURL: url, Secret: testSecret, Recipient: recipientPod, DonorPod: donorPod, Log: log,
		Client: routedClient(good), TLS: caPool(t, ca)}).Run(t.Context())
	if err != nil {
		t.Fatalf("Run over TLS = %v", err)
	}
	if res.Bytes < 4<<20 || res.GTID == "" {
		t.Errorf("result %+v: want the donor's data and its position", res)
	}
	b.Start()
	bdb := b.Root()
	defer bdb.Close()
	if d := cmp.Diff(checksums(t, adb, checkedTables...), checksums(t, bdb, checkedTables...)); d != "" {
		t.Errorf("CHECKSUM TABLE (-donor +restored):\n%s", d)
	}
	noSecrets(t, "the logs", logBuf.String())
}
