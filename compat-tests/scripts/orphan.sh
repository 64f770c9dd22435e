# Orphaned background jobs: a subshell starts a job and exits at once; the job lives on,
# reparented (to PID 1, which is this shell in Coracle), and reports through a FIFO that the
# script holds open for reading and writing, so reads block until a line arrives and the order
# of the output does not depend on timing.
mkfifo /tmp/fifo
exec 3<>/tmp/fifo
( (sleep 0; echo "orphan ran after its parent exited" >&3) & )
echo "parent subshell gone"
read -r line <&3; echo "$line"
mkfifo /tmp/go
( (read -r go < /tmp/go; echo "orphan got: $go" >&3) & exit 3 )
echo "subshell status: $?"
echo "go" > /tmp/go
read -r line <&3; echo "$line"
# A grandchild of an exited shell runs a program of its own.
( (sh -c 'echo "grandchild of an exited shell" >&3') & )
read -r line <&3; echo "$line"
# Many orphans at once; their lines arrive in any order.
i=0
while [ $i -lt 10 ]; do
    ( (echo "orphan $i" >&3) & )
    i=$((i + 1))
done
i=0
while [ $i -lt 10 ]; do
    read -r line <&3
    echo "$line" >> /tmp/orphans
    i=$((i + 1))
done
sort /tmp/orphans
# An orphan that is still running when the script ends is no concern of the script's status.
( (exec 3>&- >/dev/null 2>&1; sleep 5) & )
exec 3>&-
echo done
