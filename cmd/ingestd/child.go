package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// runChild runs this binary with args as a child process at the lowest CPU
// priority (nice 19), for background work inside serve: reports and daily
// partials. A separate process, not low-priority threads: a niced thread in
// the daemon's own Go runtime can stall a stop-the-world GC and with it every
// request (measured: one run's p99 ack latency went to 4.4 s). The child's
// stderr goes to the log; cancelling ctx sends it SIGTERM.
func runChild(ctx context.Context, log *slog.Logger, args ...string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("background %s: %w", args[0], err)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	// A child never outlives the daemon: after a kill -9 or a crash of
	// serve, the kernel kills it too (its work is crash-safe, and the next
	// start runs it again), rather than letting it write into a data dir
	// that a restarted daemon, or an operator's repair, now owns.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 30 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", err
	}
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("background %s: %w", args[0], err)
	}
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, cmd.Process.Pid, 19); err != nil {
		log.Warn("cannot lower the priority of a background job", "err", err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		log.Info(sc.Text(), "child", args[0], "pid", cmd.Process.Pid)
	}
	if err := cmd.Wait(); err != nil {
		return out.String(), fmt.Errorf("background %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), nil
}

// childArgs are the flags that give a child this daemon's configuration.
func childArgs(cf *commonFlags, cfg *fileConfig) []string {
	a := []string{"--data-dir", cfg.DataDir}
	if cf.config != "" {
		a = append(a, "--config", cf.config)
	}
	return a
}
