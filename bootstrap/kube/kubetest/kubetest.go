// Package kubetest is an in-memory stand-in for the few Kubernetes API
// calls package kube makes, served over TLS on loopback, for tests of the
// sidecar's kubernetes mode.
//
// It keeps Leases with the API's optimistic concurrency (a resourceVersion
// per write, 409 on a stale update or an existing name), pods' labels
// (changed by JSON merge patch) and the Events posted. It checks the
// bearer token. Namespaces are not kept apart: use one per Server.
package kubetest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/kube"
)

// Server is the fake API server. Its methods may be called from several
// goroutines.
type Server struct {
	srv       *httptest.Server
	token     string
	tokenFile string
	done      chan struct{} // closed at cleanup: blocked requests return

	mu      sync.Mutex
	rv      int64
	leases  map[string]kube.Lease
	pods    map[string]*pod
	events  []kube.Event
	fails   []failure
	blocked chan struct{} // non-nil while Block(true): closed by Block(false)
}

type pod struct {
	uid    string
	labels map[string]string
	rv     int64
}

type failure struct {
	method, path string
	code         int
}

// New starts a Server, closed when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		token:  "kubetest-token",
		done:   make(chan struct{}),
		leases: map[string]kube.Lease{},
		pods:   map[string]*pod{},
	}
	s.tokenFile = filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(s.tokenFile, []byte(s.token), 0o600); err != nil {
		t.Fatalf("kubetest: write token: %v", err)
	}
	mux := http.NewServeMux()
	const leases = "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"
	mux.HandleFunc("GET "+leases+"/{name}", s.getLease)
	mux.HandleFunc("POST "+leases, s.createLease)
	mux.HandleFunc("PUT "+leases+"/{name}", s.updateLease)
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/pods/{name}", s.getPod)
	mux.HandleFunc("PATCH /api/v1/namespaces/{ns}/pods/{name}", s.patchPod)
	mux.HandleFunc("POST /api/v1/namespaces/{ns}/events", s.createEvent)
	s.srv = httptest.NewTLSServer(s.gate(mux))
	t.Cleanup(s.srv.Close)
	t.Cleanup(func() { close(s.done) }) // runs first: Close waits for blocked requests
	return s
}

// URL is the server's base URL.
func (s *Server) URL() string { return s.srv.URL }

// TokenFile is the file holding the token the server accepts.
func (s *Server) TokenFile() string { return s.tokenFile }

// Client returns a kube.Client for this server acting in namespace, with
// the default timeout.
func (s *Server) Client(namespace string) *kube.Client {
	return kube.New(s.srv.URL, namespace, s.tokenFile, s.srv.Client())
}

// Lease returns the Lease name as stored.
func (s *Server) Lease(name string) (*kube.Lease, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.leases[name]
	if !ok {
		return nil, false
	}
	l.Annotations = maps.Clone(l.Annotations)
	return &l, true
}

// SetLease stores l as if another client had written it, with a new
// resourceVersion, whatever l.ResourceVersion says; it returns the new one.
func (s *Server) SetLease(l kube.Lease) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rv++
	l.ResourceVersion = strconv.FormatInt(s.rv, 10)
	l.Annotations = maps.Clone(l.Annotations)
	s.leases[l.Name] = l
	return l.ResourceVersion
}

// DeleteLease removes a Lease, as a person with kubectl delete would.
func (s *Server) DeleteLease(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.leases, name)
}

// AddPod makes a pod with no labels.
func (s *Server) AddPod(name, uid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rv++
	s.pods[name] = &pod{uid: uid, labels: map[string]string{}, rv: s.rv}
}

// Labels returns the labels of pod, nil if there is no such pod.
func (s *Server) Labels(name string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pods[name]; ok {
		return maps.Clone(p.labels)
	}
	return nil
}

// Events returns the Events posted so far, oldest first.
func (s *Server) Events() []kube.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]kube.Event(nil), s.events...)
}

// Fail makes requests whose method is method (any if empty) and whose
// path contains pathSubstring answer code with a Status, until Fail is
// called again for the same method and substring with code 0.
func (s *Server) Fail(method, pathSubstring string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails = slices.DeleteFunc(s.fails, func(f failure) bool { return f.method == method && f.path == pathSubstring })
	if code != 0 {
		s.fails = append(s.fails, failure{method, pathSubstring, code})
	}
}

// Block(true) makes every request hang until its client gives up, as an
// unreachable API server would; Block(false) lets them (and new ones) through.
func (s *Server) Block(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && s.blocked == nil:
		s.blocked = make(chan struct{})
	case !on && s.blocked != nil:
		close(s.blocked)
		s.blocked = nil
	}
}

// gate applies Block, the bearer token check and Fail before the handlers.
func (s *Server) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		blocked := s.blocked
		s.mu.Unlock()
		if blocked != nil {
			select {
			case <-r.Context().Done():
				return
			case <-s.done:
				return
			case <-blocked:
			}
		}
		if r.Header.Get("Authorization") != "Bearer "+s.token {
			status(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
			return
		}
		s.mu.Lock()
		code := 0
		for _, f := range s.fails {
			if (f.method == "" || f.method == r.Method) && strings.Contains(r.URL.Path, f.path) {
				code = f.code
			}
		}
		s.mu.Unlock()
		if code != 0 {
			status(w, code, http.StatusText(code), fmt.Sprintf("kubetest: injected failure for %s %s", r.Method, r.URL.Path))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// status writes a metav1.Status, as the API server answers errors.
func status(w http.ResponseWriter, code int, reason, message string) {
	reply(w, code, map[string]any{
		"apiVersion": "v1", "kind": "Status", "status": "Failure",
		"code": code, "reason": reason, "message": message,
	})
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		status(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", fmt.Sprintf("Content-Type %q, expected application/json", ct))
		return false
	}
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		status(w, http.StatusBadRequest, "BadRequest", err.Error())
		return false
	}
	return true
}

func (s *Server) getLease(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.Lock()
	l, ok := s.leases[name]
	s.mu.Unlock()
	if !ok {
		status(w, http.StatusNotFound, "NotFound", fmt.Sprintf("leases.coordination.k8s.io %q not found", name))
		return
	}
	reply(w, http.StatusOK, l)
}

func (s *Server) createLease(w http.ResponseWriter, r *http.Request) {
	var l kube.Lease
	if !decode(w, r, &l) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch _, exists := s.leases[l.Name]; {
	case l.Name == "":
		status(w, http.StatusUnprocessableEntity, "Invalid", "metadata.name: Required value")
	case l.ResourceVersion != "":
		status(w, http.StatusInternalServerError, "InternalError", "resourceVersion should not be set on objects to be created")
	case exists:
		status(w, http.StatusConflict, "AlreadyExists", fmt.Sprintf("leases.coordination.k8s.io %q already exists", l.Name))
	default:
		s.rv++
		l.ResourceVersion = strconv.FormatInt(s.rv, 10)
		s.leases[l.Name] = l
		reply(w, http.StatusCreated, l)
	}
}

func (s *Server) updateLease(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var l kube.Lease
	if !decode(w, r, &l) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, exists := s.leases[name]
	switch {
	case l.Name != name:
		status(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", l.Name, name))
	case !exists:
		status(w, http.StatusNotFound, "NotFound", fmt.Sprintf("leases.coordination.k8s.io %q not found", name))
	case l.ResourceVersion == "":
		status(w, http.StatusUnprocessableEntity, "Invalid", "metadata.resourceVersion: Invalid value: 0: must be specified for an update")
	case l.ResourceVersion != old.ResourceVersion:
		status(w, http.StatusConflict, "Conflict", fmt.Sprintf("Operation cannot be fulfilled on leases.coordination.k8s.io %q: the object has been modified; please apply your changes to the latest version and try again", name))
	default:
		s.rv++
		l.ResourceVersion = strconv.FormatInt(s.rv, 10)
		s.leases[name] = l
		reply(w, http.StatusOK, l)
	}
}

func (s *Server) podJSON(ns, name string, p *pod) map[string]any {
	return map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{
			"name": name, "namespace": ns, "uid": p.uid,
			"resourceVersion": strconv.FormatInt(p.rv, 10), "labels": p.labels,
		},
	}
}

func (s *Server) getPod(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pods[name]
	if !ok {
		status(w, http.StatusNotFound, "NotFound", fmt.Sprintf("pods %q not found", name))
		return
	}
	reply(w, http.StatusOK, s.podJSON(r.PathValue("ns"), name, p))
}

func (s *Server) patchPod(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if ct := r.Header.Get("Content-Type"); ct != "application/merge-patch+json" {
		status(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", fmt.Sprintf("Content-Type %q, expected application/merge-patch+json", ct))
		return
	}
	var patch struct {
		Metadata struct {
			Labels map[string]*string `json:"labels"`
		} `json:"metadata"`
	}
	if err := json.NewDecoder(r.Body).Decode(&patch); err != nil {
		status(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pods[name]
	if !ok {
		status(w, http.StatusNotFound, "NotFound", fmt.Sprintf("pods %q not found", name))
		return
	}
	for k, v := range patch.Metadata.Labels {
		if v == nil {
			delete(p.labels, k)
		} else {
			p.labels[k] = *v
		}
	}
	s.rv++
	p.rv = s.rv
	reply(w, http.StatusOK, s.podJSON(r.PathValue("ns"), name, p))
}

func (s *Server) createEvent(w http.ResponseWriter, r *http.Request) {
	var e struct {
		Metadata struct {
			GenerateName string `json:"generateName"`
		} `json:"metadata"`
		InvolvedObject struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"involvedObject"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
		Type    string `json:"type"`
		Source  struct {
			Component string `json:"component"`
		} `json:"source"`
	}
	if !decode(w, r, &e) {
		return
	}
	if e.InvolvedObject.Kind != "Pod" || e.InvolvedObject.Name == "" || e.Reason == "" || (e.Type != "Normal" && e.Type != "Warning") {
		status(w, http.StatusUnprocessableEntity, "Invalid", fmt.Sprintf("event: involvedObject %s %q, reason %q, type %q: expected a Pod, a reason and Normal or Warning",
			e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Type))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, kube.Event{
		Pod: e.InvolvedObject.Name, PodUID: e.InvolvedObject.UID, Type: e.Type,
		Reason: e.Reason, Message: e.Message, Component: e.Source.Component,
	})
	s.rv++
	reply(w, http.StatusCreated, map[string]any{
		"apiVersion": "v1", "kind": "Event",
		"metadata": map[string]any{"name": e.Metadata.GenerateName + strconv.FormatInt(s.rv, 36), "resourceVersion": strconv.FormatInt(s.rv, 10)},
	})
}
