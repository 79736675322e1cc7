#!/bin/bash
# Entrypoint of mysql-bootstrap/mariadb: the official mariadb image's contract on
# Debian's packages.
#
# On first start (no $DATADIR/mysql) it runs mariadb-install-db, starts a temporary
# server on the socket only, sets the root password(s), creates MARIADB_DATABASE and
# MARIADB_USER, runs /docker-entrypoint-initdb.d/*.{sh,sql,sql.gz}
# and stops the temporary server. Then it execs the server as the mysql user, so
# the server is pid 1 and SIGTERM shuts it down cleanly.
#
# What reaches the binary log is what the official image writes there, because
# that is what real pods see: the temporary server reads /etc/mysql/conf.d (so it
# logs when that turns log_bin on); the time zone tables (loaded with
# --skip-write-binlog) and the root accounts (under SQL_LOG_BIN=0) are not
# logged; MARIADB_DATABASE, MARIADB_USER and its grant, and whatever the
# initdb.d scripts write, are. On a pod that may become a replica, leave
# MARIADB_DATABASE/MARIADB_USER unset: they would be transactions its primary
# never had.
#
# Variables (MYSQL_* aliases accepted; those marked * also read NAME_FILE):
#   MARIADB_ROOT_PASSWORD*            root password (root@localhost and root@$MARIADB_ROOT_HOST)
#   MARIADB_ALLOW_EMPTY_ROOT_PASSWORD non-empty: root has no password (MYSQL_ALLOW_EMPTY_PASSWORD)
#   MARIADB_RANDOM_ROOT_PASSWORD      non-empty: generate one and print it
#   MARIADB_ROOT_HOST*                host part of the second root account (default %)
#   MARIADB_DATABASE*                 database to create
#   MARIADB_USER*, MARIADB_PASSWORD*  account to create, with all privileges on MARIADB_DATABASE
#   MARIADB_USER_HOST*                host part of that account (default %)
#   MARIADB_INITDB_SKIP_TZINFO        non-empty: do not load the time zone tables (faster)
set -euo pipefail
shopt -s nullglob

log() { printf '%s [%s] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$1" "$2"; }
note() { log Note "$*"; }
warn() { log Warn "$*" >&2; }
die() {
	log ERROR "$*" >&2
	exit 1
}

# file_env NAME [DEFAULT]: NAME from NAME or from the file named by NAME_FILE.
file_env() {
	local var=$1 file_var="${1}_FILE" val=${2:-}
	if [[ -n ${!var:-} && -n ${!file_var:-} ]]; then
		die "both $var and $file_var are set; set only one"
	fi
	if [[ -n ${!var:-} ]]; then
		val=${!var}
	elif [[ -n ${!file_var:-} ]]; then
		[[ -r ${!file_var} ]] || die "$file_var: cannot read ${!file_var}"
		val=$(<"${!file_var}")
	fi
	export "$var=$val"
	unset "$file_var"
}

# maria_env SUFFIX [DEFAULT] [MYSQL_NAME]: MARIADB_SUFFIX, falling back to the
# MYSQL_ alias (and its _FILE variant); both end up holding the same value.
maria_env() {
	local maria="MARIADB_$1" mysql=${3:-"MYSQL_$1"}
	file_env "$mysql" "${2:-}"
	file_env "$maria" "${!mysql}"
	export "$mysql=${!maria}"
}

# sql_literal STRING: STRING escaped for a single-quoted SQL string literal
# (NO_BACKSLASH_ESCAPES is cleared in every session below).
sql_literal() {
	local s=${1//\\/\\\\}
	s=${s//$'\n'/\\n}
	printf '%s' "${s//\'/\\\'}"
}

# docker_process_sql [mariadb args]: run SQL from stdin as root over the socket, in
# MARIADB_DATABASE if set. Binary-logged when the server logs, as in the official
# image. Init scripts that are sourced may use it, as with the official image.
docker_process_sql() {
	local db=()
	[[ -n $MARIADB_DATABASE ]] && db=(--database="$MARIADB_DATABASE")
	MYSQL_PWD=${ROOT_PASSWORD_SET:-} mariadb --protocol=socket --socket="$SOCKET" \
		--user=root "${db[@]}" "$@"
}

# wants_help ARGS: the server would only print something and exit.
wants_help() {
	local arg
	for arg; do
		case $arg in -'?' | --help | --print-defaults | -V | --version) return 0 ;; esac
	done
	return 1
}

# read_server_config ARGS: DATADIR and SOCKET as the server will see them, from
# one `mariadbd --verbose --help` (which also validates the configuration).
read_server_config() {
	local out
	# --log-bin-index keeps the dry run from touching the datadir when log_bin is set.
	if ! out=$("$@" --verbose --help --log-bin-index="$(mktemp -u)" 2>&1); then
		local errors
		errors=$(grep -m 3 '\[ERROR\]' <<<"$out" | sed 's/^.*\[ERROR\] //' | paste -sd ';' -) || true
		die "$1 rejected its configuration (check /etc/mysql/conf.d): ${errors:-$(head -n 3 <<<"$out" | paste -sd ';' -)}"
	fi
	DATADIR=$(awk '$1 == "datadir" && /^[^ \t]/ { sub(/^[^ \t]+[ \t]+/, ""); print; exit }' <<<"$out")
	SOCKET=$(awk '$1 == "socket" && /^[^ \t]/ { sub(/^[^ \t]+[ \t]+/, ""); print; exit }' <<<"$out")
	[[ -n $DATADIR && -n $SOCKET ]] || die "could not read datadir and socket from $1 --verbose --help"
	DATADIR=${DATADIR%/}
}

read_env() {
	maria_env ROOT_PASSWORD
	maria_env ROOT_HOST %
	maria_env DATABASE
	maria_env USER
	maria_env PASSWORD
	file_env MARIADB_USER_HOST %
	: "${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:=${MYSQL_ALLOW_EMPTY_PASSWORD:-}}"
	: "${MARIADB_RANDOM_ROOT_PASSWORD:=${MYSQL_RANDOM_ROOT_PASSWORD:-}}"
	: "${MARIADB_INITDB_SKIP_TZINFO:=${MYSQL_INITDB_SKIP_TZINFO:-}}"
	export MARIADB_ALLOW_EMPTY_ROOT_PASSWORD MARIADB_RANDOM_ROOT_PASSWORD MARIADB_INITDB_SKIP_TZINFO
}

# Checked before anything is written, so a bad setting leaves the datadir empty.
verify_env() {
	if [[ -z $MARIADB_ROOT_PASSWORD && -z $MARIADB_ALLOW_EMPTY_ROOT_PASSWORD && -z $MARIADB_RANDOM_ROOT_PASSWORD ]]; then
		die "database is uninitialized and no root password option is set: set one of MARIADB_ROOT_PASSWORD (or MARIADB_ROOT_PASSWORD_FILE), MARIADB_ALLOW_EMPTY_ROOT_PASSWORD, MARIADB_RANDOM_ROOT_PASSWORD"
	fi
	if [[ $MARIADB_USER == root ]]; then
		die "MARIADB_USER=root: MARIADB_USER and MARIADB_PASSWORD create a regular account; the root password comes from MARIADB_ROOT_PASSWORD"
	fi
	if [[ -n $MARIADB_USER && -z $MARIADB_PASSWORD ]] || [[ -z $MARIADB_USER && -n $MARIADB_PASSWORD ]]; then
		# The official image skips the account silently; say so at least.
		warn "MARIADB_USER and MARIADB_PASSWORD must be set together; creating no user"
		MARIADB_USER='' MARIADB_PASSWORD=''
	fi
}

temp_server_start() {
	# Like the official image's temporary server: the binary log stays as
	# configured (so what is written below is logged when conf.d turns it on).
	"$@" --skip-networking --socket="$SOCKET" \
		--skip-slave-start --wsrep-on=OFF \
		--default-time-zone=SYSTEM --expire-logs-days=0 \
		--loose-innodb-buffer-pool-load-at-startup=0 \
		--loose-innodb-buffer-pool-dump-at-shutdown=0 &
	TEMP_PID=$!
	local i
	for ((i = 0; i < 600; i++)); do
		if mariadb --protocol=socket --socket="$SOCKET" --user=root --password= \
			--execute='SELECT 1' >/dev/null 2>&1; then
			return
		fi
		kill -0 "$TEMP_PID" 2>/dev/null || die "temporary server exited during startup (see its log above)"
		sleep 0.1
	done
	die "temporary server did not accept connections within 60 s"
}

temp_server_stop() {
	kill -TERM "$TEMP_PID"
	wait "$TEMP_PID" || die "temporary server did not shut down cleanly (exit $?)"
}

setup_accounts() {
	if [[ -z $MARIADB_INITDB_SKIP_TZINFO ]]; then
		# --skip-write-binlog wraps the load in SQL_LOG_BIN=0 (as the official image
		# does) and emits LOCK TABLES, which makes it faster.
		mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo 2>/dev/null |
			MARIADB_DATABASE='' docker_process_sql --database=mysql
	fi
	if [[ -n $MARIADB_RANDOM_ROOT_PASSWORD && -z $MARIADB_ROOT_PASSWORD ]]; then
		MARIADB_ROOT_PASSWORD=$(head -c 48 /dev/urandom | base64 -w 0 | tr -d '/+=' | cut -c 1-32)
		export MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD=$MARIADB_ROOT_PASSWORD
		note "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
	fi
	local pw host sql
	pw=$(sql_literal "$MARIADB_ROOT_PASSWORD")
	host=$(sql_literal "$MARIADB_ROOT_HOST")
	# As in the official image: the root accounts are not binary-logged, the
	# database, the user and its grant are (one session, three transactions).
	sql="SET @orig_sql_log_bin = @@SESSION.SQL_LOG_BIN;
SET @@SESSION.SQL_LOG_BIN = 0;
SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');
DROP USER IF EXISTS root@'127.0.0.1', root@'::1';
EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\\'', @@hostname, '\\'');
SET PASSWORD FOR root@localhost = PASSWORD('$pw');"
	if [[ -n $MARIADB_ROOT_HOST && $MARIADB_ROOT_HOST != localhost ]]; then
		sql+="
CREATE USER root@'$host' IDENTIFIED BY '$pw';
GRANT ALL ON *.* TO root@'$host' WITH GRANT OPTION;
GRANT PROXY ON ''@'%' TO root@'$host' WITH GRANT OPTION;"
	fi
	sql+="
SET @@SESSION.SQL_LOG_BIN = @orig_sql_log_bin;"
	if [[ -n $MARIADB_DATABASE ]]; then
		note "creating database $MARIADB_DATABASE"
		sql+="
CREATE DATABASE IF NOT EXISTS \`${MARIADB_DATABASE//\`/\`\`}\`;"
	fi
	if [[ -n $MARIADB_USER ]]; then
		note "creating user $MARIADB_USER"
		sql+="
CREATE USER '$(sql_literal "$MARIADB_USER")'@'$(sql_literal "$MARIADB_USER_HOST")' IDENTIFIED BY '$(sql_literal "$MARIADB_PASSWORD")';"
		if [[ -n $MARIADB_DATABASE ]]; then
			# In a grant, _ and % are wildcards: escape them to name exactly this database.
			local db=${MARIADB_DATABASE//\`/\`\`}
			db=${db//_/\\_}
			sql+="
GRANT ALL ON \`${db//%/\\%}\`.* TO '$(sql_literal "$MARIADB_USER")'@'$(sql_literal "$MARIADB_USER_HOST")';"
		fi
	fi
	MARIADB_DATABASE='' docker_process_sql --database=mysql --binary-mode <<<"$sql"
	ROOT_PASSWORD_SET=$MARIADB_ROOT_PASSWORD
}

run_init_files() {
	local f
	for f; do
		case $f in
		*.sh)
			if [[ -x $f ]]; then
				note "running $f"
				"$f"
			else
				note "sourcing $f"
				# Sourced scripts were written for the official image's `set -eo pipefail`.
				set +u
				# shellcheck disable=SC1090
				. "$f"
				set -u
			fi
			;;
		*.sql) note "running $f" && docker_process_sql <"$f" ;;
		*.sql.gz) note "running $f" && gzip -dc "$f" | docker_process_sql ;;
		*.sql.xz | *.sql.zst)
			# xz-utils and zstd are left out to keep the image small.
			local tool=xz
			[[ $f == *.zst ]] && tool=zstd
			command -v "$tool" >/dev/null || die "$f: $tool is not installed in this image; use .sql or .sql.gz"
			note "running $f" && "$tool" -dc "$f" | docker_process_sql
			;;
		*) warn "ignoring $f" ;;
		esac
	done
}

# Written while an initialisation runs in a datadir that was empty: if the container
# dies half way, the next start knows every file there is ours and starts over,
# instead of running a server that may lack its root password.
MARKER=.entrypoint-init-incomplete

initialise() {
	note "initialising database files in $DATADIR"
	if [[ -z $(find "$DATADIR" -mindepth 1 -maxdepth 1 ! -name lost+found -print -quit) ]]; then
		: >"$DATADIR/$MARKER"
	fi
	local out
	if ! out=$(mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
		"${@:2}" \
		--skip-test-db --skip-log-bin --skip-name-resolve --default-time-zone=SYSTEM \
		--enforce-storage-engine= --expire-logs-days=0 \
		--loose-innodb-buffer-pool-load-at-startup=0 \
		--loose-innodb-buffer-pool-dump-at-shutdown=0 2>&1); then
		printf '%s\n' "$out" >&2
		die "mariadb-install-db failed"
	fi
	note "starting temporary server"
	temp_server_start "$@"
	setup_accounts
	run_init_files /docker-entrypoint-initdb.d/*
	note "stopping temporary server"
	temp_server_stop
	rm -f "$DATADIR/$MARKER"
	note "initialisation done; ready for start up"
}

main() {
	# An option as the first argument means: run the server with these options.
	if [[ ${1:-} == -* ]]; then
		set -- mariadbd "$@"
	fi
	if [[ ${1:-} != mariadbd && ${1:-} != mysqld ]] || wants_help "$@"; then
		exec "$@"
	fi

	if [[ -n ${_ENTRYPOINT_DATADIR:-} && -n ${_ENTRYPOINT_SOCKET:-} ]]; then
		# Re-executed as mysql below: the configuration was read already.
		DATADIR=$_ENTRYPOINT_DATADIR SOCKET=$_ENTRYPOINT_SOCKET
		unset _ENTRYPOINT_DATADIR _ENTRYPOINT_SOCKET
	else
		read_server_config "$@"
	fi
	if [[ $(id -u) == 0 ]]; then
		mkdir -p "$DATADIR" "${SOCKET%/*}"
		# Fewer writes than chown -R on a large datadir.
		find "$DATADIR" \! -user mysql -exec chown mysql:mysql '{}' +
		find "${SOCKET%/*}" -maxdepth 0 \! -user mysql -exec chown mysql:mysql '{}' \;
		_ENTRYPOINT_DATADIR=$DATADIR _ENTRYPOINT_SOCKET=$SOCKET \
			exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
	fi

	if [[ -e $DATADIR/$MARKER ]]; then
		warn "an earlier initialisation of $DATADIR did not finish; removing its files and starting over"
		find "$DATADIR" -mindepth 1 -maxdepth 1 ! -name lost+found -exec rm -rf '{}' +
	fi
	if [[ ! -d $DATADIR/mysql ]]; then
		read_env
		verify_env
		initialise "$@"
	else
		note "datadir $DATADIR is initialised; skipping initialisation"
	fi
	exec "$@"
}

main "$@"
