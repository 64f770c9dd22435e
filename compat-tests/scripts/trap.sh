# trap: signals sent with kill to the shell itself and to children, ignored signals inherited
# by children, resetting, traps in subshells, and the EXIT trap with the script's status.
trap 'echo "EXIT trap, status $?"' EXIT
trap 'echo "got USR1"' USR1
kill -USR1 $$
echo "after USR1"
trap 'echo "got TERM"' TERM
kill -TERM $$
echo "after TERM"
trap 'echo "got HUP"; hups=$((hups + 1))' HUP
hups=0
kill -HUP $$
kill -HUP $$
echo "hups: $hups"
# A child signals its parent.
sh -c 'kill -USR1 $PPID'
echo "after child's USR1"
# An ignored signal stays ignored in children (POSIX: a non-interactive shell cannot trap
# what it was started with ignored, and children inherit SIG_IGN across exec).
trap '' USR2
sh -c 'kill -USR2 $$; echo "child survived USR2"'
echo "child status: $?"
trap - USR2
sh -c 'kill -USR2 $$; echo "not reached"'
echo "child status with USR2 default: $?"
# Caught signals are reset to default in children.
sh -c 'kill -TERM $$; echo "not reached"'
echo "child status with TERM caught in the parent: $?"
# Traps set in a subshell stay there.
(trap 'echo "subshell EXIT trap"' EXIT; echo "in subshell")
(trap 'echo "subshell got USR2"' USR2; sh -c 'kill -USR2 $PPID'; echo "subshell after")
echo "after subshells"
trap -- 'echo "INT handled"' INT
kill -INT $$
trap - USR1
trap 'echo "got ALRM"' ALRM
kill -ALRM $$
exit 3
