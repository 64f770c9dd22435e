# Redirections: create, append, input, the order of 2>&1, duplicating and closing
# descriptors, redirections of compound commands, and errors.
echo one > /tmp/r
echo two >> /tmp/r
cat < /tmp/r
wc -l < /tmp/r
ls /data/missing > /tmp/both 2>&1
echo "status: $?"
cat /tmp/both
ls /data/missing 2>&1 > /tmp/only-stdout | tr a-z A-Z
echo "only stdout has $(wc -c < /tmp/only-stdout) bytes"
{ echo "to stderr" >&2; } 2>/tmp/err
cat /tmp/err
{ echo out; echo err >&2; } > /tmp/group 2>&1
cat /tmp/group
for i in 1 2 3; do echo "line $i"; done > /tmp/loop
cat /tmp/loop
if true; then echo "from if"; fi >> /tmp/loop
tail -n 1 /tmp/loop
exec 3>&1
{ echo "via fd 3" >&3; } 3>/tmp/fd3
cat /tmp/fd3
echo "fd 3 still stdout" >&3
exec 3>&-
echo closed >&- 2>/dev/null
echo "write to closed stdout: $?"
cat < /data/missing 2>/dev/null
echo "input from missing file: $?"
echo x > /data/nested 2>/dev/null
echo "output to a directory: $?"
: > /tmp/truncated
wc -c < /tmp/truncated
cat /data/fruits.txt /data/missing 2>/dev/null | wc -l
(echo sub-out; echo sub-err >&2) 2>&1 | sort
# A child's stdin is the script's; redirecting it per command.
head -n 1 /data/numbers.csv
head -n 2 < /data/numbers.csv | tail -n 1
exec 7</data/numbers.csv
sh -c 'head -n 1 <&7'
exec 7<&-
