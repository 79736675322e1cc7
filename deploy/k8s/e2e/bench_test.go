package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
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
	summaryRows(b,
		[5]string{"Kubernetes (" + srv.Name + "): kubectl apply -k -> all 3 pods Ready", fmt.Sprintf("%.1f s", medianOf(apply)), fmt.Sprint(len(apply)), "<= 20 s", met(medianOf(apply), 20)},
		[5]string{"Kubernetes (" + srv.Name + "): primary pod deleted -> writes accepted again", fmt.Sprintf("%.1f s", medianOf(back)), fmt.Sprint(len(back)), "<= 12 s", met(medianOf(back), 12)},
		[5]string{"  of which writes refused", fmt.Sprintf("%.1f s", medianOf(gap)), fmt.Sprint(len(gap)), "-", "-"},
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

func met(v, max float64) string {
	if v <= max {
		return "yes"
	}
	return "NO"
}

// summaryRows appends rows (figure, median, n, target, met) to the file
// named by BENCH_SUMMARY, in deploy/bench's format.
func summaryRows(b *testing.B, rows ...[5]string) {
	f := os.Getenv("BENCH_SUMMARY")
	if f == "" {
		return
	}
	fh, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		b.Logf("summary: %v", err)
		return
	}
	defer fh.Close()
	for _, r := range rows {
		fmt.Fprintf(fh, "%s\t%s\t%s\t%s\t%s\n", r[0], r[1], r[2], r[3], r[4])
	}
}
