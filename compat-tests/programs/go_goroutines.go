// go_goroutines: goroutines and channels: sync.WaitGroup over 1000 goroutines, a mutex-guarded
// map, unbuffered and buffered channels, select with default and with several ready cases,
// close and range, sync.Once, sync.Cond, atomics, and a pipeline of stages.
package main

import (
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
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

func main() {
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	var total int64
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			mu.Lock()
			counts[i%10]++
			mu.Unlock()
			atomic.AddInt64(&total, int64(i))
		}(i)
	}
	wg.Wait()
	fmt.Printf("1000 goroutines: total %d, buckets %v\n", total, counts)
	ok := total == 999*1000/2 && len(counts) == 10
	for _, c := range counts {
		ok = ok && c == 100
	}
	check("WaitGroup, Mutex and atomics over 1000 goroutines", ok)

	unbuffered := make(chan int)
	go func() {
		for i := 1; i <= 100; i++ {
			unbuffered <- i
		}
		close(unbuffered)
	}()
	sum := 0
	for v := range unbuffered {
		sum += v
	}
	check("100 values through an unbuffered channel, closed, ranged", sum == 5050)
	_, open := <-unbuffered
	check("receive from a closed channel: not ok", !open)

	buffered := make(chan string, 3)
	buffered <- "a"
	buffered <- "b"
	buffered <- "c"
	blocked := false
	select {
	case buffered <- "d":
	default:
		blocked = true
	}
	check("a full buffered channel blocks a send (select default)", blocked)
	check("len and cap", len(buffered) == 3 && cap(buffered) == 3)
	check("FIFO order", <-buffered == "a" && <-buffered == "b" && <-buffered == "c")

	// select over two ready channels picks both over many rounds.
	left, right := make(chan int, 1000), make(chan int, 1000)
	for i := 0; i < 1000; i++ {
		left <- i
		right <- i
	}
	fromLeft, fromRight := 0, 0
	for i := 0; i < 1000; i++ {
		select {
		case <-left:
			fromLeft++
		case <-right:
			fromRight++
		}
	}
	check("select with two ready cases chose each of them at times", fromLeft > 0 && fromRight > 0 && fromLeft+fromRight == 1000)

	var once sync.Once
	inits := int32(0)
	var wg2 sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			once.Do(func() { atomic.AddInt32(&inits, 1) })
		}()
	}
	wg2.Wait()
	check("sync.Once ran once for 50 goroutines", inits == 1)

	var cmu sync.Mutex
	cond := sync.NewCond(&cmu)
	ready := false
	woke := int32(0)
	var wg3 sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg3.Add(1)
		go func() {
			defer wg3.Done()
			cmu.Lock()
			for !ready {
				cond.Wait()
			}
			cmu.Unlock()
			atomic.AddInt32(&woke, 1)
		}()
	}
	time.Sleep(10 * time.Millisecond)
	cmu.Lock()
	ready = true
	cond.Broadcast()
	cmu.Unlock()
	wg3.Wait()
	check("sync.Cond broadcast woke all 8 waiters", woke == 8)

	// A pipeline: generate -> square (4 workers) -> collect.
	nums := make(chan int)
	squares := make(chan int)
	go func() {
		for i := 1; i <= 200; i++ {
			nums <- i
		}
		close(nums)
	}()
	var workers sync.WaitGroup
	for w := 0; w < 4; w++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for n := range nums {
				squares <- n * n
			}
		}()
	}
	go func() {
		workers.Wait()
		close(squares)
	}()
	var got []int
	for s := range squares {
		got = append(got, s)
	}
	sort.Ints(got)
	ok = len(got) == 200
	for i, s := range got {
		ok = ok && s == (i+1)*(i+1)
	}
	check("a 3-stage pipeline with 4 workers squared 1..200", ok)

	if failures == 0 {
		fmt.Println("all checks passed")
	} else {
		fmt.Printf("%d checks FAILED\n", failures)
		os.Exit(1)
	}
}
