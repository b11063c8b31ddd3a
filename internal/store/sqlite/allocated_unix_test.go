//go:build unix

package sqlite

import (
	"os"
	"syscall"
)

// allocated is how many bytes of fi's file hold blocks on the disk, and
// whether the system says.
func allocated(fi os.FileInfo) (int64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Blocks * 512, true
}
