package bootstrap

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// runForgetPeer records a person's request to forget a peer:
//
//	mysql-bootstrap forget-peer mysql-3
//
// for a StatefulSet scaled down for good, whose removed pods would
// otherwise be waited for by the primary's guard. It runs in a pod's
// sidecar container (where STATE_DIR is), best the primary's; the sidecar
// forgets the pod at its next look at the peers and tells the other pods
// through /status (forgottenPeers). A pod that answers again later is
// remembered again.
func runForgetPeer(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	fs := newFlagSet("forget-peer", stdio)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: forget-peer needs one pod name, e.g. forget-peer mysql-3", ErrUsage)
	}
	pod := fs.Arg(0)
	cfg, id, err := loadIdentity(ctx, loader, Need{Passwords: true})
	if err != nil {
		return err
	}
	if sts, _, err := wire.ParsePodName(pod); err != nil || sts != id.StatefulSet || pod == id.Pod {
		return invalidf("forget-peer %q is invalid: expected another pod of StatefulSet %s, such as %s-3", pod, id.StatefulSet, id.StatefulSet)
	}
	if fi, err := os.Stat(cfg.StateDir); err != nil || !fi.IsDir() {
		return invalidf("STATE_DIR=%q is not a directory: run this in a pod's sidecar container, where the data volume's state directory is mounted", cfg.StateDir)
	}
	// Signed with the seed secret, which the sidecar checks it with.
	p := filepath.Join(cfg.StateDir, forgetPeerFile)
	req := ForgetRequest{Pod: pod, Created: time.Now().UTC()}
	if err := writeSigned(p, forgetPeerFile, seedSecret(cfg, newCredentials(cfg))(), &req, &req.MAC); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	fmt.Fprintf(stdio.Out, "%s will forget %s at its sidecar's next look at its peers (within %s), and tell the other pods; if %s answers again it is remembered again\n",
		id.Pod, pod, peerRefreshEvery, pod)
	return nil
}
