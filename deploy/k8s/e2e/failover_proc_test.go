package e2e

import (
	"os"
	"testing"
)

// TestInPodCgroup needs no cluster: the cgroup paths freeze matches.
func TestInPodCgroup(t *testing.T) {
	const uid = "3f2c1a9e-5b7d-4c11-9e0f-0123456789ab"
	for _, tc := range []struct {
		name, cgroup string
		want         bool
	}{
		{"cgroupfs v1", "12:memory:/kubepods/besteffort/pod" + uid + "/0a1b2c\n11:pids:/kubepods/besteffort/pod" + uid + "/0a1b2c\n", true},
		{"cgroupfs v1, guaranteed", "4:cpu,cpuacct:/kubepods/pod" + uid + "/0a1b2c\n", true},
		{"systemd driver", "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f2c1a9e_5b7d_4c11_9e0f_0123456789ab.slice/cri-containerd-0a1b.scope\n", true},
		{"under a parent cgroup", "4:memory:/process_api/x/kubepods/burstable/pod" + uid + "/0a1b2c\n", true},
		{"another pod", "4:memory:/kubepods/besteffort/pod3f2c1a9e-5b7d-4c11-9e0f-0123456789ac/0a1b2c\n", false},
		{"not a pod", "4:memory:/\n0::/user.slice\n", false},
		{"malformed", "garbage\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := inPodCgroup(tc.cgroup, uid); got != tc.want {
				t.Errorf("inPodCgroup(%q) = %v, want %v", tc.cgroup, got, tc.want)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	stat := "4242 (my (odd) name) T 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 987654 1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
	p, err := parseStat(4242, stat)
	if err != nil {
		t.Fatal(err)
	}
	if p.comm != "my (odd) name" || p.state != "T" || p.start != "987654" {
		t.Errorf("parseStat = %+v, want comm %q, state T, start 987654", p, "my (odd) name")
	}
	if _, err := parseStat(1, "1 (short) S 0"); err == nil {
		t.Error("a short stat line parsed")
	}
	// This process's own stat parses, and its start time stays the same.
	a, err := readProcess(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	b, err := readProcess(os.Getpid())
	if err != nil || a.start != b.start || a.start == "" {
		t.Errorf("readProcess: %+v then %+v (%v)", a, b, err)
	}
}
