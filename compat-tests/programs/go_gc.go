// go_gc: the garbage collector under allocation pressure: 400 MiB allocated in all with a
// small live set, on several goroutines; explicit runtime.GC; finalizers; the heap stays
// small; the live data is intact afterwards.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
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

type node struct {
	next  *node
	value int
	pad   [48]byte
}

// churn allocates `total` bytes in chunks of various sizes, keeping only the last 16.
func churn(seed, total int) int {
	var keep [16][]byte
	sum := 0
	for allocated, i := 0, 0; allocated < total; i++ {
		size := 1024 << uint((seed+i)%8) // 1 KiB .. 128 KiB
		b := make([]byte, size)
		b[0] = byte(i)
		b[size-1] = byte(seed)
		keep[i%16] = b
		allocated += size
		sum += int(b[0])
	}
	for _, b := range keep {
		if b != nil {
			sum += int(b[len(b)-1])
		}
	}
	return sum
}

func main() {
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	// A linked list that must survive every collection.
	var head *node
	for i := 0; i < 10000; i++ {
		head = &node{next: head, value: i}
	}

	var wg sync.WaitGroup
	results := make([]int, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			results[g] = churn(g, 100<<20)
		}(g)
	}
	wg.Wait()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	fmt.Printf("allocated at least 400 MiB: %v\n", allocated >= 400<<20)
	check("4 goroutines allocated 400 MiB in all", allocated >= 400<<20)
	check("the collector ran (NumGC grew)", after.NumGC > before.NumGC)
	check("the heap stayed small (under 64 MiB live after GC)", after.HeapAlloc < 64<<20)
	ok := true
	for _, r := range results {
		ok = ok && r > 0
	}
	check("every goroutine finished its churn", ok)

	count, sum := 0, 0
	for n := head; n != nil; n = n.next {
		count++
		sum += n.value
	}
	check("the live list survived intact", count == 10000 && sum == 9999*10000/2)

	finalized := make(chan int, 10)
	for i := 0; i < 10; i++ {
		obj := &node{value: i}
		runtime.SetFinalizer(obj, func(n *node) { finalized <- n.value })
	}
	got := 0
	deadline := time.Now().Add(60 * time.Second)
	for got < 10 && time.Now().Before(deadline) {
		runtime.GC()
		select {
		case <-finalized:
			got++
		case <-time.After(10 * time.Millisecond):
		}
	}
	check("finalizers ran for 10 unreachable objects", got == 10)
	runtime.KeepAlive(head)

	if failures == 0 {
		fmt.Println("all checks passed")
	} else {
		fmt.Printf("%d checks FAILED\n", failures)
		os.Exit(1)
	}
}
