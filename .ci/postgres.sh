# Sourced by .ci/run: starts a throwaway PostgreSQL cluster in a temporary
# folder on a free loopback port and exports its admin URL for the tests
# (MIG_TEST_POSTGRES_URL). initdb refuses to run as root, so the server runs
# as the postgres user then. The cluster is stopped and removed on exit.
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; then
  echo "installing postgresql for the store tests"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
PGBIN="$(pg_bin)"
PGTMP="$(mktemp -d /tmp/mig-ci-pg.XXXXXX)"
if [ "$(id -u)" = 0 ]; then
  chown -R postgres "$PGTMP"
  pgrun() { runuser -u postgres -- "$@"; }
else
  pgrun() { "$@"; }
fi
# A free loopback port: the first from 55432 up that nothing listens on.
PGPORT=55432
while (exec 3<>/dev/tcp/127.0.0.1/$PGPORT) 2>/dev/null; do PGPORT=$((PGPORT + 1)); done
pgrun "$PGBIN/initdb" -D "$PGTMP/data" -A trust -U postgres -E UTF8 >"$PGTMP/initdb.log" 2>&1 \
  || { cat "$PGTMP/initdb.log"; exit 1; }
pgrun "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/log" -w -t 60 \
  -o "-p $PGPORT -k $PGTMP -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null \
  || { cat "$PGTMP/log"; exit 1; }
trap 'pgrun "$PGBIN/pg_ctl" -D "$PGTMP/data" -m fast -w stop >/dev/null 2>&1; rm -rf "$PGTMP"' EXIT
export MIG_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres?sslmode=disable"
export MIG_TEST_POSTGRES_BIN="$PGBIN"
export MIG_REQUIRE_POSTGRES=1
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') for the tests on 127.0.0.1:$PGPORT"
