package bootstrap

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/go-sql-driver/mysql"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/dnswait"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

func runSidecar(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	cfg, id, log, err := loadPod(ctx, "sidecar", args, stdio, loader)
	if err != nil {
		return err
	}
	// The driver logs some connection errors itself; keep them structured.
	_ = mysql.SetLogger(driverLogger{log})
	resolver, err := dnswait.NewResolver(dnswait.Options{ResolvConf: cfg.ResolvConf})
	if err != nil {
		return &configError{problems: []string{fmt.Sprintf("RESOLV_CONF=%q cannot be used: %v", cfg.ResolvConf, err)}}
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
	return sc.Serve(ctx, ln)
}
