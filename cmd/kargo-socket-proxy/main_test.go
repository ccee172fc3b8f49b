package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestConfigNeedsAStackAndAKnownProfile(t *testing.T) {
	t.Setenv("KARGO_STACK", "")
	if _, err := config(); err == nil || !strings.Contains(err.Error(), "KARGO_STACK") {
		t.Errorf("no stack: %v, want an error naming KARGO_STACK", err)
	}
	t.Setenv("KARGO_STACK", "s")
	t.Setenv("KARGO_PROXY_PROFILE", "admin")
	if _, err := config(); err == nil || !strings.Contains(err.Error(), `"admin"`) || !strings.Contains(err.Error(), "scheduler") {
		t.Errorf("unknown profile: %v, want an error naming it and the known ones", err)
	}
	t.Setenv("KARGO_PROXY_PROFILE", "")
	p, err := config()
	if err != nil || p.Profile.Name != "scheduler" || p.Stack != "s" {
		t.Errorf("defaults: %+v %v, want profile scheduler for stack s", p, err)
	}
}

func TestHealthPingsThroughTheProxy(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_ping" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer ok.Close()
	if err := health(ok.Listener.Addr().String()); err != nil {
		t.Errorf("health: %v", err)
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer down.Close()
	if err := health(down.Listener.Addr().String()); err == nil {
		t.Error("health passes while the engine is unreachable through the proxy")
	}
}
