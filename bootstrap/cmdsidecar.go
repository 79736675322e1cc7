package bootstrap

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime/debug"

	"github.com/go-sql-driver/mysql"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/dnswait"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/kube"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// sidecarGCPercent is the sidecar's GOGC unless the environment sets one.
// An idle sidecar's live heap is under 1 MiB while it allocates about
// 11 KiB/s (a pass and a readiness probe every 5 s). At Go's default
// (100: a heap goal of at least 4 MiB) no collection is due before the
// two-minute forced one, so the heap fills with garbage for 2 minutes and
// what it touched stays resident: RSS rose from 13 to 15.4-16 MiB over
// 3-5 minutes (MariaDB 10.11, a primary alone, host process). At 25 (a
// goal of about 1.6 MiB) it collects every 30-40 s, each collection
// about 1.5 ms of CPU (gctrace), and RSS holds at 14.6-14.7 MiB from the
// first 30 s on, for the same CPU-seconds within the 10 ms tick.
const sidecarGCPercent = 25

func runSidecar(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	cfg, id, log, err := loadPod(ctx, "sidecar", args, stdio, loader)
	if err != nil {
		return err
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(sidecarGCPercent)
	}
	// The driver logs some connection errors itself; keep them structured.
	_ = mysql.SetLogger(driverLogger{log})
	resolver, err := dnswait.NewResolver(dnswait.Options{ResolvConf: cfg.ResolvConf})
	if err != nil {
		return &configError{problems: []string{fmt.Sprintf("RESOLV_CONF=%q cannot be used: %v", cfg.ResolvConf, err)}}
	}
	var api leaseAPI
	if cfg.PrimaryMode == PrimaryKubernetes {
		// Before anything listens: without a token and the API's address
		// this mode cannot work, and says so in one line (exit 2).
		c, err := kube.InCluster(cfg.Namespace)
		if err != nil {
			return invalidf("PRIMARY=kubernetes: %v", err)
		}
		api = c
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on HTTP_ADDR %s: %w (is another process using the port?)", cfg.HTTPAddr, err)
	}
	if fi, err := os.Stat(cfg.StateDir); id.Role == wire.RoleReplica && (err != nil || !fi.IsDir()) {
		log.Warn("STATE_DIR does not exist: nothing is kept across restarts, so a replica restarted while the primary is down is not ready until it reaches the primary",
			"state_dir", cfg.StateDir)
		cfg.StateDir = ""
	}
	sc := NewSidecar(cfg, id, log, resolver)
	defer sc.Close()
	if api != nil {
		sc.followLease(api)
	}
	return sc.Serve(ctx, ln)
}
