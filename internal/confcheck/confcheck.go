// Package confcheck words the errors of every component's Config the same
// way: "config: <key>: <value> (<what is wanted>)", naming the key of the
// configuration file, since that is what an operator sees and edits.
package confcheck

import (
	"errors"
	"fmt"
)

// List gathers the problems of one validation.
type List struct{ errs []error }

// Check records a problem with key when ok is false.
func (l *List) Check(ok bool, key string, v any, want string) {
	if !ok {
		l.errs = append(l.errs, fmt.Errorf("config: %s: %v (%s)", key, v, want))
	}
}

// Add records err, if any, as it is.
func (l *List) Add(err error) {
	if err != nil {
		l.errs = append(l.errs, err)
	}
}

// Err is every problem recorded, joined, or nil.
func (l *List) Err() error { return errors.Join(l.errs...) }
