#!/bin/sh
# The test database image's entrypoint: `unity-db postgres|mariadb|redis` initialises the data
# directory when empty (PostgreSQL /var/lib/postgresql/data, MariaDB /var/lib/mysql with root's
# password from MARIADB_ROOT_PASSWORD, Redis /data), starts the server, and, when MIGRATE is
# set, applies it through the server's own client once the server answers (what a new
# version's migration does to the data; Redis then saves) and marks the data directory, then
# waits for the server. TERM stops the server.
set -eu
kind=${1:?usage: unity-db postgres|mariadb|redis}
pgbin=/usr/lib/postgresql/15/bin
ready() {
    case $kind in
    postgres) setpriv --reuid=postgres --regid=postgres --init-groups $pgbin/pg_isready -q -h /var/run/postgresql ;;
    mariadb) mariadb-admin --protocol=socket -uroot ping >/dev/null 2>&1 ;;
    redis) [ "$(redis-cli ping 2>/dev/null)" = PONG ] ;;
    esac
}
migrate() {
    case $kind in
    postgres) setpriv --reuid=postgres --regid=postgres --init-groups psql -q -h /var/run/postgresql -d app -c "$MIGRATE" ;;
    mariadb) mariadb --protocol=socket -uroot app -e "$MIGRATE" ;;
    redis) echo "$MIGRATE" | redis-cli >/dev/null ;;
    esac
}
case $kind in
postgres)
    export PGDATA=/var/lib/postgresql/data
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 0700 "$PGDATA"
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        setpriv --reuid=postgres --regid=postgres --init-groups $pgbin/initdb -D "$PGDATA" --auth=trust -U postgres >/dev/null
        setpriv --reuid=postgres --regid=postgres --init-groups $pgbin/postgres -D "$PGDATA" -c listen_addresses= -k /var/run/postgresql &
        until ready; do sleep 0.2; done
        setpriv --reuid=postgres --regid=postgres --init-groups psql -q -h /var/run/postgresql -c 'CREATE DATABASE app'
        kill -INT $!; wait $! || true
    fi
    setpriv --reuid=postgres --regid=postgres --init-groups $pgbin/postgres -D "$PGDATA" -c listen_addresses= -k /var/run/postgresql &
    ;;
mariadb)
    mkdir -p /var/lib/mysql /run/mysqld
    chown mysql:mysql /var/lib/mysql /run/mysqld
    if [ ! -d /var/lib/mysql/mysql ]; then
        mariadb-install-db --user=mysql --datadir=/var/lib/mysql --auth-root-authentication-method=normal --skip-test-db >/dev/null
        mariadbd --user=mysql --datadir=/var/lib/mysql --skip-networking &
        until ready; do sleep 0.2; done
        mariadb --protocol=socket -uroot -e "CREATE DATABASE app; ALTER USER 'root'@'localhost' IDENTIFIED BY '${MARIADB_ROOT_PASSWORD:-}'"
        mariadb-admin --protocol=socket -uroot "-p${MARIADB_ROOT_PASSWORD:-}" shutdown
        wait $! || true
    fi
    export MYSQL_PWD="${MARIADB_ROOT_PASSWORD:-}"
    mariadbd --user=mysql --datadir=/var/lib/mysql --skip-networking &
    ;;
redis)
    mkdir -p /data
    redis-server --dir /data --bind 127.0.0.1 --port 6379 --save '' --appendonly no &
    ;;
*) echo "unity-db: unknown server $kind" >&2; exit 64 ;;
esac
server=$!
trap 'kill -TERM $server 2>/dev/null' TERM INT
until ready; do sleep 0.2; done
if [ -n "${MIGRATE:-}" ]; then
    migrate
    # The mark of a new version that touched the data (a restore of a dump leaves it).
    case $kind in
    postgres) touch /var/lib/postgresql/data/migrated-by-new-version ;;
    mariadb) touch /var/lib/mysql/migrated-by-new-version ;;
    redis) redis-cli SAVE >/dev/null; touch /data/migrated-by-new-version ;;
    esac
fi
touch /tmp/ready
wait $server || true
wait $server || true
