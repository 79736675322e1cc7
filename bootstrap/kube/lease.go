package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Lease is a coordination.k8s.io/v1 Lease, the fields the sidecar uses.
// Its JSON form (MarshalJSON, UnmarshalJSON) is the API's.
//
// UpdateLease replaces the whole object: labels, owner references and spec
// fields this type does not model are dropped. The sidecar owns its Lease;
// annotations, which people and `switchover` write, are kept as read.
type Lease struct {
	Name            string
	ResourceVersion string // set by the API; UpdateLease sends it back

	HolderIdentity       string
	LeaseDurationSeconds int32
	AcquireTime          time.Time
	RenewTime            time.Time
	LeaseTransitions     int32

	Annotations map[string]string
}

// MicroTimeFormat is how the API writes a MicroTime (acquireTime, renewTime).
const MicroTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// microTime is a metav1.MicroTime: UTC, six fractional digits.
type microTime struct{ time.Time }

func (t microTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(t.UTC().Format(MicroTimeFormat))
}

func (t *microTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	p, err := time.Parse(time.RFC3339, s) // accepts any number of fractional digits
	if err != nil {
		return err
	}
	t.Time = p
	return nil
}

type objectMeta struct {
	Name            string            `json:"name,omitempty"`
	GenerateName    string            `json:"generateName,omitempty"`
	Namespace       string            `json:"namespace,omitempty"`
	UID             string            `json:"uid,omitempty"`
	ResourceVersion string            `json:"resourceVersion,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	Annotations     map[string]string `json:"annotations,omitempty"`
}

type leaseJSON struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		HolderIdentity       string    `json:"holderIdentity,omitempty"`
		LeaseDurationSeconds int32     `json:"leaseDurationSeconds,omitempty"`
		AcquireTime          microTime `json:"acquireTime,omitzero"`
		RenewTime            microTime `json:"renewTime,omitzero"`
		LeaseTransitions     int32     `json:"leaseTransitions,omitempty"`
	} `json:"spec"`
}

// MarshalJSON writes l as the API's Lease object; zero times, an empty
// holder and zero counts are left out.
func (l Lease) MarshalJSON() ([]byte, error) {
	var j leaseJSON
	j.APIVersion, j.Kind = "coordination.k8s.io/v1", "Lease"
	j.Metadata = objectMeta{Name: l.Name, ResourceVersion: l.ResourceVersion, Annotations: l.Annotations}
	j.Spec.HolderIdentity = l.HolderIdentity
	j.Spec.LeaseDurationSeconds = l.LeaseDurationSeconds
	j.Spec.AcquireTime = microTime{l.AcquireTime}
	j.Spec.RenewTime = microTime{l.RenewTime}
	j.Spec.LeaseTransitions = l.LeaseTransitions
	return json.Marshal(j)
}

// UnmarshalJSON reads the API's Lease object.
func (l *Lease) UnmarshalJSON(b []byte) error {
	var j leaseJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*l = Lease{
		Name:                 j.Metadata.Name,
		ResourceVersion:      j.Metadata.ResourceVersion,
		HolderIdentity:       j.Spec.HolderIdentity,
		LeaseDurationSeconds: j.Spec.LeaseDurationSeconds,
		AcquireTime:          j.Spec.AcquireTime.Time,
		RenewTime:            j.Spec.RenewTime.Time,
		LeaseTransitions:     j.Spec.LeaseTransitions,
		Annotations:          j.Metadata.Annotations,
	}
	return nil
}

const leasePrefix = "/apis/coordination.k8s.io/v1"

// GetLease reads the Lease name; ErrNotFound if there is none.
func (c *Client) GetLease(ctx context.Context, name string) (*Lease, error) {
	var l Lease
	if err := c.do(ctx, "GET", c.nsPath(leasePrefix, "leases", name), "", nil, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// CreateLease creates l (its ResourceVersion must be empty) and returns it
// as stored; ErrConflict if a Lease of that name exists already.
func (c *Client) CreateLease(ctx context.Context, l *Lease) (*Lease, error) {
	if l.ResourceVersion != "" {
		return nil, fmt.Errorf("create lease %s: resourceVersion %q is set, expected none for a new object", l.Name, l.ResourceVersion)
	}
	var out Lease
	if err := c.do(ctx, "POST", c.nsPath(leasePrefix, "leases", ""), "application/json", l, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateLease replaces the Lease l.Name if it is still at l.ResourceVersion
// and returns it with its new ResourceVersion; ErrConflict if someone
// changed it in between (read it again and decide again).
func (c *Client) UpdateLease(ctx context.Context, l *Lease) (*Lease, error) {
	if l.ResourceVersion == "" {
		return nil, fmt.Errorf("update lease %s: resourceVersion is empty, expected the one it was read at", l.Name)
	}
	var out Lease
	if err := c.do(ctx, "PUT", c.nsPath(leasePrefix, "leases", l.Name), "application/json", l, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
