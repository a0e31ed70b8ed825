//go:build !linux

package main

import "errors"

// raiseNoFile is Linux-only, like the rest of the benchmark's process
// inspection; elsewhere the limit stays what Go set at start-up.
func raiseNoFile() (uint64, error) {
	return 0, errors.ErrUnsupported
}
