package seed

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mysql-bootstrap/mysql-bootstrap/bootstrap/sqldialect"
)

// Files mariadb-backup writes into a backup. 11.1 renamed them from
// xtrabackup_* to mariadb_backup_*; both are read, the new name first.
var (
	binlogInfoFiles = []string{"mariadb_backup_binlog_info", "xtrabackup_binlog_info"}
	slaveInfoFiles  = []string{"mariadb_backup_slave_info", "xtrabackup_slave_info"}
)

// Position is where a backup's data stands in the replication history.
type Position struct {
	// GTID is the GTID state of the data: what the restored server must
	// take as gtid_slave_pos (SET GLOBAL gtid_slave_pos = GTID) before
	// CHANGE MASTER … MASTER_USE_GTID=slave_pos. Empty when the donor
	// recorded none (no binary log and not a replica): the data has no
	// GTID history.
	GTID string
	// BinlogFile and BinlogPos are the donor's binary log coordinates at
	// the backup, for the record.
	BinlogFile string
	BinlogPos  uint64
	// DonorSlavePos is the donor's gtid_slave_pos when it was a replica
	// (--slave-info), for the record.
	DonorSlavePos string
	// BinlogState is the GTID state of the data with every server_id of
	// every domain (the donor's gtid_binlog_state, cut to what the copy
	// holds: MergeBinlogState); GTID keeps only the last one per domain.
	// Empty when the donor did not send its state: GTID stands in.
	BinlogState string `json:",omitempty"`
}

// MergeBinlogState returns the gtid_binlog_state of a copy whose position
// is pos (the last GTID of each domain the data holds), given the donor's
// gtid_binlog_state read after the copy: every (domain, server_id) of the
// donor whose last sequence number the copy holds, the position's own
// GTIDs included. Within a domain sequence numbers only grow
// (gtid_strict_mode), so a GTID of a domain is in the copy when its
// number is at most the position's in that domain; a server_id whose last
// GTID came after the copy is left out (its earlier ones arrive with
// replication). Within a domain the list is in ascending order, so that
// the position's GTID is the domain's last, as MariaDB takes it. An empty
// donorState returns pos.
func MergeBinlogState(pos, donorState string) (string, error) {
	posList, err := sqldialect.ParseMariaDBGTIDList(pos)
	if err != nil {
		return "", fmt.Errorf("position: %w", err)
	}
	state, err := sqldialect.ParseMariaDBGTIDList(donorState)
	if err != nil {
		return "", fmt.Errorf("donor's gtid_binlog_state: %w", err)
	}
	if len(state) == 0 {
		return normalizeGTID(pos), nil
	}
	type key struct{ domain, server uint32 }
	last := map[uint32]uint64{} // per domain, from the position
	merged := map[key]uint64{}
	for _, g := range posList {
		last[g.Domain] = max(last[g.Domain], g.Seq)
		k := key{g.Domain, g.ServerID}
		merged[k] = max(merged[k], g.Seq)
	}
	for _, g := range state {
		if n, ok := last[g.Domain]; ok && g.Seq <= n {
			k := key{g.Domain, g.ServerID}
			merged[k] = max(merged[k], g.Seq)
		}
	}
	out := make([]sqldialect.MariaDBGTID, 0, len(merged))
	for k, n := range merged {
		out = append(out, sqldialect.MariaDBGTID{Domain: k.domain, ServerID: k.server, Seq: n})
	}
	slices.SortFunc(out, func(a, b sqldialect.MariaDBGTID) int {
		if a.Domain != b.Domain {
			return cmp.Compare(a.Domain, b.Domain)
		}
		if a.Seq != b.Seq {
			return cmp.Compare(a.Seq, b.Seq)
		}
		return cmp.Compare(a.ServerID, b.ServerID)
	})
	parts := make([]string, len(out))
	for i, g := range out {
		parts[i] = g.String()
	}
	return strings.Join(parts, ","), nil
}

// Why GTID comes from the binlog info file: mariadb-backup reads
// @@gtid_current_pos for it while it holds BACKUP STAGE BLOCK_COMMIT, the
// moment the copy is consistent with. gtid_current_pos is, per domain, the
// last transaction in the binary log if this server wrote it, else the last
// one it applied as a replica (gtid_slave_pos): every transaction in the
// data, whoever wrote it. The slave info file (gtid_slave_pos alone) only
// knows what the donor applied from its own primary; with log_slave_updates
// and no local writes the two agree, and where they differ (a donor that
// was a primary before) only the former describes the data. A donor that
// wrote transactions of its own passes them on: the recipient's start
// position then names them, and a primary that lacks them refuses it
// (gtid_strict_mode), which is the visible failure we want rather than a
// replica silently missing or repeating transactions. gtid_slave_pos
// serves only when the donor had no binary log.

// ReadPosition reads the position a prepared (or extracted) backup in dir
// recorded.
func ReadPosition(dir string) (Position, error) {
	var p Position
	b, name, err := readFirst(dir, binlogInfoFiles)
	if err != nil {
		return p, err
	}
	if b != nil {
		if p.BinlogFile, p.BinlogPos, p.GTID, err = parseBinlogInfo(string(b)); err != nil {
			return p, fmt.Errorf("%s: %w", name, err)
		}
	}
	b, name, err = readFirst(dir, slaveInfoFiles)
	if err != nil {
		return p, err
	}
	if b != nil {
		if p.DonorSlavePos, err = parseSlaveInfo(string(b)); err != nil {
			return p, fmt.Errorf("%s: %w", name, err)
		}
	}
	if p.GTID == "" {
		p.GTID = p.DonorSlavePos
	}
	return p, nil
}

func readFirst(dir string, names []string) ([]byte, string, error) {
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, n, err
		}
		return b, n, nil
	}
	return nil, "", nil
}

// gtidList is a MariaDB GTID list: domain-server-sequence, comma separated.
var gtidList = regexp.MustCompile(`^(\d+-\d+-\d+(,\s*\d+-\d+-\d+)*)?$`)

// parseBinlogInfo reads "<file>\t<pos>\t<gtid list>". Newer mariadb-backup
// versions may write a line per binary log file, with "[]" in the GTID
// column of all but the last; the last line is the position.
func parseBinlogInfo(s string) (file string, pos uint64, gtid string, err error) {
	var last string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			last = l
		}
	}
	if last == "" {
		return "", 0, "", errors.New("empty")
	}
	f := strings.Split(strings.TrimRight(last, "\r"), "\t")
	if len(f) < 2 {
		return "", 0, "", fmt.Errorf("%q: want file, position and GTID separated by tabs", last)
	}
	file = strings.TrimSpace(f[0])
	if pos, err = strconv.ParseUint(strings.TrimSpace(f[1]), 10, 64); err != nil {
		return "", 0, "", fmt.Errorf("position %q: %w", f[1], err)
	}
	if len(f) > 2 {
		gtid = normalizeGTID(f[2])
	}
	if gtid == "[]" {
		gtid = ""
	}
	if !gtidList.MatchString(gtid) {
		return "", 0, "", fmt.Errorf("GTID %q is not a MariaDB GTID list", gtid)
	}
	return file, pos, gtid, nil
}

var slaveInfoGTID = regexp.MustCompile(`(?i)gtid_slave_pos\s*=\s*'([^']*)'`)

// parseSlaveInfo reads the gtid_slave_pos of
// "SET GLOBAL gtid_slave_pos = '...';\nCHANGE MASTER TO master_use_gtid = slave_pos".
// A donor replicating by file and position writes only a CHANGE MASTER
// with coordinates: no GTID, which is no error.
func parseSlaveInfo(s string) (string, error) {
	m := slaveInfoGTID.FindStringSubmatch(s)
	if m == nil {
		return "", nil
	}
	g := normalizeGTID(m[1])
	if !gtidList.MatchString(g) {
		return "", fmt.Errorf("GTID %q is not a MariaDB GTID list", g)
	}
	return g, nil
}

func normalizeGTID(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, ",", " , ")), "")
}
