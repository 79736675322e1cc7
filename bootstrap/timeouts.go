package bootstrap

import "time"

// The timeouts and paces of the sidecar's passes, connections and HTTP.
// Not all of them are here: the others stand beside what they pace.
//   - The back-offs and waits of decisions are in package decide (decide.go)
//     (changeBackoffFirst/Max, startBackoffFirst/Max, seedBackoffFirst/Max,
//     restartTolerance, peerWaitMax).
//   - The replication channel's settings (connectRetry, retryCount,
//     heartbeatPeriod) are in act.go.
//   - Each one-shot command bounds itself in its file: aliveTimeout and
//     seedStaleAfter (cmdalive.go), stopTimeout (cmdstop.go), peersTimeout
//     (cmdpeers.go), wait-dns's --timeout (cmdwaitdns.go).
//   - hostsRereads and hostsReread (config.go) bound the wait for the
//     kubelet's hosts file; the seed package has its own (progressInterval,
//     logInterval, the donor's connection).
//   - What a person may change is a variable (config.go): WAIT_TIMEOUT,
//     RECONCILE_INTERVAL, MAX_REPLICATION_LAG, SEED_TIMEOUT,
//     SEED_STALL_TIMEOUT.
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
	// cloneKillTimeout bounds the KILL that stops a stalled clone, sent on
	// a connection of its own: MySQL 9.7 answered it within 0.5 s in every
	// measured case (a donor frozen or cut off mid-copy), so a KILL still
	// unanswered after this long is given up for the pass.
	cloneKillTimeout = 5 * time.Second
	// httpReadHeaderTimeout bounds a client's request headers.
	httpReadHeaderTimeout = 5 * time.Second
	// peerTimeout bounds one peer's answer to GET /status.
	peerTimeout = 2 * time.Second

	// Connection settings of every pool: a dial, then reads and writes.
	dialTimeout  = 2 * time.Second
	ioTimeout    = 10 * time.Second
	connLifetime = 10 * time.Minute

	// Waiting for the local server: poll every 50 ms (a pod's server
	// usually comes up within seconds of its sidecar, and the sooner it is
	// seen the sooner the pod serves; a refused connection on loopback
	// costs microseconds, so 20 a second cost nothing measurable); log
	// every 5 s. Was 100 ms doubling to 250 ms: the sidecar saw its server
	// 0.07-0.22 s after it accepted (make bench, 2026-12-06).
	localPollFirst = 50 * time.Millisecond
	localPollMax   = 50 * time.Millisecond
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
