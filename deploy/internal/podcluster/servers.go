package podcluster

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Server is a database server image a cluster can run.
type Server struct {
	// Name is the server's build target in images/build.sh and its name in
	// the Makefile's SERVER switch ("mysql-9.7"); for another image, the
	// image reference.
	Name  string
	Image string
	// Flavor is the FLAVOR mysql-bootstrap is given for it: mysql, mariadb
	// or auto.
	Flavor string
	// Local is true for an image images/build.sh builds (it can be built
	// when missing).
	Local bool
}

// LocalServers are the server images images/build.sh builds, oldest
// flavour first.
var LocalServers = []Server{
	{Name: "mariadb-10.11", Image: "mysql-bootstrap/mariadb:10.11", Flavor: "mariadb", Local: true},
	{Name: "mariadb-11.8", Image: "mysql-bootstrap/mariadb:11.8", Flavor: "mariadb", Local: true},
	{Name: "mysql-9.7", Image: "mysql-bootstrap/mysql:9.7", Flavor: "mysql", Local: true},
}

// DefaultServer is the server a single cluster runs unless told otherwise.
var DefaultServer = LocalServers[0]

// LookupServer returns the server named name (a LocalServers name, "mysql"
// for the newest MySQL, "mariadb" for MariaDB 10.11), or an image reference
// with the flavour guessed from its name.
func LookupServer(name string) Server {
	switch name {
	case "mariadb":
		return LocalServers[0]
	case "mysql":
		return LocalServers[len(LocalServers)-1]
	}
	for _, s := range LocalServers {
		if s.Name == name || s.Image == name {
			return s
		}
	}
	flavor := "auto"
	switch base := strings.ToLower(name[strings.LastIndex(name, "/")+1:]); {
	case strings.HasPrefix(base, "mariadb"):
		flavor = "mariadb"
	case strings.HasPrefix(base, "mysql"), strings.HasPrefix(base, "percona"):
		flavor = "mysql"
	}
	return Server{Name: name, Image: name, Flavor: flavor}
}

// LocalServersNamed returns the local servers a comma- or space-separated
// list names (mariadb-10.11, mariadb-11.8, mysql-9.7; "mysql" and "mariadb"
// too), for a variable such as E2E_SERVERS; the error names the variable.
func LocalServersNamed(variable, names string) ([]Server, error) {
	var out []Server
	for _, n := range strings.FieldsFunc(names, func(r rune) bool { return r == ',' || r == ' ' }) {
		s := LookupServer(n)
		if !s.Local {
			return nil, fmt.Errorf("%s: %q is not one of the local servers (mysql-9.7, mariadb-11.8, mariadb-10.11)", variable, n)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s=%q names no server", variable, names)
	}
	return out, nil
}

// OpenDB returns a pool of connections to the server at addr (host:port)
// as user, with the tests' timeouts.
func OpenDB(addr, user, password, database string) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = addr
	cfg.User = user
	cfg.Passwd = password
	cfg.DBName = database
	cfg.Timeout = 3 * time.Second
	cfg.ReadTimeout = 15 * time.Second
	cfg.WriteTimeout = 15 * time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(4)
	db.SetConnMaxLifetime(time.Minute)
	return db, nil
}

// ParseServerEnv parses "NAME=value NAME=value" (spaces or commas between
// pairs) into a map, for variables such as E2E_SERVER_ENV.
func ParseServerEnv(s string) (map[string]string, error) {
	env := map[string]string{}
	for _, kv := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\n' || r == '\t' }) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not NAME=value", kv)
		}
		env[k] = v
	}
	return env, nil
}

// ServerVersion is what a server image's binary says it is.
type ServerVersion struct {
	Flavor  string // mysql or mariadb
	Version string // 9.7.4, 11.8.9
	Line    string // the whole --version line
}

// String is flavor-version, e.g. mysql-9.7.4: the name tests use.
func (v ServerVersion) String() string { return v.Flavor + "-" + v.Version }

var versionRE = regexp.MustCompile(`Ver (\d+\.\d+\.\d+)`)

// ParseServerVersion reads `mysqld --version` / `mariadbd --version` output
// (the first line with "Ver X.Y.Z": MariaDB may add warnings).
func ParseServerVersion(out string) (ServerVersion, error) {
	var line string
	var m []string
	for _, l := range strings.Split(out, "\n") {
		if m = versionRE.FindStringSubmatch(l); m != nil {
			line = strings.TrimSpace(l)
			break
		}
	}
	if m == nil {
		return ServerVersion{}, fmt.Errorf("no version in %q", strings.TrimSpace(out))
	}
	flavor := "mysql"
	if strings.Contains(strings.ToLower(line), "mariadb") {
		flavor = "mariadb"
	}
	return ServerVersion{Flavor: flavor, Version: m[1], Line: line}, nil
}

// ImageServerVersion runs image with the argument --version (the official
// images' entrypoints, and ours, run the server binary with it and exit)
// and parses what it prints. Nothing is pulled; the container is removed.
func ImageServerVersion(ctx context.Context, image string) (ServerVersion, error) {
	cli, err := NewDockerClient()
	if err != nil {
		return ServerVersion{}, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image:  image,
			Cmd:    []string{"--version"},
			Labels: map[string]string{LabelRun: "version-probe"},
		},
		HostConfig: &container.HostConfig{NetworkMode: "none"},
	})
	if err != nil {
		return ServerVersion{}, fmt.Errorf("%s --version: %w", image, err)
	}
	id := created.ID
	defer func() {
		rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer rcancel()
		_, _ = cli.ContainerRemove(rctx, id, client.ContainerRemoveOptions{Force: true})
	}()
	if _, err := cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return ServerVersion{}, fmt.Errorf("%s --version: %w", image, err)
	}
	w := cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-w.Result:
	case err := <-w.Error:
		return ServerVersion{}, fmt.Errorf("%s --version: %w", image, err)
	case <-ctx.Done():
		return ServerVersion{}, fmt.Errorf("%s --version: %w", image, ctx.Err())
	}
	c := &Cluster{docker: cli}
	res := c.logs(id)
	v, err := ParseServerVersion(res.Output())
	if err != nil {
		return v, fmt.Errorf("%s --version: %w", image, err)
	}
	return v, nil
}

// envOrServer returns the server named by the variable name, else def.
func envOrServer(name string, def Server) Server {
	if v := os.Getenv(name); v != "" {
		return LookupServer(v)
	}
	return def
}

// ContainerOutput returns a container's stdout followed by its stderr.
func ContainerOutput(cli *client.Client, id string) string {
	c := &Cluster{docker: cli}
	return c.logs(id).Output()
}
