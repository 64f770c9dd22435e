// go_hello: the smallest Go program worth running: arguments, an environment variable, a map
// printed in sorted order, a goroutine and a channel, and the exit status.
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

func main() {
	fmt.Println("hello from go")
	for i, a := range os.Args[1:] {
		fmt.Printf("arg[%d]=%q\n", i+1, a)
	}
	fmt.Printf("HOME=%q\n", os.Getenv("HOME"))
	counts := map[string]int{}
	for _, w := range strings.Fields("the quick brown fox jumps over the lazy dog the end") {
		counts[w]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("%s:%d ", k, counts[k])
	}
	fmt.Println()
	done := make(chan string)
	go func() { done <- "from a goroutine" }()
	fmt.Println(<-done)
	fmt.Fprintln(os.Stderr, "to stderr")
}
