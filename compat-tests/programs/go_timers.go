// go_timers: the runtime's timers: time.Sleep, time.After in a select, a Ticker, AfterFunc,
// Timer.Stop and Reset, context deadlines, and 100 goroutines sleeping at once. Only yes/no
// facts about elapsed time are printed.
package main

import (
	"context"
	"fmt"
	"os"
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

const long = 60 * time.Second

func main() {
	start := time.Now()
	time.Sleep(30 * time.Millisecond)
	check("time.Sleep(30 ms) took at least 30 ms", time.Since(start) >= 30*time.Millisecond)

	never := make(chan int)
	start = time.Now()
	select {
	case <-never:
		check("time.After(20 ms) won the select", false)
	case <-time.After(20 * time.Millisecond):
		check("time.After(20 ms) won the select", time.Since(start) >= 20*time.Millisecond)
	}

	// Each start is read before the timer it measures is made: a timer counts from its making.
	start = time.Now()
	ticker := time.NewTicker(10 * time.Millisecond)
	ticks := 0
	timeout := time.After(long)
	for ticks < 5 {
		select {
		case <-ticker.C:
			ticks++
		case <-timeout:
			ticks = 100
		}
	}
	ticker.Stop()
	check("a 10 ms Ticker ticked 5 times in at least 50 ms", ticks == 5 && time.Since(start) >= 50*time.Millisecond)

	fired := make(chan time.Duration, 1)
	start = time.Now()
	time.AfterFunc(20*time.Millisecond, func() { fired <- time.Since(start) })
	select {
	case d := <-fired:
		check("AfterFunc(20 ms) ran its function after at least 20 ms", d >= 20*time.Millisecond)
	case <-time.After(long):
		check("AfterFunc(20 ms) ran its function", false)
	}

	stopped := time.NewTimer(20 * time.Millisecond)
	check("Stop before it fires returns true", stopped.Stop())
	select {
	case <-stopped.C:
		check("a stopped timer does not fire", false)
	case <-time.After(50 * time.Millisecond):
		check("a stopped timer does not fire", true)
	}
	reset := time.NewTimer(time.Hour)
	start = time.Now()
	reset.Reset(20 * time.Millisecond)
	select {
	case <-reset.C:
		check("a timer Reset from 1 h to 20 ms fired after at least 20 ms", time.Since(start) >= 20*time.Millisecond)
	case <-time.After(long):
		check("a timer Reset from 1 h to 20 ms fired", false)
	}

	start = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	<-ctx.Done()
	check("context.WithTimeout(20 ms): DeadlineExceeded", ctx.Err() == context.DeadlineExceeded && time.Since(start) >= 20*time.Millisecond)

	var wg sync.WaitGroup
	var late int32
	start = time.Now()
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := time.Now()
			time.Sleep(200 * time.Millisecond)
			if time.Since(s) < 200*time.Millisecond {
				atomic.AddInt32(&late, 1)
			}
		}()
	}
	wg.Wait()
	check("100 goroutines each slept at least 200 ms", late == 0)
	check("at the same time: all together well under 100 x 200 ms", time.Since(start) < 10*time.Second)

	if failures == 0 {
		fmt.Println("all checks passed")
	} else {
		fmt.Printf("%d checks FAILED\n", failures)
		os.Exit(1)
	}
}
