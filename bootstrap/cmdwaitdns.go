package bootstrap

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/dnswait"
)

func runWaitDNS(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	fs := newFlagSet("wait-dns", stdio)
	timeout := fs.Duration("timeout", 10*time.Minute, "how long to wait")
	port := fs.Int("port", 0, "also wait until this TCP port accepts connections (0: DNS only)")
	// Let flags follow the name, as people type them.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if name == "" && fs.NArg() == 1 {
		name = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return fmt.Errorf("%w: wait-dns takes one NAME, got extra %q", ErrUsage, fs.Args())
	}
	if name == "" {
		return fmt.Errorf("%w: wait-dns needs a NAME to wait for, e.g. mysql-0.mysql.default.svc.cluster.local", ErrUsage)
	}
	if *timeout <= 0 {
		return fmt.Errorf("%w: --timeout=%s is invalid: expected a positive duration such as 30s", ErrUsage, *timeout)
	}
	if *port < 0 || *port > 65535 {
		return fmt.Errorf("%w: --port=%d is invalid: expected 1..65535, or 0 for DNS only", ErrUsage, *port)
	}
	// wait-dns serves any script: it reads only the two variables it uses.
	l := loader.withDefaults()
	resolvConf, _ := l.Lookuper.Lookup("RESOLV_CONF")
	if resolvConf == "" {
		resolvConf = dnswait.DefaultResolvConf
	}
	logFormat, _ := l.Lookuper.Lookup("LOG_FORMAT")
	log := NewLogger(stdio.Err, logFormat, "info")
	waiter, err := newWaiter(resolvConf, log)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if *port > 0 {
		addr, err := waiter.WaitReachable(wctx, name, *port)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdio.Out, addr.String())
		return nil
	}
	addrs, err := waiter.WaitResolve(wctx, name)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		fmt.Fprintln(stdio.Out, a.String())
	}
	return nil
}
