// Package testenv decides what a test does when something outside the
// repository that it needs is missing: a tool (zstd, chromium, rsyslogd, a
// Node.js package), root, or a kernel feature (FUSE, mounts). By default the
// test skips and says what to install, so that `go test ./...` passes on a
// fresh machine. With INGESTD_REQUIRE_TOOLS=1, which .ci/run sets after
// installing everything, the test fails instead and names what is missing,
// so that a green CI run means every test ran for real.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// RequireEnv is the environment variable that turns a missing tool from a
// skip into a failure.
const RequireEnv = "INGESTD_REQUIRE_TOOLS"

// Required reports whether missing tools fail the tests (RequireEnv set to
// anything but "" or "0").
func Required() bool {
	v := os.Getenv(RequireEnv)
	return v != "" && v != "0"
}

// Missing ends the test because what (a tool, a package, root) is not
// available: a skip naming how to get it, or, under RequireEnv, a failure.
func Missing(t testing.TB, what, how string) {
	t.Helper()
	msg := fmt.Sprintf("%s is not available (%s)", what, how)
	if Required() {
		t.Fatalf("required tool missing: %s; %s=1 makes this a failure, not a skip", msg, RequireEnv)
	}
	t.Skip(msg + "; .ci/run installs it")
}

// LookPath returns the path of the program name, or ends the test with
// Missing.
func LookPath(t testing.TB, name, how string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name, how)
	}
	return p
}

// Find returns the path of the program name, or "" when it is missing and
// the test can go on without the checks that use it; under RequireEnv a
// missing program fails the test instead.
func Find(t testing.TB, name, how string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if Required() {
			t.Fatalf("required tool missing: %s is not available (%s); %s=1 makes this a failure", name, how, RequireEnv)
		}
		t.Logf("%s is not available (%s): the checks that use it are left out", name, how)
		return ""
	}
	return p
}
