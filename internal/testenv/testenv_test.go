package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// helperEnv makes TestNeedsMissingTool run, in the child process only.
const helperEnv = "TESTENV_HELPER"

// TestNeedsMissingTool needs a tool no machine has; it runs only as the
// child of TestRequireToolsTurnsSkipIntoFailure.
func TestNeedsMissingTool(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("helper of TestRequireToolsTurnsSkipIntoFailure")
	}
	LookPath(t, "ingestd-no-such-tool", "apt-get install nothing")
	t.Fatal("LookPath of a missing tool returned")
}

// A missing tool skips the test by default, and fails it, naming the tool,
// with INGESTD_REQUIRE_TOOLS=1, as .ci/run runs the tests.
func TestRequireToolsTurnsSkipIntoFailure(t *testing.T) {
	run := func(require string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestNeedsMissingTool$", "-test.v")
		cmd.Env = append(os.Environ(), helperEnv+"=1", RequireEnv+"="+require)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("")
	if err != nil || !strings.Contains(out, "--- SKIP: TestNeedsMissingTool") || !strings.Contains(out, "ingestd-no-such-tool is not available") {
		t.Fatalf("without %s: %v\n%s", RequireEnv, err, out)
	}
	out, err = run("1")
	if err == nil || !strings.Contains(out, "--- FAIL: TestNeedsMissingTool") || !strings.Contains(out, "required tool missing: ingestd-no-such-tool") {
		t.Fatalf("with %s=1: %v\n%s", RequireEnv, err, out)
	}
}
