# Here-documents: expansion or not, tab stripping, several in one command, one feeding a
# pipeline, one bigger than a pipe's buffer (ash writes that from a child process).
name=world
cat <<EOT
hello $name
sum: $((2 + 3))
command: $(echo substituted)
EOT
cat <<'EOT'
not expanded: $name $(echo no)
EOT
cat <<-EOT
	tabs stripped
		all leading tabs
	EOT
tr a-z A-Z <<EOT | sort
banana
apple
EOT
while read -r a b; do
    echo "$b-$a"
done <<EOT
1 one
2 two
EOT
cat <<A; cat <<B
from A
A
from B
B
{ read -r x; read -r y <&4; echo "$x $y"; } <<X 4<<Y
from X
X
from Y
Y
cat <<EOT | wc -c
$(seq 1 20000)
EOT
cat <<EOT | tail -n 2
$(seq 1 20000)
EOT
sh <<'EOT'
echo "a script on stdin, args: $#"
exit 6
EOT
echo "sh from a here-document: $?"
