#!/usr/bin/env bash
# A real single-node Slurm on localhost, for testing the workflow's Slurm profile.
#
#   tests/slurm/local_slurm.sh start    install (if missing), configure and start munged,
#                                       slurmctld and slurmd; wait until the node is idle
#   tests/slurm/local_slurm.sh status   the daemons this script started, and sinfo
#   tests/slurm/local_slurm.sh stop     stop exactly the daemons this script started and
#                                       remove the slurm.conf it wrote
#
# Needs root (it writes /etc/slurm/slurm.conf and runs the daemons). Meant for CI and
# throwaway machines: it refuses to overwrite a slurm.conf it did not write.
# The config lives at /etc/slurm/slurm.conf, where every Slurm command finds it without
# SLURM_CONF (the executor plugin's job step drops SLURM_* variables).
set -euo pipefail

CONF=/etc/slurm/slurm.conf
STATE=${LOLZOO_SLURM_STATE:-/var/lib/lolzoo-slurm}   # spool, state, logs, pid files
MARKER="# written by lolzoo tests/slurm/local_slurm.sh"
MUNGE_RUN=/run/munge                                  # munged's socket, where Slurm looks for it
UP_TIMEOUT=${LOLZOO_SLURM_UP_TIMEOUT:-60}             # seconds to wait for an idle node

log() { echo "local_slurm: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
        return
    fi
    command -v apt-get >/dev/null || die "slurm-wlm and munge are missing and there is no apt-get to install them"
    log "installing slurm-wlm and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq slurm-wlm munge >/dev/null || die "apt-get install slurm-wlm munge failed"
}

CONF_CHANGED=0
write_config() {  # sets CONF_CHANGED=1 when the file changed
    if [[ -f $CONF ]] && ! grep -qF "$MARKER" "$CONF"; then
        die "$CONF exists and was not written by this script; not overwriting a real site's config"
    fi
    mkdir -p /etc/slurm "$STATE/ctld" "$STATE/d"
    # Memory is not scheduled (CR_CPU below), so RealMemory only has to admit the rules'
    # largest mem_mb request (6000); config_overrides keeps slurmd from draining the node
    # when the machine has less memory or a different CPU count than declared here.
    cat >"$CONF.new" <<EOF
$MARKER
ClusterName=lolzoo-local
SlurmctldHost=localhost
# root runs the daemons: no slurm user, directories or permissions to set up
SlurmUser=root
# the defaults (cgroup) need a cgroup hierarchy that containers and CI runners may not give
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# cons_tres schedules single CPUs, so two 1-CPU jobs share the node (22.05's default,
# select/linear, gives each job the whole node); memory is not a consumable (CR_CPU)
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
# a node that was down when slurmctld last stopped comes back as soon as slurmd registers
ReturnToService=2
# squeue (the status command without slurmdbd) sees finished jobs for MinJobAge seconds:
# an hour, so a test can ask Slurm about every job of a run (the plugin also falls back to
# sacct, which fails without slurmdbd, when MinJobAge is below 3x its first status wait)
MinJobAge=3600
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 RealMemory=16000 State=UNKNOWN
# the partitions profiles/slurm/config.yaml names, both on the one node
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=localhost MaxTime=INFINITE State=UP
EOF
    if cmp -s "$CONF.new" "$CONF"; then rm "$CONF.new"; else mv "$CONF.new" "$CONF"; CONF_CHANGED=1; fi
}

# A pid from a pid file that is still a running daemon of that name: not a stale file from
# an earlier boot, and not a zombie (a sandbox whose PID 1 does not reap keeps stopped
# daemons as zombies, which `kill -0` would still find).
running() {  # running NAME PIDFILE
    local pid
    [[ -f $2 ]] || return 1
    pid=$(<"$2")
    [[ -r /proc/$pid/stat ]] || return 1
    [[ $(</proc/"$pid"/comm) == "$1" ]] || return 1
    [[ $(awk '{print $3}' /proc/"$pid"/stat) != Z ]]
}

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
    if munge_works; then
        return  # ours from an earlier start, or the machine's own: either will do
    fi
    [[ -s /etc/munge/munge.key ]] || { log "creating a munge key"; mungekey --create --keyfile=/etc/munge/munge.key; }
    chown munge:munge /etc/munge/munge.key && chmod 600 /etc/munge/munge.key
    mkdir -p "$MUNGE_RUN" /var/log/munge /var/lib/munge
    chown munge:munge "$MUNGE_RUN" /var/log/munge /var/lib/munge
    # munged refuses to run as root; it forks and writes its pid file itself
    runuser -u munge -- munged --pid-file="$MUNGE_RUN/munged.pid"
    cp "$MUNGE_RUN/munged.pid" "$STATE/munged.pid"  # recorded: stop kills only what start started
    for _ in $(seq 50); do munge_works && return; sleep 0.1; done
    die "munged started but munge -n | unmunge fails; see /var/log/munge/munged.log"
}

node_state() { sinfo --noheader --nodes=localhost --format=%t 2>/dev/null | head -1; }

start() {
    [[ $(id -u) == 0 ]] || die "must run as root"
    install_packages
    write_config
    start_munge
    if running slurmctld "$STATE/slurmctld.pid"; then
        # up from an earlier start: only a changed config needs telling
        if [[ $CONF_CHANGED == 1 ]]; then scontrol reconfigure; fi
    else
        slurmctld
    fi
    running slurmd "$STATE/slurmd.pid" || slurmd -N localhost  # the node is "localhost", whatever the hostname
    local state=""
    for _ in $(seq $((UP_TIMEOUT * 2))); do
        state=$(node_state)
        [[ $state == idle || $state == mix || $state == alloc ]] && { log "node localhost is $state"; return; }
        sleep 0.5
    done
    log "node localhost is '${state:-unknown}' after ${UP_TIMEOUT}s, not idle"
    sinfo -R >&2 || true
    tail -n 20 "$STATE/slurmctld.log" "$STATE/slurmd.log" >&2 || true
    die "Slurm did not come up"
}

stop() {
    local name pid
    for name in slurmd slurmctld munged; do
        if running "$name" "$STATE/$name.pid"; then
            pid=$(<"$STATE/$name.pid")
            kill "$pid"
            for _ in $(seq 50); do running "$name" "$STATE/$name.pid" || break; sleep 0.1; done
            running "$name" "$STATE/$name.pid" && { log "$name ($pid) ignored SIGTERM; killing it"; kill -KILL "$pid"; }
            log "stopped $name ($pid)"
        fi
        rm -f "$STATE/$name.pid"
    done
    # Our config without its daemons makes every Slurm client, and so every Snakemake start
    # (the Slurm plugin asks `scontrol show config`), wait 9 s for a controller that is gone.
    if [[ -f $CONF ]] && grep -qF "$MARKER" "$CONF"; then
        rm -f "$CONF"
        log "removed $CONF"
    fi
}

status() {
    local name
    for name in munged slurmctld slurmd; do
        if running "$name" "$STATE/$name.pid"; then echo "$name: running ($(<"$STATE/$name.pid"))"; else echo "$name: not started by this script"; fi
    done
    sinfo 2>&1 || true
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
