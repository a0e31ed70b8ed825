//go:build !unix

package sqlite

import "os"

// lockFile does not lock on this platform: keep to one process per data
// folder by hand.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
}
