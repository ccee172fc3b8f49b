package gateway

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/kalisio/kargo/services/builder"
	"github.com/kalisio/kargo/stack"
	"github.com/kalisio/kargo/swarmx"
)

// TestGatewayCertificateFileIsReadOnlyByRender: New reads no file; Render reads the
// certificate and the key once each, through its Source, derives the default SNI name from the
// certificate, and reports a file it cannot read with the stack and the config that names it.
func TestGatewayCertificateFileIsReadOnlyByRender(t *testing.T) {
	certPEM, keyPEM := generateCert(t, "tiles.example.org")
	reads := map[string]int{}
	src := swarmx.Source{ReadFile: func(p string) ([]byte, error) {
		reads[p]++
		switch p {
		case "/certs/cert.pem":
			return certPEM, nil
		case "/certs/key.pem":
			return keyPEM, nil
		}
		return nil, fs.ErrNotExist
	}}
	gw := New(Config{Common: builder.Common{Name: "edge"}, HTTPSPort: 28443,
		TLS: &TLS{CertFile: "/certs/cert.pem", KeyFile: "/certs/key.pem"}})
	if len(reads) != 0 || len(gw.Problems) != 0 {
		t.Fatalf("New read %v, problems %v", reads, gw.Problems)
	}
	d, err := swarmx.Render(stack.New("gw", gw), src)
	if err != nil {
		t.Fatal(err)
	}
	if cf := configData(t, d, "edge-caddyfile"); !strings.Contains(cf, "default_sni tiles.example.org\n") {
		t.Errorf("Caddyfile lacks the certificate's name:\n%s", cf)
	}
	if reads["/certs/cert.pem"] != 1 || reads["/certs/key.pem"] != 1 {
		t.Errorf("reads %v, want each file once", reads)
	}

	missing := New(Config{HTTPSPort: 28443, TLS: &TLS{CertFile: "/certs/none.pem", KeyFile: "/certs/key.pem"}})
	_, err = swarmx.Render(stack.New("gw", missing), src)
	var re *swarmx.RenderError
	if !errors.As(err, &re) || re.Stack != "gw" || re.Path != "configs[gateway-tls-cert].file" || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("render error %v, want the stack and configs[gateway-tls-cert].file", err)
	}
}
