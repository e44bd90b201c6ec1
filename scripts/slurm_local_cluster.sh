#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, from Debian's slurm-wlm + munge (scripts/setup.sh installs
# them). Used by tests/slurm/ and by anyone who wants to try `launcher=slurm_local` (docs/slurm.md).
#
#   sudo bash scripts/slurm_local_cluster.sh start    # idempotent: starts only what is not running
#   sudo bash scripts/slurm_local_cluster.sh status   # daemons + sinfo; exit 1 if not up
#   sudo bash scripts/slurm_local_cluster.sh stop
#   export SLURM_CONF=/var/tmp/r1ci-slurm/slurm.conf  # clients (sbatch, sacct, submitit) read this
#
# Needs root (slurmctld and slurmd run as root; munged as user munge). No systemd: daemons are started
# directly, with their state, logs and pid files under $R1CI_SLURM_DIR (default /var/tmp/r1ci-slurm).
# Job accounting: slurmdbd (and its MySQL) is not used; slurm 22.05 dropped accounting_storage/filetxt,
# so finished jobs are recorded by JobCompType=jobcomp/filetxt and read with `sacct --completion`
# (`sacct -c -j ID`). Plain `sacct` stays disabled, so submitit logs a harmless warning when it polls.
set -euo pipefail

DIR=${R1CI_SLURM_DIR:-/var/tmp/r1ci-slurm}
CONF=$DIR/slurm.conf
HOST=$(hostname -s)
PARTITION=${R1CI_SLURM_PARTITION:-local}
export SLURM_CONF=$CONF

# A pid file whose process exists and is not a zombie (a container's init may not reap stopped daemons).
alive() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] && ! awk '{exit ($3 == "Z" ? 0 : 1)}' "/proc/$pid/stat"
}

node_up() { sinfo -h -n "$HOST" -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated|completing)'; }

write_conf() {
  # Topology exactly as slurmd sees it (CPUs, sockets, cores, memory), e.g.
  # "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105".
  local node
  node=$(slurmd -C | head -n1)
  mkdir -p "$DIR"/{ctld,spool,log}
  cat >"$CONF.new" <<EOF
# Written by scripts/slurm_local_cluster.sh: a one-node cluster for r1ci's tests. Do not edit by hand.
ClusterName=r1ci-local
SlurmctldHost=$HOST
SlurmUser=root
AuthType=auth/munge
# A requeued job waits cred_expire seconds before it may start again (default 120): 10 keeps tests quick.
AuthInfo=cred_expire=10
CredType=cred/munge
# No systemd or cgroup setup needed: processes are tracked through /proc.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
# Look at the queue every second (default 60 s), so a requeued job starts as soon as it may.
SchedulerParameters=sched_interval=1
ReturnToService=2
# Requeue (submitit's timeout/preemption path) must be allowed.
JobRequeue=1
MinJobAge=300
# Accounting without slurmdbd: finished jobs go to a text file, read back with \`sacct -c\`.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.log
StateSaveLocation=$DIR/ctld
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
$node State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  mv "$CONF.new" "$CONF"
}

start_munge() {
  if alive /run/munge/munged.pid && munge -n </dev/null | unmunge >/dev/null 2>&1; then
    return
  fi
  # No systemd here: the socket dir is ours to create, owned by munge (munged refuses to run as root).
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge /etc/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=128 status=none
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
  mkdir -p "$DIR" && touch "$DIR/munged.ours"
  munge -n </dev/null | unmunge >/dev/null
}

start() {
  [ "$(id -u)" = 0 ] || { echo "slurm_local_cluster.sh: run as root" >&2; exit 1; }
  command -v slurmctld >/dev/null || { echo "slurm-wlm missing: run scripts/setup.sh" >&2; exit 1; }
  start_munge
  if ! alive "$DIR/slurmctld.pid"; then
    write_conf
    # -i: start even if the saved job state does not match this config (e.g. after a topology change).
    slurmctld -f "$CONF" -i
  fi
  alive "$DIR/slurmd.pid" || slurmd -f "$CONF"
  # Wait for the controller, then for the node to register (normally < 2 s).
  local i
  for i in $(seq 1 60); do
    if scontrol ping 2>/dev/null | grep -q UP && node_up; then break; fi
    sleep 0.5
  done
  # A node left DOWN/DRAINED by an earlier kill comes back into service.
  if sinfo -h -n "$HOST" -o %T | grep -Eq 'down|drain'; then
    scontrol update NodeName="$HOST" State=RESUME || true
    sleep 1
  fi
  status
}

stop() {
  local pidfile
  for pidfile in "$DIR/slurmd.pid" "$DIR/slurmctld.pid"; do
    if alive "$pidfile"; then
      kill "$(cat "$pidfile")"
      for _ in $(seq 1 40); do alive "$pidfile" || break; sleep 0.25; done
    fi
    rm -f "$pidfile"
  done
  # munged is left running when someone else started it; we stop only the one we started.
  if alive /run/munge/munged.pid && [ -f "$DIR/munged.ours" ]; then
    kill "$(cat /run/munge/munged.pid)"
    rm -f "$DIR/munged.ours"
  fi
  echo "r1ci local SLURM cluster stopped"
}

status() {
  local ok=0
  alive /run/munge/munged.pid && echo "munged: running" || { echo "munged: stopped"; ok=1; }
  alive "$DIR/slurmctld.pid" && echo "slurmctld: running" || { echo "slurmctld: stopped"; ok=1; }
  alive "$DIR/slurmd.pid" && echo "slurmd: running" || { echo "slurmd: stopped"; ok=1; }
  if [ $ok = 0 ]; then
    sinfo -p "$PARTITION" -o "%P %a %D %c %T %N"
    echo "SLURM_CONF=$CONF"
    node_up || ok=1
  fi
  return $ok
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
