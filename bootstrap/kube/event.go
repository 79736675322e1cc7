package kube

import (
	"context"
	"time"
)

// Event is a core/v1 Event about a pod.
type Event struct {
	Pod       string // the pod's name
	PodUID    string // the pod's UID, from GetPod; may be empty
	Type      string // "Normal" (default) or "Warning"
	Reason    string // UpperCamelCase, such as LeaseAcquired
	Message   string // cut to MaxEventMessage bytes
	Component string // source.component and reportingComponent, such as mysql-bootstrap
}

// MaxEventMessage is how many bytes of Event.Message are sent.
const MaxEventMessage = 1024

type eventJSON struct {
	APIVersion     string     `json:"apiVersion"`
	Kind           string     `json:"kind"`
	Metadata       objectMeta `json:"metadata"`
	InvolvedObject struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
		Namespace  string `json:"namespace"`
		Name       string `json:"name"`
		UID        string `json:"uid,omitempty"`
	} `json:"involvedObject"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Type    string `json:"type"`
	Source  struct {
		Component string `json:"component,omitempty"`
	} `json:"source"`
	FirstTimestamp     string `json:"firstTimestamp"`
	LastTimestamp      string `json:"lastTimestamp"`
	Count              int32  `json:"count"`
	ReportingComponent string `json:"reportingComponent,omitempty"`
	ReportingInstance  string `json:"reportingInstance,omitempty"`
}

// CreateEvent posts e in the client's namespace, named after the pod with
// a suffix the API server picks.
func (c *Client) CreateEvent(ctx context.Context, e Event) error {
	var j eventJSON
	j.APIVersion, j.Kind = "v1", "Event"
	j.Metadata = objectMeta{GenerateName: e.Pod + ".", Namespace: c.namespace}
	j.InvolvedObject.Kind, j.InvolvedObject.APIVersion = "Pod", "v1"
	j.InvolvedObject.Namespace, j.InvolvedObject.Name, j.InvolvedObject.UID = c.namespace, e.Pod, e.PodUID
	j.Reason, j.Message, j.Type = e.Reason, truncate(e.Message, MaxEventMessage), e.Type
	if j.Type == "" {
		j.Type = "Normal"
	}
	j.Source.Component, j.ReportingComponent = e.Component, e.Component
	if e.Component != "" {
		j.ReportingInstance = e.Pod
	}
	now := c.now().UTC().Format(time.RFC3339) // metav1.Time: whole seconds
	j.FirstTimestamp, j.LastTimestamp, j.Count = now, now, 1
	return c.do(ctx, "POST", c.nsPath("/api/v1", "events", ""), "application/json", j, nil)
}
