// Package faultproxy is an HTTP proxy for tests and benchmarks that stands
// between the daemon and an S3 server and delays, fails or drops requests,
// so that bucket outages and slow PUTs can be made on purpose. Faults apply
// to the requests that change the bucket (PUT, POST, DELETE) unless All is
// set; reads pass untouched.
package faultproxy

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Faults says what happens to the requests that change the bucket.
type Faults struct {
	Delay time.Duration // added before forwarding
	Fail  bool          // answer 503 SlowDown without forwarding
	Drop  bool          // close the connection without an answer
	All   bool          // apply to reads too
}

// Proxy forwards to an S3 server, with the faults currently set.
type Proxy struct {
	Addr string // where it listens

	mu     sync.Mutex
	faults Faults
	ln     net.Listener
	srv    *http.Server

	Requests, Faulted atomic.Int64
}

// Start listens on addr ("127.0.0.1:0" for any port) and forwards to target
// (host:port).
func Start(addr, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: ln.Addr().String(), ln: ln}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: target})
	// The client signed the request for the proxy's host: keep it.
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.Requests.Add(1)
		f := p.Get()
		if f.All || r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodDelete {
			if f.Delay > 0 || f.Fail || f.Drop {
				p.Faulted.Add(1)
			}
			if f.Delay > 0 {
				time.Sleep(f.Delay)
			}
			switch {
			case f.Drop:
				if hj, ok := w.(http.Hijacker); ok {
					if c, _, err := hj.Hijack(); err == nil {
						c.Close()
						return
					}
				}
				panic(http.ErrAbortHandler)
			case f.Fail:
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>faultproxy: failing on purpose</Message></Error>`))
				return
			}
		}
		rp.ServeHTTP(w, r)
	})}
	go p.srv.Serve(ln)
	return p, nil
}

// Set replaces the faults.
func (p *Proxy) Set(f Faults) {
	p.mu.Lock()
	p.faults = f
	p.mu.Unlock()
}

// Get returns the faults in force.
func (p *Proxy) Get() Faults {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults
}

// Close stops the proxy.
func (p *Proxy) Close() error { return p.srv.Close() }
