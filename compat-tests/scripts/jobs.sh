# Background jobs: $!, wait for one job and for all, the statuses wait reports (exit codes,
# death by a signal), kill of a background job, and wait for a process that is not a child.
# ash's "Terminated"/"Killed" notices go to /dev/null: whether ash prints one depends on when
# it reaps the job (at `wait`, or earlier between commands), on Linux as well.
(exit 5) &
p1=$!
case $p1 in ''|*[!0-9]*) echo "bad \$!: $p1" ;; *) echo "\$! is a number" ;; esac
[ "$p1" -gt 1 ] && echo "\$! is not 1"
wait $p1
echo "wait exit 5: $?"
sleep 30 &
p2=$!
{ kill $p2; wait $p2; } 2>/dev/null
echo "wait killed by TERM: $?"
sleep 30 &
p3=$!
{ kill -KILL $p3; wait $p3; } 2>/dev/null
echo "wait killed by KILL: $?"
{ sh -c 'kill -USR1 $$' & wait $!; } 2>/dev/null
echo "wait self-killed USR1: $?"
# Several jobs, each writing to its own file; wait with no argument waits for all.
for i in 1 2 3 4 5; do
    (echo "job $i" > /tmp/job.$i) &
done
wait
echo "wait all: $?"
cat /tmp/job.1 /tmp/job.2 /tmp/job.3 /tmp/job.4 /tmp/job.5
# The jobs' $! values are distinct.
true & a=$!
true & b=$!
wait
[ "$a" != "$b" ] && echo "distinct pids"
# A finished job's status is kept until waited for.
(exit 3) &
p4=$!
sleep 0
wait $p4
echo "late wait: $?"
# A job that outlives a foreground command.
sleep 30 &
p5=$!
/bin/true
kill -0 $p5 && echo "job still running"
{ kill $p5; wait $p5; } 2>/dev/null
echo "reaped: $?"
kill -0 $p5 2>/dev/null
echo "kill -0 after reaping: $?"
# Background job output, in order thanks to wait.
echo "from the background" &
wait
echo done
