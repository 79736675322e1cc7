package bootstrap

import "time"

// Every timeout and pace of the sidecar, in one place.
const (
	// passTimeout bounds one reconcile pass (its queries and actions).
	passTimeout = 30 * time.Second
	// sourceQueryTimeout bounds a replica's questions to the primary, so
	// that a primary that is down does not hold up a pass.
	sourceQueryTimeout = 3 * time.Second
	// probeTimeout bounds what a probe asks the local server directly;
	// the manifests give probes 3 s.
	probeTimeout = 2 * time.Second
	// ShutdownTimeout bounds how long the sidecar takes to stop after
	// SIGTERM.
	ShutdownTimeout = 3 * time.Second
	// cloneUnguardTimeout bounds putting read-only and offline_mode back
	// after a failed CLONE.
	cloneUnguardTimeout = 10 * time.Second
	// httpReadHeaderTimeout bounds a client's request headers.
	httpReadHeaderTimeout = 5 * time.Second

	// Connection settings of every pool: a dial, then reads and writes.
	dialTimeout  = 2 * time.Second
	ioTimeout    = 10 * time.Second
	connLifetime = 10 * time.Minute

	// Waiting for the local server: poll from 100 ms, capped low (a pod's
	// server usually comes up within seconds of its sidecar, and the
	// sooner it is seen the sooner the pod serves); log every 5 s.
	localPollFirst = 100 * time.Millisecond
	localPollMax   = 250 * time.Millisecond
	progressEvery  = 5 * time.Second

	// Pacing of reconcile passes while not ready: a pod that is starting
	// or recovering is looked at often, so it joins its Service within a
	// fraction of a second of being able to; one that stays not ready (a
	// primary that is down) is looked at every second, not hammered.
	fastPass       = 250 * time.Millisecond
	slowPass       = time.Second
	fastPassWindow = 15 * time.Second

	// stateWriteEvery paces rewrites of the state file when only the
	// freshness of a replica's data moved.
	stateWriteEvery = 5 * time.Second

	// peerRefreshEvery is how often, at least, a sidecar lists its peers
	// to remember them (STATE_DIR/peers.json); peerMemoryWriteEvery paces
	// rewrites of that file when only the times peers were seen moved.
	peerRefreshEvery     = 30 * time.Second
	peerMemoryWriteEvery = time.Minute
)
