package daemon

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/ingestd/ingestd/internal/e2e"

	"github.com/ingestd/ingestd/internal/testenv"
)

// Every example in the usage and in each command's --help can be pasted
// into bash as it is (an unquoted p99(duration_ms) is a syntax error), and
// the help tells the options a command really takes.
func TestHelpExamplesPasteIntoBash(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		testenv.Missing(t, "bash", "apt-get install bash")
	}
	helps := map[string]string{}
	top, _ := e2e.CLI(t, "--help")
	helps["usage"] = top
	for _, c := range []string{"serve", "verify", "cat", "repair", "report", "query", "replay-rejected"} {
		out, _ := e2e.CLI(t, c, "--help")
		helps[c] = out
	}
	examples := 0
	for name, text := range helps {
		for _, l := range strings.Split(text, "\n") {
			l = strings.TrimSpace(l)
			if !strings.HasPrefix(l, "ingestd ") || name == "usage" { // the usage lists synopses, not commands
				continue
			}
			examples++
			if out, err := exec.Command("bash", "-n", "-c", l).CombinedOutput(); err != nil {
				t.Errorf("%s --help: example %q is not valid bash: %s", name, l, strings.TrimSpace(string(out)))
			}
		}
	}
	if examples < 2 {
		t.Fatalf("found %d examples in the help texts; the test lost them", examples)
	}
	var reportLine string
	for _, l := range strings.Split(top, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "ingestd report") {
			reportLine = l
		}
	}
	if !strings.Contains(reportLine, "--from") || !strings.Contains(reportLine, "--to") {
		t.Errorf("the usage's report line omits --from/--to: %q", reportLine)
	}
	if strings.Contains(helps["report"], "YYYY-MM (required)") {
		t.Errorf("report --help marks --month required, though --from/--to replace it:\n%s", helps["report"])
	}
}
