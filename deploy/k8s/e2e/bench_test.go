package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/internal/benchsummary"
)

// BenchmarkKubernetes measures, on the local cluster, the two waits a
// person sees most: kubectl apply -k of the test overlay until all three
// pods are Ready, and kubectl delete pod mysql-0 under writes until writes
// are accepted again through mysql-primary. Each iteration is a new
// namespace; the medians go to BENCH_SUMMARY (make bench prints them).
// K8S_E2E_SERVERS chooses the server (its first one).
func BenchmarkKubernetes(b *testing.B) {
	if skipReason != "" {
		b.Skip(skipReason)
	}
	srv := servers[0]
	var apply, back, gap []float64
	for b.Loop() {
		s := newSuite(b, srv)
		ctx := context.Background()
		took, err := s.applyUntilReady(ctx)
		if err != nil {
			s.dump(b)
			b.Fatal(err)
		}
		apply = append(apply, took.Seconds())
		if err := s.createAppSchema(ctx); err != nil {
			b.Fatal(err)
		}
		w := s.startWriter(ctx)
		if err := w.WaitAcked(ctx, 50, time.Time{}, time.Minute); err != nil {
			b.Fatal(err)
		}
		old, err := s.pod(ctx, 0)
		if err != nil {
			b.Fatal(err)
		}
		deleted := time.Now()
		if _, err := kubectl(ctx, s.ns, "delete", "pod", s.podName(0), "--wait=false"); err != nil {
			b.Fatal(err)
		}
		from, to := s.writesBackOnNewPrimary(b, w, old, deleted, nil)
		s.stopWriter(w)
		back = append(back, to.Sub(deleted).Seconds())
		gap = append(gap, to.Sub(from).Seconds())
		b.Logf("%s round %d: apply -> all Ready %.1f s; primary pod deleted -> writes accepted %.1f s (refused for %.1f s)",
			srv.Name, len(apply), took.Seconds(), back[len(back)-1], gap[len(gap)-1])
		// Three pods at a time: the next round's fit on two cores.
		if err := s.deleteNamespace(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(medianOf(apply), "s_apply_to_ready")
	b.ReportMetric(medianOf(back), "s_deleted_primary_to_write")
	benchsummary.Append(b,
		benchsummary.Row{Figure: "Kubernetes (" + srv.Name + "): kubectl apply -k -> all 3 pods Ready", Value: fmt.Sprintf("%.1f s", medianOf(apply)), N: len(apply), Target: "<= 20 s", Met: benchsummary.Verdict(medianOf(apply), 20)},
		benchsummary.Row{Figure: "Kubernetes (" + srv.Name + "): primary pod deleted -> writes accepted again", Value: fmt.Sprintf("%.1f s", medianOf(back)), N: len(back), Target: "<= 12 s", Met: benchsummary.Verdict(medianOf(back), 12)},
		benchsummary.Row{Figure: "  of which writes refused", Value: fmt.Sprintf("%.1f s", medianOf(gap)), N: len(gap), Target: "-", Met: "-"},
	)
}

func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	c := slices.Clone(v)
	slices.Sort(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

// BenchmarkSwitchover measures, on the local cluster with
// PRIMARY=kubernetes, how long writes through mysql-primary are refused
// during a switchover under writes (mysql-0 to mysql-1, then back), and
// how long the command takes. Each iteration is a new namespace; the
// medians go to BENCH_SUMMARY. K8S_E2E_SERVERS chooses the server (its
// first one).
func BenchmarkSwitchover(b *testing.B) {
	if skipReason != "" {
		b.Skip(skipReason)
	}
	srv := servers[0]
	var gaps, cmds []float64
	for b.Loop() {
		s := newSuite(b, srv)
		overlay, err := leaseOverlay(b, s.overlay, leaseOptions{})
		if err != nil {
			b.Fatal(err)
		}
		s.overlay = overlay
		ctx := context.Background()
		if _, err := s.applyUntilReady(ctx); err != nil {
			s.dump(b)
			b.Fatal(err)
		}
		if err := s.waitPrimary(ctx, 0, 2*time.Minute); err != nil {
			b.Fatal(err)
		}
		if err := s.createAppSchema(ctx); err != nil {
			b.Fatal(err)
		}
		for _, step := range []struct{ from, to int }{{2, 1}, {1, 0}} {
			w := s.startWriter(ctx)
			if err := w.WaitAcked(ctx, 50, time.Time{}, time.Minute); err != nil {
				b.Fatal(err)
			}
			asked := time.Now()
			if out, err := s.switchover(ctx, step.from, "--to", s.podName(step.to)); err != nil {
				s.dump(b)
				b.Fatalf("switchover: %v\n%s", err, out)
			}
			done := time.Now()
			if err := s.waitPrimary(ctx, step.to, 2*time.Minute); err != nil {
				b.Fatal(err)
			}
			if err := w.WaitAcked(ctx, 30, time.Now(), 2*time.Minute); err != nil {
				b.Fatal(err)
			}
			from, to := w.LongestGapSince(asked)
			s.stopWriter(w)
			gaps = append(gaps, to.Sub(from).Seconds())
			cmds = append(cmds, done.Sub(asked).Seconds())
			b.Logf("%s round %d: switchover %s -> %s: writes refused %.2f s, command %.2f s",
				srv.Name, len(gaps), s.podName(1-step.to), s.podName(step.to), gaps[len(gaps)-1], cmds[len(cmds)-1])
		}
		if err := s.deleteNamespace(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(medianOf(gaps), "s_switchover_writes_refused")
	benchsummary.Append(b,
		benchsummary.Row{Figure: "Kubernetes (" + srv.Name + "): switchover under writes -> writes refused", Value: fmt.Sprintf("%.2f s", medianOf(gaps)), N: len(gaps), Target: "<= 2 s", Met: benchsummary.Verdict(medianOf(gaps), 2)},
		benchsummary.Row{Figure: "  switchover command, request -> done", Value: fmt.Sprintf("%.2f s", medianOf(cmds)), N: len(cmds), Target: "-", Met: "-"},
	)
}
