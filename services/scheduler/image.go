package scheduler

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/kalisio/kargo/images"
)

// Tag is the tag of the scheduler and socket proxy images Kargo builds.
const Tag = "0.1"

// ImageRef is the scheduler image Kargo builds: FROM scratch with the static kargo-scheduler
// binary.
const ImageRef = images.Prefix + "scheduler:" + Tag

// ProxyImageRef is the socket proxy image Kargo builds: FROM scratch with the static
// kargo-socket-proxy binary.
const ProxyImageRef = images.Prefix + "socket-proxy:" + Tag

// Package is the import path of the scheduler's main package.
const Package = "github.com/kalisio/kargo/cmd/kargo-scheduler"

// ProxyPackage is the import path of the socket proxy's main package.
const ProxyPackage = "github.com/kalisio/kargo/cmd/kargo-socket-proxy"

// RegisterImages tells the images package how to build the scheduler and socket proxy
// images, so an Applier's images.Builder builds them and Render pulls them from a stack's
// registry like the embedded ones. kargo.Run calls it; a program that applies a stack with a
// scheduler through swarmx directly calls it once before. Calling it again does nothing new.
func RegisterImages() {
	images.Register(images.Image{Ref: ImageRef, Context: Context})
	images.Register(images.Image{Ref: ProxyImageRef, Context: ProxyContext})
}

// Context returns the build context of the scheduler image. It compiles the scheduler with the
// Go toolchain of this machine ("go" on PATH, or $GOROOT/bin/go): a static linux binary for the
// engine's architecture (GOARCH of the deploy program, override with KARGO_SCHEDULER_GOARCH),
// built reproducibly (-trimpath, no VCS stamp) so that the context hash, and so the image,
// only changes when the code does. It builds from the module this file belongs to when its
// source is on disk (a checkout or the module cache), else from the working directory, whose
// module must require github.com/kalisio/kargo.
func Context(ctx context.Context) (map[string]images.File, error) {
	return binaryContext(ctx, Package, "kargo-scheduler", []string{"run"})
}

// ProxyContext returns the build context of the socket proxy image, compiled like Context's.
func ProxyContext(ctx context.Context) (map[string]images.File, error) {
	return binaryContext(ctx, ProxyPackage, "kargo-socket-proxy", []string{"serve"})
}

// binaryContext compiles pkg into a static binary and returns a FROM scratch context that runs
// /<bin> with the default arguments args.
func binaryContext(ctx context.Context, pkg, bin string, args []string) (map[string]images.File, error) {
	goBin, err := goTool()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", bin+"-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, bin)
	arch := os.Getenv("KARGO_SCHEDULER_GOARCH")
	if arch == "" {
		arch = runtime.GOARCH
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = sourceDir()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s (in %s): %v\n%s", pkg, cmd.Dir, err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = strconv.Quote(a)
	}
	dockerfile := fmt.Sprintf("FROM scratch\nCOPY %s /%s\nENTRYPOINT [%q]\nCMD [%s]\n", bin, bin, "/"+bin, strings.Join(quoted, ", "))
	return map[string]images.File{
		"Dockerfile": {Data: []byte(dockerfile), Mode: 0o644},
		bin:          {Data: data, Mode: 0o755},
	}, nil
}

// goTool finds the go command: "go" on PATH, else $GOROOT/bin/go.
func goTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := os.Getenv("GOROOT"); root != "" {
		if p, err := exec.LookPath(filepath.Join(root, "bin", "go")); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("building %s and %s needs the Go toolchain, compiled on this machine: no go on PATH nor in $GOROOT/bin; install Go and put its bin directory on PATH (or set GOROOT)", ImageRef, ProxyImageRef)
}

// sourceDir is the directory of this package's source when it exists (so the scheduler built
// is the one this deploy program was compiled with), else the working directory.
func sourceDir() string {
	_, file, _, ok := runtime.Caller(0)
	if ok {
		dir := filepath.Dir(file)
		if _, err := os.Stat(filepath.Join(dir, "scheduler.go")); err == nil {
			return dir
		}
	}
	wd, _ := os.Getwd()
	return wd
}
