#!/bin/bash
# Entrypoint of mysql-bootstrap/mysql: the official mysql image's contract on
# Debian's packages.
#
# On first start (no $DATADIR/mysql) it runs mysqld --initialize-insecure, starts
# a temporary server on the socket only, loads the time zone tables, sets the root
# password(s), creates MYSQL_DATABASE and MYSQL_USER, runs
# /docker-entrypoint-initdb.d/*.{sh,sql,sql.gz} and stops the temporary server.
# Then it execs the server as the mysql user, so the server is pid 1 and SIGTERM
# shuts it down cleanly.
#
# What reaches the binary log is what the official image writes there, because
# that is what real pods see. MySQL logs by default (log_bin, and from 9.x
# gtid_mode=ON), and the temporary server reads /etc/mysql/conf.d too. The root
# accounts are set up under SQL_LOG_BIN=0; everything else is logged: the time
# zone tables (unless MYSQL_INITDB_SKIP_TZINFO), MYSQL_DATABASE, MYSQL_USER and
# its grant (one transaction each), MYSQL_ONETIME_PASSWORD's expiry, and whatever
# the initdb.d scripts write. On a pod that may become a replica, those are
# transactions its primary never had.
#
# Variables (those marked * also read NAME_FILE):
#   MYSQL_ROOT_PASSWORD*        root password (root@localhost and root@$MYSQL_ROOT_HOST)
#   MYSQL_ALLOW_EMPTY_PASSWORD  non-empty: root has no password
#   MYSQL_RANDOM_ROOT_PASSWORD  non-empty: generate one and print it
#   MYSQL_ONETIME_PASSWORD      non-empty: root@% must change its password at first login
#   MYSQL_ROOT_HOST*            host part of the second root account (default %)
#   MYSQL_DATABASE*             database to create
#   MYSQL_USER*, MYSQL_PASSWORD*  account to create, with all privileges on MYSQL_DATABASE
#   MYSQL_INITDB_SKIP_TZINFO    non-empty: do not load the time zone tables
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

# sql_literal STRING: STRING escaped for a single-quoted SQL string literal
# (NO_BACKSLASH_ESCAPES is cleared in the sessions that use it). The official
# image does not escape: a quote in a password breaks its initialisation.
sql_literal() {
	local s=${1//\\/\\\\}
	s=${s//$'\n'/\\n}
	printf '%s' "${s//\'/\\\'}"
}

# client_options [--dont-use-mysql-root-password]: a [client] option file with the
# root password, for --defaults-extra-file=<(...): never in an argument or the
# environment. In an option file a quoted value ends at the next unescaped quote.
client_options() {
	printf '[client]\n'
	if [[ ${1:-} != --dont-use-mysql-root-password && -n ${ROOT_PASSWORD_SET:-} ]]; then
		local pw=${ROOT_PASSWORD_SET//\\/\\\\}
		printf 'password="%s"\n' "${pw//\"/\\\"}"
	fi
}

# docker_process_sql [--dont-use-mysql-root-password] [mysql args]: run SQL from
# stdin as root over the socket, in MYSQL_DATABASE if set. Binary-logged, as in
# the official image. Init scripts that are sourced may use it (or "${mysql[@]}").
docker_process_sql() {
	local pass=()
	if [[ ${1:-} == --dont-use-mysql-root-password ]]; then
		pass=("$1")
		shift
	fi
	local db=()
	[[ -n ${MYSQL_DATABASE:-} ]] && db=(--database="$MYSQL_DATABASE")
	mysql --defaults-extra-file=<(client_options "${pass[@]}") --protocol=socket \
		--socket="$SOCKET" --user=root --comments "${db[@]}" "$@"
}
# For sourced init scripts written for the official image.
mysql=(docker_process_sql)

# wants_help ARGS: the server would only print something and exit.
wants_help() {
	local arg
	for arg; do
		case $arg in -'?' | --help | --print-defaults | -V | --version) return 0 ;; esac
	done
	return 1
}

# read_server_config ARGS: DATADIR, SOCKET and SECURE_FILE_PRIV as the server
# will see them, from one `mysqld --verbose --help` (which also validates the
# configuration).
read_server_config() {
	local out
	# --log-bin-index keeps the dry run from touching the datadir (the binary log
	# is on by default).
	if ! out=$("$@" --verbose --help --log-bin-index="$(mktemp -u)" 2>&1); then
		local errors
		errors=$(grep -m 3 '\[ERROR\]' <<<"$out" | sed 's/^.*\[ERROR\] //' | paste -sd ';' -) || true
		die "$1 rejected its configuration (check /etc/mysql/conf.d): ${errors:-$(head -n 3 <<<"$out" | paste -sd ';' -)}"
	fi
	get() { awk -v k="$1" '$1 == k && /^[^ \t]/ { sub(/^[^ \t]+[ \t]+/, ""); print; exit }' <<<"$out"; }
	DATADIR=$(get datadir)
	SOCKET=$(get socket)
	SECURE_FILE_PRIV=$(get secure-file-priv)
	[[ -n $DATADIR && -n $SOCKET ]] || die "could not read datadir and socket from $1 --verbose --help"
	DATADIR=${DATADIR%/}
	case $SECURE_FILE_PRIV in '(No default value)' | NULL) SECURE_FILE_PRIV='' ;; esac
}

read_env() {
	file_env MYSQL_ROOT_PASSWORD
	file_env MYSQL_ROOT_HOST %
	file_env MYSQL_DATABASE
	file_env MYSQL_USER
	file_env MYSQL_PASSWORD
	: "${MYSQL_ALLOW_EMPTY_PASSWORD:=}" "${MYSQL_RANDOM_ROOT_PASSWORD:=}"
	: "${MYSQL_ONETIME_PASSWORD:=}" "${MYSQL_INITDB_SKIP_TZINFO:=}"
}

# Checked before anything is written, so a bad setting leaves the datadir empty.
verify_env() {
	if [[ -z $MYSQL_ROOT_PASSWORD && -z $MYSQL_ALLOW_EMPTY_PASSWORD && -z $MYSQL_RANDOM_ROOT_PASSWORD ]]; then
		die "database is uninitialized and no root password option is set: set one of MYSQL_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD_FILE), MYSQL_ALLOW_EMPTY_PASSWORD, MYSQL_RANDOM_ROOT_PASSWORD"
	fi
	if [[ $MYSQL_USER == root ]]; then
		die "MYSQL_USER=root: MYSQL_USER and MYSQL_PASSWORD create a regular account; the root password comes from MYSQL_ROOT_PASSWORD"
	fi
	if [[ -n $MYSQL_USER && -z $MYSQL_PASSWORD ]]; then
		warn "MYSQL_USER specified, but missing MYSQL_PASSWORD; MYSQL_USER will not be created"
	elif [[ -z $MYSQL_USER && -n $MYSQL_PASSWORD ]]; then
		warn "MYSQL_PASSWORD specified, but missing MYSQL_USER; MYSQL_PASSWORD will be ignored"
	fi
}

temp_server_start() {
	# Like the official image's temporary server: the binary log stays as
	# configured, so what is written below is logged.
	"$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" &
	TEMP_PID=$!
	local i
	for ((i = 0; i < 600; i++)); do
		if mysql --defaults-extra-file=<(client_options --dont-use-mysql-root-password) \
			--protocol=socket --socket="$SOCKET" --user=root \
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

setup_db() {
	if [[ -z $MYSQL_INITDB_SKIP_TZINFO ]]; then
		note "loading time zone tables (binary-logged, as in the official image)"
		# The sed is the official image's, for https://bugs.mysql.com/bug.php?id=20545
		mysql_tzinfo_to_sql /usr/share/zoneinfo 2>/dev/null |
			sed 's/Local time zone must be set--see zic manual page/FCTY/' |
			MYSQL_DATABASE='' docker_process_sql --dont-use-mysql-root-password --database=mysql
	fi
	if [[ -n $MYSQL_RANDOM_ROOT_PASSWORD && -z $MYSQL_ROOT_PASSWORD ]]; then
		MYSQL_ROOT_PASSWORD=$(head -c 48 /dev/urandom | base64 -w 0 | tr -d '/+=' | cut -c 1-32)
		export MYSQL_ROOT_PASSWORD
		note "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
	fi
	local pw host sql
	pw=$(sql_literal "$MYSQL_ROOT_PASSWORD")
	host=$(sql_literal "$MYSQL_ROOT_HOST")
	sql="SET autocommit = 1;
SET @@SESSION.SQL_LOG_BIN = 0;
SET @@SESSION.sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '');
ALTER USER 'root'@'localhost' IDENTIFIED BY '$pw';
GRANT ALL ON *.* TO 'root'@'localhost' WITH GRANT OPTION;"
	if [[ -n $MYSQL_ROOT_HOST && $MYSQL_ROOT_HOST != localhost ]]; then
		sql+="
CREATE USER 'root'@'$host' IDENTIFIED BY '$pw';
GRANT ALL ON *.* TO 'root'@'$host' WITH GRANT OPTION;"
	fi
	sql+="
DROP DATABASE IF EXISTS test;"
	MYSQL_DATABASE='' docker_process_sql --dont-use-mysql-root-password --database=mysql <<<"$sql"
	ROOT_PASSWORD_SET=$MYSQL_ROOT_PASSWORD

	# Each in its own session and transaction, binary-logged, as in the official image.
	local nobs="SET @@SESSION.sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '');"
	if [[ -n $MYSQL_DATABASE ]]; then
		note "creating database $MYSQL_DATABASE"
		MYSQL_DATABASE='' docker_process_sql --database=mysql \
			<<<"CREATE DATABASE IF NOT EXISTS \`${MYSQL_DATABASE//\`/\`\`}\`;"
	fi
	if [[ -n $MYSQL_USER && -n $MYSQL_PASSWORD ]]; then
		local user
		user=$(sql_literal "$MYSQL_USER")
		note "creating user $MYSQL_USER"
		MYSQL_DATABASE='' docker_process_sql --database=mysql \
			<<<"$nobs CREATE USER '$user'@'%' IDENTIFIED BY '$(sql_literal "$MYSQL_PASSWORD")';"
		if [[ -n $MYSQL_DATABASE ]]; then
			note "giving user $MYSQL_USER access to schema $MYSQL_DATABASE"
			# In a grant, _ and % are wildcards: escape them to name exactly this database.
			local db=${MYSQL_DATABASE//\`/\`\`}
			db=${db//_/\\_}
			MYSQL_DATABASE='' docker_process_sql --database=mysql \
				<<<"$nobs GRANT ALL ON \`${db//%/\\%}\`.* TO '$user'@'%';"
		fi
	fi
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
		*.sql.bz2 | *.sql.xz | *.sql.zst)
			# bzip2, xz-utils and zstd are left out to keep the image small.
			local tool
			case $f in *.bz2) tool=bzip2 ;; *.xz) tool=xz ;; *) tool=zstd ;; esac
			command -v "$tool" >/dev/null || die "$f: $tool is not installed in this image; use .sql or .sql.gz"
			note "running $f" && "$tool" -dc "$f" | docker_process_sql
			;;
		*) warn "ignoring $f" ;;
		esac
	done
}

# Written while an initialisation runs in a datadir that was empty: if the container
# dies half way, the next start knows every file there is ours and starts over,
# instead of running a server that may lack its root password. It lives beside
# the datadir's contents; mysqld --initialize ignores dot files.
MARKER=.entrypoint-init-incomplete

initialise() {
	note "initialising database files in $DATADIR"
	if [[ -z $(find "$DATADIR" -mindepth 1 -maxdepth 1 ! -name lost+found -print -quit) ]]; then
		: >"$DATADIR/$MARKER"
	fi
	local out
	if ! out=$("$@" --initialize-insecure --default-time-zone=SYSTEM 2>&1); then
		printf '%s\n' "$out" >&2
		die "mysqld --initialize-insecure failed"
	fi
	note "starting temporary server"
	temp_server_start "$@"
	setup_db
	run_init_files /docker-entrypoint-initdb.d/*
	if [[ -n $MYSQL_ONETIME_PASSWORD ]]; then
		# Binary-logged, as in the official image.
		docker_process_sql --database=mysql <<<"ALTER USER 'root'@'%' PASSWORD EXPIRE;"
	fi
	note "stopping temporary server"
	temp_server_stop
	rm -f "$DATADIR/$MARKER"
	note "initialisation done; ready for start up"
}

main() {
	# An option as the first argument means: run the server with these options.
	if [[ ${1:-} == -* ]]; then
		set -- mysqld "$@"
	fi
	if [[ ${1:-} != mysqld ]] || wants_help "$@"; then
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
		local dirs=("$DATADIR" "${SOCKET%/*}")
		[[ -n ${SECURE_FILE_PRIV:-} ]] && dirs+=("$SECURE_FILE_PRIV")
		mkdir -p "${dirs[@]}"
		# Fewer writes than chown -R on a large datadir.
		find "$DATADIR" \! -user mysql -exec chown --no-dereference mysql:mysql '{}' +
		find "${dirs[@]:1}" -maxdepth 0 \! -user mysql -exec chown mysql:mysql '{}' \;
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
