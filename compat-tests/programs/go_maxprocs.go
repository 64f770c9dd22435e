// go_maxprocs: runtime.NumCPU and GOMAXPROCS (compared with COMPAT_CPUS, which the harness sets
// on each side to the number of CPUs the program may run on there); the same parallel work
// gives the same answer with GOMAXPROCS 1, 2 and 4; LockOSThread; NumGoroutine.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
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

// work sums i*i mod 1000003 over 8 goroutines, each taking its own share.
func work() uint64 {
	var wg sync.WaitGroup
	parts := make([]uint64, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var s uint64
			for i := uint64(g); i < 2000000; i += 8 {
				s += i * i % 1000003
			}
			parts[g] = s
		}(g)
	}
	wg.Wait()
	var total uint64
	for _, p := range parts {
		total += p
	}
	return total
}

func main() {
	if want, err := strconv.Atoi(os.Getenv("COMPAT_CPUS")); err == nil {
		check("runtime.NumCPU() is COMPAT_CPUS", runtime.NumCPU() == want)
	} else {
		fmt.Println("COMPAT_CPUS is not set: NumCPU is not compared")
	}
	check("GOMAXPROCS defaults to NumCPU", runtime.GOMAXPROCS(0) == runtime.NumCPU())

	first := work()
	fmt.Printf("the work's answer: %d\n", first)
	same := true
	for _, procs := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(procs)
		same = same && runtime.GOMAXPROCS(0) == procs && work() == first
	}
	check("GOMAXPROCS 1, 2 and 4: set, and the same answer each time", same)
	runtime.GOMAXPROCS(runtime.NumCPU())

	done := make(chan bool)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid := syscall.Gettid()
		same := true
		for i := 0; i < 100; i++ {
			runtime.Gosched()
			same = same && syscall.Gettid() == tid
		}
		done <- same
	}()
	check("a goroutine locked to its OS thread stays on it", <-done)

	// Not "before + 50": the goroutine above may still be on its way out when counted.
	release := make(chan struct{})
	var started sync.WaitGroup
	for i := 0; i < 50; i++ {
		started.Add(1)
		go func() {
			started.Done()
			<-release
		}()
	}
	started.Wait()
	check("NumGoroutine counts main and the 50 while they wait", runtime.NumGoroutine() >= 51)
	close(release)

	if failures == 0 {
		fmt.Println("all checks passed")
	} else {
		fmt.Printf("%d checks FAILED\n", failures)
		os.Exit(1)
	}
}
