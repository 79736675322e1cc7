// Package wire holds what pods tell each other and their users: the
// /status document (Status and its parts), the roles, and the naming
// rule of a StatefulSet's pods (ParsePodName). Both the decision core
// (package decide) and the sidecar (package bootstrap) use it; it
// depends on neither.
package wire
