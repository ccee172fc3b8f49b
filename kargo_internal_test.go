package kargo

import "testing"

func TestProbeHost(t *testing.T) {
	for in, want := range map[string]string{
		"":                            "127.0.0.1",
		"unix:///var/run/docker.sock": "127.0.0.1",
		"tcp://10.199.0.1:2376":       "10.199.0.1",
		"ssh://admin@manager-1":       "manager-1",
		"npipe:////./pipe/docker":     "127.0.0.1",
	} {
		if got := probeHost(in); got != want {
			t.Errorf("probeHost(%q) = %q, want %q", in, got, want)
		}
	}
}
