// go_panic: panics: recovered in main and in a goroutine, a runtime error (nil map) recovered
// with its message, deferred calls run in order; then, by argv[1], the program ends normally
// ("recover", status 0), with an unrecovered panic in main ("crash", status 2) or in another
// goroutine ("crash-goroutine", status 2), or with os.Exit(3) ("exit"). The harness compares
// only the first line of stderr: the goroutine traces that follow hold numbers that vary.
package main

import (
	"fmt"
	"os"
)

var failures int

func check(what string, ok bool) {
	if ok {
		fmt.Printf("%s: ok\n", what)
	} else {
		fmt.Printf("%s: FAILED\n", what)
		failures++
	}
}

func recovered(f func()) (value interface{}) {
	defer func() { value = recover() }()
	f()
	return nil
}

func main() {
	v := recovered(func() { panic("plain") })
	check("recover() returned the panic value", v == "plain")

	var order []int
	recovered(func() {
		defer func() { order = append(order, 1) }()
		defer func() { order = append(order, 2) }()
		panic("deferred")
	})
	check("deferred calls ran last-in first-out during the panic", len(order) == 2 && order[0] == 2 && order[1] == 1)

	v = recovered(func() {
		var m map[string]int
		m["x"] = 1
	})
	err, isErr := v.(error)
	fmt.Printf("nil map write: %v\n", err)
	check("a runtime error is recovered as an error", isErr && err.Error() == "assignment to entry in nil map")

	v = recovered(func() {
		var p *struct{ x int }
		_ = p.x
	})
	err, isErr = v.(error)
	fmt.Printf("nil pointer: %v\n", err)
	check("a nil pointer dereference (SIGSEGV inside) is recovered as an error", isErr)

	done := make(chan interface{})
	go func() { done <- recovered(func() { panic(fmt.Sprintf("in goroutine %d", 7)) }) }()
	check("a goroutine recovered its own panic", <-done == "in goroutine 7")

	how := "recover"
	if len(os.Args) > 1 {
		how = os.Args[1]
	}
	fmt.Printf("ending: %s\n", how)
	switch how {
	case "crash":
		panic(fmt.Sprintf("unrecovered in main after %d checks", 5))
	case "crash-goroutine":
		stop := make(chan bool)
		go func() { panic("unrecovered in a goroutine") }()
		<-stop
	case "exit":
		os.Exit(3)
	}
	if failures != 0 {
		os.Exit(1)
	}
}
