//go:build unix

package realtime

import (
	"errors"
	"syscall"
)

// canWriteRaw: this platform's sockets can be written without waiting.
const canWriteRaw = true

// tryWrite writes what the socket fd takes of b now, without waiting (the
// socket is non-blocking, as net leaves it), and returns how much that
// was. An error means the connection is unusable.
func tryWrite(fd int, b []byte) (int, error) {
	for {
		n, err := send(fd, b)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return 0, nil // the caller queues it all
		case err != nil:
			return 0, err
		}
		return n, nil
	}
}

// peek reads, without waiting, what the client sent on socket fd (it
// should send nothing), and reports how many bytes that was and whether
// the connection is still open.
func peek(fd int) (n int, open bool) {
	var buf [512]byte
	n, err := syscall.Read(fd, buf[:])
	switch {
	case errors.Is(err, syscall.EAGAIN):
		return 0, true
	case err != nil || n == 0: // reset, or closed (end of stream)
		return 0, false
	}
	return n, true
}
