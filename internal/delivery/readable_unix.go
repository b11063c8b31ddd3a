//go:build unix

package delivery

import (
	"net"
	"syscall"
)

// awaitReadable returns when reading c would not block: data, its end or
// an error waits. It blocks in the runtime's poller a few small calls
// deep, so a goroutine that does nothing else keeps the smallest stack. A
// connection that is not a socket returns at once.
func awaitReadable(c net.Conn) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	// The poller wakes on what arrives after it is asked; a peek first
	// finds what is already there. An error ends the wait too; the peek
	// takes it, and the next read finds the connection's end.
	rc.Read(func(fd uintptr) bool {
		var b [1]byte
		for {
			_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if err != syscall.EINTR {
				return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK
			}
		}
	})
}
