// Package images builds Kargo's own container images on the engine, so a stack can run where
// no registry is reachable.
//
// Every image is built from Debian packages on the local debian:bookworm-slim base (or FROM
// scratch for static Go binaries). Build contexts live in contexts/<product>/ (a Dockerfile,
// a TAG file and whatever files the Dockerfile copies) and are embedded in the binary, so a
// deploy program carries them. The image of contexts/<product> is kargo/<product>:<TAG>.
// Images keep the contract of the upstream images they stand for (postgis/postgis env and
// init directory, camptocamp/mapserver paths...), so a user can swap in the upstream image by
// setting one field of a builder's Config.
//
// Packages may Register further images whose context is computed (for example one holding a
// Go binary compiled for the image).
package images

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
)

//go:embed all:contexts
var embedded embed.FS

// Prefix is the repository prefix of Kargo's images.
const Prefix = "kargo/"

// File is one file of a build context.
type File struct {
	// Data is the file's content.
	Data []byte
	// Mode is the file's permission bits in the tar context, e.g. 0o644 or 0o755.
	Mode int64
}

// Image is an image Kargo knows how to build.
type Image struct {
	// Ref is the image reference, e.g. "kargo/postgis:15-3.3".
	Ref string
	// Context returns the files of the build context, by slash-separated path. It must hold
	// a Dockerfile.
	Context func(ctx context.Context) (map[string]File, error)
	// Version identifies the content of the build context (the embedded images use the
	// hash of their context). Services using the image carry it in a container label, so a
	// changed context rolls out to them on the next apply. Empty: no such label.
	Version string
}

var (
	mu       sync.RWMutex
	registry = map[string]Image{}
)

func init() {
	dirs, err := fs.ReadDir(embedded, "contexts")
	if err != nil {
		return
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		product := d.Name()
		tag, err := fs.ReadFile(embedded, path.Join("contexts", product, "TAG"))
		if err != nil {
			continue
		}
		root := path.Join("contexts", product)
		img := Image{
			Ref:     Prefix + product + ":" + strings.TrimSpace(string(tag)),
			Context: func(context.Context) (map[string]File, error) { return readDir(root) },
		}
		if files, err := readDir(root); err == nil {
			if _, hash, err := Tar(files); err == nil {
				img.Version = hash
			}
		}
		Register(img)
	}
}

func readDir(root string) (map[string]File, error) {
	files := map[string]File{}
	err := fs.WalkDir(embedded, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(embedded, p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, root+"/")
		if rel == "TAG" {
			return nil
		}
		mode := int64(0o644)
		if strings.HasSuffix(rel, ".sh") || strings.HasPrefix(rel, "bin/") {
			mode = 0o755
		}
		files[rel] = File{Data: b, Mode: mode}
		return nil
	})
	return files, err
}

// Register adds an image Kargo can build. A later registration of the same Ref replaces
// the earlier one.
func Register(img Image) {
	mu.Lock()
	defer mu.Unlock()
	registry[img.Ref] = img
}

// Lookup returns the image Kargo builds for ref.
func Lookup(ref string) (Image, bool) {
	mu.RLock()
	defer mu.RUnlock()
	img, ok := registry[ref]
	return img, ok
}

// Known returns the references of every image Kargo can build, sorted.
func Known() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(registry))
	for r := range registry {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// Tag returns the tag of the embedded image of a product ("postgis" → "15-3.3"); it panics
// when the product has no embedded context, which is a programming error in Kargo itself.
func Tag(product string) string {
	b, err := fs.ReadFile(embedded, path.Join("contexts", product, "TAG"))
	if err != nil {
		panic(fmt.Sprintf("images: no embedded context for %q", product))
	}
	return strings.TrimSpace(string(b))
}

// Ref returns the reference of the embedded image of a product, e.g. "kargo/postgis:15-3.3".
func Ref(product string) string { return Prefix + product + ":" + Tag(product) }

// Tar returns the build context as a tar stream and the hash of its content, which is
// recorded as a label on the built image so a changed context is rebuilt.
func Tar(files map[string]File) ([]byte, string, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	h := sha256.New()
	for _, n := range names {
		f := files[n]
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00", n, f.Mode, len(f.Data))
		h.Write(f.Data)
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: f.Mode, Size: int64(len(f.Data)), Typeflag: tar.TypeReg}); err != nil {
			return nil, "", err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, "", err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), hex.EncodeToString(h.Sum(nil)), nil
}

// Version returns the version of the build context of a Kargo image (see Image.Version), or
// "" for images Kargo does not build or whose context is computed.
func Version(ref string) string {
	img, ok := Lookup(ref)
	if !ok {
		return ""
	}
	return img.Version
}
