// Package connset runs the stream listeners of a transport that is not
// HTTP (syslog over TCP and TLS, Fluent forward): an accept loop per
// listener that closes connections beyond a cap, each connection served
// in its own goroutine and tracked, and a Close that stops accepting,
// wakes every reader (its read deadline passes) and waits for the
// handlers, so that what they had read is committed first.
package connset

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Set is the listeners and connections of one transport. The zero value
// is not usable; New makes one.
type Set struct {
	max int64

	mu     sync.Mutex
	lns    []io.Closer
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
	n      atomic.Int64
}

// New returns a set that keeps at most max connections open, over all its
// listeners.
func New(max int) *Set {
	return &Set{max: int64(max), conns: map[net.Conn]struct{}{}}
}

// Open is the number of connections open.
func (s *Set) Open() int64 { return s.n.Load() }

// Closed reports whether Close has begun.
func (s *Set) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Go runs fn in a goroutine that Close waits for, and closes c (a
// listener or packet connection) at Close.
func (s *Set) Go(c io.Closer, fn func()) {
	s.mu.Lock()
	s.lns = append(s.lns, c)
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// Serve accepts ln's connections in the background and hands each to
// handle in its own goroutine; the connection is closed when handle
// returns. One over the cap is closed at once, and refused (when not nil)
// is called.
func (s *Set) Serve(ln net.Listener, refused func(), handle func(net.Conn)) {
	s.Go(ln, func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue
				}
				return // closed
			}
			if s.n.Load() >= s.max {
				if refused != nil {
					refused()
				}
				c.Close()
				continue
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				c.Close()
				return
			}
			s.conns[c] = struct{}{}
			s.n.Add(1)
			s.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.wg.Done()
				defer func() {
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
					s.n.Add(-1)
					c.Close()
				}()
				handle(c)
			}()
		}
	})
}

// Close stops the listeners, makes every connection's pending read
// return (its deadline is now) and waits for the handlers.
func (s *Set) Close() {
	s.mu.Lock()
	s.closed = true
	for _, c := range s.lns {
		c.Close()
	}
	for c := range s.conns {
		c.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	s.wg.Wait()
}
