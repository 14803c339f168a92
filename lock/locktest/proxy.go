package locktest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Proxy is a TCP fault proxy between a client and one Redis, run in-process
// with Shopify's toxiproxy library. Faults are toxics that apply to open
// connections and new ones alike until Heal removes them.
type Proxy struct {
	tb   TB
	Addr string // host:port clients dial instead of the upstream
	p    *toxiproxy.Proxy

	mu     sync.Mutex
	toxics []string // names of the toxics in force
}

var proxySeq struct {
	sync.Mutex
	n int
}

// StartProxy listens on a free loopback port and forwards every connection to
// upstream (host:port). It stops in tb.Cleanup, closing every connection.
func StartProxy(tb TB, upstream string) *Proxy {
	tb.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	proxySeq.Lock()
	proxySeq.n++
	name := fmt.Sprintf("redis-%d", proxySeq.n)
	proxySeq.Unlock()
	p := toxiproxy.NewProxy(srv, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		tb.Fatalf("start fault proxy to %s: %v", upstream, err)
	}
	tb.Cleanup(p.Stop)
	return &Proxy{tb: tb, Addr: p.Listen, p: p}
}

// URL is the lockstep backend URL that goes through the proxy.
func (p *Proxy) URL() string { return "redis://" + p.Addr }

// Latency delays every reply by d (so each round trip takes d longer).
func (p *Proxy) Latency(d time.Duration) {
	p.tb.Helper()
	p.add("latency", "downstream", fmt.Sprintf(`{"latency":%d}`, d.Milliseconds()))
}

// OneWayLatency delays the traffic by d in each direction: a request
// reaches Redis d late and its reply comes back d later still (a round trip
// takes 2d longer).
func (p *Proxy) OneWayLatency(d time.Duration) {
	p.tb.Helper()
	attrs := fmt.Sprintf(`{"latency":%d}`, d.Milliseconds())
	p.add("latency", "upstream", attrs)
	p.add("latency", "downstream", attrs)
}

// Blackhole stops forwarding in both directions: connections stay open (and
// new ones are accepted) but every byte is dropped, as in a network partition
// that sends no resets.
func (p *Proxy) Blackhole() {
	p.tb.Helper()
	p.add("timeout", "upstream", `{"timeout":0}`)
	p.add("timeout", "downstream", `{"timeout":0}`)
}

// ResetPeer makes the next reply on every connection vanish: the proxy drops
// it and closes the client's connection. The request itself reached Redis,
// so the client cannot tell whether its command ran.
func (p *Proxy) ResetPeer() {
	p.tb.Helper()
	p.add("reset_peer", "downstream", `{"timeout":0}`)
}

// Heal removes every toxic; new data flows normally again. Connections that a
// toxic closed stay closed (clients reconnect).
func (p *Proxy) Heal() {
	p.tb.Helper()
	p.mu.Lock()
	names := p.toxics
	p.toxics = nil
	p.mu.Unlock()
	for _, n := range names {
		if err := p.p.Toxics.RemoveToxic(context.Background(), n); err != nil {
			p.tb.Fatalf("remove toxic %s: %v", n, err)
		}
	}
}

// Disable stops listening and closes every connection, as if the server went
// away; Enable listens again on the same address.
func (p *Proxy) Disable() { p.p.Stop() }

// Enable undoes Disable.
func (p *Proxy) Enable() {
	p.tb.Helper()
	if err := p.p.Start(); err != nil {
		p.tb.Fatalf("restart fault proxy: %v", err)
	}
}

func (p *Proxy) add(kind, stream, attrs string) {
	p.tb.Helper()
	name := fmt.Sprintf("%s_%s", kind, stream)
	body := fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"toxicity":1,"attributes":%s}`, name, kind, stream, attrs)
	if _, err := p.p.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
		p.tb.Fatalf("add toxic %s: %v", name, err)
	}
	p.mu.Lock()
	p.toxics = append(p.toxics, name)
	p.mu.Unlock()
}
