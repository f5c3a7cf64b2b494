// Package gobin finds a program installed with `go install`: on the PATH,
// or in $(go env GOPATH)/bin, where go install puts it when that folder is
// not on the PATH (as on a fresh CI machine).
package gobin

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Find returns the path of the program name, or "" when it is in neither
// place.
func Find(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gp, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return ""
	}
	p := filepath.Join(strings.TrimSpace(string(gp)), "bin", name)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}
