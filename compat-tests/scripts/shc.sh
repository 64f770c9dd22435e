# sh -c with $0 and arguments, nested quoting, sh -s reading stdin, running a script file with
# arguments, sourcing, and the special parameters of a child shell.
sh -c 'echo "0=$0 1=$1 2=$2 #=$#"' name first "second arg"
sh -c 'echo "args: $*"; shift; echo "after shift: $@"' zero a b c
sh -c 'sh -c "echo nested \$0" inner'
sh -c "echo 'single' \"double\" \$((6 * 7))"
sh -c 'exit 17'; echo "sh -c status: $?"
echo 'echo "read from stdin: $1"; exit 2' | sh -s from-s
echo "sh -s status: $?"
cat > /tmp/script.sh <<'EOT'
echo "script: $# args, first $1"
for a in "$@"; do echo "  [$a]"; done
exit 5
EOT
sh /tmp/script.sh "x y" z
echo "script status: $?"
# Run directly it needs an interpreter line: without one, busybox runs the script through
# /proc/self/exe, which the host side's chroot does not have.
{ echo '#!/bin/sh'; cat /tmp/script.sh; } > /tmp/direct.sh
chmod +x /tmp/direct.sh
/tmp/direct.sh run directly
echo "direct script status: $?"
printf '#!/bin/sh -e\necho "interpreter with an argument: $-"\nfalse\necho not reached\n' > /tmp/e.sh
chmod +x /tmp/e.sh
/tmp/e.sh
echo "status: $?"
echo 'sourced=yes; echo "sourced with $# args"' > /tmp/lib.sh
. /tmp/lib.sh
echo "sourced variable: $sourced"
sh -c 'echo "child sees parent pid: $([ "$PPID" = "$1" ] && echo yes)"' - $$
x=exported-value; export x
sh -c 'echo "exported: $x"'
y=local-value
sh -c 'echo "not exported: ${y:-unset}"'
z=once sh -c 'echo "prefix assignment: $z"'
echo "prefix stays out: ${z:-unset}"
