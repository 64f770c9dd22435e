# Process groups: setsid gives a child shell its own session and group; kill 0 and kill -PGID
# reach every member of the group and only them; the jobs of a non-interactive shell share its
# group. Members report "ready" through a FIFO before they are signalled, so no signal arrives
# while a freshly forked shell still has its parent's handlers.
mkfifo /tmp/ready /tmp/never
exec 3<>/tmp/ready 4<>/tmp/never
setsid sh -c '
    trap "echo \"leader got TERM\"" TERM
    (echo ready >&3; exec sleep 30) & a=$!
    (echo ready >&3; exec sleep 30) & b=$!
    read -r x <&3; read -r x <&3
    kill -TERM 0
    wait $a; echo "member a: $?"
    wait $b; echo "member b: $?"
    exit 5
' 2>/dev/null
# (Its stderr is dropped: ash reports "Terminated" once per job, once for both, or not at all,
# depending on when it reaps them.)
echo "setsid shell status: $?"
setsid sh -c '
    trap "echo \"leader got HUP\"" HUP
    (trap "exit 9" HUP; echo ready >&3; read -r x <&4) & m=$!
    (echo ready >&3; exec sleep 30) & s=$!
    read -r x <&3; read -r x <&3
    kill -HUP -$$
    wait $s; echo "sleeping member: $?"
    wait $m; echo "trapping member: $?"
' 2>/dev/null
# (Dropped for the same reason: whether ash prints "Hangup" for the sleeping member depends on
# whether it reaped the job before `wait` asked for it, on Linux too.)
echo "status: $?"
# A leader without a handler dies with its group; this script, in another group, does not.
trap 'echo "script got USR1: not expected"' USR1
setsid sh -c '
    (echo ready >&3; exec sleep 30) & a=$!
    read -r x <&3
    sh -c "kill -USR1 0"
    echo "leader survived: not expected"
'
echo "leader killed by its own group: $?"
# Without setsid, a job is in this shell's group: kill 0 from it reaches the script too.
trap 'echo "script got USR2"' USR2
sh -c 'trap "" USR2; kill -USR2 0; exit 4'
echo "job status: $?"
