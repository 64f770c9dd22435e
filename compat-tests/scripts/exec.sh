# exec: redirections of the shell itself (opening, duplicating, saving and restoring, closing
# descriptors) and replacing the shell, whose status becomes the script's.
exec 3>/tmp/three
echo "to fd 3" >&3
echo "more to fd 3" >&3
exec 3>&-
cat /tmp/three
exec 4</data/numbers.csv
read -r first <&4
read -r second <&4
echo "read $first then $second"
# The offset is shared with children: head continues where read stopped.
head -n 1 <&4
head -n 1 <&4
exec 4<&-
read -r x <&4 2>/dev/null
echo "read from closed fd: $?"
# Save stdout, redirect it to a file, restore it.
exec 5>&1
exec >/tmp/out
echo "into the file"
/bin/echo "a child writes there too"
exec 1>&5 5>&-
echo "stdout restored"
cat /tmp/out
# stderr to stdout for the rest of a group.
{ exec 2>&1; ls /data/missing; } 2>/dev/null
echo "status of ls: $?"
# Read-write.
exec 6<>/tmp/rw
echo hello >&6
exec 6>&-
cat /tmp/rw
# exec in a subshell replaces only the subshell.
(exec /bin/sh -c 'echo "replaced subshell"; exit 4')
echo "subshell status: $?"
sh -c 'exec cat /data/notes.txt' | head -n 1
# A failed exec of a missing command ends a non-interactive shell with 127.
sh -c 'exec /no/such/command; echo not reached' 2>/dev/null
echo "exec of a missing command: $?"
sh -c 'exec /data/fruits.txt; echo not reached' 2>/dev/null
echo "exec of a non-executable file: $?"
# Finally replace this shell: the EXIT trap does not run, the status is the new program's.
trap 'echo "EXIT trap: not expected"' EXIT
exec /bin/sh -c 'echo "replaced the script"; exit 7'
echo "not reached"
