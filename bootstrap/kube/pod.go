package kube

import "context"

// PodMeta is what the sidecar reads of a pod: its name, UID (for Events)
// and labels.
type PodMeta struct {
	Name   string
	UID    string
	Labels map[string]string
}

// GetPod reads the metadata of the pod named pod; ErrNotFound if there is none.
func (c *Client) GetPod(ctx context.Context, pod string) (*PodMeta, error) {
	var p struct {
		Metadata objectMeta `json:"metadata"`
	}
	if err := c.do(ctx, "GET", c.nsPath("/api/v1", "pods", pod), "", nil, &p); err != nil {
		return nil, err
	}
	return &PodMeta{Name: p.Metadata.Name, UID: p.Metadata.UID, Labels: p.Metadata.Labels}, nil
}

// GetPodLabels returns the labels of the pod named pod.
func (c *Client) GetPodLabels(ctx context.Context, pod string) (map[string]string, error) {
	p, err := c.GetPod(ctx, pod)
	if err != nil {
		return nil, err
	}
	return p.Labels, nil
}

// PatchPodLabels sets the labels of the pod named pod with a JSON merge
// patch: a label with a nil value is removed, labels not in the map are
// left alone. With Go 1.26: map[string]*string{"role": new("primary")}.
func (c *Client) PatchPodLabels(ctx context.Context, pod string, labels map[string]*string) error {
	patch := map[string]any{"metadata": map[string]any{"labels": labels}}
	return c.do(ctx, "PATCH", c.nsPath("/api/v1", "pods", pod), "application/merge-patch+json", patch, nil)
}
