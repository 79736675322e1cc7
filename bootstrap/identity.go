package bootstrap

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/wire"
)

// Identity is who a pod is, derived from its name and the configuration
// alone: no I/O, so it is the same wherever it is computed.
type Identity struct {
	Pod         string    `json:"pod"`
	StatefulSet string    `json:"statefulSet"`
	Ordinal     uint64    `json:"ordinal"`
	Role        wire.Role `json:"role"`
	ServerID    uint32    `json:"serverId"`
	Namespace   string    `json:"namespace"`
	Service     string    `json:"service,omitempty"`
	// PodHost is the pod's stable name behind the headless Service.
	PodHost string `json:"podHost,omitempty"`
	// ServiceHost is the headless Service's name, which resolves to every
	// pod of the StatefulSet.
	ServiceHost string `json:"serviceHost,omitempty"`
	// PrimaryHost is the primary's stable name, or PRIMARY_HOST.
	PrimaryHost string `json:"primaryHost,omitempty"`
	// primaryOverride is set when PrimaryHost came from PRIMARY_HOST, which
	// may be a short name meant for the resolver's search list.
	primaryOverride bool
}

// PrimaryLookupName is the name to resolve when waiting for the primary: a
// derived stable name is fully qualified, so it is queried as an absolute
// name (trailing dot) and never expanded through the pod's search list
// (ndots:5 would otherwise try three wrong names first).
func (id Identity) PrimaryLookupName() string {
	if id.primaryOverride {
		return id.PrimaryHost
	}
	return id.PrimaryHost + "."
}

// IsPrimary reports whether the pod is ordinal 0.
func (id Identity) IsPrimary() bool { return id.Role == wire.RolePrimary }

// NewIdentity derives the pod's identity from the configuration.
func NewIdentity(c *Config) (Identity, error) {
	sts, ordinal, err := wire.ParsePodName(c.PodName)
	if err != nil {
		source := "POD_NAME"
		if c.PodNameFromHostname {
			source = "POD_NAME is not set and the hostname"
		}
		return Identity{}, &configError{problems: []string{source + ": " + err.Error()}}
	}
	id := uint64(c.ServerIDBase) + ordinal
	if id < 1 || id > wire.MaxServerID {
		return Identity{}, invalidf("server_id = SERVER_ID_BASE %d + ordinal %d = %d is out of range: expected 1..%d (change SERVER_ID_BASE)", c.ServerIDBase, ordinal, id, uint64(wire.MaxServerID))
	}
	ident := Identity{
		Pod:         c.PodName,
		StatefulSet: sts,
		Ordinal:     ordinal,
		Role:        wire.RoleReplica,
		ServerID:    uint32(id),
		Namespace:   c.Namespace,
		Service:     c.ServiceName,
	}
	if ordinal == 0 {
		ident.Role = wire.RolePrimary
	}
	if c.ServiceName != "" {
		suffix := "." + c.ServiceName + "." + c.Namespace + ".svc." + c.ClusterDomain
		ident.PodHost = c.PodName + suffix
		ident.PrimaryHost = sts + "-0" + suffix
		ident.ServiceHost = strings.TrimPrefix(suffix, ".")
	}
	if c.PrimaryHost != "" {
		ident.PrimaryHost = c.PrimaryHost
		ident.primaryOverride = true
	}
	return ident, nil
}

// PeerPod checks a donor's host before anything connects to it (a MySQL
// CLONE, which sends the replication password; a MariaDB seed's token): it
// must be the stable name of another pod of this pod's StatefulSet,
// <statefulset>-<N>.<service>.<namespace>.svc.<domain> (a trailing dot
// allowed), or exactly the configured PRIMARY_HOST. It returns the pod's
// name (the host's first label). A host a peer reported, or a request file
// holds, is never trusted further than this.
func (id Identity) PeerPod(host string) (string, error) {
	h := strings.TrimSuffix(host, ".")
	pod, rest, _ := strings.Cut(h, ".")
	if id.primaryOverride && h == strings.TrimSuffix(id.PrimaryHost, ".") && h != "" {
		return pod, nil
	}
	want := id.StatefulSet + "-<N>." + id.ServiceHost
	if id.ServiceHost == "" {
		return "", fmt.Errorf("donor host %q refused: without SERVICE_NAME this pod cannot tell its StatefulSet's pods (want %s-<N>.<service>.<namespace>.svc.<domain>)", host, id.StatefulSet)
	}
	sts, _, err := wire.ParsePodName(pod)
	if err != nil || sts != id.StatefulSet || rest != id.ServiceHost || pod == id.Pod {
		return "", fmt.Errorf("donor host %q refused: not another pod of StatefulSet %s (want %s)", host, id.StatefulSet, want)
	}
	return pod, nil
}

// Env returns the identity as shell-sourceable KEY=value lines, values
// single-quoted so any script can `. <(mysql-bootstrap identity --format env)`.
func (id Identity) Env() string {
	var b strings.Builder
	kv := func(k, v string) {
		b.WriteString(k + "=" + shellQuote(v) + "\n")
	}
	kv("POD", id.Pod)
	kv("STATEFULSET", id.StatefulSet)
	kv("ORDINAL", strconv.FormatUint(id.Ordinal, 10))
	kv("ROLE", string(id.Role))
	kv("SERVER_ID", strconv.FormatUint(uint64(id.ServerID), 10))
	kv("NAMESPACE", id.Namespace)
	kv("SERVICE", id.Service)
	kv("POD_HOST", id.PodHost)
	kv("SERVICE_HOST", id.ServiceHost)
	kv("PRIMARY_HOST", id.PrimaryHost)
	return b.String()
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
