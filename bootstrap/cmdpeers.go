package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/dnswait"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// ErrNoPeers is returned by the peers command when the Service's name
// does not resolve.
var ErrNoPeers = errors.New("no peers found")

// peersTimeout bounds the peers command.
const peersTimeout = 10 * time.Second

// runPeers prints every pod of the StatefulSet as the headless Service's
// DNS records and the pods' /status show them.
func runPeers(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	fs := newFlagSet("peers", stdio)
	format := fs.String("format", "table", "output format: table or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: peers takes no arguments, got %q", ErrUsage, fs.Args())
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("%w: --format=%q is invalid: expected table or json", ErrUsage, *format)
	}
	cfg, err := loader.Load(ctx, Need{Service: true})
	if err != nil {
		return err
	}
	id, err := NewIdentity(cfg)
	if err != nil {
		return err
	}
	r, err := dnswait.NewResolver(dnswait.Options{ResolvConf: cfg.ResolvConf})
	if err != nil {
		return &configError{problems: []string{fmt.Sprintf("RESOLV_CONF=%q cannot be used: %v", cfg.ResolvConf, err)}}
	}
	ctx, cancel := context.WithTimeout(ctx, peersTimeout)
	defer cancel()
	peers, err := newPeerFinder(r, id, cfg).find(ctx)
	if err != nil {
		return fmt.Errorf("%w: %v (is SERVICE_NAME the StatefulSet's headless Service, and does this pod use the cluster's DNS?)", ErrNoPeers, err)
	}
	if *format == "json" {
		enc := json.NewEncoder(stdio.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(peers)
	}
	return writePeersTable(stdio.Out, peers)
}

// writePeersTable writes one line per pod.
func writePeersTable(w io.Writer, peers decide.Peers) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "POD\tADDRESS\tROLE\tREADY\tSITUATION\tVERSION\tGTID EXECUTED\tLAG\tSOURCE\tLAST ERROR")
	for _, p := range peers {
		st := p.Status
		if st == nil {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\t-\t-\t%s\n", p.Name(), p.Addr, p.Err)
			continue
		}
		lag, source, lastErr := "-", "-", ""
		if r := st.Replication; r != nil {
			source = r.SourceHost
			if r.LagSeconds != nil {
				lag = strconv.FormatInt(*r.LagSeconds, 10) + "s"
			}
			lastErr = r.LastError
		}
		if !st.Ready && lastErr == "" {
			lastErr = st.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\t%s\t%s\t%s\t%s\t%s\n", st.Pod, p.Addr, st.Role, st.Ready, orDash(st.Situation), orDash(st.Version),
			abbreviateGTIDs(st.GTIDExecuted, 40), lag, orDash(source), truncate(lastErr, 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return writeLeaseLine(w, peers)
}

// writeLeaseLine says, under the table, who holds the primary's Lease and
// what the last switchover did (PRIMARY=kubernetes), as the pod that saw
// the most recent change of it reports.
func writeLeaseLine(w io.Writer, peers decide.Peers) error {
	var l *wire.LeaseStatus
	for _, p := range peers {
		if st := p.Status; st != nil && st.Lease != nil && (l == nil || st.Lease.ObservedAt.After(l.ObservedAt)) {
			l = st.Lease
		}
	}
	if l == nil {
		return nil
	}
	line := fmt.Sprintf("Lease %s: held by %s, %d transition(s)", l.Name, orDash(l.Holder), l.Transitions)
	if s := l.LastSwitchover; s != nil {
		line += fmt.Sprintf("; last switchover %s %s -> %s: %s", s.ID, s.From, s.To, s.State)
		if s.Reason != "" {
			line += " (" + truncate(s.Reason, 120) + ")"
		}
		if !s.Finished.IsZero() {
			line += " at " + s.Finished.UTC().Format(time.RFC3339)
		}
	}
	if f := l.LastFailover; f != nil {
		line += fmt.Sprintf("; failover %s -> %s at %s", f.From, f.To, f.At.UTC().Format(time.RFC3339))
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// abbreviateGTIDs shortens a GTID set for a table: MySQL UUIDs to their
// first 8 digits, the whole to n characters.
func abbreviateGTIDs(s string, n int) string {
	if s == "" {
		return "-"
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if len(p) > 36 && p[8] == '-' && p[36] == ':' {
			parts[i] = p[:8] + "…" + p[36:]
		}
	}
	return truncate(strings.Join(parts, ","), n)
}

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
