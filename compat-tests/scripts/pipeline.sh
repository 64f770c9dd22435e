# Pipelines: data through several processes, the status of a pipeline, `!`, pipefail, and a
# reader that stops early (the writer gets SIGPIPE).
echo "one two three" | tr ' ' '\n' | sort -r | head -n 2
seq 1 5000 | wc -l
seq 1 3000 | tr -d '\n' | wc -c
printf 'b\na\nc\n' | sort | tr 'a-c' 'A-C'
echo x | false
echo "false last: $?"
false | true
echo "true last: $?"
! true
echo "negated true: $?"
! false | false
echo "negated pipeline: $?"
echo data | { read -r line; echo "group read: $line"; }
echo data | while read -r line; do echo "loop read: $line"; done
# A builtin in a pipeline runs in a subshell: the variable stays unset here.
unset piped
echo set | read -r piped
echo "after pipe: ${piped:-unset}"
# The reader exits after three lines; yes dies of SIGPIPE (141 with pipefail).
yes | head -n 3
set -o pipefail
yes | head -n 1 >/dev/null
echo "pipefail, yes killed: $?"
false | true
echo "pipefail, first failed: $?"
(exit 3) | (exit 4) | true
echo "pipefail, rightmost failure: $?"
set +o pipefail
# Both ends inherit the script's stdout; only the last writes.
seq 1 3 | cat | cat | cat
