// go_signal: os/signal: Notify for SIGUSR1 sent to the process with syscall.Kill and to a
// thread with Tgkill, several signals on one channel, Ignore, Reset back to the default (which
// would kill: checked with a signal the default ignores), Stop, and SIGPIPE on a closed pipe
// turned into EPIPE.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
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

func receive(c chan os.Signal, d time.Duration) (os.Signal, bool) {
	select {
	case s := <-c:
		return s, true
	case <-time.After(d):
		return nil, false
	}
}

func main() {
	pid := syscall.Getpid()
	c := make(chan os.Signal, 4)
	signal.Notify(c, syscall.SIGUSR1, syscall.SIGUSR2)
	check("kill(pid, SIGUSR1)", syscall.Kill(pid, syscall.SIGUSR1) == nil)
	s, ok := receive(c, 60*time.Second)
	check("Notify delivered SIGUSR1", ok && s == syscall.SIGUSR1)
	check("tgkill(pid, main thread, SIGUSR2)", syscall.Tgkill(pid, pid, syscall.SIGUSR2) == nil)
	s, ok = receive(c, 60*time.Second)
	check("Notify delivered SIGUSR2", ok && s == syscall.SIGUSR2)

	syscall.Kill(pid, syscall.SIGUSR1)
	syscall.Kill(pid, syscall.SIGUSR2)
	got := map[os.Signal]bool{}
	for i := 0; i < 2; i++ {
		if s, ok := receive(c, 60*time.Second); ok {
			got[s] = true
		}
	}
	check("both of two signals sent together arrived", got[syscall.SIGUSR1] && got[syscall.SIGUSR2])

	signal.Ignore(syscall.SIGUSR2)
	syscall.Kill(pid, syscall.SIGUSR2)
	_, ok = receive(c, 50*time.Millisecond)
	check("an ignored SIGUSR2 is neither delivered nor fatal", !ok)

	signal.Stop(c)
	other := make(chan os.Signal, 1)
	signal.Notify(other, syscall.SIGUSR1)
	syscall.Kill(pid, syscall.SIGUSR1)
	_, ok = receive(c, 50*time.Millisecond)
	s, ok2 := receive(other, 60*time.Second)
	check("after Stop, a channel gets nothing; another channel still does", !ok && ok2 && s == syscall.SIGUSR1)

	signal.Notify(other, syscall.SIGWINCH)
	signal.Reset(syscall.SIGWINCH)
	syscall.Kill(pid, syscall.SIGWINCH)
	_, ok = receive(other, 50*time.Millisecond)
	check("Reset SIGWINCH: back to its default (ignored), not delivered", !ok)

	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		fmt.Println("pipe:", err)
		os.Exit(1)
	}
	syscall.Close(p[0])
	_, err := syscall.Write(p[1], []byte("x"))
	check("writing to a pipe with no reader: EPIPE, and the program lives", err == syscall.EPIPE)

	if failures == 0 {
		fmt.Println("all checks passed")
	} else {
		fmt.Printf("%d checks FAILED\n", failures)
		os.Exit(1)
	}
}
