# Exit statuses: $?, exit N in subshells and children (wrapping at 256), death by signals,
# command not found or not executable, set -e and where it does not apply.
true; echo "true: $?"
false; echo "false: $?"
(exit 42); echo "exit 42: $?"
(exit 256); echo "exit 256: $?"
(exit 257); echo "exit 257: $?"
sh -c 'exit 255'; echo "sh exit 255: $?"
sh -c 'kill -KILL $$'; echo "killed by KILL: $?"
sh -c 'kill -TERM $$'; echo "killed by TERM: $?"
sh -c 'kill -SEGV $$'; echo "killed by SEGV: $?"
/no/such/command 2>/dev/null; echo "not found: $?"
no-such-command 2>/dev/null; echo "not in PATH: $?"
/data/fruits.txt 2>/dev/null; echo "not executable: $?"
/data/nested 2>/dev/null; echo "a directory: $?"
/data/run.sh; echo "script without an interpreter line handled: $?"
if false; then :; else echo "else branch: $?"; fi
false && echo no; echo "after &&: $?"
false || echo "|| ran"
x=$(exit 3) ; echo "assignment with substitution: $?"
set -e
false || true
if false; then echo no; fi
false && true
! true
echo "set -e: still running"
(false; echo "not reached in subshell") ; echo "not reached either"
