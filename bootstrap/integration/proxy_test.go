package integration

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowProxy forwards TCP connections from its own loopback address to a
// target, pacing what the target sends back to at most rate bytes per
// second (0: no limit): a slow link between a replica and its primary.
type slowProxy struct {
	ln     net.Listener
	target string
	rate   atomic.Int64
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]bool
}

// startSlowProxy listens on addr:3306 and forwards to target, with the
// proxy's own connections from addr too.
func startSlowProxy(t *testing.T, addr, target string, rate int64) *slowProxy {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, "3306"))
	if err != nil {
		t.Fatal(err)
	}
	p := &slowProxy{ln: ln, target: target, done: make(chan struct{}), conns: map[net.Conn]bool{}}
	p.rate.Store(rate)
	t.Cleanup(p.close)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.serve(c, addr) }()
		}
	}()
	return p
}

func (p *slowProxy) track(c net.Conn, on bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		select {
		case <-p.done:
			return false
		default:
		}
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
	return true
}

func (p *slowProxy) serve(down net.Conn, addr string) {
	defer down.Close()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}}
	up, err := d.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer up.Close()
	if !p.track(down, true) || !p.track(up, true) {
		return
	}
	defer p.track(down, false)
	defer p.track(up, false)
	go func() {
		_, _ = io.Copy(up, down)
		_ = up.Close()
	}()
	buf := make([]byte, 1024)
	for {
		n, err := up.Read(buf)
		if n > 0 {
			if _, werr := down.Write(buf[:n]); werr != nil {
				return
			}
			if r := p.rate.Load(); r > 0 {
				t := time.NewTimer(time.Duration(int64(n) * int64(time.Second) / r))
				select {
				case <-t.C:
				case <-p.done:
					t.Stop()
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// setRate changes the pace from now on (0: no limit).
func (p *slowProxy) setRate(rate int64) { p.rate.Store(rate) }

// close stops the proxy and drops its connections.
func (p *slowProxy) close() {
	p.once.Do(func() {
		p.mu.Lock()
		close(p.done)
		for c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		_ = p.ln.Close()
		p.wg.Wait()
	})
}
