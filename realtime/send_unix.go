//go:build unix && !linux

package realtime

import "syscall"

// send writes b to socket fd.
func send(fd int, b []byte) (int, error) {
	n, err := syscall.Write(fd, b)
	if err != nil {
		return 0, err
	}
	return n, nil
}
