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
