package bootstrap

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// runPrimaryOverride records a person's choice for the primary:
//
//	mysql-bootstrap primary-override --use-own-data
//	mysql-bootstrap primary-override --seed-from mysql-2
//
// It runs in the primary's sidecar container (kubectl exec), where
// STATE_DIR is, and changes nothing else: the sidecar acts on it at its
// next pass, once.
func runPrimaryOverride(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	fs := newFlagSet("primary-override", stdio)
	own := fs.Bool("use-own-data", false, "take writes with this pod's data; transactions only peers hold are given up")
	from := fs.String("seed-from", "", "replace this pod's data with a copy of POD's; transactions only other pods hold are given up")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: primary-override takes no arguments, got %q", ErrUsage, fs.Args())
	}
	if *own == (*from != "") {
		return fmt.Errorf("%w: primary-override needs exactly one of --use-own-data or --seed-from POD", ErrUsage)
	}
	cfg, id, err := loadIdentity(ctx, loader, Need{Service: true, Passwords: true})
	if err != nil {
		return err
	}
	switch {
	case cfg.PrimaryMode == PrimaryKubernetes:
		// The primary is the Lease's holder: an override left on another
		// pod would skip the guard of a later switchover's target.
		holder, err := leaseHolder(ctx, cfg, id)
		if err != nil {
			return fmt.Errorf("primary-override: cannot tell whether this pod holds the Lease %s: %w", id.StatefulSet, err)
		}
		if holder != id.Pod {
			return invalidf("primary-override is for the primary, the holder of the Lease %s (%s); this is %s", id.StatefulSet, holder, id.Pod)
		}
	case !id.IsPrimary():
		return invalidf("primary-override is for the primary (ordinal 0); this is %s", id.Pod)
	}
	if *from != "" {
		sts, _, err := wire.ParsePodName(*from)
		if err != nil || sts != id.StatefulSet || *from == id.Pod {
			return invalidf("--seed-from=%q is invalid: expected another pod of StatefulSet %s, such as %s-1", *from, id.StatefulSet, id.StatefulSet)
		}
	}
	if fi, err := os.Stat(cfg.StateDir); err != nil || !fi.IsDir() {
		return invalidf("STATE_DIR=%q is not a directory: run this in the primary's sidecar container, where the data volume's state directory is mounted", cfg.StateDir)
	}
	o := decide.Override{Action: decide.OverrideOwnData, Created: time.Now().UTC()}
	if *from != "" {
		o.Action, o.From = decide.OverrideSeedFrom, *from
	}
	// Signed with the seed secret, which the sidecar checks it with.
	f := overrideFiles{dir: cfg.StateDir, secret: seedSecret(cfg, newCredentials(cfg))}
	if err := f.write(o); err != nil {
		return fmt.Errorf("write %s: %w", f.path(), err)
	}
	what := "take writes with its own data"
	if o.From != "" {
		what = "replace its data with a copy of " + o.From + "'s"
	}
	fmt.Fprintf(stdio.Out, "%s will %s at the sidecar's next pass (the choice is used once, within %s; see /status)\n", id.Pod, what, shortDuration(overrideMaxAge))
	return nil
}

// leaseHolder reads who holds the StatefulSet's Lease (PRIMARY=kubernetes).
func leaseHolder(ctx context.Context, cfg *Config, id Identity) (string, error) {
	api, err := newSwitchoverAPI(cfg.Namespace)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	l, err := api.GetLease(ctx, id.StatefulSet)
	if err != nil {
		return "", err
	}
	return l.HolderIdentity, nil
}
