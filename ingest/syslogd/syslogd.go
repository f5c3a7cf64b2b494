// Package syslogd is the syslog transport: TCP and UDP listeners in front of
// the intake core. Syslog has no acknowledgement, so the guarantee is what
// the transport allows:
//
//   - TCP: the messages parsed from what was read are committed (durable per
//     wal.fsync) before anything more is read from the connection. A crash
//     loses at most the bytes the kernel had received and not yet handed
//     over; while the core refuses (buffers full, disk full) the connection
//     is not read, so the sender is held back by TCP, not dropped.
//   - UDP: best effort. Datagrams are batched for a few milliseconds and
//     committed; those the core refuses, or the kernel drops, are lost and
//     counted.
//
// Per connection: messages over syslog.max_message close it, as does
// syslog.idle_timeout of silence or a stream that does not start with a
// frame; more than syslog.max_connections are closed at once. Text between
// frames that is not a message is skipped by the parser.
package syslogd

import (
	"bufio"
	"cmp"
	"errors"
	"io"
	"log/slog"
	"net"
	"time"

	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ingestd/ingestd/ingest"
	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/ingest/adapter/syslog"
	"github.com/ingestd/ingestd/internal/confcheck"
	"github.com/ingestd/ingestd/internal/connset"
)

// maxBatch is how many record bytes a connection gathers before it commits
// without waiting to run out of input.
const maxBatch = 1 << 20

// Config is the syslog section of the configuration. A zero field takes its
// default (in parentheses); an empty address is a listener that is off.
type Config struct {
	ListenTCP      string        // RFC 5424/3164 over TCP, octet-counting or newline framing
	ListenUDP      string        // one message a datagram
	ListenTLS      string        // RFC 5425: over TLS (Listen's wrap)
	Token          string        // with auth tokens: the token whose producer syslog writes as
	MaxMessage     int           // one message, bytes (64 KiB); a TCP connection sending a longer one is closed
	MaxConnections int           // TCP connections at once (256); more are closed at once
	IdleTimeout    time.Duration // a TCP connection silent this long is closed (5 min)
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.MaxMessage = cmp.Or(c.MaxMessage, 64<<10)
	c.MaxConnections = cmp.Or(c.MaxConnections, 256)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, 5*time.Minute)
	return c
}

// Validate reports a bad value, naming its key in the configuration file.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var l confcheck.List
	l.Check(c.MaxMessage >= 480 && c.MaxMessage <= 16<<20, "syslog.max_message", c.MaxMessage, "want 480B..16MiB: RFC 5424 receivers take at least 480 bytes")
	l.Check(c.MaxConnections >= 1, "syslog.max_connections", c.MaxConnections, "want ≥ 1")
	l.Check(c.IdleTimeout > 0, "syslog.idle_timeout", c.IdleTimeout, "want > 0")
	return l.Err()
}

// Server runs the syslog listeners of one core.
type Server struct {
	core *ingest.Core
	cfg  Config
	log  *slog.Logger
	auth []byte

	conns *connset.Set // the TCP and TLS connections, and every listener

	messages *prometheus.CounterVec // by transport
	invalid  *prometheus.CounterVec // messages the parser refused, by transport
	dropped  *prometheus.CounterVec // by transport and reason
}

// New prepares the listeners of cfg (none when every address is empty) and
// registers the syslog metrics in reg.
func New(core *ingest.Core, cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	s := &Server{core: core, cfg: cfg, log: log,
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ingestd_syslog_messages_total", Help: "Syslog messages stored, by transport."}, []string{"transport"}),
		invalid:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ingestd_syslog_invalid_total", Help: "Syslog messages the parser refused (not stored), by transport."}, []string{"transport"}),
		dropped:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ingestd_syslog_dropped_total", Help: "Syslog messages or connections given up, by transport and reason."}, []string{"transport", "reason"}),
	}
	if cfg.Token != "" {
		s.auth = []byte("Bearer " + cfg.Token)
	}
	reg.MustRegister(s.messages, s.invalid, s.dropped)
	// The series of each configured transport exist at 0 from the start.
	for tr, addr := range map[string]string{"tcp": cfg.ListenTCP, "udp": cfg.ListenUDP, "tls": cfg.ListenTLS} {
		if addr != "" {
			s.messages.WithLabelValues(tr)
			s.invalid.WithLabelValues(tr)
			s.dropped.WithLabelValues(tr, "too_large")
		}
	}
	s.conns = connset.New(cfg.MaxConnections)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ingestd_syslog_connections", Help: "Syslog TCP connections open."},
		func() float64 { return float64(s.conns.Open()) }))
	return s, nil
}

// Listen opens the configured listeners and serves them in the background.
// tls wraps the syslog.listen_tls listener (RFC 5425: syslog over TLS); it
// may be nil when that listener is not configured.
func (s *Server) Listen(tls func(net.Listener) net.Listener) error {
	for _, l := range []struct{ transport, addr string }{{"tcp", s.cfg.ListenTCP}, {"tls", s.cfg.ListenTLS}} {
		if l.addr == "" {
			continue
		}
		if l.transport == "tls" && tls == nil {
			s.Close()
			return errors.New("syslog.listen_tls needs a certificate: set tls.cert_file and tls.key_file")
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			s.Close()
			return err
		}
		if l.transport == "tls" {
			ln = tls(ln)
		}
		s.log.Info("listening for syslog", "transport", l.transport, "addr", ln.Addr().String())
		transport := l.transport
		s.conns.Serve(ln, s.dropped.WithLabelValues(transport, "max_connections").Inc,
			func(c net.Conn) { s.serveTCP(c, transport) })
	}
	if s.cfg.ListenUDP != "" {
		pc, err := net.ListenPacket("udp", s.cfg.ListenUDP)
		if err != nil {
			s.Close()
			return err
		}
		s.log.Info("listening for syslog", "transport", "udp", "addr", pc.LocalAddr().String())
		s.conns.Go(pc, func() { s.serveUDP(pc) })
	}
	return nil
}

// Close stops the listeners and connections; what each had parsed is
// committed first. Call it before the core shuts down.
func (s *Server) Close() { s.conns.Close() }

// batch gathers one connection's (or one UDP window's) records.
type batch struct {
	s         *Server
	transport string
	recs      []byte
	n         int
}

// commit stores the batch. With retry (TCP) a refusal the core expects to
// pass (429, 503, 507) is retried, holding the sender back, until the
// server closes; otherwise the batch is dropped and counted.
func (b *batch) commit(retry bool) {
	for b.n > 0 {
		e := b.s.commitOnce(b.recs)
		if e == nil {
			b.s.messages.WithLabelValues(b.transport).Add(float64(b.n))
			break
		}
		transient := e.Status == 429 || e.Status == 503 || e.Status == 507
		if !retry || !transient || b.s.isClosed() {
			b.s.log.Warn("syslog: messages not stored", "transport", b.transport, "messages", b.n, "status", e.Status, "err", e.Message)
			b.s.dropped.WithLabelValues(b.transport, e.Code).Add(float64(b.n))
			break
		}
		wait := time.Duration(max(e.RetryAfter, 1)) * time.Second
		time.Sleep(min(wait, time.Second))
	}
	b.recs, b.n = b.recs[:0], 0
}

func (s *Server) isClosed() bool { return s.conns.Closed() }

func (s *Server) commitOnce(recs []byte) *adapter.Error {
	w, e := s.core.Begin(s.auth, "syslog")
	if e != nil {
		return e
	}
	_, e = w.Commit(recs, syslog.Options)
	w.Done(e == nil)
	return e
}

// commitReader commits the connection's batch before every read from the
// socket: whatever was parsed from the bytes read so far is durable before
// more are read.
type commitReader struct {
	c     net.Conn
	b     *batch
	idle  time.Duration
	limit int // bytes allowed since the last newline (newline framing)
	run   int
	lines bool
	err   error
}

var errTooLong = errors.New("syslog message over syslog.max_message")

func (r *commitReader) Read(p []byte) (int, error) {
	r.b.commit(true)
	if r.err != nil {
		return 0, r.err
	}
	if r.b.s.isClosed() {
		return 0, io.EOF
	}
	r.c.SetReadDeadline(time.Now().Add(r.idle))
	n, err := r.c.Read(p)
	if r.lines { // newline framing has no length: bound the message here
		for _, c := range p[:n] {
			if c == '\n' {
				r.run = 0
			} else if r.run++; r.run > r.limit {
				r.err = errTooLong
				return 0, errTooLong
			}
		}
	}
	return n, err
}

func (s *Server) serveTCP(c net.Conn, transport string) {
	remote := c.RemoteAddr().String()
	b := &batch{s: s, transport: transport}
	cr := &commitReader{c: c, b: b, idle: s.cfg.IdleTimeout, limit: s.cfg.MaxMessage}
	br := bufio.NewReaderSize(cr, 64<<10)
	first, err := br.Peek(1)
	if err != nil {
		return
	}
	if first[0] != '<' && (first[0] < '1' || first[0] > '9') {
		// Neither framing: not syslog (the parser would skip to the first '<').
		s.invalid.WithLabelValues(transport).Inc()
		s.log.Warn("syslog: closed a connection that does not start with a syslog frame ('<' or an octet count)", "remote", remote)
		return
	}
	cr.lines = first[0] == '<'
	p := syslog.NewStreamParser(first[0], s.cfg.MaxMessage, func(res *gosyslog.Result) {
		if res.Message == nil || res.Error != nil && !res.Message.Valid() {
			s.invalid.WithLabelValues(transport).Inc()
			return
		}
		b.recs = syslog.AppendRecord(b.recs, res.Message, remote, time.Now())
		b.n++
		if len(b.recs) >= maxBatch {
			b.commit(true)
		}
	})
	p.Parse(br)
	b.commit(true)
	if errors.Is(cr.err, errTooLong) {
		s.dropped.WithLabelValues(transport, "too_large").Inc()
		s.log.Warn("syslog: closed a connection sending a message over syslog.max_message", "remote", remote, "max_message", s.cfg.MaxMessage)
	}
}

// udpWindow is how long datagrams are gathered into one commit.
const udpWindow = 5 * time.Millisecond

func (s *Server) serveUDP(pc net.PacketConn) {
	buf := make([]byte, s.cfg.MaxMessage+1)
	m := syslog.NewMachine()
	b := &batch{s: s, transport: "udp"}
	for {
		if b.n > 0 {
			pc.SetReadDeadline(time.Now().Add(udpWindow))
		} else {
			pc.SetReadDeadline(time.Time{})
		}
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				b.commit(false)
				continue
			}
			b.commit(false)
			return // closed
		}
		if n > s.cfg.MaxMessage {
			s.dropped.WithLabelValues("udp", "too_large").Inc()
			continue
		}
		msg, err := m.Parse(buf[:n])
		if msg == nil || err != nil && !msg.Valid() {
			s.invalid.WithLabelValues("udp").Inc()
			continue
		}
		b.recs = syslog.AppendRecord(b.recs, msg, addr.String(), time.Now())
		b.n++
		if len(b.recs) >= maxBatch {
			b.commit(false)
		}
	}
}
