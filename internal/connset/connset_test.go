package connset

import (
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// Connections over the cap are closed at once and counted; Close wakes
// every reader and waits for its handler to finish.
func TestCapAndClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(2)
	var refused, finished atomic.Int64
	started := make(chan struct{}, 3)
	s.Serve(ln, func() { refused.Add(1) }, func(c net.Conn) {
		started <- struct{}{}
		c.Read(make([]byte, 1)) // blocks until Close sets the deadline
		time.Sleep(50 * time.Millisecond)
		finished.Add(1)
	})
	var clients []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		<-started
	}
	third, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := third.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection over the cap was served")
	}
	if s.Open() != 2 || refused.Load() != 1 {
		t.Fatalf("open %d, refused %d; want 2 and 1", s.Open(), refused.Load())
	}
	s.Close()
	if finished.Load() != 2 || s.Open() != 0 || !s.Closed() {
		t.Fatalf("after Close: %d handlers finished, %d open", finished.Load(), s.Open())
	}
	for _, c := range clients {
		c.Close()
	}
}
