// Command faultproxy stands between ingestd and an S3 server for benchmarks
// and drills: it delays, fails or drops the requests that change the bucket.
//
//	faultproxy --listen 127.0.0.1:9100 --target 127.0.0.1:9000 --delay 20ms
//
// SIGUSR1 toggles failing every such request (an outage); SIGUSR2 toggles
// dropping their connections.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ingestd/ingestd/internal/faultproxy"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "`address` to listen on")
	target := flag.String("target", "", "the S3 server, `host:port`")
	delay := flag.Duration("delay", 0, "added to every PUT, POST and DELETE")
	flag.Parse()
	if *target == "" {
		fmt.Fprintln(os.Stderr, "faultproxy: --target is required")
		os.Exit(2)
	}
	p, err := faultproxy.Start(*listen, *target)
	if err != nil {
		log.Fatal(err)
	}
	p.Set(faultproxy.Faults{Delay: *delay})
	fmt.Println(p.Addr)
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGINT, syscall.SIGTERM)
	for s := range sig {
		f := p.Get()
		switch s {
		case syscall.SIGUSR1:
			f.Fail = !f.Fail
		case syscall.SIGUSR2:
			f.Drop = !f.Drop
		default:
			log.Printf("faultproxy: %d requests, %d faulted", p.Requests.Load(), p.Faulted.Load())
			return
		}
		p.Set(f)
		log.Printf("faultproxy: %+v at %s", f, time.Now().Format(time.RFC3339Nano))
	}
}
