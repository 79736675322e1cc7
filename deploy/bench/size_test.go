package bench

import (
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/deploy/internal/podcluster"
)

// BenchmarkBinarySize builds ./cmd/mysql-bootstrap as `make build` and the
// image do (static, -trimpath, -s -w) into a temporary directory and
// reports its size, and the size of the mysql-bootstrap image.
func BenchmarkBinarySize(b *testing.B) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	must(b, err)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		b.Fatalf("module root not found at %s: %v", root, err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	var size int64
	for b.Loop() {
		out := filepath.Join(b.TempDir(), "mysql-bootstrap")
		cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/mysql-bootstrap")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local")
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go build: %v\n%s", err, msg)
		}
		fi, err := os.Stat(out)
		must(b, err)
		size = fi.Size()
		f, err := elf.Open(out)
		must(b, err)
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				b.Errorf("%s is dynamically linked (has an ELF interpreter)", out)
			}
		}
		f.Close()
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(size), "bytes_binary")
	rows := []summaryRow{{Figure: "static binary (CGO_ENABLED=0 -trimpath -s -w)", Value: fmt.Sprintf("%.2f MB (%d B)", float64(size)/1e6, size),
		N: 1, Target: "<= 15 MB", Met: verdict(float64(size)/1e6, 15)}}

	if dockerSkip == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cli, err := podcluster.NewDockerClient()
		must(b, err)
		defer cli.Close()
		in, err := cli.ImageInspect(ctx, images.Bootstrap)
		must(b, err)
		b.ReportMetric(float64(in.Size), "bytes_image")
		rows = append(rows, summaryRow{Figure: "image " + images.Bootstrap, Value: fmt.Sprintf("%.2f MB", float64(in.Size)/1e6), N: 1, Target: "-", Met: "-"})
	} else {
		b.Logf("image size not measured: %s", dockerSkip)
	}
	summarize(b, rows...)
}
