package testkit

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// rotateEvery is how often PurgeBinaryLogs rotates again while older logs
// stay.
const rotateEvery = 3 * time.Second

// PurgeBinaryLogs rotates the server's binary log and purges every older
// one, until only the newest is left, and returns its name. It gives up
// after timeout, saying what the server answered last: PURGE's notes and
// the dump threads.
//
// A log a replica's dump thread still reads is kept until the thread
// reaches the rotation. MariaDB (measured on 11.8) also remembers a log it
// found in use and refuses it from then on (its note says "it is the
// current active binlog") until a dump thread moves on to a newer log;
// when the threads switched while the PURGE looked, none is left to move,
// and the log stays until the next rotation. So while older logs stay,
// the server is rotated again every few seconds. The rotations are LOCAL:
// on a replica a FLUSH that reached the binary log would be a transaction
// of its own.
//
// logf, when not nil, is told of the first refusal.
func PurgeBinaryLogs(ctx context.Context, db *sql.DB, timeout time.Duration, logf func(format string, args ...any)) (string, error) {
	var logs []string
	var rotatedAt time.Time
	refused := false
	err := Eventually(ctx, timeout, "the server keeps only its newest binary log", func(ctx context.Context) error {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		if rotatedAt.IsZero() || (len(logs) > 1 && time.Since(rotatedAt) >= rotateEvery) {
			if _, err := conn.ExecContext(ctx, "FLUSH LOCAL BINARY LOGS"); err != nil {
				return err
			}
			rotatedAt = time.Now()
		}
		if _, err := conn.ExecContext(ctx, "PURGE BINARY LOGS BEFORE NOW() + INTERVAL 1 SECOND"); err != nil {
			return err
		}
		notes, err := QueryText(ctx, conn, "SHOW WARNINGS")
		if err != nil {
			return err
		}
		rows, err := QueryText(ctx, conn, "SHOW BINARY LOGS")
		if err != nil {
			return err
		}
		logs = nil
		for _, r := range rows {
			logs = append(logs, r[0])
		}
		switch len(logs) {
		case 0:
			return fmt.Errorf("SHOW BINARY LOGS lists none: is the binary log on?")
		case 1:
			return nil
		}
		dumps, err := QueryText(ctx, conn, "SELECT ID, USER, HOST, COMMAND, TIME, STATE FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")
		if err != nil {
			return err
		}
		err = fmt.Errorf("binary logs %v after PURGE; its notes %v; dump threads %v", logs, notes, dumps)
		if !refused && logf != nil {
			refused = true
			logf("%v; trying again", err)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	return logs[0], nil
}

// QueryText runs q on conn and returns its rows, each column as text (a
// NULL as "").
func QueryText(ctx context.Context, conn *sql.Conn, q string) ([][]string, error) {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]string
	for rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = string(v)
		}
		out = append(out, row)
	}
	return out, rows.Err()
}
