package main

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// rtPoller reads every subscriber's stream from one goroutine with epoll,
// instead of a goroutine per stream. The benchmark's client shares the
// machine with the server it measures; a goroutine woken per event per
// stream (and a second read to learn the socket is empty) cost the client
// as much machine time as the server spent delivering, and delayed the
// server by as much. Read this way the client takes a fraction of that,
// which is closer to subscribers on other machines. Every event is still
// read off a real TCP connection and parsed.
type rtPoller struct {
	epfd  int
	epoch time.Time
	stop  chan struct{}
	done  chan struct{}

	mu      sync.Mutex
	streams map[int32]*polled
}

// polled is one stream the poller reads.
type polled struct {
	s       *subscriber
	fd      int
	chunked bool
	chunks  chunkDecoder
	sse     ssePush
}

func newPoller(epoch time.Time) (*rtPoller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	p := &rtPoller{epfd: epfd, epoch: epoch, stop: make(chan struct{}), done: make(chan struct{}), streams: map[int32]*polled{}}
	go p.loop()
	return p, nil
}

// add takes the stream of s over from conn, which it closes: decoded is
// body read and not parsed yet, raw what was read from conn after it,
// chunked whether the body is in chunked coding.
func (p *rtPoller) add(s *subscriber, conn net.Conn, decoded, raw []byte, chunked bool) error {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(f uintptr) { fd, dupErr = syscall.Dup(int(f)) }); err != nil {
		return err
	}
	if dupErr != nil {
		return dupErr
	}
	// The duplicate keeps the socket open; closing conn takes it out of
	// Go's poller.
	conn.Close()
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return err
	}
	ps := &polled{s: s, fd: fd, chunked: chunked}
	at := time.Since(p.epoch)
	err = ps.sse.feed(decoded, ps.emitAt(at))
	if err == nil {
		err = ps.feed(raw, at)
	}
	if err != nil {
		syscall.Close(fd)
		return err
	}
	p.mu.Lock()
	p.streams[int32(fd)] = ps
	p.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.mu.Lock()
		delete(p.streams, int32(fd))
		p.mu.Unlock()
		syscall.Close(fd)
		return err
	}
	return nil
}

// feed parses what was read at time at.
func (ps *polled) feed(b []byte, at time.Duration) error {
	emit := ps.emitAt(at)
	if !ps.chunked {
		return ps.sse.feed(b, emit)
	}
	return ps.chunks.decode(b, func(payload []byte) error { return ps.sse.feed(payload, emit) })
}

// emitAt records the record events read at time at.
func (ps *polled) emitAt(at time.Duration) func(event, data []byte) {
	return func(event, data []byte) {
		if string(event) != rtTopic {
			return
		}
		id, _ := recordID(data)
		ps.s.got = append(ps.s.got, delivery{id: string(id), at: at})
	}
}

// loop reads ready streams until close.
func (p *rtPoller) loop() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 512)
	buf := make([]byte, 64<<10)
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		n, err := syscall.EpollWait(p.epfd, events, 50)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			p.mu.Lock()
			ps := p.streams[ev.Fd]
			p.mu.Unlock()
			if ps == nil {
				continue
			}
			if err := p.read(ps, buf); err != nil {
				ps.s.ended = err
				p.remove(ps)
			}
		}
	}
}

// read reads what is waiting on one stream.
func (p *rtPoller) read(ps *polled, buf []byte) error {
	for {
		n, err := recv(ps.fd, buf)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return nil
		case err != nil:
			return err
		case n == 0:
			return errors.New("the server ended the stream")
		}
		if err := ps.feed(buf[:n], time.Since(p.epoch)); err != nil {
			return err
		}
		if n < len(buf) {
			return nil // read all there was: epoll says when there is more
		}
	}
}

func (p *rtPoller) remove(ps *polled) {
	p.mu.Lock()
	delete(p.streams, int32(ps.fd))
	p.mu.Unlock()
	_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, ps.fd, nil)
	syscall.Close(ps.fd)
}

// close stops the poller and closes every stream it still reads.
func (p *rtPoller) close() {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	for fd := range p.streams {
		syscall.Close(int(fd))
	}
	clear(p.streams)
	syscall.Close(p.epfd)
}

// recv reads from socket fd with recv(2), which skips the file layer's
// work that read(2) does.
func recv(fd int, b []byte) (int, error) {
	n, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), syscall.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
