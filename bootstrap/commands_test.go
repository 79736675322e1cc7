package bootstrap

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"
)

// runCommandLine runs args as main does, in an empty environment (--help
// must not need one), and returns what it printed and its exit code.
func runCommandLine(args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	err := Run(context.Background(), args, Stdio{Out: &out, Err: &errOut}, Loader{Lookuper: envconfig.MapLookuper(nil)})
	if err != nil {
		// As main prints it.
		errOut.WriteString("mysql-bootstrap: " + err.Error() + "\n")
	}
	return out.String(), errOut.String(), ExitCode(err)
}

func TestHelpListsEveryCommand(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		out, errOut, code := runCommandLine(args...)
		if code != ExitOK || errOut != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
		}
		for _, c := range commands() {
			if !strings.Contains(out, "mysql-bootstrap "+c.name) || !strings.Contains(out, c.summary) {
				t.Errorf("%v does not list %s with its summary", args, c.name)
			}
		}
		for _, v := range Variables() {
			if !strings.Contains(out, v.Name) {
				t.Errorf("%v does not list %s", args, v.Name)
			}
		}
	}
}

func TestCommandHelp(t *testing.T) {
	t.Parallel()
	for _, c := range commands() {
		for _, args := range [][]string{{c.name, "--help"}, {c.name, "-h"}, {"help", c.name}} {
			out, errOut, code := runCommandLine(args...)
			if code != ExitOK || errOut != "" {
				t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
				continue
			}
			for _, want := range []string{c.summary, "Usage:\n  mysql-bootstrap " + c.name, "Environment: "} {
				if !strings.Contains(out, want) {
					t.Errorf("%v does not say %q:\n%s", args, want, out)
				}
			}
		}
	}
	// The flags are listed with their help.
	out, _, _ := runCommandLine("wait-dns", "--help")
	for _, want := range []string{"Flags:", "-port int", "also wait until this TCP port accepts connections", "-timeout duration"} {
		if !strings.Contains(out, want) {
			t.Errorf("wait-dns --help does not say %q:\n%s", want, out)
		}
	}
	if out, _, _ := runCommandLine("init", "--help"); strings.Contains(out, "Flags:") {
		t.Errorf("init --help lists flags it does not have:\n%s", out)
	}
}

func TestBadCommandLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate": expected identity, init,`},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"init", "--nope"}, "mysql-bootstrap init: flag provided but not defined: -nope"},
		{[]string{"version", "x"}, `version takes no arguments, got ["x"]`},
		{[]string{"wait-dns", "--timeout", "0s", "x"}, "--timeout=0s is invalid"},
		{[]string{"seed-exec", "docker-entrypoint.sh"}, "seed-exec needs the server's command after --"},
	}
	for _, tc := range tests {
		out, errOut, code := runCommandLine(tc.args...)
		if code != ExitInvalid || out != "" {
			t.Errorf("%v: exit %d, stdout %q; want 2 and nothing on stdout", tc.args, code, out)
		}
		if strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: stderr %q, want one line with %q", tc.args, errOut, tc.want)
		}
	}
}
