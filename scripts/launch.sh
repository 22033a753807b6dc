#!/usr/bin/env bash
# Starts the processes of a multi-process eddy job and waits for them; plain bash, no eddy
# binary needed. Unlike `eddy run` it never restarts the job.
#
# * Without --hostfile: N processes on this machine, on free ports of 127.0.0.1 written to
#   <log-dir>/hostfile. A port counts as free when nothing accepts a connection on it; another
#   program could still take it before the job binds it (the job then fails to start).
# * With --hostfile FILE: one process per address (`host:port` per line, blank lines and `#`
#   comments skipped), in order. Prints the command to run on each host, or with --ssh runs it
#   there (`ssh -tt HOST 'cd <this directory> && ...'`: same directory, same paths on every host;
#   the pseudo-terminal makes the remote process die when its ssh is killed).
#
# Each process gets the job's arguments followed by `--processes N --process I --workers W
# --hostfile FILE`, and the environment variables EDDY_PROCESS=I and EDDY_ATTEMPT=0 (locally).
#
# The processes authenticate each other with a per-job secret (EDDY_CLUSTER_SECRET_FILE): the
# one exported by the caller, or 32 random bytes written to <log-dir>/cluster-secret (mode
# 0600). With --ssh the file is copied to the same path on every host over ssh's stdin (never
# on a command line) and removed at the end; printed commands name it, to be copied to the same
# path on every host (`scp -p`).
# Its stdout and stderr go to <log-dir>/process-I.log, every line prefixed `[pI] `. When a
# process fails, the others are stopped (SIGTERM, then SIGKILL after 5 s) and the script exits 1.
# Ctrl-C reaches the local processes directly (eddy jobs drain on it); the script waits for them.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/launch.sh [--processes N] [--workers W] [--hostfile FILE [--ssh]] [--log-dir DIR]
                         -- PROGRAM [ARGS...]

Starts the N processes of a multi-process eddy job and waits for them.

  --processes N    how many processes (default 1; with --hostfile, one per address)
  --workers W      worker threads per process (default 1)
  --hostfile FILE  one host:port per process; print each host's command, or with --ssh run it
  --ssh            with --hostfile: run each process over `ssh HOST`
  --log-dir DIR    where process-I.log go (default eddy-logs)
  -h, --help       this message

Exits 0 when every process exits 0; otherwise stops the others and exits 1.
EOF
}

die() {
    echo "launch.sh: $*" >&2
    echo "run 'scripts/launch.sh --help' for usage" >&2
    exit 2
}

processes=""
workers=1
hostfile=""
use_ssh=0
log_dir="eddy-logs"
while (($# > 0)); do
    case "$1" in
    -h | --help)
        usage
        exit 0
        ;;
    --processes | --workers | --hostfile | --log-dir)
        (($# >= 2)) || die "$1 needs a value"
        case "$1" in
        --processes) processes=$2 ;;
        --workers) workers=$2 ;;
        --hostfile) hostfile=$2 ;;
        --log-dir) log_dir=$2 ;;
        esac
        shift 2
        ;;
    --processes=*) processes=${1#*=} && shift ;;
    --workers=*) workers=${1#*=} && shift ;;
    --hostfile=*) hostfile=${1#*=} && shift ;;
    --log-dir=*) log_dir=${1#*=} && shift ;;
    --ssh) use_ssh=1 && shift ;;
    --)
        shift
        break
        ;;
    *) die "unknown argument \`$1' (the job's program and arguments go after --)" ;;
    esac
done
(($# > 0)) || die "no program given (put it and its arguments after --)"
program=$1
shift
job_args=("$@")

is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
[[ -z $processes ]] || is_count "$processes" || die "--processes must be a positive number, not \`$processes'"
is_count "$workers" || die "--workers must be a positive number, not \`$workers'"
((use_ssh == 0)) || [[ -n $hostfile ]] || die "--ssh needs --hostfile"

# The addresses, one per process.
addresses=()
if [[ -n $hostfile ]]; then
    [[ -r $hostfile ]] || die "cannot read hostfile \`$hostfile'"
    hostfile=$(cd "$(dirname "$hostfile")" && pwd)/$(basename "$hostfile")
    line_number=0
    while IFS= read -r line || [[ -n $line ]]; do
        line_number=$((line_number + 1))
        line=${line%%#*}
        line=$(echo "$line" | tr -d '[:space:]')
        [[ -n $line ]] || continue
        [[ $line =~ ^.+:[0-9]+$ ]] || die "$hostfile:$line_number: \`$line' is not host:port"
        addresses+=("$line")
    done <"$hostfile"
    if [[ -z $processes ]]; then
        processes=${#addresses[@]}
    fi
    ((${#addresses[@]} >= processes)) ||
        die "hostfile $hostfile lists ${#addresses[@]} addresses, but --processes is $processes"
    ((processes > 0)) || die "hostfile $hostfile lists no addresses"
    addresses=("${addresses[@]:0:processes}")
else
    processes=${processes:-1}
fi

# The command of process $1, as words.
process_command() {
    command_words=("$program" "${job_args[@]}" --processes "$processes" --process "$1" --workers "$workers"
        --hostfile "$hostfile")
}

mkdir -p "$log_dir"

# The job's secret: the caller's, or a new one.
secret_file=${EDDY_CLUSTER_SECRET_FILE:-}
generated_secret=0
if [[ -z $secret_file ]]; then
    secret_file=$(cd "$log_dir" && pwd)/cluster-secret
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$secret_file.tmp" &&
        echo >>"$secret_file.tmp" && mv "$secret_file.tmp" "$secret_file")
    generated_secret=1
fi
unset EDDY_CLUSTER_SECRET

# With a hostfile and no --ssh: print the commands.
if [[ -n $hostfile ]] && ((use_ssh == 0)); then
    for ((process = 0; process < processes; process++)); do
        process_command "$process"
        printf 'cd %q && EDDY_CLUSTER_SECRET_FILE=%q %s\n' "$PWD" "$secret_file" \
            "$(printf '%q ' "${command_words[@]}" | sed 's/ $//')"
    done
    if ((generated_secret)); then
        echo "launch.sh: copy $secret_file to the same path on every host, private to its owner (scp -p)" >&2
    fi
    exit 0
fi

# Localhost: free ports. A refused connection means nothing listens there.
if [[ -z $hostfile ]]; then
    port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
    ports=()
    tries=0
    while ((${#ports[@]} < processes)); do
        tries=$((tries + 1))
        ((tries < 10000)) || die "found no free ports on 127.0.0.1"
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        [[ " ${ports[*]} " != *" $port "* ]] || continue
        port_in_use "$port" && continue
        ports+=("$port")
    done
    hostfile=$(cd "$log_dir" && pwd)/hostfile
    printf '127.0.0.1:%s\n' "${ports[@]}" >"$hostfile"
    for port in "${ports[@]}"; do addresses+=("127.0.0.1:$port"); done
fi

# Copies stdin to the log of process $1, each line prefixed `[pI] `, flushing every line.
prefix() { awk -v prefix="[p$1] " '{ sub(/\r$/, ""); print prefix $0; fflush() }'; }

pids=()
secret_hosts=()
# Removes the copies of a generated secret from the other hosts.
remove_remote_secrets() {
    local host
    for host in "${secret_hosts[@]}"; do
        ssh -o BatchMode=yes "$host" "rm -f $(printf '%q' "$secret_file")" </dev/null 2>/dev/null || true
    done
}
trap remove_remote_secrets EXIT
for ((process = 0; process < processes; process++)); do
    process_command "$process"
    log="$log_dir/process-$process.log"
    host=${addresses[process]%:*}
    host=${host#\[}
    host=${host%\]}
    if ((use_ssh)); then
        if ((generated_secret)); then
            quoted=$(printf '%q' "$secret_file")
            ssh -o BatchMode=yes "$host" "umask 077 && mkdir -p \$(dirname $quoted) && cat > $quoted.tmp && mv $quoted.tmp $quoted" \
                <"$secret_file" || die "cannot copy the cluster secret to $host"
            secret_hosts+=("$host")
        fi
        remote="cd $(printf '%q' "$PWD") && EDDY_CLUSTER_SECRET_FILE=$(printf '%q' "$secret_file") EDDY_PROCESS=$process EDDY_ATTEMPT=0 $(printf '%q ' "${command_words[@]}")"
        ssh -tt -o BatchMode=yes "$host" "$remote" </dev/null > >(prefix "$process" >>"$log") 2>&1 &
    else
        EDDY_CLUSTER_SECRET_FILE=$secret_file EDDY_PROCESS=$process EDDY_ATTEMPT=0 "${command_words[@]}" </dev/null \
            > >(prefix "$process" >>"$log") 2>&1 &
    fi
    pids+=($!)
    echo "launch.sh: process $process (pid $!) on $host, log $log" >&2
done

# Stops every process still running: SIGTERM, then SIGKILL for those alive 5 s later.
stop_all() {
    local pid
    for pid in "${pids[@]}"; do
        [[ -z $pid ]] || kill -TERM "$pid" 2>/dev/null || true
    done
    local tries alive
    for ((tries = 0; tries < 50; tries++)); do
        alive=0
        for pid in "${pids[@]}"; do
            [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null || alive=1
        done
        ((alive)) || break
        sleep 0.1 || true
    done
    for pid in "${pids[@]}"; do
        [[ -z $pid ]] || kill -KILL "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap 'echo "launch.sh: terminated; stopping the processes" >&2; stop_all; exit 143' TERM
# The first Ctrl-C reaches the local processes themselves (eddy jobs drain on it): keep waiting
# for them. The second stops them all.
interrupts=0
on_interrupt() {
    interrupts=$((interrupts + 1))
    if ((interrupts == 1)); then
        echo "launch.sh: interrupted; waiting for the processes (Ctrl-C again stops them)" >&2
    else
        echo "launch.sh: interrupted again; stopping the processes" >&2
        stop_all
        exit 130
    fi
}
trap on_interrupt INT

# Polls rather than `wait -n`, which older bash lacks and which process substitutions confuse.
left=$processes
while ((left > 0)); do
    for process in "${!pids[@]}"; do
        pid=${pids[process]}
        [[ -n $pid ]] || continue
        ! kill -0 "$pid" 2>/dev/null || continue
        status=0
        wait "$pid" || status=$?
        pids[process]=""
        left=$((left - 1))
        if ((status != 0)); then
            log="$log_dir/process-$process.log"
            sleep 0.2 || true # let the prefixer write the last lines
            echo "launch.sh: process $process exited with status $status; its last lines ($log):" >&2
            tail -n 5 "$log" | sed 's/^/    /' >&2 || true
            stop_all
            exit 1
        fi
    done
    sleep 0.1 || true
done
wait 2>/dev/null || true
echo "launch.sh: all $processes processes exited 0" >&2
