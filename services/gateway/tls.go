package gateway

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"regexp"

	"github.com/kalisio/kargo/stack"
)

// tlsSetup is what the Caddyfile needs to serve HTTPS.
type tlsSetup struct {
	// Internal: Caddy's local CA issues the certificates of Hosts (no file is given).
	Internal bool
	Hosts    []string
	// ServerName is served to clients that send no SNI.
	ServerName string
	// NameFrom, when set, names the certificate config (given by path) whose first DNS name
	// is ServerName: only the render reads the file.
	NameFrom string
}

// hostRE accepts a DNS name (letters, digits, '-', dots) or, checked apart, an IP address:
// hosts are written into the Caddyfile as site addresses.
var hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

func validHost(h string) bool {
	return net.ParseIP(h) != nil || (len(h) <= 253 && hostRE.MatchString(h))
}

// tlsFiles sets up HTTPS. With a given certificate it declares the certificate (a config) and
// the private key (a secret) and mounts them. Without one, Caddy's local CA issues the
// certificates (tls internal) and keeps them, with the CA, on a named volume at /data. It
// writes no file: the builder is pure.
func tlsFiles(svc *stack.Service, cfg Config) tlsSetup {
	t := cfg.TLS
	if t == nil {
		t = &TLS{}
	}
	if t.ServerName != "" && !validHost(t.ServerName) {
		svc.Problemf("config.tls.serverName", "%q is not a DNS name or an IP address", t.ServerName)
	}
	fileSet := t.CertFile != "" || t.KeyFile != ""
	dataSet := t.Cert != nil || t.Key != nil
	if !fileSet && !dataSet {
		return internalTLS(svc, cfg, t)
	}
	if len(t.Hosts) > 0 {
		svc.Problemf("config.tls.hosts", "names the certificates of Caddy's local CA: not used with a given certificate")
	}
	certName, keyName := cfg.Name+"-tls-cert", cfg.Name+"-tls-key"
	cert := stack.Config{Name: certName}
	key := stack.Secret{Name: keyName}
	var certPEM []byte
	fromFile := false
	switch {
	case fileSet && dataSet:
		svc.Problemf("config.tls", "give either certFile and keyFile or cert and key, not both")
		return tlsSetup{}
	case fileSet:
		if t.CertFile == "" || t.KeyFile == "" {
			svc.Problemf("config.tls", "certFile and keyFile must be given together (got only %s)", onlyOne(t.CertFile != "", "certFile", "keyFile"))
			return tlsSetup{}
		}
		cert.File, key.File = t.CertFile, t.KeyFile
		fromFile = true
	default:
		if len(t.Cert) == 0 || len(t.Key) == 0 {
			svc.Problemf("config.tls", "cert and key must be given together (got only %s)", onlyOne(len(t.Cert) > 0, "cert", "key"))
			return tlsSetup{}
		}
		cert.Data, key.Data = t.Cert, t.Key
		certPEM = t.Cert
	}
	svc.Declares.Configs = append(svc.Declares.Configs, cert)
	svc.Declares.Secrets = append(svc.Declares.Secrets, key)
	svc.Configs = append(svc.Configs, stack.FileRef{Source: certName, Target: CertPath})
	svc.Secrets = append(svc.Secrets, stack.FileRef{Source: keyName, Target: KeyPath, Mode: 0o400})
	if t.ServerName == "" && fromFile {
		return tlsSetup{NameFrom: certName}
	}
	name := t.ServerName
	if name == "" {
		name = firstDNSName(certPEM)
	}
	if name == "" {
		name = "localhost"
	}
	return tlsSetup{ServerName: name}
}

// internalTLS lets Caddy's local CA issue the certificates of the hosts, and mounts the
// gateway's data volume at /data so the CA and the certificates survive task replacement
// (clients trust the CA once).
func internalTLS(svc *stack.Service, cfg Config, t *TLS) tlsSetup {
	hosts := t.Hosts
	if len(hosts) == 0 {
		hosts = DefaultHosts
	}
	seen := map[string]bool{}
	var ok []string
	for i, h := range hosts {
		switch {
		case !validHost(h):
			svc.Problemf(fmt.Sprintf("config.tls.hosts[%d]", i), "%q is not a DNS name or an IP address", h)
		case seen[h]:
			svc.Problemf(fmt.Sprintf("config.tls.hosts[%d]", i), "%q is listed twice", h)
		default:
			seen[h] = true
			ok = append(ok, h)
		}
	}
	vol := cfg.DataVolume
	if vol == "" {
		vol = cfg.Name + "-data"
	}
	svc.Mounts = append(svc.Mounts, stack.Mount{Type: stack.VolumeMount, Source: vol, Target: DataDir})
	svc.Declares.Volumes = append(svc.Declares.Volumes, stack.Volume{Name: vol})
	// Clients connecting to an IP address send no SNI: serve them the certificate of the
	// first IP address listed, or else of the first name.
	name := t.ServerName
	for _, h := range ok {
		if name == "" && net.ParseIP(h) != nil {
			name = h
		}
	}
	if name == "" && len(ok) > 0 {
		name = ok[0]
	}
	if t.ServerName != "" && !seen[t.ServerName] {
		svc.Problemf("config.tls.serverName", "%q must be one of the hosts %v: the local CA issues certificates for those only", t.ServerName, hosts)
	}
	return tlsSetup{Internal: true, Hosts: ok, ServerName: name}
}

func onlyOne(first bool, a, b string) string {
	if first {
		return a
	}
	return b
}

func firstDNSName(certPEM []byte) string {
	blk, _ := pem.Decode(certPEM)
	if blk == nil {
		return ""
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || len(c.DNSNames) == 0 {
		return ""
	}
	return c.DNSNames[0]
}
