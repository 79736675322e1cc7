#!/bin/bash
# Exit 0 when the server accepts TCP connections on 127.0.0.1 (port $PORT, default
# 3306). Any answer counts, even "access denied" (mysqladmin ping exits 0 then), so
# no credentials are needed; the temporary server used during initialisation
# listens on no TCP port, so this stays unhealthy until the real server is up.
#   HEALTHCHECK CMD ["healthcheck.sh"]   or a Kubernetes exec probe.
exec mysqladmin --no-defaults --protocol=tcp --host=127.0.0.1 --port="${PORT:-3306}" \
	--user=healthcheck --skip-password --connect-timeout=2 ping >/dev/null 2>&1
