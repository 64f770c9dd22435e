# Reading files: read loops with IFS, a file read by several processes in turn, line counts
# from applets, and writing files read back by children.
while IFS=, read -r name count colour; do
    echo "$name has $count ($colour)"
done < /data/numbers.csv
n=0
while read -r line; do n=$((n + 1)); done < /data/fruits.txt
echo "fruits: $n lines"
cat /data/fruits.txt | while read -r f; do echo "fruit: $f"; done | head -n 3
{ read -r h; echo "header: $h"; cat; } < /data/numbers.csv
grep -c apple /data/fruits.txt
sed -n 2p /data/numbers.csv
for f in /data/*.txt; do echo "$f: $(wc -l < "$f") lines"; done
i=0
while [ $i -lt 20 ]; do echo "row $i" >> /tmp/rows; i=$((i + 1)); done
wc -l /tmp/rows
tail -n 2 /tmp/rows
sort -t, -k2,2n /data/numbers.csv | head -n 3
md5sum /data/fruits.txt
