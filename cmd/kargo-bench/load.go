package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Load bounds one attack: Concurrency workers sending requests back to back (no pacing), for
// at most Duration and at most MaxRequests requests.
type Load struct {
	Concurrency int
	Duration    time.Duration
	MaxRequests uint64
	// Header is sent with every request (e.g. If-None-Match, to load the 304 path).
	Header http.Header
}

// LoadResult is what one attack measured.
type LoadResult struct {
	// Rate is successful responses per second; P50 and P99 are latencies of every request.
	Rate     float64
	P50, P99 time.Duration
	Requests uint64
	Errors   uint64
	// FirstError is one error seen, for the report.
	FirstError string
}

// checkLoopback refuses any target that is not on 127.0.0.1: benchmarks load no other host.
func checkLoopback(target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("target %q: %w", target, err)
	}
	if u.Hostname() != "127.0.0.1" {
		return fmt.Errorf("target %q: only 127.0.0.1 may be loaded", target)
	}
	return nil
}

// attack runs one bounded load against target with vegeta and summarises it.
func attack(ctx context.Context, target string, l Load) (LoadResult, error) {
	if err := checkLoopback(target); err != nil {
		return LoadResult{}, err
	}
	if l.Concurrency < 1 || l.Duration <= 0 || l.MaxRequests == 0 {
		return LoadResult{}, fmt.Errorf("load on %s: unbounded (%+v)", target, l)
	}
	c := uint64(l.Concurrency)
	a := vegeta.NewAttacker(
		vegeta.Workers(c), vegeta.MaxWorkers(c), vegeta.Connections(l.Concurrency),
		vegeta.MaxConnections(l.Concurrency), vegeta.KeepAlive(true), vegeta.HTTP2(false),
		vegeta.Timeout(10*time.Second), vegeta.Redirects(vegeta.NoFollow),
	)
	tr := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: target, Header: l.Header})
	var m vegeta.Metrics
	var first string
	results := a.Attack(tr, vegeta.Rate{Freq: 0}, l.Duration, "bench")
	stopped := false
	for res := range results {
		// Requests already in flight when the bound is reached still finish (at most one
		// per worker); they are not counted, so a figure is over MaxRequests exactly.
		if m.Requests >= l.MaxRequests {
			continue
		}
		m.Add(res)
		if res.Error != "" && first == "" {
			first = res.Error
		}
		if !stopped && (m.Requests >= l.MaxRequests || ctx.Err() != nil) {
			a.Stop()
			stopped = true
		}
	}
	m.Close()
	errs := m.Requests - uint64(float64(m.Requests)*m.Success+0.5)
	return LoadResult{
		Rate: m.Throughput, P50: m.Latencies.P50, P99: m.Latencies.P99,
		Requests: m.Requests, Errors: errs, FirstError: first,
	}, ctx.Err()
}

// probe GETs a URL once and checks the status and, when given, the content type prefix; it
// returns the body.
func probe(ctx context.Context, target, contentType string) ([]byte, http.Header, error) {
	status, b, h, err := probeWith(ctx, target, nil)
	if err != nil {
		return nil, nil, err
	}
	if status != http.StatusOK {
		return b, h, fmt.Errorf("GET %s: %d: %.200s", target, status, b)
	}
	if ct := h.Get("Content-Type"); contentType != "" && !strings.HasPrefix(ct, contentType) {
		return b, h, fmt.Errorf("GET %s: content type %q, want %s: %.200s", target, ct, contentType, b)
	}
	return b, h, nil
}

// probeWith GETs a URL once with the given headers and returns the status, body and headers.
func probeWith(ctx context.Context, target string, header http.Header) (int, []byte, http.Header, error) {
	if err := checkLoopback(target); err != nil {
		return 0, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, b, resp.Header, nil
}

// waitAnswer polls probe until it succeeds or the time is out.
func waitAnswer(ctx context.Context, target, contentType string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	for {
		if _, _, err := probe(ctx, target, contentType); err == nil {
			return nil
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer within %s: %w", target, limit, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
