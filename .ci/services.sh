#!/usr/bin/env bash
# Make sure the machine's PostgreSQL and Redis are up; start them if they are down.
set -uo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! up 5432; then
  echo "PostgreSQL is down; starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if ! up 6379; then
  echo "Redis is down; starting it"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
for _ in $(seq 1 30); do up 5432 && up 6379 && exit 0; sleep 1; done
echo "PostgreSQL (127.0.0.1:5432) or Redis (127.0.0.1:6379) is unreachable" >&2
exit 1
