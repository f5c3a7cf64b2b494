package segment

import (
	"runtime"
	"syscall"
)

// lowerPriority pins the calling goroutine to its OS thread and gives that
// thread the lowest CPU priority (nice 19), so background scans yield to
// request handling. The goroutine must exit without unlocking: the runtime
// then ends the thread instead of reusing it at low priority.
func lowerPriority() {
	runtime.LockOSThread()
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 19)
}
