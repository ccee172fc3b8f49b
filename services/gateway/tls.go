package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/kalisio/kargo/stack"
)

// tlsFiles declares the certificate (a config) and the private key (a secret) of the gateway,
// mounts them, and returns the name to serve to clients without SNI.
func tlsFiles(svc *stack.Service, cfg Config) string {
	t := cfg.TLS
	if t == nil {
		t = &TLS{}
	}
	certName, keyName := cfg.Name+"-tls-cert", cfg.Name+"-tls-key"
	cert := stack.Config{Name: certName}
	key := stack.Secret{Name: keyName}
	var certPEM []byte
	fileSet := t.CertFile != "" || t.KeyFile != ""
	dataSet := t.Cert != nil || t.Key != nil
	switch {
	case fileSet && dataSet:
		svc.Problemf("config.tls", "give either certFile and keyFile or cert and key, not both")
		return ""
	case fileSet:
		if t.CertFile == "" || t.KeyFile == "" {
			svc.Problemf("config.tls", "certFile and keyFile must be given together (got only %s)", onlyOne(t.CertFile != "", "certFile", "keyFile"))
			return ""
		}
		cert.File, key.File = t.CertFile, t.KeyFile
		certPEM, _ = os.ReadFile(t.CertFile) // only for the default SNI name; render reads it again
	case dataSet:
		if len(t.Cert) == 0 || len(t.Key) == 0 {
			svc.Problemf("config.tls", "cert and key must be given together (got only %s)", onlyOne(len(t.Cert) > 0, "cert", "key"))
			return ""
		}
		cert.Data, key.Data = t.Cert, t.Key
		certPEM = t.Cert
	default:
		dir := t.SelfSignedDir
		if dir == "" {
			base, err := os.UserConfigDir()
			if err != nil {
				svc.Problemf("config.tls.selfSignedDir", "no directory for the generated certificate: %v", err)
				return ""
			}
			dir = filepath.Join(base, "kargo", "tls", cfg.Name)
		}
		hosts := t.Hosts
		if len(hosts) == 0 {
			hosts = []string{"localhost", "127.0.0.1"}
		}
		certFile, keyFile, err := SelfSigned(dir, hosts)
		if err != nil {
			svc.Problemf("config.tls.selfSignedDir", "%v", err)
			return ""
		}
		cert.File, key.File = certFile, keyFile
		certPEM, _ = os.ReadFile(certFile)
	}
	svc.Declares.Configs = append(svc.Declares.Configs, cert)
	svc.Declares.Secrets = append(svc.Declares.Secrets, key)
	svc.Configs = append(svc.Configs, stack.FileRef{Source: certName, Target: CertPath})
	svc.Secrets = append(svc.Secrets, stack.FileRef{Source: keyName, Target: KeyPath, Mode: 0o400})
	if t.ServerName != "" {
		return t.ServerName
	}
	if name := firstDNSName(certPEM); name != "" {
		return name
	}
	return "localhost"
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

// SelfSigned returns the paths of a self-signed certificate and its private key kept in dir,
// creating them (ECDSA P-256, valid 10 years, for the given DNS names and IP addresses) when
// they do not exist yet. Existing files are reused as they are, so every run of a deploy
// program ships the same certificate and an apply changes nothing.
func SelfSigned(dir string, hosts []string) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_, cerr := os.Stat(certFile)
	_, kerr := os.Stat(keyFile)
	if cerr == nil && kerr == nil {
		return certFile, keyFile, nil
	}
	if !errors.Is(cerr, fs.ErrNotExist) && cerr != nil {
		return "", "", cerr
	}
	certPEM, keyPEM, err := GenerateSelfSigned(hosts, time.Now())
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("self-signed certificate: %w", err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return "", "", fmt.Errorf("self-signed certificate: %w", err)
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return "", "", fmt.Errorf("self-signed certificate: %w", err)
	}
	return certFile, keyFile, nil
}

// GenerateSelfSigned makes a self-signed certificate for the given DNS names and IP addresses
// and returns it and its private key, PEM-encoded.
func GenerateSelfSigned(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Kargo gateway", Organization: []string{"Kargo self-signed"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if len(tmpl.DNSNames) > 0 {
		tmpl.Subject.CommonName = tmpl.DNSNames[0]
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}
