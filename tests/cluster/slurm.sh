#!/usr/bin/env bash
# A throwaway one-node SLURM cluster with accounting, for the cluster tests (docs/cluster.md).
#
#   tests/cluster/slurm.sh up      install what is missing, start the daemons, wait for an idle node
#   tests/cluster/slurm.sh down    cancel the jobs left, stop the daemons this script started
#   tests/cluster/slurm.sh status  which of them run
#
# Debian/Ubuntu, as root, no systemd needed. Everything lives in $HNNBENCH_SLURM_DIR (default
# /tmp/hnnbench-slurm): configs, state, spool, logs, the MariaDB data and one pid file per daemon.
# `down` stops exactly the processes named in those pid files (and checks each pid still runs the
# program it was started as), never a daemon by name. `up` prints the one line a shell needs:
#   export SLURM_CONF=$HNNBENCH_SLURM_DIR/slurm.conf
# Ports: HNNBENCH_SLURM_PORT (slurmctld, default 6817), +1 slurmd, +2 slurmdbd; MariaDB listens
# on a socket only and munged on its own socket, so a machine's own munge / database are untouched.
set -euo pipefail

DIR=${HNNBENCH_SLURM_DIR:-/tmp/hnnbench-slurm}
PORT=${HNNBENCH_SLURM_PORT:-6817}
CLUSTER=hnnbench
PARTITION=debug
PACKAGES=(slurm-wlm munge slurmdbd mariadb-server)
# daemon name → its pid file (stop order: the node first, the database last)
DAEMONS=(slurmd slurmctld slurmdbd mariadbd munged)

say() { echo "[slurm.sh] $*" >&2; }
die() { say "error: $*"; exit 1; }

pidfile() { echo "$DIR/run/$1.pid"; }

# the pid in $1's pid file when that process still runs program $1, else nothing
live_pid() {
  local file pid
  file=$(pidfile "$1")
  [[ -s $file ]] || return 0
  pid=$(tr -dc 0-9 <"$file")
  [[ -n $pid ]] && alive "$pid" || return 0
  # /proc/PID/comm holds at most 15 characters of the name
  [[ $(cat "/proc/$pid/comm") == "${1:0:15}" ]] && echo "$pid"
  return 0
}

# whether process $1 runs (a zombie waiting for its parent to reap it does not)
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: poll every 0.2 s
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$what did not happen within ${seconds}s (logs: $DIR/log)"
    sleep 0.2
  done
}

install_packages() {
  local missing=0 tool
  for tool in slurmctld slurmd slurmdbd munged mariadbd sacctmgr; do
    command -v "$tool" >/dev/null || missing=1
  done
  ((missing)) || return 0
  command -v apt-get >/dev/null || die "slurm is not installed and there is no apt-get to install ${PACKAGES[*]}"
  ((EUID == 0)) || die "installing ${PACKAGES[*]} needs root"
  say "installing ${PACKAGES[*]}"
  # keep the packages' scripts from starting daemons of their own: only ours run. A policy
  # already there (container images ship one) is left as it is.
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=1
  fi
  local status=0
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >"$DIR/log/apt.log" 2>&1; then
    # a fresh machine has no package lists yet
    { apt-get update -q && apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"; } \
      >>"$DIR/log/apt.log" 2>&1 || status=$?
  fi
  ((made_policy)) && rm -f "$policy"
  ((status == 0)) || die "apt-get install failed (log: $DIR/log/apt.log)"
}

write_configs() {
  # this machine's node line (CPUs, sockets, cores, threads), with RealMemory at 90 % of what
  # slurmd finds: the daemons and the test itself need some
  local node memory
  node=$(slurmd -C | head -n 1)
  memory=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
  node=$(sed "s/RealMemory=[0-9]*/RealMemory=$((memory * 9 / 10))/" <<<"$node")
  cat >"$DIR/slurm.conf" <<EOF
# written by tests/cluster/slurm.sh: a one-node cluster for tests
ClusterName=$CLUSTER
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$(pidfile slurmctld)
SlurmdPidFile=$(pidfile slurmd)
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# no cgroups: process tracking by the process tree, no task binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# accounting: submitit reads job states with sacct (a cancelled job is seen only through it)
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$((PORT + 2))
AccountingStoragePass=$DIR/munge/munge.socket
# cores and memory are what a job asks for, as on a real cluster
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
# kill a job 2 s after its SIGTERM (default 30), check limits and schedule often
KillWait=2
SchedulerParameters=sched_interval=2
MinJobAge=300
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  cat >"$DIR/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
DbdHost=localhost
DbdPort=$((PORT + 2))
SlurmUser=root
PidFile=$(pidfile slurmdbd)
LogFile=$DIR/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=${CLUSTER}_acct
EOF
  chmod 600 "$DIR/slurmdbd.conf"  # slurmdbd refuses a config others can read
}

start_munged() {
  [[ -n $(live_pid munged) ]] && return 0
  [[ -s /etc/munge/munge.key ]] || runuser -u munge -- mungekey --create
  # munged refuses to run as root and wants a socket folder only its user can write
  mkdir -p "$DIR/munge"
  chown munge:munge "$DIR/munge"
  chmod 755 "$DIR/munge"
  runuser -u munge -- munged --socket="$DIR/munge/munge.socket" \
    --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log" \
    --seed-file="$DIR/munge/munged.seed"
  wait_for 10 "munged's pid file" test -s "$DIR/munge/munged.pid"
  cp "$DIR/munge/munged.pid" "$(pidfile munged)"
}

start_mariadbd() {
  [[ -n $(live_pid mariadbd) ]] && return 0
  local data=$DIR/mysql/data
  mkdir -p "$DIR/mysql"
  chown mysql:mysql "$DIR/mysql"
  if [[ ! -d $data/mysql ]]; then
    mariadb-install-db --no-defaults --user=mysql --datadir="$data" --skip-test-db \
      >"$DIR/log/mariadb-install.log" 2>&1 || die "mariadb-install-db failed (log: $DIR/log)"
  fi
  # its pid and log in our folder (not the root-owned /run/mysqld), no TCP port at all
  setsid mariadbd --no-defaults --user=mysql --datadir="$data" --socket="$DIR/mysql/mysqld.sock" \
    --pid-file="$DIR/mysql/mysqld.pid" --log-error="$DIR/log/mariadb.err" --skip-networking \
    --skip-log-bin --innodb-buffer-pool-size=64M </dev/null >/dev/null 2>&1 &
  wait_for 30 "MariaDB's socket" test -S "$DIR/mysql/mysqld.sock"
  cp "$DIR/mysql/mysqld.pid" "$(pidfile mariadbd)"
}

start_slurm() {
  if [[ -z $(live_pid slurmdbd) ]]; then
    # slurmdbd reads slurmdbd.conf next to $SLURM_CONF; its client library finds the socket here
    MYSQL_UNIX_PORT=$DIR/mysql/mysqld.sock slurmdbd
    wait_for 30 "slurmdbd answering" sacctmgr -n list cluster
  fi
  if [[ -z $(sacctmgr -n -P list cluster format=cluster | grep -x "$CLUSTER") ]]; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
  fi
  if [[ -z $(live_pid slurmctld) ]]; then
    # the controller's state is kept with the accounting database: job ids go on from the
    # last session's, so sacct (which submitit asks) never mixes an old job with a new one
    slurmctld -i
  fi
  wait_for 30 "slurmctld answering" scontrol ping
  [[ -n $(live_pid slurmd) ]] || slurmd
  wait_for 60 "an idle node" node_idle
}

node_idle() { sinfo -h -p "$PARTITION" -o '%T' | grep -qx idle; }

up() {
  ((EUID == 0)) || die "run as root: munged, slurmd and MariaDB are started for their own users"
  mkdir -p "$DIR"/{run,log,state,spool}
  install_packages
  export SLURM_CONF=$DIR/slurm.conf
  write_configs
  start_munged
  start_mariadbd
  start_slurm
  say "up: partition $PARTITION on $(sinfo -h -o '%N, %c CPUs, %m MB' -p "$PARTITION"); logs in $DIR/log"
  echo "export SLURM_CONF=$DIR/slurm.conf"
}

stop() {  # stop NAME: TERM, up to 15 s, then KILL
  local pid
  pid=$(live_pid "$1")
  [[ -n $pid ]] || { rm -f "$(pidfile "$1")"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 75); do
    alive "$pid" || break
    sleep 0.2
  done
  if alive "$pid"; then
    say "$1 (pid $pid) ignored SIGTERM for 15 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$(pidfile "$1")"
}

down() {
  export SLURM_CONF=$DIR/slurm.conf
  if [[ -n $(live_pid slurmctld) ]]; then
    # jobs still queued or running are cancelled through SLURM, so no job step outlives slurmd
    local jobs
    jobs=$(squeue -h -o '%A' 2>/dev/null | sort -u | tr '\n' ' ')
    if [[ -n ${jobs// /} ]]; then
      say "cancelling jobs left: $jobs"
      # shellcheck disable=SC2086
      scancel $jobs || true
      for _ in $(seq 50); do
        [[ -z $(squeue -h -o '%A' 2>/dev/null) ]] && break
        sleep 0.2
      done
    fi
  fi
  local name
  for name in "${DAEMONS[@]}"; do stop "$name"; done
  say "down: no daemon of $DIR runs"
}

status() {
  local name pid code=0
  for name in "${DAEMONS[@]}"; do
    pid=$(live_pid "$name")
    if [[ -n $pid ]]; then echo "$name $pid"; else echo "$name -"; code=3; fi
  done
  return $code
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: $0 up | down | status" ;;
esac
