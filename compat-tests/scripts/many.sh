# Many processes one after another: fork and exec in a loop, command substitutions and
# pipelines, counted (the counts show that every one ran).
i=0; ok=0
while [ $i -lt 200 ]; do
    /bin/true && ok=$((ok + 1))
    i=$((i + 1))
done
echo "true ran $ok times"
i=0; fails=0
while [ $i -lt 50 ]; do
    /bin/false || fails=$((fails + 1))
    i=$((i + 1))
done
echo "false failed $fails times"
sum=0
for i in $(seq 1 100); do
    sum=$((sum + $(echo $i)))
done
echo "sum of 100 substitutions: $sum"
lines=0
for i in $(seq 1 30); do
    lines=$((lines + $(seq 1 $i | wc -l)))
done
echo "lines through 30 pipelines: $lines"
i=0
while [ $i -lt 50 ]; do
    (exit $((i % 7))) &
    i=$((i + 1))
done
wait
echo "50 background jobs waited for"
echo "expr: $(expr 6 \* 7)"
