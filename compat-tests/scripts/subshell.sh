# Subshells and command substitution: isolation of variables, the working directory and
# traps, exit statuses, nesting, and output captured in full.
x=outer
(x=inner; echo "in subshell: $x")
echo "after subshell: $x"
(cd /data/nested && pwd)
pwd
(exit 7)
echo "subshell exit: $?"
( (exit 9) ); echo "nested: $?"
y=$(echo captured)
echo "substitution: $y"
z=$(printf 'trailing\n\n\n')
echo "newlines stripped: [$z]"
n=$(echo "a $(echo "b $(echo c)")")
echo "nested substitution: $n"
b=`echo backticks`
echo "$b"
v=$(false)
echo "status of substitution: $?"
v=$(exit 12)
echo "status of exit in substitution: $?"
count=$(seq 1 2000 | wc -l)
echo "counted: $count"
big=$(seq 1 10000)
echo "big substitution: ${#big} bytes"
w=$( (echo sub; echo shell) | tr '\n' ' ')
echo "pipeline in substitution: $w"
f=$(cat /data/fruits.txt | head -n 2)
echo "$f"
# set -e and cd in a subshell do not leak out.
(set -e; false; echo "not reached")
echo "set -e subshell status: $?"
case $- in *e*) echo "errexit leaked" ;; *) echo "errexit stayed inside" ;; esac
# A subshell's variables are copies: changes in the parent after the fork are not seen.
a=1
( sleep 0; echo "subshell sees a=$a" )
a=2
echo "parent has a=$a"
{ echo "group in the same shell"; g=group; }
echo "group variable: $g"
