// Package fluentd is the Fluent forward transport (fluent.listen): a TCP
// listener, optionally TLS, in front of the intake core, for Fluent Bit's
// and Fluentd's forward outputs and the Fluent loggers.
//
// Each whole message read from a connection is converted
// (ingest/adapter/fluent) and committed before the next is handled; when
// it asks for an acknowledgement (the option's "chunk", Fluent Bit's and
// Fluentd's require_ack_response), {"ack": chunk} is written only once its
// events are durable, so a sender keeps a chunk until the daemon has it.
// While the core refuses for a reason that passes (throttled, buffers or
// disk full) the message is retried and the connection not read, holding
// the sender back. With fluent.handshake the connection starts with the
// shared-key handshake, whose key is a token. A connection that sends what
// is not a forward message,
// or a message over fluent.max_message, is closed; so is one silent for
// fluent.idle_timeout; more than fluent.max_connections are closed at once.
package fluentd

import (
	"cmp"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ingestd/ingestd/ingest"
	"github.com/ingestd/ingestd/ingest/adapter"
	"github.com/ingestd/ingestd/ingest/adapter/fluent"
	"github.com/ingestd/ingestd/internal/confcheck"
	"github.com/ingestd/ingestd/internal/connset"
)

// Config is the fluent section of the configuration. A zero field takes
// its default (in parentheses).
type Config struct {
	Listen string // TCP address; "" = off
	TLS    bool   // serve TLS with tls.cert_file (the listener's wrap)
	Token  string // with auth tokens and no handshake: the token whose producer forward writes as
	// Handshake runs the shared-key handshake on every connection: the
	// client's shared_key must be a token with the role write, and the
	// connection writes as its producer.
	Handshake      bool
	MaxMessage     int           // one forward message as sent, and its events inflated (16 MiB)
	MaxConnections int           // connections at once (256); more are closed at once
	IdleTimeout    time.Duration // a connection silent this long is closed (5 min)
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.MaxMessage = cmp.Or(c.MaxMessage, 16<<20)
	c.MaxConnections = cmp.Or(c.MaxConnections, 256)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, 5*time.Minute)
	return c
}

// Validate reports a bad value, naming its key in the configuration file.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var l confcheck.List
	l.Check(c.MaxMessage >= 1024 && c.MaxMessage <= 64<<20, "fluent.max_message", c.MaxMessage, "want 1KiB..64MiB: a message is one WAL entry")
	l.Check(c.MaxConnections >= 1, "fluent.max_connections", c.MaxConnections, "want ≥ 1")
	l.Check(c.IdleTimeout > 0, "fluent.idle_timeout", c.IdleTimeout, "want > 0")
	return l.Err()
}

// Server runs the forward listener of one core.
type Server struct {
	core *ingest.Core
	cfg  Config
	log  *slog.Logger
	auth []byte
	// hostname is the server's name in the handshake's PONG.
	hostname string

	conns *connset.Set

	events  prometheus.Counter
	dropped *prometheus.CounterVec // by reason
}

// New prepares the listener and registers its metrics in reg.
func New(core *ingest.Core, cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	s := &Server{core: core, cfg: cfg, log: log, conns: connset.New(cfg.MaxConnections),
		events:  prometheus.NewCounter(prometheus.CounterOpts{Name: "ingestd_fluent_events_total", Help: "Fluent forward events stored."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ingestd_fluent_dropped_total", Help: "Fluent forward messages or connections given up, by reason."}, []string{"reason"}),
	}
	if cfg.Token != "" {
		s.auth = []byte("Bearer " + cfg.Token)
	}
	s.hostname, _ = os.Hostname()
	for _, r := range []string{"invalid", "too_large", "max_connections"} {
		s.dropped.WithLabelValues(r)
	}
	reg.MustRegister(s.events, s.dropped, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ingestd_fluent_connections", Help: "Fluent forward connections open."},
		func() float64 { return float64(s.conns.Open()) }))
	return s, nil
}

// Listen opens the listener and serves it in the background; wrap, when
// Config.TLS is set, makes it TLS.
func (s *Server) Listen(wrap func(net.Listener) net.Listener) error {
	if s.cfg.TLS && wrap == nil {
		return errors.New("fluent.tls needs a certificate: set tls.cert_file and tls.key_file")
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return err
	}
	if s.cfg.TLS {
		ln = wrap(ln)
	}
	s.log.Info("listening for fluent forward", "addr", ln.Addr().String(), "tls", s.cfg.TLS)
	s.conns.Serve(ln, s.dropped.WithLabelValues("max_connections").Inc, s.serve)
	return nil
}

// Close stops the listener and the connections; a message being committed
// finishes (and is acknowledged) first. Call it before the core shuts
// down.
func (s *Server) Close() { s.conns.Close() }

func (s *Server) isClosed() bool { return s.conns.Closed() }

// serve reads whole messages from c and handles each before reading on.
func (s *Server) serve(c net.Conn) {
	remote := c.RemoteAddr().String()
	r := &msgReader{c: c, s: s, remote: remote, buf: make([]byte, 0, 64<<10)}
	auth := s.auth
	if s.cfg.Handshake {
		var ok bool
		if auth, ok = s.handshake(c, r); !ok {
			return
		}
	}
	dec := &fluent.Decoder{MaxInflated: s.cfg.MaxMessage}
	var recs, ack []byte
	for {
		msg, ok := r.next()
		if !ok {
			return
		}
		var m fluent.Message
		var err error
		recs, m, err = dec.Records(recs[:0], msg)
		if err != nil {
			s.dropped.WithLabelValues("invalid").Inc()
			s.log.Warn("fluent: closed a connection sending a message that is no forward message", "remote", remote, "err", err)
			return
		}
		if !s.commit(auth, recs, m.Events, remote) {
			return
		}
		if m.Chunk != nil {
			ack = fluent.Ack(ack[:0], m.Chunk)
			c.SetWriteDeadline(time.Now().Add(s.cfg.IdleTimeout))
			if _, err := c.Write(ack); err != nil {
				return
			}
		}
	}
}

// handshake runs the shared-key handshake (HELO, PING, PONG): the client
// proves it knows a token, whose producer the connection then writes as.
func (s *Server) handshake(c net.Conn, r *msgReader) ([]byte, bool) {
	nonce := make([]byte, 16)
	rand.Read(nonce)
	c.SetWriteDeadline(time.Now().Add(s.cfg.IdleTimeout))
	if _, err := c.Write(fluent.Helo(nil, nonce)); err != nil {
		return nil, false
	}
	msg, ok := r.next()
	if !ok {
		return nil, false
	}
	ping, err := fluent.ParsePing(msg)
	if err != nil {
		s.dropped.WithLabelValues("invalid").Inc()
		s.log.Warn("fluent: closed a connection whose handshake failed", "remote", r.remote, "err", err)
		return nil, false
	}
	auth, ok := s.core.MatchToken(func(tok []byte) bool {
		return subtle.ConstantTimeCompare(fluent.Digest(ping.Salt, ping.Hostname, nonce, tok), ping.Digest) == 1
	})
	var pong []byte
	if !ok {
		pong = fluent.Pong(nil, false, "shared_key mismatch", []byte(s.hostname), nil)
	} else {
		tok := auth[len("Bearer "):]
		pong = fluent.Pong(nil, true, "", []byte(s.hostname), fluent.Digest(ping.Salt, []byte(s.hostname), nonce, tok))
	}
	c.SetWriteDeadline(time.Now().Add(s.cfg.IdleTimeout))
	if _, err := c.Write(pong); err != nil || !ok {
		if !ok {
			s.dropped.WithLabelValues(adapter.CodeUnauthorized).Inc()
			s.log.Warn("fluent: closed a connection whose shared key is no token", "remote", r.remote, "hostname", string(ping.Hostname))
		}
		return nil, false
	}
	return auth, true
}

// msgReader reads a connection's whole MessagePack values, one at a time,
// within fluent.max_message and fluent.idle_timeout.
type msgReader struct {
	c      net.Conn
	s      *Server
	remote string
	buf    []byte
	off    int // start of the next message in buf
}

// next returns the next whole message (valid until the next call), or
// false when the connection is done: closed, idle, not MessagePack, or
// over the limit (the last two logged and counted).
func (r *msgReader) next() ([]byte, bool) {
	s := r.s
	for {
		if r.off < len(r.buf) {
			n, err := fluent.Next(r.buf[r.off:])
			switch {
			case err == nil && n > s.cfg.MaxMessage:
				s.dropped.WithLabelValues("too_large").Inc()
				s.log.Warn("fluent: closed a connection sending a message over fluent.max_message", "remote", r.remote, "bytes", n, "max_message", s.cfg.MaxMessage)
				return nil, false
			case err == nil:
				msg := r.buf[r.off : r.off+n]
				r.off += n
				return msg, true
			case !errors.Is(err, fluent.ErrShort):
				s.dropped.WithLabelValues("invalid").Inc()
				s.log.Warn("fluent: closed a connection sending what is not MessagePack", "remote", r.remote, "err", err)
				return nil, false
			}
		}
		r.buf = r.buf[:copy(r.buf, r.buf[r.off:])]
		r.off = 0
		if len(r.buf) > s.cfg.MaxMessage {
			s.dropped.WithLabelValues("too_large").Inc()
			s.log.Warn("fluent: closed a connection sending a message over fluent.max_message", "remote", r.remote, "max_message", s.cfg.MaxMessage)
			return nil, false
		}
		if s.isClosed() {
			return nil, false
		}
		if len(r.buf) == cap(r.buf) {
			r.buf = append(r.buf, make([]byte, len(r.buf))...)[:len(r.buf)]
		}
		r.c.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		n, err := r.c.Read(r.buf[len(r.buf):cap(r.buf)])
		r.buf = r.buf[:len(r.buf)+n]
		if err != nil && n == 0 {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !s.isClosed() {
				s.log.Info("fluent: closed an idle connection", "remote", r.remote, "idle_timeout", s.cfg.IdleTimeout)
			}
			return nil, false
		}
	}
}

// commit stores one message's records, retrying a refusal that passes
// (429, 503, 507) while the server runs; false when the message was not
// stored (the connection is then closed, and its chunk not acknowledged).
func (s *Server) commit(auth, recs []byte, events int, remote string) bool {
	if events == 0 {
		return true
	}
	for {
		e := s.commitOnce(auth, recs)
		if e == nil {
			s.events.Add(float64(events))
			return true
		}
		transient := e.Status == 429 || e.Status == 503 || e.Status == 507
		if !transient || s.isClosed() {
			s.dropped.WithLabelValues(e.Code).Inc()
			s.log.Warn("fluent: message not stored; closing the connection (its chunk is not acknowledged)", "remote", remote,
				"events", events, "status", e.Status, "err", e.Message)
			return false
		}
		time.Sleep(min(time.Duration(max(e.RetryAfter, 1))*time.Second, time.Second))
	}
}

func (s *Server) commitOnce(auth, recs []byte) *adapter.Error {
	w, e := s.core.Begin(auth, "fluent")
	if e != nil {
		return e
	}
	_, e = w.Commit(recs, fluent.Options)
	w.Done(e == nil)
	return e
}
