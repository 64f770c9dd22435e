# The image's files changed in every way a container changes them: written, appended,
# deleted (then made again), renamed (files and whole directories, across directories),
# hard-linked (new links and the image's own), listed; run over the overlay root it
# exercises copy-up, whiteouts, opaque directories and merged listings. Prints no times.
bb=/bin/busybox
show() { $bb stat -c '%n %F %a %h %U:%G' "$@"; }
same() { [ "$($bb stat -c '%d %i' "$1")" = "$($bb stat -c '%d %i' "$2")" ] && echo "$1 = $2" || echo "$1 != $2"; }

echo "== write"
ino=$($bb stat -c %i /data/fruits.txt)
echo kiwi >> /data/fruits.txt
tail -n 2 /data/fruits.txt
[ "$($bb stat -c %i /data/fruits.txt)" = "$ino" ] && echo "inode kept"
echo replaced > /data/empty
cat /data/empty
chmod 600 /data/run.sh
show /data/run.sh /data/owned
[ "$($bb stat -c %d /)" = "$($bb stat -c %d /data/run.sh)" ] && echo "one device"

echo "== delete"
$bb rm /data/dated.txt /data/binary.bin
cat /data/dated.txt
ls /data
echo again > /data/dated.txt
cat /data/dated.txt
$bb rm /data/dangling
ls -a /data

echo "== rename"
$bb mv /data/numbers.csv /data/nested/numbers.csv
sed -n 2p /data/nested/numbers.csv
$bb mv /data/nested /data/moved
ls -a /data/moved /data/moved/deeper
cat /data/moved/deeper/leaf.txt
$bb mv /data/moved /data/moved/deeper/x
$bb mv /data/fruits-v2.txt /data/fruits.txt
cat /data/fruits.txt
$bb mkdir /data/nested
ls -a /data/nested
show /data /data/moved

echo "== hard links"
same /data/notes.txt /data/moved/notes-link
echo appended >> /data/notes.txt
tail -n 1 /data/moved/notes-link
show /data/notes.txt
$bb ln /data/fruits.txt /data/fruits-hard
same /data/fruits.txt /data/fruits-hard
echo more >> /data/fruits-hard
tail -n 1 /data/fruits.txt
show /data/fruits.txt
$bb rm /data/notes.txt
show /data/moved/notes-link

echo "== directories"
$bb rmdir /data/moved/deeper
$bb rm /data/moved/deeper/leaf.txt
$bb rmdir /data/moved/deeper
$bb mkdir /data/moved/deeper
ls -a /data/moved/deeper
$bb mkdir -p /data/new/a/b
echo deep > /data/new/a/b/f
$bb mv /data/new /etc/new
cat /etc/new/a/b/f
$bb find /data /etc/new | sort
show /data /etc

echo "== merged listings"
# A directory of the image with new upper entries, copied-up files and whiteouts side by
# side; a lower file replaced by a rename; a lower directory deleted whole and a file made
# in its place.
$bb mkdir /data/mix
echo up > /data/mix/up
echo new > /data/new-upper
$bb rm /data/owned
ls -a /data /data/mix
$bb mv /data/run.sh /data/empty
cat /data/empty
$bb rm /data/link
ls -a /data
$bb rm -r /data/moved
ls /data/moved
echo back > /data/moved
cat /data/moved
ls -a /data
$bb find /data -name '*.txt' | sort
show /data /data/moved /data/empty
