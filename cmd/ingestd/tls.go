package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"sync/atomic"
)

// certReloader serves the current certificate and swaps in a new one on
// reload; connections already open keep theirs.
type certReloader struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	return r, r.reload()
}

func (r *certReloader) reload() error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls: load %s / %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert.Store(&c)
	return nil
}

// listener wraps ln so every new connection gets the certificate current at
// its handshake.
func (r *certReloader) listener(ln net.Listener) net.Listener {
	return tls.NewListener(ln, r.config())
}

// config is the TLS configuration of every listener: TLS 1.2 or newer, the
// certificate current at each handshake.
func (r *certReloader) config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return r.cert.Load(), nil
		},
	}
}

// isLoopback reports whether a listen address only takes connections from
// this host.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
