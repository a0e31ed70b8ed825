//go:build !unix

package realtime

import "errors"

// canWriteRaw: on this platform every write goes through the flusher, and
// a reader goroutine watches each connection.
const canWriteRaw = false

func tryWrite(int, []byte) (int, error) { return 0, errors.New("not supported") }

func peek(int) (int, bool) { return 0, true }
