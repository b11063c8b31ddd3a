//go:build !unix

package delivery

import "net"

// awaitReadable returns at once where the socket cannot be waited on
// without reading it: the library's reader then waits instead.
func awaitReadable(net.Conn) {}
