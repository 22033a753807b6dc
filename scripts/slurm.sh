#!/usr/bin/env bash
# A one-node Slurm cluster on this machine for trying and testing eddy under `srun`: Debian's
# slurm-wlm (installed if missing; needs root), munge for authentication, and slurmctld plus
# slurmd with a private configuration under target/slurm (the system's /etc/slurm is not
# touched).
#
#   scripts/slurm.sh start    install if needed, start munged, slurmctld and slurmd, wait until
#                             the node is idle; prints the SLURM_CONF to export
#   scripts/slurm.sh stop     stop the daemons started here
#   scripts/slurm.sh test     start (and stop again after, if it was not running), then run the checkpointed example as a 3-process job with
#                             `srun --overcommit -N1 -n3`, checkpoints on moto (scripts/moto.sh),
#                             and compare its committed output with a single-process run
#
# EDDY_SLURM_DIR (default target/slurm) holds the configuration, state, logs and pid files.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dir=${EDDY_SLURM_DIR:-target/slurm}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf="$dir/slurm.conf"
node=$(hostname -s)
export SLURM_CONF="$conf"

install() {
    if ! command -v slurmctld > /dev/null || ! command -v munged > /dev/null; then
        apt-get update -qq && apt-get install -y -qq slurm-wlm > /dev/null
    fi
}

configure() {
    mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
    cat > "$conf" <<CONF
ClusterName=eddy
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
CONF
    # Slurm's plugins look for cgroup.conf beside slurm.conf; nothing here uses cgroups.
    echo "CgroupPlugin=disabled" > "$dir/cgroup.conf"
}

running() {
    local pidfile=$1
    [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

start() {
    install
    configure
    if ! running "$dir/munged.pid"; then
        munged --force --socket="$dir/munge/munge.socket" --pid-file="$dir/munged.pid" \
            --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed"
    fi
    export MUNGE_SOCKET="$dir/munge/munge.socket"
    # Slurm's munge plugin takes the socket from its AuthInfo setting.
    if ! grep -q '^AuthInfo' "$conf"; then
        echo "AuthInfo=socket=$dir/munge/munge.socket" >> "$conf"
    fi
    running "$dir/slurmctld.pid" || slurmctld -i -f "$conf"
    running "$dir/slurmd.pid" || slurmd -f "$conf"
    for _ in $(seq 1 150); do
        if sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
            echo "slurm.sh: one-node cluster up (logs in $dir/log)" >&2
            echo "$conf"
            return 0
        fi
        sleep 0.2
    done
    echo "slurm.sh: the node did not become idle within 30 s:" >&2
    sinfo >&2 || true
    tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
    exit 1
}

stop() {
    for daemon in slurmd slurmctld munged; do
        if running "$dir/$daemon.pid"; then
            kill "$(cat "$dir/$daemon.pid")" || true
        fi
        rm -f "$dir/$daemon.pid"
    done
}

# The committed output of the file sink in $1 (files not starting with a dot), sorted.
committed() {
    find "$1" -maxdepth 1 -type f ! -name '.*' ! -name '*.pending' ! -name '*.inprogress' -print0 \
        | xargs -0 cat | sort
}

test_job() {
    local started=0
    running "$dir/slurmctld.pid" || started=1
    start > /dev/null
    endpoint=$(bash scripts/moto.sh start | tail -n 1)
    bucket="slurm-$$-$(date +%s)"
    curl -sf -X PUT "$endpoint/$bucket" > /dev/null
    export AWS_ENDPOINT_URL=$endpoint AWS_ACCESS_KEY_ID=eddy-test AWS_SECRET_ACCESS_KEY=eddy-test-secret AWS_REGION=us-east-1
    export CARGO_INCREMENTAL=0
    cargo build -q -p eddy-examples --bin checkpointed-pipeline
    cargo build -q -p eddy-cli --bin eddy
    target=${CARGO_TARGET_DIR:-$root/target}
    work=$(mktemp -d)
    trap 'rm -rf "$work"; if [[ $started == 1 ]]; then stop; fi' EXIT
    python3 - "$work/in" <<'PY'
import os, sys
out = sys.argv[1]
os.makedirs(out)
for f in range(4):
    with open(f"{out}/events-{f}.jsonl", "w") as o:
        for i in range(2500):
            key, jitter = (i * 7 + f * 3) % 40, (i * 131 + f * 17) % 1500
            ts = 1_700_000_000_000 + i * 40 + f * 5 + jitter
            o.write('{"key":"k%d","ts":%d,"value":%d}\n' % (key, ts, i % 11 - 3))
PY
    "$target/debug/checkpointed-pipeline" --input "$work/in" --output "$work/expected" 2> /dev/null
    # 3 tasks on this node; each finds its index and peers in the SLURM_* environment.
    EDDY_CLUSTER_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    export EDDY_CLUSTER_SECRET
    srun --overcommit -N1 -n3 --kill-on-bad-exit=1 \
        "$target/debug/checkpointed-pipeline" --input "$work/in" --output "$work/out" \
        --checkpoint-dir "s3://$bucket/job" --checkpoint-interval 100ms --max-rate 8000 \
        2> "$work/srun.log" || { cat "$work/srun.log" >&2; exit 1; }
    grep -q "Slurm task 2 of 3" "$work/srun.log" || { cat "$work/srun.log" >&2; exit 1; }
    if ! diff <(committed "$work/expected") <(committed "$work/out") > "$work/diff"; then
        echo "slurm.sh: the 3-task job's output differs from the single-process run:" >&2
        head -n 20 "$work/diff" >&2
        exit 1
    fi
    "$target/debug/eddy" inspect "s3://$bucket/job" > "$work/inspect" 2>&1
    grep -q "workers *3" "$work/inspect" || { cat "$work/inspect" >&2; exit 1; }
    echo "slurm.sh: srun -n3 job with checkpoints on S3: $(committed "$work/out" | wc -l) lines, same as one process"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
test) test_job ;;
*)
    echo "usage: scripts/slurm.sh start|stop|test" >&2
    exit 2
    ;;
esac
