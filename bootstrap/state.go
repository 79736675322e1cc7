package bootstrap

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/decide"
	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
	"github.com/mysql-bootstrap/mysql-bootstrap/internal/atomicfile"
)

// stateFile is the file in STATE_DIR.
const stateFile = "sidecar-state.json"

// savedState is the part of Memory that must survive a restart of the
// sidecar or the server: a replica restarted while the primary is down
// can then still tell how old its data is, and that it had caught up.
// It is kept on the data volume, so it goes when the data goes; and it is
// only used while the server still holds what it held when it was saved.
type savedState struct {
	// Flavor is the server flavour the GTID sets are written in.
	Flavor string `json:"flavor"`
	// Origin and GTIDs are the local server's identity and transactions
	// when saved: a server whose data was replaced no longer matches.
	Origin string `json:"origin"`
	GTIDs  string `json:"gtids"`

	FreshAsOf    time.Time `json:"freshAsOf,omitzero"`
	PrimaryGTIDs string    `json:"primaryGtids"`
	PrimaryKnown bool      `json:"primaryKnown"`
	CaughtUp     bool      `json:"caughtUp"`
	Snapshot     string    `json:"snapshot"`
	SnapshotSet  bool      `json:"snapshotSet"`
	// ChannelFP is the tag (PasswordTag) of the password last given to the
	// replication channel.
	ChannelFP string `json:"channelPassword,omitempty"`
	// Diverged: see Memory.Diverged.
	Diverged bool `json:"diverged,omitempty"`
	// TookWrites (a primary): Origin and GTIDs are the data it took writes
	// with (Memory.Lineage).
	TookWrites bool `json:"tookWrites,omitempty"`
}

// primaryStateOf is what a primary keeps: the data it takes writes with.
func primaryStateOf(l decide.LocalFacts, m decide.Memory) savedState {
	return savedState{
		Flavor:     l.Server.Flavor.String(),
		Origin:     m.Lineage.Origin,
		GTIDs:      m.Lineage.GTIDs.String(),
		TookWrites: m.Lineage.Known,
	}
}

// restoreLineage returns m with the lineage a primary recorded, for decide
// to compare with its data (lineageIntact); ok is false when there is none.
func (s savedState) restoreLineage(l decide.LocalFacts, m decide.Memory) (decide.Memory, bool, error) {
	if !s.TookWrites || s.Flavor != l.Server.Flavor.String() {
		return m, false, nil
	}
	g, err := sqldialect.ParseGTIDSet(l.Server.Flavor, s.GTIDs)
	if err != nil {
		return m, false, err
	}
	m.Lineage = decide.Lineage{Known: true, Origin: s.Origin, GTIDs: g}
	return m, true, nil
}

func stateOf(l decide.LocalFacts, m decide.Memory) savedState {
	return savedState{
		Flavor:       l.Server.Flavor.String(),
		Origin:       l.Origin,
		GTIDs:        l.GTIDs.String(),
		FreshAsOf:    m.FreshAsOf,
		PrimaryGTIDs: m.PrimaryGTIDs.String(),
		PrimaryKnown: m.PrimaryGTIDs.Flavor() != 0,
		CaughtUp:     m.CaughtUp,
		Snapshot:     m.Snapshot.String(),
		SnapshotSet:  m.Snapshot.Flavor() != 0,
		ChannelFP:    m.ChannelFP,
		Diverged:     m.Diverged,
	}
}

// sameButFresher reports whether s and o differ only in FreshAsOf.
func (s savedState) sameButFresher(o savedState) bool {
	s.FreshAsOf, o.FreshAsOf = time.Time{}, time.Time{}
	return s == o
}

// restore returns m with the saved facts, if they belong to the server
// observed in l: same flavour and origin, and it still holds every
// transaction it held then. ok is false when they do not apply.
func (s savedState) restore(l decide.LocalFacts, m decide.Memory) (decide.Memory, bool, error) {
	f := l.Server.Flavor
	if s.Flavor != f.String() || s.Origin != l.Origin {
		return m, false, nil
	}
	then, err := sqldialect.ParseGTIDSet(f, s.GTIDs)
	if err != nil {
		return m, false, err
	}
	if !l.GTIDs.Contains(then) {
		return m, false, nil
	}
	if s.PrimaryKnown {
		if m.PrimaryGTIDs, err = sqldialect.ParseGTIDSet(f, s.PrimaryGTIDs); err != nil {
			return m, false, err
		}
	}
	if s.SnapshotSet {
		if m.Snapshot, err = sqldialect.ParseGTIDSet(f, s.Snapshot); err != nil {
			return m, false, err
		}
	}
	m.FreshAsOf, m.CaughtUp, m.ChannelFP, m.Diverged = s.FreshAsOf, s.CaughtUp, s.ChannelFP, s.Diverged
	return m, true, nil
}

// stateStore reads and writes the state file; a zero dir keeps nothing.
type stateStore struct {
	dir       string
	written   savedState
	writtenAt time.Time
}

// load returns the saved state, or ok=false when there is none.
func (st *stateStore) load() (s savedState, ok bool, err error) {
	if st.dir == "" {
		return s, false, nil
	}
	b, err := os.ReadFile(filepath.Join(st.dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return s, false, nil
	}
	if err != nil {
		return s, false, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, false, fmt.Errorf("%s: %w", filepath.Join(st.dir, stateFile), err)
	}
	st.written = s
	return s, true, nil
}

// save writes s when it changed, or when only its freshness moved and the
// last write is stateWriteEvery old.
func (st *stateStore) save(s savedState, now time.Time) error {
	if st.dir == "" || s == st.written || s.sameButFresher(st.written) && now.Sub(st.writtenAt) < stateWriteEvery {
		return nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if _, err := atomicfile.WriteChanged(filepath.Join(st.dir, stateFile), append(b, '\n'), 0o640); err != nil {
		return err
	}
	st.written, st.writtenAt = s, now
	return nil
}
