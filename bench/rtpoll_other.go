//go:build !linux

package main

import (
	"errors"
	"net"
	"time"
)

// rtPoller reads streams with epoll, which only Linux has: elsewhere each
// stream is read by a goroutine of its own.
type rtPoller struct{}

func newPoller(time.Time) (*rtPoller, error) { return nil, errors.New("no epoll on this platform") }

func (*rtPoller) add(*subscriber, net.Conn, []byte, []byte, bool) error { return errors.ErrUnsupported }

func (*rtPoller) close() {}
