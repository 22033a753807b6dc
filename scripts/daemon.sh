# Sourced by the scripts that start a local server for the tests (kafka.sh, moto.sh): a server
# is a background process with a pid file and a loopback port.

# Whether the process in pid file $1 runs.
daemon_running() {
    [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

# Whether something listens on loopback port $1.
daemon_ready() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Waits up to $5 tenths of a second for the server $1 (pid file $2) to listen on port $3;
# on success prints its address $6 (the last line, for callers), else its log $4 and fails.
daemon_wait() {
    local name=$1 pidfile=$2 port=$3 log=$4 tenths=$5 address=$6
    for _ in $(seq 1 "$tenths"); do
        if daemon_ready "$port"; then
            echo "$name running (pid $(cat "$pidfile"), log $log)" >&2
            echo "$address"
            return 0
        fi
        if ! daemon_running "$pidfile"; then
            echo "$name exited; its log:" >&2
            tail -n 20 "$log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "$name did not listen on port $port within $((tenths / 10)) s; log: $log" >&2
    return 1
}

# Stops the process in pid file $1 (TERM, then KILL after 10 s) and removes the file.
daemon_stop() {
    local pidfile=$1 pid
    if daemon_running "$pidfile"; then
        pid=$(cat "$pidfile")
        kill "$pid"
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}
