package bootstrap

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/dnswait"
	"github.com/mysql-bootstrap/mysql-bootstrap/internal/atomicfile"
)

func runInit(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	cfg, id, log, err := loadPod(ctx, "init", args, stdio, loader)
	if err != nil {
		return err
	}
	start := time.Now()
	log.Info("init", "pod", id.Pod, "role", id.Role, "server_id", id.ServerID, "pod_host", id.PodHost,
		"primary_host", id.PrimaryHost, "data_dir", cfg.DataDir, "data_dir_state", describeDataDir(cfg.DataDir), "version", Version)

	// A replica starts its server at once: with data it serves reads while
	// the primary is away; without, it is not ready until its sidecar has
	// connected it to the primary, whenever that answers. Looking the
	// primary's name up here, before its pod has an address, would only
	// get "no such name" cached by the cluster's DNS (30 s on a default
	// CoreDNS) for every later lookup of it. INIT_WAIT_FOR_PRIMARY asks for
	// the old wait: a replica without data waits for the primary's port.
	initialised := describeDataDir(cfg.DataDir) == dataDirInitialised
	// PRIMARY=kubernetes: who is primary is the Lease's to say, and the
	// sidecar reads it; init does not wait for anyone.
	waitForPrimary := cfg.InitWaitForPrimary && !id.IsPrimary() && !initialised && cfg.PrimaryMode != PrimaryKubernetes

	// Resolve the waiter before writing anything so a broken resolv.conf is
	// reported before the server can start with half a setup.
	var waiter *dnswait.Waiter
	if waitForPrimary {
		if waiter, err = newWaiter(cfg.ResolvConf, log); err != nil {
			return err
		}
	}

	path := configPath(cfg)
	changed, err := atomicfile.WriteChanged(path, RenderServerConfig(id, ServerConfig{Flavor: cfg.Flavor, Port: cfg.MySQLPort, DataInitialised: initialised, BinlogExpire: cfg.BinlogExpire, SemiSync: cfg.SemiSync}), 0o644)
	if err != nil {
		return fmt.Errorf("write the server configuration into CONFIG_DIR: %w", err)
	}
	log.Info("server configuration written", "path", path, "changed", changed, "flavor", cfg.Flavor)
	if cfg.ToolsDir != "" {
		dst, err := installBinary(cfg.ToolsDir)
		if err != nil {
			return fmt.Errorf("copy mysql-bootstrap into TOOLS_DIR: %w", err)
		}
		log.Info("mysql-bootstrap copied for the pod's other containers", "path", dst)
	}

	if !waitForPrimary {
		switch {
		case cfg.PrimaryMode == PrimaryKubernetes:
			log.Info("PRIMARY=kubernetes: the sidecar takes the role from the Lease; the server starts read-only", "lease", id.StatefulSet)
		case id.IsPrimary():
		case initialised:
			log.Info("data directory holds data: not waiting for the primary", "data_dir", cfg.DataDir)
		default:
			log.Info("not waiting for the primary: the sidecar connects replication once it answers (INIT_WAIT_FOR_PRIMARY=true waits here)", "primary_host", id.PrimaryHost)
		}
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.WaitTimeout)
	defer cancel()
	addr, err := waiter.WaitReachable(wctx, id.PrimaryLookupName(), cfg.MySQLPort)
	if err != nil {
		return fmt.Errorf("wait for the primary: %w", err)
	}
	log.Info("primary is reachable", "primary_host", id.PrimaryHost, "address", addr.String(), "elapsed", time.Since(start).Round(time.Millisecond).String())
	return nil
}

func newWaiter(resolvConf string, log *slog.Logger) (*dnswait.Waiter, error) {
	r, err := dnswait.NewResolver(dnswait.Options{ResolvConf: resolvConf})
	if err != nil {
		return nil, &configError{problems: []string{fmt.Sprintf("RESOLV_CONF=%q cannot be used: %v", resolvConf, err)}}
	}
	return &dnswait.Waiter{Resolver: r, Logger: log}, nil
}

// installBinary copies this executable to dir/mysql-bootstrap, so that
// containers of other images in the pod can run it (TOOLS_DIR).
func installBinary(dir string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	in, err := os.Open(self)
	if err != nil {
		return "", err
	}
	defer in.Close()
	dst := filepath.Join(dir, "mysql-bootstrap")
	if err := atomicfile.WriteFrom(dst, in, 0o755); err != nil {
		return "", fmt.Errorf("TOOLS_DIR: %w", err)
	}
	return dst, nil
}
